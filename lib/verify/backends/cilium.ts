import { CiliumPolicyEvaluator } from '../cilium';
import { DecisionEffect, Endpoint, Query } from '../types';
import { CLUSTER_NAMESPACES, ReaderBackend, ManifestIndex, allowingObjects, apiGroup, describeObject, findManifest, isNamespace } from './descriptor';

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
    if (isNamespace(m) && m.metadata.labels?.[ZTUNNEL_LABEL] === 'true') return `${describeObject(m)} (${ZTUNNEL_LABEL})`;
    return undefined;
  },
  keepsNetworkLayer: false,
  reader: ({ objects }) => new CiliumPolicyEvaluator(objects),
  enrol: (endpoint) => endpoint,
  intentOptions: () => ({ hboneNamespaceLabel: ZTUNNEL_LABEL }),
  infrastructureNamespaces: [...CLUSTER_NAMESPACES, 'cilium', 'cilium-spire', 'spire', 'spire-system'],
  mtlsReadsEffects: true,
  mtls: (objects) => {
    const index = new ManifestIndex(objects);
    return (q, effects) => ciliumAuthRequired(index, q, effects);
  },
};

/**
 * Cilium: mutual authentication is required when a rule that allowed the connection says
 * `authentication.mode: required`, or when both ends' namespaces are enrolled in ztunnel
 * (`io.cilium/mtls-enabled: "true"`).
 */
function ciliumAuthRequired(objects: ManifestIndex, q: Query, effects: readonly DecisionEffect[]): boolean {
  const ztunnel = (e: Endpoint) => e.kind === 'pod' && e.namespaceLabels?.['io.cilium/mtls-enabled'] === 'true';
  if (ztunnel(q.source) && ztunnel(q.destination)) return true;
  return allowingObjects(effects, 'cilium').some((o) => {
    const rule = o.rule && findManifest(objects, o, 'cilium.io')?.spec?.[o.rule.list]?.[o.rule.index];
    return rule?.authentication?.mode === 'required';
  });
}

