/**
 * Pod and namespace labels and annotations each mesh reserves, and the pod ports its proxy takes. A workload's `podLabels`, the pod
 * metadata of an adopted cdk8s-plus workload, and a chart's `labels` may not set them: each one
 * can take pods out of the mesh (injection opt-outs), past its proxy (excluded ports and
 * ranges), into another mesh or revision, or change how the mesh identifies them, and the
 * policies would then silently not be enforced. Names as documented by each project (Istio
 * "Resource Annotations" and "Resource Labels", Linkerd "Proxy Configuration", Kuma
 * "Kubernetes annotations and labels", Cilium, Network Service Mesh deployments-k8s).
 */
import { ReservedKeys } from '../intent/names';

/** Istio, sidecar and ambient: injection, revision, data plane, waypoints, traffic capture. */
export const ISTIO_RESERVED: ReservedKeys = {
  keys: [
    'sidecar.istio.io/inject', 'istio-injection', 'istio.io/rev', 'istio.io/tag', 'istio.io/dataplane-mode',
    'istio.io/use-waypoint', 'istio.io/use-waypoint-namespace', 'istio.io/ingress-use-waypoint', 'istio.io/waypoint-for',
    'inject.istio.io/templates', 'proxy.istio.io/config', 'security.istio.io/tlsMode', 'sidecar.istio.io/interceptionMode',
    'sidecar.istio.io/enableCoreDump', 'networking.istio.io/exportTo', 'topology.istio.io/network',
  ],
  // Port and address exclusions (excludeInboundPorts, excludeOutboundIPRanges, ...) and ambient redirection.
  prefixes: ['traffic.sidecar.istio.io/', 'ambient.istio.io/'],
  // The sidecar's ports ("Ports used by Istio"): admin 15000, outbound 15001, debug 15004, inbound
  // 15006, HBONE 15008/15009, merged metrics 15020, health 15021, DNS 15053, Envoy metrics 15090.
  // The ones the sidecar does not capture (15020, 15021, 15090) would be reached in plaintext past
  // the mesh's authorization; the others are taken by the proxy or its redirection.
  ports: [15000, 15001, 15004, 15006, 15008, 15009, 15020, 15021, 15053, 15090],
};

/** Istio ambient: the same keys; ztunnel's in-pod listeners (outbound, inbound, HBONE, DNS). */
export const ISTIO_AMBIENT_RESERVED: ReservedKeys = {
  ...ISTIO_RESERVED,
  ports: [15001, 15006, 15008, 15053],
};

/** Linkerd: injection and every proxy configuration annotation (skip ports, opaque ports, default policy, identity). */
export const LINKERD_RESERVED: ReservedKeys = {
  keys: ['linkerd.io/inject', 'linkerd.io/control-plane-ns', 'linkerd.io/proxy-deployment', 'linkerd.io/workload-ns'],
  prefixes: ['config.linkerd.io/', 'config.alpha.linkerd.io/', 'config.beta.linkerd.io/'],
  // The proxy's outbound (4140) and inbound (4143) listeners, its control (4190) and admin (4191)
  // servers; the init container skips 4190/4191, so an app port there is past the proxy.
  ports: [4140, 4143, 4190, 4191],
};

/** Kuma: injection, mesh membership, transparent proxying and traffic exclusions; `kuma.io/` labels become tags. */
export const KUMA_RESERVED: ReservedKeys = {
  keys: [],
  prefixes: ['kuma.io/', 'k8s.kuma.io/', 'traffic.kuma.io/', 'prometheus.metrics.kuma.io/'],
  // kuma-dp's own servers in the pod, outside MeshTrafficPermission: Prometheus 5670, the application
  // probe proxy 9001, Envoy admin 9901; and the transparent proxy's outbound 15001, inbound 15006 and DNS 15053.
  ports: [5670, 9001, 9901, 15001, 15006, 15053],
};

/** Cilium: the labels it derives from pods (namespace, ServiceAccount) and its policy and mTLS switches. */
export const CILIUM_RESERVED: ReservedKeys = {
  keys: ['io.kubernetes.pod.namespace'],
  prefixes: ['io.cilium.k8s.', 'io.cilium/', 'policy.cilium.io/', 'io.cilium.'],
};

/** Network Service Mesh: the client annotation (which services a pod connects to) and SPIFFE registration. */
export const NSM_RESERVED: ReservedKeys = {
  keys: ['networkservicemesh.io', 'spiffe.io/spiffe-id'],
  prefixes: ['networkservicemesh.io/'],
};
