/**
 * One entry point to every reader: which backend a set of manifests was synthesized for
 * (`detectBackend`), and that backend's reader composed with the NetworkPolicy layer under it
 * (`readerFor`), so that a query is answered as the packets really go through both layers.
 */
import { CiliumPolicyEvaluator } from './cilium';
import { ControlPlaneEndpoint, IntentOptions } from './expected';
import { NAMESPACE_NAME_LABEL, inventory } from './inventory';
import { IstioEvaluator, IstioEvaluatorOptions } from './istio';
import { KumaEvaluator, KumaEvaluatorOptions } from './kuma';
import { LinkerdEvaluator, LinkerdEvaluatorOptions } from './linkerd';
import { AnyManifest, manifestOf } from './manifests';
import { NetworkPolicyEvaluator, isNetworkPolicy } from './networkpolicy';
import { NSM_CLIENT_ANNOTATION, NsmEvaluator } from './nsm';
import { OUTSIDER_NAMESPACE } from './universe';
import { Decision, Endpoint, Manifest, PolicyEvaluator, Query } from './types';

/** Backend ids, as `Mesh.<factory>().id` names them and as `dist/<id>/` holds their output. */
export const BACKENDS = ['networkpolicy', 'istio', 'istio-ambient', 'linkerd', 'cilium', 'kuma', 'nsm'] as const;

/** One of `BACKENDS`. */
export type BackendId = typeof BACKENDS[number];

/** True when `id` is a known backend id. */
export function isBackend(id: string): id is BackendId {
  return (BACKENDS as readonly string[]).includes(id);
}

/** The manifests do not say which backend they are for, or say several. */
export class BackendDetectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackendDetectionError';
  }
}

type Family = 'istio' | 'linkerd' | 'cilium' | 'kuma' | 'nsm';

const POD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'];

function podTemplate(m: Manifest): { metadata?: any; spec?: any } | undefined {
  if (m.kind === 'Pod') return { metadata: m.metadata, spec: m.spec };
  if (m.kind === 'CronJob') return m.spec?.jobTemplate?.spec?.template;
  return POD_KINDS.includes(m.kind) ? m.spec?.template : undefined;
}

/** The mesh family an object belongs to, with a short description, or undefined. */
function familyOf(m: Manifest): { family: Family; what: string } | undefined {
  const group = m.apiVersion.includes('/') ? m.apiVersion.split('/')[0] : '';
  const what = `${m.kind} ${m.metadata.namespace ? `${m.metadata.namespace}/` : ''}${m.metadata.name}`;
  if (group === 'cilium.io') return { family: 'cilium', what };
  if (group.endsWith('istio.io')) return { family: 'istio', what };
  if (group.endsWith('linkerd.io')) return { family: 'linkerd', what };
  if (group === 'kuma.io' || group.endsWith('.kuma.io')) return { family: 'kuma', what };
  if (group === 'networkservicemesh.io') return { family: 'nsm', what };
  if (m.apiVersion === 'v1' && m.kind === 'Namespace') {
    const l = m.metadata.labels ?? {};
    const a = m.metadata.annotations ?? {};
    if (l['istio.io/dataplane-mode'] === 'ambient' || l['istio-injection'] === 'enabled' || l['istio.io/rev'] !== undefined) return { family: 'istio', what: `${what} (Istio enrolment label)` };
    if (a['linkerd.io/inject'] !== undefined) return { family: 'linkerd', what: `${what} (linkerd.io/inject)` };
    if (l['kuma.io/sidecar-injection'] !== undefined) return { family: 'kuma', what: `${what} (kuma.io/sidecar-injection)` };
    if (l['io.cilium/mtls-enabled'] !== undefined) return { family: 'cilium', what: `${what} (io.cilium/mtls-enabled)` };
    return undefined;
  }
  const pod = podTemplate(m);
  if (pod?.metadata?.annotations?.[NSM_CLIENT_ANNOTATION] !== undefined) return { family: 'nsm', what: `${what} (NSM client annotation)` };
  if ((pod?.spec?.containers ?? []).some((c: any) => (c?.env ?? []).some((e: any) => e?.name === 'NSM_SERVICE_NAMES'))) {
    return { family: 'nsm', what: `${what} (NSM endpoint)` };
  }
  return undefined;
}

/**
 * Which backend the manifests were synthesized for, from the objects alone:
 * Cilium policies -> `cilium`; Istio objects or enrolment labels -> `istio`, or `istio-ambient`
 * when a Namespace has `istio.io/dataplane-mode: ambient`; `policy.linkerd.io` objects or the
 * `linkerd.io/inject` annotation -> `linkerd`; `kuma.io` objects or injection label -> `kuma`;
 * `NetworkService`s, NSM client annotations or endpoints -> `nsm`; only NetworkPolicies ->
 * `networkpolicy`. NetworkPolicies beside a mesh are that mesh's L3/L4 layer.
 *
 * @throws BackendDetectionError when nothing is recognisable, or when objects of several meshes
 *   are present (the message names an example object of each).
 */
export function detectBackend(manifests: readonly AnyManifest[]): BackendId {
  const found = new Map<Family, string[]>();
  let networkPolicies = 0;
  let ambient = false;
  for (const src of manifests) {
    const m = manifestOf(src);
    if (isNetworkPolicy(m)) networkPolicies++;
    if (m.apiVersion === 'v1' && m.kind === 'Namespace' && m.metadata.labels?.['istio.io/dataplane-mode'] === 'ambient') ambient = true;
    const f = familyOf(m);
    if (f) found.set(f.family, [...(found.get(f.family) ?? []), f.what]);
  }
  if (found.size > 1) {
    const list = [...found.entries()].map(([family, whats]) => `${family} (${whats.slice(0, 2).join(', ')}${whats.length > 2 ? `, +${whats.length - 2} more` : ''})`);
    throw new BackendDetectionError(`the manifests mix objects of several meshes: ${list.join('; ')}; pass the backend explicitly (one of ${BACKENDS.join(', ')})`);
  }
  const [family] = [...found.keys()];
  if (family === 'istio') return ambient ? 'istio-ambient' : 'istio';
  if (family) return family;
  if (networkPolicies > 0) return 'networkpolicy';
  throw new BackendDetectionError(
    `no policy object recognised among ${manifests.length} manifests (looked for NetworkPolicy, CiliumNetworkPolicy, `
    + 'Istio AuthorizationPolicy/PeerAuthentication/Sidecar, policy.linkerd.io objects, kuma.io objects, NetworkService and NSM annotations); '
    + `pass the backend explicitly (one of ${BACKENDS.join(', ')})`,
  );
}

/** Options of `readerFor`. */
export interface ReaderOptions {
  /**
   * The backend; `detectBackend(manifests)` when absent.
   */
  readonly backend?: string;
  /**
   * Namespaces the manifests do not define whose pods the cluster runs in the mesh (an ingress
   * controller's namespace). Pod endpoints there are enrolled with `enrolExternal` before the
   * backend's reader sees them. Namespaces the manifests define are never altered.
   * @default - none: pods of undefined namespaces are outside the mesh
   */
  readonly enrolledNamespaces?: readonly string[];
  /**
   * Whether to compose the backend's reader with the NetworkPolicy layer of the manifests (for
   * backends that keep one: istio, istio-ambient, linkerd, kuma, nsm). False answers with the
   * mesh layer alone, which is rarely what you want.
   * @default true
   */
  readonly networkLayer?: boolean;
  /**
   * Settings of the mesh the manifests were rendered for, where they are not the defaults
   * (an Istio trust domain, a Kuma mesh created elsewhere, ...).
   * @default - each reader's defaults
   */
  readonly settings?: {
    readonly istio?: Pick<IstioEvaluatorOptions, 'rootNamespace' | 'clusterDomain' | 'trustDomain'>;
    readonly linkerd?: Pick<LinkerdEvaluatorOptions, 'identityDomain' | 'controlPlaneNamespace'>;
    readonly kuma?: Pick<KumaEvaluatorOptions, 'systemNamespace' | 'meshes'>;
  };
}

/**
 * The reader of a backend over a set of manifests, composed with the NetworkPolicy layer where the
 * backend has one, each layer asked with what it really sees (the Istio HBONE port 15008 between
 * ambient pods, the Linkerd proxy port 4143 between meshed pods, NSM connections bypassing it).
 * Cilium is its own L3/L4 layer; `networkpolicy` is the NetworkPolicy reader itself.
 *
 * @throws BackendDetectionError when `backend` is absent and cannot be detected, or is unknown.
 */
export function readerFor(manifests: readonly AnyManifest[], options: ReaderOptions = {}): PolicyEvaluator {
  const backend = options.backend ?? detectBackend(manifests);
  if (!isBackend(backend)) throw new BackendDetectionError(`unknown backend "${backend}" (known: ${BACKENDS.join(', ')})`);
  const objects = manifests.map(manifestOf);
  const np = options.networkLayer === false ? undefined : new NetworkPolicyEvaluator(manifests);
  const defined = new Set(inventory(manifests).namespaces.filter((n) => n.declared).map((n) => n.name));
  const enrolled = (options.enrolledNamespaces ?? []).filter((n) => !defined.has(n));

  let reader: PolicyEvaluator;
  switch (backend) {
    case 'networkpolicy':
      reader = np ?? new NetworkPolicyEvaluator(manifests);
      break;
    case 'istio':
    case 'istio-ambient': {
      const plane = backend === 'istio' ? 'sidecar' : 'ambient';
      reader = new IstioEvaluator(objects, {
        ...options.settings?.istio,
        ...(np ? { networkLayer: np } : {}),
        enrolledNamespaces: Object.fromEntries(enrolled.map((n) => [n, plane])),
      });
      break;
    }
    case 'linkerd':
      reader = new LinkerdEvaluator(objects, { ...options.settings?.linkerd, ...(np ? { l4: np } : {}) });
      break;
    case 'cilium':
      reader = new CiliumPolicyEvaluator(objects);
      break;
    case 'kuma':
      reader = new KumaEvaluator(objects, { ...options.settings?.kuma, ...(np ? { networkPolicy: np } : {}) });
      break;
    case 'nsm':
      reader = new NsmEvaluator(manifests, np);
      break;
  }
  if (enrolled.length === 0 && reader.backend === backend) return reader;
  return new EnrollingEvaluator(reader, backend, new Set(enrolled), objects);
}

/**
 * Marks a pod endpoint of a namespace the manifests do not define (e.g. `ingress-nginx`) as
 * enrolled in the backend's mesh, with the namespace labels or annotations the backend's reader
 * looks at: Istio `istio-injection: enabled` (sidecar) or `istio.io/dataplane-mode: ambient`,
 * Linkerd `linkerd.io/inject: enabled`, Kuma `kuma.io/sidecar-injection: enabled` plus the
 * `kuma.io/mesh` of the app's namespaces (`default` when none says). NetworkPolicy, Cilium and
 * NSM need no enrolment: Cilium enforces on every pod (and with ztunnel, peers outside the app
 * talk plaintext: docs/backends/cilium.md), and NSM connections are set up by the app's own pods.
 * The endpoint is then returned as is, and so is any endpoint that is not a pod.
 *
 * The assumption: an intent that admits a peer namespace such as ingress-nginx means that peer
 * runs in the mesh, as the mesh's docs require for identity-based authorization (a plaintext
 * client is rejected by STRICT mTLS). A peer that is not enrolled is, correctly, denied by these
 * meshes; enrol only what the cluster really enrols.
 *
 * @param manifests the app's manifests, read for the Kuma mesh name
 */
export function enrolExternal(backend: string, endpoint: Endpoint, manifests: readonly AnyManifest[] = []): Endpoint {
  if (endpoint.kind !== 'pod') return endpoint;
  const namespaceLabels = (labels: { [key: string]: string }): Endpoint => ({
    ...endpoint,
    namespaceLabels: { ...(endpoint.namespaceLabels ?? {}), ...labels, [NAMESPACE_NAME_LABEL]: endpoint.namespace ?? 'default' },
  });
  const namespaces = manifests.map(manifestOf).filter((m) => m.apiVersion === 'v1' && m.kind === 'Namespace');
  switch (backend) {
    case 'istio':
      return namespaceLabels({ 'istio-injection': 'enabled' });
    case 'istio-ambient':
      return namespaceLabels({ 'istio.io/dataplane-mode': 'ambient' });
    case 'linkerd':
      return { ...endpoint, namespaceAnnotations: { ...(endpoint.namespaceAnnotations ?? {}), 'linkerd.io/inject': 'enabled' } };
    case 'kuma': {
      const mesh = namespaces.map((n) => n.metadata.labels?.['kuma.io/mesh']).find((x) => x !== undefined) ?? 'default';
      return namespaceLabels({ 'kuma.io/sidecar-injection': 'enabled', 'kuma.io/mesh': mesh });
    }
    default:
      return endpoint;
  }
}

/**
 * The namespaces of pod endpoints (for example a universe's probes) that the manifests do not
 * define, except the outsider probe's: the peer namespaces an intent names, which `readerFor`'s
 * `enrolledNamespaces` usually lists.
 */
export function undeclaredNamespaces(manifests: readonly AnyManifest[], endpoints: readonly Endpoint[]): string[] {
  const defined = new Set(inventory(manifests).namespaces.filter((n) => n.declared).map((n) => n.name));
  const out = new Set<string>();
  for (const e of endpoints) {
    if (e.kind !== 'pod' || !e.namespace || defined.has(e.namespace)) continue;
    if (e.namespace === OUTSIDER_NAMESPACE || e.namespace.startsWith(`${OUTSIDER_NAMESPACE}-`)) continue;
    out.add(e.namespace);
  }
  return [...out].sort();
}

/** Enrols the pods of some undefined namespaces before the inner reader sees them; answers as `backend`. */
class EnrollingEvaluator implements PolicyEvaluator {
  private readonly cache = new WeakMap<Endpoint, Endpoint>();

  constructor(private readonly inner: PolicyEvaluator, public readonly backend: BackendId, private readonly namespaces: Set<string>, private readonly manifests: Manifest[]) {}

  public evaluate(q: Query): Decision {
    return this.inner.evaluate({ ...q, source: this.enrol(q.source), destination: this.enrol(q.destination) });
  }

  private enrol(e: Endpoint): Endpoint {
    if (e.kind !== 'pod' || !e.namespace || !this.namespaces.has(e.namespace)) return e;
    let out = this.cache.get(e);
    if (!out) {
      out = enrolExternal(this.backend, e, this.manifests);
      this.cache.set(e, out);
    }
    return out;
  }
}

/** Options of `backendIntentOptions`. */
export interface BackendIntentOptions {
  /**
   * Namespaces the manifests do not define that run in the mesh (as given to `readerFor`).
   * @default []
   */
  readonly enrolledNamespaces?: readonly string[];
  /** Linkerd control-plane namespace. @default 'linkerd' */
  readonly linkerdControlPlaneNamespace?: string;
}

/**
 * The intent semantics a backend promises: the plain ones plus the deviations its docs state
 * (`IntentOptions`): NSM's L3 connections; Cilium ztunnel's HBONE view; for Istio, Linkerd and
 * Kuma, unmeshed pod sources denied; Linkerd's control-plane egress (its proxy does not police
 * egress, so the app reaches what the NetworkPolicy layer opens for the proxy) and proxy ports;
 * Istio ambient's kubelet probe address; DNS over TCP dropped by the Istio sidecar and Kuma. Compare a reader with `intentAllows(model, q, { dns, ...backendIntentOptions(id) })`.
 */
export function backendIntentOptions(backend: string, options: BackendIntentOptions = {}): IntentOptions {
  const meshedNamespaces = [...(options.enrolledNamespaces ?? [])];
  const cp = (c: ControlPlaneEndpoint): { controlPlane: ControlPlaneEndpoint[] } => ({ controlPlane: [c] });
  switch (backend) {
    case 'networkpolicy':
      return {};
    case 'nsm':
      return { nsmConnections: true };
    case 'cilium':
      return { hboneNamespaceLabel: 'io.cilium/mtls-enabled' };
    case 'istio':
      // istiod is reached by the istio-proxy itself, not through it: app traffic to it is not admitted.
      // TCP DNS passes: every Sidecar imports the DNS pods' namespace or NodeLocal DNS's ServiceEntry.
      return { meshedNamespaces };
    case 'istio-ambient':
      return {
        meshedNamespaces, probeSources: ['169.254.7.127/32'], meshPort: 15008,
        ...cp({ namespace: 'istio-system', labels: { app: 'istiod' }, ports: [15012], sourceLabels: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' }, onlyWithHttpRules: true, description: 'Istio control plane (istiod xDS), from the waypoint' }),
      };
    case 'linkerd': {
      const ns = options.linkerdControlPlaneNamespace ?? 'linkerd';
      return { meshedNamespaces, proxyPorts: [4140, 4143], meshPort: 4143, ...cp({ namespace: ns, labels: { 'linkerd.io/control-plane-ns': ns }, ports: [8086, 8080, 8090], description: 'Linkerd control plane' }) };
    }
    case 'kuma':
      // kuma-dp reaches the control plane itself; app traffic to it leaves the mesh and meets passthrough None.
      return { meshedNamespaces, tcpDnsBlocked: true, meshWideStrictMtls: true };
    default:
      throw new BackendDetectionError(`unknown backend "${backend}" (known: ${BACKENDS.join(', ')})`);
  }
}
