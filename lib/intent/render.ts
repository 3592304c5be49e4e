/**
 * The seam between the model and the meshes: what a backend implements to render a namespace.
 * It belongs to the model (`lib/intent/`): renderers in `lib/meshes/` depend on it, and nothing
 * here depends on a renderer. A `ZeroTrustChart` knows its mesh only through `MeshBinding`.
 */
import { BackendId } from './backend';
import { DnsSpec } from './dns';
import { ZeroTrustError } from './errors';
import { NamespaceModel, WorkloadModel, ZeroTrustModel } from './model';
import { ReservedKeys } from './names';
import { Weaken } from './weaken';
import { Port } from './port';

/** Labels and annotations a backend adds to an object's metadata. */
export interface MetadataAdditions {
  readonly labels?: { [key: string]: string };
  readonly annotations?: { [key: string]: string };
}

/** What a backend adds to a workload's pod spec (Network Service Mesh adds an endpoint container). */
export interface PodSpecAdditions {
  readonly containers?: any[];
  readonly volumes?: any[];
}

/** Everything a renderer is given for one namespace. */
export interface RenderContext {
  /** The whole app's model (flows may cross namespaces). */
  readonly model: ZeroTrustModel;
  /** The namespace to render. */
  readonly namespace: NamespaceModel;
  /** Cluster DNS of this namespace. */
  readonly dns: DnsSpec;
  /**
   * Whether the chart emits the Namespace object (with `namespaceMetadata`). When false the
   * namespace is managed elsewhere and carries none of it: a mesh must enrol the pods themselves
   * (`podMetadata`) or refuse in `check`.
   * @default true
   */
  readonly createsNamespace?: boolean;
  /**
   * The cluster's pod and Service ranges the chart was given (`clusterNetworks`), normalized.
   * @default - unknown
   */
  readonly clusterNetworks?: readonly string[];
}

/**
 * One object a renderer emits. Namespaced objects carry `metadata.namespace`; an object without
 * it is cluster-scoped (Mesh, ClusterSPIFFEID) and is emitted without a namespace.
 */
export interface RenderedObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly [field: string]: any };
  readonly [field: string]: any;
}

/**
 * One layer of a backend: small pure functions from the model to objects. A backend is one or
 * more layers (a mesh and the NetworkPolicy layer under it); the synth step runs every layer's
 * `check` before anything is emitted, then asks each layer for metadata and objects.
 */
export interface MeshRenderer {
  /** Backend id, used in output folders and error messages (`networkpolicy`, `istio`, ...). */
  readonly backend: BackendId;
  /** Throws `ZeroTrustError` for intent this layer cannot enforce, naming workload, rule and backend. */
  check(ctx: RenderContext): void;
  /** Labels and annotations of the Namespace. */
  namespaceMetadata?(ctx: RenderContext): MetadataAdditions;
  /** Labels and annotations of a workload's pod template. */
  podMetadata?(ctx: RenderContext, workload: WorkloadModel): MetadataAdditions;
  /** Labels and annotations of a workload's own Service. */
  serviceMetadata?(ctx: RenderContext, workload: WorkloadModel): MetadataAdditions;
  /** Containers and volumes to add to a workload's pods. */
  podSpecAdditions?(ctx: RenderContext, workload: WorkloadModel): PodSpecAdditions;
  /** The layer's objects for the namespace, in output order. */
  render(ctx: RenderContext): RenderedObject[];
}

/**
 * The render side of one backend, as its folder in `lib/meshes/` exports it: the `Mesh.*()`
 * factory of every backend resolves its props the same way, through this.
 */
export interface RenderBackend<Props, Settings> {
  /** Resolves and validates the factory's props (throws `ZeroTrustError` naming the bad prop). */
  settings(props: Props): Settings;
  /** The backend id the settings render for (Istio's depends on the mode). */
  id(settings: Settings): BackendId;
  /** The backend's layers, outermost first (the NetworkPolicy layer, where there is one, last). */
  layers(settings: Settings): MeshRenderer[];
}

/** What a chart knows of its mesh: the backend id and the layers that render it. */
export interface MeshBinding {
  /** Backend id, also the output folder name. */
  readonly backend: BackendId;
  /** Creates the backend's layers, outermost first (the NetworkPolicy layer, where there is one, last). */
  layers(): MeshRenderer[];
  /**
   * Which mesh of the backend the chart joins (`kuma:payments`, `istio:cluster.local`): flows
   * between workloads of charts with different keys are refused, as their identities are not
   * trusted across.
   * @default - the backend id
   */
  readonly meshKey?: string;
  /**
   * Labels and annotations the mesh reserves: a workload's pods and the chart's labels may not
   * set them (they would take the pods out of the mesh, or change how it treats them).
   * @default - none
   */
  readonly reserved?: ReservedKeys;
  /**
   * Reads the rendered objects back after rendering (the self-check); absent: not checked.
   * Supplied by the mesh factories, so the model does not depend on the readers.
   */
  readonly selfCheck?: SelfCheck;
  /**
   * The weaker enforcement the chart's mesh accepts (`weaken` of the `Mesh.*()` factory): a
   * refusal naming one of these members is rendered in its weaker form instead.
   * @default - none
   */
  readonly weaken?: readonly Weaken[];
  /**
   * Creates the layer of the identity guard (the chart's `identityGuard`): admission policies
   * that keep each workload's selector labels and ServiceAccount to its own pods.
   * @default - no guard can be rendered
   */
  guardLayer?(): MeshRenderer;
  /**
   * The metrics ports of the mesh's proxy in each pod (Istio sidecar 15020/15090, Linkerd 4191,
   * Kuma 5670), which `allowMetricsScraping` opens to the scraper.
   * @default - none
   */
  proxyMetricsPorts?(): Port[];
}

/** One chart as the self-check sees it. */
export interface SelfCheckChart {
  /** The chart's namespace. */
  readonly namespace: string;
  /** Its cluster DNS. */
  readonly dns: DnsSpec;
  /** Its mesh binding. */
  readonly binding: MeshBinding;
  /** The Namespace metadata the layers asked for (emitted, or expected of a namespace created elsewhere). */
  readonly namespaceMetadata: MetadataAdditions;
  /** Whether the chart emits its Namespace object. */
  readonly emitsNamespace: boolean;
}

/** What the self-check of one group of charts is given. */
export interface SelfCheckInput {
  /** The whole app's model. */
  readonly model: ZeroTrustModel;
  /** The charts to check: every chart of the group that did not turn the self-check off. */
  readonly charts: readonly SelfCheckChart[];
  /** Namespaces of every ZeroTrustChart of the app, with their self-check group. */
  readonly groups: ReadonlyMap<string, string>;
  /** Cluster DNS of every ZeroTrustChart's namespace. */
  readonly dns: ReadonlyMap<string, DnsSpec>;
  /** Every document the app emits (all charts, plain ones too), as `chart.toJson()` returns them. */
  readonly documents: readonly RenderedObject[];
}

/**
 * The self-check of a backend: reads the documents back with the backend's reader and returns
 * a problem for every probed connection that the objects allow and the intent does not declare,
 * or that the intent declares and the objects deny.
 */
export interface SelfCheck {
  /** Charts with the same group are checked together, in one call (one mesh). */
  readonly group: string;
  /** Checks one group. */
  run(input: SelfCheckInput): ZeroTrustError[];
}

/** A mesh as the model sees it: the `Mesh.*()` factories of `lib/meshes/` return one. */
export interface IMesh {
  /** Backend id, also the output folder name (`networkpolicy`, `istio`, `istio-ambient`, ...). */
  readonly id: string;
}

const BINDINGS = new WeakMap<IMesh, MeshBinding>();

/** Attaches the rendering side to a mesh value; called by the `Mesh.*()` factories. */
export function bindMesh(mesh: IMesh, binding: MeshBinding): void {
  BINDINGS.set(mesh, binding);
}

/** The binding of a mesh made by a `Mesh.*()` factory, or undefined for any other value. */
export function meshBinding(mesh: unknown): MeshBinding | undefined {
  return typeof mesh === 'object' && mesh !== null ? BINDINGS.get(mesh as IMesh) : undefined;
}
