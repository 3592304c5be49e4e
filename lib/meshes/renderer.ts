import { Construct } from 'constructs';
import { DnsSpec } from '../intent/dns';
import { NamespaceModel, WorkloadModel, ZeroTrustModel } from '../intent/model';

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
 * One backend: a set of small pure functions from the mesh-neutral model to objects.
 * Nothing is rendered before synth; `check` runs before anything is emitted. This is the seam
 * every backend in `lib/meshes/` implements.
 */
export interface MeshRenderer {
  /** Backend id, used in output folders and error messages (`networkpolicy`, `istio`, ...). */
  readonly backend: string;
  /** Throws `ZeroTrustError` for intent this backend cannot enforce, naming workload, rule and backend. */
  check(ctx: RenderContext): void;
  /** Labels and annotations of the Namespace. */
  namespaceMetadata(ctx: RenderContext): MetadataAdditions;
  /** Labels and annotations of a workload's pod template. */
  podMetadata(ctx: RenderContext, workload: WorkloadModel): MetadataAdditions;
  /** Containers and volumes to add to a workload's pods. */
  podSpecAdditions?(ctx: RenderContext, workload: WorkloadModel): PodSpecAdditions;
  /** Emits the backend's objects for the namespace into `scope`. */
  render(scope: Construct, ctx: RenderContext): void;
}

