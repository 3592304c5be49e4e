/**
 * Pure functions from the model to Linkerd 2.x policy objects (Linkerd 2.16+, tested against the
 * 2.20 CRDs): `Server` (policy.linkerd.io/v1beta3), `MeshTLSAuthentication`,
 * `NetworkAuthentication`, `AuthorizationPolicy` (policy.linkerd.io/v1alpha1) and `HTTPRoute`
 * attached to a Server: Linkerd's own (policy.linkerd.io/v1beta3, installed by linkerd-crds, the
 * default) or Gateway API's (gateway.networking.k8s.io/v1, which needs the Gateway API CRDs).
 *
 * How Linkerd decides (linkerd2 policy-controller and linkerd2-proxy, read for this file):
 * - a port of a meshed pod that no Server selects falls back to the default inbound policy, which
 *   this backend sets to `deny`;
 * - an AuthorizationPolicy on a Server applies to every request on it, one on an HTTPRoute to the
 *   requests that route wins; every authentication it references must hold (at most one
 *   MeshTLSAuthentication and one NetworkAuthentication);
 * - an HTTP request is handled by exactly one route: the best match across every route of the
 *   Server, ranked by matched path length, then method, then header count; ties go to the oldest
 *   route. A request no route matches is refused (404);
 * - while a Server has no routes, Linkerd adds a default route and authorizes kubelet probes
 *   itself; once it has routes it does neither.
 *
 * So: requests of different HTTP-rule groups must never compete for one route (checked at synth),
 * sources allowed every request get a Server-wide authorization plus, when the Server has routes,
 * a catch-all route, and a probe route (GET + probe path + kubelet's User-Agent, so it outranks
 * every other route) keeps health checks alive.
 */
import { ZeroTrustError } from '../../intent/errors';
import { Weaken } from '../../intent/weaken';
import { LINKERD_ADMIN_PORT } from '../metrics';
import {
  EndpointModel, FlowModel, HttpRuleModel, WorkloadModel, ZeroTrustModel, describeFlow, describeHttpRule, endpointKey, flowIndex, isPodEndpoint, managedMetadata,
} from '../../intent/model';
import { Port, PortKind, Protocol } from '../../intent/port';
import { compareEntries } from '../../intent/collation';
import { checkIdentityPairing } from '../pairing';

/** Settings the Linkerd objects depend on. */
export interface LinkerdSettings {
  /** Backend id for messages. */
  readonly backend: string;
  /** Cluster identity domain (`identityTrustDomain`). */
  readonly identityDomain: string;
  /** Namespace of the Linkerd control plane. */
  readonly controlPlaneNamespace: string;
  /** Networks kubelet probes come from. */
  readonly probeNetworks: string[];
  /**
   * API group of the emitted HTTPRoutes: `policy.linkerd.io` (v1beta3, installed by linkerd-crds)
   * or `gateway.networking.k8s.io` (v1, needs the Gateway API CRDs, which Linkerd 2.18+ does not
   * install by default).
   */
  readonly routeGroup: 'policy.linkerd.io' | 'gateway.networking.k8s.io';
}

/** Linkerd's inbound proxy port: meshed pods reach each other on it instead of the app port. */
export const LINKERD_INBOUND_PORT = 4143;
/** Control-plane ports every meshed proxy dials: destination, identity, policy. */
export const LINKERD_CONTROL_PLANE_PORTS = [{ port: 8086, what: 'destination' }, { port: 8080, what: 'identity' }, { port: 8090, what: 'policy' }];
/** User-Agent kubelet sends on HTTP probes (`kube-probe/1.30`). */
const KUBE_PROBE_USER_AGENT = 'kube-probe/.*';
/** Name of the per-namespace NetworkAuthentication of kubelet probes. */
const PROBE_AUTHN = 'kubelet-probes';

const POLICY_GROUP = 'policy.linkerd.io';
const GATEWAY_GROUP = 'gateway.networking.k8s.io';

/** A Linkerd object as plain JSON. */
export interface LinkerdObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { name: string; namespace: string; labels: { [key: string]: string }; annotations: { [key: string]: string } };
  readonly spec: any;
}

/** `hero.production.serviceaccount.identity.linkerd.cluster.local`. */
function serviceAccountIdentity(sa: string, namespace: string, s: LinkerdSettings): string {
  return `${sa}.${namespace}.serviceaccount.identity.${s.controlPlaneNamespace}.${s.identityDomain}`;
}

/** The Server `proxyProtocol` of a port kind; gRPC ports with HTTP rules are served as HTTP/2 so HTTPRoutes apply. */
function proxyProtocolOf(kind: PortKind, hasRoutes: boolean): string {
  switch (kind) {
    case PortKind.HTTP: return 'HTTP/1';
    case PortKind.HTTP2: return 'HTTP/2';
    case PortKind.GRPC: return hasRoutes ? 'HTTP/2' : 'gRPC';
    default: return 'opaque';
  }
}

/** The Server name of a workload port: `hero-http-8080`, `lil-deebee-postgres`. */
function serverName(w: WorkloadModel, p: Port): string {
  return `${w.name}-${p.name}`;
}

/** True when a rule set allows every request (no rules, or a rule without conditions). */
function allowsEverything(http: HttpRuleModel[]): boolean {
  return http.length === 0 || http.some((r) => r.methods.length === 0 && (r.paths.length === 0 || r.paths.includes('/*')));
}

/** One way a request can match an intent rule: a method (or any) and a path (exact, prefix, or any). */
interface Atom {
  readonly method?: string;
  readonly path?: { exact: boolean; value: string };
}

function atomsOf(r: HttpRuleModel): Atom[] {
  const methods: Array<string | undefined> = r.methods.length ? r.methods : [undefined];
  const paths: Array<{ exact: boolean; value: string } | undefined> = r.paths.length
    ? r.paths.map((p) => (p === '/*' ? undefined : p.endsWith('*') ? { exact: false, value: p.slice(0, -1) } : { exact: true, value: p }))
    : [undefined];
  return methods.flatMap((method) => paths.map((path) => ({ method, path })));
}

function atomsOverlap(a: Atom, b: Atom): boolean {
  if (a.method && b.method && a.method !== b.method) return false;
  if (!a.path || !b.path) return true;
  if (a.path.exact && b.path.exact) return a.path.value === b.path.value;
  if (a.path.exact) return a.path.value.startsWith(b.path.value);
  if (b.path.exact) return b.path.value.startsWith(a.path.value);
  return a.path.value.startsWith(b.path.value) || b.path.value.startsWith(a.path.value);
}

/** Escapes a literal for a (Rust) regular expression. */
function regexLiteral(s: string): string {
  return s.replace(/[\\.+*?()|[\]{}^$#&~-]/g, (c) => `\\${c}`);
}

/** The Gateway API match of an atom. Prefixes are regular expressions: PathPrefix matches whole segments only. */
function matchOf(a: Atom): any {
  const path = !a.path
    ? { type: 'PathPrefix', value: '/' }
    : a.path.exact ? { type: 'Exact', value: a.path.value } : { type: 'RegularExpression', value: `${regexLiteral(a.path.value)}.*` };
  return { path, ...(a.method ? { method: a.method } : {}) };
}

/** Authorization for one target: mesh identities and/or networks. */
interface Sources {
  readonly identities: EndpointModel[];
  readonly networks: EndpointModel[];
  readonly flows: FlowModel[];
}

/** A group of flows with the same HTTP rules on one Server: one HTTPRoute. */
interface RuleGroup extends Sources {
  readonly rules: HttpRuleModel[];
}

/** What one Server needs. */
interface ServerPlan {
  readonly workload: WorkloadModel;
  readonly port: Port;
  readonly name: string;
  readonly plain: Sources;
  readonly groups: RuleGroup[];
}

function sourcesOf(flows: FlowModel[]): Sources {
  const identities = new Map<string, EndpointModel>();
  const networks = new Map<string, EndpointModel>();
  for (const f of flows) {
    const key = endpointKey(f.source);
    (isPodEndpoint(f.source) ? identities : networks).set(key, f.source);
  }
  const sorted = (m: Map<string, EndpointModel>) => [...m.entries()].sort(compareEntries).map(([, e]) => e);
  return { identities: sorted(identities), networks: sorted(networks), flows };
}

/** Gateway API's limit on an HTTPRoute path value (`maxLength` in the HTTPRoute CRD). */
export const HTTPROUTE_PATH_MAX = 1024;
/** Gateway API's limits on an HTTPRoute: rules, matches per rule, matches in all (HTTPRoute CRD v1.6). */
const HTTPROUTE_LIMITS = { rules: 16, matchesPerRule: 64, matches: 128 };
/** Limits of Linkerd's own HTTPRoute (policy.linkerd.io/v1beta3 CRD of Linkerd 2.20): 16 rules of at most 8 matches. */
const LINKERD_HTTPROUTE_LIMITS = { rules: 16, matchesPerRule: 8, matches: 128 };

/** The limits of the HTTPRoute kind the settings emit. */
function routeLimits(s: Pick<LinkerdSettings, 'routeGroup'>): typeof HTTPROUTE_LIMITS {
  return s.routeGroup === POLICY_GROUP ? LINKERD_HTTPROUTE_LIMITS : HTTPROUTE_LIMITS;
}

/** The rules of a route: one per match list, split into rules of at most `matchesPerRule` matches (same route, same authorization). */
function routeRules(matchLists: any[][], s: Pick<LinkerdSettings, 'routeGroup'>): Array<{ matches: any[] }> {
  const per = routeLimits(s).matchesPerRule;
  const out: Array<{ matches: any[] }> = [];
  for (const matches of matchLists) {
    for (let i = 0; i < matches.length; i += per) out.push({ matches: matches.slice(i, i + per) });
  }
  return out;
}
const HTTPROUTE_PATH_CHARS = /^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$/;

/**
 * Why Gateway API would reject `value` as an `Exact` or `PathPrefix` HTTPRoute path (the CEL
 * rules and length of the HTTPRoute CRD, gateway-api v1.6), or undefined when it accepts it.
 */
export function httpRoutePathProblem(value: string): string | undefined {
  if (value.length > HTTPROUTE_PATH_MAX) return `is longer than ${HTTPROUTE_PATH_MAX} characters`;
  if (!value.startsWith('/')) return "must start with '/'";
  for (const bad of ['//', '/./', '/../', '%2f', '%2F', '#']) if (value.includes(bad)) return `must not contain '${bad}'`;
  for (const bad of ['/..', '/.']) if (value.endsWith(bad)) return `must not end with '${bad}'`;
  if (!HTTPROUTE_PATH_CHARS.test(value)) return `must only contain the characters ${HTTPROUTE_PATH_CHARS.source}`;
  return undefined;
}

/** Checks that the namespace's intent is enforceable on Linkerd; throws the first problem found. */
export function checkLinkerd(model: ZeroTrustModel, namespace: string, s: LinkerdSettings): void {
  if (namespace === s.controlPlaneNamespace) {
    throw new ZeroTrustError({
      code: 'CHART_IN_MESH_ROOT_NAMESPACE', backend: s.backend, namespace,
      message: `namespace ${namespace} is Linkerd's control-plane namespace: a default-deny inbound policy and NetworkPolicies there would cut every proxy off from the destination, identity and policy controllers; put the workloads in a namespace of their own`,
    });
  }
  for (const f of model.flows) {
    const src = f.source;
    const dst = f.destination;
    const mine = (e: EndpointModel) => e.type === 'workload' && e.workload.namespace === namespace;
    if (!mine(src) && !mine(dst)) continue;
    if (mine(src) && f.http.length > 0 && dst.type !== 'workload') {
      throw new ZeroTrustError({
        code: 'HTTP_RULES_ON_EGRESS_NOT_ENFORCED', weaken: Weaken.HTTP_TO_PORT, backend: s.backend, namespace, workload: f.declaredBy, rule: f.declaredAt,
        message: `${f.declaredAt}: HTTP rules on egress to ${endpointKey(dst)} would be enforced by nothing: Linkerd authorizes requests at the destination's proxy (its Server and HTTPRoutes), and ${dst.type === 'fqdn' || dst.type === 'ip-block' ? 'a destination outside the cluster has none' : 'this app does not configure the proxies of pods outside it'}; the client's proxy does not authorize outbound requests. Drop the http rule`,
      });
    }
    if (mine(dst) && f.http.length > 0) {
      for (const r of f.http) {
        for (const p of r.paths) {
          const value = p.endsWith('*') ? p.slice(0, -1) : p;
          const why = httpRoutePathProblem(value) ?? (p.endsWith('*') && `${regexLiteral(value)}.*`.length > HTTPROUTE_PATH_MAX ? `as a regular expression is longer than ${HTTPROUTE_PATH_MAX} characters` : undefined);
          if (why) {
            throw new ZeroTrustError({
              code: 'INVALID_HTTPROUTE_PATH', backend: s.backend, namespace, workload: f.declaredBy, rule: f.declaredAt,
              message: `${f.declaredAt}: HTTP path ${JSON.stringify(p)} cannot be written as a Gateway API HTTPRoute path (it ${why}), so the API server would reject the HTTPRoute; normalize the path`,
            });
          }
        }
      }
    }
    if (dst.type === 'fqdn') {
      const ns = (src as { workload: WorkloadModel }).workload.namespace;
      const allowed = new Set(model.flows.filter((g) => g.destination.type === 'fqdn' && g.destination.host === dst.host && g.source.type === 'workload').map((g) => endpointKey(g.source)));
      const all = model.workloads.filter((w) => w.namespace === ns);
      const why = all.every((w) => allowed.has(`${w.namespace}/${w.name}`))
        ? `Linkerd's EgressNetwork matches host names by SNI/Host only and NetworkPolicy cannot match host names at all, so the host cannot be enforced at L3/L4`
        : `Linkerd's EgressNetwork applies to every workload of namespace ${ns}, so allowing ${dst.host} here would also allow it to ${all.filter((w) => !allowed.has(`${w.namespace}/${w.name}`)).map((w) => w.name).join(', ')}`;
      throw new ZeroTrustError({ code: 'LINKERD_NOT_ENFORCEABLE', weaken: Weaken.HOST_TO_PORT, backend: s.backend, rule: f.declaredAt, workload: f.declaredBy, message: `${f.declaredAt}: ${why}; allow the host's addresses with Peer.ipBlock() instead` });
    }
    if (!mine(dst) || dst.type !== 'workload') continue;
    // Linkerd proxies TCP only: a UDP-only flow is the NetworkPolicy layer's (see serverPlans).
    if (src.type === 'external-workload' && !src.serviceAccount && f.ports.some((p) => p.protocol === Protocol.TCP)) {
      throw new ZeroTrustError({ code: 'SERVICE_ACCOUNT_REQUIRED', weaken: Weaken.WORKLOAD_TO_NAMESPACE, backend: s.backend, rule: f.declaredAt, workload: f.declaredBy, message: `${f.declaredAt}: Linkerd authorizes by identity and the ServiceAccount of ${endpointKey(src)} is unknown; give Peer.workload() a serviceAccount (or use Peer.namespace())` });
    }
  }
  for (const plan of serverPlans(model, namespace, s)) {
    checkRoutes(plan, s);
    checkRouteLimits(plan, s, namespace);
    if (plan.groups.length === 0) continue;
    const paths = probePathsOf(plan.workload, plan.port);
    const w = `${plan.workload.namespace}/${plan.workload.name}`;
    for (const path of paths) {
      const why = httpRoutePathProblem(path);
      if (why) {
        throw new ZeroTrustError({
          code: 'INVALID_HTTPROUTE_PATH', backend: s.backend, namespace, workload: w,
          message: `${w}: the probe path ${JSON.stringify(path)} on port ${plan.port.toString()} ${why}, so the API server would reject its probe HTTPRoute (the Server has HTTP rules, so Linkerd no longer authorizes probes itself); normalize the path`,
        });
      }
    }
    const l = routeLimits(s);
    if (paths.length > l.rules * l.matchesPerRule) {
      throw new ZeroTrustError({ code: 'HTTPROUTE_TOO_LARGE', backend: s.backend, namespace, workload: w, message: `${w}: ${paths.length} probe paths on port ${plan.port.toString()}, more than one HTTPRoute holds (${l.rules * l.matchesPerRule})` });
    }
  }
  checkIdentityPairing(model, namespace, s.backend, true);
}

/** Each HTTP-rule group is one HTTPRoute: it must fit Gateway API's limits on rules and matches. */
function checkRouteLimits(plan: ServerPlan, s: LinkerdSettings, namespace: string): void {
  for (const g of plan.groups) {
    const matches = g.rules.map((r) => atomsOf(r).length);
    const total = matches.reduce((a, b) => a + b, 0);
    const l = routeLimits(s);
    const rules = matches.reduce((n, m) => n + Math.ceil(m / l.matchesPerRule), 0);
    if (rules > l.rules || total > l.matches) {
      const f = g.flows[0];
      throw new ZeroTrustError({
        code: 'HTTPROUTE_TOO_LARGE', backend: s.backend, namespace, workload: f.declaredBy, rule: f.declaredAt,
        message: `${f.declaredAt}: its ${g.rules.length} HTTP rules make ${total} method/path matches (${matches.join(' + ')}) on ${plan.workload.namespace}/${plan.workload.name} port ${plan.port.toString()}, more than one ${s.routeGroup} HTTPRoute holds (${l.rules} rules of at most ${l.matchesPerRule} matches, ${l.matches} in all), so the API server would reject it; use path prefixes or fewer methods and paths`,
      });
    }
  }
}

function checkRoutes(plan: ServerPlan, s: LinkerdSettings): void {
  const where = (g: RuleGroup) => g.flows[0].declaredAt;
  for (let i = 0; i < plan.groups.length; i++) {
    for (let j = i + 1; j < plan.groups.length; j++) {
      const a = plan.groups[i];
      const b = plan.groups[j];
      const clash = a.rules.flatMap(atomsOf).find((x) => b.rules.flatMap(atomsOf).some((y) => atomsOverlap(x, y)));
      if (clash) {
        throw new ZeroTrustError({ code: 'OVERLAPPING_HTTP_RULES', backend: s.backend, message: `${where(b)}: its HTTP rules [${b.rules.map(describeHttpRule).join(' | ')}] overlap those of ${where(a)} [${a.rules.map(describeHttpRule).join(' | ')}] on ${plan.workload.namespace}/${plan.workload.name} port ${plan.port.toString()}; Linkerd hands each request to exactly one HTTPRoute, so both cannot be honoured. Give both sources the same rules (they then share one route) or make the rules disjoint` });
      }
    }
  }
  if (plan.groups.length > 0 && plan.plain.flows.length > 0) {
    const root = plan.groups.find((g) => g.rules.flatMap(atomsOf).some((a) => !a.method && a.path?.exact && a.path.value === '/'));
    if (root) {
      throw new ZeroTrustError({ code: 'OVERLAPPING_HTTP_RULES', backend: s.backend, message: `${where(root)}: the rule for path "/" with any method ties with the catch-all route that ${plan.plain.flows.map((f) => endpointKey(f.source)).join(', ')} need on ${plan.workload.namespace}/${plan.workload.name} port ${plan.port.toString()}; name the methods of that rule` });
    }
  }
}

/** The paths kubelet probes with HTTP GET on a workload port (from its pod template), sorted. */
function probePathsOf(w: WorkloadModel, p: Port): string[] {
  return [...new Set((w.probes ?? []).filter((x) => x.port === p.number && x.scheme === 'HTTP' && p.protocol === Protocol.TCP).map((x) => x.path))].sort();
}

function serverPlans(model: ZeroTrustModel, namespace: string, _s: LinkerdSettings): ServerPlan[] {
  const out: ServerPlan[] = [];
  for (const w of model.workloads.filter((x) => x.namespace === namespace)) {
    for (const p of w.ports) {
      if (p.protocol !== Protocol.TCP) continue; // Linkerd proxies TCP only; UDP is left to the NetworkPolicy layer.
      const inbound = (flowIndex(model).inbound.get(w) ?? []).filter((f) => f.ports.some((fp) => fp.number === p.number && fp.protocol === p.protocol));
      const plain = inbound.filter((f) => !p.speaksHttp || allowsEverything(f.http));
      const ruled = inbound.filter((f) => !plain.includes(f));
      const groups = new Map<string, FlowModel[]>();
      for (const f of ruled) {
        const key = JSON.stringify(f.http);
        groups.set(key, [...(groups.get(key) ?? []), f]);
      }
      out.push({
        workload: w,
        port: p,
        name: serverName(w, p),
        plain: sourcesOf(plain),
        groups: [...groups.entries()].sort(compareEntries).map(([, flows]) => ({ ...sourcesOf(flows), rules: flows[0].http })),
      });
    }
  }
  return out;
}

function meta(namespace: string, name: string, allows: string[]): LinkerdObject['metadata'] {
  return managedMetadata(name, namespace, allows) as LinkerdObject['metadata'];
}

/** The identityRef of a mesh source, relative to the namespace of the MeshTLSAuthentication. */
function identityRef(e: EndpointModel, namespace: string): any {
  switch (e.type) {
    case 'workload': return { kind: 'ServiceAccount', name: e.workload.serviceAccount, ...(e.workload.namespace !== namespace ? { namespace: e.workload.namespace } : {}) };
    case 'external-workload': return { kind: 'ServiceAccount', name: e.serviceAccount!, ...(e.namespace !== namespace ? { namespace: e.namespace } : {}) };
    // Resolved by the policy controller to every identity of the namespace: *.<ns>.serviceaccount.identity.<cp>.<domain>.
    case 'namespace': return { kind: 'Namespace', name: e.namespace };
    case 'ip-block':
    case 'fqdn':
      throw new ZeroTrustError({ code: 'LINKERD_NOT_ENFORCEABLE', message: `${endpointKey(e)} has no mesh identity` });
  }
}

/** Identity strings a source resolves to, for the allows annotation. */
function identityText(e: EndpointModel, s: LinkerdSettings): string {
  switch (e.type) {
    case 'workload': return serviceAccountIdentity(e.workload.serviceAccount, e.workload.namespace, s);
    case 'external-workload': return serviceAccountIdentity(e.serviceAccount!, e.namespace, s);
    case 'namespace': return `*.${e.namespace}.serviceaccount.identity.${s.controlPlaneNamespace}.${s.identityDomain}`;
    case 'ip-block':
    case 'fqdn':
      return endpointKey(e);
  }
}

/** MeshTLSAuthentication / NetworkAuthentication + AuthorizationPolicy for one target. */
function authorize(namespace: string, name: string, target: { group: string; kind: string; name: string }, src: Sources, s: LinkerdSettings, what: string): LinkerdObject[] {
  const out: LinkerdObject[] = [];
  const flows = (pred: (e: EndpointModel) => boolean) => src.flows.filter((f) => pred(f.source)).map((f) => `${describeFlow(f)}${what}`);
  if (src.identities.length > 0) {
    const allows = flows(isPodEndpoint);
    out.push({
      apiVersion: `${POLICY_GROUP}/v1alpha1`,
      kind: 'MeshTLSAuthentication',
      metadata: meta(namespace, name, [...allows, ...src.identities.map((e) => `identity ${identityText(e, s)}`)]),
      spec: { identityRefs: src.identities.map((e) => identityRef(e, namespace)) },
    });
    out.push({
      apiVersion: `${POLICY_GROUP}/v1alpha1`,
      kind: 'AuthorizationPolicy',
      metadata: meta(namespace, name, allows),
      spec: { targetRef: target, requiredAuthenticationRefs: [{ group: POLICY_GROUP, kind: 'MeshTLSAuthentication', name }] },
    });
  }
  if (src.networks.length > 0) {
    const allows = flows((e) => e.type === 'ip-block').map((a) => `${a} (unauthenticated: by source address only)`);
    const networks = src.networks.map((e) => (e.type === 'ip-block' ? { cidr: e.cidr, ...(e.except.length ? { except: [...e.except] } : {}) } : undefined)).filter((n) => n !== undefined);
    out.push({
      apiVersion: `${POLICY_GROUP}/v1alpha1`,
      kind: 'NetworkAuthentication',
      metadata: meta(namespace, `${name}-networks`, allows),
      spec: { networks },
    });
    out.push({
      apiVersion: `${POLICY_GROUP}/v1alpha1`,
      kind: 'AuthorizationPolicy',
      metadata: meta(namespace, `${name}-networks`, allows),
      spec: { targetRef: target, requiredAuthenticationRefs: [{ group: POLICY_GROUP, kind: 'NetworkAuthentication', name: `${name}-networks` }] },
    });
  }
  return out;
}

function httpRoute(namespace: string, name: string, server: string, rules: any[], allows: string[], s: LinkerdSettings): LinkerdObject {
  return {
    apiVersion: s.routeGroup === POLICY_GROUP ? `${POLICY_GROUP}/v1beta3` : `${GATEWAY_GROUP}/v1`,
    kind: 'HTTPRoute',
    metadata: meta(namespace, name, allows),
    spec: { parentRefs: [{ group: POLICY_GROUP, kind: 'Server', name: server }], rules },
  };
}

/**
 * The proxy admin server (4191) of each workload that a scraper may reach
 * (`allowMetricsScraping`): a Server for it, `GET /metrics` authorized for the scraper, and the
 * proxy's own probes (`GET /live`, `/ready` from kubelet) authorized from the probe networks, as
 * a Server on the admin port takes it out of the default policy that admitted them.
 */
function adminObjects(model: ZeroTrustModel, namespace: string, s: LinkerdSettings): LinkerdObject[] {
  const out: LinkerdObject[] = [];
  for (const w of model.workloads.filter((x) => x.namespace === namespace)) {
    const scrapes = (flowIndex(model).inbound.get(w) ?? []).filter((f) => f.proxy && f.ports.some((p) => p.number === LINKERD_ADMIN_PORT));
    if (scrapes.length === 0) continue;
    const name = `${w.name}-proxy-admin`;
    out.push({
      apiVersion: `${POLICY_GROUP}/v1beta3`,
      kind: 'Server',
      metadata: meta(namespace, name, scrapes.map(describeFlow)),
      spec: { podSelector: { matchLabels: { ...w.selector } }, port: LINKERD_ADMIN_PORT, proxyProtocol: 'HTTP/1', accessPolicy: 'deny' },
    });
    const metricsRoute = `${name}-metrics`;
    out.push(httpRoute(namespace, metricsRoute, name, routeRules([[{ path: { type: 'Exact', value: '/metrics' }, method: 'GET' }]], s), scrapes.map((f) => `${describeFlow(f)} (GET /metrics)`), s));
    out.push(...authorize(namespace, metricsRoute, { group: s.routeGroup, kind: 'HTTPRoute', name: metricsRoute }, sourcesOf(scrapes), s, ' (GET /metrics)'));
    const probeRoute = `${name}-probes`;
    const what = `kubelet probes of the Linkerd proxy (GET /live, /ready with User-Agent ${KUBE_PROBE_USER_AGENT}) from ${s.probeNetworks.join(', ')}, unauthenticated`;
    out.push(...kubeletProbeRoute(namespace, probeRoute, name, ['/live', '/ready'], what, s));
  }
  return out;
}

/**
 * An HTTPRoute of the Server `server` matching GET on exactly `paths` from kubelet (its User-Agent),
 * and the AuthorizationPolicy that admits it unauthenticated from the probe networks.
 */
function kubeletProbeRoute(namespace: string, route: string, server: string, paths: readonly string[], what: string, s: LinkerdSettings): LinkerdObject[] {
  return [
    httpRoute(namespace, route, server, routeRules([paths.map((path) => ({
      path: { type: 'Exact', value: path },
      headers: [{ type: 'RegularExpression', name: 'User-Agent', value: KUBE_PROBE_USER_AGENT }],
      method: 'GET',
    }))], s), [what], s),
    {
      apiVersion: `${POLICY_GROUP}/v1alpha1`,
      kind: 'AuthorizationPolicy',
      metadata: meta(namespace, route, [what]),
      spec: {
        targetRef: { group: s.routeGroup, kind: 'HTTPRoute', name: route },
        requiredAuthenticationRefs: [{ group: POLICY_GROUP, kind: 'NetworkAuthentication', name: PROBE_AUTHN }],
      },
    },
  ];
}

/** Every Linkerd object of one namespace, in a stable order. */
export function linkerdObjects(model: ZeroTrustModel, namespace: string, s: LinkerdSettings): LinkerdObject[] {
  checkLinkerd(model, namespace, s);
  const out: LinkerdObject[] = [];
  let probes = false;
  for (const plan of serverPlans(model, namespace, s)) {
    const { workload: w, port: p, name } = plan;
    const hasRoutes = plan.groups.length > 0;
    const everything = [...plan.plain.flows, ...plan.groups.flatMap((g) => g.flows)];
    out.push({
      apiVersion: `${POLICY_GROUP}/v1beta3`,
      kind: 'Server',
      metadata: meta(namespace, name, everything.length ? everything.map(describeFlow) : [`nothing: no flow is declared to ${w.namespace}/${w.name} on ${p.toString()}`]),
      spec: {
        podSelector: { matchLabels: { ...w.selector } },
        port: p.number,
        proxyProtocol: proxyProtocolOf(p.kind, hasRoutes),
        accessPolicy: 'deny',
      },
    });
    const serverRef = { group: POLICY_GROUP, kind: 'Server', name };
    out.push(...authorize(namespace, name, serverRef, plan.plain, s, hasRoutes ? ' (every request, on every route)' : ''));
    if (!hasRoutes) continue;

    plan.groups.forEach((g, i) => {
      const routeName = `${name}-rules-${i + 1}`;
      const rules = routeRules(g.rules.map((r) => atomsOf(r).map(matchOf)), s);
      out.push(httpRoute(namespace, routeName, name, rules, g.flows.map(describeFlow), s));
      out.push(...authorize(namespace, routeName, { group: s.routeGroup, kind: 'HTTPRoute', name: routeName }, g, s, ''));
    });
    if (plan.plain.flows.length > 0) {
      // Without it, requests outside every rule would find no route (404) although the
      // Server-wide authorization allows them.
      out.push(httpRoute(namespace, `${name}-any`, name, [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }] }],
        [`every request not matched by another route of ${name}; authorized by the Server-wide AuthorizationPolicy only`], s));
    }
    // Linkerd authorizes probes itself only on Servers without routes: keep the pod template's own
    // httpGet probe paths on this port open to kubelet, and nothing where it declares none.
    const probePaths = probePathsOf(w, p);
    if (probePaths.length > 0) {
      probes = true;
      const probeRoute = `${name}-probes`;
      const what = `kubelet probes (GET ${probePaths.join(', ')} with User-Agent ${KUBE_PROBE_USER_AGENT}) from ${s.probeNetworks.join(', ')}, unauthenticated`;
      out.push(...kubeletProbeRoute(namespace, probeRoute, name, probePaths, what, s));
    }
  }
  const admin = adminObjects(model, namespace, s);
  out.push(...admin);
  if (probes || admin.length > 0) {
    out.push({
      apiVersion: `${POLICY_GROUP}/v1alpha1`,
      kind: 'NetworkAuthentication',
      metadata: meta(namespace, PROBE_AUTHN, [`kubelet probes from ${s.probeNetworks.join(', ')}, on the probe routes of Servers that have HTTP rules or are the proxy's admin port`]),
      spec: { networks: s.probeNetworks.map((cidr) => ({ cidr })) },
    });
  }
  return out;
}
