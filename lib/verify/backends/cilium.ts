import { CiliumPolicyEvaluator } from '../cilium';
import { DecisionEffect, Endpoint, Manifest, Query } from '../types';
import { NamedParty, selectorLabels } from './parties';
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
  parties: (objects) => ciliumParties(objects),
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


const CILIUM_NS = 'io.kubernetes.pod.namespace';
const CILIUM_SA = 'io.cilium.k8s.policy.serviceaccount';

/**
 * The peers of Cilium rules' `fromEndpoints`/`toEndpoints`: pod labels (source prefix dropped),
 * the namespace (the policy's own when the selector names none; any for a clusterwide policy)
 * and the ServiceAccount label. Namespace labels and reserved identities name no pod.
 */
function ciliumParties(objects: readonly Manifest[]): NamedParty[] {
  const out: NamedParty[] = [];
  for (const m of objects) {
    if (m.kind !== 'CiliumNetworkPolicy' && m.kind !== 'CiliumClusterwideNetworkPolicy') continue;
    const specs = [m.spec, ...(Array.isArray(m.specs) ? m.specs : [])];
    for (const spec of specs) {
      for (const list of ['ingress', 'egress', 'ingressDeny', 'egressDeny']) {
        for (const rule of Array.isArray(spec?.[list]) ? spec[list] : []) {
          for (const sel of [...(Array.isArray(rule?.fromEndpoints) ? rule.fromEndpoints : []), ...(Array.isArray(rule?.toEndpoints) ? rule.toEndpoints : [])]) {
            const party = ciliumParty(sel, m.kind === 'CiliumNetworkPolicy' ? m.metadata.namespace : undefined);
            if (party) out.push(party);
          }
        }
      }
    }
  }
  return out;
}

function ciliumParty(sel: unknown, policyNamespace: string | undefined): NamedParty | undefined {
  let namespace = policyNamespace;
  let serviceAccount: string | undefined;
  const labels: { [key: string]: string } = {};
  for (const [raw, value] of Object.entries(selectorLabels(sel))) {
    const colon = raw.indexOf(':');
    const source = colon > 0 ? raw.slice(0, colon) : 'any';
    const key = colon > 0 ? raw.slice(colon + 1) : raw;
    if (source !== 'k8s' && source !== 'any') return undefined; // reserved:, cidr:, ... name no pod
    if (key === CILIUM_NS) namespace = value;
    else if (key === CILIUM_SA) serviceAccount = value;
    else if (!key.startsWith('io.cilium.k8s.') && !key.startsWith('io.kubernetes.')) labels[key] = value;
  }
  return { ...(namespace !== undefined ? { namespace } : {}), labels, ...(serviceAccount !== undefined ? { serviceAccount } : {}) };
}
