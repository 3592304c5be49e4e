import { NetworkPolicyEvaluator } from '../networkpolicy';
import { CLUSTER_NAMESPACES, ReaderBackend, neverMtls } from './descriptor';

/** Plain NetworkPolicy: recognised by NetworkPolicies alone; its reader is the NetworkPolicy layer. */
export const networkPolicyBackend: ReaderBackend = {
  id: 'networkpolicy',
  family: 'networkpolicy',
  recognise: () => undefined,
  keepsNetworkLayer: true,
  reader: ({ objects, networkLayer }) => networkLayer ?? new NetworkPolicyEvaluator(objects),
  enrol: (endpoint) => endpoint,
  intentOptions: () => ({}),
  infrastructureNamespaces: CLUSTER_NAMESPACES,
  mtlsReadsEffects: false,
  mtls: neverMtls,
  parties: () => [],
};
