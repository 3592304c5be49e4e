import { WeakenProps } from '../../intent/weaken';
/** Options of `Mesh.networkServiceMesh()`. */
export interface NetworkServiceMeshProps extends WeakenProps {
  /**
   * Image of the Network Service Endpoint container added to every destination's pods. It must
   * read the `cmd-nse-icmp-responder` environment (`NSM_SERVICE_NAMES`, `NSM_CIDR_PREFIX`, ...).
   * @default 'ghcr.io/networkservicemesh/cmd-nse-icmp-responder:v1.18.0'
   */
  readonly endpointImage?: string;
  /**
   * Address pool the endpoints' prefixes (`NSM_CIDR_PREFIX`) are cut from. Must not overlap the
   * cluster's pod, service or node networks.
   * @default '172.16.0.0/16'
   */
  readonly cidrPool?: string;
  /**
   * Prefix length of each destination's block of `cidrPool`. Each connection to an endpoint pod
   * takes a /31 pair, so /24 serves 128 connections per endpoint pod.
   * @default 24
   */
  readonly prefixLength?: number;
  /**
   * SPIFFE trust domain of the SPIRE server NSM uses; workload IDs are
   * `spiffe://<trustDomain>/ns/<namespace>/pod/<pod>`.
   * @default 'k8s.nsm'
   */
  readonly trustDomain?: string;
  /**
   * `className` of the SPIRE controller manager that should reconcile the ClusterSPIFFEIDs.
   * @default - none (the default controller manager)
   */
  readonly spireClassName?: string;
  /**
   * Accept that a rule allowing only some of a workload's ports opens an NSM connection, which
   * reaches every port of the destination. Weaker than the declared intent: NSM filters no ports.
   * @default false - such a rule is a synth error
   * @deprecated use `weaken: [Weaken.PORTS_TO_CONNECTION]`, which this is mapped onto.
   */
  readonly allowPortsOverConnection?: boolean;
  /**
   * Accept that a rule with HTTP methods or paths opens an NSM connection, which passes any
   * request on every port. Weaker than the declared intent: NSM has no L7 authorization.
   * @default false - such a rule is a synth error
   * @deprecated use `weaken: [Weaken.HTTP_TO_PORT]`, which this is mapped onto.
   */
  readonly allowHttpRulesOverConnection?: boolean;
}
