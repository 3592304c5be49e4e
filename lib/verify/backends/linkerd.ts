import { LinkerdEvaluator } from '../linkerd';
import { CLUSTER_NAMESPACES, ReaderBackend, apiGroup, describeObject, isNamespace } from './descriptor';

/** Linkerd: `policy.linkerd.io` objects or the injection annotation on a Namespace. */
export const linkerdBackend: ReaderBackend = {
  id: 'linkerd',
  family: 'linkerd',
  recognise: (m) => {
    if (apiGroup(m).endsWith('linkerd.io')) return describeObject(m);
    if (isNamespace(m) && m.metadata.annotations?.['linkerd.io/inject'] !== undefined) return `${describeObject(m)} (linkerd.io/inject)`;
    return undefined;
  },
  keepsNetworkLayer: true,
  reader: ({ objects, networkLayer, settings }) => new LinkerdEvaluator(objects, { ...settings.linkerd, ...(networkLayer ? { l4: networkLayer } : {}) }),
  enrol: (endpoint) => ({ ...endpoint, namespaceAnnotations: { ...(endpoint.namespaceAnnotations ?? {}), 'linkerd.io/inject': 'enabled' } }),
  intentOptions: ({ enrolledNamespaces, linkerdControlPlaneNamespace }) => {
    const ns = linkerdControlPlaneNamespace ?? 'linkerd';
    // The proxy does not police egress: the app reaches what the NetworkPolicy layer opens for the proxy.
    return {
      meshedNamespaces: [...enrolledNamespaces], proxyPorts: [4140, 4143], meshPort: 4143,
      controlPlane: [{ namespace: ns, labels: { 'linkerd.io/control-plane-ns': ns }, ports: [8086, 8080, 8090], description: 'Linkerd control plane' }],
    };
  },
  infrastructureNamespaces: [...CLUSTER_NAMESPACES, 'linkerd', 'linkerd-viz'],
};
