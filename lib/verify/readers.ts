/**
 * One entry point to every reader: which backend a set of manifests was synthesized for
 * (`detectBackend`), and that backend's reader composed with the NetworkPolicy layer under it
 * (`readerFor`), so that a query is answered as the packets really go through both layers.
 */
import { BACKEND_IDS, BackendId, isBackendId } from '../intent/backend';
import { ReaderBackend, ReaderSettings, readerBackend, readerBackends } from './backends';
import { IntentOptions } from './expected';
import { inventory } from './inventory';
import { AnyManifest, manifestOf } from './manifests';
import { NetworkPolicyEvaluator, isNetworkPolicy } from './networkpolicy';
import { FlowPrefilter, PrefilterScope, prefilterOf, verdictsOf } from './prefilter';
import { OUTSIDER_NAMESPACE } from './universe';
import { Decision, Endpoint, Manifest, PolicyEvaluator, Query } from './types';
import { compareText } from '../intent/collation';

/** Backend ids, as `Mesh.<factory>().id` names them and as `dist/<id>/` holds their output. */
export const BACKENDS = BACKEND_IDS;

export { BackendId };

/** True when `id` is a known backend id. */
export function isBackend(id: string): id is BackendId {
  return isBackendId(id);
}

/** The manifests do not say which backend they are for, or say several. */
export class BackendDetectionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackendDetectionError';
  }
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
  const objects = manifests.map(manifestOf);
  const families = new Map<string, ReaderBackend[]>();
  for (const b of readerBackends()) families.set(b.family, [...(families.get(b.family) ?? []), b]);
  const found = new Map<string, string[]>();
  for (const m of objects) {
    // An object counts for the first family that recognises it (a Namespace enrolled in Istio that
    // also carries another mesh's label is Istio's, as the first mesh to inject wins).
    for (const [family, members] of families) {
      const what = members[0].recognise(m);
      if (!what) continue;
      found.set(family, [...(found.get(family) ?? []), what]);
      break;
    }
  }
  if (found.size > 1) {
    const list = [...found.entries()].map(([family, whats]) => `${family} (${whats.slice(0, 2).join(', ')}${whats.length > 2 ? `, +${whats.length - 2} more` : ''})`);
    throw new BackendDetectionError(`the manifests mix objects of several meshes: ${list.join('; ')}; pass the backend explicitly (one of ${BACKENDS.join(', ')})`);
  }
  const [family] = [...found.keys()];
  if (family) {
    const members = families.get(family)!;
    return (members.find((b) => b.selects?.(objects)) ?? members.find((b) => !b.selects))!.id;
  }
  if (objects.some(isNetworkPolicy)) return 'networkpolicy';
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
  readonly settings?: ReaderSettings;
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
  const id = options.backend ?? detectBackend(manifests);
  if (!isBackend(id)) throw new BackendDetectionError(`unknown backend "${id}" (known: ${BACKENDS.join(', ')})`);
  const backend = readerBackend(id);
  const objects = manifests.map(manifestOf);
  const networkLayer = backend.keepsNetworkLayer && options.networkLayer !== false ? new NetworkPolicyEvaluator(manifests) : undefined;
  const defined = new Set(inventory(manifests).namespaces.filter((n) => n.declared).map((n) => n.name));
  const enrolled = (options.enrolledNamespaces ?? []).filter((n) => !defined.has(n));
  const reader = backend.reader({ objects, networkLayer, enrolledNamespaces: enrolled, settings: options.settings ?? {} });
  if (enrolled.length === 0 && reader.backend === id) return reader;
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
  if (endpoint.kind !== 'pod' || !isBackend(backend)) return endpoint;
  return readerBackend(backend).enrol(endpoint, manifests.map(manifestOf));
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
  return [...out].sort(compareText);
}

/** Enrols the pods of some undefined namespaces before the inner reader sees them; answers as the backend. */
class EnrollingEvaluator implements PolicyEvaluator {
  public readonly backend: BackendId;
  private readonly cache = new WeakMap<Endpoint, Endpoint>();
  private innerVerdicts?: (q: Query) => boolean;

  constructor(private readonly inner: PolicyEvaluator, private readonly descriptor: ReaderBackend, private readonly namespaces: Set<string>, private readonly manifests: Manifest[]) {
    this.backend = descriptor.id;
  }

  public evaluate(q: Query): Decision {
    return this.inner.evaluate({ ...q, source: this.enrol(q.source), destination: this.enrol(q.destination) });
  }

  /** The inner reader's verdict, without its reasons when it can. */
  public allows(q: Query): boolean {
    return this.verdicts({ ...q, source: this.enrol(q.source), destination: this.enrol(q.destination) });
  }

  private get verdicts(): (q: Query) => boolean {
    if (!this.innerVerdicts) this.innerVerdicts = verdictsOf(this.inner);
    return this.innerVerdicts;
  }

  /** The inner reader's prefilter over the endpoints as it sees them (enrolled). */
  public prefilter(scope: PrefilterScope): FlowPrefilter | undefined {
    return prefilterOf(this.inner, { ...scope, endpoints: scope.endpoints.map((e) => this.enrol(e)) });
  }

  private enrol(e: Endpoint): Endpoint {
    if (e.kind !== 'pod' || !e.namespace || !this.namespaces.has(e.namespace)) return e;
    let out = this.cache.get(e);
    if (!out) {
      out = this.descriptor.enrol(e, this.manifests);
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
  if (!isBackend(backend)) throw new BackendDetectionError(`unknown backend "${backend}" (known: ${BACKENDS.join(', ')})`);
  return readerBackend(backend).intentOptions({ enrolledNamespaces: options.enrolledNamespaces ?? [], linkerdControlPlaneNamespace: options.linkerdControlPlaneNamespace });
}

/** Namespaces of the cluster's and every mesh's own machinery: never taken to run behind a mesh proxy. */
export function infrastructureNamespaces(): string[] {
  return [...new Set(readerBackends().flatMap((b) => b.infrastructureNamespaces))].sort(compareText);
}
