/**
 * Istio: edited or widened manifests are caught by the reader. The random-topology property
 * (reader(synth(intent)) == intent) now lives in test/backends-property.test.ts with the shared
 * generator and expected semantics.
 */
import { Testing } from 'cdk8s';
import { IstioMode, Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { HttpRule } from '../lib/intent/rules';
import { IstioEvaluator } from '../lib/verify/istio';
import { Endpoint, Manifest } from '../lib/verify/types';
import { foreignPod, workloadEndpoints } from './support/istio-endpoints';
import { synthApp } from './support/synth';

const NAMESPACES = ['alpha', 'beta'];
const RANGES = [{ cidr: '198.51.100.0/24', except: ['198.51.100.128/25'] }, { cidr: '203.0.113.0/24', except: [] as string[] }];
const HTTP_RULES: HttpRule[] = [{ methods: ['GET'], paths: ['/api/*'] }, { methods: ['POST'] }, { paths: ['/healthz'] }];

interface WorkloadPlan { ns: number; http: boolean; tcp: boolean }
type SourcePlan = { kind: 'workload'; index: number } | { kind: 'namespace' } | { kind: 'external' } | { kind: 'range'; index: number };
interface FlowPlan { source: SourcePlan; dest: number; port: 'http' | 'tcp' | 'all'; http?: number[] }

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

  test.each([IstioMode.SIDECAR, IstioMode.AMBIENT])('%s: dropping the ports, a principal wildcard, PERMISSIVE, or deleting allow-nothing and the ALLOW policy (each with its DENY twin)', (mode) => {
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

    // Each ALLOW policy's DENY twin refuses what it does not admit, so widening the ALLOW alone opens nothing;
    // the edits below widen it and drop its twin.
    const untwinned = (ms: any[], name: string) => ms.filter((m) => !(m.kind === 'AuthorizationPolicy' && m.metadata.name === `${name}-deny`));
    const noPortsKept = edit((m) => { if (m.kind === 'AuthorizationPolicy' && m.metadata.name === 'w1') delete m.spec.rules[0].to; });
    expect(ask(noPortsKept.filter((m: any) => m.kind !== 'Sidecar'), mode, w0, w1, 9999).reasons.join('\n')).toMatch(/w1-deny \(DENY\) matches/);
    const noPorts = untwinned(noPortsKept, 'w1');
    if (mode === IstioMode.SIDECAR) {
      // The source's Sidecar (REGISTRY_ONLY) still knows no Service on 9999; dropping it too is caught.
      expect(ask(noPorts, mode, w0, w1, 9999).reasons.join('\n')).toMatch(/REGISTRY_ONLY and no imported Service/);
      expect(ask(noPorts.filter((m: any) => m.kind !== 'Sidecar'), mode, w0, w1, 9999).allowed).toBe(true);
    } else {
      expect(ask(noPorts, mode, w0, w1, 9999).allowed).toBe(true);
    }

    const wildcard = untwinned(edit((m) => { if (m.kind === 'AuthorizationPolicy' && m.metadata.name === 'w1') m.spec.rules[0].from[0].source.principals = ['*']; }), 'w1');
    // A mesh pod of another namespace (no Sidecar there) now gets in.
    expect(ask(b.manifests, mode, foreignPod('ext-ns', 'x'), w1, 5432).allowed).toBe(false);
    expect(ask(wildcard, mode, foreignPod('ext-ns', 'x'), w1, 5432).allowed).toBe(true);

    const permissive = edit((m) => { if (m.kind === 'PeerAuthentication') m.spec.mtls.mode = 'PERMISSIVE'; if (m.kind === 'AuthorizationPolicy' && m.metadata.name === 'w1') m.spec = {}; });
    const removed = permissive.filter((m: any) => !(m.kind === 'AuthorizationPolicy' && ['allow-nothing', 'w1', 'w1-deny'].includes(m.metadata.name)));
    expect(ask(removed, mode, foreignPod('outside', 'x'), w1, 5432).allowed).toBe(true);

    const l7 = mode === IstioMode.SIDECAR ? 'w0' : 'w0-l7';
    const anyMethod = untwinned(edit((m) => { if (m.kind === 'AuthorizationPolicy' && m.metadata.name === l7) for (const r of m.spec.rules) for (const t of r.to) delete t.operation.methods; }), l7);
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
