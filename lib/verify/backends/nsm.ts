import { NSM_CLIENT_ANNOTATION, NsmEvaluator } from '../nsm';
import { CLUSTER_NAMESPACES, ReaderBackend, apiGroup, describeObject, neverMtls, podTemplate } from './descriptor';

/**
 * Network Service Mesh: NetworkServices, client annotations or endpoint containers. Connections
 * are set up by the app's own pods, so peers need no enrolment.
 */
export const nsmBackend: ReaderBackend = {
  id: 'nsm',
  family: 'nsm',
  recognise: (m) => {
    if (apiGroup(m) === 'networkservicemesh.io') return describeObject(m);
    const pod = podTemplate(m);
    if (pod?.metadata?.annotations?.[NSM_CLIENT_ANNOTATION] !== undefined) return `${describeObject(m)} (NSM client annotation)`;
    if ((pod?.spec?.containers ?? []).some((c: any) => (c?.env ?? []).some((e: any) => e?.name === 'NSM_SERVICE_NAMES'))) {
      return `${describeObject(m)} (NSM endpoint)`;
    }
    return undefined;
  },
  keepsNetworkLayer: true,
  reader: ({ objects, networkLayer }) => new NsmEvaluator(objects, networkLayer),
  enrol: (endpoint) => endpoint,
  intentOptions: () => ({ nsmConnections: true }),
  infrastructureNamespaces: [...CLUSTER_NAMESPACES, 'nsm-system', 'spire', 'spire-system'],
  // Connections are encrypted by the forwarders (WireGuard), not mutually authenticated end to end.
  mtlsReadsEffects: false,
  mtls: neverMtls,
  parties: () => [],
  // The endpoint has no stable address or name (docs/backends/nsm.md): said beside every client's rows.
  notes: (objects) => new NsmEvaluator(objects).addressNotes(),
};
