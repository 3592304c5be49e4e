import { LinkerdEvaluator } from '../linkerd';
import { selectorMatches } from '../networkpolicy';
import { DecisionEffect, Manifest, Query } from '../types';
import { NamedParty, identitiesOf } from './parties';
import { CLUSTER_NAMESPACES, ReaderBackend, ManifestIndex, allowingObjects, apiGroup, describeObject, findManifest, isNamespace } from './descriptor';

/** Linkerd: `policy.linkerd.io` objects or the injection annotation on a Namespace. */
export const linkerdBackend: ReaderBackend = {
  id: 'linkerd',
  family: 'linkerd',
  recognise: (m) => {
    if (apiGroup(m).endsWith('linkerd.io')) return describeObject(m);
    const inject = m.metadata.annotations?.['linkerd.io/inject'];
    if (isNamespace(m) && inject !== undefined && inject !== 'disabled') return `${describeObject(m)} (linkerd.io/inject)`;
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
  mtlsReadsEffects: true,
  parties: (objects) => linkerdParties(objects),
  mtls: (objects) => {
    const linkerd = new LinkerdEvaluator(objects);
    const index = new ManifestIndex(objects);
    const namespaces = new Map(objects.filter(isNamespace).map((n) => [n.metadata.name, n.metadata.annotations]));
    return (q, effects) => linkerd.meshed(q.destination) && linkerdAuthenticated(index, q, effects, namespaces.get(q.destination.namespace ?? ''));
  },
};

/**
 * Linkerd: the AuthorizationPolicies that authorized the connection all require a
 * MeshTLSAuthentication; without any (the Server's accessPolicy or the default inbound policy
 * admitted it), every authorization of the port's Server does, or the default inbound policy is
 * an authenticated one.
 */
function linkerdAuthenticated(objects: ManifestIndex, q: Query, effects: readonly DecisionEffect[], nsAnnotations: { [key: string]: string } | undefined): boolean {
  const d = q.destination;
  const requiresMtls = (a: Manifest) => (a.spec?.requiredAuthenticationRefs ?? []).some((r: any) => r?.kind === 'MeshTLSAuthentication');
  const named = allowingObjects(effects, 'linkerd')
    .filter((o) => o.kind === 'AuthorizationPolicy')
    .map((o) => findManifest(objects, o, 'policy.linkerd.io'))
    .filter((a): a is Manifest => a !== undefined);
  if (named.length > 0) return named.every(requiresMtls);
  const servers = objects.inNamespace('Server', d.namespace).filter((m) => m.kind === 'Server' && m.apiVersion.startsWith('policy.linkerd.io/') && m.metadata.namespace === d.namespace
    && selectorMatches(m.spec?.podSelector ?? { matchLabels: { 'zt-never': 'x' } }, d.labels)
    && (m.spec?.port === q.port || (d.ports ?? []).some((p) => p.name === m.spec?.port && p.number === q.port)));
  if (servers.length === 0) {
    const policy = d.annotations?.['config.linkerd.io/default-inbound-policy'] ?? nsAnnotations?.['config.linkerd.io/default-inbound-policy'];
    return policy === 'all-authenticated' || policy === 'cluster-authenticated';
  }
  const names = new Set(servers.map((s) => s.metadata.name));
  const authz = objects.inNamespace('AuthorizationPolicy', d.namespace).filter((m) => m.apiVersion.startsWith('policy.linkerd.io/')
    && ((m.spec?.targetRef?.kind === 'Server' && names.has(m.spec.targetRef.name)) || m.spec?.targetRef?.kind === 'Namespace' || m.spec?.targetRef?.kind === 'HTTPRoute'));
  return authz.length > 0 && authz.every(requiresMtls);
}


/** MeshTLSAuthentication identities (`backup.ops.serviceaccount.identity.linkerd.cluster.local`) and ServiceAccount references. */
function linkerdParties(objects: readonly Manifest[]): NamedParty[] {
  const linkerdObject = (m: Manifest) => apiGroup(m).endsWith('linkerd.io');
  const out = identitiesOf(objects, linkerdObject);
  for (const m of objects) {
    if (!linkerdObject(m) || !Array.isArray(m.spec?.identityRefs)) continue;
    for (const ref of m.spec.identityRefs) {
      if (ref?.kind !== 'ServiceAccount' || typeof ref.name !== 'string') continue;
      const namespace = typeof ref.namespace === 'string' ? ref.namespace : m.metadata.namespace;
      out.push({ ...(namespace !== undefined ? { namespace } : {}), serviceAccount: ref.name });
    }
  }
  return out;
}
