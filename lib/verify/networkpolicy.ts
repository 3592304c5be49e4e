/**
 * Kubernetes NetworkPolicy (networking.k8s.io/v1) semantics over a set of manifests.
 *
 * A pod is isolated for ingress (egress) when some policy of its namespace selects it and has
 * Ingress (Egress) in its policyTypes; a connection is allowed when the source is not isolated
 * for egress or some egress rule of a selecting policy admits the destination and port, AND the
 * destination is not isolated for ingress or some ingress rule admits the source and port.
 * `ip` and `fqdn` endpoints are never isolated; ipBlock peers match `ip` endpoints, and an `fqdn`
 * only when the block holds every address (`0.0.0.0/0` or `::/0` without excepts: whatever the
 * name resolves to); pod selectors match only `pod` endpoints.
 */
import { ParsedCidr, cidrContains, normalizeCidr, parseCidr, parseIp } from '../intent/cidr';
import { CLUSTER_NETWORKS_ANNOTATION } from '../intent/networks';
import { NAMESPACE_NAME_LABEL, NamespaceInfo, implicitNamespace, inventory, namespaceOfObject } from './inventory';
import { AnyManifest, ManifestError, manifestOf, originOf } from './manifests';
import { EndpointIndex, PortSet, PrefilterScope, RulePorts, SideRule, SidedLayer, SidedPrefilter } from './prefilter';
import { Decision, DecidingObject, DecisionEffect, Endpoint, PolicyEvaluator, Query, decision, objectName } from './types';

/** A Kubernetes label selector. */
export interface LabelSelector {
  readonly matchLabels?: { [key: string]: string } | null;
  readonly matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> | null;
}

/** True when `labels` satisfy the selector (`{}` matches everything; both parts must hold). */
export function selectorMatches(selector: LabelSelector | null | undefined, labels: { [key: string]: string } | undefined): boolean {
  const l = labels ?? {};
  const matchLabels = selector?.matchLabels;
  // A loop over the keys, not Object.entries: readers match selectors millions of times.
  if (matchLabels) {
    for (const k in matchLabels) {
      if (Object.prototype.hasOwnProperty.call(matchLabels, k) && l[k] !== matchLabels[k]) return false;
    }
  }
  for (const e of selector?.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(l, e.key);
    switch (e.operator) {
      case 'In': if (!has || !(e.values ?? []).includes(l[e.key])) return false; break;
      case 'NotIn': if (has && (e.values ?? []).includes(l[e.key])) return false; break;
      case 'Exists': if (!has) return false; break;
      case 'DoesNotExist': if (has) return false; break;
      default: return false; // an unknown operator is invalid; Kubernetes would reject the object
    }
  }
  return true;
}

interface CompiledIpBlock {
  readonly cidr: ParsedCidr;
  readonly except: ParsedCidr[];
  /**
   * True when the block surely holds a host name's address: every address (`0.0.0.0/0`, `::/0`)
   * minus, at most, ranges the policy names as the cluster's own (see `CLUSTER_NETWORKS_ANNOTATION`).
   */
  readonly anyHost: boolean;
}


interface CompiledPeer {
  readonly podSelector?: LabelSelector;
  readonly namespaceSelector?: LabelSelector;
  readonly ipBlock?: CompiledIpBlock;
}

interface CompiledPort {
  readonly port?: number | string;
  readonly endPort?: number;
  readonly protocol: string;
}

interface CompiledRule {
  /** Undefined: every peer. */
  readonly peers?: CompiledPeer[];
  /** Undefined: every port. */
  readonly ports?: CompiledPort[];
}

/** A NetworkPolicy ready to evaluate. */
export interface CompiledPolicy {
  /** `namespace/name`. */
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly origin: string;
  readonly podSelector: LabelSelector;
  readonly ingressType: boolean;
  readonly egressType: boolean;
  readonly ingress: CompiledRule[];
  readonly egress: CompiledRule[];
  /** The raw object. */
  readonly spec: any;
}

/** True for a `networking.k8s.io/v1` NetworkPolicy. */
export function isNetworkPolicy(m: { apiVersion: string; kind: string }): boolean {
  return m.apiVersion === 'networking.k8s.io/v1' && m.kind === 'NetworkPolicy';
}

/** Parses the NetworkPolicies of a set of manifests; throws `ManifestError` on malformed ones. */
export function compileNetworkPolicies(manifests: readonly AnyManifest[]): CompiledPolicy[] {
  const out: CompiledPolicy[] = [];
  for (const src of manifests) {
    const m = manifestOf(src);
    if (!isNetworkPolicy(m)) continue;
    const namespace = namespaceOfObject(m)!;
    const where = `${originOf(src)} (NetworkPolicy ${namespace}/${m.metadata.name})`;
    const spec = m.spec ?? {};
    const clusterNetworks = clusterNetworksOf(m.metadata?.annotations?.[CLUSTER_NETWORKS_ANNOTATION], where);
    const ingress = asList(spec.ingress, `${where} spec.ingress`);
    const egress = asList(spec.egress, `${where} spec.egress`);
    let types: string[];
    if (Array.isArray(spec.policyTypes) && spec.policyTypes.length > 0) {
      types = spec.policyTypes;
    } else {
      // Kubernetes defaulting: Ingress always, Egress when there are egress rules.
      types = ['Ingress', ...(egress.length > 0 ? ['Egress'] : [])];
    }
    for (const t of types) {
      if (t !== 'Ingress' && t !== 'Egress') throw new ManifestError(`${where}: unknown policyType "${t}"`);
    }
    out.push({
      id: `${namespace}/${m.metadata.name}`,
      namespace,
      name: m.metadata.name,
      origin: where,
      podSelector: spec.podSelector ?? {},
      ingressType: types.includes('Ingress'),
      egressType: types.includes('Egress'),
      ingress: ingress.map((r, i) => compileRule(r, 'from', `${where} spec.ingress[${i}]`, clusterNetworks)),
      egress: egress.map((r, i) => compileRule(r, 'to', `${where} spec.egress[${i}]`, clusterNetworks)),
      spec,
    });
  }
  return out;
}

function asList(v: unknown, where: string): any[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new ManifestError(`${where}: expected a list`);
  return v;
}

/** The normalized ranges of a cluster-networks annotation (absent: none). */
function clusterNetworksOf(text: unknown, where: string): Set<string> {
  if (text === undefined || text === null) return new Set();
  if (typeof text !== 'string') throw new ManifestError(`${where}: annotation ${CLUSTER_NETWORKS_ANNOTATION} must be a string`);
  try {
    return new Set(text.split(',').map((t) => t.trim()).filter((t) => t).map((t) => normalizeCidr(parseCidr(t, CLUSTER_NETWORKS_ANNOTATION))));
  } catch (e) {
    throw new ManifestError(`${where}: ${(e as Error).message}`);
  }
}

function compileRule(rule: any, key: 'from' | 'to', where: string, clusterNetworks: ReadonlySet<string>): CompiledRule {
  const peers = asList(rule?.[key], `${where}.${key}`);
  const ports = asList(rule?.ports, `${where}.ports`);
  return {
    peers: peers.length === 0 ? undefined : peers.map((p, i) => compilePeer(p, `${where}.${key}[${i}]`, clusterNetworks)),
    ports: ports.length === 0 ? undefined : ports.map((p) => ({ port: p?.port, endPort: p?.endPort, protocol: p?.protocol ?? 'TCP' })),
  };
}

function compilePeer(p: any, where: string, clusterNetworks: ReadonlySet<string>): CompiledPeer {
  if (p?.ipBlock) {
    if (p.podSelector || p.namespaceSelector) throw new ManifestError(`${where}: ipBlock cannot be combined with selectors`);
    try {
      const cidr = parseCidr(p.ipBlock.cidr, 'ipBlock.cidr');
      const except: ParsedCidr[] = (p.ipBlock.except ?? []).map((e: string) => parseCidr(e, 'ipBlock.except'));
      const anyHost = cidr.prefix === 0 && except.every((e) => clusterNetworks.has(normalizeCidr(e)));
      return { ipBlock: { cidr, except, anyHost } };
    } catch (e) {
      throw new ManifestError(`${where}: ${(e as Error).message}`);
    }
  }
  if (!p?.podSelector && !p?.namespaceSelector) throw new ManifestError(`${where}: a peer needs podSelector, namespaceSelector or ipBlock`);
  return { podSelector: p.podSelector ?? undefined, namespaceSelector: p.namespaceSelector ?? undefined };
}

/** The address of an `ip` endpoint (`ip` field, else the id after `ip:`). */
export function endpointIp(e: Endpoint): { family: 4 | 6; value: bigint } | undefined {
  if (e.kind !== 'ip') return undefined;
  // Parsed once per endpoint: readers ask about the same endpoints again and again.
  let ip = ipCache.get(e);
  if (ip === undefined) {
    ip = parseIp(e.ip ?? e.id.replace(/^ip:/, '')) ?? null;
    ipCache.set(e, ip);
  }
  return ip ?? undefined;
}

const ipCache = new WeakMap<Endpoint, { family: 4 | 6; value: bigint } | null>();

/** True when the address lies in the CIDR and in none of the excepted ranges. */
export function ipInBlock(ip: { family: 4 | 6; value: bigint }, cidr: ParsedCidr, except: ParsedCidr[]): boolean {
  if (ip.family !== cidr.family || !cidrContains(cidr, ip.value)) return false;
  return !except.some((x) => x.family === ip.family && cidrContains(x, ip.value));
}

/** `5432/TCP`. */
function portText(q: Query): string {
  return `${q.port}/${q.protocol}`;
}

/** Each policy as effects name it, made once: every query that a policy decides names it. */
const policyObjects = new WeakMap<CompiledPolicy, { object: DecidingObject; name: string }>();

function policyObject(p: CompiledPolicy): { object: DecidingObject; name: string } {
  let o = policyObjects.get(p);
  if (!o) {
    const object: DecidingObject = { kind: 'NetworkPolicy', namespace: p.namespace, name: p.name };
    o = { object, name: objectName(object) };
    policyObjects.set(p, o);
  }
  return o;
}

/** An effect of this layer naming `policies`, whose sentence starts with their names. */
function policiesEffect(verdict: 'allow' | 'deny', policies: CompiledPolicy[], rest: string): DecisionEffect {
  const objects: DecidingObject[] = [];
  let names = '';
  for (const p of policies) {
    const o = policyObject(p);
    objects.push(o.object);
    names += names ? ` and ${o.name}` : o.name;
  }
  return { layer: 'networkpolicy', verdict, objects, detail: `${names} ${rest}` };
}

const NO_OBJECTS: readonly DecidingObject[] = [];

/** An allowing effect of this layer that names no object. */
function unrestricted(detail: string): DecisionEffect {
  return { layer: 'networkpolicy', verdict: 'allow', objects: NO_OBJECTS, detail };
}

/** The policies of one namespace, indexed by what their podSelector requires. */
interface NamespacePolicies {
  /** Policies whose podSelector has a matchLabels entry, by its first `key NUL value`. */
  readonly byLabel: Map<string, CompiledPolicy[]>;
  /** The others (empty selectors, expressions only). */
  readonly rest: CompiledPolicy[];
}

/** NetworkPolicy semantics over the NetworkPolicies (and Namespaces) of a set of manifests. */
export class NetworkPolicyEvaluator implements PolicyEvaluator {
  public readonly backend = 'networkpolicy';
  /** The parsed policies, in manifest order. */
  public readonly policies: CompiledPolicy[];
  private readonly namespaces: Map<string, NamespaceInfo>;
  private readonly selecting = new WeakMap<Endpoint, { ingress: CompiledPolicy[]; egress: CompiledPolicy[] }>();
  /** The policies of each namespace, indexed by selector (built on first use). */
  private byNamespace?: Map<string, NamespacePolicies>;
  private readonly order = new Map<CompiledPolicy, number>();
  private readonly nsLabels = new WeakMap<Endpoint, { [key: string]: string }>();
  private readonly unrestrictedEffects = new WeakMap<Endpoint, { ingress?: DecisionEffect; egress?: DecisionEffect }>();

  public constructor(manifests: readonly AnyManifest[]) {
    this.policies = compileNetworkPolicies(manifests);
    this.namespaces = new Map(inventory(manifests).namespaces.map((n) => [n.name, n]));
    this.policies.forEach((p, i) => this.order.set(p, i));
  }

  /** Policies that select `pod` with Ingress / Egress in their types (empty for non-pods), in manifest order. */
  public isolation(e: Endpoint): { ingress: CompiledPolicy[]; egress: CompiledPolicy[] } {
    let s = this.selecting.get(e);
    if (!s) {
      const mine = e.kind === 'pod' ? this.selectingPolicies(e) : [];
      s = { ingress: mine.filter((p) => p.ingressType), egress: mine.filter((p) => p.egressType) };
      this.selecting.set(e, s);
    }
    return s;
  }

  /** The policies of the pod's namespace whose podSelector matches it, in manifest order; found through the selector index. */
  private selectingPolicies(e: Endpoint): CompiledPolicy[] {
    if (!this.byNamespace) {
      this.byNamespace = new Map();
      for (const p of this.policies) {
        let ns = this.byNamespace.get(p.namespace);
        if (!ns) { ns = { byLabel: new Map(), rest: [] }; this.byNamespace.set(p.namespace, ns); }
        const first = Object.entries(p.podSelector?.matchLabels ?? {})[0];
        if (first) {
          const key = `${first[0]}\0${first[1]}`;
          (ns.byLabel.get(key) ?? ns.byLabel.set(key, []).get(key)!).push(p);
        } else {
          ns.rest.push(p);
        }
      }
    }
    const ns = this.byNamespace.get(e.namespace!);
    if (!ns) return [];
    let out = ns.rest.filter((p) => selectorMatches(p.podSelector, e.labels));
    let more = false;
    for (const [k, v] of Object.entries(e.labels ?? {})) {
      const hit = ns.byLabel.get(`${k}\0${v}`);
      if (!hit) continue;
      for (const p of hit) if (selectorMatches(p.podSelector, e.labels)) { out.push(p); more = true; }
    }
    if (more && out.length > 1) out = out.sort((a, b) => this.order.get(a)! - this.order.get(b)!);
    return out;
  }

  /** This layer's prefilter over a list of endpoints: the sources each destination's ingress and their egress may admit, and on which ports. */
  public prefilter(scope: PrefilterScope): SidedPrefilter {
    return new SidedPrefilter(new NetworkPolicyLayer(this, scope), scope);
  }

  public evaluate(q: Query): Decision {
    const egress = this.side(q, 'egress');
    const ingress = this.side(q, 'ingress');
    const sides = [egress, ingress];
    const allowed = sides.every((s) => s.verdict === 'allow');
    // Effects that decided first: on a denial the denying side(s), then the other.
    return decision(allowed, allowed ? sides : [...sides.filter((s) => s.verdict !== 'allow'), ...sides.filter((s) => s.verdict === 'allow')]);
  }

  /** `evaluate(q).allowed`, without writing the reasons. */
  public allows(q: Query): boolean {
    return this.sideAllows(q, 'egress') && this.sideAllows(q, 'ingress');
  }

  private sideAllows(q: Query, dir: 'ingress' | 'egress'): boolean {
    const self = dir === 'egress' ? q.source : q.destination;
    if (self.kind !== 'pod') return true;
    const isolating = this.isolation(self)[dir];
    if (isolating.length === 0) return true;
    const other = dir === 'egress' ? q.destination : q.source;
    return isolating.some((p) => (dir === 'egress' ? p.egress : p.ingress).some((r) => this.ruleMatches(r, p.namespace, other, q)));
  }

  /** The effect that nothing restricts an endpoint in a direction: the same for every query, made once. */
  private unrestrictedFor(e: Endpoint, dir: 'ingress' | 'egress', detail: () => string): DecisionEffect {
    let known = this.unrestrictedEffects.get(e);
    if (!known) { known = {}; this.unrestrictedEffects.set(e, known); }
    return known[dir] ?? (known[dir] = unrestricted(detail()));
  }

  private side(q: Query, dir: 'ingress' | 'egress'): DecisionEffect {
    const self = dir === 'egress' ? q.source : q.destination;
    const other = dir === 'egress' ? q.destination : q.source;
    const conn = `${q.source.id} -> ${q.destination.id} on ${portText(q)}`;
    if (self.kind !== 'pod') {
      return this.unrestrictedFor(self, dir, () => `${self.id} is not a pod; NetworkPolicy does not restrict its ${dir}`);
    }
    const isolating = this.isolation(self)[dir];
    if (isolating.length === 0) {
      return this.unrestrictedFor(self, dir, () => `no NetworkPolicy selects ${self.id} for ${dir}`);
    }
    const allowing = isolating.filter((p) => (dir === 'egress' ? p.egress : p.ingress).some((r) => this.ruleMatches(r, p.namespace, other, q)));
    if (allowing.length > 0) {
      return policiesEffect('allow', allowing, `${allowing.length > 1 ? 'allow' : 'allows'} ${dir} (${conn})`);
    }
    return policiesEffect('deny', isolating, `${isolating.length > 1 ? 'isolate' : 'isolates'} ${self.id} for ${dir} and nothing allows it (${conn})`);
  }

  private ruleMatches(rule: CompiledRule, policyNamespace: string, peer: Endpoint, q: Query): boolean {
    // Ports first: the cheaper test, and most rules of a policy are for other ports.
    if (rule.ports && !rule.ports.some((p) => portMatches(p, q))) return false;
    if (rule.peers && !rule.peers.some((p) => this.peerMatches(p, policyNamespace, peer))) return false;
    return true;
  }

  private peerMatches(p: CompiledPeer, policyNamespace: string, e: Endpoint): boolean {
    if (p.ipBlock) {
      // A host name resolves to some address outside the cluster, unknown here: only a block of
      // every address (`0.0.0.0/0` or `::/0`, without excepts but the cluster's own) surely holds it.
      if (e.kind === 'fqdn') return p.ipBlock.anyHost;
      const ip = endpointIp(e);
      return ip !== undefined && ipInBlock(ip, p.ipBlock.cidr, p.ipBlock.except);
    }
    if (e.kind !== 'pod') return false;
    const nsOk = p.namespaceSelector ? selectorMatches(p.namespaceSelector, this.namespaceLabels(e)) : e.namespace === policyNamespace;
    return nsOk && (p.podSelector ? selectorMatches(p.podSelector, e.labels) : true);
  }

  /** The endpoint's namespace labels: its own, else the Namespace object's, always with the name label. */
  public namespaceLabels(e: Endpoint): { [key: string]: string } {
    // Made once per endpoint: every peer with a namespaceSelector asks.
    let labels = this.nsLabels.get(e);
    if (!labels) {
      const ns = e.namespace ?? 'default';
      const base = e.namespaceLabels ?? (this.namespaces.get(ns) ?? implicitNamespace(ns)).labels;
      labels = { ...base, [NAMESPACE_NAME_LABEL]: ns };
      this.nsLabels.set(e, labels);
    }
    return labels;
  }
}

/** True when a NetworkPolicy port entry admits the query; named ports resolve on the destination pod. */
function portMatches(p: CompiledPort, q: Query): boolean {
  if (p.protocol !== q.protocol) return false;
  if (p.port === undefined || p.port === null) return true;
  if (typeof p.port === 'number') return q.port >= p.port && q.port <= (p.endPort ?? p.port);
  const d = q.destination;
  if (d.kind !== 'pod') return false;
  return (d.ports ?? []).some((cp) => cp.name === p.port && cp.protocol === p.protocol && cp.number === q.port);
}

/** The ports of a rule's `ports` list, named ports kept for each destination. */
const rulePortsCache = new WeakMap<CompiledRule, RulePorts>();

function rulePorts(r: CompiledRule): RulePorts {
  let out = rulePortsCache.get(r);
  if (!out) {
    if (!r.ports) {
      out = { set: PortSet.ALL };
    } else {
      const ranges: Array<{ protocol: string; lo: number; hi?: number }> = [];
      const named: Array<{ name: string; protocol: 'TCP' | 'UDP' }> = [];
      for (const p of r.ports) {
        if (p.protocol !== 'TCP' && p.protocol !== 'UDP') continue;
        if (p.port === undefined || p.port === null) ranges.push({ protocol: p.protocol, lo: 1, hi: 65535 });
        else if (typeof p.port === 'number') ranges.push({ protocol: p.protocol, lo: p.port, hi: p.endPort ?? p.port });
        else named.push({ name: String(p.port), protocol: p.protocol });
      }
      out = { set: PortSet.of(ranges), ...(named.length ? { named } : {}) };
    }
    rulePortsCache.set(r, out);
  }
  return out;
}

/**
 * The NetworkPolicy layer over a list of endpoints, as a `SidedLayer`: each peer of each rule is
 * matched once (identical peers once) through label indexes.
 */
class NetworkPolicyLayer implements SidedLayer {
  /** The reader allows a connection when both sides' rules do, and on nothing else: its sets are its answers. */
  public readonly exact = true;
  private readonly index: EndpointIndex;
  private readonly endpoints: readonly Endpoint[];
  private readonly nsLabels: Array<{ [key: string]: string } | undefined> = [];
  private readonly peerSets = new Map<string, Set<number>>();
  private readonly rules = new WeakMap<CompiledPolicy, { ingress: SideRule[]; egress: SideRule[] }>();
  private readonly sides: { ingress: Array<SideRule[] | null | undefined>; egress: Array<SideRule[] | null | undefined> } = { ingress: [], egress: [] };

  public constructor(private readonly layer: NetworkPolicyEvaluator, scope: PrefilterScope) {
    this.endpoints = scope.endpoints;
    this.index = new EndpointIndex(scope.endpoints);
  }

  public side(i: number, direction: 'ingress' | 'egress'): readonly SideRule[] | undefined {
    const cache = this.sides[direction];
    let out = cache[i];
    if (out === undefined) {
      const e = this.endpoints[i];
      const isolating = e.kind === 'pod' ? this.layer.isolation(e)[direction] : [];
      out = isolating.length === 0 ? null : isolating.flatMap((p) => this.rulesOf(p)[direction]);
      cache[i] = out;
    }
    return out ?? undefined;
  }

  public *egressPolicies(): Iterable<{ subjects: readonly number[]; rules: readonly SideRule[] }> {
    for (const p of this.layer.policies) {
      if (p.egressType && p.egress.length > 0) yield { subjects: this.index.select(p.podSelector, p.namespace), rules: this.rulesOf(p).egress };
    }
  }

  private rulesOf(p: CompiledPolicy): { ingress: SideRule[]; egress: SideRule[] } {
    let out = this.rules.get(p);
    if (!out) {
      const rule = (r: CompiledRule): SideRule => ({ ports: rulePorts(r), ...(r.peers ? { peers: this.peersOf(r.peers, p.namespace) } : {}) });
      out = { ingress: p.ingress.map(rule), egress: p.egress.map(rule) };
      this.rules.set(p, out);
    }
    return out;
  }

  /** The endpoints any of the peers (of a policy of `namespace`) matches. */
  private peersOf(peers: CompiledPeer[], namespace: string): Set<number> {
    if (peers.length === 1) return this.peerSet(peers[0], namespace);
    const out = new Set<number>();
    for (const p of peers) for (const i of this.peerSet(p, namespace)) out.add(i);
    return out;
  }

  private peerSet(peer: CompiledPeer, namespace: string): Set<number> {
    const cidr = (c: ParsedCidr) => `${c.family}/${c.address}/${c.prefix}`;
    const key = peer.ipBlock
      ? `ip ${cidr(peer.ipBlock.cidr)} ${peer.ipBlock.except.map(cidr).join(' ')}`
      : JSON.stringify([peer.namespaceSelector ? '' : namespace, peer.namespaceSelector ?? null, peer.podSelector ?? null]);
    let set = this.peerSets.get(key);
    if (!set) {
      set = new Set(this.match(peer, namespace));
      this.peerSets.set(key, set);
    }
    return set;
  }

  private match(peer: CompiledPeer, namespace: string): number[] {
    if (peer.ipBlock) {
      const out: number[] = [];
      if (peer.ipBlock.anyHost) out.push(...this.index.fqdns);
      for (const i of this.index.ips) {
        const ip = endpointIp(this.endpoints[i]);
        if (ip && ipInBlock(ip, peer.ipBlock.cidr, peer.ipBlock.except)) out.push(i);
      }
      return out;
    }
    if (!peer.namespaceSelector) return this.index.select(peer.podSelector, namespace);
    // The name label of a pod's namespace is always its namespace's name.
    const byName = peer.namespaceSelector.matchLabels?.[NAMESPACE_NAME_LABEL];
    return this.index.candidates(peer.podSelector, byName).filter((i) => selectorMatches(peer.namespaceSelector, this.namespaceLabels(i))
      && (!peer.podSelector || selectorMatches(peer.podSelector, this.endpoints[i].labels)));
  }

  private namespaceLabels(i: number): { [key: string]: string } {
    let l = this.nsLabels[i];
    if (!l) { l = this.layer.namespaceLabels(this.endpoints[i]); this.nsLabels[i] = l; }
    return l;
  }
}
