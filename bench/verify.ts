/**
 * Checks that a scenario's output allows exactly the declared flows, by reading the synthesized
 * objects back with the backend's reader from lib/verify/ (from the objects, never the model), so
 * a fast wrong answer cannot pass the benchmark.
 *
 * Asking every pair on every port is O(W²·ports); at benchmark sizes the check asks a bounded,
 * seeded sample instead: every declared edge (must be allowed), the same edges on a port the
 * destination does not serve and in reverse, random undeclared pairs, and a pod outside the mesh
 * reaching random workloads (all must be denied).
 */
import {
  Endpoint, Manifest, OUTSIDER_NAMESPACE, PROBE_LABEL, PolicyEvaluator, Query,
  describeQuery, inventory,
} from '../lib/verify';
import { BACKEND_IDS, isBackendId } from '../lib/intent/backend';
import { readerFor } from '../lib/verify/readers';
import { Topology, prng } from './topology';

/** Outcome of the check. */
export interface VerifyResult {
  /** Reader used, or why none was. */
  readonly reader: string;
  /** Queries evaluated. */
  readonly queries: number;
  /** Of which declared flows (expected allowed). */
  readonly declared: number;
  /** Queries where the reader disagreed with the topology (at most 10 listed). */
  readonly mismatches: string[];
  readonly ms: number;
}

/**
 * The reader of a backend over the whole output, composed with the NetworkPolicy layer as
 * lib/verify/ documents it (`readerFor`, the same reader the CLI uses). An unknown backend is
 * reported as unverified, not passed.
 */
function readerOf(backend: string, ms: Manifest[]): PolicyEvaluator | undefined {
  return isBackendId(backend) ? readerFor(ms, { backend }) : undefined;
}

/**
 * Backends whose documented semantics are wider than port-by-port, one-way flows: a Network Service
 * Mesh connection is L3 (every port of the endpoint) and usable in both directions
 * (docs/backends/nsm.md). For them a declared edge allows the pair both ways on every port.
 */
const PAIR_LEVEL = new Set(['nsm']);

const SAMPLE = { wrongPort: 500, reverse: 1000, random: 3000, outsider: 300 };

/** Verifies the objects of one backend (`zt:<id>`) or of every backend (`zt:all`, each on its own namespaces). */
export function verifyOutput(scenario: string, topo: Topology, objects: any[]): VerifyResult {
  const t0 = performance.now();
  const id = scenario.replace(/^zt:/, '');
  if (id === 'all') {
    // Every backend's part of the app is its own namespaces (suffix -<id>); check each part.
    // Cluster-scoped objects (a Kuma Mesh, ...) belong to every part.
    const parts = [...BACKEND_IDS]
      .map((b) => ({ b, objs: objects.filter((o) => { const ns = namespaceOf(o); return ns === undefined || ns.endsWith(`-${b}`); }) }))
      .filter((p) => p.objs.some((o) => o.kind === 'Namespace'));
    const results = parts.map((p) => verifyBackend(p.b, topo, p.objs, `-${p.b}`));
    return {
      reader: results.map((r) => r.reader).join(', '),
      queries: results.reduce((n, r) => n + r.queries, 0),
      declared: results.reduce((n, r) => n + r.declared, 0),
      mismatches: results.flatMap((r) => r.mismatches).slice(0, 10),
      ms: performance.now() - t0,
    };
  }
  return { ...verifyBackend(id, topo, objects, ''), ms: performance.now() - t0 };
}

function namespaceOf(o: any): string | undefined {
  return o.kind === 'Namespace' ? o.metadata?.name : o.metadata?.namespace;
}

function verifyBackend(backend: string, topo: Topology, objects: any[], suffix: string): Omit<VerifyResult, 'ms'> {
  const manifests = objects as Manifest[];
  const reader = readerOf(backend, manifests);
  if (!reader) return { reader: `no reader for ${backend}`, queries: 0, declared: 0, mismatches: [`${backend}: not a known backend`] };
  const pods = new Map(inventory(manifests).workloads.map((e) => [e.id, e]));
  const pod = (i: number): Endpoint => {
    const w = topo.workloads[i];
    const e = pods.get(`${w.namespace}${suffix}/${w.name}`);
    if (!e) throw new Error(`${backend}: no workload ${w.namespace}${suffix}/${w.name} in the output`);
    return e;
  };
  const outsider: Endpoint = {
    id: `${OUTSIDER_NAMESPACE}/outsider`, kind: 'pod', namespace: OUTSIDER_NAMESPACE,
    namespaceLabels: { 'kubernetes.io/metadata.name': OUTSIDER_NAMESPACE }, namespaceAnnotations: {},
    labels: { [PROBE_LABEL]: 'true' }, annotations: {}, serviceAccount: 'default', ports: [],
  };
  const edges = new Set(topo.edges.map((e) => `${e.from}>${e.to}`));
  const pairLevel = PAIR_LEVEL.has(backend);
  const declared = (a: number, b: number, port: number) => pairLevel
    ? edges.has(`${a}>${b}`) || edges.has(`${b}>${a}`)
    : edges.has(`${a}>${b}`) && port === topo.workloads[b].port;
  const q = (source: Endpoint, destination: Endpoint, port: number): Query => ({ source, destination, port, protocol: 'TCP' });
  const checks: Array<{ query: Query; expected: boolean }> = [];
  for (const e of topo.edges) checks.push({ query: q(pod(e.from), pod(e.to), topo.workloads[e.to].port), expected: true });
  const rnd = prng(12345);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const n = topo.workloads.length;
  for (let i = 0; i < Math.min(SAMPLE.wrongPort, topo.edges.length); i++) {
    const e = pick(topo.edges);
    checks.push({ query: q(pod(e.from), pod(e.to), topo.workloads[e.to].port + 1), expected: declared(e.from, e.to, topo.workloads[e.to].port + 1) });
  }
  for (let i = 0; i < Math.min(SAMPLE.reverse, topo.edges.length); i++) {
    const e = pick(topo.edges);
    if (!edges.has(`${e.to}>${e.from}`)) checks.push({ query: q(pod(e.to), pod(e.from), topo.workloads[e.from].port), expected: declared(e.to, e.from, topo.workloads[e.from].port) });
  }
  for (let i = 0; i < SAMPLE.random && n > 1; i++) {
    const a = Math.floor(rnd() * n);
    const b = Math.floor(rnd() * n);
    if (a !== b) checks.push({ query: q(pod(a), pod(b), topo.workloads[b].port), expected: declared(a, b, topo.workloads[b].port) });
  }
  for (let i = 0; i < SAMPLE.outsider && n > 0; i++) {
    const b = Math.floor(rnd() * n);
    checks.push({ query: q(outsider, pod(b), topo.workloads[b].port), expected: false });
  }
  const mismatches: string[] = [];
  for (const c of checks) {
    const d = reader.evaluate(c.query);
    if (d.allowed !== c.expected && mismatches.length < 10) {
      mismatches.push(`${backend}: ${describeQuery(c.query)} is ${d.allowed ? 'allowed' : 'denied'}, declared ${c.expected ? 'allowed' : 'denied'} (${d.reasons.join('; ')})`);
    }
  }
  return { reader: `${reader.constructor.name}${pairLevel ? ' (pair-level: every port, both ways)' : ''}`, queries: checks.length, declared: topo.edges.length, mismatches };
}
