/**
 * The benchmark's own pieces: the topology is deterministic, the hand-written plain baseline is
 * the same object set as the NetworkPolicy backend (so the ratio between them is the cost of
 * the library, nothing else), and the benchmark's verification catches a wrong output.
 */
import { App, Testing, Yaml } from 'cdk8s';
import { Mesh } from '../lib';
import { buildPlain, buildZeroTrust, topology } from '../bench/topology';
import { verifyOutput } from '../bench/verify';

function objectsOf(app: App): any[] {
  return app.charts.flatMap((c) => Object.values(c.toJson()));
}

test('the topology is seeded: same W/E, same edges; distinct edges, no self-edges', () => {
  const a = topology(60, 200);
  expect(topology(60, 200)).toEqual(a);
  expect(new Set(a.edges.map((e) => `${e.from}>${e.to}`)).size).toBe(200);
  expect(a.edges.every((e) => e.from !== e.to)).toBe(true);
  expect(new Set(a.workloads.map((w) => w.namespace)).size).toBe(4);
});

test('the plain baseline writes exactly the bytes of the NetworkPolicy backend', () => {
  const topo = topology(30, 90, 3);
  const zt = Testing.app();
  buildZeroTrust(zt, topo, Mesh.networkPolicy());
  const plain = Testing.app();
  buildPlain(plain, topo);
  expect(Yaml.stringify(...objectsOf(plain))).toBe(Yaml.stringify(...objectsOf(zt)));
});

describe('the benchmark check reads the output back and catches a wrong answer', () => {
  const topo = topology(24, 60, 5);
  const objects = () => {
    const app = Testing.app();
    buildZeroTrust(app, topo, Mesh.networkPolicy());
    return objectsOf(app);
  };

  test('the real output passes, with every declared edge asked', () => {
    const r = verifyOutput('zt:networkpolicy', topo, objects());
    expect(r.mismatches).toEqual([]);
    expect(r.declared).toBe(60);
    expect(r.queries).toBeGreaterThan(60 + 300);
    expect(r.reader).toBe('NetworkPolicyEvaluator');
  });

  test('a policy that lost a peer is caught (a declared edge is denied)', () => {
    const objs = objects();
    const ingress = objs.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name.endsWith('-ingress') && o.spec.ingress[0].from.length > 1);
    ingress.spec.ingress[0].from.pop();
    const r = verifyOutput('zt:networkpolicy', topo, objs);
    expect(r.mismatches.length).toBeGreaterThan(0);
    expect(r.mismatches[0]).toMatch(/is denied, declared allowed/);
  });

  test('a widened policy is caught (ingress from every pod)', () => {
    const objs = objects();
    const ingress = objs.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name.endsWith('-ingress'));
    ingress.spec.ingress[0].from = [{ namespaceSelector: {} }];
    const egress = objs.filter((o) => o.kind === 'NetworkPolicy' && o.metadata.name.endsWith('-egress'));
    for (const e of egress) e.spec.egress.push({ to: [{ namespaceSelector: {} }] });
    const r = verifyOutput('zt:networkpolicy', topo, objs);
    expect(r.mismatches.some((m) => /is allowed, declared denied/.test(m))).toBe(true);
  });
});

describe('the review benchmark', () => {
  test('the "after" topology moves 1% of the edges, seeded, to pairs that had none', () => {
    // Imported here: bench/review loads the CLI and the report.
    const { movedEdges } = require('../bench/review') as typeof import('../bench/review');
    const before = topology(200, 1000);
    const after = movedEdges(before);
    expect(movedEdges(before)).toEqual(after);
    expect(after.edges.length).toBe(1000);
    const key = (e: { from: number; to: number }) => `${e.from}>${e.to}`;
    const old = new Set(before.edges.map(key));
    expect(new Set(after.edges.map(key)).size).toBe(1000);
    expect(after.edges.filter((e) => !old.has(key(e))).length).toBe(10);
    expect(after.edges.every((e) => e.from !== e.to)).toBe(true);
  });

  test('--review-only replaces its section of RESULTS.md and keeps the others', () => {
    const { replaceSection } = require('../bench/run') as typeof import('../bench/run');
    const text = '# Benchmark results\n\n## A\n\na\n\n## Review at scale\n\nold\n\n## B\n\nb\n';
    expect(replaceSection(text, '## Review at scale', '## Review at scale\n\nnew\n')).toBe('# Benchmark results\n\n## A\n\na\n\n## Review at scale\n\nnew\n\n## B\n\nb\n');
    expect(replaceSection('# Benchmark results\n\n## A\n\na\n', '## Review at scale', '## Review at scale\n\nnew\n')).toBe('# Benchmark results\n\n## A\n\na\n\n## Review at scale\n\nnew\n');
  });
});
