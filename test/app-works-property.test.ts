/**
 * Issue 18, Proof: beyond "connections == intent", the app works. For the story and random
 * multi-chart apps with kubelet probes, on every backend, read back with the backend's reader:
 *
 * - every httpGet probe a pod template declares passes as the kubelet sends it on that backend
 *   (Istio sidecar: rewritten to pilot-agent's 15020; ambient: SNAT to 169.254.7.127, through the
 *   NetworkPolicy layer; Linkerd: from the probe networks with kubelet's User-Agent, to exactly
 *   the declared path). NetworkPolicy never restricts a node's traffic to its own pods, so on
 *   plain NetworkPolicy, Cilium (host traffic allowed by default) and NSM nothing above it could
 *   refuse the probe; Kuma: rewritten to kuma-dp's application probe proxy (9001), outside mTLS;
 * - every pod reaches cluster DNS on 53/UDP and 53/TCP, so every declared destination's Service
 *   name resolves; on Cilium, its DNS proxy answers the destination's Service name and the
 *   search-list candidates `ndots:5` makes of it;
 * - every meshed pod reaches its mesh's control plane (istiod 15012, Linkerd 8086/8080/8090,
 *   kuma-cp 5678);
 * - a mesh-wide allow in the mesh's system namespace (Kuma: a MeshTrafficPermission from `Mesh`;
 *   Istio: an ALLOW-all AuthorizationPolicy in istio-system) does not widen any flow.
 */
import { App, Testing } from 'cdk8s';
import * as fc from 'fast-check';
import { IstioMode, Mesh, Port, Probe, SecureWorkload, ZeroTrustChart } from '../lib';
import { heroAndLilDeeBee } from '../apps/story';
import { ZeroTrustSynthesis } from '../lib/intent/synthesis';
import { ZeroTrustModel } from '../lib/intent/model';
import { BackendId } from '../lib/intent/backend';
import { CiliumPolicyEvaluator } from '../lib/verify/cilium';
import { inventory } from '../lib/verify/inventory';
import { NetworkPolicyEvaluator } from '../lib/verify/networkpolicy';
import { readerFor } from '../lib/verify/readers';
import { probeUniverse, queries } from '../lib/verify/universe';
import { intentProbes } from '../lib/verify/expected';
import { Endpoint, PolicyEvaluator, Query } from '../lib/verify/types';
import { synthApp } from './support/synth';

const RUNS = Number(process.env.ZT_PROPERTY_RUNS ?? 12);
const SEED = Number(process.env.ZT_PROPERTY_SEED ?? 20261207);
const NODE_NETWORK = '10.0.0.0/16';
const NODE: Endpoint = { id: 'ip:10.0.3.4', kind: 'ip', ip: '10.0.3.4' };
const AMBIENT_PROBE: Endpoint = { id: 'ip:169.254.7.127', kind: 'ip', ip: '169.254.7.127' };

interface Case { readonly id: BackendId; readonly mesh: () => Mesh }
const CASES: Case[] = [
  { id: 'networkpolicy', mesh: () => Mesh.networkPolicy() },
  { id: 'istio', mesh: () => Mesh.istio() },
  { id: 'istio-ambient', mesh: () => Mesh.istio({ mode: IstioMode.AMBIENT }) },
  { id: 'linkerd', mesh: () => Mesh.linkerd({ probeNetworks: [NODE_NETWORK] }) },
  { id: 'cilium', mesh: () => Mesh.cilium() },
  { id: 'kuma', mesh: () => Mesh.kuma() },
  { id: 'nsm', mesh: () => Mesh.networkServiceMesh() },
];

const pod = (namespace: string, labels: { [k: string]: string }, serviceAccount: string, name: string): Endpoint => ({
  id: `${namespace}/${name}`, kind: 'pod', namespace, labels, serviceAccount, namespaceLabels: { 'kubernetes.io/metadata.name': namespace }, annotations: {}, workload: name,
} as Endpoint);
const KUBE_DNS = pod('kube-system', { 'k8s-app': 'kube-dns' }, 'coredns', 'kube-dns');
/** The control plane each meshed pod must reach, per backend. */
const CONTROL_PLANE: { [id in BackendId]?: Array<{ endpoint: Endpoint; ports: number[] }> } = {
  'istio': [{ endpoint: pod('istio-system', { app: 'istiod' }, 'istiod', 'istiod'), ports: [15012] }],
  'linkerd': [{ endpoint: pod('linkerd', { 'linkerd.io/control-plane-ns': 'linkerd' }, 'linkerd-destination', 'linkerd-destination'), ports: [8080, 8086, 8090] }],
  'kuma': [{ endpoint: pod('kuma-system', { app: 'kuma-control-plane' }, 'kuma-control-plane', 'kuma-control-plane'), ports: [5678] }],
};

/** A random app: 1-3 charts, workloads with an HTTP and/or a TCP port, some with probes, flows between them. */
interface AppSpec {
  readonly charts: number;
  readonly workloads: Array<{ chart: number; tcp: boolean; probe?: string }>;
  readonly flows: Array<{ from: number; to: number }>;
}
const appArb: fc.Arbitrary<AppSpec> = fc.integer({ min: 1, max: 3 }).chain((charts) => fc.record({
  charts: fc.constant(charts),
  workloads: fc.array(fc.record({
    chart: fc.nat(charts - 1), tcp: fc.boolean(),
    probe: fc.option(fc.constantFrom('/ready', '/healthz', '/actuator/health/readiness'), { nil: undefined }),
  }), { minLength: 2, maxLength: 5 }),
  flows: fc.array(fc.record({ from: fc.nat(4), to: fc.nat(4) }), { maxLength: 6 }),
}));

function buildRandom(spec: AppSpec, mesh: () => Mesh): App {
  const app = Testing.app();
  const charts = [...Array(spec.charts).keys()].map((i) => new ZeroTrustChart(app, `ns-${i}`, { namespace: `ns-${i}`, mesh: mesh() }));
  const ws = spec.workloads.map((w, i) => new SecureWorkload(charts[w.chart], `w${i}`, {
    image: `w${i}`, ports: [Port.http(8080), ...(w.tcp ? [Port.tcp(5432)] : [])],
    ...(w.probe ? { readiness: Probe.fromHttpGet(w.probe) } : {}),
  }));
  for (const f of spec.flows) {
    const from = ws[f.from % ws.length];
    const to = ws[f.to % ws.length];
    if (from !== to) to.allowFrom(from);
  }
  return app;
}

function buildStory(mesh: () => Mesh): App {
  const app = Testing.app();
  const prod = heroAndLilDeeBee(app, mesh());
  // A second chart with probes, reaching Hero across namespaces.
  const shop = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: mesh() });
  const web = new SecureWorkload(shop, 'web', { image: 'web', ports: [Port.http(8080)], readiness: Probe.fromHttpGet('/ready'), liveness: Probe.fromHttpGet('/live') });
  const hero = prod.workloads.find((w) => w.name === 'hero')!;
  hero.allowFrom(web, { ports: [Port.http(8080)] });
  return app;
}

/** The kubelet's probe as it reaches the pod on this backend, and the reader that decides it; undefined where only the node exemption applies. */
function kubeletProbe(id: BackendId, objects: any[], target: Endpoint, port: number, path: string): { reader: PolicyEvaluator; query: Query } | undefined {
  const http = { method: 'GET', path, headers: { 'User-Agent': 'kube-probe/1.30' } };
  switch (id) {
    // The injector rewrites httpGet probes to pilot-agent (15020 /app-health/...), which the sidecar does not capture.
    case 'istio': return { reader: readerFor(objects, { backend: id, networkLayer: false }), query: { source: NODE, destination: target, port: 15020, protocol: 'TCP' } };
    // Ambient SNATs the probe to 169.254.7.127, which NetworkPolicy sees (no node exemption).
    case 'istio-ambient': return { reader: readerFor(objects, { backend: id }), query: { source: AMBIENT_PROBE, destination: target, port, protocol: 'TCP' } };
    // From the node (NetworkPolicy exempts it): Linkerd's policy alone decides.
    case 'linkerd': return { reader: readerFor(objects, { backend: id, networkLayer: false }), query: { source: NODE, destination: target, port, protocol: 'TCP', http } as Query };
    // The injector rewrites httpGet probes to kuma-dp's application probe proxy (9001), which the transparent proxy does not redirect.
    case 'kuma': return { reader: readerFor(objects, { backend: id, networkLayer: false }), query: { source: NODE, destination: target, port: 9001, protocol: 'TCP' } };
    default: return undefined;
  }
}

/** The app's objects and model. */
function synthesize(app: App): { objects: any[]; model: ZeroTrustModel } {
  const objects = synthApp(app);
  return { objects, model: ZeroTrustSynthesis._of(app)._run().model! };
}

/** Every "app works" property of one synthesized app; returns how many checks passed. */
function appWorks(id: BackendId, objects: any[], model: ZeroTrustModel): number {
  let checks = 0;
  const reader = readerFor(objects, { backend: id });
  const network = new NetworkPolicyEvaluator(objects);
  const pods = inventory(objects).workloads.filter((p) => p.workload !== undefined);
  const podOf = (ns: string, name: string) => pods.find((p) => p.namespace === ns && p.labels?.['app.kubernetes.io/name'] === name)!;
  const fail = (what: string, q: Query, r: PolicyEvaluator) => new Error(`[${id}] ${what}: ${q.source.id} -> ${q.destination.id}:${q.port}/${q.protocol}${(q as any).http ? ` ${(q as any).http.path}` : ''} denied: ${r.evaluate(q).reasons.join('; ')}`);
  for (const w of model.workloads) {
    const target = podOf(w.namespace, w.name);
    // Probes.
    for (const probe of w.probes ?? []) {
      const k = kubeletProbe(id, objects, target, probe.port, probe.path);
      if (!k) continue;
      if (!k.reader.evaluate(k.query).allowed) throw fail(`kubelet probe ${probe.path}`, k.query, k.reader);
      checks++;
      // Not vacuous: on Linkerd, where the path decides, a path the pod does not probe stays closed to the node.
      if (id === 'linkerd' && k.reader.evaluate({ ...k.query, http: { method: 'GET', path: '/not-a-probe', headers: { 'User-Agent': 'kube-probe/1.30' } } } as Query).allowed) {
        throw new Error(`[linkerd] ${w.namespace}/${w.name}: the node reaches /not-a-probe`);
      }
    }
    // DNS: the server, and (Cilium) its proxy's answer for every declared destination.
    // Kuma: UDP only (kuma-dp's DNS proxy answers it); TCP DNS to kube-dns would need MeshPassthrough (see the report).
    for (const protocol of id === 'kuma' ? ['UDP'] as const : ['UDP', 'TCP'] as const) {
      const q: Query = { source: target, destination: KUBE_DNS, port: 53, protocol };
      if (!reader.evaluate(q).allowed) throw fail('cluster DNS', q, reader);
      checks++;
      if (reader.evaluate({ ...q, port: 54 }).allowed) throw new Error(`[${id}] ${target.id} reaches kube-dns on 54/${protocol}`);
    }
    const destinations = model.flows.filter((f) => f.source.type === 'workload' && f.source.workload === w && f.destination.type === 'workload').map((f) => (f.destination as any).workload);
    if (id === 'cilium') {
      const cilium = new CiliumPolicyEvaluator(objects);
      for (const d of destinations) {
        const name = `${d.name}.${d.namespace}.svc.cluster.local`;
        for (const candidate of [name, `${d.name}.${d.namespace}`, `${d.name}.${d.namespace}.${w.namespace}.svc.cluster.local`]) {
          if (!cilium.resolves(target, candidate)) throw new Error(`[cilium] ${w.namespace}/${w.name}: the DNS proxy refuses ${candidate}`);
          checks++;
        }
      }
    }
    // Every declared destination is reached on its declared ports (the connection a resolved name leads to).
    for (const f of model.flows.filter((x) => x.source.type === 'workload' && x.source.workload === w && x.destination.type === 'workload')) {
      const d = (f.destination as any).workload;
      for (const p of f.ports) {
        const q: Query = { source: target, destination: podOf(d.namespace, d.name), port: p.number, protocol: p.protocol as 'TCP' | 'UDP' };
        if (!reader.evaluate(q).allowed) throw fail(`declared flow ${f.declaredAt}`, q, reader);
        checks++;
      }
    }
    // Control plane: the proxy's own connection, which its mesh does not intercept (istio-proxy runs
    // as 1337, linkerd-proxy as 2102, kuma-dp is excluded): only the NetworkPolicy layer decides.
    for (const cp of CONTROL_PLANE[id] ?? []) {
      for (const port of cp.ports) {
        const q: Query = { source: target, destination: cp.endpoint, port, protocol: 'TCP' };
        if (!network.evaluate(q).allowed) throw fail('mesh control plane', q, network);
        checks++;
        if (network.evaluate({ ...q, port: port + 1000 }).allowed) throw new Error(`[${id}] ${target.id} reaches ${cp.endpoint.id} on ${port + 1000}, beyond the control plane's ports`);
      }
    }
  }
  return checks;
}

/** Kuma's mesh-wide allow, as Kuma creates it for meshes made without skipCreatingInitialPolicies. */
const KUMA_ALLOW_ALL = {
  apiVersion: 'kuma.io/v1alpha1', kind: 'MeshTrafficPermission',
  metadata: { name: 'allow-all', namespace: 'kuma-system', labels: { 'kuma.io/mesh': 'default' } },
  spec: { targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }] },
};

/** Queries of the probe universe allowed by the reader of `objects`. */
function allowedSet(id: BackendId, objects: any[], model: ZeroTrustModel, extra: any[], withHttp = true): Set<string> {
  const probes = intentProbes(model);
  const universe = probeUniverse(objects, probes.endpoints, probes.ports, probes.requests);
  const reader = readerFor([...objects, ...extra], { backend: id });
  const out = new Set<string>();
  for (const q of queries(universe)) {
    if (!withHttp && (q as any).http) continue;
    if (reader.evaluate(q).allowed) out.add(`${q.source.id}>${q.destination.id}:${q.port}/${q.protocol}${(q as any).http ? ` ${(q as any).http.method} ${(q as any).http.path}` : ''}`);
  }
  return out;
}

describe.each(CASES.map((c) => [c.id, c] as const))('the app works: %s', (_id, c) => {
  test('the story with a second chart', () => {
    const { objects, model } = synthesize(buildStory(c.mesh));
    expect(appWorks(c.id, objects, model)).toBeGreaterThan(5);
  });

  test('random multi-chart apps', () => {
    let checks = 0;
    let probed = 0;
    fc.assert(fc.property(appArb, (spec) => {
      const { objects, model } = synthesize(buildRandom(spec, c.mesh));
      checks += appWorks(c.id, objects, model);
      probed += model.workloads.filter((w) => (w.probes ?? []).length > 0).length;
    }), { numRuns: RUNS, seed: SEED, endOnFailure: true });
    expect(checks).toBeGreaterThan(RUNS);
    expect(probed).toBeGreaterThan(0);
  });
});

describe('a mesh-wide allow in the mesh\'s system namespace does not widen any flow', () => {
  test('Kuma: a MeshTrafficPermission from Mesh in kuma-system', () => {
    fc.assert(fc.property(appArb, (spec) => {
      const { objects, model } = synthesize(buildRandom(spec, () => Mesh.kuma()));
      const before = allowedSet('kuma', objects, model, []);
      const after = allowedSet('kuma', objects, model, [KUMA_ALLOW_ALL]);
      expect([...after].filter((q) => !before.has(q))).toEqual([]);
      expect(after.size).toBe(before.size);
    }), { numRuns: Math.ceil(RUNS / 2), seed: SEED, endOnFailure: true });
  });

  test.each([['istio', () => Mesh.istio()], ['istio-ambient', () => Mesh.istio({ mode: IstioMode.AMBIENT })]] as const)('%s: an ALLOW-all AuthorizationPolicy in istio-system opens nothing', (id, mesh) => {
    // Requests too: each ALLOW policy has a DENY twin (test/istio-mesh-allow.test.ts has apps with HTTP rules and every kind of peer).
    const allowAll = { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'allow-all', namespace: 'istio-system' }, spec: { action: 'ALLOW', rules: [{}] } };
    fc.assert(fc.property(appArb, (spec) => {
      const { objects, model } = synthesize(buildRandom(spec, mesh));
      const before = allowedSet(id, objects, model, []);
      const after = allowedSet(id, objects, model, [allowAll]);
      expect([...after].filter((q) => !before.has(q))).toEqual([]);
      expect(after.size).toBe(before.size);
    }), { numRuns: Math.ceil(RUNS / 2), seed: SEED, endOnFailure: true });
  });
});
