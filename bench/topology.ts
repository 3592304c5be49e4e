/**
 * The synthetic topology of the benchmark and the three ways to build it: with this library, with
 * cdk8s-plus-27's `connections` API, and as plain cdk8s ApiObjects written by hand.
 *
 * W workloads spread round-robin over 4 namespaces, one TCP port each, E random distinct
 * workload-to-workload edges (any namespace to any namespace). Only plain TCP ports and
 * workload peers, so every backend accepts it.
 */
import { ApiObject, App, Chart, JsonPatch } from 'cdk8s';
import * as plus from 'cdk8s-plus-27';
import { Enforcement, Mesh, Port, SecureWorkload, ZeroTrustChart } from '../lib';

/** One workload of the topology. */
export interface BenchWorkload {
  readonly namespace: string;
  readonly name: string;
  readonly port: number;
}

/** One edge: `from` may open connections to `to` on `to`'s port. Indexes into `workloads`. */
export interface BenchEdge {
  readonly from: number;
  readonly to: number;
}

/** A topology: workloads and distinct directed edges. */
export interface Topology {
  readonly namespaces: string[];
  readonly workloads: BenchWorkload[];
  readonly edges: BenchEdge[];
}

/** mulberry32: a small seeded PRNG, so every run builds the same topology. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The benchmark topology for W workloads and E edges (seeded; the same W/E give the same topology). */
export function topology(w: number, e: number, seed = 1, namespaceCount = 4): Topology {
  if (e > w * (w - 1)) throw new Error(`${e} distinct edges do not fit ${w} workloads`);
  const namespaces = Array.from({ length: namespaceCount }, (_, i) => `bench-${i}`);
  const workloads: BenchWorkload[] = [];
  for (let i = 0; i < w; i++) {
    workloads.push({ namespace: namespaces[i % namespaceCount], name: `w${String(i).padStart(5, '0')}`, port: 8000 + (i % 1000) });
  }
  const rnd = prng(seed);
  const seen = new Set<number>();
  const edges: BenchEdge[] = [];
  while (edges.length < e) {
    const from = Math.floor(rnd() * w);
    const to = Math.floor(rnd() * w);
    if (from === to) continue;
    const key = from * w + to;
    if (seen.has(key)) continue;
    seen.add(key);
    edges.push({ from, to });
  }
  return { namespaces, workloads, edges };
}

/**
 * Builds the topology with this library: one ZeroTrustChart per namespace, one SecureWorkload
 * per workload, one `allowFrom` per edge. `suffix` renames namespaces so several backends can
 * share one app (`bench-0-istio`).
 */
export function buildZeroTrust(app: App, topo: Topology, mesh: Mesh, suffix = '', enforcement?: Enforcement): void {
  const charts = new Map<string, ZeroTrustChart>();
  for (const ns of topo.namespaces) {
    charts.set(ns, new ZeroTrustChart(app, `${ns}${suffix}`, { namespace: `${ns}${suffix}`, mesh, ...(enforcement ? { enforcement } : {}) }));
  }
  const secure = topo.workloads.map((w) => new SecureWorkload(charts.get(w.namespace)!, w.name, {
    image: 'registry.example.com/bench:1.0',
    ports: [Port.tcp(w.port, 'app')],
  }));
  for (const e of topo.edges) secure[e.to].allowFrom(secure[e.from]);
}

/**
 * The same topology with cdk8s-plus-27: a Namespace, ServiceAccount, Deployment and Service per
 * workload as cdk8s-plus creates them, one `connections.allowFrom` per edge (cdk8s-plus emits
 * an ingress policy on the destination and an egress policy on the source), and a deny-all
 * policy per namespace.
 */
export function buildCdk8sPlus(app: App, topo: Topology): void {
  const charts = new Map<string, Chart>();
  for (const ns of topo.namespaces) {
    const chart = new Chart(app, ns, { namespace: ns, disableResourceNameHashes: true });
    new plus.Namespace(chart, 'Namespace', { metadata: { name: ns } });
    new plus.NetworkPolicy(chart, 'default-deny', {
      selector: plus.Pods.all(chart, 'all'),
      egress: { default: plus.NetworkPolicyTrafficDefault.DENY },
      ingress: { default: plus.NetworkPolicyTrafficDefault.DENY },
    });
    charts.set(ns, chart);
  }
  const deployments = topo.workloads.map((w) => {
    const chart = charts.get(w.namespace)!;
    const sa = new plus.ServiceAccount(chart, `${w.name}-sa`, { metadata: { name: w.name }, automountToken: false });
    const d = new plus.Deployment(chart, w.name, {
      metadata: { name: w.name },
      serviceAccount: sa,
      automountServiceAccountToken: false,
      containers: [{ name: w.name, image: 'registry.example.com/bench:1.0', ports: [{ number: w.port, name: 'app' }] }],
    });
    d.exposeViaService({ name: w.name });
    return d;
  });
  for (const e of topo.edges) deployments[e.to].connections.allowFrom(deployments[e.from]);
}

const MANAGED = { 'app.kubernetes.io/managed-by': 'cdk8s-zero-trust' };
const NAME = 'app.kubernetes.io/name';

/**
 * The minimal object set, written by hand as plain ApiObjects: the objects the NetworkPolicy
 * backend emits for this topology (Namespace; ServiceAccount, Service, Deployment per workload;
 * default deny and DNS per namespace; one ingress policy per destination and one egress policy
 * per source, with the allows annotation), computed with maps in one pass, no intent layer.
 */
export function buildPlain(app: App, topo: Topology): void {
  const { workloads } = topo;
  const inbound = new Map<number, number[]>();
  const outbound = new Map<number, number[]>();
  for (const e of topo.edges) {
    (inbound.get(e.to) ?? inbound.set(e.to, []).get(e.to)!).push(e.from);
    (outbound.get(e.from) ?? outbound.set(e.from, []).get(e.from)!).push(e.to);
  }
  const key = (i: number) => `${workloads[i].namespace}/${workloads[i].name}`;
  const describe = (from: number, to: number) => `${key(from)} -> ${key(to)} on ${workloads[to].port}/TCP`;
  // Workloads of one namespace are one peer: matchLabels for one, `In` for several; sorted by JSON text.
  const peers = (list: number[], ns: string) => {
    const byNs = new Map<string, string[]>();
    for (const i of list) (byNs.get(workloads[i].namespace) ?? byNs.set(workloads[i].namespace, []).get(workloads[i].namespace)!).push(workloads[i].name);
    return [...byNs.entries()].map(([peerNs, names]) => ({
      ...(peerNs === ns ? {} : { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': peerNs } } }),
      podSelector: names.length === 1 ? { matchLabels: { [NAME]: names[0] } } : { matchExpressions: [{ key: NAME, operator: 'In', values: names.sort((a, b) => a.localeCompare(b)) }] },
    })).map((p) => [JSON.stringify(p), p] as const).sort(([a], [b]) => a.localeCompare(b)).map(([, p]) => p);
  };
  const np = (chart: Chart, ns: string, name: string, allows: string[], spec: any) => new ApiObject(chart, `NetworkPolicy-${name}`, {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace: ns, labels: { ...MANAGED }, annotations: { 'zero-trust.cdk8s.io/allows': allows.sort().join('\n') } },
    spec,
  });

  const charts = new Map<string, Chart>();
  for (const ns of topo.namespaces) {
    const chart = new Chart(app, ns, { namespace: ns, disableResourceNameHashes: true });
    charts.set(ns, chart);
    new ApiObject(chart, 'Namespace', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { ...MANAGED } } })
      .addJsonPatch(JsonPatch.remove('/metadata/namespace'));
  }
  const byNamespace = new Map<string, number[]>();
  workloads.forEach((w, i) => (byNamespace.get(w.namespace) ?? byNamespace.set(w.namespace, []).get(w.namespace)!).push(i));
  for (const [i, w] of workloads.entries()) {
    const chart = charts.get(w.namespace)!;
    const meta = { name: w.name, namespace: w.namespace, labels: { [NAME]: w.name, ...MANAGED } };
    new ApiObject(chart, `${w.name}-ServiceAccount`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta, automountServiceAccountToken: false });
    new ApiObject(chart, `${w.name}-Service`, {
      apiVersion: 'v1', kind: 'Service', metadata: meta,
      spec: { selector: { [NAME]: w.name }, ports: [{ name: 'app', port: w.port, targetPort: w.port, protocol: 'TCP', appProtocol: 'tcp' }] },
    });
    new ApiObject(chart, `${w.name}-Deployment`, {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta,
      spec: {
        replicas: 1,
        selector: { matchLabels: { [NAME]: w.name } },
        template: {
          metadata: { labels: { [NAME]: w.name } },
          spec: {
            serviceAccountName: w.name,
            automountServiceAccountToken: false,
            containers: [{
              name: w.name, image: 'registry.example.com/bench:1.0',
              ports: [{ name: 'app', containerPort: w.port, protocol: 'TCP' }], securityContext: { allowPrivilegeEscalation: false },
            }],
          },
        },
      },
    });
    void i;
  }
  for (const ns of topo.namespaces) {
    const chart = charts.get(ns)!;
    np(chart, ns, 'default-deny', ['everything is denied unless another policy allows it'], { podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    np(chart, ns, 'allow-dns', ['every pod -> cluster DNS on 53/UDP, 53/TCP'], {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [{
        to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
        ports: [{ port: 53, protocol: 'UDP' }, { port: 53 }],
      }],
    });
    for (const i of byNamespace.get(ns) ?? []) {
      const w = workloads[i];
      const from = inbound.get(i);
      if (from) {
        np(chart, ns, `${w.name}-ingress`, from.map((f) => describe(f, i)), {
          podSelector: { matchLabels: { [NAME]: w.name } },
          policyTypes: ['Ingress'],
          ingress: [{ from: peers(from, ns), ports: [{ port: w.port }] }],
        });
      }
      const to = outbound.get(i);
      if (to) {
        // One rule per destination port, peers sorted, rules sorted by port.
        const byPort = new Map<number, number[]>();
        for (const t of to) (byPort.get(workloads[t].port) ?? byPort.set(workloads[t].port, []).get(workloads[t].port)!).push(t);
        np(chart, ns, `${w.name}-egress`, to.map((t) => describe(i, t)), {
          podSelector: { matchLabels: { [NAME]: w.name } },
          policyTypes: ['Egress'],
          egress: [...byPort.entries()].sort(([a], [b]) => a - b)
            .map(([port, ts]) => ({ to: peers(ts, ns), ports: [{ port }] })),
        });
      }
    }
  }
}
