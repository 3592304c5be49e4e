/**
 * lib/report in process: the flow matrix of the story for every backend (rows, mTLS column), the
 * L7 column on a story with an HTTP rule, the renderings, the intent document, and the diff on a
 * change that opens one flow and closes another, for every backend.
 */
import * as fs from 'fs';
import { Testing } from 'cdk8s';
import { CiliumMutualAuth, IstioMode, Mesh } from '../lib';
import { STORY_MESHES } from '../apps/main';
import { heroAndLilDeeBee } from '../apps/story';
import { intentDocument, intentDocumentText, parseIntentDocument } from '../lib/intent/document';
import { IntentRegistry } from '../lib/intent/registry';
import { diffMatrices, flowMatrix, formatDiffMarkdown, formatDot, formatMermaid, rowKey } from '../lib/report';
import { loadManifests } from '../lib/verify';
import { changedStory, httpStory, story, synthTo, tempDir } from './support/stories';
import { BackendId } from '../lib/intent/backend';

const temps: string[] = [];
function synth(build: Parameters<typeof synthTo>[1]): ReturnType<typeof loadManifests> {
  const dir = tempDir('report');
  temps.push(dir);
  return loadManifests(synthTo(dir, build));
}
afterAll(() => temps.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** Hero -> Lil DeeBee must be mutually authenticated on the identity meshes (Cilium's default, NONE, has no mutual auth). */
const MTLS: { readonly [id in BackendId]: boolean } = {
  'networkpolicy': false, 'istio': true, 'istio-ambient': true, 'linkerd': true, 'cilium': false, 'kuma': true, 'nsm': false,
};

describe.each(STORY_MESHES.map((m) => [m.id, m] as const))('the story on %s', (id, mesh) => {
  const matrix = flowMatrix(synth(story(mesh)));

  test('the backend is detected and the declared flows are rows, with the mTLS column per backend', () => {
    expect(matrix.backend).toBe(id);
    const app = matrix.rows.filter((r) => r.source.startsWith('production/') || r.destination.startsWith('production/'))
      .filter((r) => !r.destination.startsWith('kube-system/') && !/^(istio-system|linkerd|kuma-system)\//.test(r.destination))
      .filter((r) => !r.source.startsWith('cidr:169.254.7.127')) // istio-ambient: the kubelet probe address, admitted by design
      .map((r) => `${rowKey(r)}${r.mtls ? ' mTLS' : ''}${r.l7 ? ` [${r.l7}]` : ''}`);
    const m = MTLS[id as BackendId] ? ' mTLS' : '';
    if (id === 'nsm') {
      // NSM: an L3 connection between the two workloads, every port both ways (docs/backends/nsm.md).
      expect(app).toEqual([
        'ns:ingress-nginx -> production/hero 8080/TCP',
        'production/hero -> cidr:203.0.113.0/24 443/TCP',
        'production/hero -> production/lil-deebee any/TCP',
        'production/hero -> production/lil-deebee any/UDP',
        'production/lil-deebee -> production/hero any/TCP',
        'production/lil-deebee -> production/hero any/UDP',
      ]);
    } else {
      expect(app).toEqual([
        `ns:ingress-nginx -> production/hero 8080/TCP${m}`,
        'production/hero -> cidr:203.0.113.0/24 443/TCP',
        `production/hero -> production/lil-deebee 5432/TCP${m}`,
      ]);
    }
  });

  test('no row lets an outsider, the intruder probe or the world in', () => {
    expect(matrix.rows.filter((r) => ['ns:*', 'ns:production', 'world'].includes(r.source) || r.destination === 'world')).toEqual([]);
  });

  test('renderings are deterministic: Mermaid flowchart LR and DOT with stable ids', () => {
    const again = flowMatrix(synth(story(mesh)));
    expect(formatMermaid(again)).toBe(formatMermaid(matrix));
    expect(formatMermaid(matrix)).toMatch(/^flowchart LR\n/);
    expect(formatMermaid(matrix)).toContain('  subgraph ns_production["namespace production"]\n    n_production_hero["production/hero"]\n');
    expect(formatMermaid(matrix)).toContain('n_ns_ingress_nginx -->|"8080/TCP');
    expect(formatDot(matrix)).toContain('subgraph "cluster_production"');
  });
});

describe('the L7 column', () => {
  test.each([
    ['istio', Mesh.istio({ mode: IstioMode.SIDECAR })],
    ['istio-ambient', Mesh.istio({ mode: IstioMode.AMBIENT })],
    ['linkerd', Mesh.linkerd()],
    ['cilium', Mesh.cilium({ mutualAuth: CiliumMutualAuth.SPIRE })],
  ])('%s: ingress-nginx may only GET /api/* on Hero; the database flow has no L7 rule', (_id, mesh) => {
    const rows = flowMatrix(synth(httpStory(mesh))).rows;
    expect(rows.filter((r) => r.source === 'ns:ingress-nginx').map((r) => `${rowKey(r)} [${r.l7}] ${r.mtls}`)).toEqual([
      'ns:ingress-nginx -> production/hero 8080/TCP [GET /api/*] true',
    ]);
    expect(rows.find((r) => r.destination === 'production/lil-deebee')!.l7).toBe('');
  });
});

describe('diff on a change that opens one flow and closes another', () => {
  test.each(STORY_MESHES.map((m) => [m.id, m] as const))('%s: monitoring -> Hero added, Hero -> 203.0.113.0/24 removed', (_id, mesh) => {
    const d = diffMatrices(flowMatrix(synth(story(mesh))), flowMatrix(synth(changedStory(mesh))));
    expect(d.added.map(rowKey)).toEqual(['ns:monitoring -> production/hero 8080/TCP']);
    expect(d.removed.map(rowKey)).toEqual(['production/hero -> cidr:203.0.113.0/24 443/TCP']);
    const md = formatDiffMarkdown(d, 'old', 'new');
    expect(md).toContain('1 flow added, 1 removed.');
    expect(md).toMatch(/### Added \(1\)[\s\S]*`ns:monitoring`[\s\S]*### Removed \(1\)[\s\S]*`cidr:203\.0\.113\.0\/24`/);
  });
});

describe('the intent document', () => {
  function model() {
    const app = Testing.app();
    heroAndLilDeeBee(app, Mesh.istio());
    app.synth();
    return IntentRegistry.of(app).resolve().model;
  }

  test('is deterministic JSON of the resolved model and reads back to the same document', () => {
    const m = model();
    const doc = intentDocument(m);
    expect(intentDocumentText(m)).toBe(intentDocumentText(model()));
    expect(doc.namespaces).toEqual([{ name: 'production', backend: 'istio', dns: { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } } }]);
    expect(doc.workloads.map((w) => `${w.namespace}/${w.name} sa=${w.serviceAccount} ${w.ports.map((p) => `${p.number}/${p.protocol}`)}`)).toEqual([
      'production/hero sa=hero 8080/TCP',
      'production/lil-deebee sa=lil-deebee 5432/TCP',
    ]);
    expect(doc.flows.map((f) => `${JSON.stringify(f.source)} -> ${JSON.stringify(f.destination)} ${f.ports.map((p) => p.number)}`)).toEqual([
      '{"type":"namespace","namespace":"ingress-nginx"} -> {"type":"workload","workload":"production/hero"} 8080',
      '{"type":"workload","workload":"production/hero"} -> {"type":"ip-block","cidr":"203.0.113.0/24","except":[]} 443',
      '{"type":"workload","workload":"production/hero"} -> {"type":"workload","workload":"production/lil-deebee"} 5432',
    ]);
    const parsed = parseIntentDocument(JSON.parse(JSON.stringify(doc)));
    expect(intentDocument(parsed.model, parsed.dns)).toEqual(doc);
  });

  test('a malformed document names the field', () => {
    const doc = JSON.parse(intentDocumentText(model()));
    doc.flows[0].destination.workload = 'production/ghost';
    expect(() => parseIntentDocument(doc, 'x.json')).toThrow('x.json: flows[0].destination.workload: no workload "production/ghost" in workloads');
    expect(() => parseIntentDocument({ version: 2 }, 'x.json')).toThrow('x.json: version: expected 1, got 2');
  });
});
