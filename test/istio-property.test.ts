/**
 * Property: for random intent, the Istio reader's decisions over the synthesized YAML equal the
 * intent, on every probe whose destination is a pod of the app (the mesh's inbound authority):
 * declared flows pass, everything else — including pods outside the mesh, addresses outside the
 * declared ranges, undeclared ports and non-matching HTTP requests — is denied. Both modes.
 *
 * The topology generator and the expected semantics are local to this file until the shared
 * `test/support/topology.ts` and `lib/verify` intentAllows land on main.
 */
import { Testing } from 'cdk8s';
import * as fc from 'fast-check';
import { IstioMode, Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { HttpRule } from '../lib/intent/rules';
import { IstioEvaluator, ipInCidr } from '../lib/verify/istio';
import { Endpoint, Manifest, Query } from '../lib/verify/types';
import { foreignPod, ipEndpoint, workloadEndpoints } from './support/istio-endpoints';
import { synthApp } from './support/synth';

const NAMESPACES = ['alpha', 'beta'];
const RANGES = [{ cidr: '198.51.100.0/24', except: ['198.51.100.128/25'] }, { cidr: '203.0.113.0/24', except: [] as string[] }];
const HTTP_RULES: HttpRule[] = [{ methods: ['GET'], paths: ['/api/*'] }, { methods: ['POST'] }, { paths: ['/healthz'] }];
const REQUESTS = [{ method: 'GET', path: '/api/x' }, { method: 'POST', path: '/submit' }, { method: 'GET', path: '/healthz' }, { method: 'DELETE', path: '/api/x' }];

interface WorkloadPlan { ns: number; http: boolean; tcp: boolean }
type SourcePlan = { kind: 'workload'; index: number } | { kind: 'namespace' } | { kind: 'external' } | { kind: 'range'; index: number };
interface FlowPlan { source: SourcePlan; dest: number; port: 'http' | 'tcp' | 'all'; http?: number[] }

const plans = fc.record({
  workloads: fc.array(fc.record({ ns: fc.integer({ min: 0, max: 1 }), http: fc.boolean(), tcp: fc.boolean() }), { minLength: 2, maxLength: 4 }),
  flows: fc.array(fc.record({
    source: fc.oneof(
      fc.record({ kind: fc.constant('workload' as const), index: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ kind: fc.constant('namespace' as const) }),
      fc.record({ kind: fc.constant('external' as const) }),
      fc.record({ kind: fc.constant('range' as const), index: fc.integer({ min: 0, max: 1 }) }),
    ),
    dest: fc.integer({ min: 0, max: 3 }),
    port: fc.constantFrom('http' as const, 'tcp' as const, 'all' as const),
    http: fc.option(fc.uniqueArray(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 2 }), { nil: undefined }),
  }), { maxLength: 6 }),
});

interface Built {
  manifests: Manifest[];
  /** Declared flows after dropping the ones the plan cannot express. */
  flows: { source: SourcePlan; dest: string; ports: number[]; http: HttpRule[] }[];
}

function build(mode: IstioMode, plan: { workloads: WorkloadPlan[]; flows: FlowPlan[] }): Built {
  const app = Testing.app();
  const mesh = Mesh.istio({ mode });
  const charts = NAMESPACES.map((ns) => new ZeroTrustChart(app, ns, { namespace: ns, mesh }));
  const workloads = plan.workloads.map((w, i) => {
    const ports = [...(w.http ? [Port.http(8080)] : []), ...(w.tcp || !w.http ? [Port.tcp(5432, 'postgres')] : [])];
    return { sw: new SecureWorkload(charts[w.ns], `w${i}`, { image: 'x', ports }), ports, id: `${NAMESPACES[w.ns]}/w${i}` };
  });
  const flows: Built['flows'] = [];
  for (const f of plan.flows) {
    const dest = workloads[f.dest % workloads.length];
    let ports = f.port === 'all' ? dest.ports : dest.ports.filter((p) => (f.port === 'http' ? p.speaksHttp : !p.speaksHttp));
    if (ports.length === 0) ports = dest.ports;
    const httpOk = ports.every((p) => p.speaksHttp);
    let http = f.http && httpOk ? f.http.map((i) => HTTP_RULES[i]) : [];
    // Ambient cannot enforce HTTP rules for clients outside the mesh (synth error, tested elsewhere).
    if (mode === IstioMode.AMBIENT && f.source.kind === 'range') http = [];
    const options = { ports, ...(http.length ? { http } : {}) };
    let source = f.source;
    switch (source.kind) {
      case 'workload': {
        const src = workloads[source.index % workloads.length];
        if (src === dest) continue;
        source = { kind: 'workload', index: source.index % workloads.length };
        dest.sw.allowFrom(src.sw, options);
        break;
      }
      case 'namespace': dest.sw.allowFrom(Peer.namespace('ext-ns'), options); break;
      case 'external': dest.sw.allowFrom(Peer.workload({ namespace: 'ext-wl', labels: { app: 'client' }, serviceAccount: 'client' }), options); break;
      case 'range': dest.sw.allowFrom(Peer.ipBlock(RANGES[source.index].cidr, RANGES[source.index].except), options); break;
    }
    flows.push({ source, dest: dest.id, ports: ports.map((p) => p.number), http });
  }
  return { manifests: synthApp(app) as Manifest[], flows };
}

function sourceMatches(s: SourcePlan, e: Endpoint, workloadIds: string[]): boolean {
  switch (s.kind) {
    case 'workload': return e.id === workloadIds[s.index];
    case 'namespace': return e.kind === 'pod' && e.namespace === 'ext-ns';
    case 'external': return e.kind === 'pod' && e.namespace === 'ext-wl' && e.labels?.app === 'client';
    case 'range': {
      const r = RANGES[s.index];
      return e.kind === 'ip' && ipInCidr(e.ip!, r.cidr) && !r.except.some((x) => ipInCidr(e.ip!, x));
    }
  }
}

function ruleMatches(r: HttpRule, req: { method: string; path: string }): boolean {
  const m = !r.methods || r.methods.includes(req.method);
  const p = !r.paths || r.paths.some((x) => (x.endsWith('*') ? req.path.startsWith(x.slice(0, -1)) : req.path === x));
  return m && p;
}

/** What the intent allows. */
function expected(b: Built, q: Query, workloadIds: string[]): boolean {
  return b.flows.some((f) => f.dest === q.destination.id && f.ports.includes(q.port) && sourceMatches(f.source, q.source, workloadIds)
    && (f.http.length === 0 || (q.http !== undefined && f.http.some((r) => ruleMatches(r, q.http!)))));
}

describe.each([IstioMode.SIDECAR, IstioMode.AMBIENT])('reader(synth(intent)) == intent on Istio (%s)', (mode) => {
  test('random topologies, every probe to an app pod', () => {
    fc.assert(fc.property(plans, (plan) => {
      const b = build(mode, plan);
      const reader = new IstioEvaluator(b.manifests, { enrolledNamespaces: { 'ext-ns': mode, 'ext-wl': mode } });
      const apps = workloadEndpoints(b.manifests);
      const ids = plan.workloads.map((w, i) => `${NAMESPACES[w.ns]}/w${i}`);
      const sources: Endpoint[] = [
        ...apps,
        foreignPod('ext-ns', 'anything'),
        foreignPod('ext-wl', 'client'),
        foreignPod('ext-wl', 'other'),
        foreignPod('outside', 'client'), // not enrolled: outside the mesh
        { ...foreignPod('alpha', 'stranger'), namespaceLabels: apps[0].namespaceLabels },
        ipEndpoint('198.51.100.7'), ipEndpoint('198.51.100.200'), ipEndpoint('203.0.113.9'), ipEndpoint('192.0.2.1'),
      ];
      for (const dst of apps) {
        for (const src of sources) {
          if (src.id === dst.id) continue;
          for (const port of [8080, 5432, 9999]) {
            for (const http of [undefined, ...REQUESTS]) {
              if (http && port !== 8080) continue;
              const q: Query = { source: src, destination: dst, port, protocol: 'TCP', ...(http ? { http } : {}) };
              const got = reader.evaluate(q);
              const want = expected(b, q, ids);
              if (got.allowed !== want) {
                throw new Error(`${src.id} -> ${dst.id}:${port} ${http ? `${http.method} ${http.path}` : ''}: reader ${got.allowed}, intent ${want}\n${got.reasons.join('\n')}\nflows: ${JSON.stringify(b.flows)}`);
              }
            }
          }
        }
      }
    }), { seed: 20261127, numRuns: 40 });
  });
});

describe('a widened or edited manifest is caught', () => {
  function storyLike(mode: IstioMode) {
    return build(mode, {
      workloads: [{ ns: 0, http: true, tcp: false }, { ns: 0, http: false, tcp: true }],
      flows: [
        { source: { kind: 'workload', index: 0 }, dest: 1, port: 'all' },
        { source: { kind: 'namespace' }, dest: 0, port: 'http', http: [0] },
      ],
    });
  }
  const ask = (manifests: Manifest[], mode: IstioMode, src: Endpoint, dst: Endpoint, port: number, http?: { method: string; path: string }) =>
    new IstioEvaluator(manifests, { enrolledNamespaces: { 'ext-ns': mode } }).evaluate({ source: src, destination: dst, port, protocol: 'TCP', ...(http ? { http } : {}) });

  test.each([IstioMode.SIDECAR, IstioMode.AMBIENT])('%s: dropping the ports, a principal wildcard, PERMISSIVE, or deleting allow-nothing and the ALLOW policy', (mode) => {
    const b = storyLike(mode);
    const [w0, w1] = workloadEndpoints(b.manifests);
    const stranger = { ...foreignPod('alpha', 'stranger'), namespaceLabels: w0.namespaceLabels };
    const edit = (f: (m: any) => void) => {
      const copy = JSON.parse(JSON.stringify(b.manifests));
      copy.forEach(f);
      return copy;
    };
    expect(ask(b.manifests, mode, w0, w1, 9999).allowed).toBe(false);
    expect(ask(b.manifests, mode, stranger, w1, 5432).allowed).toBe(false);
    expect(ask(b.manifests, mode, foreignPod('outside', 'x'), w1, 5432).allowed).toBe(false);
    expect(ask(b.manifests, mode, foreignPod('ext-ns', 'x'), w0, 8080, { method: 'POST', path: '/api/x' }).allowed).toBe(false);

    const noPorts = edit((m) => { if (m.kind === 'AuthorizationPolicy' && m.metadata.name === 'w1') delete m.spec.rules[0].to; });
    if (mode === IstioMode.SIDECAR) {
      // The source's Sidecar (REGISTRY_ONLY) still knows no Service on 9999; dropping it too is caught.
      expect(ask(noPorts, mode, w0, w1, 9999).reasons.join('\n')).toMatch(/REGISTRY_ONLY and no imported Service/);
      expect(ask(noPorts.filter((m: any) => m.kind !== 'Sidecar'), mode, w0, w1, 9999).allowed).toBe(true);
    } else {
      expect(ask(noPorts, mode, w0, w1, 9999).allowed).toBe(true);
    }

    const wildcard = edit((m) => { if (m.kind === 'AuthorizationPolicy' && m.metadata.name === 'w1') m.spec.rules[0].from[0].source.principals = ['*']; });
    // A mesh pod of another namespace (no Sidecar there) now gets in.
    expect(ask(b.manifests, mode, foreignPod('ext-ns', 'x'), w1, 5432).allowed).toBe(false);
    expect(ask(wildcard, mode, foreignPod('ext-ns', 'x'), w1, 5432).allowed).toBe(true);

    const permissive = edit((m) => { if (m.kind === 'PeerAuthentication') m.spec.mtls.mode = 'PERMISSIVE'; if (m.kind === 'AuthorizationPolicy' && m.metadata.name === 'w1') m.spec = {}; });
    const removed = permissive.filter((m: any) => !(m.kind === 'AuthorizationPolicy' && ['allow-nothing', 'w1'].includes(m.metadata.name)));
    expect(ask(removed, mode, foreignPod('outside', 'x'), w1, 5432).allowed).toBe(true);

    const l7 = mode === IstioMode.SIDECAR ? 'w0' : 'w0-l7';
    const anyMethod = edit((m) => { if (m.kind === 'AuthorizationPolicy' && m.metadata.name === l7) for (const r of m.spec.rules) for (const t of r.to) delete t.operation.methods; });
    expect(ask(anyMethod, mode, foreignPod('ext-ns', 'x'), w0, 8080, { method: 'POST', path: '/api/x' }).allowed).toBe(true);
  });

  test('ambient: without the waypoint admitted at ztunnel, the L7 flow breaks', () => {
    const b = storyLike(IstioMode.AMBIENT);
    const [w0] = workloadEndpoints(b.manifests);
    const req = { method: 'GET', path: '/api/x' };
    expect(ask(b.manifests, IstioMode.AMBIENT, foreignPod('ext-ns', 'x'), w0, 8080, req).allowed).toBe(true);
    const cut = JSON.parse(JSON.stringify(b.manifests)).filter((m: any) => !(m.kind === 'AuthorizationPolicy' && m.metadata.name === 'w0'));
    cut.push({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'w0', namespace: 'alpha' }, spec: { selector: { matchLabels: { 'app.kubernetes.io/name': 'w0' } }, action: 'ALLOW', rules: [{ from: [{ source: { namespaces: ['ext-ns'] } }] }] } });
    const d = ask(cut, IstioMode.AMBIENT, foreignPod('ext-ns', 'x'), w0, 8080, req);
    expect(d.allowed).toBe(false);
    expect(d.reasons.join('\n')).toMatch(/source: the waypoint/);
  });

  test('an HTTP field on a TCP port: ALLOW never matches, DENY matches everything', () => {
    const b = storyLike(IstioMode.SIDECAR);
    const [w0, w1] = workloadEndpoints(b.manifests);
    const withMethods = JSON.parse(JSON.stringify(b.manifests));
    const ap = withMethods.find((m: any) => m.kind === 'AuthorizationPolicy' && m.metadata.name === 'w1');
    ap.spec.rules[0].to[0].operation.methods = ['GET'];
    expect(ask(withMethods, IstioMode.SIDECAR, w0, w1, 5432).allowed).toBe(false);
    const denyAll = [...JSON.parse(JSON.stringify(b.manifests)), { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'deny-get', namespace: 'alpha' }, spec: { action: 'DENY', rules: [{ to: [{ operation: { methods: ['GET'] } }] }] } }];
    expect(ask(denyAll, IstioMode.SIDECAR, w0, w1, 5432).allowed).toBe(false);
  });
});
