import { CiliumPolicyEvaluator } from '../cilium';
import { CLUSTER_NAMESPACES, ReaderBackend, apiGroup, describeObject, isNamespace } from './descriptor';

const ZTUNNEL_LABEL = 'io.cilium/mtls-enabled';

/**
 * Cilium: `cilium.io` objects or the ztunnel enrolment label. Cilium is its own L3/L4 layer and
 * enforces on every pod, so peers need no enrolment (with ztunnel, peers outside the app talk
 * plaintext: docs/backends/cilium.md).
 */
export const ciliumBackend: ReaderBackend = {
  id: 'cilium',
  family: 'cilium',
  recognise: (m) => {
    if (apiGroup(m) === 'cilium.io') return describeObject(m);
    if (isNamespace(m) && m.metadata.labels?.[ZTUNNEL_LABEL] !== undefined) return `${describeObject(m)} (${ZTUNNEL_LABEL})`;
    return undefined;
  },
  keepsNetworkLayer: false,
  reader: ({ objects }) => new CiliumPolicyEvaluator(objects),
  enrol: (endpoint) => endpoint,
  intentOptions: () => ({ hboneNamespaceLabel: ZTUNNEL_LABEL }),
  infrastructureNamespaces: [...CLUSTER_NAMESPACES, 'cilium', 'cilium-spire', 'spire', 'spire-system'],
};
