/**
 * A reader of Cilium policy semantics: given synthesized manifests (never the model), decides
 * whether one endpoint may reach another. Modelled after Cilium 1.16-1.20 in the default policy
 * enforcement mode:
 *
 * - Endpoint identity: the pod's labels (source `k8s`), `io.kubernetes.pod.namespace`,
 *   `io.cilium.k8s.policy.serviceaccount`, `io.cilium.k8s.namespace.labels.<k>` and
 *   `io.cilium.k8s.policy.cluster`. Selector keys may carry a source prefix (`k8s:`, `any:`,
 *   `reserved:`); a key without one matches any source.
 * - A CiliumNetworkPolicy selects pods of its own namespace only; its `fromEndpoints`/`toEndpoints`
 *   selectors without a namespace key mean the policy's namespace. Clusterwide policies select
 *   across namespaces (pods only).
 * - Default deny per direction: a pod is closed in a direction when a policy selecting it has
 *   rules (allow or deny) in that direction and does not set `enableDefaultDeny.<dir>: false`.
 *   `enableDefaultDeny: true` without rules in that direction has no effect. Otherwise open.
 * - Entity `none` never exists: a rule from it selects nothing.
 * - Deny rules (`ingressDeny`/`egressDeny`) are evaluated first and win over any allow.
 * - An allow rule's peers are the union of its L3 fields (`*Endpoints`, `*Entities`, `*CIDR`,
 *   `*CIDRSet`, `toFQDNs`); a rule with none of them selects every peer; a present but empty list
 *   selects none. Entities: `world` = addresses outside the cluster (IP and FQDN endpoints),
 *   `cluster` = every pod, `all` = both; the others select nothing the probes contain.
 * - `toPorts` absent or empty = every port; `port` "0"/absent = every port; protocol ANY/absent =
 *   TCP and UDP; `endPort` ranges; named ports resolve against the destination's container ports.
 * - L7: rules that match L3 and L4 add up. If one has no L7 rules the request is allowed; otherwise an
 *   HTTP request must fully match a `method` and `path` regex of one `rules.http` entry (extended
 *   POSIX, matched against the whole value). A plain connection query (no `http`) is allowed when a
 *   connection can be opened at all.
 * - `toFQDNs` only works when the source may resolve the name: some egress rule of a policy
 *   selecting the source must allow port 53 with a `rules.dns` entry matching the host.
 * - Pod-to-pod traffic is allowed when the source's egress and the destination's ingress both allow.
 * - ztunnel (namespace label `io.cilium/mtls-enabled: "true"` on both ends, TCP): Cilium sees
 *   the HBONE port 15008 instead of the app port, and cannot read HTTP.
 *
 * Fields the reader does not model (toServices, toGroups, toNodes, headers, Kafka, ...) raise an
 * error instead of being ignored, and so do Kubernetes NetworkPolicy objects beside Cilium ones.
 */
import { FlowPrefilter, PortSet, PrefilterScope, RulePorts, SideRule, SidedLayer, SidedPrefilter } from './prefilter';
import { Decision, DecidingObject, DecisionEffect, DecisionVerdict, Endpoint, Manifest, PolicyEvaluator, Query, decision } from './types';

const NS_KEY = 'io.kubernetes.pod.namespace';
const SA_KEY = 'io.cilium.k8s.policy.serviceaccount';
const NS_LABELS_PREFIX = 'io.cilium.k8s.namespace.labels.';
const MTLS_LABEL = 'io.cilium/mtls-enabled';
const HBONE_PORT = 15008;
const SOURCES = ['k8s', 'any', 'reserved', 'cidr', 'fqdn', 'unspec', 'container'];

const INGRESS_L3 = ['fromEndpoints', 'fromEntities', 'fromCIDR', 'fromCIDRSet'];
const EGRESS_L3 = ['toEndpoints', 'toEntities', 'toCIDR', 'toCIDRSet', 'toFQDNs'];
const RULE_FIELDS = new Set([...INGRESS_L3, ...EGRESS_L3, 'toPorts', 'authentication', 'icmps']);
const SPEC_FIELDS = new Set(['endpointSelector', 'ingress', 'egress', 'ingressDeny', 'egressDeny', 'enableDefaultDeny', 'description', 'labels']);
const PORT_RULE_FIELDS = new Set(['ports', 'rules']);
const HTTP_FIELDS = new Set(['method', 'path']);

interface Policy {
  /** `CiliumNetworkPolicy production/hero`, as messages name it. */
  readonly id: string;
  readonly kind: 'CiliumNetworkPolicy' | 'CiliumClusterwideNetworkPolicy';
  readonly name: string;
  /** Undefined for clusterwide policies. */
  readonly namespace?: string;
  readonly spec: any;
}

/** A rule of a policy: `CiliumNetworkPolicy production/hero ingress[0]` in messages. */
interface RuleRef {
  readonly policy: Policy;
  readonly list: string;
  readonly index: number;
}

function ruleText(r: RuleRef): string {
  return `${r.policy.id} ${r.list}[${r.index}]`;
}

function ruleObject(r: RuleRef): DecidingObject {
  return { kind: r.policy.kind, ...(r.policy.namespace !== undefined ? { namespace: r.policy.namespace } : {}), name: r.policy.name, rule: { list: r.list, index: r.index } };
}

function ciliumEffect(verdict: DecisionVerdict, detail: string, rules: RuleRef[] = []): DecisionEffect {
  return { layer: 'cilium', verdict, objects: rules.map(ruleObject), detail };
}

type Direction = 'ingress' | 'egress';

/** Cilium's answer to connection queries over a set of manifests. */
export class CiliumPolicyEvaluator implements PolicyEvaluator {
  public readonly backend = 'cilium';
  private readonly policies: Policy[] = [];
  /** Policies selecting each pod, computed once per endpoint object (queries reuse endpoints). */
  private readonly selectingCache = new WeakMap<Endpoint, Policy[]>();
  private policyIndex?: IdentityIndex<Policy>;

  public constructor(manifests: Manifest[]) {
    for (const m of manifests) {
      if (m.kind === 'NetworkPolicy') {
        throw new Error(`NetworkPolicy ${m.metadata.namespace}/${m.metadata.name}: the Cilium reader does not model Kubernetes NetworkPolicy beside Cilium policies`);
      }
      if (m.apiVersion !== 'cilium.io/v2' || (m.kind !== 'CiliumNetworkPolicy' && m.kind !== 'CiliumClusterwideNetworkPolicy')) continue;
      const clusterwide = m.kind === 'CiliumClusterwideNetworkPolicy';
      const id = `${m.kind} ${clusterwide ? '' : `${m.metadata.namespace}/`}${m.metadata.name}`;
      if (m.specs) throw new Error(`${id}: "specs" (several rules in one object) is not modelled`);
      if (!m.spec) throw new Error(`${id}: no spec`);
      if (!clusterwide && !m.metadata.namespace) throw new Error(`${id}: a CiliumNetworkPolicy needs a namespace`);
      for (const k of Object.keys(m.spec)) {
        if (!SPEC_FIELDS.has(k)) throw new Error(`${id}: spec.${k} is not modelled by the Cilium reader`);
      }
      if (!m.spec.endpointSelector) throw new Error(`${id}: only endpointSelector policies are modelled (not nodeSelector)`);
      this.policies.push({ id, kind: m.kind, name: m.metadata.name, namespace: clusterwide ? undefined : m.metadata.namespace, spec: m.spec });
    }
  }

  public evaluate(query: Query): Decision {
    const effects: DecisionEffect[] = [];
    const enrolled = query.protocol === 'TCP' && isEnrolled(query.source) && isEnrolled(query.destination);
    const port = enrolled ? HBONE_PORT : query.port;
    const effective: Query = enrolled ? { ...query, port, http: undefined } : query;
    if (enrolled) effects.push(ciliumEffect('info', `both ends enrolled in ztunnel: Cilium sees ${HBONE_PORT}/TCP`));

    if (query.source.kind === 'pod') {
      const d = this.direction('egress', query.source, query.destination, effective, enrolled && !!query.http);
      effects.push(d);
      if (d.verdict === 'deny') return decision(false, effects);
    }
    if (query.destination.kind === 'pod') {
      const d = this.direction('ingress', query.destination, query.source, effective, enrolled && !!query.http);
      effects.push(d);
      if (d.verdict === 'deny') return decision(false, effects);
    }
    return decision(true, effects);
  }

  /** The policies that select a pod, in manifest order (found through an index of their endpointSelectors). */
  public selecting(subject: Endpoint): Policy[] {
    let s = this.selectingCache.get(subject);
    if (!s) {
      if (subject.kind !== 'pod') {
        s = [];
      } else {
        const labels = identityLabels(subject);
        s = this.selectorIndex().candidates(labels)
          .filter((p) => (p.namespace === undefined || subject.namespace === p.namespace) && selectorMatches(p.spec.endpointSelector, labels));
      }
      this.selectingCache.set(subject, s);
    }
    return s;
  }

  private selectorIndex(): IdentityIndex<Policy> {
    if (!this.policyIndex) this.policyIndex = new IdentityIndex(this.policies, (p) => p.spec.endpointSelector);
    return this.policyIndex;
  }

  /**
   * The prefilter of this reader, over its own policies: each direction of a pod is open or
   * closed but for the rules of the policies that select it (deny rules only take away); peers
   * are matched through an index of identity labels, and between two pods in ztunnel the TCP
   * port Cilium sees is HBONE's.
   */
  public prefilter(scope: PrefilterScope): FlowPrefilter {
    const layer = new CiliumLayer(this, scope);
    const sided = new SidedPrefilter(layer, scope);
    const endpoints = scope.endpoints;
    return {
      sources: (d) => sided.sources(d),
      ports: (s, d) => {
        if (!(isEnrolled(endpoints[s]) && isEnrolled(endpoints[d]))) return sided.ports(s, d);
        const ingress = sided.ingressPorts(s, d);
        const egress = sided.egressPorts(s, d);
        const hbone = ingress.has('TCP', HBONE_PORT) && egress.has('TCP', HBONE_PORT);
        return ingress.only('UDP').intersect(egress.only('UDP')).union(hbone ? PortSet.ALL_TCP : PortSet.NONE);
      },
      // Between two ztunnel pods every TCP port is HBONE's to Cilium: one decision, which names no port.
      uniform: (s, d) => (isEnrolled(endpoints[s]) && isEnrolled(endpoints[d]) ? PortSet.ALL_TCP : PortSet.NONE),
    };
  }

  /** @internal The policies, for the prefilter. */
  public get allPolicies(): readonly Policy[] {
    return this.policies;
  }

  /** One side: `subject` is the pod whose policies apply, `peer` the other end. */
  private direction(dir: Direction, subject: Endpoint, peer: Endpoint, q: Query, opaque: boolean): DecisionEffect {
    const selecting = this.selecting(subject);
    const denyKey = dir === 'ingress' ? 'ingressDeny' : 'egressDeny';
    for (const p of selecting) {
      (p.spec[denyKey] ?? []).forEach((rule: any, i: number) => {
        checkRule(rule, () => `${p.id} ${denyKey}[${i}]`);
      });
      const hit = (p.spec[denyKey] ?? []).findIndex((rule: any) => l3Matches(rule, dir, peer, p) && l4Match(rule, q) !== undefined);
      if (hit >= 0) {
        const rule = { policy: p, list: denyKey, index: hit };
        return ciliumEffect('deny', `${ruleText(rule)} denies ${dir}`, [rule]);
      }
    }
    // Cilium turns every rule into a policy entry carrying the default-deny flag; a direction
    // without rules has no entry, so enableDefaultDeny alone changes nothing (cilium#35558).
    const defaultDeny = selecting.some((p) => {
      const hasRules = (p.spec[dir]?.length ?? 0) > 0 || (p.spec[denyKey]?.length ?? 0) > 0;
      return hasRules && p.spec.enableDefaultDeny?.[dir] !== false;
    });
    if (!defaultDeny) {
      return ciliumEffect('allow', `${dir} of ${subject.id} is not in default deny`);
    }
    const matches: Array<{ rule: RuleRef; where: string; l7: any }> = [];
    for (const p of selecting) {
      (p.spec[dir] ?? []).forEach((rule: any, i: number) => {
        const ref = { policy: p, list: dir, index: i };
        checkRule(rule, () => ruleText(ref));
        // The port first: the cheaper test (the three must hold, in any order).
        const l4 = l4Match(rule, q);
        if (l4 === undefined) return;
        if (!l3Matches(rule, dir, peer, p)) return;
        if (dir === 'egress' && rule.toFQDNs && !this.mayResolve(subject, peer)) return;
        matches.push({ rule: ref, where: ruleText(ref), l7: l4 });
      });
    }
    if (matches.length === 0) return ciliumEffect('deny', `no ${dir} rule of ${subject.id} allows it (default deny)`);
    const plain = matches.find((m) => m.l7 === null);
    if (plain) return ciliumEffect('allow', `${plain.where} allows ${dir}`, [plain.rule]);
    if (opaque) return ciliumEffect('deny', `${matches[0].where} has L7 rules, but the traffic is inside ztunnel's mTLS`, [matches[0].rule]);
    if (!q.http) return ciliumEffect('allow', `${matches[0].where} allows the connection (requests filtered at L7)`, [matches[0].rule]);
    for (const m of matches) {
      const http: any[] = m.l7.http ?? [];
      if (http.some((h) => httpMatches(h, q.http!.method, q.http!.path, m.where))) {
        return ciliumEffect('allow', `${m.where} allows ${q.http.method} ${q.http.path}`, [m.rule]);
      }
    }
    return ciliumEffect('deny', `no HTTP rule of ${matches.map((m) => m.where).join(', ')} matches ${q.http.method} ${q.http.path} (403)`, matches.map((m) => m.rule));
  }

  /** True when a policy selecting `source` lets it resolve the FQDN endpoint's host through Cilium's DNS proxy. */
  private mayResolve(source: Endpoint, peer: Endpoint): boolean {
    if (peer.kind !== 'fqdn' || !peer.host) return false;
    return this.resolves(source, peer.host);
  }

  /**
   * True when Cilium's DNS proxy answers `source`'s query for `name` (a `rules.dns` entry of an
   * egress rule on port 53 of a policy selecting it matches); false when the proxy answers
   * REFUSED. A source that no policy puts in egress default deny is not proxied and resolves
   * anything. Whether the DNS server itself is reachable is the connection's question.
   */
  public resolves(source: Endpoint, name: string): boolean {
    const selecting = this.selecting(source);
    const closed = selecting.some((p) => ((p.spec.egress?.length ?? 0) > 0 || (p.spec.egressDeny?.length ?? 0) > 0) && p.spec.enableDefaultDeny?.egress !== false);
    if (!closed) return true;
    for (const p of selecting) {
      for (const rule of p.spec.egress ?? []) {
        for (const pr of rule.toPorts ?? []) {
          const on53 = (pr.ports ?? []).some((pp: any) => String(pp.port) === '53');
          if (on53 && (pr.rules?.dns ?? []).some((d: any) => dnsMatches(d, name))) return true;
        }
      }
    }
    return false;
  }
}

function isEnrolled(e: Endpoint): boolean {
  return e.kind === 'pod' && e.namespaceLabels?.[MTLS_LABEL] === 'true';
}

/** Rules already checked: every query reads the rules of the policies that select its ends. */
const checkedRules = new WeakSet<object>();

function checkRule(rule: any, where: string | (() => string)): void {
  if (rule && typeof rule === 'object' && checkedRules.has(rule)) return;
  checkRuleFields(rule, typeof where === 'string' ? where : where());
  if (rule && typeof rule === 'object') checkedRules.add(rule);
}

function checkRuleFields(rule: any, where: string): void {
  for (const k of Object.keys(rule ?? {})) {
    if (!RULE_FIELDS.has(k)) throw new Error(`${where}: ${k} is not modelled by the Cilium reader`);
  }
  for (const pr of rule.toPorts ?? []) {
    for (const k of Object.keys(pr)) {
      if (!PORT_RULE_FIELDS.has(k)) throw new Error(`${where}: toPorts[].${k} is not modelled by the Cilium reader`);
    }
    for (const k of Object.keys(pr.rules ?? {})) {
      if (k !== 'http' && k !== 'dns') throw new Error(`${where}: toPorts[].rules.${k} is not modelled by the Cilium reader`);
    }
    for (const h of pr.rules?.http ?? []) {
      for (const k of Object.keys(h)) {
        if (!HTTP_FIELDS.has(k)) throw new Error(`${where}: rules.http[].${k} is not modelled by the Cilium reader`);
      }
    }
  }
  // Read before the rule's ports, so an operator the reader does not model is refused whatever the port.
  for (const sel of [...(rule.fromEndpoints ?? []), ...(rule.toEndpoints ?? [])]) {
    for (const expr of sel?.matchExpressions ?? []) {
      if (!['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(expr?.operator)) throw new Error(`selector operator ${expr?.operator} is not modelled`);
    }
  }
  if (rule.icmps) throw new Error(`${where}: icmps is not modelled by the Cilium reader`);
  if (rule.toCIDRSet?.some((c: any) => !c.cidr) || rule.fromCIDRSet?.some((c: any) => !c.cidr)) {
    throw new Error(`${where}: CIDR groups are not modelled by the Cilium reader`);
  }
}

/** Cilium's identity labels of an endpoint, keyed `source:key`. */
function identityLabels(e: Endpoint): Map<string, string> {
  // Once per endpoint: every rule's peer selector asks. Callers read the map, never change it.
  let labels = identityCache.get(e);
  if (!labels) {
    labels = computeIdentityLabels(e);
    identityCache.set(e, labels);
  }
  return labels;
}

const identityCache = new WeakMap<Endpoint, Map<string, string>>();

function computeIdentityLabels(e: Endpoint): Map<string, string> {
  const out = new Map<string, string>();
  if (e.kind !== 'pod') {
    out.set('reserved:world', '');
    return out;
  }
  for (const [k, v] of Object.entries(e.labels ?? {})) out.set(`k8s:${k}`, v);
  out.set(`k8s:${NS_KEY}`, e.namespace ?? '');
  if (e.serviceAccount) out.set(`k8s:${SA_KEY}`, e.serviceAccount);
  for (const [k, v] of Object.entries(e.namespaceLabels ?? {})) out.set(`k8s:${NS_LABELS_PREFIX}${k}`, v);
  out.set('k8s:io.cilium.k8s.policy.cluster', 'default');
  return out;
}

/** Splits `k8s:app` into source and key; a key without a known source prefix has source `any`. */
function parseKey(key: string): { source: string; key: string } {
  const i = key.indexOf(':');
  if (i > 0 && SOURCES.includes(key.slice(0, i))) return { source: key.slice(0, i), key: key.slice(i + 1) };
  return { source: 'any', key };
}

function lookup(labels: Map<string, string>, rawKey: string): string | undefined {
  const { source, key } = parseKey(rawKey);
  if (source !== 'any') return labels.get(`${source}:${key}`);
  return anySource(labels).get(key);
}

/** The first value of each key whatever its source, in the labels' order (what an `any` key reads), made once per map. */
function anySource(labels: Map<string, string>): Map<string, string> {
  let out = anySourceCache.get(labels);
  if (!out) {
    out = new Map();
    for (const [k, v] of labels) {
      const key = parseKey(k).key;
      if (!out.has(key)) out.set(key, v);
    }
    anySourceCache.set(labels, out);
  }
  return out;
}

const anySourceCache = new WeakMap<Map<string, string>, Map<string, string>>();

/** Matches a label selector (matchLabels and matchExpressions) against identity labels. */
function selectorMatches(sel: any, labels: Map<string, string>): boolean {
  for (const [k, v] of Object.entries(sel?.matchLabels ?? {})) {
    if (lookup(labels, k) !== v) return false;
  }
  for (const expr of sel?.matchExpressions ?? []) {
    const value = lookup(labels, expr.key);
    switch (expr.operator) {
      case 'In': if (value === undefined || !expr.values.includes(value)) return false; break;
      case 'NotIn': if (value !== undefined && expr.values.includes(value)) return false; break;
      case 'Exists': if (value === undefined) return false; break;
      case 'DoesNotExist': if (value !== undefined) return false; break;
      default: throw new Error(`selector operator ${expr.operator} is not modelled`);
    }
  }
  return true;
}


/** True when a peer selector names a namespace itself (so Cilium adds none). */
function hasNamespaceKey(sel: any): boolean {
  const keys = [...Object.keys(sel?.matchLabels ?? {}), ...(sel?.matchExpressions ?? []).map((x: any) => x.key)].map((k) => parseKey(k));
  return keys.some((k) => k.key === NS_KEY || k.key.startsWith(NS_LABELS_PREFIX) || k.source === 'reserved');
}

function peerSelectorMatches(sel: any, peer: Endpoint, p: Policy): boolean {
  return peerSelectorMatchesLabels(sel, peer, identityLabels(peer), p);
}

function peerSelectorMatchesLabels(sel: any, peer: Endpoint, labels: Map<string, string>, p: Policy): boolean {
  if (!selectorMatches(sel, labels)) return false;
  if (parseKeyReserved(sel)) return true;
  // Cilium adds the policy's namespace (CNP), or "any namespace" (CCNP: pods only), when absent.
  if (peer.kind !== 'pod') return false;
  if (!hasNamespaceKey(sel) && p.namespace !== undefined && peer.namespace !== p.namespace) return false;
  return true;
}

function parseKeyReserved(sel: any): boolean {
  return Object.keys(sel?.matchLabels ?? {}).some((k) => parseKey(k).source === 'reserved');
}

function l3Matches(rule: any, dir: Direction, peer: Endpoint, p: Policy): boolean {
  const fields = dir === 'ingress' ? INGRESS_L3 : EGRESS_L3;
  const present = fields.filter((f) => rule[f] !== undefined && rule[f] !== null);
  if (present.length === 0) return true; // no L3 constraint: every peer
  const pre = dir === 'ingress' ? 'from' : 'to';
  for (const f of present) {
    const list: any[] = rule[f];
    switch (f.slice(pre.length)) {
      case 'Endpoints':
        if (list.some((sel) => peerSelectorMatches(sel, peer, p))) return true;
        break;
      case 'Entities':
        if (list.some((ent) => entityMatches(ent, peer))) return true;
        break;
      case 'CIDR':
        if (list.some((c) => cidrMatches(c, [], peer))) return true;
        break;
      case 'CIDRSet':
        if (list.some((c) => cidrMatches(c.cidr, c.except ?? [], peer))) return true;
        break;
      case 'FQDNs':
        if (peer.kind === 'fqdn' && peer.host && list.some((m) => dnsMatches(m, peer.host!))) return true;
        break;
    }
  }
  return false;
}

function entityMatches(entity: string, peer: Endpoint): boolean {
  switch (entity) {
    case 'all': return true;
    case 'world': return peer.kind !== 'pod';
    case 'cluster': return peer.kind === 'pod';
    default: return false;
  }
}

function cidrMatches(cidr: string, except: string[], peer: Endpoint): boolean {
  if (peer.kind === 'fqdn') {
    // The address behind a name is unknown: only a CIDR covering a whole address family matches it.
    return /\/0$/.test(cidr) && except.length === 0;
  }
  if (peer.kind !== 'ip' || !peer.ip) return false;
  return inCidr(peer.ip, cidr) && !except.some((e) => inCidr(peer.ip!, e));
}

/**
 * The L4 verdict of a rule for a query: `undefined` = port not allowed; `null` = allowed without
 * L7 rules; otherwise the L7 rules of the matching port rule.
 */
function l4Match(rule: any, q: Query): any | null | undefined {
  const portRules: any[] = rule.toPorts ?? [];
  if (portRules.length === 0) return null;
  let l7: any | undefined;
  for (const pr of portRules) {
    const ports: any[] = pr.ports ?? [];
    const hit = ports.length === 0 || ports.some((pp) => portMatches(pp, q));
    if (!hit) continue;
    const rules = pr.rules;
    if (!rules || ((rules.http ?? []).length === 0 && (rules.dns ?? []).length === 0)) return null;
    l7 = l7 ? { http: [...(l7.http ?? []), ...(rules.http ?? [])], dns: [...(l7.dns ?? []), ...(rules.dns ?? [])] } : rules;
  }
  return l7;
}

function portMatches(pp: any, q: Query): boolean {
  const proto = (pp.protocol ?? 'ANY').toUpperCase();
  if (proto !== 'ANY' && proto !== q.protocol) return false;
  const raw = pp.port === undefined ? '0' : String(pp.port);
  if (/^\d+$/.test(raw)) {
    const n = Number(raw);
    if (n === 0) return true;
    const end = pp.endPort && pp.endPort >= n ? pp.endPort : n;
    return q.port >= n && q.port <= end;
  }
  const named = (q.destination.ports ?? []).find((p) => p.name === raw);
  return !!named && named.number === q.port && (proto === 'ANY' || named.protocol === q.protocol);
}

/** Full match of an extended POSIX regular expression, as Envoy applies Cilium's HTTP fields. */
function ereFullMatch(pattern: string, value: string): boolean {
  return new RegExp(`^(?:${pattern})$`).test(value);
}

function httpMatches(h: any, method: string, path: string, where: string): boolean {
  try {
    if (h.method !== undefined && !ereFullMatch(h.method, method)) return false;
    if (h.path !== undefined && !ereFullMatch(h.path, path)) return false;
  } catch (e) {
    throw new Error(`${where}: invalid regular expression: ${(e as Error).message}`);
  }
  return true;
}

/** Cilium's matchName / matchPattern semantics for DNS names (case-insensitive, trailing dot optional). */
export function dnsMatches(m: any, host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, '');
  if (m.matchName !== undefined) return m.matchName.toLowerCase().replace(/\.$/, '') === name;
  if (m.matchPattern === undefined) return false;
  const pattern = String(m.matchPattern).toLowerCase().replace(/\.$/, '');
  if (pattern === '*') return true;
  let re: string;
  if (pattern.startsWith('**.')) {
    re = `(?:[-a-z0-9_]+\\.)+${globToRe(pattern.slice(3))}`;
  } else if (pattern.startsWith('*') && !pattern.startsWith('*.')) {
    // A leading "*" without a dot also matches every subdomain of the rest.
    re = `(?:[-a-z0-9_.]*)${globToRe(pattern.slice(1))}`;
  } else {
    re = globToRe(pattern);
  }
  return new RegExp(`^${re}$`).test(name);
}

function globToRe(glob: string): string {
  return glob.split('*').map((part) => part.replace(/[.[\]{}()\\+?^$|]/g, (c) => `\\${c}`)).join('[-a-z0-9_]*');
}

function inCidr(ip: string, cidr: string): boolean {
  const [addr, prefixText] = cidr.split('/');
  const a = parseAddress(addr);
  const b = parseAddress(ip);
  if (!a || !b || a.family !== b.family) return false;
  const bits = a.family === 4 ? 32 : 128;
  const prefix = Number(prefixText ?? bits);
  const shift = BigInt(bits - prefix);
  return a.value >> shift === b.value >> shift;
}

function parseAddress(text: string): { family: 4 | 6; value: bigint } | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) return { family: 4, value: v4.slice(1).map(Number).reduce((acc, p) => (acc << 8n) + BigInt(p), 0n) };
  if (!text.includes(':')) return undefined;
  const halves = text.split('::');
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const groups = [...head, ...Array(halves.length === 2 ? 8 - head.length - tail.length : 0).fill('0'), ...tail];
  if (groups.length !== 8) return undefined;
  return { family: 6, value: groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g || '0', 16)), 0n) };
}

/**
 * Things with a label selector (policies' endpointSelectors), indexed by the first matchLabels
 * entry (key without its source prefix, and value), so that the candidates for an endpoint come
 * from its identity labels; selectors without matchLabels are candidates for everyone.
 */
class IdentityIndex<T> {
  private readonly order = new Map<T, number>();
  private readonly everyone: T[] = [];
  private readonly byEntry = new Map<string, T[]>();

  public constructor(items: readonly T[], selectorOf: (t: T) => any) {
    items.forEach((t, i) => {
      this.order.set(t, i);
      const first = Object.entries(selectorOf(t)?.matchLabels ?? {})[0];
      if (!first) { this.everyone.push(t); return; }
      const key = `${parseKey(first[0]).key}\0${first[1]}`;
      (this.byEntry.get(key) ?? this.byEntry.set(key, []).get(key)!).push(t);
    });
  }

  /** Items whose selector may match these identity labels (check it), in item order. */
  public candidates(labels: Map<string, string>): T[] {
    const out = [...this.everyone];
    let extra = false;
    for (const [k, v] of labels) {
      const hit = this.byEntry.get(`${parseKey(k).key}\0${v}`);
      if (hit) { out.push(...hit); extra = true; }
    }
    return extra ? [...new Set(out)].sort((a, b) => this.order.get(a)! - this.order.get(b)!) : out;
  }
}

/** The ports of a rule's `toPorts` (every port when absent or empty). */
function toPortsOf(rule: any): RulePorts {
  const portRules: any[] = rule.toPorts ?? [];
  if (portRules.length === 0) return { set: PortSet.ALL };
  const ranges: Array<{ protocol: string; lo: number; hi?: number }> = [];
  const named: Array<{ name: string; protocol: 'TCP' | 'UDP' | 'ANY' }> = [];
  for (const pr of portRules) {
    const ports: any[] = pr.ports ?? [];
    if (ports.length === 0) return { set: PortSet.ALL };
    for (const pp of ports) {
      const proto = String(pp.protocol ?? 'ANY').toUpperCase();
      const protocols = proto === 'ANY' ? ['TCP', 'UDP'] : [proto];
      const raw = pp.port === undefined ? '0' : String(pp.port);
      if (/^\d+$/.test(raw)) {
        const n = Number(raw);
        const hi = n === 0 ? 65535 : pp.endPort && pp.endPort >= n ? pp.endPort : n;
        for (const protocol of protocols) ranges.push({ protocol, lo: n === 0 ? 1 : n, hi });
      } else if (proto === 'ANY' || proto === 'TCP' || proto === 'UDP') {
        named.push({ name: raw, protocol: proto });
      }
    }
  }
  return { set: PortSet.of(ranges), ...(named.length ? { named } : {}) };
}

/** Cilium's policies over a list of endpoints, as a `SidedLayer`. */
class CiliumLayer implements SidedLayer {
  private readonly endpoints: readonly Endpoint[];
  private readonly labels: Array<Map<string, string> | undefined> = [];
  private readonly byLabel = new Map<string, number[]>();
  private readonly pods: number[] = [];
  private readonly others: number[] = [];
  private readonly ips: number[] = [];
  private readonly fqdns: number[] = [];
  private readonly sides: { ingress: Array<SideRule[] | null | undefined>; egress: Array<SideRule[] | null | undefined> } = { ingress: [], egress: [] };
  private readonly rules = new Map<Policy, { ingress: SideRule[]; egress: SideRule[] }>();

  public constructor(private readonly reader: CiliumPolicyEvaluator, scope: PrefilterScope) {
    this.endpoints = scope.endpoints;
    scope.endpoints.forEach((e, i) => {
      (e.kind === 'pod' ? this.pods : this.others).push(i);
      if (e.kind === 'ip') this.ips.push(i);
      if (e.kind === 'fqdn') this.fqdns.push(i);
      for (const [k, v] of this.identity(i)) {
        const key = `${parseKey(k).key}\0${v}`;
        (this.byLabel.get(key) ?? this.byLabel.set(key, []).get(key)!).push(i);
      }
    });
  }

  public side(i: number, direction: Direction): readonly SideRule[] | undefined {
    const cache = this.sides[direction];
    let out = cache[i];
    if (out === undefined) {
      out = null;
      const e = this.endpoints[i];
      if (e.kind === 'pod') {
        const selecting = this.reader.selecting(e);
        const denyKey = direction === 'ingress' ? 'ingressDeny' : 'egressDeny';
        // What the reader would refuse to read when asked about this pod, refused here too.
        for (const p of selecting) {
          for (const key of [denyKey, direction]) (p.spec[key] ?? []).forEach((rule: any, k: number) => checkRule(rule, `${p.id} ${key}[${k}]`));
        }
        const closed = selecting.some((p) => ((p.spec[direction]?.length ?? 0) > 0 || (p.spec[denyKey]?.length ?? 0) > 0) && p.spec.enableDefaultDeny?.[direction] !== false);
        if (closed) out = selecting.flatMap((p) => this.rulesOf(p)[direction]);
      }
      cache[i] = out;
    }
    return out ?? undefined;
  }

  public *egressPolicies(): Iterable<{ subjects: readonly number[]; rules: readonly SideRule[] }> {
    for (const p of this.reader.allPolicies) {
      if ((p.spec.egress?.length ?? 0) === 0) continue;
      const subjects = this.select(p.spec.endpointSelector, (i) => this.endpoints[i].kind === 'pod'
        && (p.namespace === undefined || this.endpoints[i].namespace === p.namespace)
        && selectorMatches(p.spec.endpointSelector, this.identity(i)));
      yield { subjects, rules: this.rulesOf(p).egress };
    }
  }

  private identity(i: number): Map<string, string> {
    let l = this.labels[i];
    if (!l) { l = identityLabels(this.endpoints[i]); this.labels[i] = l; }
    return l;
  }

  /** Endpoints that satisfy `check`, among the candidates of a selector's first matchLabels entry. */
  private select(sel: any, check: (i: number) => boolean): number[] {
    const first = Object.entries(sel?.matchLabels ?? {})[0];
    const candidates = first ? this.byLabel.get(`${parseKey(first[0]).key}\0${first[1]}`) ?? [] : this.endpoints.map((_, i) => i);
    return candidates.filter(check);
  }

  private rulesOf(p: Policy): { ingress: SideRule[]; egress: SideRule[] } {
    let out = this.rules.get(p);
    if (!out) {
      const of = (dir: Direction): SideRule[] => (p.spec[dir] ?? []).map((rule: any) => {
        const peers = this.peers(rule, dir, p);
        return { ports: toPortsOf(rule), ...(peers ? { peers } : {}) };
      });
      out = { ingress: of('ingress'), egress: of('egress') };
      this.rules.set(p, out);
    }
    return out;
  }

  /** The endpoints a rule's L3 fields admit; undefined when it has none (every peer). */
  private peers(rule: any, dir: Direction, p: Policy): Set<number> | undefined {
    const fields = dir === 'ingress' ? INGRESS_L3 : EGRESS_L3;
    const present = fields.filter((f) => rule[f] !== undefined && rule[f] !== null);
    if (present.length === 0) return undefined;
    const out = new Set<number>();
    const add = (list: readonly number[], check: (i: number) => boolean) => { for (const i of list) if (check(i)) out.add(i); };
    const pre = dir === 'ingress' ? 'from' : 'to';
    for (const f of present) {
      const list: any[] = rule[f];
      switch (f.slice(pre.length)) {
        case 'Endpoints':
          for (const sel of list) add(this.select(sel, () => true), (i) => peerSelectorMatchesLabels(sel, this.endpoints[i], this.identity(i), p));
          break;
        case 'Entities':
          for (const ent of list) add(ent === 'all' ? [...this.pods, ...this.others] : ent === 'world' ? this.others : ent === 'cluster' ? this.pods : [], () => true);
          break;
        case 'CIDR':
          for (const c of list) add([...this.ips, ...this.fqdns], (i) => cidrMatches(c, [], this.endpoints[i]));
          break;
        case 'CIDRSet':
          for (const c of list) add([...this.ips, ...this.fqdns], (i) => cidrMatches(c.cidr, c.except ?? [], this.endpoints[i]));
          break;
        case 'FQDNs':
          add(this.fqdns, (i) => { const e = this.endpoints[i]; return !!e.host && list.some((m) => dnsMatches(m, e.host!)); });
          break;
      }
    }
    return out;
  }
}
