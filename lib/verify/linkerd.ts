/**
 * Linkerd 2.x semantics over synthesized manifests (never the model): which pods are meshed, the
 * default inbound policy, Servers by pod and port, AuthorizationPolicies on Servers and HTTPRoutes,
 * MeshTLSAuthentication and NetworkAuthentication, and HTTPRoute method/path/header matching with
 * Linkerd's route precedence. The L3/L4 layer (NetworkPolicy) is another evaluator, asked with the
 * port the packets really use: between meshed pods that is the proxy's inbound port 4143.
 *
 * Modelled after linkerd2's policy-controller (inbound index) and linkerd2-proxy (server-policy,
 * http-route) as of Linkerd 2.20:
 * - a request goes to the best-matching route of the Server, ranked by matched path length, then
 *   method, then header count; a tie between routes that decide differently is reported as
 *   ambiguous (Linkerd would pick the oldest route) and denied;
 * - route authorizations are the route's own plus the Server's;
 * - without routes a Server has one default route (every request, Server authorizations);
 * - an AuthorizationPolicy needs every referenced authentication; one that references a missing
 *   object, or two MeshTLS (or two Network) authentications, is ignored;
 * - `audit` (Server accessPolicy or default inbound policy) admits what nothing else authorizes,
 *   and the effect is marked `audited` (its enforced form is `deny`).
 * Not modelled: GRPCRoute, EgressNetwork (outbound policy), ServerAuthorization, multicluster,
 * pod-level port annotations (opaque-ports, require-identity).
 */
import { parseCidr, parseIp, cidrContains, ParsedCidr } from '../intent/cidr';
import { Decision, DecidingObject, DecisionEffect, Endpoint, Manifest, PolicyEvaluator, Query, SourcedManifest, decision, objectName } from './types';
import { selectorMatches } from './networkpolicy';
import { ProbeModel, probesOfPodSpec } from '../intent/probe';
import { FlowPrefilter, OpenPrefilter, PortSet, PrefilterScope, SelectorIndex, prefilterOf } from './prefilter';

/** A query with optional request headers (kubelet probes send `User-Agent: kube-probe/...`). */
export interface LinkerdQuery extends Query {
  readonly http?: { readonly method: string; readonly path: string; readonly headers?: { readonly [name: string]: string } };
}

/** Options of the Linkerd reader. */
export interface LinkerdEvaluatorOptions {
  /** The L3/L4 layer under the mesh (NetworkPolicy); absent: nothing is filtered at L3/L4. */
  readonly l4?: PolicyEvaluator;
  /** Identity trust domain. @default 'cluster.local' */
  readonly identityDomain?: string;
  /** Control-plane namespace. @default 'linkerd' */
  readonly controlPlaneNamespace?: string;
  /** Cluster-wide default inbound policy (Helm `proxy.defaultInboundPolicy`). @default 'all-unauthenticated' */
  readonly clusterDefaultPolicy?: string;
}

const INBOUND_PORT = 4143;
/** The proxy's admin server (metrics, its own probes): proxy-init does not redirect it, so the network sees this port itself. */
const ADMIN_PORT = 4191;
const ADMIN = PortSet.of([{ protocol: 'TCP', lo: ADMIN_PORT }]);
const PROXY_PORTS = new Set([4140, 4143]);
const POLICY_GROUP = 'policy.linkerd.io';
/** Kinds whose pod template the reader reads probes from. */
const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'ReplicationController', 'Job', 'CronJob', 'Pod']);

interface Selector { matchLabels?: { [k: string]: string }; matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> }
interface ServerObj { name: string; namespace: string; podSelector?: Selector; port: number | string; protocol: string; accessPolicy: string }
interface RouteObj { id: string; name: string; namespace: string; group: string; servers: string[]; rules: Array<{ matches: any[] }> }
interface Authz { name: string; namespace: string; target: { group: string; kind: string; name: string }; refs: Array<{ group?: string; kind: string; name: string; namespace?: string }> }

function pushTo<V>(m: Map<string, V[]>, k: string, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

/** A Server's podSelector (Kubernetes label-selector semantics); a Server without one selects nothing. */
function selects(sel: Selector | undefined, labels: { [k: string]: string } | undefined): boolean {
  return sel !== undefined && selectorMatches(sel, labels);
}

/** Linkerd's route-match rank: [path length, method matched, header count]. */
type Rank = [number, number, number];
const cmpRank = (a: Rank, b: Rank) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

function linkerdEffect(verdict: 'allow' | 'deny', detail: string, objects: DecidingObject[] = []): DecisionEffect {
  return { layer: 'linkerd', verdict, objects, detail };
}

/** The HTTPRoute object of a route (Linkerd's own or the Gateway API's; both are kind HTTPRoute). */
function routeObject(r: RouteObj): DecidingObject {
  return { kind: 'HTTPRoute', namespace: r.namespace, name: r.name };
}

function pathMatch(m: any, path: string): number | undefined {
  const p = m?.path;
  if (!p) return 1; // Gateway API default: PathPrefix "/"
  const type = p.type ?? 'PathPrefix';
  const value: string = p.value ?? '/';
  if (type === 'Exact') return path === value ? value.length : undefined;
  if (type === 'RegularExpression') {
    const re = new RegExp(`^(?:${value})$`);
    return re.test(path) ? path.length : undefined;
  }
  if (value === '/') return 1;
  const prefix = value.replace(/\/+$/, '');
  const trimmed = path.replace(/\/+$/, '');
  if (!trimmed.startsWith(prefix)) return undefined;
  const rest = trimmed.slice(prefix.length);
  return rest === '' || rest.startsWith('/') ? prefix.length : undefined;
}

function requestRank(m: any, http: NonNullable<LinkerdQuery['http']>): Rank | undefined {
  if (m?.method && m.method !== http.method) return undefined;
  const len = pathMatch(m, http.path);
  if (len === undefined) return undefined;
  const headers: any[] = m?.headers ?? [];
  const given = Object.fromEntries(Object.entries(http.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  for (const h of headers) {
    const v = given[String(h.name).toLowerCase()];
    if (v === undefined) return undefined;
    if ((h.type ?? 'Exact') === 'Exact' ? v !== h.value : !new RegExp(`^(?:${h.value})$`).test(v)) return undefined;
  }
  if ((m?.queryParams ?? []).length > 0) return undefined; // queries carry no query string
  return [len, m?.method ? 1 : 0, headers.length];
}

/** Linkerd's inbound policy plus an L3/L4 layer, read from manifests. */
export class LinkerdEvaluator implements PolicyEvaluator {
  public readonly backend = 'linkerd';
  private readonly servers: ServerObj[] = [];
  private readonly routes: RouteObj[] = [];
  private readonly authzs: Authz[] = [];
  private readonly meshtls = new Map<string, any>();
  private readonly network = new Map<string, any>();
  private readonly opts: Required<Omit<LinkerdEvaluatorOptions, 'l4'>> & { l4?: PolicyEvaluator };
  private readonly authzsByTarget = new Map<string, Authz[]>();
  private readonly authzOrder = new Map<Authz, number>();
  private readonly serverIndex: SelectorIndex<ServerObj>;
  private readonly serversCache = new WeakMap<Endpoint, ServerObj[]>();
  private readonly routesByNs = new Map<string, RouteObj[]>();
  /** The httpGet probes of each pod template, by `namespace/name` of its workload object. */
  private readonly probesByWorkload = new Map<string, ProbeModel[]>();

  public constructor(manifests: ReadonlyArray<Manifest | SourcedManifest>, options: LinkerdEvaluatorOptions = {}) {
    this.opts = {
      identityDomain: options.identityDomain ?? 'cluster.local',
      controlPlaneNamespace: options.controlPlaneNamespace ?? 'linkerd',
      clusterDefaultPolicy: options.clusterDefaultPolicy ?? 'all-unauthenticated',
      l4: options.l4,
    };
    for (const raw of manifests) {
      const m: Manifest = (raw as SourcedManifest).manifest ?? (raw as Manifest);
      const [group] = m.apiVersion.split('/');
      const ns = m.metadata.namespace ?? 'default';
      const key = `${ns}/${m.metadata.name}`;
      const podSpec = WORKLOAD_KINDS.has(m.kind) ? (m.kind === 'Pod' ? m.spec : m.kind === 'CronJob' ? m.spec?.jobTemplate?.spec?.template?.spec : m.spec?.template?.spec) : undefined;
      if (podSpec) {
        const probes = probesOfPodSpec(podSpec);
        if (probes.length > 0) this.probesByWorkload.set(key, [...(this.probesByWorkload.get(key) ?? []), ...probes]);
      }
      if (group === POLICY_GROUP && m.kind === 'Server') {
        this.servers.push({
          name: m.metadata.name, namespace: ns, podSelector: m.spec?.podSelector, port: m.spec?.port,
          protocol: m.spec?.proxyProtocol ?? 'unknown', accessPolicy: m.spec?.accessPolicy ?? 'deny',
        });
      } else if (group === POLICY_GROUP && m.kind === 'AuthorizationPolicy') {
        this.authzs.push({ name: m.metadata.name, namespace: ns, target: m.spec?.targetRef ?? {}, refs: m.spec?.requiredAuthenticationRefs ?? [] });
      } else if (group === POLICY_GROUP && m.kind === 'MeshTLSAuthentication') {
        this.meshtls.set(key, m.spec ?? {});
      } else if (group === POLICY_GROUP && m.kind === 'NetworkAuthentication') {
        this.network.set(key, m.spec ?? {});
      } else if ((group === POLICY_GROUP || group === 'gateway.networking.k8s.io') && m.kind === 'HTTPRoute') {
        const servers = (m.spec?.parentRefs ?? [])
          .filter((p: any) => p.group === POLICY_GROUP && p.kind === 'Server' && (p.namespace === undefined || p.namespace === ns))
          .map((p: any) => p.name);
        this.routes.push({ id: `HTTPRoute ${key}`, name: m.metadata.name, namespace: ns, group, servers, rules: m.spec?.rules ?? [] });
      }
    }
    this.servers.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    this.serverIndex = new SelectorIndex(this.servers, (server) => server.namespace, (server) => (server.podSelector ? server.podSelector.matchLabels ?? undefined : null));
    this.authzs.forEach((a, i) => { this.authzOrder.set(a, i); pushTo(this.authzsByTarget, `${a.namespace}\0${a.target.kind}\0${a.target.name}`, a); });
    for (const r of this.routes) pushTo(this.routesByNs, r.namespace, r);
  }

  /**
   * The prefilter of this reader: the L4 layer's, asked as the packets look (the proxy port 4143
   * between meshed pods, the app port otherwise), narrowed on TCP to a meshed destination to the
   * ports of the Servers that select it, unless its default inbound policy may admit the source.
   */
  public prefilter(scope: PrefilterScope): FlowPrefilter | undefined {
    const below = this.opts.l4 ? prefilterOf(this.opts.l4, scope) : new OpenPrefilter(scope);
    if (!below) return undefined;
    const endpoints = scope.endpoints;
    const serverPorts = new Map<number, PortSet>();
    /** The TCP ports of `d` that a Server of it may select (numbers, and named ports resolved on `d`). */
    const serverPortsOf = (d: number): PortSet => {
      let ports = serverPorts.get(d);
      if (!ports) {
        const destination = endpoints[d];
        const ranges: Array<{ protocol: string; lo: number }> = [];
        for (const server of this.serversOf(destination)) {
          for (const p of destination.ports ?? []) if (p.protocol === 'TCP' && this.portMatches(server.port, destination, p.number)) ranges.push({ protocol: 'TCP', lo: p.number });
          if (typeof server.port === 'number' || /^\d+$/.test(String(server.port))) ranges.push({ protocol: 'TCP', lo: Number(server.port) });
        }
        ports = PortSet.of(ranges);
        serverPorts.set(d, ports);
      }
      return ports;
    };
    const uniformPorts = new Map<number, PortSet>();
    return {
      sources: (d) => below.sources(d),
      // Between meshed pods the network sees the proxy port whatever the app port, and on a TCP port
      // no Server selects (not the proxy's own, not a probe's) the default inbound policy decides
      // alike for every port; only the sentences name the port (`reasonsNamePort`).
      uniform: (s, d) => {
        const source = endpoints[s];
        const destination = endpoints[d];
        if (!this.meshed(source) || !this.meshed(destination)) return PortSet.NONE;
        let ports = uniformPorts.get(d);
        if (!ports) {
          const taken: Array<{ protocol: string; lo: number }> = [{ protocol: 'TCP', lo: ADMIN_PORT }, ...[...PROXY_PORTS].map((lo) => ({ protocol: 'TCP', lo }))];
          const probes = destination.workload === undefined ? [] : this.probesByWorkload.get(`${destination.namespace ?? 'default'}/${destination.workload}`) ?? [];
          for (const p of probes) taken.push({ protocol: 'TCP', lo: p.port });
          ports = PortSet.ALL_TCP.minus(serverPortsOf(d)).minus(PortSet.of(taken));
          uniformPorts.set(d, ports);
        }
        return ports;
      },
      reasonsNamePort: true,
      ports: (s, d) => {
        const source = endpoints[s];
        const destination = endpoints[d];
        const network = below.ports(s, d);
        if (network.empty || !this.meshed(destination)) return network;
        const udp = network.only('UDP');
        let tcp = this.meshed(source) ? (network.has('TCP', INBOUND_PORT) ? PortSet.ALL_TCP : network.intersect(ADMIN)) : network.only('TCP');
        if (tcp.empty) return udp;
        const key = 'config.linkerd.io/default-inbound-policy';
        const policy = destination.annotations?.[key] ?? destination.namespaceAnnotations?.[key] ?? this.opts.clusterDefaultPolicy;
        if (!this.policyAllows(policy, source)) tcp = tcp.intersect(serverPortsOf(d));
        return udp.union(tcp);
      },
    };
  }

  /** True when the endpoint is a pod with the Linkerd proxy injected (pod annotation, else namespace). */
  public meshed(e: Endpoint): boolean {
    if (e.kind !== 'pod') return false;
    const v = e.annotations?.['linkerd.io/inject'] ?? e.namespaceAnnotations?.['linkerd.io/inject'];
    return v === 'enabled' || v === 'ingress';
  }

  /** The mTLS identity of a meshed pod. */
  public identity(e: Endpoint): string | undefined {
    if (!this.meshed(e)) return undefined;
    return `${e.serviceAccount ?? 'default'}.${e.namespace}.serviceaccount.identity.${this.opts.controlPlaneNamespace}.${this.opts.identityDomain}`;
  }

  public evaluate(q: LinkerdQuery): Decision {
    const srcMeshed = this.meshed(q.source);
    const dstMeshed = this.meshed(q.destination);
    const viaProxy = srcMeshed && dstMeshed && q.protocol === 'TCP' && q.port !== ADMIN_PORT;
    const effects: DecisionEffect[] = [];
    if (this.opts.l4) {
      const l4q: Query = viaProxy ? { ...q, port: INBOUND_PORT, http: undefined } : { ...q, http: undefined };
      const l4 = this.opts.l4.evaluate(l4q);
      const note = viaProxy ? ` (meshed pods: the connection uses the proxy port ${INBOUND_PORT})` : '';
      // The layer's own effects, their sentences marked as L4's (and the port it saw).
      const l4Effects = l4.effects.map((e) => ({ ...e, detail: `L4: ${e.detail}${note}` }));
      if (!l4.allowed) return decision(false, l4Effects);
      effects.push(...l4Effects);
    }
    if (!dstMeshed || q.protocol !== 'TCP') {
      effects.push(linkerdEffect('allow', !dstMeshed ? `${q.destination.id} is not meshed; Linkerd does not police its inbound traffic` : `Linkerd does not proxy ${q.protocol}`));
      return decision(true, effects);
    }
    const inbound = this.inbound(q);
    const allowed = inbound.verdict === 'allow';
    return decision(allowed, allowed ? [...effects, inbound] : [inbound, ...effects]);
  }

  /** The inbound proxy's verdict, as one effect. */
  private inbound(q: LinkerdQuery): DecisionEffect {
    const d = q.destination;
    const conn = `${q.source.id} -> ${d.id} on ${q.port}/TCP`;
    const result = (allowed: boolean, detail: string, objects: DecidingObject[] = []) => linkerdEffect(allowed ? 'allow' : 'deny', detail, objects);
    if (PROXY_PORTS.has(q.port)) return result(false, `${q.port} is a Linkerd proxy port of ${d.id}; the proxy refuses to forward to it (${conn})`);
    const candidates = this.serversOf(d).filter((s) => this.portMatches(s.port, d, q.port));
    if (candidates.length === 0) return this.probeAuthorization(q, conn) ?? this.defaultPolicy(q, conn);
    const server = candidates[0];
    const serverObject: DecidingObject = { kind: 'Server', namespace: server.namespace, name: server.name };
    const serverName = `${objectName(serverObject)}${candidates.length > 1 ? ` (conflicting with ${candidates.slice(1).map((s) => s.name).join(', ')})` : ''}`;
    const serverAuthz = this.authzsTargeting(server.namespace, ['Server', server.name], ['Namespace', server.namespace]).filter((a) => a.namespace === server.namespace && (
      (a.target.kind === 'Server' && (a.target.group ?? POLICY_GROUP) === POLICY_GROUP && a.target.name === server.name) || (a.target.kind === 'Namespace' && a.target.name === server.namespace)));
    /** One authorization checked: an AuthorizationPolicy (its object) or the Server's accessPolicy (no object). */
    type Check = { name: string; object?: DecidingObject; ok: boolean };
    const authzCheck = (a: Authz): Check => {
      const object: DecidingObject = { kind: 'AuthorizationPolicy', namespace: a.namespace, name: a.name };
      return { name: objectName(object), object, ok: this.authorizes(a, q.source) };
    };
    const extra: Check[] = server.accessPolicy !== 'deny' ? [{ name: `accessPolicy ${server.accessPolicy}`, ok: this.policyAllows(server.accessPolicy, q.source) }] : [];
    const serverOk = [...serverAuthz.map(authzCheck), ...extra];

    const http = ['HTTP/1', 'HTTP/2', 'unknown'].includes(server.protocol);
    const routes = http ? (this.routesByNs.get(server.namespace) ?? []).filter((r) => r.namespace === server.namespace && r.servers.includes(server.name)) : [];
    const routeOk = (r: RouteObj) => this.authzsTargeting(r.namespace, ['HTTPRoute', r.name])
      .filter((a) => a.namespace === r.namespace && a.target.kind === 'HTTPRoute' && (a.target.group ?? POLICY_GROUP) === r.group && a.target.name === r.name)
      .map(authzCheck);
    /** `where` names the Server, and the route when one decides. */
    const verdict = (list: Check[], where: string, route?: RouteObj) => {
      const hit = list.filter((x) => x.ok);
      const named = (checks: Check[]) => [...checks.flatMap((x) => (x.object ? [x.object] : [])), ...(route ? [routeObject(route)] : []), serverObject];
      // Admitted by the Server's audit authorization alone: the proxy logs it, and enforcing denies it.
      const audited = hit.length > 0 && hit.every((x) => x.name === 'accessPolicy audit');
      if (audited) {
        return { ...result(true, `nothing but accessPolicy audit authorizes ${q.source.id} on ${where}: would be denied; admitted and logged because the Server is in audit (${conn})`, named(hit)), audited: true };
      }
      return hit.length
        ? result(true, `${hit.map((x) => x.name).join(' and ')} ${hit.length > 1 ? 'authorize' : 'authorizes'} ${q.source.id} on ${where} (${conn})`, named(hit))
        : result(false, `nothing authorizes ${q.source.id} on ${where}${list.length ? ` (checked ${list.map((x) => x.name).join(', ')})` : ''} (${conn})`, named(list));
    };

    if (http && routes.length === 0) {
      const probe = this.probeAuthorization(q, conn, serverObject);
      if (probe) return probe;
    }
    if (!q.http || routes.length === 0) {
      // A plain connection (or a Server without routes): accepted if the client is authorized on
      // the Server or on some route a request without special headers can reach (not the
      // kubelet probe route, which needs kubelet's User-Agent).
      const reachable = routes.filter((r) => r.rules.some((rule) => !rule.matches?.length || rule.matches.some((m: any) => !(m?.headers ?? []).length && !(m?.queryParams ?? []).length)));
      return verdict([...serverOk, ...reachable.flatMap(routeOk)], routes.length ? `${serverName} or its routes` : serverName);
    }
    // One request: the best route decides.
    let best: Array<{ route: RouteObj; rank: Rank }> = [];
    for (const r of routes) {
      for (const rule of r.rules) {
        const matches = rule.matches?.length ? rule.matches : [{}];
        for (const m of matches) {
          const rank = requestRank(m, q.http!);
          if (!rank) continue;
          if (best.length === 0 || cmpRank(rank, best[0].rank) > 0) best = [{ route: r, rank }];
          else if (cmpRank(rank, best[0].rank) === 0 && !best.some((b) => b.route === r)) best.push({ route: r, rank });
        }
      }
    }
    const req = `${q.http!.method} ${q.http!.path}`;
    if (best.length === 0) return result(false, `no route of ${serverName} matches ${req}: Linkerd answers 404 (${conn})`, [serverObject]);
    const decisions = best.map((b) => verdict([...routeOk(b.route), ...serverOk], `${b.route.id} of ${serverName} for ${req}`, b.route));
    if (decisions.some((x) => x.verdict !== decisions[0].verdict)) {
      return result(false, `ambiguous: ${best.map((b) => b.route.id).join(' and ')} tie for ${req} and decide differently; Linkerd picks the oldest (${conn})`, best.map((b) => routeObject(b.route)));
    }
    return decisions[0];
  }

  /** The Servers of a pod's namespace that select it, in name order (once per pod). */
  private serversOf(d: Endpoint): ServerObj[] {
    let out = this.serversCache.get(d);
    if (!out) {
      out = this.serverIndex.candidates([d.namespace ?? ''], d.labels).filter((s) => s.namespace === d.namespace && selects(s.podSelector, d.labels));
      this.serversCache.set(d, out);
    }
    return out;
  }

  /** The AuthorizationPolicies of a namespace whose targetRef is one of these kinds and names, in manifest order. */
  private authzsTargeting(namespace: string, ...targets: Array<[string, string]>): Authz[] {
    const lists = targets.map(([kind, name]) => this.authzsByTarget.get(`${namespace}\0${kind}\0${name}`) ?? []).filter((l) => l.length > 0);
    if (lists.length <= 1) return lists[0] ?? [];
    return [...new Set(lists.flat())].sort((a, b) => this.authzOrder.get(a)! - this.authzOrder.get(b)!);
  }

  private portMatches(port: number | string, d: Endpoint, n: number): boolean {
    if (typeof port === 'number') return port === n;
    if (/^\d+$/.test(port)) return Number(port) === n;
    return (d.ports ?? []).some((p) => p.name === port && p.number === n && p.protocol === 'TCP');
  }

  /**
   * Linkerd authorizes the pod's own httpGet probes by itself (any client, unauthenticated) on a
   * port no Server selects, or whose Server has no routes (linkerd.io, "Default authorizations").
   */
  private probeAuthorization(q: LinkerdQuery, conn: string, server?: DecidingObject): DecisionEffect | undefined {
    if (!q.http || q.http.method !== 'GET' || q.destination.workload === undefined) return undefined;
    const probes = this.probesByWorkload.get(`${q.destination.namespace ?? 'default'}/${q.destination.workload}`) ?? [];
    if (!probes.some((p) => p.port === q.port && p.scheme === 'HTTP' && p.path === q.http!.path)) return undefined;
    const where = server ? `${objectName(server)} has no routes` : `no Server selects port ${q.port}`;
    return linkerdEffect('allow', `GET ${q.http.path} is a probe of ${q.destination.id}'s pod template and ${where}: Linkerd authorizes it for every client (${conn})`, server ? [server] : []);
  }

  private defaultPolicy(q: LinkerdQuery, conn: string): DecisionEffect {
    const d = q.destination;
    const policy = d.annotations?.['config.linkerd.io/default-inbound-policy'] ?? d.namespaceAnnotations?.['config.linkerd.io/default-inbound-policy'] ?? this.opts.clusterDefaultPolicy;
    const ok = this.policyAllows(policy, q.source);
    if (policy === 'audit') {
      // The audit default admits everyone and logs it; `deny` (its enforced form) would refuse.
      return { ...linkerdEffect('allow', `no Server selects ${d.id} port ${q.port}; the default inbound policy "audit" admits ${q.source.id}: would be denied; admitted and logged (${conn})`), audited: true };
    }
    const detail = `no Server selects ${d.id} port ${q.port}; the default inbound policy "${policy}" ${ok ? 'admits' : 'refuses'} ${q.source.id}${this.meshed(q.source) ? '' : ' (not meshed)'} (${conn})`;
    return linkerdEffect(ok ? 'allow' : 'deny', detail);
  }

  private policyAllows(policy: string, src: Endpoint): boolean {
    switch (policy) {
      case 'all-unauthenticated': case 'audit': return true;
      case 'cluster-unauthenticated': return src.kind === 'pod';
      case 'all-authenticated': case 'cluster-authenticated': return this.meshed(src);
      default: return false;
    }
  }

  /** True when every authentication the policy requires holds for the source; invalid policies authorize nothing. */
  private authorizes(a: Authz, src: Endpoint): boolean {
    let identities: Array<(id: string) => boolean> | undefined;
    let networks: Array<{ cidr: ParsedCidr; except: ParsedCidr[] }> | undefined;
    for (const ref of a.refs) {
      const ns = ref.namespace ?? a.namespace;
      if (ref.kind === 'MeshTLSAuthentication') {
        const spec = this.meshtls.get(`${ns}/${ref.name}`);
        if (!spec || identities) return false;
        const m = this.identityMatchers(spec, ns);
        if (!m) return false;
        identities = m;
      } else if (ref.kind === 'ServiceAccount') {
        if (identities) return false;
        const id = `${ref.name}.${ns}.serviceaccount.identity.${this.opts.controlPlaneNamespace}.${this.opts.identityDomain}`;
        identities = [(x) => x === id];
      } else if (ref.kind === 'NetworkAuthentication') {
        const spec = this.network.get(`${ns}/${ref.name}`);
        if (!spec || networks) return false;
        try {
          networks = (spec.networks ?? []).map((n: any) => ({ cidr: parseCidr(n.cidr, 'cidr'), except: (n.except ?? []).map((e: string) => parseCidr(e, 'except')) }));
        } catch {
          return false;
        }
      } else {
        return false;
      }
    }
    if (identities) {
      const id = this.identity(src);
      if (!id || !identities.some((f) => f(id))) return false;
    }
    if (networks) {
      const ip = src.kind === 'ip' ? parseIp(src.ip ?? src.id.replace(/^ip:/, '')) : undefined;
      const inNet = networks.some((n) => {
        if (!ip) return n.cidr.prefix === 0; // a pod's address is unknown: only a whole address space surely holds it
        return ip.family === n.cidr.family && cidrContains(n.cidr, ip.value) && !n.except.some((e) => e.family === ip.family && cidrContains(e, ip.value));
      });
      if (!inNet) return false;
    }
    return true;
  }

  private identityMatchers(spec: any, ns: string): Array<(id: string) => boolean> | undefined {
    const out: Array<(id: string) => boolean> = [];
    for (const s of spec.identities ?? []) {
      if (s === '*') out.push(() => true);
      else if (s.startsWith('*.')) out.push((id) => id.endsWith(s.slice(1)));
      else out.push((id) => id === s);
    }
    for (const r of spec.identityRefs ?? []) {
      const tail = `serviceaccount.identity.${this.opts.controlPlaneNamespace}.${this.opts.identityDomain}`;
      if (r.kind === 'ServiceAccount' && (r.group ?? '') === '' && r.name) {
        const id = `${r.name}.${r.namespace ?? ns}.${tail}`;
        out.push((x) => x === id);
      } else if (r.kind === 'Namespace' && (r.group ?? '') === '' && r.name) {
        out.push((x) => x.endsWith(`.${r.name}.${tail}`));
      } else {
        return undefined; // the policy controller rejects the whole authentication
      }
    }
    return out.length ? out : undefined;
  }
}
