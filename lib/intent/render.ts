/**
 * The seam between the model and the meshes: what a backend implements to render a namespace.
 * It belongs to the model (`lib/intent/`): renderers in `lib/meshes/` depend on it, and nothing
 * here depends on a renderer. A `ZeroTrustChart` knows its mesh only through `MeshBinding`.
 */
import { BackendId } from './backend';
import { DnsSpec } from './dns';
import { NamespaceModel, WorkloadModel, ZeroTrustModel } from './model';

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
