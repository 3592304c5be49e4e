/**
 * Istio semantics over synthesized manifests (never the model): which data plane a pod is in,
 * PeerAuthentication (STRICT rejects plaintext), AuthorizationPolicy (CUSTOM is unsupported, then
 * DENY before ALLOW; an ALLOW policy without rules allows nothing; once an ALLOW policy applies,
 * unmatched requests are denied), principals, namespaces, ipBlocks, ports, methods and paths (only
 * on ports the Service declares HTTP; on TCP an ALLOW rule with HTTP fields never matches and a
 * DENY rule with them matches everything), the Sidecar egress registry (REGISTRY_ONLY with
 * ServiceEntries), and in ambient mode ztunnel (L4 only) plus the waypoint of a Service, behind
 * which the destination's ztunnel sees the waypoint's identity. An optional network layer (the
 * NetworkPolicy reader) is consulted with what it really sees: the app port in sidecar mode, HBONE
 * 15008 between ambient pods, and the two hops through a waypoint.
 */
import { FlowPrefilter, OpenPrefilter, PortSet, PrefilterScope, SelectorIndex, prefilterOf } from './prefilter';
import { Decision, DecidingObject, DecisionEffect, DecisionVerdict, Endpoint, Manifest, PolicyEvaluator, Query, decision } from './types';

/** Options of the Istio reader. */
export interface IstioEvaluatorOptions {
  /** Istio root namespace, whose policies apply mesh-wide. Default `istio-system`. */
  readonly rootNamespace?: string;
  /** Cluster DNS domain, for Service host names in Sidecar egress hosts. Default `cluster.local`. */
  readonly clusterDomain?: string;
  /** Trust domain of principals. Default `cluster.local`. */
  readonly trustDomain?: string;
  /**
   * Namespaces the manifests do not define but the cluster enrols in the mesh (an ingress
   * controller's namespace), with the data plane they use.
   */
  readonly enrolledNamespaces?: { [namespace: string]: 'sidecar' | 'ambient' };
  /** The layer under the mesh (NetworkPolicy); a query must pass it too, as the packets really look. */
  readonly networkLayer?: PolicyEvaluator;
}

type DataPlane = 'sidecar' | 'ambient' | undefined;

interface ServicePort { name?: string; port: number; targetPort?: number | string; appProtocol?: string; protocol?: string }

const HBONE = 15008;
/** Annotation of an egress Gateway mapping its Service ports to pod ports (`443=8443`). */
const EGRESS_TARGET_PORTS_ANNOTATION = 'zero-trust.cdk8s.io/egress-gateway-target-ports';
/**
 * Inbound ports of a sidecar pod that istio-iptables never redirects to Envoy (pilot-agent's merged
 * metrics 15020, its health port 15021, Envoy's Prometheus port 15090): reached directly, in
 * plaintext, without PeerAuthentication or AuthorizationPolicy; only the network layer decides.
 */
export const SIDECAR_UNCAPTURED_PORTS = new Set([15020, 15021, 15090]);
const SIDECAR_UNCAPTURED = PortSet.of([...SIDECAR_UNCAPTURED_PORTS].map((lo) => ({ protocol: 'TCP', lo })));
/** Source address of kubelet probes to ambient pods. */
const AMBIENT_PROBE_ADDRESS = '169.254.7.127';
const HTTP_PREFIXES = ['http', 'http2', 'grpc', 'grpc-web', 'h2c'];

/** Reads Istio's decisions from manifests. */
export class IstioEvaluator implements PolicyEvaluator {
  public readonly backend = 'istio';
  private readonly root: string;
  private readonly clusterDomain: string;
  private readonly trustDomain: string;
  private readonly namespaces = new Map<string, { [key: string]: string }>();

  private index?: Map<string, Manifest[]>;
  private selectorIndexes?: { policies: SelectorIndex<Manifest>; sidecars: SelectorIndex<Manifest>; services: SelectorIndex<Manifest> };
  private readonly serviceCache = new WeakMap<Endpoint, Map<number, { svc: Manifest; port: ServicePort }>>();
  private readonly selectorPolicyCache = new WeakMap<Endpoint, Map<string, Manifest[]>>();
  private readonly sidecarCache = new WeakMap<Endpoint, Map<string, Manifest | undefined>>();
  private readonly authorizedPortsCache = new WeakMap<Endpoint, Map<string, PortSet>>();

  public constructor(private readonly manifests: Manifest[], private readonly options: IstioEvaluatorOptions = {}) {
    this.root = options.rootNamespace ?? 'istio-system';
    this.clusterDomain = options.clusterDomain ?? 'cluster.local';
    this.trustDomain = options.trustDomain ?? 'cluster.local';
    for (const m of manifests) {
      if (m.apiVersion === 'v1' && m.kind === 'Namespace') this.namespaces.set(m.metadata.name, m.metadata.labels ?? {});
    }
  }

  public evaluate(q: Query): Decision {
    const effects: DecisionEffect[] = [];
    const deny = (why: string, objects: readonly DecidingObject[] = []): Decision => decision(false, [...effects, istioEffect('deny', why, objects)]);

    if (q.protocol === 'UDP') {
      effects.push(istioEffect('allow', 'UDP: neither sidecars nor ztunnel carry it; only the network layer decides'));
      return this.network([{ ...q }], effects);
    }
    const srcPlane = this.dataPlane(q.source);
    const dstPlane = this.dataPlane(q.destination);

    // 1. Egress at the source's sidecar (ztunnel ignores outboundTrafficPolicy).
    if (srcPlane === 'sidecar') {
      const egress = this.sidecarEgress(q);
      // The egress gateway checks no source: a sidecar that imports its Service may send it any SNI.
      const shared = egress.verdict === 'deny' ? this.sharedGatewayHop(q) : undefined;
      if (shared) {
        effects.push(istioEffect('allow', shared.detail, shared.objects));
        return this.network([{ source: q.source, destination: shared.gateway, port: shared.port, protocol: 'TCP' }], effects);
      }
      effects.push(egress);
      if (egress.verdict === 'deny') return decision(false, effects);
    }
    if (q.destination.kind !== 'pod' || !dstPlane) {
      effects.push(istioEffect('allow', `${q.destination.id} is outside the mesh: nothing inbound to enforce`));
      const viaGateway = srcPlane === 'sidecar' ? this.egressGatewayHop(q) : undefined;
      if (viaGateway) {
        effects.push(istioEffect('allow', viaGateway.detail, viaGateway.objects));
        return this.network([{ source: q.source, destination: viaGateway.gateway, port: viaGateway.port, protocol: 'TCP' }], effects);
      }
      return this.network([q], effects);
    }

    if (dstPlane === 'sidecar' && SIDECAR_UNCAPTURED_PORTS.has(q.port)) {
      effects.push(istioEffect('allow', `the sidecar of ${q.destination.id} does not capture inbound port ${q.port} (its own metrics or health port): no PeerAuthentication or AuthorizationPolicy applies`));
      return this.network([q], effects);
    }

    // Ambient SNATs kubelet probes to 169.254.7.127 and the in-pod rules istio-cni writes let that
    // address past ztunnel (plaintext, no policy): only the network layer decides
    // (istio.io/latest/docs/ambient/usage/networkpolicy, "Ambient, health probes, and NetworkPolicy").
    if (dstPlane === 'ambient' && q.source.kind === 'ip' && q.source.ip === AMBIENT_PROBE_ADDRESS) {
      effects.push(istioEffect('allow', `${q.source.id} is the kubelet probe address, which ztunnel does not intercept`));
      return this.network([q], effects);
    }

    // 2. mTLS at the destination.
    const mtls = srcPlane !== undefined;
    const mode = this.peerAuthenticationMode(q.destination, q.port);
    const rejected = mode.mode === 'STRICT' && !mtls;
    const modeObjects = mode.object ? [mode.object] : [];
    // On a rejection the mode is context; the next effect is the refusal.
    effects.push(istioEffect(rejected ? 'info' : 'allow', `PeerAuthentication: ${mode.mode} on ${q.port}${mode.by ? ` (${mode.by})` : ''}`, modeObjects));
    if (rejected) return deny(`STRICT mTLS rejects plaintext from ${q.source.id}, which is not in the mesh`, modeObjects);

    const service = this.serviceOf(q.destination, q.port);
    const http = service !== undefined && isHttpPort(service.port);
    const peer: Attributes = {
      principal: mtls ? this.principalOf(q.source) : undefined,
      namespace: mtls ? q.source.namespace : undefined,
      ip: q.source.kind === 'ip' ? q.source.ip : undefined,
      anyHost: q.source.kind === 'fqdn',
      port: q.port,
      http: q.http,
    };

    // 3. Authorization.
    if (dstPlane === 'sidecar') {
      const d = evaluateWithDryRun(this.selectorPolicies(q.destination), { ...peer, l7: http }, 'sidecar', true);
      effects.push(...d.effects);
      if (!d.allowed) return decision(false, effects);
      return this.network([q], effects);
    }

    const waypoint = mtls && service ? this.waypointOf(q.destination.namespace!, service.svc) : undefined;
    if (waypoint) {
      const l7 = evaluateWithDryRun(this.targetRefPolicies(q.destination.namespace!, service!.svc.metadata.name, waypoint.name), { ...peer, l7: http }, `waypoint ${waypoint.name}`, true);
      effects.push(istioEffect('info', `Service ${service!.svc.metadata.name} uses waypoint ${q.destination.namespace}/${waypoint.name}`), ...l7.effects);
      if (!l7.allowed) return decision(false, effects);
      const fromWaypoint: Attributes = {
        principal: `${this.trustDomain}/ns/${q.destination.namespace}/sa/${waypoint.serviceAccount}`,
        namespace: q.destination.namespace,
        port: q.port,
        l7: false,
      };
      const l4 = evaluateWithDryRun(this.selectorPolicies(q.destination), fromWaypoint, 'ztunnel (source: the waypoint)', false);
      effects.push(...l4.effects);
      if (!l4.allowed) return decision(false, effects);
      const wp = this.waypointEndpoint(q.destination, waypoint.name, waypoint.serviceAccount);
      return this.network([
        { source: q.source, destination: wp, port: HBONE, protocol: 'TCP' },
        { source: wp, destination: q.destination, port: HBONE, protocol: 'TCP' },
      ], effects);
    }
    const l4 = evaluateWithDryRun(this.selectorPolicies(q.destination), { ...peer, l7: false }, 'ztunnel', false);
    effects.push(...l4.effects);
    if (!l4.allowed) return decision(false, effects);
    // Between mesh pods ztunnel tunnels to the destination's HBONE port; plaintext keeps the app port.
    return this.network([mtls ? { ...q, port: HBONE, protocol: 'TCP', http: undefined } : q], effects);
  }

  /**
   * The prefilter of this reader: the network layer's (asked as the packets look: the app port,
   * or HBONE 15008 between ambient pods), narrowed on TCP to the ports the destination's ALLOW
   * policies name. Every connection this reader allows passes the network layer on the way, so
   * its sources are the network layer's; without a network layer every pair is a candidate.
   */
  public prefilter(scope: PrefilterScope): FlowPrefilter | undefined {
    const layer = this.options.networkLayer;
    const below: FlowPrefilter | undefined = layer ? prefilterOf(layer, scope) : new OpenPrefilter(scope);
    if (!below) return undefined;
    const endpoints = scope.endpoints;
    const open = new OpenPrefilter(scope);
    const waypoints = new Set(this.of('Gateway').filter((g) => g.spec?.gatewayClassName === 'istio-waypoint').map((g) => g.metadata.namespace));
    // Behind a waypoint the network layer sees two hops to and from it, not this pair: every source is a candidate.
    const viaWaypoint = (d: Endpoint) => d.kind === 'pod' && this.dataPlane(d) === 'ambient' && waypoints.has(d.namespace);
    // A host name routed through an egress gateway: the network layer sees the sidecar reach the
    // gateway's pods, never the host, so every pod of a routing namespace is a candidate source,
    // on the ports the `mesh` routes take (the reader then asks the network layer about the hop).
    const routed = this.gatewayRoutedHosts();
    let podsByNamespace: Map<string, number[]> | undefined;
    const podsOf = (ns: string): readonly number[] => {
      if (!podsByNamespace) {
        podsByNamespace = new Map();
        endpoints.forEach((e, i) => { if (e.kind === 'pod' && e.namespace) (podsByNamespace!.get(e.namespace) ?? podsByNamespace!.set(e.namespace, []).get(e.namespace)!).push(i); });
      }
      return podsByNamespace.get(ns) ?? [];
    };
    const routesTo = (d: Endpoint) => (d.kind === 'fqdn' && d.host !== undefined ? routed.get(d.host) : undefined);
    const routingNamespaces = [...new Set([...routed.values()].flatMap((m) => [...m.keys()]))].sort();
    return {
      sources: (d) => {
        if (viaWaypoint(endpoints[d])) return open.sources(d);
        const routes = routesTo(endpoints[d]);
        if (!routes) return below.sources(d);
        const out = [...below.sources(d)];
        // The gateway is shared: a pod of any namespace that routes some host through a gateway may ask for this one.
        for (const ns of routingNamespaces) out.push(...podsOf(ns));
        return out;
      },
      ports: (s, d) => {
        const source = endpoints[s];
        const destination = endpoints[d];
        const network = below.ports(s, d);
        const routes = routesTo(destination);
        const viaGateway = routes && source.kind === 'pod' && this.dataPlane(source) === 'sidecar' && routingNamespaces.includes(source.namespace!)
          ? [...routes.values()].reduce((a, b) => a.union(b), PortSet.NONE) : undefined;
        if (viaGateway) return network.union(viaGateway);
        const udp = network.only('UDP');
        const dstPlane = this.dataPlane(destination);
        if (destination.kind !== 'pod' || !dstPlane) return network;
        if (dstPlane === 'ambient' && source.kind === 'ip' && source.ip === AMBIENT_PROBE_ADDRESS) return network;
        const authorized = dstPlane === 'sidecar' ? this.authorizedPorts(destination).union(SIDECAR_UNCAPTURED) : this.authorizedPorts(destination);
        let tcp: PortSet;
        if (dstPlane === 'sidecar' || this.dataPlane(source) === undefined) tcp = network.only('TCP');
        else if (viaWaypoint(destination)) tcp = PortSet.ALL_TCP;
        else tcp = network.has('TCP', HBONE) ? PortSet.ALL_TCP : PortSet.NONE;
        return udp.union(tcp.intersect(authorized));
      },
      // Where only the network layer decides (UDP; TCP to a pod outside the mesh from outside a
      // sidecar; the kubelet probe address to an ambient pod), its exact ports are this reader's.
      exact: (s, d) => {
        const network = below.exact?.(s, d) ?? PortSet.NONE;
        if (network.empty) return network;
        const source = endpoints[s];
        const destination = endpoints[d];
        const dstPlane = this.dataPlane(destination);
        const networkOnly = ((destination.kind !== 'pod' || !dstPlane) && this.dataPlane(source) !== 'sidecar')
          || (dstPlane === 'ambient' && source.kind === 'ip' && source.ip === AMBIENT_PROBE_ADDRESS);
        return networkOnly ? network : network.only('UDP');
      },
    };
  }

  /**
   * Host names a VirtualService sends through an egress gateway: per host, the namespaces of such
   * VirtualServices (their sidecars follow them) and the TCP ports of their `mesh` routes (every
   * port for a route without one). A superset of what `egressGatewayHop` follows.
   */
  private gatewayRoutedHosts(): Map<string, Map<string, PortSet>> {
    const out = new Map<string, Map<string, PortSet>>();
    for (const vs of this.of('VirtualService')) {
      if (!String(vs.apiVersion).startsWith('networking.istio.io/') || !(vs.spec?.gateways ?? []).some((g: string) => g !== 'mesh')) continue;
      let ports = PortSet.NONE;
      for (const r of [...(vs.spec?.tls ?? []), ...(vs.spec?.http ?? []), ...(vs.spec?.tcp ?? [])]) {
        for (const m of r?.match ?? []) {
          if (!(m?.gateways ?? []).includes('mesh')) continue;
          ports = ports.union(/^\d+$/.test(String(m.port ?? '')) ? PortSet.single('TCP', Number(m.port)) : PortSet.ALL_TCP);
        }
      }
      if (ports.empty) continue;
      for (const host of vs.spec?.hosts ?? []) {
        const byNs = out.get(host) ?? out.set(host, new Map()).get(host)!;
        const ns = String(vs.metadata.namespace);
        byNs.set(ns, (byNs.get(ns) ?? PortSet.NONE).union(ports));
      }
    }
    return out;
  }

  /** TCP ports the ALLOW policies of a meshed pod may admit (every port when none applies; none with a CUSTOM one). */
  private authorizedPorts(e: Endpoint): PortSet {
    return this.cached(this.authorizedPortsCache, e, '', () => {
      // A dry-run policy restricts nothing (sidecars record it; ztunnel never gets it).
      const policies = this.selectorPolicies(e).filter((p) => !isDryRun(p));
      if (policies.some((p) => (p.spec?.action ?? 'ALLOW') === 'CUSTOM')) return PortSet.NONE;
      const allow = policies.filter((p) => (p.spec?.action ?? 'ALLOW') === 'ALLOW');
      if (allow.length === 0) return PortSet.ALL_TCP;
      const ranges: Array<{ protocol: string; lo: number }> = [];
      for (const p of allow) {
        for (const rule of p.spec?.rules ?? []) {
          if (!rule?.to) return PortSet.ALL_TCP;
          for (const t of rule.to) {
            const ports = t?.operation?.ports;
            if (!Array.isArray(ports)) return PortSet.ALL_TCP;
            for (const n of ports) if (/^\d+$/.test(String(n))) ranges.push({ protocol: 'TCP', lo: Number(n) });
          }
        }
      }
      return PortSet.of(ranges);
    });
  }

  /** Asks the network layer about each hop; its effects follow the line that sums the hop up. */
  private network(hops: Query[], effects: DecisionEffect[]): Decision {
    const layer = this.options.networkLayer;
    if (!layer) return decision(true, effects);
    for (const hop of hops) {
      const d = layer.evaluate(hop);
      const label = `${layer.backend} ${hop.source.id} -> ${hop.destination.id}:${hop.port}/${hop.protocol}`;
      if (!d.allowed) return decision(false, [...effects, istioEffect('deny', `${label}: denied`), ...d.effects]);
      // A hop that passed is one line of prose; the layer's effects stay, folded, for whoever reads them.
      effects.push(istioEffect('allow', `${label}: allowed`));
      for (const e of d.effects) effects.push({ layer: e.layer, verdict: e.verdict, objects: e.objects, detail: e.detail, folded: true });
    }
    return decision(true, effects);
  }

  /**
   * The egress gateway a sidecar sends a host name to: a VirtualService of the source's namespace
   * for the host, whose `mesh` route on the port goes to a gateway Service, and whose gateway
   * route is a Gateway of that namespace (its selector: the gateway's pods; the pod port behind
   * the Service port from its target-ports annotation, else the same port). The network layer
   * then sees the connection to the gateway's pods, not to the host.
   */
  private egressGatewayHop(q: Query, anyNamespace = false): { gateway: Endpoint; port: number; detail: string; objects: DecidingObject[] } | undefined {
    const host = q.destination.kind === 'fqdn' ? q.destination.host : undefined;
    if (!host) return undefined;
    for (const vs of this.of('VirtualService', anyNamespace ? undefined : q.source.namespace)) {
      if (!String(vs.apiVersion).startsWith('networking.istio.io/') || !(vs.spec?.hosts ?? []).includes(host)) continue;
      const routes: any[] = [...(vs.spec?.tls ?? []), ...(vs.spec?.http ?? [])];
      const viaMesh = routes.find((r) => (r.match ?? []).some((m: any) => (m.gateways ?? []).includes('mesh') && (m.port === undefined || m.port === q.port)));
      const target = viaMesh?.route?.[0]?.destination;
      const svc = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc(\.|$)/.exec(String(target?.host ?? ''));
      if (!svc) continue;
      const gatewayName = (vs.spec?.gateways ?? []).find((g: string) => g !== 'mesh');
      const [gwNs, gwName] = String(gatewayName ?? '').includes('/') ? String(gatewayName).split('/') : [vs.metadata.namespace, gatewayName];
      const gw = this.of('Gateway', gwNs).find((g) => g.metadata.name === gwName && String(g.apiVersion).startsWith('networking.istio.io/'));
      if (!gw?.spec?.selector) continue;
      const servicePort = target.port?.number ?? q.port;
      const mapped = String(gw.metadata.annotations?.[EGRESS_TARGET_PORTS_ANNOTATION] ?? '').split(',').map((x) => x.split('=')).find(([from]) => Number(from) === servicePort);
      const port = mapped ? Number(mapped[1]) : servicePort;
      const gateway: Endpoint = {
        id: `${svc[2]}/${svc[1]}`, kind: 'pod', namespace: svc[2], labels: { ...gw.spec.selector },
        namespaceLabels: { 'kubernetes.io/metadata.name': svc[2] }, annotations: {}, serviceAccount: svc[1],
      };
      const objects = [vs, gw].map((o) => ({ kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name }));
      return { gateway, port, objects, detail: `VirtualService ${vs.metadata.namespace}/${vs.metadata.name} sends ${host}:${q.port} to the egress gateway ${svc[2]}/${svc[1]} (its pods on ${port}), Gateway ${gwNs}/${gwName} forwards it` };
    }
    return undefined;
  }

  /**
   * A host the source's own routing does not reach, asked of an egress gateway anyway: any
   * VirtualService and Gateway of the manifests route the host through a gateway, and the source's
   * REGISTRY_ONLY Sidecar imports that gateway's Service, so it can dial the Service with the host's
   * SNI (or Host header); the gateway checks no source and forwards it. The network layer then sees
   * the connection to the gateway's pods.
   */
  private sharedGatewayHop(q: Query): { gateway: Endpoint; port: number; detail: string; objects: DecidingObject[] } | undefined {
    if (q.destination.kind !== 'fqdn') return undefined;
    const hop = this.egressGatewayHop(q, true);
    if (!hop) return undefined;
    const sidecar = this.sidecarOf(q.source);
    const hosts: string[] = (sidecar?.spec?.egress ?? []).flatMap((e: any) => e.hosts ?? []);
    const ns = hop.gateway.namespace!;
    const service = `${hop.gateway.serviceAccount}.${ns}.svc.${this.clusterDomain}`;
    const imports = hosts.some((h) => {
      const [hns, hhost] = h.split('/');
      return (hns === '*' || hns === ns || (hns === '.' && ns === q.source.namespace)) && hostMatches(hhost, service);
    });
    if (!sidecar || !imports) return undefined;
    const objects = [...hop.objects, { kind: 'Sidecar', namespace: sidecar.metadata.namespace, name: sidecar.metadata.name }];
    return { ...hop, objects, detail: `Sidecar ${sidecar.metadata.namespace}/${sidecar.metadata.name} imports the egress gateway ${ns}/${hop.gateway.serviceAccount}, which checks no source: ${hop.detail}` };
  }

  // ------------------------------------------------------------------ inventory

  /** Manifests of a kind (in one namespace), in manifest order; indexed once, as every query asks. */
  private of(kind: string, namespace?: string): readonly Manifest[] {
    if (!this.index) {
      this.index = new Map();
      for (const m of this.manifests) {
        for (const key of [m.kind, `${m.kind} ${m.metadata.namespace}`]) (this.index.get(key) ?? this.index.set(key, []).get(key)!).push(m);
      }
    }
    return this.index.get(namespace === undefined ? kind : `${kind} ${namespace}`) ?? [];
  }

  /** The objects that select pods by labels, indexed by namespace and label (built once). */
  private selectors(): { policies: SelectorIndex<Manifest>; sidecars: SelectorIndex<Manifest>; services: SelectorIndex<Manifest> } {
    if (!this.selectorIndexes) {
      const byNamespace = (m: Manifest) => m.metadata.namespace;
      this.selectorIndexes = {
        // Policies a sidecar or ztunnel applies by selector (not those attached by targetRef).
        policies: new SelectorIndex(this.of('AuthorizationPolicy'), byNamespace,
          (ap) => (ap.spec?.targetRefs || ap.spec?.targetRef ? null : ap.spec?.selector?.matchLabels ?? undefined)),
        // Only Sidecars with a workloadSelector: the namespace default is looked up apart.
        sidecars: new SelectorIndex(this.of('Sidecar'), byNamespace, (s) => (s.spec?.workloadSelector?.labels ? s.spec.workloadSelector.labels : null)),
        // A Service without a selector selects no pod.
        services: new SelectorIndex(this.of('Service'), byNamespace, (svc) => (Object.keys(svc.spec?.selector ?? {}).length > 0 ? svc.spec.selector : null)),
      };
    }
    return this.selectorIndexes;
  }

  /** Caches a per-endpoint answer: queries reuse endpoint objects, and recomputing grows with the app squared. */
  private cached<T>(cache: WeakMap<Endpoint, Map<string, T>>, e: Endpoint, key: string, compute: () => T): T {
    const byKey = cache.get(e) ?? cache.set(e, new Map()).get(e)!;
    if (!byKey.has(key)) byKey.set(key, compute());
    return byKey.get(key)!;
  }

  /** Which data plane a pod is in, from its namespace's labels and its own. */
  public dataPlane(e: Endpoint): DataPlane {
    if (e.kind !== 'pod' || !e.namespace) return undefined;
    const labels = this.namespaces.get(e.namespace) ?? e.namespaceLabels ?? {};
    const pod = e.labels ?? {};
    if (labels['istio.io/dataplane-mode'] === 'ambient' && pod['istio.io/dataplane-mode'] !== 'none') return 'ambient';
    if ((labels['istio-injection'] === 'enabled' || labels['istio.io/rev'] !== undefined) && labels['istio-injection'] !== 'disabled'
      && pod['sidecar.istio.io/inject'] !== 'false') return 'sidecar';
    // Pod-level enrolment, in a namespace without enrolment labels: ambient by the pod's own
    // dataplane-mode label; a sidecar by the injector's object selectors (sidecar.istio.io/inject
    // "true" for the default revision, istio.io/rev for a revision).
    if (pod['istio.io/dataplane-mode'] === 'ambient') return 'ambient';
    const nsEnrolment = labels['istio-injection'] !== undefined || labels['istio.io/rev'] !== undefined;
    if (!nsEnrolment && (pod['sidecar.istio.io/inject'] === 'true' || pod['istio.io/rev'] !== undefined)) return 'sidecar';
    if (!this.namespaces.has(e.namespace)) return this.options.enrolledNamespaces?.[e.namespace];
    return undefined;
  }

  private principalOf(e: Endpoint): string | undefined {
    return e.kind === 'pod' && e.serviceAccount ? `${this.trustDomain}/ns/${e.namespace}/sa/${e.serviceAccount}` : undefined;
  }

  /** The Service in the destination's namespace that selects it and exposes `port` as target port. */
  private serviceOf(e: Endpoint, port: number): { svc: Manifest; port: ServicePort } | undefined {
    let byPort = this.serviceCache.get(e);
    if (!byPort) {
      // Every target port of the pod's Services, once per pod: the first Service (and its first port) wins.
      byPort = new Map();
      for (const svc of this.selectors().services.candidates([e.namespace], e.labels)) {
        const selector: { [key: string]: string } = svc.spec?.selector ?? {};
        if (Object.keys(selector).length === 0 || !matches(selector, e.labels)) continue;
        for (const sp of svc.spec?.ports ?? []) {
          const n = targetNumber(sp, e);
          if (n !== undefined && !byPort.has(n)) byPort.set(n, { svc, port: sp });
        }
      }
      this.serviceCache.set(e, byPort);
    }
    return byPort.get(port);
  }

  /**
   * The mTLS mode that applies to `port` of a pod: workload, then namespace, then root PeerAuthentication; PERMISSIVE by default.
   * `by` says where it comes from, `object` is the PeerAuthentication that sets it.
   */
  public peerAuthenticationMode(e: Endpoint, port: number): { mode: string; by?: string; object?: DecidingObject } {
    const pas = this.of('PeerAuthentication');
    const pick = (pa: Manifest | undefined, by: string) => {
      if (!pa) return undefined;
      const portLevel = pa.spec?.portLevelMtls?.[String(port)]?.mode;
      const mode = portLevel && portLevel !== 'UNSET' ? portLevel : pa.spec?.mtls?.mode;
      return mode && mode !== 'UNSET'
        ? { mode, by: `PeerAuthentication ${pa.metadata.namespace}/${pa.metadata.name}${portLevel ? ` port ${port}` : ''} (${by})`, object: objectOf(pa) }
        : undefined;
    };
    const own = pas.filter((pa) => pa.metadata.namespace === e.namespace);
    return pick(own.find((pa) => pa.spec?.selector?.matchLabels && matches(pa.spec.selector.matchLabels, e.labels)), 'workload')
      ?? pick(own.find((pa) => !pa.spec?.selector), 'namespace')
      ?? pick(pas.find((pa) => pa.metadata.namespace === this.root && !pa.spec?.selector), 'mesh')
      ?? { mode: 'PERMISSIVE', by: 'default' };
  }

  /** Policies a sidecar or ztunnel applies to a pod: its namespace's and the root namespace's, by selector. */
  private selectorPolicies(e: Endpoint): Manifest[] {
    return this.cached(this.selectorPolicyCache, e, '', () => this.selectors().policies.candidates([e.namespace, this.root], e.labels).filter((ap) => {
      const sel = ap.spec?.selector?.matchLabels;
      return !sel || matches(sel, e.labels);
    }));
  }

  /**
   * Policies a waypoint applies to a Service: those attached to the Service or to the waypoint
   * itself, and the root namespace's attached to the `istio-waypoint` GatewayClass (every waypoint
   * of the mesh). Selector policies, the root namespace's too, are ztunnel's, not the waypoint's.
   */
  private targetRefPolicies(ns: string, service: string, gateway: string): Manifest[] {
    const refsOf = (ap: Manifest): any[] => ap.spec?.targetRefs ?? (ap.spec?.targetRef ? [ap.spec.targetRef] : []);
    const own = this.of('AuthorizationPolicy', ns).filter((ap) => refsOf(ap).some((r) => (r.kind === 'Service' && (r.group ?? '') === '' && r.name === service)
      || (r.kind === 'Gateway' && r.group === 'gateway.networking.k8s.io' && r.name === gateway)));
    const meshWide = ns === this.root ? [] : this.of('AuthorizationPolicy', this.root)
      .filter((ap) => refsOf(ap).some((r) => r.kind === 'GatewayClass' && r.group === 'gateway.networking.k8s.io' && r.name === 'istio-waypoint'));
    return [...own, ...meshWide];
  }

  /** The waypoint a Service's traffic goes through, if the label names an existing istio-waypoint Gateway. */
  private waypointOf(ns: string, svc: Manifest): { name: string; serviceAccount: string } | undefined {
    const name = svc.metadata.labels?.['istio.io/use-waypoint'] ?? this.namespaces.get(ns)?.['istio.io/use-waypoint'];
    if (!name || name === 'none') return undefined;
    const gw = this.of('Gateway', ns).find((g) => g.metadata.name === name && g.spec?.gatewayClassName === 'istio-waypoint');
    if (!gw) return undefined;
    // Istio names a waypoint's ServiceAccount after its Gateway unless the annotation overrides it.
    return { name, serviceAccount: gw.metadata.annotations?.['gateway.istio.io/service-account'] ?? name };
  }

  private waypointEndpoint(dst: Endpoint, name: string, sa: string): Endpoint {
    return {
      id: `${dst.namespace}/${name}`,
      kind: 'pod',
      namespace: dst.namespace,
      namespaceLabels: this.namespaces.get(dst.namespace!) ?? dst.namespaceLabels,
      labels: { 'gateway.networking.k8s.io/gateway-name': name, 'istio.io/gateway-name': name, 'sidecar.istio.io/inject': 'false' },
      serviceAccount: sa,
      ports: [{ name: 'mesh', number: HBONE, protocol: 'TCP' }],
      workload: name,
    };
  }

  // ------------------------------------------------------------------ egress

  /** The Sidecar that applies to a pod: its own by selector, else its namespace's, else the root namespace's. */
  private sidecarOf(src: Endpoint): Manifest | undefined {
    return this.cached(this.sidecarCache, src, '', () => {
      const own = this.of('Sidecar', src.namespace);
      return this.selectors().sidecars.candidates([src.namespace], src.labels).find((s) => matches(s.spec.workloadSelector.labels, src.labels))
        ?? own.find((s) => !s.spec?.workloadSelector)
        ?? this.of('Sidecar', this.root).find((s) => !s.spec?.workloadSelector);
    });
  }

  private sidecarEgress(q: Query): DecisionEffect {
    const src = q.source;
    const sidecar = this.sidecarOf(src);
    const name = sidecar ? `Sidecar ${sidecar.metadata.namespace}/${sidecar.metadata.name}` : 'no Sidecar';
    const sidecarObjects = sidecar ? onlyObject(sidecar) : [];
    if (!sidecar || sidecar.spec?.outboundTrafficPolicy?.mode !== 'REGISTRY_ONLY') {
      return istioEffect('allow', `${name}: ALLOW_ANY, egress not restricted by the proxy`, sidecarObjects);
    }
    const hosts: string[] = (sidecar.spec?.egress ?? []).flatMap((e: any) => e.hosts ?? []);
    const imported = (ns: string, host: string) => hosts.some((h) => {
      const [hns, hhost] = h.split('/');
      const nsOk = hns === '*' || hns === ns || (hns === '.' && ns === src.namespace);
      return nsOk && hostMatches(hhost, host);
    });
    const dst = q.destination;
    if (dst.kind === 'pod') {
      const svc = this.serviceOf(dst, q.port);
      const host = svc ? `${svc.svc.metadata.name}.${dst.namespace}.svc.${this.clusterDomain}` : undefined;
      if (svc && imported(dst.namespace!, host!)) return istioEffect('allow', `${name}: REGISTRY_ONLY imports ${dst.namespace}/${host}`, sidecarObjects);
      // A namespace the manifests do not define: its Services are unknown, so a pod there is taken to
      // be reachable through some Service of its namespace, which an imported `<ns>/*` carries.
      if (!svc && !this.namespaces.has(dst.namespace!) && !this.of('Service', dst.namespace).length && imported(dst.namespace!, '*')) {
        return istioEffect('allow', `${name}: REGISTRY_ONLY imports ${dst.namespace}/* (assuming a Service of ${dst.namespace} exposes ${dst.id}:${q.port})`, sidecarObjects);
      }
      return istioEffect('deny', `${name}: REGISTRY_ONLY and no imported Service reaches ${dst.id}:${q.port}`, sidecarObjects);
    }
    for (const se of this.of('ServiceEntry')) {
      const exportTo: string[] = se.spec?.exportTo ?? ['*'];
      const visible = exportTo.includes('*') || exportTo.includes(src.namespace!) || (exportTo.includes('.') && se.metadata.namespace === src.namespace);
      if (!visible || !(se.spec?.ports ?? []).some((p: any) => p.number === q.port)) continue;
      const seHosts: string[] = se.spec?.hosts ?? [];
      const seAddresses: string[] = se.spec?.addresses ?? [];
      // Opaque TCP is matched by the address dialled, the hosts are ignored: a whole-space address holds a host name's address too.
      const opaque = ['TCP', undefined].includes((se.spec?.ports ?? []).find((p: any) => p.number === q.port)?.protocol);
      const hit = dst.kind === 'fqdn'
        ? seHosts.some((h) => hostMatches(h, dst.host!)) || (opaque && seAddresses.some((a) => wholeSpace(a)))
        : seAddresses.some((a: string) => ipInCidr(dst.ip!, a.includes('/') ? a : `${a}/${a.includes(':') ? 128 : 32}`));
      if (!hit) continue;
      const chosen = dst.kind === 'fqdn' ? seHosts.find((h) => hostMatches(h, dst.host!)) ?? seAddresses.find((a) => wholeSpace(a))! : seHosts[0];
      if (seHosts.some((h) => imported(se.metadata.namespace!, h))) {
        return istioEffect('allow', `${name}: REGISTRY_ONLY imports ServiceEntry ${se.metadata.namespace}/${se.metadata.name} (${chosen})`, [...sidecarObjects, objectOf(se)]);
      }
    }
    return istioEffect('deny', `${name}: REGISTRY_ONLY and no imported ServiceEntry covers ${dst.id}:${q.port}`, sidecarObjects);
  }
}

// -------------------------------------------------------------------- policy evaluation

interface Attributes {
  principal?: string;
  namespace?: string;
  ip?: string;
  /**
   * The source is a host outside the cluster (a host name): its address is unknown, but it lies in
   * every whole-space block (`0.0.0.0/0`, `::/0`), as the intent and the NetworkPolicy reader take it.
   */
  anyHost?: boolean;
  port: number;
  /** Whether this enforcement point sees HTTP on the connection. */
  l7?: boolean;
  http?: { method: string; path: string };
}

/** Evaluates AuthorizationPolicies at one enforcement point: CUSTOM (unsupported: deny), DENY, then ALLOW. */
function evaluatePolicies(policies: Manifest[], a: Attributes, where: string): Decision {
  const name = (p: Manifest) => `AuthorizationPolicy ${p.metadata.namespace}/${p.metadata.name}`;
  const action = (p: Manifest) => p.spec?.action ?? 'ALLOW';
  const one = (verdict: 'allow' | 'deny', detail: string, deciding: Manifest[]) => decision(verdict === 'allow', [istioEffect(verdict, `${where}: ${detail}`, deciding.map(objectOf))]);
  const custom = policies.filter((p) => action(p) === 'CUSTOM');
  if (custom.length) return one('deny', `${name(custom[0])} is CUSTOM, which this reader does not model (denied)`, [custom[0]]);
  for (const p of policies.filter((x) => action(x) === 'DENY')) {
    if ((p.spec?.rules ?? []).some((r: any) => ruleMatches(r, a, 'DENY'))) return one('deny', `${name(p)} (DENY) matches`, [p]);
  }
  const allow = policies.filter((p) => action(p) === 'ALLOW');
  if (allow.length === 0) return one('allow', 'no ALLOW policy applies', []);
  const hit = allow.find((p) => (p.spec?.rules ?? []).some((r: any) => ruleMatches(r, a, 'ALLOW')));
  if (hit) return one('allow', `${name(hit)} allows`, [hit]);
  return one('deny', `no rule of ${allow.map(name).sort().join(', ')} matches`, allow);
}

const SUPPORTED_SOURCE = ['principals', 'notPrincipals', 'namespaces', 'notNamespaces', 'ipBlocks', 'notIpBlocks'];
const SUPPORTED_OPERATION = ['ports', 'notPorts', 'methods', 'notMethods', 'paths', 'notPaths'];

function ruleMatches(rule: any, a: Attributes, action: 'ALLOW' | 'DENY'): boolean {
  if (rule.when) throw new Error('the Istio reader does not model "when" conditions');
  const from: any[] | undefined = rule.from;
  const to: any[] | undefined = rule.to;
  const fromOk = !from || from.some((f) => sourceMatches(f.source ?? {}, a, action));
  const toOk = !to || to.some((t) => operationMatches(t.operation ?? {}, a, action));
  return fromOk && toOk;
}

function sourceMatches(s: any, a: Attributes, action: 'ALLOW' | 'DENY'): boolean {
  for (const k of Object.keys(s)) if (!SUPPORTED_SOURCE.includes(k)) throw new Error(`the Istio reader does not model source field "${k}"`);
  const anyOf = (patterns: string[] | undefined, v: string | undefined) => v !== undefined && (patterns ?? []).some((p) => stringMatches(p, v));
  if (s.principals && !anyOf(s.principals, a.principal)) return false;
  if (s.notPrincipals && anyOf(s.notPrincipals, a.principal)) return false;
  if (s.namespaces && !anyOf(s.namespaces, a.namespace)) return false;
  if (s.notNamespaces && anyOf(s.notNamespaces, a.namespace)) return false;
  if (a.anyHost && a.ip === undefined) {
    // As the intent takes it: a host's address is in a whole-space block and in no narrower one, and
    // a whole-space block with excepts is not taken to hold it (so an ALLOW rule with notIpBlocks does not match).
    if (s.ipBlocks && !s.ipBlocks.some((c: string) => wholeSpace(c))) return false;
    if (s.notIpBlocks?.length && (s.notIpBlocks.some((c: string) => wholeSpace(c)) || action === 'ALLOW')) return false;
  } else {
    if (s.ipBlocks && !(a.ip && s.ipBlocks.some((c: string) => ipInCidr(a.ip!, c)))) return false;
    if (s.notIpBlocks && a.ip && s.notIpBlocks.some((c: string) => ipInCidr(a.ip!, c))) return false;
  }
  return true;
}

/**
 * Address fields for a source known only by host name (as the intent reads it: inside a whole
 * address space, anywhere else unknown): `ipBlocks` match when they list a /0; `notIpBlocks`
 * exclude it when they list a /0, or when they carve exceptions out of `ipBlocks` (its address may
 * be in them); alone, ranges short of /0 leave it outside them.
 */
function operationMatches(o: any, a: Attributes, action: 'ALLOW' | 'DENY'): boolean {
  for (const k of Object.keys(o)) if (!SUPPORTED_OPERATION.includes(k)) throw new Error(`the Istio reader does not model operation field "${k}"`);
  if (o.ports && !o.ports.includes(String(a.port))) return false;
  if (o.notPorts && o.notPorts.includes(String(a.port))) return false;
  const httpFields = ['methods', 'notMethods', 'paths', 'notPaths'].filter((k) => o[k] !== undefined);
  if (httpFields.length === 0) return true;
  // HTTP fields on a connection the enforcement point sees as TCP: an ALLOW rule never matches,
  // a DENY rule ignores them (and so denies the connection).
  if (!a.l7) return action === 'DENY';
  // A plain connection query asks whether a connection can be opened at all (the shared meaning in
  // lib/verify/types.ts): an ALLOW rule with HTTP conditions admits it (the proxy then answers each
  // request), and a DENY rule with them does not refuse it (some request may pass).
  if (!a.http) return action === 'ALLOW';
  const { method, path } = a.http;
  if (o.methods && !o.methods.includes(method)) return false;
  if (o.notMethods && o.notMethods.includes(method)) return false;
  if (o.paths && !o.paths.some((p: string) => stringMatches(p, path))) return false;
  if (o.notPaths && o.notPaths.some((p: string) => stringMatches(p, path))) return false;
  return true;
}

/** Istio string match: exact, `*` (any non-empty), prefix `x*`, suffix `*x`. */
function stringMatches(pattern: string, value: string): boolean {
  if (pattern === '*') return value.length > 0;
  if (pattern.endsWith('*')) return value.startsWith(pattern.slice(0, -1));
  if (pattern.startsWith('*')) return value.endsWith(pattern.slice(1));
  return pattern === value;
}

// -------------------------------------------------------------------- small helpers

/**
 * The policies' verdict with the dry-run ones (`istio.io/dry-run: "true"`) not enforced. Envoy (a
 * sidecar, a waypoint) evaluates them as shadow rules and records their result: a connection the
 * policies would deny if all were enforced is allowed with an `audited` effect (`records`).
 * ztunnel is not sent them (istiod drops dry-run policies for ztunnel since Istio 1.25,
 * istio/istio#55414): there they are absent, and nothing is recorded.
 */
function evaluateWithDryRun(policies: Manifest[], a: Attributes, where: string, records: boolean): Decision {
  const enforced = policies.filter((p) => !isDryRun(p));
  const d = evaluatePolicies(enforced, a, where);
  if (enforced.length === policies.length || !d.allowed || !records) return d;
  const shadow = evaluatePolicies(policies, a, `${where}, its dry-run policies counted`);
  if (shadow.allowed) return shadow;
  return decision(true, [...d.effects, ...shadow.effects.map((e) => ({
    ...e, verdict: 'allow' as const, audited: true, detail: `${e.detail}: would be denied; allowed because the policies are dry-run (istio.io/dry-run)`,
  }))]);
}

/** True for an AuthorizationPolicy in dry-run (`istio.io/dry-run: "true"`): the sidecar records its result and enforces nothing. */
function isDryRun(p: Manifest): boolean {
  return String(p.metadata.annotations?.['istio.io/dry-run'] ?? '').toLowerCase() === 'true';
}

function istioEffect(verdict: DecisionVerdict, detail: string, objects: readonly DecidingObject[] = []): DecisionEffect {
  return { layer: 'istio', verdict, objects, detail };
}

/** Each object as effects name it, alone in a list, made once: the same few objects decide most queries. */
const deciding = new WeakMap<Manifest, readonly DecidingObject[]>();

/** `[the object as effects name it]`. */
function onlyObject(m: Manifest): readonly DecidingObject[] {
  let o = deciding.get(m);
  if (!o) {
    o = [{ kind: m.kind, namespace: m.metadata.namespace, name: m.metadata.name }];
    deciding.set(m, o);
  }
  return o;
}

function objectOf(m: Manifest): DecidingObject {
  return onlyObject(m)[0];
}

function matches(selector: { [key: string]: string }, labels: { [key: string]: string } | undefined): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

function targetNumber(p: ServicePort, e: Endpoint): number | undefined {
  if (p.targetPort === undefined) return p.port;
  if (typeof p.targetPort === 'number') return p.targetPort;
  return e.ports?.find((cp) => cp.name === p.targetPort)?.number;
}

function isHttpPort(p: ServicePort): boolean {
  const proto = (p.appProtocol ?? '').toLowerCase();
  if (proto) return HTTP_PREFIXES.includes(proto) || proto.startsWith('kubernetes.io/h2c');
  const name = (p.name ?? '').toLowerCase();
  return HTTP_PREFIXES.some((x) => name === x || name.startsWith(`${x}-`));
}

/** Sidecar and ServiceEntry host matching: `*`, `*.suffix`, or exact. */
function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1));
  return pattern === host;
}

function parseIp(ip: string): { v: bigint; bits: number } | undefined {
  if (/^\d+\.\d+\.\d+\.\d+$/.test(ip)) return { v: ip.split('.').reduce((acc, x) => (acc << 8n) + BigInt(Number(x)), 0n), bits: 32 };
  if (!ip.includes(':')) return undefined;
  const [head, tail] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return { v: groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g || '0', 16)), 0n), bits: 128 };
}

/** True when `cidr` is every address of its family (`0.0.0.0/0`, `::/0`). */
function wholeSpace(cidr: string): boolean {
  return /\/0$/.test(cidr);
}

/** True when `ip` lies inside `cidr` (same family). */
function ipInCidr(ip: string, cidr: string): boolean {
  const [net, len] = cidr.split('/');
  const a = parseIp(ip);
  const n = parseIp(net);
  if (!a || !n || a.bits !== n.bits) return false;
  const shift = BigInt(a.bits - Number(len ?? a.bits));
  return a.v >> shift === n.v >> shift;
}
