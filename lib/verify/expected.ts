/**
 * What the declared intent says about a query, under the project's semantics: every pod of a
 * managed namespace (a `ZeroTrustChart`) is closed in both directions except for cluster DNS
 * (UDP/TCP 53) and the declared flows; everything else is unrestricted in its own direction.
 *
 * HTTP: a query that carries a request (`http`) is admitted by a flow only if the flow has no HTTP
 * rules or one of them matches the method and path (`httpRuleMatches`). A query without a request
 * asks whether a connection can be opened at all, which a flow with HTTP rules admits (the mesh
 * then filters its requests).
 *
 * Backends that deliberately enforce something other than the intent, and say so in their docs,
 * are described by the named deviation options of `IntentOptions` (`backendIntentOptions(backend)`
 * gives each backend's); without them the semantics are the plain NetworkPolicy ones.
 */
import { DnsSpec } from '../intent/dns';
import { EndpointModel, FlowModel, NAME_LABEL, ZeroTrustModel, describeFlow, isPodEndpoint } from '../intent/model';
import { httpRuleMatches } from '../intent/rules';
import { parseCidr } from '../intent/cidr';
import { endpointIp, ipInBlock } from './networkpolicy';
import { NAMESPACE_NAME_LABEL } from './inventory';
import { PROBE_LABEL, Universe, UniversePort, UniverseRequest, mergePorts, mergeRequests, probeIps, queries as allQueries } from './universe';
import { EndpointIndex, FlowPrefilter, PortSet, PrefilterScope } from './prefilter';
import { Decision, DecisionEffect, Endpoint, PolicyEvaluator, Query, decision } from './types';
import { compareEntries } from '../intent/collation';

/** Options of `intentAllows`. */
export interface IntentOptions {
  /**
   * Cluster DNS of a managed namespace (the chart's `dns`).
   * @default Dns.kubeDns() for every namespace
   */
  readonly dns?: DnsSpec | ((namespace: string) => DnsSpec);

  /**
   * Deviation (Network Service Mesh, docs/backends/nsm.md "What NSM enforces, and what it does
   * not": *Every port*, *No L7*, *Both directions*): a flow between two SecureWorkloads is an L3
   * connection, so it admits every port and protocol and any request, in both directions. Flows
   * with other peers keep the plain semantics (they stay on the primary network).
   * @default false
   */
  readonly nsmConnections?: boolean;

  /**
   * Deviation (Cilium `CiliumMutualAuth.ZTUNNEL`, docs/backends/cilium.md "Mutual authentication":
   * "an allowed peer can reach *undeclared* ports of the destination pod through HBONE"): TCP
   * between two pods of namespaces carrying this label with value `true` (the app's namespaces) is
   * seen by Cilium as HBONE 15008, so a declared flow between them admits every TCP port.
   * @default - none
   */
  readonly hboneNamespaceLabel?: string;

  /**
   * Deviation (Istio docs/backends/istio.md, Linkerd docs/backends/linkerd.md "What it does not
   * enforce", Kuma docs/backends/kuma.md: STRICT mTLS rejects plaintext): a TCP connection from a
   * pod that is not in the mesh to a pod of a managed namespace is denied even when a flow names
   * its namespace or labels. Pods of managed namespaces and of these namespaces are in the mesh.
   * Address (`ip`) sources are not pods and keep the plain semantics.
   * @default - undefined: sources are not checked for mesh membership
   */
  readonly meshedNamespaces?: readonly string[];

  /**
   * Deviation (the mesh's control plane, which every proxy must reach: Linkerd
   * `allow-linkerd-control-plane` in docs/backends/linkerd.md, Linkerd does not police egress so
   * the app container reaches it too; Istio ambient's waypoint reaching istiod, `waypoint-egress`
   * in docs/backends/istio.md): pods of a managed namespace may reach these endpoints.
   * @default []
   */
  readonly controlPlane?: readonly ControlPlaneEndpoint[];

  /**
   * Deviation (Istio ambient, docs/backends/istio.md `allow-ambient-probes`: ambient SNATs kubelet
   * probes to 169.254.7.127): addresses in these CIDRs may reach every TCP port of every pod of a
   * managed namespace.
   * @default []
   */
  readonly probeSources?: readonly string[];

  /**
   * Deviation (Linkerd, docs/backends/linkerd.md "What it does not enforce": the proxy's own ports):
   * TCP to these ports of a meshed pod (managed namespaces and `meshedNamespaces`) is refused by
   * its proxy, whatever the flows say.
   * @default []
   */
  readonly proxyPorts?: readonly number[];

  /**
   * Deviation (Kuma, docs/backends/kuma.md: the `Mesh` has mTLS STRICT): plaintext TCP from
   * anything outside the mesh (a pod, an address) is rejected by every meshed pod, including pods
   * of `meshedNamespaces`.
   * @default false
   */
  readonly meshWideStrictMtls?: boolean;

  /**
   * Deviation (Kuma, docs/backends/kuma.md: `MtlsMode.PERMISSIVE` emits a Permissive `MeshTLS`):
   * a destination in a namespace whose chart is in `MtlsMode.PERMISSIVE` accepts plaintext from
   * outside the mesh and checks no permission on it, so `meshWideStrictMtls` and
   * `meshedNamespaces` reject nothing there: the flows alone decide.
   * @default false
   */
  readonly permissiveAdmitsPlaintext?: boolean;
  /**
   * Ports the proxy of every meshed pod serves itself, in plaintext, outside mTLS (Kuma's kuma-dp
   * metrics and probe proxy): `meshWideStrictMtls` does not reject plaintext there.
   * @default []
   */
  readonly plaintextProxyPorts?: readonly number[];

  /**
   * Deviation (Linkerd 4143, Istio ambient HBONE 15008: the NetworkPolicy layer's `meshPorts`, in
   * docs/backends/linkerd.md and docs/backends/istio.md): a flow between two pods with a TCP port
   * (the tunnel carries TCP only) also admits TCP
   * on this port to a destination outside the mesh (a meshed one's proxy refuses the port itself),
   * and when its destination is a meshed pod outside the managed namespaces
   * (`meshedNamespaces`) every TCP port: the network sees only this port, and nothing configures
   * that peer's proxy, which admits whatever port the tunnel names.
   * @default - none
   */
  readonly meshPort?: number;

  /**
   * Deviation (Istio sidecar, docs/backends/istio.md "DNS"; Kuma, docs/backends/kuma.md "What it
   * does not enforce": TCP DNS counts as traffic leaving the mesh): the proxy of a managed pod
   * drops DNS over TCP to the cluster DNS pods (REGISTRY_ONLY / passthrough None); DNS over UDP
   * stays open.
   * @default false
   */
  readonly tcpDnsBlocked?: boolean;
}

/** Pods of a mesh control plane that every managed pod may reach. */
export interface ControlPlaneEndpoint {
  readonly namespace: string;
  /** Labels the pods carry (all must match). */
  readonly labels: { [key: string]: string };
  /** TCP ports. */
  readonly ports: readonly number[];
  /**
   * Only pods of managed namespaces with these labels (mesh infrastructure such as a waypoint)
   * may reach it.
   * @default - every pod of a managed namespace
   */
  readonly sourceLabels?: { [key: string]: string };
  /**
   * Only from namespaces where some flow to one of their workloads has HTTP rules (where the
   * Istio ambient renderer deploys a waypoint).
   * @default false
   */
  readonly onlyWithHttpRules?: boolean;
  /** What it is, for reasons: `Linkerd control plane`. */
  readonly description: string;
}

const KUBE_DNS: DnsSpec = { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } };

function subset(sel: { [key: string]: string }, labels: { [key: string]: string } | undefined): boolean {
  return Object.entries(sel).every(([k, v]) => labels?.[k] === v);
}

const cidrCache = new Map<string, ReturnType<typeof parseCidr>>();
function cidr(text: string) {
  let c = cidrCache.get(text);
  if (!c) { c = parseCidr(text, 'cidr'); cidrCache.set(text, c); }
  return c;
}

/**
 * True when the endpoint model denotes the endpoint. An app workload is a pod of a workload object
 * of the manifests (`workload` set) in its namespace carrying its selector labels; probe pods never
 * are, even with the same labels (so universes must not give probes a workload's selector).
 */
export function endpointMatches(m: EndpointModel, e: Endpoint): boolean {
  switch (m.type) {
    case 'workload':
      return e.kind === 'pod' && e.namespace === m.workload.namespace && e.workload !== undefined && subset(m.workload.selector, e.labels);
    case 'external-workload':
      return e.kind === 'pod' && e.namespace === m.namespace && subset(m.labels, e.labels)
        && (m.serviceAccount === undefined || (e.serviceAccount ?? 'default') === m.serviceAccount);
    case 'namespace':
      return e.kind === 'pod' && e.namespace === m.namespace;
    case 'ip-block': {
      // A host name resolves to some address: only a block of every address surely holds it
      // (the NetworkPolicy reader agrees).
      if (e.kind === 'fqdn') return cidr(m.cidr).prefix === 0 && m.except.length === 0;
      const ip = endpointIp(e);
      return ip !== undefined && ipInBlock(ip, cidr(m.cidr), m.except.map(cidr));
    }
    case 'fqdn': {
      if (e.kind !== 'fqdn') return false;
      const host = e.host ?? e.id.replace(/^fqdn:/, '');
      return m.host.startsWith('*.') ? host.endsWith(m.host.slice(1)) && host.length > m.host.length - 1 : host === m.host;
    }
  }
}

/** True when the flow's ports admit the query (empty: every port). */
export function flowPortMatches(f: FlowModel, q: Query): boolean {
  if (f.ports.length === 0) return true;
  return f.ports.some((p) => p.protocol === q.protocol && q.port >= p.number && q.port <= (p.endPort ?? p.number));
}

function dnsMatches(dns: DnsSpec, e: Endpoint): boolean {
  if (dns.cidr) {
    const ip = endpointIp(e);
    return ip !== undefined && ipInBlock(ip, cidr(dns.cidr), []);
  }
  return e.kind === 'pod' && e.namespace === dns.namespace && subset(dns.labels ?? {}, e.labels);
}

/** What the intent says about one query, with the flows (or defaults) that decide it. */
export function intentAllows(model: ZeroTrustModel, q: Query, opts: IntentOptions = {}): Decision {
  const between = (a: Endpoint, b: Endpoint) => model.flows.filter((f) => endpointMatches(f.source, a) && endpointMatches(f.destination, b));
  return decide(model, q, opts, between(q.source, q.destination), between);
}

/**
 * The intent as a `PolicyEvaluator` (backend `intent`), caching the flows between each pair of
 * endpoints and finding them through an index of the flows by destination: the same answers as
 * `intentAllows`, fast enough for whole universes and for apps of thousands of flows.
 */
export class IntentEvaluator implements PolicyEvaluator {
  public readonly backend = 'intent';
  private readonly pairs = new WeakMap<Endpoint, WeakMap<Endpoint, FlowModel[]>>();
  private readonly index: FlowsByDestination;

  public constructor(private readonly model: ZeroTrustModel, private readonly opts: IntentOptions = {}) {
    this.index = indexByDestination(model);
  }

  public evaluate(q: Query): Decision {
    const between = (a: Endpoint, b: Endpoint) => this.between(a, b);
    return decide(this.model, q, this.opts, between(q.source, q.destination), between);
  }

  /** `evaluate(q).allowed`, without writing the reasons (for callers that explain only the exceptions). */
  public allows(q: Query): boolean {
    const between = (a: Endpoint, b: Endpoint) => this.between(a, b);
    return decide(this.model, q, this.opts, between(q.source, q.destination), between, false).allowed;
  }

  /**
   * What the intent may allow over a list of endpoints, as sets: the parties of the flows that
   * reach each endpoint (each side of each flow matched once), cluster DNS, the deviations'
   * parties (NSM pairs both ways, probe addresses, control planes); every port of a flow's pair
   * when a deviation widens it (HBONE, a mesh port).
   */
  public prefilter(scope: PrefilterScope): FlowPrefilter {
    return new IntentPrefilter(this.model, this.opts, scope);
  }

  /** The flows whose source matches `a` and destination matches `b` (any port), in model order. */
  public flowsBetween(a: Endpoint, b: Endpoint): FlowModel[] {
    return this.between(a, b);
  }

  private between(a: Endpoint, b: Endpoint): FlowModel[] {
    let bySource = this.pairs.get(a);
    if (!bySource) { bySource = new WeakMap(); this.pairs.set(a, bySource); }
    let flows = bySource.get(b);
    if (!flows) {
      flows = candidatesTo(this.index, b).filter((f) => endpointMatches(f.source, a) && endpointMatches(f.destination, b));
      bySource.set(b, flows);
    }
    return flows;
  }
}

/** Flows by what their destination can match, each list in model order. */
interface FlowsByDestination {
  readonly order: Map<FlowModel, number>;
  /** Workload destinations selected by name: `namespace NUL name`. */
  readonly byWorkload: Map<string, FlowModel[]>;
  /** Other pod destinations (workloads selected otherwise, external workloads, namespaces), by namespace. */
  readonly byNamespace: Map<string, FlowModel[]>;
  readonly ipBlocks: FlowModel[];
  readonly hosts: FlowModel[];
}

function indexByDestination(model: ZeroTrustModel): FlowsByDestination {
  const index: FlowsByDestination = { order: new Map(), byWorkload: new Map(), byNamespace: new Map(), ipBlocks: [], hosts: [] };
  const push = (m: Map<string, FlowModel[]>, k: string, f: FlowModel) => {
    const list = m.get(k);
    if (list) list.push(f);
    else m.set(k, [f]);
  };
  model.flows.forEach((f, i) => {
    index.order.set(f, i);
    const d = f.destination;
    switch (d.type) {
      case 'workload': {
        const name = d.workload.selector[NAME_LABEL];
        if (name !== undefined) push(index.byWorkload, `${d.workload.namespace}\0${name}`, f);
        else push(index.byNamespace, d.workload.namespace, f);
        break;
      }
      case 'external-workload':
      case 'namespace': push(index.byNamespace, d.namespace, f); break;
      case 'ip-block': index.ipBlocks.push(f); break;
      case 'fqdn': index.hosts.push(f); break;
    }
  });
  return index;
}

/** Every flow whose destination could match `e` (a superset; callers still match both ends), in model order. */
function candidatesTo(index: FlowsByDestination, e: Endpoint): FlowModel[] {
  const none: FlowModel[] = [];
  let a: FlowModel[];
  let b: FlowModel[];
  if (e.kind === 'pod') {
    const name = e.labels?.[NAME_LABEL];
    a = (name !== undefined ? index.byWorkload.get(`${e.namespace}\0${name}`) : undefined) ?? none;
    b = index.byNamespace.get(e.namespace ?? '') ?? none;
  } else if (e.kind === 'fqdn') {
    a = index.hosts;
    b = index.ipBlocks;
  } else {
    a = index.ipBlocks;
    b = none;
  }
  // Each list is in model order; merge them only when both have flows.
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  return [...a, ...b].sort((x, y) => index.order.get(x)! - index.order.get(y)!);
}

/** The ports of a flow (every port when it lists none). */
function flowPorts(f: FlowModel): PortSet {
  if (f.ports.length === 0) return PortSet.ALL;
  return PortSet.of(f.ports.map((p) => ({ protocol: p.protocol, lo: p.number, hi: p.endPort ?? p.number })));
}

/** The intent's `decide` as sets over a list of endpoints (supersets; the evaluator still decides). */
class IntentPrefilter implements FlowPrefilter {
  private readonly endpoints: readonly Endpoint[];
  private readonly index: EndpointIndex;
  private readonly managed: Set<string>;
  private readonly matched = new Map<string, Set<number>>();
  private readonly matchedByModel = new WeakMap<EndpointModel, Set<number>>();
  /** Per destination, the flows whose destination matches it. */
  private readonly flowsTo = new Map<number, FlowModel[]>();
  /** Both ends of every NSM connection, each to the other. */
  private readonly nsm = new Map<number, Set<number>>();
  /** Per destination, the managed namespaces whose cluster DNS it is. */
  private readonly dnsOf = new Map<number, string[]>();
  private readonly podsByNamespace: Map<string, number[]>;
  private readonly probeIps: number[] = [];
  private readonly unmanaged: number[] = [];

  public constructor(model: ZeroTrustModel, private readonly opts: IntentOptions, scope: PrefilterScope) {
    this.endpoints = scope.endpoints;
    this.index = new EndpointIndex(scope.endpoints);
    this.podsByNamespace = this.index.byNamespace;
    this.managed = new Set(model.namespaces.map((n) => n.name));
    for (const f of model.flows) {
      for (const d of this.match(f.destination)) (this.flowsTo.get(d) ?? this.flowsTo.set(d, []).get(d)!).push(f);
      if (opts.nsmConnections && f.source.type === 'workload' && f.destination.type === 'workload') {
        for (const a of this.match(f.source)) {
          for (const b of this.match(f.destination)) {
            (this.nsm.get(a) ?? this.nsm.set(a, new Set()).get(a)!).add(b);
            (this.nsm.get(b) ?? this.nsm.set(b, new Set()).get(b)!).add(a);
          }
        }
      }
    }
    for (const ns of this.managed) {
      const dns = typeof opts.dns === 'function' ? opts.dns(ns) : opts.dns ?? KUBE_DNS;
      const targets = dns.cidr ? this.index.ips : this.podsByNamespace.get(dns.namespace ?? '') ?? [];
      for (const d of targets) if (dnsMatches(dns, this.endpoints[d])) (this.dnsOf.get(d) ?? this.dnsOf.set(d, []).get(d)!).push(ns);
    }
    scope.endpoints.forEach((e, i) => {
      if (!this.isManaged(i) && (!scope.focus || scope.focus[i])) this.unmanaged.push(i);
      const ip = endpointIp(e);
      if (ip && (opts.probeSources ?? []).some((c) => ipInBlock(ip, cidr(c), []))) this.probeIps.push(i);
    });
  }

  public sources(d: number): Iterable<number> {
    const out: number[] = [...(this.nsm.get(d) ?? [])];
    for (const f of this.flowsTo.get(d) ?? []) out.push(...this.match(f.source));
    if (this.isManaged(d)) {
      out.push(...this.probeIps);
    } else {
      out.push(...this.unmanaged);
      for (const ns of this.dnsOf.get(d) ?? []) out.push(...this.podsByNamespace.get(ns) ?? []);
      const e = this.endpoints[d];
      for (const c of this.opts.controlPlane ?? []) {
        if (e.kind === 'pod' && e.namespace === c.namespace && subset(c.labels, e.labels)) {
          for (const ns of this.managed) out.push(...this.podsByNamespace.get(ns) ?? []);
        }
      }
    }
    return out;
  }

  /**
   * Where `ports` is exact: an NSM connection's pair (every port), and TCP from a kubelet probe
   * address to a pod of a managed namespace that no proxy-port or mesh-wide mTLS deviation
   * touches (every TCP port, any request).
   */
  public exact(s: number, d: number): PortSet {
    if (this.nsm.get(d)?.has(s)) return PortSet.ALL;
    const destination = this.endpoints[d];
    if (!this.probeIps.includes(s) || !this.isManaged(d) || destination.kind !== 'pod') return PortSet.NONE;
    if (this.opts.meshWideStrictMtls || (this.opts.proxyPorts ?? []).length > 0) return PortSet.NONE;
    return PortSet.ALL_TCP;
  }

  /** An NSM connection's pair: the same decision on every port and request, in words that name neither. */
  public uniform(s: number, d: number): PortSet {
    return this.nsm.get(d)?.has(s) ? PortSet.ALL : PortSet.NONE;
  }

  public ports(s: number, d: number): PortSet {
    if (this.nsm.get(d)?.has(s)) return PortSet.ALL;
    let flows = PortSet.NONE;
    const source = this.endpoints[s];
    const destination = this.endpoints[d];
    const pods = source.kind === 'pod' && destination.kind === 'pod';
    const opts = this.opts;
    // The deviations that widen a flow's ports, as `decide` applies them.
    const hbone = opts.hboneNamespaceLabel !== undefined && pods
      && source.namespaceLabels?.[opts.hboneNamespaceLabel] === 'true' && destination.namespaceLabels?.[opts.hboneNamespaceLabel] === 'true';
    const meshedPeer = (i: number) => this.endpoints[i].kind === 'pod' && !this.isManaged(i) && (opts.meshedNamespaces ?? []).includes(this.endpoints[i].namespace ?? '');
    const meshPort = opts.meshPort === undefined || !pods ? PortSet.NONE
      : this.isManaged(s) && meshedPeer(d) ? PortSet.ALL_TCP
        : !this.isManaged(d) && !meshedPeer(d) ? PortSet.single('TCP', opts.meshPort) : PortSet.NONE;
    for (const f of this.flowsTo.get(d) ?? []) {
      if (!this.match(f.source).has(s)) continue;
      flows = flows.union(flowPorts(f));
      if (hbone) flows = flows.union(PortSet.ALL_TCP);
      const podFlow = f.source.type !== 'ip-block' && f.source.type !== 'fqdn' && f.destination.type !== 'ip-block' && f.destination.type !== 'fqdn';
      if (podFlow) flows = flows.union(meshPort);
    }
    let egress = PortSet.ALL;
    if (this.isManaged(s)) {
      egress = flows;
      const ns = this.endpoints[s].namespace!;
      if ((this.dnsOf.get(d) ?? []).includes(ns)) egress = egress.union(this.opts.tcpDnsBlocked ? PortSet.single('UDP', 53) : PortSet.of([{ protocol: 'TCP', lo: 53 }, { protocol: 'UDP', lo: 53 }]));
      const e = this.endpoints[d];
      for (const c of this.opts.controlPlane ?? []) {
        if (e.kind === 'pod' && e.namespace === c.namespace && subset(c.labels, e.labels)) egress = egress.union(PortSet.of(c.ports.map((n) => ({ protocol: 'TCP', lo: n }))));
      }
    }
    if (egress.empty || !this.isManaged(d)) return egress;
    const ingress = this.probeIps.includes(s) ? flows.union(PortSet.ALL_TCP) : flows;
    return egress.intersect(ingress);
  }

  private isManaged(i: number): boolean {
    const e = this.endpoints[i];
    return e.kind === 'pod' && this.managed.has(e.namespace ?? '');
  }

  /** The endpoints an end of a flow matches (each distinct end matched once). */
  private match(m: EndpointModel): Set<number> {
    const known = this.matchedByModel.get(m);
    if (known) return known;
    const key = JSON.stringify(m);
    let set = this.matched.get(key);
    if (!set) {
      let candidates: readonly number[];
      switch (m.type) {
        case 'workload': {
          const name = m.workload.selector[NAME_LABEL];
          candidates = this.index.candidates(name !== undefined ? { matchLabels: { [NAME_LABEL]: name } } : {}, m.workload.namespace);
          break;
        }
        case 'external-workload': candidates = this.index.candidates({ matchLabels: m.labels }, m.namespace); break;
        case 'namespace': candidates = this.podsByNamespace.get(m.namespace) ?? []; break;
        case 'ip-block': candidates = [...this.index.ips, ...this.index.fqdns]; break;
        case 'fqdn': candidates = this.index.fqdns; break;
      }
      set = new Set(candidates.filter((i) => endpointMatches(m, this.endpoints[i])));
      this.matched.set(key, set);
    }
    this.matchedByModel.set(m, set);
    return set;
  }
}

const MANAGED_NAMESPACES = new WeakMap<ZeroTrustModel, Set<string>>();

/** The names of the model's namespaces (made once per model: every query asks). */
function managedNamespaces(model: ZeroTrustModel): Set<string> {
  let set = MANAGED_NAMESPACES.get(model);
  if (!set) {
    set = new Set(model.namespaces.map((n) => n.name));
    MANAGED_NAMESPACES.set(model, set);
  }
  return set;
}

const HTTP_NAMESPACES = new WeakMap<ZeroTrustModel, Set<string>>();

/** Namespaces where some flow to one of their workloads has HTTP rules. */
function namespacesWithHttpRules(model: ZeroTrustModel): Set<string> {
  let set = HTTP_NAMESPACES.get(model);
  if (!set) {
    set = new Set(model.flows.filter((f) => f.http.length > 0 && f.destination.type === 'workload').map((f) => (f.destination as { workload: { namespace: string } }).workload.namespace));
    HTTP_NAMESPACES.set(model, set);
  }
  return set;
}

/** True when the flow admits the query's request (no rules, no request, or a matching rule). */
export function flowHttpMatches(f: FlowModel, q: Query): boolean {
  if (!q.http || f.http.length === 0) return true;
  return f.http.some((r) => httpRuleMatches(r, q.http!.method, q.http!.path));
}

function describeRequest(q: Query): string {
  return q.http ? ` (${q.http.method} ${q.http.path})` : '';
}

/**
 * Decides a query given the flows whose two ends match it (ports not yet checked) and a way to
 * find the flows between any two endpoints.
 */
function decide(model: ZeroTrustModel, q: Query, opts: IntentOptions, candidates: FlowModel[], between: (a: Endpoint, b: Endpoint) => FlowModel[], explain = true): Decision {
  const managedNames = managedNamespaces(model);
  const managed = (e: Endpoint) => e.kind === 'pod' && managedNames.has(e.namespace ?? '');
  const conn = () => `${q.source.id} -> ${q.destination.id} on ${q.port}/${q.protocol}${describeRequest(q)}`;

  // Deviation: NSM connections (both directions, every port, any request).
  if (opts.nsmConnections) {
    const pair = (f: FlowModel) => f.source.type === 'workload' && f.destination.type === 'workload';
    const forward = candidates.find(pair);
    const reverse = forward ? undefined : between(q.destination, q.source).find(pair);
    if (forward || reverse) {
      if (!explain) return UNEXPLAINED_ALLOW;
      const f = (forward ?? reverse)!;
      const detail = `flow ${describeFlow(f)} (${f.declaredAt}) is an NSM L3 connection: every port, any request${reverse ? ', and the reverse path' : ''} (deviation nsmConnections)`;
      return decision(true, [{ layer: 'intent', verdict: 'allow', objects: [], detail }]);
    }
  }

  // Deviation: Cilium ztunnel hides the app port between enrolled pods.
  const hbone = opts.hboneNamespaceLabel !== undefined && q.protocol === 'TCP'
    && [q.source, q.destination].every((e) => e.kind === 'pod' && e.namespaceLabels?.[opts.hboneNamespaceLabel!] === 'true');
  const meshedPeer = (e: Endpoint) => e.kind === 'pod' && !managed(e) && (opts.meshedNamespaces ?? []).includes(e.namespace ?? '');
  const podFlow = (f: FlowModel) => isPodEndpoint(f.source) && isPodEndpoint(f.destination);
  // The tunnel carries TCP only: a UDP-only flow opens no mesh port.
  const tcpFlow = (f: FlowModel) => f.ports.length === 0 || f.ports.some((p) => p.protocol === 'TCP');
  const viaMeshPort = (f: FlowModel) => opts.meshPort !== undefined && q.protocol === 'TCP' && podFlow(f) && tcpFlow(f)
    && q.source.kind === 'pod' && q.destination.kind === 'pod'
    && ((q.port === opts.meshPort && !managed(q.destination) && !meshedPeer(q.destination)) || (managed(q.source) && meshedPeer(q.destination)));
  const matching = candidates.filter((f) => (hbone || flowPortMatches(f, q) || viaMeshPort(f)) && flowHttpMatches(f, q));
  const flowReason = (dir: string) => matching.map((f) => `flow ${describeFlow(f)} (${f.declaredAt}) allows ${dir}${hbone ? ' on every TCP port: both ends are in ztunnel, the network sees HBONE 15008 (deviation hboneNamespaceLabel)' : ''}`);

  let egress: { ok: boolean; reasons: () => string[] };
  if (!managed(q.source)) {
    egress = { ok: true, reasons: () => [`${q.source.id} is not in a managed namespace; its egress is unrestricted`] };
  } else {
    const ns = q.source.namespace!;
    const dns = typeof opts.dns === 'function' ? opts.dns(ns) : opts.dns ?? KUBE_DNS;
    const cp = q.protocol === 'TCP' ? (opts.controlPlane ?? []).find((c) => q.destination.kind === 'pod' && q.destination.namespace === c.namespace
      && subset(c.sourceLabels ?? {}, q.source.labels)
      && (!c.onlyWithHttpRules || namespacesWithHttpRules(model).has(ns))
      && subset(c.labels, q.destination.labels) && c.ports.includes(q.port)) : undefined;
    if (q.port === 53 && dnsMatches(dns, q.destination) && !(opts.tcpDnsBlocked && q.protocol === 'TCP')) {
      egress = { ok: true, reasons: () => [`every pod of ${ns} may reach cluster DNS on 53/${q.protocol}`] };
    } else if (matching.length > 0) {
      egress = { ok: true, reasons: () => flowReason('egress') };
    } else if (cp) {
      egress = { ok: true, reasons: () => [`every pod of ${ns} may reach the ${cp.description} on ${q.port}/TCP (deviation controlPlane)`] };
    } else {
      egress = { ok: false, reasons: () => [`${q.source.id} is in managed namespace ${ns} and no flow from it allows ${conn()}`] };
    }
  }
  let ingress: { ok: boolean; reasons: () => string[] };
  const probeIp = endpointIp(q.source);
  const meshed = (e: Endpoint) => managed(e) || (e.kind === 'pod' && (opts.meshedNamespaces ?? []).includes(e.namespace ?? ''));
  const plaintextPasses = opts.permissiveAdmitsPlaintext === true && model.namespaces.some((n) => n.name === q.destination.namespace && n.mtls === 'permissive');
  const unmeshedSource = q.protocol === 'TCP' && q.source.kind === 'pod' && opts.meshedNamespaces !== undefined && !meshed(q.source) && !plaintextPasses;
  if (q.protocol === 'TCP' && (opts.proxyPorts ?? []).includes(q.port) && meshed(q.destination)) {
    ingress = { ok: false, reasons: () => [`${q.port} is a proxy port of ${q.destination.id}; its proxy refuses it (deviation proxyPorts)`] };
  } else if (opts.meshWideStrictMtls && !plaintextPasses && q.protocol === 'TCP' && !meshed(q.source) && meshed(q.destination) && !(opts.plaintextProxyPorts ?? []).includes(q.port)) {
    ingress = { ok: false, reasons: () => [`${q.source.id} is not in the mesh and the mesh's STRICT mTLS rejects its plaintext at ${q.destination.id} (deviation meshWideStrictMtls)`] };
  } else if (!managed(q.destination)) {
    ingress = { ok: true, reasons: () => [`${q.destination.id} is not in a managed namespace; its ingress is unrestricted`] };
  } else if (unmeshedSource) {
    ingress = { ok: false, reasons: () => [`${q.source.id} is not in the mesh and STRICT mTLS rejects its plaintext (deviation meshedNamespaces)`] };
  } else if (matching.length > 0) {
    ingress = { ok: true, reasons: () => flowReason('ingress') };
  } else if (probeIp && q.protocol === 'TCP' && (opts.probeSources ?? []).some((c) => ipInBlock(probeIp, cidr(c), []))) {
    ingress = { ok: true, reasons: () => [`${q.source.id} is the kubelet probe address, admitted to every TCP port (deviation probeSources)`] };
  } else {
    ingress = { ok: false, reasons: () => [`${q.destination.id} is in managed namespace ${q.destination.namespace} and no flow to it allows ${conn()}`] };
  }
  const allowed = egress.ok && ingress.ok;
  if (!explain) return allowed ? UNEXPLAINED_ALLOW : UNEXPLAINED_DENY;
  const sides = [egress, ingress];
  const ordered = allowed ? sides : [...sides.filter((s) => !s.ok), ...sides.filter((s) => s.ok)];
  // The intent's effects name flows of the model, not objects of the manifests; a sentence both sides give is said once.
  const effects: DecisionEffect[] = [];
  for (const side of ordered) {
    for (const detail of side.reasons()) {
      if (!effects.some((e) => e.detail === detail)) effects.push({ layer: 'intent', verdict: side.ok ? 'allow' : 'deny', objects: [], detail });
    }
  }
  return decision(allowed, effects);
}

/** What `decide` answers when asked for the verdict alone. */
const UNEXPLAINED_ALLOW: Decision = decision(true, []);
const UNEXPLAINED_DENY: Decision = decision(false, []);

/**
 * Probes where the intent draws its lines, independent of any backend's output: a pod in every
 * namespace a flow names (`ns/*`), a pod with the labels of every external workload, IPs inside,
 * in the excepts of and outside every IP block, every host name, and every port (and range edge)
 * of the flows. Give them to `probeUniverse` so that output that dropped a selector, an except or
 * a port list is still asked about the parties it wrongly admits.
 */
export function intentProbes(model: ZeroTrustModel): { endpoints: Endpoint[]; ports: UniversePort[]; requests: UniverseRequest[] } {
  const endpoints = new Map<string, Endpoint>();
  const pod = (namespace: string, name: string, labels: { [key: string]: string }, serviceAccount = 'default') => {
    const id = `${namespace}/${name}`;
    if (!endpoints.has(id)) {
      endpoints.set(id, {
        id, kind: 'pod', namespace, namespaceLabels: { [NAMESPACE_NAME_LABEL]: namespace }, namespaceAnnotations: {},
        labels: { [PROBE_LABEL]: 'true', ...labels }, annotations: {}, serviceAccount, ports: [],
      });
    }
  };
  const requests: UniverseRequest[] = [];
  const fqdn = (host: string) => endpoints.set(`fqdn:${host}`, { id: `fqdn:${host}`, kind: 'fqdn', host });
  const blocks: Array<{ cidr: ReturnType<typeof parseCidr>; except: Array<ReturnType<typeof parseCidr>> }> = [];
  const ports: UniversePort[] = [];
  for (const f of model.flows) {
    for (const e of [f.source, f.destination]) {
      if (e.type === 'namespace') pod(e.namespace, '*', {});
      if (e.type === 'external-workload') {
        pod(e.namespace, '*', {});
        const name = `{${Object.entries(e.labels).sort(compareEntries).map(([k, v]) => `${k}=${v}`).join(',')}}`;
        if (e.serviceAccount === undefined) {
          pod(e.namespace, name, e.labels);
        } else {
          // The labels with the declared ServiceAccount, and with another one.
          pod(e.namespace, `${name}@${e.serviceAccount}`, e.labels, e.serviceAccount);
          pod(e.namespace, `${name}@zt-other-sa`, e.labels, 'zt-other-sa');
        }
      }
      if (e.type === 'ip-block') blocks.push({ cidr: cidr(e.cidr), except: e.except.map(cidr) });
      if (e.type === 'fqdn') {
        // The host (a name under a wildcard), the wildcard's apex (not matched), and a host nobody named.
        if (e.host.startsWith('*.')) {
          fqdn(`zt-probe${e.host.slice(1)}`);
          fqdn(e.host.slice(2));
        } else {
          fqdn(e.host);
        }
        fqdn('zt-unnamed.invalid');
      }
    }
    for (const r of f.http) {
      // A request the rule admits, one with another method, one with another path.
      const path = r.paths.length === 0 ? '/' : r.paths[0].endsWith('*') ? `${r.paths[0].slice(0, -1)}zt` : r.paths[0];
      const method = r.methods[0] ?? 'GET';
      const otherMethod = ['PATCH', 'DELETE', 'GET'].find((m) => !r.methods.includes(m));
      // Not on 53: cluster DNS answers DNS there, so an HTTP request to it would test nothing.
      for (const p of f.ports.filter((x) => x.protocol === 'TCP' && x.endPort === undefined && x.number !== 53)) {
        requests.push({ port: p.number, method, path });
        if (r.methods.length > 0 && otherMethod) requests.push({ port: p.number, method: otherMethod, path });
        if (r.paths.length > 0) requests.push({ port: p.number, method, path: '/zt-unmatched' });
      }
    }
    for (const p of f.ports) {
      for (const n of p.endPort === undefined ? [p.number] : [p.number - 1, p.number, p.endPort, p.endPort + 1]) {
        if (n >= 1 && n <= 65535) ports.push({ number: n, protocol: p.protocol });
      }
    }
  }
  for (const ip of probeIps(blocks)) endpoints.set(`ip:${ip}`, { id: `ip:${ip}`, kind: 'ip', ip });
  return { endpoints: [...endpoints.values()], ports: mergePorts(ports), requests: mergeRequests(requests) };
}

/** A query on which a backend and the intent disagree. */
export interface Mismatch {
  readonly query: Query;
  /** What the backend decided. */
  readonly actual: Decision;
  /** What the intent says. */
  readonly expected: Decision;
}

/** `production/hero -> production/lil-deebee 5432/TCP` (`GET /api` appended for a request). */
export function describeQuery(q: Query): string {
  return `${q.source.id} -> ${q.destination.id} ${q.port}/${q.protocol}${q.http ? ` ${q.http.method} ${q.http.path}` : ''}`;
}

/** A readable account of a mismatch with both explanations. */
export function describeMismatch(m: Mismatch, backend = 'backend'): string {
  return [
    `${describeQuery(m.query)}: ${backend} ${m.actual.allowed ? 'ALLOWS' : 'DENIES'}, intent ${m.expected.allowed ? 'ALLOWS' : 'DENIES'}`,
    `  ${backend}: ${m.actual.reasons.join('; ')}`,
    `  intent: ${m.expected.reasons.join('; ')}`,
  ].join('\n');
}

/** Every query of the universe on which the evaluator and the intent disagree (up to `limit`). */
export function compareWithIntent(evaluator: PolicyEvaluator, model: ZeroTrustModel, universe: Universe, opts: IntentOptions & { limit?: number } = {}): Mismatch[] {
  const out: Mismatch[] = [];
  const intent = new IntentEvaluator(model, opts);
  for (const query of allQueries(universe)) {
    const actual = evaluator.evaluate(query);
    const expected = intent.evaluate(query);
    if (actual.allowed !== expected.allowed) {
      out.push({ query, actual, expected });
      if (opts.limit !== undefined && out.length >= opts.limit) break;
    }
  }
  return out;
}
