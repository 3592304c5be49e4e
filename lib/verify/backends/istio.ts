import { IstioEvaluator, SIDECAR_UNCAPTURED_PORTS } from '../istio';
import { BackendFamily, CLUSTER_NAMESPACES, MtlsOf, ReaderBackend, apiGroup, describeObject, isNamespace, withNamespaceLabels } from './descriptor';
import { Manifest } from '../types';
import { identitiesOf } from './parties';

const AMBIENT_LABEL = 'istio.io/dataplane-mode';

function recogniseIstio(m: Manifest): string | undefined {
  if (apiGroup(m).endsWith('istio.io')) return describeObject(m);
  if (!isNamespace(m)) return undefined;
  const l = m.metadata.labels ?? {};
  if (l[AMBIENT_LABEL] === 'ambient' || l['istio-injection'] === 'enabled' || l['istio.io/rev'] !== undefined) {
    return `${describeObject(m)} (Istio enrolment label)`;
  }
  return undefined;
}

const istioCommon = {
  family: 'istio' as BackendFamily,
  recognise: recogniseIstio,
  keepsNetworkLayer: true,
  infrastructureNamespaces: [...CLUSTER_NAMESPACES, 'istio-system'],
  mtlsReadsEffects: false,
  // Principals of AuthorizationPolicies (`cluster.local/ns/ops/sa/backup`): a pod of that namespace running as that account.
  parties: (objects: readonly Manifest[]) => identitiesOf(objects, (m) => apiGroup(m).endsWith('istio.io')),
  // Required when the destination is in the data plane and its PeerAuthentication is STRICT for the
  // port; never on the sidecar's own uncaptured ports (metrics, health), reached in plaintext.
  mtls: (objects: Manifest[]): MtlsOf => {
    const istio = new IstioEvaluator(objects);
    return (q) => {
      const plane = istio.dataPlane(q.destination);
      if (plane === undefined || (plane === 'sidecar' && q.protocol === 'TCP' && SIDECAR_UNCAPTURED_PORTS.has(q.port))) return false;
      return istio.peerAuthenticationMode(q.destination, q.port).mode === 'STRICT';
    };
  },
};

/** Istio with sidecars: the default of the Istio family. */
export const istioSidecarBackend: ReaderBackend = {
  ...istioCommon,
  id: 'istio',
  reader: ({ objects, networkLayer, enrolledNamespaces, settings }) => new IstioEvaluator(objects, {
    ...settings.istio,
    ...(networkLayer ? { networkLayer } : {}),
    enrolledNamespaces: Object.fromEntries(enrolledNamespaces.map((n) => [n, 'sidecar' as const])),
  }),
  enrol: (endpoint) => withNamespaceLabels(endpoint, { 'istio-injection': 'enabled' }),
  // istiod is reached by the istio-proxy itself, not through it: app traffic to it is not admitted.
  // TCP DNS passes: every Sidecar imports the DNS pods' namespace or NodeLocal DNS's ServiceEntry.
  intentOptions: ({ enrolledNamespaces }) => ({ meshedNamespaces: [...enrolledNamespaces] }),
};

/** Istio ambient: chosen when a namespace of the manifests is in ambient mode. */
export const istioAmbientBackend: ReaderBackend = {
  ...istioCommon,
  id: 'istio-ambient',
  selects: (objects) => objects.some((m) => isNamespace(m) && m.metadata.labels?.[AMBIENT_LABEL] === 'ambient'),
  reader: ({ objects, networkLayer, enrolledNamespaces, settings }) => new IstioEvaluator(objects, {
    ...settings.istio,
    ...(networkLayer ? { networkLayer } : {}),
    enrolledNamespaces: Object.fromEntries(enrolledNamespaces.map((n) => [n, 'ambient' as const])),
  }),
  enrol: (endpoint) => withNamespaceLabels(endpoint, { [AMBIENT_LABEL]: 'ambient' }),
  intentOptions: ({ enrolledNamespaces }) => ({
    meshedNamespaces: [...enrolledNamespaces], probeSources: ['169.254.7.127/32'], meshPort: 15008,
    controlPlane: [{
      namespace: 'istio-system', labels: { app: 'istiod' }, ports: [15012], sourceLabels: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' },
      onlyWithHttpRules: true, description: 'Istio control plane (istiod xDS), from the waypoint',
    }],
  }),
};
