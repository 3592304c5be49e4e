import { ApiObjectMetadataDefinition } from 'cdk8s';
import { IConstruct } from 'constructs';

/*
 * What `SecureWorkload` reads from a workload it adopts (`workload:`), and nothing more. The
 * `Deployment`, `StatefulSet` and `DaemonSet` of every cdk8s-plus line (27 to 33) have these
 * members, so an app passes them as they are, whichever line it depends on. These are interfaces
 * (not cdk8s-plus classes) so the library depends on no particular cdk8s-plus line and stays
 * jsii-compatible.
 */

/** A port of an adopted workload's container, as cdk8s-plus's `ContainerPort` has it. */
export interface AdoptableContainerPort {
  /** Port number. */
  readonly number: number;
  /**
   * Port name; a name starting with `grpc`, `http2`/`h2c` or `http` makes the port gRPC, HTTP/2
   * or HTTP.
   * @default - no name (a TCP port)
   */
  readonly name?: string;
  /**
   * `TCP`, `UDP` or `SCTP` (cdk8s-plus's `Protocol`).
   * @default TCP
   */
  readonly protocol?: string;
}

/** A container of an adopted workload (cdk8s-plus's `Container`). */
export interface IAdoptableContainer {
  /** Container name. */
  readonly name: string;
  /** Ports the container declares: the adopted workload's ports unless `ports` is given. */
  readonly ports: AdoptableContainerPort[];
}

/** The ServiceAccount an adopted workload runs as (cdk8s-plus's `IServiceAccount`). */
export interface IAdoptableServiceAccount {
  /** ServiceAccount name: the workload's identity. */
  readonly name: string;
}

/** A volume of an adopted workload's pods (cdk8s-plus's `Volume`). */
export interface IAdoptableVolume {
  /** Volume name. */
  readonly name: string;
}

/**
 * A workload that `SecureWorkload` adopts: a cdk8s-plus `Deployment`, `StatefulSet` or
 * `DaemonSet` of any line from cdk8s-plus-27 to cdk8s-plus-33. Its construct's default child is
 * the `ApiObject` that mesh sidecars and volumes are patched into.
 */
export interface IAdoptableWorkload extends IConstruct {
  /** Metadata of the pod template, which gets the selector and mesh labels and annotations. */
  readonly podMetadata: ApiObjectMetadataDefinition;
  /** Containers of the pod template. */
  readonly containers: IAdoptableContainer[];
  /** Volumes of the pod template. */
  readonly volumes: IAdoptableVolume[];
  /**
   * ServiceAccount the pods run as; it must be the workload's own, not `default`.
   * @default - the namespace's `default` ServiceAccount, which is refused
   */
  readonly serviceAccount?: IAdoptableServiceAccount;
}
