/**
 * FastYaml writes the same bytes as cdk8s's YAML output: on the story for every backend, on
 * random bench topologies, on random documents full of strings that need quoting, and for every
 * YamlOutputType. Each test also checks that the fast emitter (not the fallback) did the work
 * where it should, so "identical" cannot pass by always falling back.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Testing, Yaml, YamlOutputType } from 'cdk8s';
import * as fc from 'fast-check';
import { FastYaml } from '../lib';
import { STORY_MESHES } from '../apps/main';
import { heroAndLilDeeBee } from '../apps/story';
import { buildZeroTrust, topology } from '../bench/topology';

function docsOf(app: App): any[] {
  return app.charts.flatMap((c) => Object.values(c.toJson()));
}

function filesOf(root: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of (fs.readdirSync(root, { recursive: true }) as string[]).map(String).sort()) {
    const full = path.join(root, f);
    if (fs.statSync(full).isFile()) out.set(f, fs.readFileSync(full, 'utf8'));
  }
  return out;
}

/** Runs `fn` and returns how many documents the fast emitter and the fallback wrote meanwhile. */
function counting(fn: () => void): { fast: number; fallback: number } {
  const before = FastYaml.stats();
  fn();
  const after = FastYaml.stats();
  return { fast: after.fast - before.fast, fallback: after.fallback - before.fallback };
}

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'zt-fast-'));

describe('FastYaml.synth writes the files app.synth() writes, byte for byte', () => {
  test.each(STORY_MESHES.map((m) => [m.id, m] as const))('the story on %s', (_id, mesh) => {
    const [a, b] = [tmp(), tmp()];
    const slow = new App({ outdir: a });
    heroAndLilDeeBee(slow, mesh);
    slow.synth();
    const fast = new App({ outdir: b });
    heroAndLilDeeBee(fast, mesh);
    const n = counting(() => FastYaml.synth(fast));
    const expected = filesOf(a);
    expect(expected.size).toBeGreaterThan(0);
    expect(filesOf(b)).toEqual(expected);
    // The story is entirely inside what the emitter handles itself.
    expect(n.fallback).toBe(0);
    expect(n.fast).toBeGreaterThan(5);
    // And it is what is committed under dist/.
    for (const [f, text] of filesOf(b)) {
      expect(fs.readFileSync(path.join(__dirname, '..', 'dist', mesh.id, f), 'utf8')).toBe(text);
    }
    fs.rmSync(a, { recursive: true, force: true });
    fs.rmSync(b, { recursive: true, force: true });
  });

  test.each([
    YamlOutputType.FILE_PER_APP, YamlOutputType.FILE_PER_CHART,
    YamlOutputType.FILE_PER_RESOURCE, YamlOutputType.FOLDER_PER_CHART_FILE_PER_RESOURCE,
  ])('every YamlOutputType (%s)', (yamlOutputType) => {
    const [a, b] = [tmp(), tmp()];
    const build = (outdir: string) => {
      const app = new App({ outdir, yamlOutputType });
      buildZeroTrust(app, topology(12, 30, 7), STORY_MESHES[0]);
      return app;
    };
    build(a).synth();
    FastYaml.synth(build(b));
    expect(filesOf(b)).toEqual(filesOf(a));
    fs.rmSync(a, { recursive: true, force: true });
    fs.rmSync(b, { recursive: true, force: true });
  });

  test('Yaml.save is restored after a synth, also when the synth fails', () => {
    const original = Yaml.save;
    const app = new App({ outdir: tmp() });
    heroAndLilDeeBee(app, STORY_MESHES[0]);
    FastYaml.synth(app);
    expect(Yaml.save).toBe(original);
    const bad = new App({ outdir: tmp() });
    const chart = heroAndLilDeeBee(bad, STORY_MESHES[0]);
    chart.node.addValidation({ validate: () => ['broken on purpose'] });
    expect(() => FastYaml.synth(bad)).toThrow(/broken on purpose/);
    expect(Yaml.save).toBe(original);
  });
});

describe('FastYaml.stringify equals Yaml.stringify', () => {
  test('random bench topologies on every backend (fast path only)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 2, max: 25 }), fc.integer({ min: 0, max: 80 }), fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 1, max: 4 }),
      fc.constantFrom(...STORY_MESHES),
      (w, e, seed, namespaces, mesh) => {
        const app = Testing.app();
        buildZeroTrust(app, topology(w, Math.min(e, w * (w - 1)), seed, namespaces), mesh);
        const docs = docsOf(app);
        let fast = '';
        const n = counting(() => { fast = FastYaml.stringify(...docs); });
        expect(fast).toBe(Yaml.stringify(...docs));
        expect(n.fallback).toBe(0);
      },
    ), { seed: 9, numRuns: 15 });
  });

  const tricky = [
    'true', 'false', 'True', 'TRUE', 'yes', 'no', 'Yes', 'y', 'n', 'Y', 'on', 'off', 'On', 'null', 'Null', '~', '',
    '1', '0', '-1', '+1', '007', '0x1F', '0b101', '1e3', '1.5', '.5', '.inf', '-.inf', '.nan', '12:30', '1:20:30.5',
    '2001-12-14', '2001-12-14t21:59:43.10-05:00', '<<', '*.example.com', '&anchor', '!tag', '%percent', '@at', '`tick',
    '|pipe', '>gt', "'single'", '"double"', 'it\'s', 'say "hi"', 'both \' and "', 'a: b', 'a:b', 'trailing:', 'a #b', 'a#b',
    '#comment', '- item', '-', '?', '? x', '-x', ':x', ',x', '[x]', '{x}', 'x ', ' x', 'back\\slash', 'tab\there',
    '---', '--- x', '...', 'a---b', 'ünïcödé', 'emoji 🚀', 'ctrl\u0001', 'line one\nline two', 'a\n\nb', 'a\n\n\nb',
    'trailing newline\n', '\nleading newline', 'x\n y', 'x \ny', 'x\n#y', 'x\n---\ny', 'x\n%y', '  indented\nmore', 'k: v\nk2: v2',
    'production/hero -> production/lil-deebee on 5432/TCP', 'app.kubernetes.io/name', 'zero-trust.cdk8s.io/allows',
  ];
  const key = fc.oneof(fc.constantFrom('a', 'name', 'app.kubernetes.io/name', 'x-y_z', 'spec', ...tricky), fc.string({ maxLength: 6 }));
  const scalar = fc.oneof(
    fc.constantFrom(...tricky),
    fc.string({ maxLength: 12 }),
    fc.string({ unit: fc.constantFrom('a', 'b', ' ', '\n', ':', '#', '-', '"', "'", '1', '.'), maxLength: 10 }),
    fc.integer({ min: -1e6, max: 1e6 }), fc.constantFrom(0, -0, 1.5, 1e21, -3.25e-7, Number.MAX_SAFE_INTEGER + 2, NaN, Infinity, -Infinity),
    fc.boolean(), fc.constant(null),
  );
  const { tree } = fc.letrec((tie) => ({
    tree: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('array'), tie('object')),
    array: fc.array(tie('tree'), { maxLength: 4 }),
    object: fc.dictionary(key, tie('tree'), { maxKeys: 5 }),
  }));
  const doc = fc.dictionary(key, tree, { maxKeys: 6 });

  test('random documents with strings that need quoting, blocks, empty collections and numbers', () => {
    let total = { fast: 0, fallback: 0 };
    fc.assert(fc.property(fc.array(fc.oneof(doc, fc.constant(undefined)), { minLength: 1, maxLength: 4 }), (docs) => {
      let fast = '';
      const n = counting(() => { fast = FastYaml.stringify(...docs); });
      total = { fast: total.fast + n.fast, fallback: total.fallback + n.fallback };
      expect(fast).toBe(Yaml.stringify(...docs));
    }), { seed: 42, numRuns: 600 });
    // Both paths were exercised: the emitter for what it handles, the fallback for the rest.
    expect(total.fast).toBeGreaterThan(100);
    expect(total.fallback).toBeGreaterThan(50);
  });

  test('each tricky string as a label value, an annotation, a list item and a key', () => {
    let fastDocs = 0;
    for (const s of tricky) {
      const docs = [
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', labels: { l: s }, annotations: { 'zero-trust.cdk8s.io/allows': s } }, data: { k: s } },
        { list: [s, { k: s }, [], {}], count: 1 },
        { [s || 'empty']: { nested: [s] } },
      ];
      const n = counting(() => expect(FastYaml.stringify(...docs)).toBe(Yaml.stringify(...docs)));
      fastDocs += n.fast;
    }
    // Strings with non-ASCII, control characters, single quotes or indentation-sensitive blocks
    // fall back; the rest (most of them) the emitter writes itself, as values and list items.
    expect(fastDocs).toBeGreaterThan(tricky.length * 1.5);
  });

  test('quoting and blocks are written by the emitter itself, not the fallback', () => {
    const docs = [{
      metadata: { labels: { a: 'true', b: '1', c: 'yes', d: '*.example.com', e: '', f: 'null', g: '2001-12-14' } },
      annotations: { allows: 'a -> b on 80/TCP\nc -> d on 443/TCP', blank: 'x\n\ny' },
      empty: { map: {}, list: [] },
      numbers: [0, 1, -5, 65535],
      flags: [true, false],
    }];
    const n = counting(() => expect(FastYaml.stringify(...docs)).toBe(Yaml.stringify(...docs)));
    expect(n).toEqual({ fast: 1, fallback: 0 });
    expect(FastYaml.stringify(...docs)).toContain('a: "true"\n');
    expect(FastYaml.stringify(...docs)).toContain('allows: |-\n    a -> b on 80/TCP\n    c -> d on 443/TCP\n');
  });

  test('shared object references, which yaml writes as anchors, fall back', () => {
    const shared = { a: 1 };
    const docs = [{ x: shared, y: shared }];
    const n = counting(() => expect(FastYaml.stringify(...docs)).toBe(Yaml.stringify(...docs)));
    expect(n).toEqual({ fast: 0, fallback: 1 });
  });
});
