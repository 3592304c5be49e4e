/**
 * ZeroTrustReview.write after FastYaml.synth takes the documents it just wrote instead of parsing
 * the files again. That is only sound if parsing the written YAML gives back exactly those
 * documents, and only while the files hold the written bytes: both are checked here.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, YamlOutputType } from 'cdk8s';
import * as fc from 'fast-check';
import { STORY_MESHES } from '../apps/main';
import { heroAndLilDeeBee } from '../apps/story';
import { buildZeroTrust, topology } from '../bench/topology';
import { FastYaml, ZeroTrustReview } from '../lib';
import { ChartDocuments, WrittenManifests } from '../lib/output/written';
import { writeFlowsMarkdown } from '../lib/report';
import { loadManifests, ManifestError, manifestsOfDocuments, parseManifests } from '../lib/verify';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'zt-written-'));

function yamlFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => path.join(dir, f)).sort();
}

/** Every written file: the remembered documents read as the parsed file reads, strictly equal. */
function expectRoundTrip(app: App): number {
  const written = WrittenManifests.of(app)!;
  expect(written).toBeDefined();
  let documents = 0;
  for (const file of yamlFiles(app.outdir)) {
    const text = fs.readFileSync(file, 'utf8');
    const known = written.documentsOf(file, text);
    expect(known).toBeDefined();
    documents += known!.length;
    expect(manifestsOfDocuments(known!, file)).toStrictEqual(parseManifests(text, file));
  }
  return documents;
}

describe('documents remembered by FastYaml.synth', () => {
  test.each(STORY_MESHES.map((m) => [m.id, m] as const))('equal the parsed files of the story on %s', (_id, mesh) => {
    const app = new App({ outdir: tmp() });
    heroAndLilDeeBee(app, mesh);
    FastYaml.synth(app);
    expect(expectRoundTrip(app)).toBeGreaterThan(5);
    fs.rmSync(app.outdir, { recursive: true, force: true });
  });

  test('equal the parsed files of random topologies on every backend', () => {
    fc.assert(fc.property(
      fc.integer({ min: 2, max: 20 }), fc.integer({ min: 0, max: 60 }), fc.integer({ min: 1, max: 1e6 }),
      fc.constantFrom(...STORY_MESHES),
      (w, e, seed, mesh) => {
        const app = new App({ outdir: tmp() });
        buildZeroTrust(app, topology(w, Math.min(e, w * (w - 1)), seed), mesh);
        FastYaml.synth(app);
        expect(expectRoundTrip(app)).toBeGreaterThan(w);
        fs.rmSync(app.outdir, { recursive: true, force: true });
      },
    ), { numRuns: 25, seed: 7 });
  });

  test('are not handed out for a file whose bytes changed, or after forget', () => {
    const app = new App({ outdir: tmp() });
    heroAndLilDeeBee(app, STORY_MESHES[0]);
    FastYaml.synth(app);
    const [file] = yamlFiles(app.outdir);
    const text = fs.readFileSync(file, 'utf8');
    const written = WrittenManifests.of(app)!;
    expect(written.documentsOf(file, text)).toBeDefined();
    expect(written.documentsOf(file, text + '\n')).toBeUndefined();
    expect(written.documentsOf(path.join(app.outdir, 'other.yaml'), text)).toBeUndefined();
    WrittenManifests.forget(app);
    expect(WrittenManifests.of(app)).toBeUndefined();
    fs.rmSync(app.outdir, { recursive: true, force: true });
  });

  test('an output larger than the limit is not remembered at all, not even its first files', () => {
    const app = new App({ outdir: tmp() });
    const written = WrittenManifests.begin(app, 100);
    const small = path.join(app.outdir, 'a.yaml');
    written.record(small, 'x'.repeat(60), [{ kind: 'A' }]);
    expect(written.documentsOf(small, 'x'.repeat(60))).toEqual([{ kind: 'A' }]);
    written.record(path.join(app.outdir, 'b.yaml'), 'y'.repeat(60), [{ kind: 'B' }]);
    expect(written.documentsOf(small, 'x'.repeat(60))).toBeUndefined();
    expect(WrittenManifests.of(app)!.documentsOf(path.join(app.outdir, 'b.yaml'), 'y'.repeat(60))).toBeUndefined();
    fs.rmSync(app.outdir, { recursive: true, force: true });
  });

  test('an app synthesized the cdk8s way has none', () => {
    const app = new App({ outdir: tmp() });
    heroAndLilDeeBee(app, STORY_MESHES[0]);
    app.synth();
    expect(WrittenManifests.of(app)).toBeUndefined();
    fs.rmSync(app.outdir, { recursive: true, force: true });
  });
});

describe('ZeroTrustReview.write after FastYaml.synth', () => {
  test.each(STORY_MESHES.map((m) => [m.id, m] as const))('writes the FLOWS.md a fresh parse writes (%s)', (_id, mesh) => {
    // Same folder name in both (it is the page title); the cdk8s-synthesized one has no memory.
    const fast = new App({ outdir: path.join(tmp(), 'out') });
    heroAndLilDeeBee(fast, mesh);
    FastYaml.synth(fast);
    const slow = new App({ outdir: path.join(tmp(), 'out') });
    heroAndLilDeeBee(slow, mesh);
    slow.synth();
    expect(WrittenManifests.of(fast)).toBeDefined();
    const remembered = fs.readFileSync(ZeroTrustReview.write(fast)[1], 'utf8');
    // Taken once, then let go, so the app stops holding every document.
    expect(WrittenManifests.of(fast)).toBeUndefined();
    const parsed = fs.readFileSync(ZeroTrustReview.write(slow)[1], 'utf8');
    expect(remembered).toBe(parsed);
    expect(remembered).toMatch(/hero/);
    for (const app of [fast, slow]) fs.rmSync(path.dirname(app.outdir), { recursive: true, force: true });
  });

  test('reads a file edited after synth from disk', () => {
    const app = new App({ outdir: tmp() });
    heroAndLilDeeBee(app, STORY_MESHES[0]);
    FastYaml.synth(app);
    const [file] = yamlFiles(app.outdir);
    fs.writeFileSync(file, 'kind: [unclosed\n');
    const written = WrittenManifests.of(app)!;
    expect(() => loadManifests(app.outdir, { documentsOf: (f, t) => written.documentsOf(f, t) })).toThrow(/malformed YAML/);
    expect(() => ZeroTrustReview.write(app)).toThrow(ManifestError);
    fs.rmSync(app.outdir, { recursive: true, force: true });
  });
});

describe('ZeroTrustReview.write after app.synth()', () => {
  test.each(STORY_MESHES.flatMap((m) => [YamlOutputType.FILE_PER_CHART, YamlOutputType.FILE_PER_APP].map((t) => [m.id, YamlOutputType[t], m, t] as const)))(
    'takes the documents each chart handed to cdk8s, and writes the FLOWS.md a fresh parse writes (%s, %s)', (_id, _type, mesh, type) => {
      const app = new App({ outdir: path.join(tmp(), 'out'), yamlOutputType: type });
      heroAndLilDeeBee(app, mesh);
      app.synth();
      const recorded = ChartDocuments.take(app)!;
      expect([...recorded.keys()]).toEqual(app.charts);
      // Put back as synth left it (take forgets), then write: the record is used once and let go.
      for (const [chart, docs] of recorded) ChartDocuments.record(chart, docs);
      const remembered = fs.readFileSync(ZeroTrustReview.write(app)[1], 'utf8');
      expect(ChartDocuments.take(app)).toBeUndefined();
      const parsed = fs.readFileSync(writeFlowsMarkdown(app.outdir, { backend: mesh.id }), 'utf8');
      expect(remembered).toBe(parsed);
      expect(remembered).toMatch(/hero/);
      fs.rmSync(path.dirname(app.outdir), { recursive: true, force: true });
    });

  test('reads a file edited after synth from disk', () => {
    const app = new App({ outdir: tmp() });
    heroAndLilDeeBee(app, STORY_MESHES[0]);
    app.synth();
    const [file] = yamlFiles(app.outdir);
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/^kind: NetworkPolicy$/m, 'kind: [unclosed'));
    expect(() => ZeroTrustReview.write(app)).toThrow(/malformed YAML/);
    fs.rmSync(app.outdir, { recursive: true, force: true });
  });
});
