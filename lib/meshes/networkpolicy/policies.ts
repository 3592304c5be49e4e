/**
 * Pure functions from the model to Kubernetes NetworkPolicy objects (networking.k8s.io/v1).
 * Objects grow with workloads, not edges: one ingress policy per destination workload and one
 * egress policy per source workload, plus `default-deny` and `allow-dns` per namespace.
 */
import { ZeroTrustError } from '../../intent/errors';
import { Weaken } from '../../intent/weaken';
import {
  EndpointModel, FlowModel, ZeroTrustModel, compareText, describeFlow, flowIndex, isPodEndpoint, managedMetadata,
} from '../../intent/model';
import { DnsSpec } from '../../intent/dns';
import { CLUSTER_NETWORKS_ANNOTATION } from '../../intent/networks';

/** The label Kubernetes sets on every namespace to its own name. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** A NetworkPolicy port entry. */
export interface NetworkPolicyPort {
  readonly port?: number | string;
  readonly endPort?: number;
  readonly protocol: 'TCP' | 'UDP';
}

/** A label selector as NetworkPolicy peers write it. */
export interface NetworkPolicySelector {
  readonly matchLabels?: { [key: string]: string };
  readonly matchExpressions?: { key: string; operator: 'In'; values: string[] }[];
}

/** A NetworkPolicy peer entry. */
export interface NetworkPolicyPeer {
  readonly podSelector?: NetworkPolicySelector;
  readonly namespaceSelector?: NetworkPolicySelector;
  readonly ipBlock?: { cidr: string; except?: string[] };
}

/** One ingress or egress rule. */
export interface NetworkPolicyRule {
  readonly peers: NetworkPolicyPeer[];
  /** Empty: every port. */
  readonly ports: NetworkPolicyPort[];
}

/** A rule a mesh adds for every pod of the namespace (control plane, probes), or for some of its pods. */
export interface NamespaceRule {
  /** Object name, e.g. `allow-istio-control-plane`. */
  readonly name: string;
  /**
   * Labels of the pods the rule applies to (mesh proxies such as an Istio waypoint).
   * @default - every pod of the namespace
   */
  readonly podSelector?: { [key: string]: string };
  readonly ingress?: NetworkPolicyRule[];
  readonly egress?: NetworkPolicyRule[];
  /** Why the mesh needs it, written into the allows annotation. */
  readonly reason: string;
}

/** What a mesh running on top of this layer needs beyond the declared flows. */
export interface NetworkPolicyLayerOptions {
  /** Backend id for error messages. */
  readonly backend: string;
  /**
   * Data-plane ports admitted beside the app ports of every flow whose two ends are pods and that
   * has a TCP port (Istio ambient HBONE 15008, Linkerd inbound proxy 4143: both carry TCP only),
   * from the declared sources only.
   */
  readonly meshPorts?: NetworkPolicyPort[];
  /** Namespace-wide policies the mesh needs (control plane egress, probe sources). */
  readonly namespaceRules?: NamespaceRule[];
  /** True when a mesh above enforces the HTTP rules, so this layer renders their ports only. */
  readonly l7EnforcedAbove?: boolean;
  /**
   * How to render egress to a host name. `error` (plain NetworkPolicy): a synth error.
   * `skip`: the mesh above enforces FQDN egress at its own egress point and this layer adds nothing.
   * `any-address`: the workload's own sidecar matches the host name (Kuma MeshPassthrough), so this
   * layer admits egress from that workload to every address (`0.0.0.0/0`, `::/0`) on the flow's ports only.
   * @default 'error'
   */
  readonly fqdnEgress?: 'error' | 'skip' | 'any-address' | 'gateway';
  /**
   * With `fqdnEgress: 'gateway'`: the egress gateway's pods, and the pod port behind each of its
   * Service ports; egress to a host name opens only these, on the mapped ports.
   */
  readonly fqdnGateway?: { readonly peer: NetworkPolicyPeer; readonly targetPorts: { readonly [port: string]: number } };
  /**
   * True when a mesh above authorizes sources by ServiceAccount (Istio principals, Linkerd
   * identities), so this layer may render `Peer.workload({ serviceAccount })` sources by their
   * labels only. Otherwise such a source is a synth error: NetworkPolicy cannot match a
   * ServiceAccount and would admit every pod with the labels.
   * @default false
   */
  readonly identityEnforcedAbove?: boolean;
  /**
   * True when the mesh above also authorizes the sources of the proxy's own ports (metrics) by
   * ServiceAccount (Linkerd's admin server). Istio's 15020/15090 and Kuma's 5670 are outside the
   * mesh's authorization, so there a source with a ServiceAccount is refused like on plain NetworkPolicy.
   * @default false
   */
  readonly proxyIdentityEnforcedAbove?: boolean;
  /**
   * The cluster's pod and Service ranges (the chart's `clusterNetworks`): cut out of the
   * every-address egress opened for host names, so it reaches no pod or Service address directly.
   * @default - none
   */
  readonly clusterNetworks?: readonly string[];
}

/** A NetworkPolicy as plain JSON. */
export interface NetworkPolicyObject {
  readonly apiVersion: 'networking.k8s.io/v1';
  readonly kind: 'NetworkPolicy';
  readonly metadata: { name: string; namespace: string; labels: { [key: string]: string }; annotations: { [key: string]: string } };
  readonly spec: any;
}

/** Every NetworkPolicy of one namespace, in a stable order. */
export function networkPolicies(model: ZeroTrustModel, namespace: string, dns: DnsSpec, options: NetworkPolicyLayerOptions): NetworkPolicyObject[] {
  const out: NetworkPolicyObject[] = [
    policy(namespace, 'default-deny', ['everything is denied unless another policy allows it'], {
      podSelector: {},
      policyTypes: ['Ingress', 'Egress'],
    }),
    policy(namespace, 'allow-dns', ['every pod -> cluster DNS on 53/UDP, 53/TCP'], {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [renderRule('to', { peers: [dnsPeer(dns, namespace)], ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] })],
    }),
  ];
  for (const extra of options.namespaceRules ?? []) {
    const types = [...(extra.ingress?.length ? ['Ingress'] : []), ...(extra.egress?.length ? ['Egress'] : [])];
    out.push(policy(namespace, extra.name, [extra.reason], {
      podSelector: extra.podSelector ? { matchLabels: { ...extra.podSelector } } : {},
      policyTypes: types,
      ...(extra.ingress?.length ? { ingress: extra.ingress.map((r) => renderRule('from', r)) } : {}),
      ...(extra.egress?.length ? { egress: extra.egress.map((r) => renderRule('to', r)) } : {}),
    }));
  }

  const index = flowIndex(model);
  for (const w of model.workloads.filter((x) => x.namespace === namespace)) {
    const inbound = index.inbound.get(w) ?? [];
    if (inbound.length > 0) {
      const rules = inbound.map((f) => ({ peers: [peerOf(f.source, namespace)], ports: portsOf(f, options) }));
      out.push(policy(namespace, `${w.name}-ingress`, inbound.map(describeFlow), {
        podSelector: { matchLabels: { ...w.selector } },
        policyTypes: ['Ingress'],
        ingress: mergeRules(rules).map((r) => renderRule('from', r)),
      }));
    }
    const anyAddressForFqdn = options.fqdnEgress === 'any-address';
    const gateway = options.fqdnEgress === 'gateway' ? options.fqdnGateway : undefined;
    const outbound = (index.outbound.get(w) ?? []).filter((f) => f.destination.type !== 'fqdn' || anyAddressForFqdn || gateway);
    if (outbound.length > 0) {
      const anyAddress = anyAddressPeers(options.clusterNetworks ?? []);
      const rules = outbound.map((f) => {
        if (f.destination.type === 'fqdn' && gateway) {
          return { peers: [gateway.peer], ports: f.ports.map((p): NetworkPolicyPort => ({ port: gateway.targetPorts[String(p.number)] ?? p.number, protocol: 'TCP' })) };
        }
        return { peers: f.destination.type === 'fqdn' ? anyAddress : [peerOf(f.destination, namespace)], ports: portsOf(f, options) };
      });
      const egress = policy(namespace, `${w.name}-egress`, outbound.map(describeFlow), {
        podSelector: { matchLabels: { ...w.selector } },
        policyTypes: ['Egress'],
        egress: mergeRules(rules).map((r) => renderRule('to', r)),
      });
      // Says which excepts of the every-address blocks are the cluster's own (for readers and reviewers).
      const excepted = options.clusterNetworks ?? [];
      if (excepted.length > 0 && !gateway && outbound.some((f) => f.destination.type === 'fqdn')) egress.metadata.annotations[CLUSTER_NETWORKS_ANNOTATION] = excepted.join(',');
      out.push(egress);
    }
  }
  return out;
}

/**
 * Every IPv4 and IPv6 address but the cluster's own ranges: egress to a host name whose address
 * only the mesh above knows.
 */
function anyAddressPeers(clusterNetworks: readonly string[]): NetworkPolicyPeer[] {
  return (['0.0.0.0/0', '::/0'] as const).map((cidr) => {
    const except = clusterNetworks.filter((n) => n.includes(':') === cidr.includes(':') && n !== cidr);
    return { ipBlock: { cidr, ...(except.length ? { except } : {}) } };
  });
}

/** Throws for flows of the namespace that this layer cannot express (HTTP rules without an L7 mesh, host names). */
export function checkExpressible(model: ZeroTrustModel, namespace: string, options: NetworkPolicyLayerOptions): void {
  for (const f of model.flows) {
    const touches = (e: EndpointModel) => e.type === 'workload' && e.workload.namespace === namespace;
    if (!touches(f.source) && !touches(f.destination)) continue;
    if (f.http.length > 0 && !options.l7EnforcedAbove) {
      throw new ZeroTrustError({ code: 'HTTP_RULES_NOT_ENFORCEABLE', weaken: Weaken.HTTP_TO_PORT, backend: options.backend, rule: f.declaredAt, workload: f.declaredBy, message: `${f.declaredAt}: NetworkPolicy cannot match HTTP methods or paths; drop the http rule or use a mesh that enforces L7 (Istio, Linkerd, Cilium)` });
    }
    if (f.proxy && f.source.type === 'external-workload' && f.source.serviceAccount !== undefined && touches(f.destination) && !options.proxyIdentityEnforcedAbove) {
      throw new ZeroTrustError({ code: 'SERVICE_ACCOUNT_NOT_ENFORCEABLE', backend: options.backend, rule: f.declaredAt, workload: f.declaredBy, message: `${f.declaredAt}: the proxy's metrics ports (${f.ports.map((p) => p.toString()).join(', ')}) are outside the ${options.backend} backend's authorization, so only NetworkPolicy admits the scraper there, and it cannot match the ServiceAccount "${f.source.serviceAccount}"; give the scraper by labels only (Peer.workload() without serviceAccount)${options.backend === 'istio' ? ': with Istio\'s metrics merging the app\'s metrics are served on 15020 too, so appPort is not needed' : ''}` });
    }
    if (f.source.type === 'external-workload' && f.source.serviceAccount !== undefined && touches(f.destination) && !options.identityEnforcedAbove) {
      throw new ZeroTrustError({ code: 'SERVICE_ACCOUNT_NOT_ENFORCEABLE', weaken: Weaken.IDENTITY_TO_LABELS, backend: options.backend, rule: f.declaredAt, workload: f.declaredBy, message: `${f.declaredAt}: NetworkPolicy cannot match a ServiceAccount, so every pod with the labels would be admitted whatever it runs as; drop serviceAccount from Peer.workload() and give labels only those pods carry, or use a mesh that authorizes by identity (Istio, Linkerd, Cilium)` });
    }
    const udp = f.ports.filter((p) => p.protocol === 'UDP');
    if (f.source.type === 'external-workload' && f.source.serviceAccount !== undefined && touches(f.destination) && options.identityEnforcedAbove && udp.length > 0) {
      throw new ZeroTrustError({ code: 'UDP_IDENTITY_NOT_ENFORCEABLE', weaken: Weaken.IDENTITY_TO_LABELS, backend: options.backend, rule: f.declaredAt, workload: f.declaredBy, message: `${f.declaredAt}: the mesh does not carry UDP, so the ServiceAccount "${f.source.serviceAccount}" cannot be checked on ${udp.map((p) => p.toString()).join(', ')} and NetworkPolicy would admit every pod with the labels; admit those ports from Peer.namespace() or Peer.ipBlock() in a separate rule, or drop them` });
    }
    if (f.destination.type === 'external-workload' && f.destination.serviceAccount !== undefined && touches(f.source)) {
      throw new ZeroTrustError({ code: 'DESTINATION_SERVICE_ACCOUNT_NOT_ENFORCEABLE', weaken: Weaken.IDENTITY_TO_LABELS, backend: options.backend, rule: f.declaredAt, workload: f.declaredBy, message: `${f.declaredAt}: the ServiceAccount of a destination outside the app cannot be enforced (NetworkPolicy matches labels, and a mesh authorizes at the destination, which this app does not configure); drop serviceAccount from Peer.workload() in allowTo and give labels only those pods carry` });
    }
    if (f.destination.type === 'fqdn' && (options.fqdnEgress ?? 'error') === 'error') {
      throw new ZeroTrustError({ code: 'FQDN_NOT_ENFORCEABLE', weaken: Weaken.HOST_TO_PORT, backend: options.backend, rule: f.declaredAt, workload: f.declaredBy, message: `${f.declaredAt}: NetworkPolicy cannot match host names; use Peer.ipBlock() or a mesh with FQDN egress (Cilium, Istio)` });
    }
  }
}

function policy(namespace: string, name: string, allows: string[], spec: any): NetworkPolicyObject {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: managedMetadata(name, namespace, allows) as NetworkPolicyObject['metadata'],
    spec,
  };
}

/** The one peer element for an endpoint: namespace AND pods in a single element, never two. */
export function peerOf(e: EndpointModel, policyNamespace: string): NetworkPolicyPeer {
  const nsSelector = (ns: string) => (ns === policyNamespace ? {} : { namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: ns } } });
  switch (e.type) {
    case 'workload': return { ...nsSelector(e.workload.namespace), podSelector: { matchLabels: { ...e.workload.selector } } };
    case 'external-workload': return { ...nsSelector(e.namespace), podSelector: { matchLabels: { ...e.labels } } };
    case 'namespace': return { namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: e.namespace } } };
    case 'ip-block': return { ipBlock: { cidr: e.cidr, ...(e.except.length ? { except: [...e.except] } : {}) } };
    case 'fqdn': throw new ZeroTrustError({ code: 'FQDN_NOT_ENFORCEABLE', message: `host name ${e.host} has no NetworkPolicy peer` });
  }
}

function dnsPeer(dns: DnsSpec, namespace: string): NetworkPolicyPeer {
  if (dns.cidr) return { ipBlock: { cidr: dns.cidr } };
  return peerOf({ type: 'external-workload', namespace: dns.namespace!, labels: dns.labels! }, namespace);
}

function portsOf(f: FlowModel, options: NetworkPolicyLayerOptions): NetworkPolicyPort[] {
  if (f.ports.length === 0) return [];
  const app: NetworkPolicyPort[] = f.ports.map((p) => ({ port: p.number, ...(p.endPort !== undefined ? { endPort: p.endPort } : {}), protocol: p.protocol }));
  // The proxy's own ports (metrics) are reached directly, not through the mesh's tunnel.
  if (f.proxy) return app;
  const podToPod = isPodEndpoint(f.source) && isPodEndpoint(f.destination);
  // The mesh tunnels (HBONE, Linkerd's inbound proxy) carry TCP only: a UDP-only flow opens no mesh port.
  const tcp = f.ports.some((p) => p.protocol === 'TCP');
  return podToPod && tcp && options.meshPorts ? [...app, ...options.meshPorts] : app;
}

const portKey = (p: NetworkPolicyPort) => `${typeof p.port === 'number' ? String(p.port).padStart(5, '0') : p.port ?? ''}-${p.endPort ?? ''}/${p.protocol}`;

/**
 * Merges rules with the same port set into one rule, de-duplicates and sorts peers and ports, and
 * folds peers that name pods by one label in the same namespace into one `In` peer (see foldPeers).
 */
function mergeRules(rules: NetworkPolicyRule[]): NetworkPolicyRule[] {
  const byPorts = new Map<string, { ports: NetworkPolicyPort[]; peers: Map<string, NetworkPolicyPeer> }>();
  for (const r of rules) {
    const { ports, key } = dedupePorts(r.ports);
    const entry = byPorts.get(key) ?? { ports, peers: new Map() };
    for (const p of r.peers) entry.peers.set(JSON.stringify(p), p);
    byPorts.set(key, entry);
  }
  return [...byPorts.entries()]
    .sort(([a], [b]) => compareText(a, b))
    .map(([, e]) => ({ ports: e.ports, peers: foldPeers([...e.peers.values()]) }));
}

/**
 * Peers that select pods by a single label with the same key, in the same namespace part, become
 * one peer whose podSelector says `key In [values]`: the same pods in one element instead of one
 * element each (a namespace with five allowed workloads is one peer, not five). Other peers are
 * kept as they are. Sorted by their JSON text, values sorted, so the output is stable.
 */
export function foldPeers(peers: NetworkPolicyPeer[]): NetworkPolicyPeer[] {
  if (peers.length === 1) return peers; // most egress rules: nothing to fold or sort
  const kept = new Map<string, NetworkPolicyPeer>();
  const groups = new Map<string, { namespaceSelector?: NetworkPolicySelector; key: string; values: Set<string> }>();
  for (const p of peers) {
    const labels = Object.entries(p.podSelector?.matchLabels ?? {});
    if (p.ipBlock || !p.podSelector || p.podSelector.matchExpressions || labels.length !== 1) {
      kept.set(JSON.stringify(p), p);
      continue;
    }
    const [key, value] = labels[0];
    const groupKey = `${JSON.stringify(p.namespaceSelector ?? null)} ${key}`;
    const group = groups.get(groupKey) ?? { ...(p.namespaceSelector ? { namespaceSelector: p.namespaceSelector } : {}), key, values: new Set<string>() };
    group.values.add(value);
    groups.set(groupKey, group);
  }
  for (const g of groups.values()) {
    const values = [...g.values].sort(compareText);
    const podSelector: NetworkPolicySelector = values.length === 1
      ? { matchLabels: { [g.key]: values[0] } }
      : { matchExpressions: [{ key: g.key, operator: 'In', values }] };
    const peer: NetworkPolicyPeer = { ...(g.namespaceSelector ? { namespaceSelector: g.namespaceSelector } : {}), podSelector };
    kept.set(JSON.stringify(peer), peer);
  }
  return [...kept.entries()].sort(([a], [b]) => compareText(a, b)).map(([, p]) => p);
}

/** Ports de-duplicated and sorted, and their key (`*` for every port). */
function dedupePorts(ports: NetworkPolicyPort[]): { ports: NetworkPolicyPort[]; key: string } {
  if (ports.length === 0) return { ports, key: '*' };
  if (ports.length === 1) return { ports, key: portKey(ports[0]) };
  const m = new Map<string, NetworkPolicyPort>();
  for (const p of ports) m.set(portKey(p), p);
  const sorted = [...m.entries()].sort(([a], [b]) => compareText(a, b));
  return { ports: sorted.map(([, p]) => p), key: sorted.map(([k]) => k).join(',') };
}

/** Renders a rule as an ingress (`from`) or egress (`to`) entry. */
function renderRule(key: 'from' | 'to', r: NetworkPolicyRule): any {
  // TCP is what Kubernetes assumes without a protocol, and the allows annotation names it in
  // words: a TCP port number stands alone. UDP, and "every TCP port" (no number), are written out.
  const ports = r.ports.length ? {
    ports: r.ports.map((p) => ({
      ...(p.port !== undefined ? { port: p.port } : {}),
      ...(p.endPort !== undefined ? { endPort: p.endPort } : {}),
      ...(p.protocol !== 'TCP' || p.port === undefined ? { protocol: p.protocol } : {}),
    })),
  } : {};
  return { [key]: r.peers, ...ports };
}

