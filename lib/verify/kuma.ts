/**
 * Reader of Kuma 2.x semantics over synthesized manifests (never the model): which pods are in
 * which mesh, whether the mesh has mTLS (and in which mode), which MeshTrafficPermissions select a
 * destination inbound and which `from` entry matches the client's tags, and which MeshPassthrough
 * lets a sidecar's traffic leave the mesh. Composed with a NetworkPolicy evaluator, a connection is
 * allowed only when both layers allow it.
 *
 * Modelled (Kuma 2.14, Kubernetes):
 * - A pod is meshed when its label (or legacy annotation) `kuma.io/sidecar-injection` is `enabled`,
 *   or its namespace has that label and the pod does not say `disabled`. Its mesh: pod label or
 *   annotation `kuma.io/mesh`, else the namespace's, else `default`.
 * - mTLS is on when the Mesh object has `spec.mtls.enabledBackend` naming one of its backends;
 *   its mode is that backend's `mode` (STRICT when absent). A mesh absent from the manifests is
 *   taken from `options.meshes`, else assumed to have mTLS off (Kuma then enforces nothing).
 * - Only TCP is proxied: UDP is decided by the NetworkPolicy layer alone.
 * - A `MeshTLS` (same namespaces, label and targetRef ordering as the permissions below, no
 *   `sectionName`) sets the mode of the pods it selects: the last `mode` of its `rules[]` (or of
 *   `from[]` entries targeting `Mesh`), the most specific policy winning; it does not turn mTLS on.
 * - Inbound (meshed destination): mTLS off -> allowed; plaintext client (unmeshed) -> denied in
 *   STRICT, allowed in PERMISSIVE with no permission checked (Kuma's RBAC filter sits on the mTLS
 *   filter chain only, kumahq/kuma#8152); client of another mesh -> denied. Otherwise the destination
 *   port must be an inbound (a TCP port of a Service selecting the pod; its name is the container
 *   port's name); a port without inbound falls to Kuma's inbound passthrough and is reported
 *   allowed. The MeshTrafficPermissions of the destination's namespace and of the control-plane
 *   namespace (mesh-wide) whose `kuma.io/mesh` label names the mesh and whose top-level targetRef
 *   selects the inbound (`Mesh`, or `Dataplane` by labels with optional `sectionName`) are ordered
 *   from least to most specific (ties by name); their `from` entries are concatenated in that
 *   order and the last entry matching the client decides (`Mesh`: every client; `MeshSubset`:
 *   every tag equal to one of the client's; `MeshServiceSubset`/`MeshService`: its
 *   `kuma.io/service` and tags). No matching entry: denied.
 * - Client tags: the pod's labels with non-empty values and keys without `kuma.io/`, plus
 *   `k8s.kuma.io/namespace`, and per TCP port of each selecting Service `kuma.io/service`
 *   (`<svc>_<ns>_svc_<port>`), `k8s.kuma.io/service-name`, `k8s.kuma.io/service-port`.
 * - Outbound from a meshed pod to an address, a host name, or an unmeshed pod leaves the mesh:
 *   the MeshPassthroughs selecting the source (same namespaces and ordering) decide: the most
 *   specific `passthroughMode` wins (`All`, `None`, `Matched` with the union of `appendMatch`);
 *   none -> the Mesh's `networking.outbound.passthrough` (default on). `Matched` entries: `CIDR`
 *   or `IP` against an `ip` endpoint, `Domain` (exact or `*.` wildcard) against an `fqdn`
 *   endpoint, with `port` absent or equal. An unmeshed pod's address is unknown, so only `All`
 *   lets the sidecar reach it.
 * - HTTP requests are not looked at: MeshTrafficPermission is L4.
 * - SPIFFE identity (Kuma 2.12+): a pod is identified by the most specific `MeshIdentity` of its
 *   mesh in the system namespace whose `selector.dataplane.matchLabels` its tags satisfy (most
 *   labels, then name; no `dataplane` selector: none), or, for a mesh given in
 *   `options.spiffeTrustDomains`, by Kuma's default path in that trust domain. Its ID is
 *   `spiffe://<trustDomain><path>` with `{{ .Mesh }}`, `{{ .Zone }}` (`options.zone`),
 *   `{{ .Namespace }}` and `{{ .ServiceAccount }}` filled in (defaults: trust domain
 *   `{{ .Mesh }}.{{ .Zone }}.mesh.local`, path `/ns/{{ .Namespace }}/sa/{{ .ServiceAccount }}`).
 *   A pod without one presents the builtin CA's `spiffe://<mesh>/<kuma.io/service>` IDs. For a
 *   destination with an identity, the `rules[]` of every applicable MeshTrafficPermission are
 *   joined: a `deny` match denies, else an `allow`/`allowWithShadowDeny` match allows, else denied
 *   (`spiffeID` Exact or Prefix).
 *
 * Not modelled (throws, so nothing is silently read as denied): `rules[]` on a destination without
 * an identity, `from[]` on one with an identity, the Spire and extension MeshIdentity providers,
 * other template fields, targetRef kinds other than those above, `Dataplane` targets by name.
 */
import { Decision, DecidingObject, DecisionEffect, Endpoint, Manifest, PolicyEvaluator, Query, decision } from './types';
import { compareText } from '../intent/collation';
import { cidrContains, parseCidr, parseIp } from '../intent/cidr';
import { FlowPrefilter, OpenPrefilter, PortSet, PrefilterScope, SelectorIndex, prefilterOf } from './prefilter';

/**
 * Ports kuma-dp serves itself, outside Envoy's inbound listeners and so outside mTLS and
 * MeshTrafficPermission: its Prometheus endpoint (5670 by default; MeshMetric can move it) and its
 * application probe proxy (9001 by default, `kuma.io/application-probe-proxy-port`), to which the
 * injector rewrites the pods' httpGet probes and which the transparent proxy excludes from redirection.
 */
export const KUMA_DP_PORTS = new Set([5670, 9001]);
const KUMA_METRICS = PortSet.of([...KUMA_DP_PORTS].map((lo) => ({ protocol: 'TCP', lo })));

/** What to assume about a mesh whose `Mesh` object is not among the manifests. */
export enum KumaMtls {
  /** mTLS off: MeshTrafficPermissions have no effect. */
  OFF = 'off',
  /** mTLS on, STRICT: plaintext is rejected, permissions apply. */
  STRICT = 'STRICT',
  /** mTLS on, PERMISSIVE: plaintext passes, permissions apply to mTLS clients. */
  PERMISSIVE = 'PERMISSIVE',
}

/** Options of the Kuma reader. */
export interface KumaEvaluatorOptions {
  /** The L3/L4 layer below; without it only the Kuma layer is evaluated. */
  readonly networkPolicy?: PolicyEvaluator;
  /** Namespace whose policies are mesh-wide. @default 'kuma-system' */
  readonly systemNamespace?: string;
  /** Meshes not among the manifests. @default - mTLS off */
  readonly meshes?: { [name: string]: KumaMtls };
  /**
   * Meshes whose MeshIdentity is not among the manifests: every pod of the mesh has a SPIFFE ID in
   * this trust domain with Kuma's default path. @default - none
   */
  readonly spiffeTrustDomains?: { [mesh: string]: string };
  /** Zone name for `{{ .Zone }}` in MeshIdentity templates. @default 'default' */
  readonly zone?: string;
}

const NS_TAG = 'k8s.kuma.io/namespace';
/** Kuma's default SPIFFE ID parts of a MeshIdentity. */
const DEFAULT_TRUST_DOMAIN = '{{ .Mesh }}.{{ .Zone }}.mesh.local';
const DEFAULT_SPIFFE_PATH = '/ns/{{ .Namespace }}/sa/{{ .ServiceAccount }}';
type Tags = Map<string, Set<string>>;

interface Policy {
  readonly manifest: Manifest;
  readonly specificity: number;
}

/** Kuma 2.x semantics over manifests, optionally composed with a NetworkPolicy evaluator. */
export class KumaEvaluator implements PolicyEvaluator {
  public readonly backend = 'kuma';
  private readonly system: string;
  private readonly namespaces = new Map<string, Manifest>();
  private readonly meshes = new Map<string, Manifest>();
  private readonly services: Manifest[];
  private readonly mtps: Manifest[];
  private readonly passthroughs: Manifest[];
  private readonly meshTlses: Manifest[];
  private readonly identities: Manifest[];
  private readonly serviceIndex: SelectorIndex<Manifest>;
  private readonly targetIndex = new Map<Manifest[], { order: Map<Manifest, number>; always: Map<string, Manifest[]>; byEntry: Map<string, Manifest[]> }>();
  private readonly tagsCache = new WeakMap<Endpoint, Tags>();

  public constructor(manifests: Manifest[], private readonly options: KumaEvaluatorOptions = {}) {
    this.system = options.systemNamespace ?? 'kuma-system';
    for (const m of manifests) {
      if (m.kind === 'Namespace' && m.apiVersion === 'v1') this.namespaces.set(m.metadata.name, m);
      if (m.kind === 'Mesh' && m.apiVersion === 'kuma.io/v1alpha1') this.meshes.set(m.metadata.name, m);
    }
    this.services = manifests.filter((m) => m.kind === 'Service' && m.apiVersion === 'v1');
    this.mtps = manifests.filter((m) => m.kind === 'MeshTrafficPermission' && m.apiVersion === 'kuma.io/v1alpha1');
    this.passthroughs = manifests.filter((m) => m.kind === 'MeshPassthrough' && m.apiVersion === 'kuma.io/v1alpha1');
    this.meshTlses = manifests.filter((m) => m.kind === 'MeshTLS' && m.apiVersion === 'kuma.io/v1alpha1');
    // A port-level mode would be skipped by the per-pod lookup: refused rather than read as the pod's.
    for (const m of this.meshTlses) {
      if (m.spec?.targetRef?.sectionName !== undefined) throw new Error(`MeshTLS ${m.metadata.namespace}/${m.metadata.name}: a targetRef with sectionName is not modelled`);
    }
    this.identities = manifests.filter((m) => m.kind === 'MeshIdentity' && m.apiVersion === 'kuma.io/v1alpha1' && m.metadata.namespace === this.system)
      .sort((a, b) => compareText(a.metadata.name, b.metadata.name));
    this.serviceIndex = new SelectorIndex(this.services, (svc) => svc.metadata.namespace,
      (svc) => (svc.spec?.selector && Object.keys(svc.spec.selector).length > 0 ? svc.spec.selector : null));
  }

  public evaluate(q: Query): Decision {
    const below = this.options.networkPolicy?.evaluate(q);
    if (below && !below.allowed) return below;
    const kuma = this.kumaLayer(q);
    return decision(kuma.allowed, [...(below?.effects ?? []), ...kuma.effects]);
  }

  /**
   * The prefilter of this reader: the network layer's (asked with the same connection), without
   * TCP from outside the mesh to a pod of a STRICT mesh.
   */
  public prefilter(scope: PrefilterScope): FlowPrefilter | undefined {
    const below = this.options.networkPolicy ? prefilterOf(this.options.networkPolicy, scope) : new OpenPrefilter(scope);
    if (!below) return undefined;
    const endpoints = scope.endpoints;
    return {
      sources: (d) => below.sources(d),
      ports: (s, d) => {
        const network = below.ports(s, d);
        const destination = endpoints[d];
        const dst = destination.kind === 'pod' ? this.membership(destination) : undefined;
        if (network.empty || !dst || this.mtlsAt(destination, dst.mesh) !== KumaMtls.STRICT) return network;
        const source = endpoints[s];
        return source.kind === 'pod' && this.membership(source) ? network : network.only('UDP').union(network.intersect(KUMA_METRICS));
      },
    };
  }

  /** The Kuma layer alone. */
  public kumaLayer(q: Query): Decision {
    if (q.protocol === 'UDP') return allow('Kuma does not proxy UDP');
    const src = q.source.kind === 'pod' ? this.membership(q.source) : undefined;
    const dst = q.destination.kind === 'pod' ? this.membership(q.destination) : undefined;

    if (dst && KUMA_DP_PORTS.has(q.port)) return allow(`${q.destination.id}'s data plane serves ${q.port} itself (metrics, or the probe proxy): no MeshTrafficPermission applies`);
    if (dst) {
      const mode = this.mtls(dst.mesh);
      if (mode === KumaMtls.OFF) return allow(`mesh ${dst.mesh} has mTLS off: Kuma enforces no permission`);
      if (!src) {
        const tls = this.meshTlsAt(q.destination, dst.mesh);
        const where = tls ? `MeshTLS ${tls.manifest.metadata.namespace}/${tls.manifest.metadata.name} makes ${q.destination.id} ${tls.mode}` : `mesh ${dst.mesh} is ${mode}`;
        const objects = tls ? [tls.manifest] : [];
        return (tls?.mode ?? mode) === KumaMtls.PERMISSIVE
          ? allow(`${where}: plaintext from ${q.source.id} passes, and Kuma checks no MeshTrafficPermission on plaintext`, objects)
          : deny(`${where}: plaintext from ${q.source.id} (outside the mesh) is rejected`, objects);
      }
      if (src.mesh !== dst.mesh) return deny(`${q.source.id} is in mesh ${src.mesh}, ${q.destination.id} in ${dst.mesh}`);
      return this.permission(q.source, q.destination, dst.mesh, q.port);
    }
    if (!src) return allow('neither side has a Kuma sidecar');
    return this.passthrough(q.source, src.mesh, q.destination, q.port);
  }

  /** The mesh of a meshed pod, or undefined. */
  public membership(e: Endpoint): { mesh: string } | undefined {
    const ns = e.namespace ? this.namespaces.get(e.namespace) : undefined;
    const nsLabels = { ...(ns?.metadata.labels ?? {}), ...(e.namespaceLabels ?? {}) };
    const nsAnnotations = { ...(ns?.metadata.annotations ?? {}), ...(e.namespaceAnnotations ?? {}) };
    const podSays = e.labels?.['kuma.io/sidecar-injection'] ?? e.annotations?.['kuma.io/sidecar-injection'];
    const injected = podSays !== undefined ? isEnabled(podSays) : isEnabled(nsLabels['kuma.io/sidecar-injection']);
    if (!injected) return undefined;
    const mesh = e.labels?.['kuma.io/mesh'] ?? e.annotations?.['kuma.io/mesh'] ?? nsLabels['kuma.io/mesh'] ?? nsAnnotations['kuma.io/mesh'] ?? 'default';
    return { mesh };
  }

  /** The mTLS mode of a mesh: from its Mesh object, else the assumption given in the options (off by default). */
  public mtls(mesh: string): KumaMtls {
    const m = this.meshes.get(mesh);
    if (!m) return this.options.meshes?.[mesh] ?? KumaMtls.OFF;
    const mtls = m.spec?.mtls;
    const backend = (mtls?.backends ?? []).find((b: any) => b.name === mtls?.enabledBackend);
    if (!mtls?.enabledBackend || !backend) return KumaMtls.OFF;
    return backend.mode === 'PERMISSIVE' || backend.mode === 1 ? KumaMtls.PERMISSIVE : KumaMtls.STRICT;
  }

  /**
   * The mTLS mode of a meshed pod's inbound: its mesh's, unless a MeshTLS selecting the pod sets
   * `mode` (the most specific one that does; mTLS off stays off: MeshTLS does not enable it).
   */
  public mtlsAt(e: Endpoint, mesh: string): KumaMtls {
    const mode = this.mtls(mesh);
    if (mode === KumaMtls.OFF) return mode;
    return this.meshTlsAt(e, mesh)?.mode ?? mode;
  }

  /** The MeshTLS that decides the mode of pod `e`'s inbound, with that mode, or undefined when none sets one. */
  private meshTlsAt(e: Endpoint, mesh: string): { manifest: Manifest; mode: KumaMtls } | undefined {
    if (this.meshTlses.length === 0) return undefined;
    let found: { manifest: Manifest; mode: KumaMtls } | undefined;
    for (const { manifest: p } of this.applicable(this.meshTlses, e, mesh, undefined, 'MeshTLS')) {
      const name = `MeshTLS ${p.metadata.namespace}/${p.metadata.name}`;
      if (p.spec?.from !== undefined && p.spec?.rules !== undefined) throw new Error(`${name}: from[] beside rules[] is not modelled`);
      const entries: any[] = [];
      for (const f of p.spec?.from ?? []) {
        if (f?.targetRef?.kind !== 'Mesh') throw new Error(`${name}: from[].targetRef kind ${f?.targetRef?.kind} is not modelled`);
        entries.push(f);
      }
      entries.push(...(p.spec?.rules ?? []));
      for (const r of entries) {
        const m = r?.default?.mode;
        if (m === undefined) continue;
        if (m !== 'Permissive' && m !== 'Strict') throw new Error(`${name}: mode ${JSON.stringify(m)} is not modelled`);
        found = { manifest: p, mode: m === 'Permissive' ? KumaMtls.PERMISSIVE : KumaMtls.STRICT };
      }
    }
    return found;
  }

  /** Services in the pod's namespace that select it. */
  private servicesOf(e: Endpoint): Manifest[] {
    return this.serviceIndex.candidates([e.namespace], e.labels).filter((s) => s.metadata.namespace === e.namespace && s.spec?.selector
      && Object.keys(s.spec.selector).length > 0 && subset(s.spec.selector, e.labels ?? {}));
  }

  /** Name of the inbound serving `port`, or undefined when no Service port leads to it. */
  private inbound(e: Endpoint, port: number): { name: string } | undefined {
    for (const s of this.servicesOf(e)) {
      for (const sp of s.spec.ports ?? []) {
        if ((sp.protocol ?? 'TCP') !== 'TCP') continue;
        const target = sp.targetPort ?? sp.port;
        const cp = typeof target === 'string'
          ? (e.ports ?? []).find((p) => p.name === target && p.protocol === 'TCP')
          : (e.ports ?? []).find((p) => p.number === target && p.protocol === 'TCP') ?? { number: target, name: undefined };
        if (cp && cp.number === port) return { name: cp.name ?? '' };
      }
    }
    return undefined;
  }

  /** Tags of a client's data plane proxy. */
  public tags(e: Endpoint): Tags {
    let cached = this.tagsCache.get(e);
    if (!cached) {
      cached = this.computeTags(e);
      this.tagsCache.set(e, cached);
    }
    return cached;
  }

  private computeTags(e: Endpoint): Tags {
    const tags: Tags = new Map();
    const add = (k: string, v: string) => { if (!tags.has(k)) tags.set(k, new Set()); tags.get(k)!.add(v); };
    for (const [k, v] of Object.entries(e.labels ?? {})) if (v !== '' && !k.includes('kuma.io/')) add(k, v);
    add(NS_TAG, e.namespace ?? '');
    for (const s of this.servicesOf(e)) {
      for (const sp of s.spec.ports ?? []) {
        if ((sp.protocol ?? 'TCP') !== 'TCP') continue;
        add('kuma.io/service', `${s.metadata.name}_${e.namespace}_svc_${sp.port}`);
        add('k8s.kuma.io/service-name', s.metadata.name);
        add('k8s.kuma.io/service-port', String(sp.port));
      }
    }
    return tags;
  }

  /** Policies of `list` that apply to pod `e` in `mesh`, least specific first. */
  private readonly applicableCache = new WeakMap<Endpoint, Map<string, Policy[]>>();

  private applicable(list: Manifest[], e: Endpoint, mesh: string, sectionName: string | undefined, what: string): Policy[] {
    // Once per endpoint, kind, mesh and section: queries reuse endpoints, and a scan per query grows with the app squared.
    const cache = this.applicableCache.get(e) ?? this.applicableCache.set(e, new Map()).get(e)!;
    const key = `${what} ${mesh} ${sectionName ?? ''}`;
    const cached = cache.get(key);
    if (cached) return cached;
    const out: Policy[] = [];
    for (const p of this.candidatePolicies(list, e, mesh)) {
      const ns = p.metadata.namespace;
      if (ns !== e.namespace && ns !== this.system) continue;
      if ((p.metadata.labels?.['kuma.io/mesh'] ?? 'default') !== mesh) continue;
      const ref = p.spec?.targetRef ?? { kind: 'Mesh' };
      let specificity: number;
      switch (ref.kind) {
        case 'Mesh':
          specificity = 0;
          break;
        case 'MeshSubset':
          if (!tagsMatch(ref.tags ?? {}, this.tags(e))) continue;
          specificity = 1;
          break;
        case 'Dataplane': {
          if (ref.name !== undefined) throw new Error(`${what} ${ns}/${p.metadata.name}: Dataplane targetRef by name is not modelled`);
          if (ref.namespace !== undefined && ref.namespace !== e.namespace) continue;
          const dpLabels = { ...(e.labels ?? {}), [NS_TAG]: e.namespace ?? '', 'kuma.io/mesh': mesh };
          if (!subset(ref.labels ?? {}, dpLabels)) continue;
          if (ref.sectionName !== undefined && ref.sectionName !== sectionName) continue;
          specificity = ref.sectionName !== undefined ? 3 : 2;
          break;
        }
        default:
          throw new Error(`${what} ${ns}/${p.metadata.name}: top-level targetRef kind ${ref.kind} is not modelled`);
      }
      out.push({ manifest: p, specificity });
    }
    out.sort((a, b) => a.specificity - b.specificity || compareText(a.manifest.metadata.name, b.manifest.metadata.name));
    cache.set(key, out);
    return out;
  }

  /**
   * The policies of `list` in the pod's and the system namespace that may apply to it, in the
   * list's order: a superset (`applicable` checks each), found through an index by namespace and
   * by the first label or tag their targetRef asks for.
   */
  private candidatePolicies(list: Manifest[], e: Endpoint, mesh: string): Manifest[] {
    let index = this.targetIndex.get(list);
    if (!index) {
      index = { order: new Map(), always: new Map(), byEntry: new Map() };
      list.forEach((p, i) => {
        index!.order.set(p, i);
        const ns = p.metadata.namespace ?? '';
        const ref = p.spec?.targetRef;
        const wanted = ref?.kind === 'Dataplane' && ref.name === undefined ? ref.labels : ref?.kind === 'MeshSubset' ? ref.tags : undefined;
        const first = Object.entries(wanted ?? {})[0];
        if (first) pushTo(index!.byEntry, `${ns}\0${first[0]}\0${first[1]}`, p);
        else pushTo(index!.always, ns, p);
      });
      this.targetIndex.set(list, index);
    }
    const keys = new Set<string>();
    const namespaces = e.namespace === this.system ? [e.namespace ?? ''] : [e.namespace ?? '', this.system];
    const pairs: Array<[string, string]> = [...Object.entries(e.labels ?? {}), [NS_TAG, e.namespace ?? ''], ['kuma.io/mesh', mesh]];
    for (const [k, values] of this.tags(e)) for (const v of values) pairs.push([k, v]);
    const out = new Set<Manifest>();
    for (const ns of namespaces) {
      for (const p of index.always.get(ns) ?? []) out.add(p);
      for (const [k, v] of pairs) {
        const key = `${ns}\0${k}\0${v}`;
        if (keys.has(key)) continue;
        keys.add(key);
        for (const p of index.byEntry.get(key) ?? []) out.add(p);
      }
    }
    return [...out].sort((a, b) => index!.order.get(a)! - index!.order.get(b)!);
  }

  /**
   * The SPIFFE identity of a meshed pod in `mesh`: its ID, or undefined when no MeshIdentity (nor
   * `spiffeTrustDomains`) covers it.
   */
  public spiffeId(e: Endpoint, mesh: string): string | undefined {
    let best: Manifest | undefined;
    let bestLabels = -1;
    for (const m of this.identities) {
      if ((m.metadata.labels?.['kuma.io/mesh'] ?? 'default') !== mesh) continue;
      const dataplane = m.spec?.selector?.dataplane;
      if (dataplane === undefined) continue; // an empty selector applies to nothing
      if (dataplane.matchExpressions !== undefined) throw new Error(`MeshIdentity ${m.metadata.name}: selector.dataplane.matchExpressions is not modelled`);
      const wanted = dataplane.matchLabels ?? {};
      if (!tagsMatch(wanted, this.tags(e))) continue;
      const n = Object.keys(wanted).length;
      if (n > bestLabels) { best = m; bestLabels = n; } // identities are sorted by name: the first wins a tie
    }
    const fill = (template: string, what: string) => template.replace(/\{\{\s*([^}]*?)\s*\}\}/g, (_all, field: string) => {
      switch (field) {
        case '.Mesh': return mesh;
        case '.Zone': return this.options.zone ?? 'default';
        case '.Namespace': return e.namespace ?? '';
        case '.ServiceAccount': return e.serviceAccount ?? 'default';
        default: throw new Error(`MeshIdentity ${what}: template field {{ ${field} }} is not modelled`);
      }
    });
    if (!best) {
      const td = this.options.spiffeTrustDomains?.[mesh];
      return td === undefined ? undefined : `spiffe://${td}${fill(DEFAULT_SPIFFE_PATH, `of mesh ${mesh}`)}`;
    }
    const provider = best.spec?.provider?.type;
    if (provider !== 'Bundled') throw new Error(`MeshIdentity ${best.metadata.name}: provider ${provider} is not modelled (the IDs are issued outside the manifests)`);
    const what = best.metadata.name;
    return `spiffe://${fill(best.spec?.spiffeID?.trustDomain ?? DEFAULT_TRUST_DOMAIN, what)}${fill(best.spec?.spiffeID?.path ?? DEFAULT_SPIFFE_PATH, what)}`;
  }

  /** `rules[]` of the policies on an inbound with SPIFFE identity: deny wins, then allow, else deny. */
  private spiffePermission(source: Endpoint, destination: Endpoint, mesh: string, inbound: string, port: number): Decision {
    const own = this.spiffeId(source, mesh);
    // Without a MeshIdentity the client presents the builtin CA's IDs, one per service it implements.
    const ids = own !== undefined ? [own] : [...(this.tags(source).get('kuma.io/service') ?? [])].map((svc) => `spiffe://${mesh}/${svc}`);
    const matches = (m: any) => {
      const id = m?.spiffeID;
      if (id === undefined) throw new Error(`MeshTrafficPermission rules[] matcher ${JSON.stringify(m)} is not modelled (only spiffeID)`);
      return ids.some((x) => (id.type === 'Exact' ? x === id.value : id.type === 'Prefix' ? x.startsWith(id.value) : (() => { throw new Error(`spiffeID type ${id.type} is not modelled`); })()));
    };
    const denies: Manifest[] = [];
    const allows: Manifest[] = [];
    for (const { manifest: p } of this.applicable(this.mtps, destination, mesh, inbound, 'MeshTrafficPermission')) {
      if ((p.spec?.from ?? []).length > 0) {
        throw new Error(`MeshTrafficPermission ${p.metadata.namespace}/${p.metadata.name}: from[] on ${destination.id}, which has a SPIFFE identity (MeshIdentity), is not modelled`);
      }
      for (const rule of p.spec?.rules ?? []) {
        const conf = rule?.default ?? {};
        if ((conf.deny ?? []).some(matches)) denies.push(p);
        if ([...(conf.allow ?? []), ...(conf.allowWithShadowDeny ?? [])].some(matches)) allows.push(p);
      }
    }
    const who = ids.length > 0 ? ids.join(', ') : `${source.id} (no SPIFFE ID)`;
    if (denies.length > 0) return deny(`rules[] deny ${who} on ${destination.id}:${port} (${denies.map((p) => `MeshTrafficPermission ${p.metadata.namespace}/${p.metadata.name}`).join(', ')})`, denies);
    if (allows.length > 0) return allow(`rules[] allow ${who} on ${destination.id}:${port} (${allows.map((p) => `MeshTrafficPermission ${p.metadata.namespace}/${p.metadata.name}`).join(', ')})`, allows);
    return deny(`mTLS is on and no MeshTrafficPermission rules[] allow ${who} -> ${destination.id}:${port}`);
  }

  private permission(source: Endpoint, destination: Endpoint, mesh: string, port: number): Decision {
    const inbound = this.inbound(destination, port);
    if (!inbound) return allow(`${destination.id} has no inbound on ${port} (no Service port): Kuma's inbound passthrough does not authorize`);
    if (this.spiffeId(destination, mesh) !== undefined) return this.spiffePermission(source, destination, mesh, inbound.name, port);
    const clientTags = this.tags(source);
    let verdict: { allowed: boolean; by: string; policy: Manifest } | undefined;
    for (const { manifest: p } of this.applicable(this.mtps, destination, mesh, inbound.name, 'MeshTrafficPermission')) {
      if (p.spec?.rules !== undefined) {
        throw new Error(`MeshTrafficPermission ${p.metadata.namespace}/${p.metadata.name}: rules[] (SPIFFE matching) on ${destination.id}, which has no SPIFFE identity (no MeshIdentity), is not modelled`);
      }
      for (const entry of p.spec?.from ?? []) {
        if (!fromMatches(entry.targetRef, clientTags)) continue;
        const action = entry.default?.action;
        verdict = { allowed: action === 'Allow' || action === 'AllowWithShadowDeny', by: `MeshTrafficPermission ${p.metadata.namespace}/${p.metadata.name} (${action})`, policy: p };
      }
    }
    if (!verdict) return deny(`mTLS is on and no MeshTrafficPermission allows ${source.id} -> ${destination.id}:${port}`);
    if (verdict.by.endsWith('(AllowWithShadowDeny)')) {
      // Admitted and logged as denied: the entry's enforced form is Deny.
      const d = allow(`${verdict.by}: would be denied; admitted and logged as denied`, [verdict.policy]);
      return decision(true, d.effects.map((e) => ({ ...e, audited: true })));
    }
    return (verdict.allowed ? allow : deny)(verdict.by, [verdict.policy]);
  }

  private passthrough(source: Endpoint, mesh: string, destination: Endpoint, port: number): Decision {
    const policies = this.applicable(this.passthroughs, source, mesh, undefined, 'MeshPassthrough');
    if (policies.length === 0) {
      const on = this.meshes.get(mesh)?.spec?.networking?.outbound?.passthrough ?? true;
      return on ? allow(`no MeshPassthrough: mesh ${mesh} passes non-mesh traffic`) : deny(`mesh ${mesh} has passthrough off`);
    }
    let mode = 'Matched';
    const matches: any[] = [];
    const names: string[] = [];
    for (const { manifest: p } of policies) {
      names.push(`MeshPassthrough ${p.metadata.namespace}/${p.metadata.name}`);
      if (p.spec?.default?.passthroughMode !== undefined) mode = p.spec.default.passthroughMode;
      matches.push(...(p.spec?.default?.appendMatch ?? []));
    }
    // Every applicable MeshPassthrough adds to the mode and the matches: all of them decide.
    const deciding = policies.map((p) => p.manifest);
    const why = `${names.join(', ')}: ${mode}`;
    if (mode === 'All') return allow(why, deciding);
    if (mode === 'None') return deny(why, deciding);
    const hit = matches.find((m) => (m.port === undefined || m.port === port) && passthroughMatches(m, destination));
    return hit ? allow(`${why} ${hit.type} ${hit.value}${hit.port ? `:${hit.port}` : ''}`, deciding) : deny(`${why}, no appendMatch covers ${destination.id}:${port}`, deciding);
  }
}

function pushTo<V>(m: Map<string, V[]>, k: string, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

function passthroughMatches(m: any, d: Endpoint): boolean {
  if (m.type === 'Domain') {
    if (m.protocol === 'tcp' || m.protocol === undefined) throw new Error(`MeshPassthrough Domain ${m.value} with protocol tcp is not valid in Kuma`);
    if (d.kind !== 'fqdn' || !d.host) return false;
    if (m.value.startsWith('*.')) return d.host.endsWith(m.value.slice(1)) && d.host.length > m.value.length - 1;
    return d.host === m.value;
  }
  // A host name resolves to some address: only a CIDR of every address surely holds it.
  if (d.kind === 'fqdn') return m.type === 'CIDR' && parseCidr(m.value, 'MeshPassthrough').prefix === 0;
  if (d.kind !== 'ip' || !d.ip) return false;
  const ip = parseIp(d.ip);
  if (!ip) return false;
  const cidr = parseCidr(m.type === 'IP' ? `${m.value}/${m.value.includes(':') ? 128 : 32}` : m.value, 'MeshPassthrough');
  return cidr.family === ip.family && cidrContains(cidr, ip.value);
}

function fromMatches(ref: any, client: Tags): boolean {
  switch (ref?.kind) {
    case 'Mesh': return true;
    case 'MeshSubset': return tagsMatch(ref.tags ?? {}, client);
    case 'MeshServiceSubset': return tagsMatch({ ...(ref.tags ?? {}), 'kuma.io/service': ref.name }, client);
    case 'MeshService': return tagsMatch({ 'kuma.io/service': ref.name }, client);
    default: throw new Error(`MeshTrafficPermission from[].targetRef kind ${ref?.kind} is not modelled`);
  }
}

function tagsMatch(wanted: { [key: string]: string }, have: Tags): boolean {
  return Object.entries(wanted).every(([k, v]) => have.get(k)?.has(v) ?? false);
}

function subset(wanted: { [key: string]: string }, have: { [key: string]: string }): boolean {
  return Object.entries(wanted).every(([k, v]) => have[k] === v);
}

function isEnabled(v: string | undefined): boolean {
  return v === 'enabled' || v === 'true';
}

/** The Kuma layer's decision in one effect, naming the policies that gave it. */
function kumaDecision(allowed: boolean, detail: string, policies: Manifest[]): Decision {
  const objects: DecidingObject[] = policies.map((p) => ({ kind: p.kind, namespace: p.metadata.namespace, name: p.metadata.name }));
  const effect: DecisionEffect = { layer: 'kuma', verdict: allowed ? 'allow' : 'deny', objects, detail };
  return decision(allowed, [effect]);
}
const allow = (detail: string, policies: Manifest[] = []): Decision => kumaDecision(true, detail, policies);
const deny = (detail: string, policies: Manifest[] = []): Decision => kumaDecision(false, detail, policies);
