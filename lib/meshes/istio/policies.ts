/**
 * Pure functions from the mesh-neutral model to Istio objects (Istio 1.24+, written against the
 * v1.30 CRDs): PeerAuthentication, AuthorizationPolicy, Sidecar and ServiceEntry
 * (`security.istio.io/v1`, `networking.istio.io/v1`) and, in ambient mode, a waypoint `Gateway`
 * (`gateway.networking.k8s.io/v1`). Objects grow with workloads, not edges: one ALLOW policy per
 * destination workload (two behind a waypoint), one Sidecar per workload.
 */
import { DnsSpec } from '../../intent/dns';
import { ZeroTrustError } from '../../intent/errors';
import { Weaken } from '../../intent/weaken';
import {
  EndpointModel, FlowModel, WorkloadModel, ZeroTrustModel, describeFlow, endpointKey, flowIndex, isPodEndpoint, managedMetadata,
} from '../../intent/model';
import { Port, PortKind } from '../../intent/port';
import { cidrContains, normalizeCidr, parseCidr } from '../../intent/cidr';
import { NamespaceRule, NetworkPolicyLayerOptions, NetworkPolicyPeer, peerOf } from '../networkpolicy/policies';
import { compareEntries, compareText } from '../../intent/collation';
import { checkIdentityPairing } from '../pairing';

/** Which Istio data plane the namespace is enrolled in. */
export enum IstioMode {
  /** An Envoy sidecar injected into every pod: L4 and L7 policy at the destination's sidecar. */
  SIDECAR = 'sidecar',
  /** ztunnel on every node (L4) and, only where L7 rules need it, a waypoint proxy. */
  AMBIENT = 'ambient',
}

/** How sidecar-mode workloads reach external hosts (`Peer.fqdn`). */
export enum IstioEgress {
  /**
   * The workload's own sidecar (REGISTRY_ONLY and a ServiceEntry) narrows egress to the host;
   * the NetworkPolicy layer opens the host's ports to every address (minus `clusterNetworks`).
   */
  SIDECAR = 'sidecar',
  /**
   * Through an egress gateway: the sidecar routes the host to the gateway (VirtualService), the
   * gateway forwards it (Gateway, TLS passthrough by SNI or HTTP by Host), and the NetworkPolicy
   * layer opens egress to the gateway's pods only.
   */
  GATEWAY = 'gateway',
}

/** The egress gateway of `IstioEgress.GATEWAY`, resolved. */
export interface IstioEgressGatewaySettings {
  readonly namespace: string;
  readonly labels: { [key: string]: string };
  readonly serviceName: string;
  /** Gateway Service port -> the gateway pod's port (what NetworkPolicy sees). */
  readonly targetPorts: { [port: string]: number };
}

/** Annotation of an egress Gateway: its Service ports and the pod ports behind them (`443=8443,80=8080`). */
const EGRESS_TARGET_PORTS_ANNOTATION = 'zero-trust.cdk8s.io/egress-gateway-target-ports';

/** Resolved settings of the Istio backend. */
export interface IstioSettings {
  /** How external hosts are reached (sidecar mode). */
  readonly egress?: IstioEgress;
  /** The egress gateway, with `IstioEgress.GATEWAY`. */
  readonly egressGateway?: IstioEgressGatewaySettings;
  readonly backend: 'istio' | 'istio-ambient';
  readonly mode: IstioMode;
  readonly trustDomain: string;
  readonly revision?: string;
  readonly rootNamespace: string;
  readonly meshWideStrictMtls: boolean;
  readonly clusterDomain: string;
}

/** A plain JSON Kubernetes object. */
export interface IstioObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { name: string; namespace: string; labels: { [key: string]: string }; annotations?: { [key: string]: string } };
  readonly spec: any;
}

/** Name of the waypoint Gateway of a namespace, and of its ServiceAccount (Istio names a waypoint's ServiceAccount after the Gateway). */
export const WAYPOINT_NAME = 'waypoint';
/** Label Istio puts on the pods of a Gateway's deployment. */
const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';
/** Label that sends a Service's traffic through a waypoint. */
export const USE_WAYPOINT_LABEL = 'istio.io/use-waypoint';
/** HBONE: the port ambient pods and waypoints receive mesh traffic on. */
const HBONE_PORT = 15008;
/** istiod's xDS and certificate port. */
const ISTIOD_XDS_PORT = 15012;
/** Source address of kubelet probes after ambient's redirection. */
const AMBIENT_PROBE_CIDR = '169.254.7.127/32';

// ---------------------------------------------------------------- helpers

function meta(namespace: string, name: string, allows: string[], extraLabels: { [key: string]: string } = {}) {
  return managedMetadata(name, namespace, allows, extraLabels);
}

const inNamespace = (e: EndpointModel, ns: string) => e.type === 'workload' && e.workload.namespace === ns;

/** Workloads of a namespace, in model order (sorted). */
function workloadsOf(model: ZeroTrustModel, ns: string): WorkloadModel[] {
  return model.workloads.filter((w) => w.namespace === ns);
}

/** Flows whose destination is `w`. */
function inboundFlows(model: ZeroTrustModel, w: WorkloadModel): FlowModel[] {
  return [...(flowIndex(model).inbound.get(w) ?? [])];
}

/** Flows whose source is `w`. */
function outboundFlows(model: ZeroTrustModel, w: WorkloadModel): FlowModel[] {
  return [...(flowIndex(model).outbound.get(w) ?? [])];
}

/** In ambient mode: does `w` need a waypoint (some inbound flow carries HTTP rules)? */
export function needsWaypoint(model: ZeroTrustModel, w: WorkloadModel, s: IstioSettings): boolean {
  return s.mode === IstioMode.AMBIENT && inboundFlows(model, w).some((f) => f.http.length > 0);
}

/** `cluster.local/ns/production/sa/hero`. */
function principal(s: IstioSettings, namespace: string, serviceAccount: string): string {
  return `${s.trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** The pod labels that enrol a pod whose namespace carries no enrolment label. */
export function podEnrolmentLabels(s: IstioSettings): { [key: string]: string } {
  const rev: { [key: string]: string } = s.revision ? { 'istio.io/rev': s.revision } : {};
  if (s.mode === IstioMode.AMBIENT) return { 'istio.io/dataplane-mode': 'ambient', ...rev };
  return s.revision ? rev : { 'sidecar.istio.io/inject': 'true' };
}

/** The namespace labels that enrol pods in the mesh. */
export function namespaceLabels(s: IstioSettings): { [key: string]: string } {
  if (s.mode === IstioMode.AMBIENT) {
    return { 'istio.io/dataplane-mode': 'ambient', ...(s.revision ? { 'istio.io/rev': s.revision } : {}) };
  }
  return s.revision ? { 'istio.io/rev': s.revision } : { 'istio-injection': 'enabled' };
}

// ---------------------------------------------------------------- check

/** Throws for intent Istio cannot enforce in this namespace; never renders a wider policy instead. */
export function checkIstio(model: ZeroTrustModel, ns: string, s: IstioSettings): void {
  const fail = (f: FlowModel, what: string, weaken?: Weaken) => {
    throw new ZeroTrustError({ code: 'ISTIO_NOT_ENFORCEABLE', backend: s.backend, rule: f.declaredAt, workload: f.declaredBy, weaken, message: `${f.declaredAt}: ${what}` });
  };
  for (const f of model.flows) {
    if (inNamespace(f.destination, ns)) {
      const src = f.source;
      // Only the TCP ports are Istio's to authorize (UDP stays with the NetworkPolicy layer, see allowRules).
      if (src.type === 'external-workload' && !src.serviceAccount && tcpOnly(f)) {
        fail(f, `Istio authorizes by identity, and ${endpointKey(src)} names no ServiceAccount, so it cannot be written as a principal; pass serviceAccount to Peer.workload(), or use Peer.namespace() to admit the whole namespace`, Weaken.WORKLOAD_TO_NAMESPACE);
      }
      const notHttp = f.http.length > 0 ? f.ports.filter((p) => !p.speaksHttp) : [];
      if (notHttp.length > 0) {
        fail(f, `HTTP rules on ${notHttp.map((p) => p.toString()).join(', ')}, which Istio treats as TCP: an ALLOW rule with HTTP fields never matches TCP traffic (everything is denied); declare the port with Port.http()/Port.grpc() or drop the HTTP rule`);
      }
      if (s.mode === IstioMode.AMBIENT && f.http.length > 0 && f.destination.type === 'workload' && f.destination.workload.headless) {
        throw new ZeroTrustError({
          code: 'AMBIENT_L7_HEADLESS', weaken: Weaken.HTTP_TO_PORT, backend: s.backend, namespace: ns, workload: f.declaredBy, rule: f.declaredAt,
          message: `${f.declaredAt}: ${endpointKey(f.destination)} is a StatefulSet behind a headless Service, so clients connect to its pod addresses, which the Service's waypoint (istio.io/waypoint-for: service) does not serve; its ztunnel admits only the waypoint, so the HTTP rule would deny every request. Drop the http rule, or use IstioMode.SIDECAR for this namespace`,
        });
      }
      if (s.mode === IstioMode.AMBIENT && f.http.length > 0 && src.type === 'ip-block') {
        fail(f, 'in ambient mode HTTP rules are enforced by a waypoint, and clients outside the mesh bypass it (their plaintext reaches the destination ztunnel, which only sees L4); drop the HTTP rule for this range or use IstioMode.SIDECAR', Weaken.HTTP_TO_PORT);
      }
    }
    if (inNamespace(f.source, ns)) {
      const dst = f.destination;
      if (f.http.length > 0 && dst.type !== 'workload') {
        throw new ZeroTrustError({
          code: 'HTTP_RULES_ON_EGRESS_NOT_ENFORCED', weaken: Weaken.HTTP_TO_PORT, backend: s.backend, namespace: ns, workload: f.declaredBy, rule: f.declaredAt,
          message: `${f.declaredAt}: HTTP rules on egress to ${endpointKey(dst)} would be enforced by nothing: Istio authorizes requests at the destination's proxy, and ${dst.type === 'fqdn' || dst.type === 'ip-block' ? 'a destination outside the mesh has none' : 'this app does not configure the proxies of pods outside it'} (${s.mode === IstioMode.AMBIENT ? 'ztunnel' : 'the sidecar'} does not authorize outbound requests); drop the http rule, or route the traffic through an egress gateway with its own AuthorizationPolicy`,
        });
      }
      if (dst.type === 'fqdn') {
        if (s.mode === IstioMode.AMBIENT) {
          fail(f, 'ztunnel ignores outboundTrafficPolicy REGISTRY_ONLY (istio/istio#54281) and NetworkPolicy cannot match host names, so egress to a host name cannot be restricted in ambient mode; use Peer.ipBlock() with the host\'s addresses, an egress gateway of your own, or IstioMode.SIDECAR', Weaken.HOST_TO_PORT);
        }
        if (f.ports.length === 0) fail(f, 'a ServiceEntry needs the ports of the host; give ports, for example { ports: [Port.tcp(443)] }');
        const bad = f.ports.filter((p) => p.endPort !== undefined || p.protocol === 'UDP');
        if (bad.length > 0) fail(f, `a ServiceEntry cannot express ${bad.map((p) => p.toString()).join(', ')} (port ranges and UDP); list single TCP ports`);
        const gw = s.egress === IstioEgress.GATEWAY ? s.egressGateway : undefined;
        if (gw && dst.host.startsWith('*.')) {
          throw new ZeroTrustError({
            code: 'EGRESS_GATEWAY_WILDCARD', backend: s.backend, namespace: ns, workload: f.declaredBy, rule: f.declaredAt,
            message: `${f.declaredAt}: an egress gateway forwards to the host it resolves, and "${dst.host}" names no single host (Istio's wildcard egress through a gateway needs an SNI proxy of its own); list the hosts, or use IstioEgress.SIDECAR`,
          });
        }
        const unmapped = gw ? f.ports.filter((p) => gw.targetPorts[String(p.number)] === undefined) : [];
        if (gw && unmapped.length > 0) {
          throw new ZeroTrustError({
            code: 'EGRESS_GATEWAY_PORT_UNKNOWN', backend: s.backend, namespace: ns, workload: f.declaredBy, rule: f.declaredAt,
            message: `${f.declaredAt}: the egress gateway ${gw.namespace}/${gw.serviceName} has no known port ${unmapped.map((p) => p.number).join(', ')} (egressGateway.targetPorts lists ${Object.keys(gw.targetPorts).join(', ')}); add the Service port and the pod port behind it to egressGateway.targetPorts`,
          });
        }
      }
      if (dst.type === 'ip-block' && s.mode === IstioMode.SIDECAR) {
        if (f.ports.length === 0) fail(f, 'with REGISTRY_ONLY the sidecar forwards only to ServiceEntry ports, so egress to an address range needs explicit ports, for example { ports: [Port.tcp(443)] }');
        const ranges = f.ports.filter((p) => p.endPort !== undefined && p.protocol === 'TCP');
        if (ranges.length > 0) fail(f, `a ServiceEntry cannot express the port range ${ranges.map((p) => p.toString()).join(', ')}; list single ports`);
      }
    }
  }
  if (s.mode === IstioMode.SIDECAR && s.egress !== IstioEgress.GATEWAY) checkSharedHostPorts(model, ns, s);
  checkIdentityPairing(model, ns, s.backend, s.mode === IstioMode.AMBIENT);
  if (s.mode === IstioMode.SIDECAR && s.egress === IstioEgress.GATEWAY && s.egressGateway) checkSharedEgressGateway(model, ns, s, s.egressGateway);
}

/**
 * The egress gateway checks no source: a workload whose sidecar imports the gateway's Service and
 * whose NetworkPolicy reaches the gateway's pods can send it any SNI or Host, and a Gateway selects
 * the gateway's pods whatever namespace it is in, so the gateway forwards every host any chart
 * routes through it. Every gateway user of the app (a workload of an Istio namespace with host-name
 * egress; workloads of other Istio charts are counted too, which may refuse an app whose charts use
 * different gateways) must therefore declare the same (host, port) set, or it would gain the others'.
 */
function checkSharedEgressGateway(model: ZeroTrustModel, ns: string, s: IstioSettings, gw: IstioEgressGatewaySettings): void {
  const istioNs = new Set(model.namespaces.filter((n) => n.backend === s.backend).map((n) => n.name));
  const users = model.workloads.filter((w) => istioNs.has(w.namespace)).map((w) => {
    const named = outboundFlows(model, w).filter((f) => f.destination.type === 'fqdn');
    const pairs = [...new Set(named.flatMap((f) => f.ports.map((p) => `${(f.destination as { host: string }).host}:${p.number}`)))].sort(compareText);
    return { w, named, pairs };
  }).filter((u) => u.named.length > 0);
  const all = [...new Set(users.flatMap((u) => u.pairs))].sort(compareText);
  for (const u of users) {
    if (u.w.namespace !== ns) continue;
    const gained = all.filter((p) => !u.pairs.includes(p));
    const other = users.find((o) => o !== u && o.pairs.join(',') !== u.pairs.join(','));
    if (gained.length === 0 && other === undefined) continue;
    // Name the one that gains; when this workload gains nothing, another one gains its hosts.
    const by = other ?? u;
    const extra = gained.length > 0 ? gained : u.pairs.filter((p) => !by.pairs.includes(p));
    const [gainer, giver] = gained.length > 0 ? [u, users.find((o) => o.pairs.some((p) => gained.includes(p)))!] : [by, u];
    throw new ZeroTrustError({
      code: 'ISTIO_EGRESS_GATEWAY_SHARED', backend: s.backend, namespace: ns, workload: `${u.w.namespace}/${u.w.name}`, rule: u.named[0].declaredAt,
      message: `${u.named[0].declaredAt}: the egress gateway ${gw.namespace}/${gw.serviceName} checks no source and forwards every host any Gateway routes through it, `
        + `so ${gainer.w.namespace}/${gainer.w.name}, which reaches the gateway for its own hosts, could reach ${extra.join(', ')} that ${giver.w.namespace}/${giver.w.name} declares; `
        + 'give every workload that uses the egress gateway the same hosts and ports, or use IstioEgress.SIDECAR (a per-host AuthorizationPolicy on the gateway with ISTIO_MUTUAL is not generated yet)',
    });
  }
}

/**
 * A host's ServiceEntry lists the ports of every workload of the namespace that declares it, and
 * a sidecar that imports the host admits all of them. Where the NetworkPolicy layer opens one of
 * those ports to every address for the workload (another host name, a whole-space block), the
 * workload would reach the host on a port it does not declare: refused.
 */
function checkSharedHostPorts(model: ZeroTrustModel, ns: string, s: IstioSettings): void {
  const covers = (pattern: string, host: string) => pattern === host || (pattern.startsWith('*.') && host.endsWith(pattern.slice(1)));
  const toHosts = model.flows.filter((f) => inNamespace(f.source, ns) && f.destination.type === 'fqdn');
  const hosts = [...new Set(toHosts.map((f) => (f.destination as { host: string }).host))].sort(compareText);
  for (const w of workloadsOf(model, ns)) {
    const own = outboundFlows(model, w);
    const named = own.filter((f) => f.destination.type === 'fqdn');
    if (named.length === 0) continue;
    const open = new Set(own.filter((f) => f.destination.type === 'fqdn' || (f.destination.type === 'ip-block' && /\/0$/.test(f.destination.cidr)))
      .flatMap((f) => f.ports.filter((p) => p.protocol === 'TCP').map((p) => p.number)));
    for (const host of hosts) {
      const mine = named.filter((f) => covers((f.destination as { host: string }).host, host));
      if (mine.length === 0) continue;
      const declared = new Set(unionPorts(mine).map((p) => p.number));
      const extra = unionPorts(toHosts.filter((f) => (f.destination as { host: string }).host === host)).map((p) => p.number).filter((n) => !declared.has(n) && open.has(n));
      if (extra.length === 0) continue;
      throw new ZeroTrustError({
        code: 'ISTIO_NOT_ENFORCEABLE', backend: s.backend, namespace: ns, workload: mine[0].declaredBy, rule: mine[0].declaredAt,
        message: `${mine[0].declaredAt}: the ServiceEntry of ${host} in ${ns} lists port ${extra.join(', ')}, which other workloads declare, and ${ns}/${w.name}'s sidecar imports it while the NetworkPolicy layer opens ${extra.join(', ')} to every address for ${ns}/${w.name}'s other egress, so it could reach ${host} on ${extra.join(', ')}, which it does not declare; declare the same ports for ${host} in every workload of ${ns} that names it, or use IstioEgress.GATEWAY`,
      });
    }
  }
}

// ---------------------------------------------------------------- authorization

interface IstioSource {
  principals?: string[];
  namespaces?: string[];
  ipBlocks?: string[];
  notIpBlocks?: string[];
}

interface IstioOperation {
  ports: string[];
  methods?: string[];
  paths?: string[];
}

interface IstioRule {
  from: { source: IstioSource }[];
  to: { operation: IstioOperation }[];
}

const portStrings = (ports: Port[]) => ports.map((p) => String(p.number));

/** The flow restricted to its TCP ports, or undefined when it has none. */
function tcpOnly(f: FlowModel): FlowModel | undefined {
  const ports = f.ports.filter((p) => p.protocol === 'TCP');
  return ports.length ? { ...f, ports } : undefined;
}

/** The `to` of a flow: its destination ports, and one operation per HTTP rule. */
function operationsOf(f: FlowModel): { operation: IstioOperation }[] {
  const ports = portStrings(f.ports);
  if (f.http.length === 0) return [{ operation: { ports } }];
  return f.http.map((r) => ({
    operation: { ports, ...(r.methods.length ? { methods: [...r.methods] } : {}), ...(r.paths.length ? { paths: [...r.paths] } : {}) },
  }));
}

/** Builds ALLOW rules: flows with the same `to` share one rule whose `from` lists every source. */
function allowRules(flows: FlowModel[], s: IstioSettings, extra: { principal: string; ports: Port[] }[] = []): IstioRule[] {
  const groups = new Map<string, { to: { operation: IstioOperation }[]; principals: Set<string>; namespaces: Set<string>; blocks: Map<string, IstioSource> }>();
  const group = (to: { operation: IstioOperation }[]) => {
    const key = JSON.stringify(to);
    let g = groups.get(key);
    if (!g) {
      g = { to, principals: new Set(), namespaces: new Set(), blocks: new Map() };
      groups.set(key, g);
    }
    return g;
  };
  for (const flow of flows) {
    // Istio matches port numbers whatever the protocol, and neither sidecars nor ztunnel carry UDP:
    // UDP ports stay with the NetworkPolicy layer, or a UDP rule would admit TCP on the same number.
    const f = tcpOnly(flow);
    if (!f) continue;
    const g = group(operationsOf(f));
    const src = f.source;
    switch (src.type) {
      case 'workload': g.principals.add(principal(s, src.workload.namespace, src.workload.serviceAccount)); break;
      case 'external-workload': g.principals.add(principal(s, src.namespace, src.serviceAccount!)); break;
      case 'namespace': g.namespaces.add(src.namespace); break;
      case 'ip-block': {
        const block: IstioSource = { ipBlocks: [src.cidr], ...(src.except.length ? { notIpBlocks: [...src.except] } : {}) };
        g.blocks.set(JSON.stringify(block), block);
        break;
      }
      case 'fqdn': throw new ZeroTrustError({ code: 'FQDN_SOURCE', backend: s.backend, rule: f.declaredAt, workload: f.declaredBy, message: `${f.declaredAt}: a host name cannot be a source` });
    }
  }
  for (const e of extra) group([{ operation: { ports: portStrings(e.ports) } }]).principals.add(e.principal);

  return [...groups.entries()].sort(compareEntries).map(([, g]) => {
    const from: { source: IstioSource }[] = [];
    if (g.principals.size) from.push({ source: { principals: [...g.principals].sort(compareText) } });
    if (g.namespaces.size) from.push({ source: { namespaces: [...g.namespaces].sort(compareText) } });
    // Plain ranges share one source (OR); a range with exceptions needs its own (ipBlocks AND notIpBlocks).
    const plain = [...g.blocks.values()].filter((b) => !b.notIpBlocks);
    if (plain.length) from.push({ source: { ipBlocks: plain.flatMap((b) => b.ipBlocks!).sort(compareText) } });
    for (const [, b] of [...g.blocks.entries()].filter(([, b]) => b.notIpBlocks).sort(compareEntries)) from.push({ source: b });
    return { from, to: g.to };
  });
}

function authorizationPolicy(ns: string, name: string, allows: string[], spec: any): IstioObject {
  return { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: meta(ns, name, allows), spec };
}

/** The TCP ports of some flows, sorted and de-duplicated. */
function unionPorts(flows: FlowModel[]): Port[] {
  const out: Port[] = [];
  for (const f of flows) for (const p of f.ports) if (p.protocol === 'TCP' && !out.some((o) => o.number === p.number)) out.push(p);
  return out.sort((a, b) => a.number - b.number);
}

/** The allow-nothing policy and the ALLOW policies of every destination workload of `ns`. */
function authorizationPolicies(model: ZeroTrustModel, ns: string, s: IstioSettings): IstioObject[] {
  const out: IstioObject[] = [
    // An ALLOW policy without rules matches nothing; applied to the whole namespace it denies every
    // request that no other ALLOW policy admits (Istio evaluates CUSTOM, then DENY, then ALLOW).
    authorizationPolicy(ns, 'allow-nothing', [`nothing: every connection to a pod of ${ns} is denied unless another ALLOW policy admits it`], {}),
  ];
  for (const w of workloadsOf(model, ns)) {
    const inbound = inboundFlows(model, w).filter((f) => tcpOnly(f) !== undefined);
    if (inbound.length === 0) continue;
    const selector = { matchLabels: { ...w.selector } };
    if (!needsWaypoint(model, w, s)) {
      const rules = allowRules(inbound, s);
      out.push(authorizationPolicy(ns, w.name, inbound.map(describeFlow), { selector, action: 'ALLOW', rules }));
      out.push(denyPolicy(ns, `${w.name}-deny`, w, w.name, s, { selector }, rules, s.mode === IstioMode.SIDECAR));
      continue;
    }
    // Ambient with L7 rules: the Service's traffic goes through the waypoint, which enforces every
    // rule of mesh clients (targetRefs policy). The destination's ztunnel then sees the waypoint's
    // identity, so its selector policy admits the waypoint on the allowed ports, plus the L4-only
    // flows directly (pod-addressed traffic and clients outside the mesh never reach the waypoint).
    const l4 = inbound.filter((f) => f.http.length === 0);
    const viaWaypoint = inbound.filter((f) => isPodEndpoint(f.source));
    const waypoint = principal(s, ns, WAYPOINT_NAME);
    const l4Rules = allowRules(l4, s, [{ principal: waypoint, ports: unionPorts(viaWaypoint) }]);
    out.push(authorizationPolicy(ns, w.name, [
      ...l4.map(describeFlow),
      `waypoint ${ns}/${WAYPOINT_NAME} -> ${ns}/${w.name} on ${unionPorts(viaWaypoint).map((p) => p.toString()).join(', ')} (after it enforced ${w.name}-l7)`,
    ], { selector, action: 'ALLOW', rules: l4Rules }));
    out.push(denyPolicy(ns, `${w.name}-deny`, w, w.name, s, { selector }, l4Rules, false));
    const targetRefs = [{ kind: 'Service', group: '', name: w.name }];
    const l7Rules = allowRules(viaWaypoint, s);
    out.push(authorizationPolicy(ns, `${w.name}-l7`, viaWaypoint.map(describeFlow), { targetRefs, action: 'ALLOW', rules: l7Rules }));
    out.push(denyPolicy(ns, `${w.name}-l7-deny`, w, `${w.name}-l7`, s, { targetRefs }, l7Rules, true));
  }
  // A workload nobody may reach: one DENY of everything, so a mesh-wide ALLOW cannot open it.
  for (const w of workloadsOf(model, ns)) {
    if (inboundFlows(model, w).some((f) => tcpOnly(f) !== undefined)) continue;
    out.push(denyPolicy(ns, `${w.name}-deny`, w, w.name, s, { selector: { matchLabels: { ...w.selector } } }, [], false));
  }
  return out;
}

// ---------------------------------------------------------------- DENY pins

/**
 * Istio ORs ALLOW policies: an ALLOW in the root namespace (or any other that selects the pod)
 * admits what ours do not. DENY policies are evaluated before every ALLOW, so each ALLOW policy we
 * emit gets a DENY twin that refuses its complement: every other port, every source that no rule
 * names on a port, and (where the twin is enforced by an L7 proxy) every request outside the
 * source's HTTP rules. Nothing here adds an allowed request: the twin denies exactly what its
 * ALLOW policy does not admit, up to the residuals of `pinRules`.
 */
function denyPolicy(ns: string, name: string, w: WorkloadModel, allowName: string, s: IstioSettings, target: any, allow: IstioRule[], l7: boolean): IstioObject {
  const rules = pinRules(allow, l7, s, `${ns}/${w.name}`);
  const what = rules.length === 1 && Object.keys(rules[0]).length === 0
    ? `nothing: every connection to the pods is denied, whatever other ALLOW policies say (a mesh-wide ALLOW in ${s.rootNamespace})`
    : `nothing beyond ${allowName}: every port${l7 ? ', source or request' : ' or source'} it does not admit is denied, whatever other ALLOW policies say (a mesh-wide ALLOW in ${s.rootNamespace})`;
  return authorizationPolicy(ns, name, [what], { ...target, action: 'DENY', rules });
}

/** True when the range `inner` lies inside `outer` (same family), or is it. */
function cidrWithin(inner: string, outer: string): boolean {
  const i = parseCidr(inner, 'ipBlock');
  const o = parseCidr(outer, 'ipBlock');
  return i.family === o.family && i.prefix >= o.prefix && cidrContains(o, i.address);
}

/** One source of an ALLOW rule on one port, and the requests it may send there (undefined: every request). */
interface PinEntry { source: IstioSource; requests?: { methods: string[]; paths: string[] }[] }

/** The namespace of a principal we wrote (`<trustDomain>/ns/<ns>/sa/<sa>`). */
function principalNamespace(p: string): string | undefined {
  return /\/ns\/([^/]+)\/sa\/[^/]+$/.exec(p)?.[1];
}

/** The requests of two entries of one party together (undefined: every request). */
function unionRequests(a: PinEntry['requests'], b: PinEntry['requests']): PinEntry['requests'] {
  return a === undefined || b === undefined ? undefined : [...a, ...b];
}

/** Most HTTP rules one party may have on one port before the negation (up to 2^n operations) is refused. */
const MAX_PIN_HTTP_RULES = 8;

/**
 * The operations that match exactly the requests outside `requests` (each a method set AND a path
 * set, empty = any): the negation of a union of conjunctions, written as a union (the `to` list)
 * of `notMethods`/`notPaths` conjunctions by choosing, for each rule, whether the method or the
 * path falls outside it; subsumed operations are dropped. Empty when every request is allowed.
 */
function negateRequests(requests: { methods: string[]; paths: string[] }[], s: IstioSettings, workload: string, port: string): IstioOperation[] | undefined {
  const rules = [...new Map(requests.map((r) => [JSON.stringify([[...r.methods].sort(), [...r.paths].sort()]), r])).values()];
  if (rules.some((r) => r.methods.length === 0 && r.paths.length === 0)) return undefined;
  if (rules.length > MAX_PIN_HTTP_RULES) {
    throw new ZeroTrustError({
      code: 'ISTIO_HTTP_RULES_NOT_PINNABLE', backend: s.backend, workload,
      message: `${workload} port ${port}: ${rules.length} distinct HTTP rules of one source on one port; the DENY policy that keeps a mesh-wide ALLOW from widening them needs up to 2^${rules.length} operations. Merge the rules (at most ${MAX_PIN_HTTP_RULES} per source and port)`,
    });
  }
  let ops: { notMethods: Set<string>; notPaths: Set<string> }[] = [{ notMethods: new Set(), notPaths: new Set() }];
  for (const r of rules) {
    const next: typeof ops = [];
    for (const o of ops) {
      if (r.methods.length) next.push({ notMethods: new Set([...o.notMethods, ...r.methods]), notPaths: o.notPaths });
      if (r.paths.length) next.push({ notMethods: o.notMethods, notPaths: new Set([...o.notPaths, ...r.paths]) });
    }
    ops = next;
  }
  // An operation whose sets contain another's matches less than it: drop it.
  const within = (a: Set<string>, b: Set<string>) => [...a].every((x) => b.has(x));
  const keyOf = (o: { notMethods: Set<string>; notPaths: Set<string> }) => JSON.stringify([[...o.notMethods].sort(), [...o.notPaths].sort()]);
  const unique = [...new Map(ops.map((o) => [keyOf(o), o])).values()];
  const kept = unique.filter((o) => !unique.some((x) => x !== o && within(x.notMethods, o.notMethods) && within(x.notPaths, o.notPaths)));
  return kept.map((o) => ({
    ports: [],
    ...(o.notMethods.size ? { notMethods: [...o.notMethods].sort(compareText) } : {}),
    ...(o.notPaths.size ? { notPaths: [...o.notPaths].sort(compareText) } : {}),
  })).sort((a, b) => compareText(JSON.stringify(a), JSON.stringify(b)));
}

/**
 * DENY rules refusing what `allow` does not admit. Per port: a rule for sources no ALLOW rule
 * names there (`notPrincipals`, `notNamespaces`, `notIpBlocks`); with `l7`, per principal,
 * namespace (minus its principals that have rules of their own) and address range, a rule for the
 * requests outside its HTTP rules; and one rule for every port no rule names (`notPorts`).
 * Ports with the same rules share them. Residual: an address range's `except` ranges are left to
 * the NetworkPolicy layer (the rule for unknown sources lists the ranges whole, and an address in
 * an outer range's except still gets that range's requests), so with a mesh-wide ALLOW such an
 * address is refused by NetworkPolicy alone.
 */
function pinRules(allow: IstioRule[], l7: boolean, s: IstioSettings, workload: string): any[] {
  const byPort = new Map<string, PinEntry[]>();
  for (const rule of allow) {
    for (const { operation } of rule.to) {
      const request = operation.methods || operation.paths ? { methods: operation.methods ?? [], paths: operation.paths ?? [] } : undefined;
      for (const port of operation.ports) {
        const entries = byPort.get(port) ?? [];
        for (const { source } of rule.from) entries.push({ source, requests: request ? [request] : undefined });
        byPort.set(port, entries);
      }
    }
  }
  if (byPort.size === 0) return [{}];
  const shapes = new Map<string, { rules: any[]; ports: string[] }>();
  for (const [port, entries] of byPort) {
    const principals = new Map<string, PinEntry['requests'] | null>();
    const namespaces = new Map<string, PinEntry['requests'] | null>();
    const blocks = new Map<string, { source: IstioSource; requests: PinEntry['requests'] | null }>();
    const add = <K>(m: Map<K, PinEntry['requests'] | null>, k: K, r: PinEntry['requests']) => {
      const had = m.get(k);
      m.set(k, had === undefined ? (r ?? null) : had === null || r === undefined ? null : unionRequests(had, r) ?? null);
    };
    for (const e of entries) {
      for (const p of e.source.principals ?? []) add(principals, p, e.requests);
      for (const n of e.source.namespaces ?? []) add(namespaces, n, e.requests);
      for (const b of e.source.ipBlocks ?? []) {
        const source: IstioSource = { ipBlocks: [b], ...(e.source.notIpBlocks ? { notIpBlocks: [...e.source.notIpBlocks] } : {}) };
        const key = JSON.stringify(source);
        const had = blocks.get(key);
        blocks.set(key, { source, requests: had === undefined ? (e.requests ?? null) : had.requests === null || e.requests === undefined ? null : unionRequests(had.requests, e.requests) ?? null });
      }
    }
    const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort(compareText);
    const unknown: IstioSource & { notPrincipals?: string[]; notNamespaces?: string[] } = {
      ...(principals.size ? { notPrincipals: sorted(principals.keys()) } : {}),
      ...(namespaces.size ? { notNamespaces: sorted(namespaces.keys()) } : {}),
      ...(blocks.size ? { notIpBlocks: sorted([...blocks.values()].flatMap((b) => b.source.ipBlocks!)) } : {}),
    };
    const rules: any[] = [{ from: [{ source: unknown }], to: [{ operation: { ports: [] } }] }];
    if (l7) {
      const requestRule = (source: any, requests: PinEntry['requests'] | null) => {
        const ops = requests ? negateRequests(requests, s, workload, port) : undefined;
        if (ops) rules.push({ from: [{ source }], to: ops.map((operation) => ({ operation })) });
      };
      for (const [p, own] of [...principals.entries()].sort(compareEntries)) {
        const ns = principalNamespace(p);
        const viaNs = ns !== undefined ? namespaces.get(ns) : undefined;
        // What the principal may send: its own rules and its namespace's.
        requestRule({ principals: [p] }, viaNs === undefined ? own : own === null || viaNs === null ? null : [...own!, ...viaNs!]);
      }
      for (const [n, own] of [...namespaces.entries()].sort(compareEntries)) {
        const named = [...principals.keys()].filter((p) => principalNamespace(p) === n);
        requestRule({ namespaces: [n], ...(named.length ? { notPrincipals: sorted(named) } : {}) }, own);
      }
      // Ranges are nested or disjoint: an address gets the requests of every range around it, so
      // each range's rule leaves out the ranges inside it, which have rules of their own.
      const all = [...blocks.values()];
      for (const [, b] of [...blocks.entries()].sort(compareEntries)) {
        const cidr = b.source.ipBlocks![0];
        const around = all.filter((o) => cidrWithin(cidr, o.source.ipBlocks![0]));
        const inner = sorted(all.map((o) => o.source.ipBlocks![0]).filter((c) => c !== cidr && cidrWithin(c, cidr)));
        const requests = around.some((o) => o.requests === null) ? null : around.flatMap((o) => o.requests!);
        const notIpBlocks = sorted([...(b.source.notIpBlocks ?? []), ...inner]);
        requestRule({ ipBlocks: [cidr], ...(notIpBlocks.length ? { notIpBlocks } : {}) }, requests);
      }
    }
    const key = JSON.stringify(rules);
    const shape = shapes.get(key) ?? { rules, ports: [] };
    shape.ports.push(port);
    shapes.set(key, shape);
  }
  const byNumber = (a: string, b: string) => Number(a) - Number(b);
  const out: any[] = [];
  for (const { rules, ports } of [...shapes.values()].sort((a, b) => byNumber(a.ports.sort(byNumber)[0], b.ports.sort(byNumber)[0]))) {
    for (const r of rules) out.push({ from: r.from, to: r.to.map((t: any) => ({ operation: { ...t.operation, ports: [...ports].sort(byNumber) } })) });
  }
  out.push({ to: [{ operation: { notPorts: [...byPort.keys()].sort(byNumber) } }] });
  return out;
}

// ---------------------------------------------------------------- mTLS

/** STRICT mTLS for the namespace; per workload, PERMISSIVE on exactly the ports that admit an address range. */
function peerAuthentications(model: ZeroTrustModel, ns: string, s: IstioSettings): IstioObject[] {
  const pa = (namespace: string, name: string, allows: string[], spec: any): IstioObject => ({
    apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: meta(namespace, name, allows), spec,
  });
  const out: IstioObject[] = [];
  const sameMesh = model.namespaces.filter((n) => n.backend === s.backend).map((n) => n.name).sort(compareText);
  if (s.meshWideStrictMtls && sameMesh[0] === ns) {
    out.push(pa(s.rootNamespace, 'default', ['mesh-wide STRICT mTLS: pods of every namespace accept only mesh (mTLS) connections'], { mtls: { mode: 'STRICT' } }));
  }
  out.push(pa(ns, 'default', [`STRICT mTLS: pods of ${ns} accept only mesh (mTLS) connections`], { mtls: { mode: 'STRICT' } }));
  for (const w of workloadsOf(model, ns)) {
    const plain = inboundFlows(model, w).filter((f) => f.source.type === 'ip-block' && tcpOnly(f) !== undefined);
    if (plain.length === 0) continue;
    const ports = unionPorts(plain);
    const portLevelMtls: { [port: string]: { mode: string } } = {};
    for (const p of ports) portLevelMtls[String(p.number)] = { mode: 'PERMISSIVE' };
    out.push(pa(ns, w.name, plain.map((f) => `${describeFlow(f)} (plaintext from outside the mesh; authorized by source address only)`), {
      selector: { matchLabels: { ...w.selector } },
      mtls: { mode: 'STRICT' },
      portLevelMtls,
    }));
  }
  return out;
}

// ---------------------------------------------------------------- egress (sidecar mode)

/** A DNS-label-ish readable name for a host or CIDR: `api-example-com`, `cidr-203-0-113-0-24`. */
function externalName(e: EndpointModel): string {
  if (e.type === 'fqdn') return e.host.replace(/^\*\./, 'wildcard.').replace(/\./g, '-');
  if (e.type === 'ip-block') return `cidr-${e.cidr.replace(/[.:/]/g, '-').replace(/-+/g, '-').replace(/-$/, '')}`;
  throw new Error(`not external: ${endpointKey(e)}`);
}

function servicePortProtocol(p: Port, external: boolean): string {
  switch (p.kind) {
    case PortKind.HTTP: return 'HTTP';
    case PortKind.HTTP2: return 'HTTP2';
    case PortKind.GRPC: return 'GRPC';
    // Several host names share port 443: only TLS (SNI) lets the sidecar tell them apart.
    default: return external ? 'TLS' : 'TCP';
  }
}

/**
 * The address-range ServiceEntries of a namespace, by flow: one per block and set of ports a
 * workload declares for it, so that a sidecar imports exactly its own workload's addresses and
 * ports (a ServiceEntry's ports are every importer's, and the NetworkPolicy layer may open other
 * addresses on them, for a host name). A block's `except` ranges are cut out of its addresses.
 * Named `cidr-<block>`, with `-2`, `-3`, ... when the namespace has several for one block.
 */
function addressRangeEntries(model: ZeroTrustModel, ns: string): Map<FlowModel, { name: string; flows: FlowModel[] }> {
  const perWorkload = new Map<string, FlowModel[]>();
  for (const f of model.flows) {
    if (!inNamespace(f.source, ns) || f.destination.type !== 'ip-block' || !f.ports.some((p) => p.protocol === 'TCP')) continue;
    const key = `${endpointKey(f.source)}\u0000${endpointKey(f.destination)}`;
    perWorkload.set(key, [...(perWorkload.get(key) ?? []), f]);
  }
  const byKey = new Map<string, FlowModel[]>();
  for (const flows of perWorkload.values()) {
    const key = `${endpointKey(flows[0].destination)}\u0000${unionPorts(flows).map((p) => p.number).join(',')}`;
    byKey.set(key, [...(byKey.get(key) ?? []), ...flows]);
  }
  const out = new Map<FlowModel, { name: string; flows: FlowModel[] }>();
  const taken = new Map<string, number>();
  for (const [, flows] of [...byKey.entries()].sort(compareEntries)) {
    const base = externalName(flows[0].destination);
    const n = (taken.get(base) ?? 0) + 1;
    taken.set(base, n);
    const entry = { name: n === 1 ? base : `${base}-${n}`, flows };
    for (const f of flows) out.set(f, entry);
  }
  return out;
}

/** The addresses of a block outside its `except` ranges, as CIDRs (a ServiceEntry cannot except). */
function addressesOf(cidr: string, except: readonly string[]): string[] {
  if (except.length === 0) return [cidr];
  const net = parseCidr(cidr, 'ip-block');
  const bits = net.family === 4 ? 32 : 128;
  const cut = except.map((e) => parseCidr(e, 'ip-block except'));
  const out: string[] = [];
  const walk = (address: bigint, prefix: number): void => {
    const block = { family: net.family, address, prefix };
    if (cut.some((e) => e.prefix <= prefix && cidrContains(e, address))) return;
    if (!cut.some((e) => e.prefix > prefix && cidrContains(block, e.address))) {
      out.push(normalizeCidr(block));
      return;
    }
    walk(address, prefix + 1);
    walk(address + (1n << BigInt(bits - prefix - 1)), prefix + 1);
  };
  walk(parseCidr(normalizeCidr(net), 'ip-block').address, net.prefix);
  return out;
}

/** ServiceEntries for the external hosts and TCP address ranges the workloads of `ns` may reach, visible in `ns` only. */
function serviceEntries(model: ZeroTrustModel, ns: string, s: IstioSettings): IstioObject[] {
  if (s.mode !== IstioMode.SIDECAR) return [];
  const byName = new Map<string, { dest: EndpointModel; flows: FlowModel[] }>();
  const ranges = addressRangeEntries(model, ns);
  for (const f of model.flows) {
    if (!inNamespace(f.source, ns)) continue;
    if (f.destination.type !== 'fqdn' && !ranges.has(f)) continue;
    const name = ranges.get(f)?.name ?? externalName(f.destination);
    const entry = byName.get(name) ?? { dest: f.destination, flows: [] };
    entry.flows.push(f);
    byName.set(name, entry);
  }
  return [...byName.entries()].sort(compareEntries).map(([name, { dest, flows }]) => {
    const ports = unionPorts(flows).filter((p) => p.protocol === 'TCP');
    const fqdn = dest.type === 'fqdn';
    const wildcard = fqdn && dest.host.startsWith('*.');
    return {
      apiVersion: 'networking.istio.io/v1',
      kind: 'ServiceEntry',
      metadata: meta(ns, name, flows.map(describeFlow)),
      spec: {
        hosts: [fqdn ? dest.host : `${name}.external.invalid`],
        ...(dest.type === 'ip-block' ? { addresses: addressesOf(dest.cidr, dest.except) } : {}),
        ports: ports.map((p) => {
          // An address range is matched by the address dialled only as opaque TCP (HTTP would match the Host header against the placeholder host).
          const protocol = fqdn ? servicePortProtocol(p, true) : 'TCP';
          return { number: p.number, name: `${protocol.toLowerCase()}-${p.number}`, protocol };
        }),
        location: 'MESH_EXTERNAL',
        // Wildcard hosts and address ranges go to the address the client dialled.
        resolution: fqdn && !wildcard ? 'DNS' : 'NONE',
        // Through an egress gateway, the gateway resolves the host too.
        exportTo: fqdn && s.egress === IstioEgress.GATEWAY && s.egressGateway ? ['.', s.egressGateway.namespace] : ['.'],
      },
    };
  });
}

/** The Sidecar egress host that makes a destination reachable, or undefined when the sidecar does not carry it. */
function egressHost(f: FlowModel, s: IstioSettings, ranges: ReadonlyMap<FlowModel, { name: string }>): string | undefined {
  const d = f.destination;
  switch (d.type) {
    case 'workload': return `${d.workload.namespace}/${d.workload.name}.${d.workload.namespace}.svc.${s.clusterDomain}`;
    // Services of pods outside the app are unknown by name: import that namespace's Services; NetworkPolicy narrows to the pods.
    case 'external-workload': return `${d.namespace}/*`;
    case 'namespace': return `${d.namespace}/*`;
    case 'fqdn': return `./${d.host}`;
    case 'ip-block': return ranges.has(f) ? `./${ranges.get(f)!.name}.external.invalid` : undefined;
  }
}

/** Name and placeholder host of the ServiceEntry for DNS at an address. */
const DNS_SERVICE_ENTRY_NAME = 'cluster-dns-tcp';
const DNS_SERVICE_ENTRY_HOST = `${DNS_SERVICE_ENTRY_NAME}.external.invalid`;

/**
 * DNS at an address (NodeLocal DNSCache) is no Service, so REGISTRY_ONLY sidecars would drop DNS
 * over TCP to it: this ServiceEntry registers that address on TCP 53 for the namespace. (UDP DNS
 * does not pass through the proxy; DNS pods are imported by namespace instead.)
 */
function dnsServiceEntries(ns: string, s: IstioSettings, dns: DnsSpec = {}): IstioObject[] {
  if (s.mode !== IstioMode.SIDECAR || !dns.cidr) return [];
  return [{
    apiVersion: 'networking.istio.io/v1',
    kind: 'ServiceEntry',
    metadata: meta(ns, DNS_SERVICE_ENTRY_NAME, [`every pod of ${ns} to cluster DNS at ${dns.cidr} on 53/TCP, through its proxy`]),
    spec: {
      hosts: [DNS_SERVICE_ENTRY_HOST],
      addresses: [dns.cidr],
      ports: [{ number: 53, name: 'tcp-53', protocol: 'TCP' }],
      location: 'MESH_EXTERNAL',
      resolution: 'NONE',
      exportTo: ['.'],
    },
  }];
}

/** A namespace default Sidecar that imports nothing, and one per workload importing only what it may reach; all REGISTRY_ONLY. */
function sidecars(model: ZeroTrustModel, ns: string, s: IstioSettings, dns: DnsSpec = {}): IstioObject[] {
  if (s.mode !== IstioMode.SIDECAR) return [];
  // DNS over TCP goes through the sidecar, so every Sidecar imports the DNS pods' namespace, or
  // the ServiceEntry of DNS at an address; the NetworkPolicy layer still admits only DNS on 53.
  const dnsHosts = dns.namespace ? [`${dns.namespace}/*`] : dns.cidr ? [`./${DNS_SERVICE_ENTRY_HOST}`] : [];
  const sidecar = (name: string, allows: string[], selector: { [key: string]: string } | undefined, hosts: string[]): IstioObject => ({
    apiVersion: 'networking.istio.io/v1',
    kind: 'Sidecar',
    metadata: meta(ns, name, allows),
    spec: {
      ...(selector ? { workloadSelector: { labels: { ...selector } } } : {}),
      // `~/*` imports no Service at all.
      egress: [{ hosts: hosts.length ? hosts : ['~/*'] }],
      outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' },
    },
  });
  const ranges = addressRangeEntries(model, ns);
  const out = [sidecar('default', [`nothing but cluster DNS: pods of ${ns} without their own Sidecar reach no other Service and no external host through their proxy`], undefined, dnsHosts)];
  for (const w of workloadsOf(model, ns)) {
    const flows = outboundFlows(model, w);
    const gateway = s.egress === IstioEgress.GATEWAY && s.egressGateway && flows.some((f) => f.destination.type === 'fqdn')
      ? [`${s.egressGateway.namespace}/${gatewayHost(s, s.egressGateway)}`] : [];
    const hosts = [...new Set([...dnsHosts, ...gateway, ...flows.map((f) => egressHost(f, s, ranges)).filter((h): h is string => h !== undefined)])].sort(compareText);
    out.push(sidecar(w.name, flows.length ? flows.map(describeFlow) : [`nothing but cluster DNS: ${ns}/${w.name} reaches no other Service and no external host through its proxy`], w.selector, hosts));
  }
  return out;
}

/** The egress gateway's Service host. */
function gatewayHost(s: IstioSettings, gw: IstioEgressGatewaySettings): string {
  return `${gw.serviceName}.${gw.namespace}.svc.${s.clusterDomain}`;
}

/**
 * With `IstioEgress.GATEWAY`, per external host of the namespace: a `Gateway` on the egress
 * gateway's pods (TLS passthrough by SNI, or HTTP by Host) and a `VirtualService` that sends the
 * host from the namespace's sidecars to the gateway and from the gateway to the host (Istio's
 * egress gateway task, networking.istio.io/v1).
 */
function egressGatewayObjects(model: ZeroTrustModel, ns: string, s: IstioSettings): IstioObject[] {
  const gw = s.egress === IstioEgress.GATEWAY ? s.egressGateway : undefined;
  if (s.mode !== IstioMode.SIDECAR || !gw) return [];
  const byHost = new Map<string, FlowModel[]>();
  for (const f of model.flows) {
    if (!inNamespace(f.source, ns) || f.destination.type !== 'fqdn') continue;
    byHost.set(f.destination.host, [...(byHost.get(f.destination.host) ?? []), f]);
  }
  const out: IstioObject[] = [];
  for (const [host, flows] of [...byHost.entries()].sort(compareEntries)) {
    const name = `egress-${externalName(flows[0].destination)}`;
    const ports = unionPorts(flows).filter((p) => p.protocol === 'TCP');
    const allows = flows.map((f) => `${describeFlow(f)} (through the egress gateway ${gw.namespace}/${gw.serviceName})`);
    const mapped = ports.map((p) => `${p.number}=${gw.targetPorts[String(p.number)]}`).join(',');
    out.push({
      apiVersion: 'networking.istio.io/v1',
      kind: 'Gateway',
      metadata: { ...meta(ns, name, allows), annotations: { ...meta(ns, name, allows).annotations, [EGRESS_TARGET_PORTS_ANNOTATION]: mapped } },
      spec: {
        selector: { ...gw.labels },
        servers: ports.map((p) => {
          const protocol = servicePortProtocol(p, true);
          return {
            port: { number: p.number, name: `${protocol.toLowerCase()}-${p.number}`, protocol },
            hosts: [host],
            ...(protocol === 'TLS' ? { tls: { mode: 'PASSTHROUGH' } } : {}),
          };
        }),
      },
    });
    const gateway = `${ns}/${name}`;
    const hop = (p: Port, from: string, to: string) => {
      const match = { gateways: [from], port: p.number, ...(servicePortProtocol(p, true) === 'TLS' ? { sniHosts: [host] } : {}) };
      return { match: [match], route: [{ destination: { host: to, port: { number: p.number } } }] };
    };
    const tls = ports.filter((p) => servicePortProtocol(p, true) === 'TLS');
    const http = ports.filter((p) => servicePortProtocol(p, true) !== 'TLS');
    out.push({
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: meta(ns, name, allows),
      spec: {
        hosts: [host],
        gateways: ['mesh', gateway],
        exportTo: ['.', gw.namespace],
        ...(http.length ? { http: http.flatMap((p) => [hop(p, 'mesh', gatewayHost(s, gw)), hop(p, gateway, host)]) } : {}),
        ...(tls.length ? { tls: tls.flatMap((p) => [hop(p, 'mesh', gatewayHost(s, gw)), hop(p, gateway, host)]) } : {}),
      },
    });
  }
  return out;
}

// ---------------------------------------------------------------- waypoint (ambient mode)

/** The namespace's waypoint, when some workload of `ns` has L7 rules. */
function waypoints(model: ZeroTrustModel, ns: string, s: IstioSettings): IstioObject[] {
  const l7 = workloadsOf(model, ns).filter((w) => needsWaypoint(model, w, s));
  if (l7.length === 0) return [];
  return [{
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: meta(ns, WAYPOINT_NAME, [`L7 enforcement for the Services ${l7.map((w) => w.name).join(', ')} (see their -l7 AuthorizationPolicies)`], {
      'istio.io/waypoint-for': 'service',
      ...(s.revision ? { 'istio.io/rev': s.revision } : {}),
    }),
    spec: {
      gatewayClassName: 'istio-waypoint',
      listeners: [{ name: 'mesh', port: HBONE_PORT, protocol: 'HBONE' }],
    },
  }];
}

// ---------------------------------------------------------------- NetworkPolicy layer

function istiodPeer(s: IstioSettings, ns: string): NetworkPolicyPeer {
  return peerOf({ type: 'external-workload', namespace: s.rootNamespace, labels: { app: 'istiod', ...(s.revision ? { 'istio.io/rev': s.revision } : {}) } }, ns);
}

function waypointPeer(ns: string, policyNs: string): NetworkPolicyPeer {
  return peerOf({ type: 'external-workload', namespace: ns, labels: { [GATEWAY_NAME_LABEL]: WAYPOINT_NAME } }, policyNs);
}

/** What the NetworkPolicy layer must admit for Istio to work, and nothing more. */
export function networkPolicyOptions(model: ZeroTrustModel, ns: string, s: IstioSettings): NetworkPolicyLayerOptions {
  const rules: NamespaceRule[] = [];
  const hbone = [{ port: HBONE_PORT, protocol: 'TCP' as const }];
  if (s.mode === IstioMode.SIDECAR) {
    rules.push({
      name: 'allow-istiod',
      egress: [{ peers: [istiodPeer(s, ns)], ports: [{ port: ISTIOD_XDS_PORT, protocol: 'TCP' }] }],
      reason: `every pod (its istio-proxy) -> istiod in ${s.rootNamespace} on ${ISTIOD_XDS_PORT}/TCP (configuration and certificates)`,
    });
    // NetworkPolicy cannot name hosts: the workload may reach any address on the host's ports only,
    // and its sidecar (REGISTRY_ONLY + ServiceEntry) narrows that to the declared host.
    const gw = s.egress === IstioEgress.GATEWAY ? s.egressGateway : undefined;
    if (gw) {
      // Host names go through the egress gateway: this layer opens egress to its pods, on the pod ports behind the host's ports.
      const peer = peerOf({ type: 'external-workload', namespace: gw.namespace, labels: gw.labels }, ns);
      return { backend: s.backend, l7EnforcedAbove: true, identityEnforcedAbove: true, fqdnEgress: 'gateway', fqdnGateway: { peer, targetPorts: gw.targetPorts }, namespaceRules: rules };
    }
    return { backend: s.backend, l7EnforcedAbove: true, identityEnforcedAbove: true, fqdnEgress: 'any-address', namespaceRules: rules };
  }

  rules.push({
    name: 'allow-ambient-probes',
    // Kubelet probes are TCP (HTTP, TCP and gRPC checks); UDP from this address stays closed.
    ingress: [{ peers: [{ ipBlock: { cidr: AMBIENT_PROBE_CIDR } }], ports: [{ protocol: 'TCP' }] }],
    reason: `kubelet probes, which ambient mode sends from ${AMBIENT_PROBE_CIDR} -> every pod on TCP`,
  });
  const l7Here = workloadsOf(model, ns).filter((w) => needsWaypoint(model, w, s));
  if (l7Here.length > 0) {
    const viaWaypoint = l7Here.flatMap((w) => inboundFlows(model, w)).filter((f) => isPodEndpoint(f.source));
    rules.push({
      name: 'waypoint-ingress',
      podSelector: { [GATEWAY_NAME_LABEL]: WAYPOINT_NAME },
      ingress: [{ peers: dedupePeers(viaWaypoint.map((f) => peerOf(f.source, ns))), ports: hbone }],
      reason: `declared sources -> waypoint ${ns}/${WAYPOINT_NAME} on ${HBONE_PORT}/TCP (HBONE): ${[...new Set(viaWaypoint.map((f) => endpointKey(f.source)))].sort(compareText).join(', ')}`,
    });
    rules.push({
      name: 'waypoint-egress',
      podSelector: { [GATEWAY_NAME_LABEL]: WAYPOINT_NAME },
      egress: [
        { peers: l7Here.map((w) => peerOf({ type: 'workload', workload: w }, ns)), ports: hbone },
        { peers: [istiodPeer(s, ns)], ports: [{ port: ISTIOD_XDS_PORT, protocol: 'TCP' }] },
      ],
      reason: `waypoint ${ns}/${WAYPOINT_NAME} -> ${l7Here.map((w) => w.name).join(', ')} on ${HBONE_PORT}/TCP, and -> istiod on ${ISTIOD_XDS_PORT}/TCP`,
    });
    for (const w of l7Here) {
      rules.push({
        name: `${w.name}-from-waypoint`,
        podSelector: { ...w.selector },
        ingress: [{ peers: [waypointPeer(ns, ns)], ports: hbone }],
        reason: `waypoint ${ns}/${WAYPOINT_NAME} -> ${ns}/${w.name} on ${HBONE_PORT}/TCP (HBONE)`,
      });
    }
  }
  for (const w of workloadsOf(model, ns)) {
    const targets = outboundFlows(model, w)
      .filter((f) => f.destination.type === 'workload' && needsWaypoint(model, f.destination.workload, s))
      .map((f) => (f.destination as { workload: WorkloadModel }).workload.namespace);
    const nss = [...new Set(targets)].sort(compareText);
    if (nss.length === 0) continue;
    rules.push({
      name: `${w.name}-to-waypoint`,
      podSelector: { ...w.selector },
      egress: [{ peers: nss.map((n) => waypointPeer(n, ns)), ports: hbone }],
      reason: `${ns}/${w.name} -> waypoint of ${nss.join(', ')} on ${HBONE_PORT}/TCP (HBONE), for its flows with HTTP rules`,
    });
  }
  return { backend: s.backend, l7EnforcedAbove: true, identityEnforcedAbove: true, fqdnEgress: 'error', meshPorts: hbone, namespaceRules: rules };
}

function dedupePeers(peers: NetworkPolicyPeer[]): NetworkPolicyPeer[] {
  const m = new Map<string, NetworkPolicyPeer>();
  for (const p of peers) m.set(JSON.stringify(p), p);
  return [...m.entries()].sort(compareEntries).map(([, p]) => p);
}

/** Every Istio object of one namespace (without the NetworkPolicy layer), in a stable order. */
export function istioObjects(model: ZeroTrustModel, ns: string, s: IstioSettings, dns: DnsSpec = {}): IstioObject[] {
  checkIstio(model, ns, s);
  return [
    ...peerAuthentications(model, ns, s),
    ...authorizationPolicies(model, ns, s),
    ...waypoints(model, ns, s),
    ...serviceEntries(model, ns, s),
    ...egressGatewayObjects(model, ns, s),
    ...dnsServiceEntries(ns, s, dns),
    ...sidecars(model, ns, s, dns),
  ];
}
