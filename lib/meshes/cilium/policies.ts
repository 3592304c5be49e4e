/**
 * Pure functions from the model to `cilium.io/v2` CiliumNetworkPolicy objects.
 *
 * Per namespace: one baseline `default-deny` that puts every pod into default deny in both
 * directions (`enableDefaultDeny`) and keeps DNS to the cluster DNS open, plus one policy per
 * workload, named after it, with an ingress section (who may reach it) and an egress section
 * (what it may reach). No Kubernetes NetworkPolicy is emitted: Cilium enforces these policies
 * itself at L3/L4 (eBPF) and L7 (its Envoy proxy).
 *
 * Cilium semantics this relies on (checked against upstream, see docs/backends/cilium.md):
 * - A policy's `endpointSelector` only selects pods of the policy's namespace; a `fromEndpoints`/
 *   `toEndpoints` selector without `k8s:io.kubernetes.pod.namespace` means the policy's namespace.
 * - Default deny is per direction: a policy with rules in a direction closes that direction for
 *   the pods it selects (`enableDefaultDeny` can only turn that off; set without rules it has no
 *   effect). An empty rule `{}` is NOT "nothing": its L3 is a wildcard, so it allows everything.
 *   The baseline closes ingress with a rule from the entity `none`, which selects nothing.
 * - `toFQDNs` only learns addresses from DNS answers the DNS proxy saw, so every pod's DNS goes
 *   through the proxy (`rules.dns`); it may resolve any name (see `baseline`), and connections to
 *   host names are allowed by `toFQDNs` only.
 */
import { DnsSpec } from '../../intent/dns';
import { ZeroTrustError } from '../../intent/errors';
import { Weaken } from '../../intent/weaken';
import {
  EndpointModel, FlowModel, WorkloadModel, ZeroTrustModel, describeFlow, endpointKey, flowIndex, managedMetadata,
} from '../../intent/model';
import { Port, Protocol } from '../../intent/port';
import { byteOrder, ciliumHttpRules, CiliumHttpRule } from './http';
import { compareText } from '../../intent/collation';

/** Cilium's label for the pod's namespace (source `k8s`). */
const CILIUM_NAMESPACE_LABEL = 'k8s:io.kubernetes.pod.namespace';
/** Cilium's label for the pod's ServiceAccount (source `k8s`). */
const CILIUM_SERVICE_ACCOUNT_LABEL = 'k8s:io.cilium.k8s.policy.serviceaccount';
/** Namespace label that enrolls a namespace's pods in Cilium's ztunnel mTLS (Cilium 1.20+). */
export const ZTUNNEL_NAMESPACE_LABEL = 'io.cilium/mtls-enabled';
/** The ztunnel HBONE port: between enrolled pods, Cilium sees only this port. */
const HBONE_PORT = 15008;

/** How traffic between pods is authenticated. */
export type AuthMode = 'spire' | 'ztunnel' | 'none';

/** What the policy functions need beyond the model. */
export interface CiliumPolicyOptions {
  /** Backend id for error messages. */
  readonly backend: string;
  /** How pod-to-pod traffic is authenticated. */
  readonly auth: AuthMode;
}

/** A CiliumNetworkPolicy as plain JSON. */
export interface CiliumNetworkPolicyObject {
  readonly apiVersion: 'cilium.io/v2';
  readonly kind: 'CiliumNetworkPolicy';
  readonly metadata: { name: string; namespace: string; labels: { [key: string]: string }; annotations: { [key: string]: string } };
  readonly spec: any;
}

interface PortProtocol { port: string; endPort?: number; protocol: 'TCP' | 'UDP' }
interface PortRule { ports: PortProtocol[]; rules?: { http?: CiliumHttpRule[]; dns?: DnsMatch[] } }
interface DnsMatch { matchName?: string; matchPattern?: string }

/** One rule before merging: a single peer, its ports and conditions. */
interface RuleDraft {
  /** `fromEndpoints`/`toEndpoints`, `fromCIDRSet`/`toCIDRSet` or `toFQDNs`. */
  readonly peerKey: 'Endpoints' | 'CIDRSet' | 'FQDNs';
  readonly peer: any;
  readonly toPorts?: PortRule[];
  readonly auth: boolean;
}

/** Every CiliumNetworkPolicy of one namespace, in a stable order. */
export function ciliumPolicies(model: ZeroTrustModel, namespace: string, dns: DnsSpec, options: CiliumPolicyOptions): CiliumNetworkPolicyObject[] {
  checkCilium(model, namespace, dns, options);
  const workloads = model.workloads.filter((w) => w.namespace === namespace);
  const out: CiliumNetworkPolicyObject[] = [baseline(namespace, dns)];
  for (const w of workloads) {
    const p = workloadPolicy(model, w, options);
    if (p) out.push(p);
  }
  return out;
}

/**
 * The namespace baseline: every pod in default deny both ways; DNS open for any name through
 * Cilium's DNS proxy. The DNS rule must let a pod resolve everything it may reach: its in-cluster
 * peers (`ledger.payments.svc.cluster.local`) and, with `ndots:5`, every search-list candidate of
 * an external name (`api.stripe.com.shop.svc.cluster.local` first). A DNS rule listing only the
 * external names makes the proxy answer REFUSED to the rest, and resolvers such as musl stop at
 * the first REFUSED (cilium/cilium#11034). Connections stay gated by `toFQDNs`, which only
 * learns the addresses of the names allowed there; `matchPattern: "*"` is what upstream's FQDN
 * examples use on the DNS rule too.
 */
function baseline(namespace: string, dns: DnsSpec): CiliumNetworkPolicyObject {
  return policy(namespace, 'default-deny', [
    'every pod: default deny for ingress and egress (ingress from the entity "none" only, which never exists)',
    'every pod -> cluster DNS on 53/UDP, 53/TCP (any name)',
  ], {
    endpointSelector: {},
    enableDefaultDeny: { ingress: true, egress: true },
    // Cilium derives default deny from the rules of a direction: enableDefaultDeny alone, without
    // an ingress rule, does not close ingress (cilium#35558). The entity "none" never exists, so
    // this rule closes ingress and allows nothing; `{}` here would allow everything.
    ingress: [{ fromEntities: ['none'] }],
    egress: [dnsRule(dns, [{ matchPattern: '*' }])],
  });
}

/** The policy of one workload, or none when it has no flows (the baseline closes it). */
function workloadPolicy(model: ZeroTrustModel, w: WorkloadModel, options: CiliumPolicyOptions): CiliumNetworkPolicyObject | undefined {
  const inbound = [...(flowIndex(model).inbound.get(w) ?? [])];
  const outbound = [...(flowIndex(model).outbound.get(w) ?? [])];
  if (inbound.length === 0 && outbound.length === 0) return undefined;

  const ingress = mergeRules(inbound.map((f) => draft(f, 'ingress', w.namespace, options))).map((r) => render('from', r));
  const egress = mergeRules(outbound.map((f) => draft(f, 'egress', w.namespace, options))).map((r) => render('to', r));
  const allows = [...inbound, ...outbound].map(describeFlow);
  return policy(w.namespace, w.name, allows, {
    endpointSelector: { matchLabels: { ...w.selector } },
    enableDefaultDeny: { ingress: true, egress: true },
    // Without inbound flows: closed by a rule from "none" (needed when the baseline leaves it out).
    ingress: ingress.length ? ingress : [{ fromEntities: ['none'] }],
    ...(egress.length ? { egress } : {}),
  });
}

/** `api.example.com` -> matchName; `*.example.com` -> matchPattern (one label deep, as in Cilium). */
function fqdnMatch(host: string): DnsMatch {
  return host.startsWith('*.') ? { matchPattern: host } : { matchName: host };
}

/** Egress to the cluster DNS on 53/UDP and 53/TCP through Cilium's DNS proxy, for the given names. */
function dnsRule(dns: DnsSpec, names: DnsMatch[]): any {
  const labels: { [key: string]: string } = { [CILIUM_NAMESPACE_LABEL]: dns.namespace! };
  for (const [k, v] of Object.entries(dns.labels ?? {})) labels[`k8s:${k}`] = v;
  return {
    toEndpoints: [{ matchLabels: sortKeys(labels) }],
    toPorts: [{ ports: [{ port: '53', protocol: 'UDP' }, { port: '53', protocol: 'TCP' }], rules: { dns: names } }],
  };
}

/** The rule of one flow, seen from the workload whose policy it goes into. */
function draft(f: FlowModel, direction: 'ingress' | 'egress', namespace: string, options: CiliumPolicyOptions): RuleDraft {
  const peer = direction === 'ingress' ? f.source : f.destination;
  const podPeer = peer.type === 'workload' || peer.type === 'external-workload' || peer.type === 'namespace';
  // L7 is enforced once: at the destination's ingress when it is a workload of this app, else at the source's egress.
  const l7Here = direction === 'ingress' || f.destination.type !== 'workload';
  const ports = portsOf(f, options);
  const http = l7Here && f.http.length > 0 ? ciliumHttpRules(f.http) : undefined;
  const toPorts = ports.length ? [{ ports, ...(http ? { rules: { http } } : {}) }] : undefined;
  const auth = options.auth === 'spire' && podPeer;
  switch (peer.type) {
    case 'workload':
    case 'external-workload':
    case 'namespace':
      return { peerKey: 'Endpoints', peer: endpointSelectorOf(peer, namespace), toPorts, auth };
    case 'ip-block':
      return { peerKey: 'CIDRSet', peer: { cidr: peer.cidr, ...(peer.except.length ? { except: [...peer.except] } : {}) }, toPorts, auth };
    case 'fqdn':
      return { peerKey: 'FQDNs', peer: fqdnMatch(peer.host), toPorts, auth };
  }
}

/**
 * The Cilium endpoint selector of a pod peer. Cross-namespace peers carry the namespace label;
 * peers with a known ServiceAccount are pinned to it.
 */
function endpointSelectorOf(e: EndpointModel, policyNamespace: string): { matchLabels: { [key: string]: string } } {
  const ns = (name: string): { [key: string]: string } => (name === policyNamespace ? {} : { [CILIUM_NAMESPACE_LABEL]: name });
  switch (e.type) {
    case 'workload':
      return { matchLabels: sortKeys({ ...e.workload.selector, ...ns(e.workload.namespace), [CILIUM_SERVICE_ACCOUNT_LABEL]: e.workload.serviceAccount }) };
    case 'external-workload':
      return { matchLabels: sortKeys({ ...e.labels, ...ns(e.namespace), ...(e.serviceAccount ? { [CILIUM_SERVICE_ACCOUNT_LABEL]: e.serviceAccount } : {} as { [key: string]: string }) }) };
    case 'namespace':
      return { matchLabels: { [CILIUM_NAMESPACE_LABEL]: e.namespace } };
    case 'ip-block':
    case 'fqdn':
      throw new ZeroTrustError({ code: 'CILIUM_NOT_ENFORCEABLE', message: `${e.type} has no Cilium endpoint selector` });
  }
}

function portsOf(f: FlowModel, options: CiliumPolicyOptions): PortProtocol[] {
  const app = f.ports.map(portOf);
  const bothEnrolled = f.source.type === 'workload' && f.destination.type === 'workload';
  if (options.auth === 'ztunnel' && bothEnrolled) {
    // Between enrolled pods Cilium sees ztunnel's HBONE port; the app ports stay for pods not yet enrolled.
    return [...app, { port: String(HBONE_PORT), protocol: 'TCP' }];
  }
  return app;
}

function portOf(p: Port): PortProtocol {
  return { port: String(p.number), ...(p.endPort !== undefined ? { endPort: p.endPort } : {}), protocol: p.protocol === Protocol.UDP ? 'UDP' : 'TCP' };
}

/** Merges drafts that differ only in their peer into one rule with several peers; sorts. */
function mergeRules(drafts: RuleDraft[]): RuleDraft[] {
  const groups = new Map<string, { first: RuleDraft; peers: Map<string, any> }>();
  for (const d of drafts) {
    const key = `${d.peerKey}|${d.auth}|${JSON.stringify(sortPortRules(d.toPorts))}`;
    const g = groups.get(key) ?? { first: { ...d, toPorts: sortPortRules(d.toPorts) }, peers: new Map() };
    g.peers.set(JSON.stringify(d.peer), d.peer);
    groups.set(key, g);
  }
  return [...groups.entries()]
    .map(([, g]) => ({ ...g.first, peer: [...g.peers.entries()].sort(([a], [b]) => byteOrder(a, b)).map(([, p]) => p) }))
    .sort((a, b) => byteOrder(JSON.stringify([a.peerKey, a.peer, a.toPorts ?? null]), JSON.stringify([b.peerKey, b.peer, b.toPorts ?? null])));
}

function sortPortRules(rules: PortRule[] | undefined): PortRule[] | undefined {
  if (!rules) return undefined;
  return rules.map((r) => ({ ...r, ports: [...r.ports].sort((a, b) => Number(a.port) - Number(b.port) || byteOrder(a.protocol, b.protocol)) }));
}

function render(prefix: 'from' | 'to', r: RuleDraft): any {
  return {
    [`${prefix}${r.peerKey}`]: r.peer,
    ...(r.toPorts ? { toPorts: r.toPorts } : {}),
    ...(r.auth ? { authentication: { mode: 'required' } } : {}),
  };
}

/** Throws for intent Cilium cannot enforce in this namespace (run before anything is emitted). */
export function checkCilium(model: ZeroTrustModel, namespace: string, dns: DnsSpec, options: CiliumPolicyOptions): void {
  if (dns.cidr || !dns.namespace || !dns.labels) {
    throw new ZeroTrustError({ code: 'CILIUM_DNS_NEEDS_PODS', backend: options.backend, message: `namespace ${namespace}: Cilium needs the DNS pods selected by labels (Dns.kubeDns() or Dns.pods()) so its DNS proxy can filter names; for NodeLocal DNSCache use a Cilium Local Redirect Policy to the DNS pods and keep Dns.kubeDns()` });
  }
  const clash = model.workloads.find((w) => w.namespace === namespace && w.name === 'default-deny');
  if (clash) {
    throw new ZeroTrustError({ code: 'RESERVED_WORKLOAD_NAME', backend: options.backend, message: `namespace ${namespace}: a workload named "default-deny" would share its CiliumNetworkPolicy name with the namespace baseline; rename the workload` });
  }
  for (const f of model.flows) {
    const mine = (e: EndpointModel) => e.type === 'workload' && e.workload.namespace === namespace;
    if (!mine(f.source) && !mine(f.destination)) continue;
    for (const e of [f.source, f.destination]) {
      // Peers are selected by Cilium's ServiceAccount label, whose value (like every label value) is at most 63 characters.
      const sa = e.type === 'workload' ? e.workload.serviceAccount : e.type === 'external-workload' ? e.serviceAccount : undefined;
      if (sa !== undefined && sa.length > 63) {
        throw new ZeroTrustError({
          code: 'CILIUM_LABEL_VALUE_TOO_LONG', backend: options.backend, namespace, workload: f.declaredBy, rule: f.declaredAt,
          message: `${f.declaredAt}: Cilium selects ${endpointKey(e)} by the label ${CILIUM_SERVICE_ACCOUNT_LABEL}=${sa}, but a label value is at most 63 characters (the ServiceAccount name has ${sa.length}), so the API server would reject the policy; use a shorter ServiceAccount name`,
        });
      }
    }
    if (options.auth === 'ztunnel' && f.source.type === 'workload' && f.destination.type === 'workload') {
      const dst = f.destination.workload;
      const where = f.declaredAt;
      const about = { backend: options.backend, namespace, workload: f.declaredBy, rule: f.declaredAt };
      if (f.http.length > 0) {
        throw new ZeroTrustError({ code: 'HTTP_RULES_NOT_ENFORCEABLE', weaken: Weaken.HTTP_TO_PORT, ...about, message: `${where}: with CiliumMutualAuth.ZTUNNEL the traffic between enrolled pods is encrypted by ztunnel before Cilium's proxy could read it, so HTTP rules cannot be enforced; drop the http rule or use CiliumMutualAuth.SPIRE` });
      }
      const udp = f.ports.filter((p) => p.protocol === Protocol.UDP);
      if (udp.length > 0) {
        throw new ZeroTrustError({ code: 'UDP_NOT_ENCRYPTED', ...about, message: `${where}: ztunnel carries TCP only, so ${udp.map((p) => p.toString()).join(', ')} would flow unauthenticated and unencrypted; use CiliumMutualAuth.SPIRE for UDP` });
      }
      const missing = dst.ports.filter((d) => !f.ports.some((p) => p.number === d.number && p.protocol === d.protocol));
      if (missing.length > 0) {
        throw new ZeroTrustError({ code: 'PORTS_NOT_ENFORCEABLE', weaken: Weaken.PORTS_TO_CONNECTION, ...about, message: `${where}: with CiliumMutualAuth.ZTUNNEL Cilium sees only the HBONE port ${HBONE_PORT} between enrolled pods, so it cannot allow ${f.ports.map((p) => p.toString()).join(', ')} while keeping ${missing.map((p) => p.toString()).join(', ')} of ${dst.namespace}/${dst.name} closed; allow all its ports or use CiliumMutualAuth.SPIRE` });
      }
    }
  }
}

function policy(namespace: string, name: string, allows: string[], spec: any): CiliumNetworkPolicyObject {
  return {
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumNetworkPolicy',
    metadata: managedMetadata(name, namespace, allows),
    spec,
  };
}

function sortKeys<T>(o: { [key: string]: T }): { [key: string]: T } {
  const out: { [key: string]: T } = {};
  for (const k of Object.keys(o).sort(compareText)) out[k] = o[k];
  return out;
}
