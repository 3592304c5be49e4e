/**
 * The mTLS column: whether an allowed connection must be mutually authenticated, read from the
 * manifests per backend. It is required when the destination is a meshed pod and the backend's
 * objects make authentication mandatory for the port (Istio PeerAuthentication STRICT, Linkerd
 * authorizations that all require MeshTLSAuthentication or an authenticated default policy,
 * Cilium `authentication.mode: required`, Kuma's Mesh with a STRICT mTLS backend). The source
 * being meshed follows: the reader only allows such a connection from a meshed source.
 * NetworkPolicy and NSM never require it.
 */
import { inventory } from '../verify/inventory';
import { IstioEvaluator } from '../verify/istio';
import { KumaEvaluator, KumaMtls } from '../verify/kuma';
import { LinkerdEvaluator } from '../verify/linkerd';
import { AnyManifest, manifestOf } from '../verify/manifests';
import { selectorMatches } from '../verify/networkpolicy';
import { Endpoint, Manifest, Query } from '../verify/types';

/** A function that says whether an allowed query (with the reader's reasons) requires mTLS. */
export function mtlsOf(backend: string, manifests: readonly AnyManifest[]): (q: Query, reasons: readonly string[]) => boolean {
  const objects = manifests.map(manifestOf);
  const namespaces = new Map(inventory(manifests).namespaces.map((n) => [n.name, n]));
  const nsMeta = (e: Endpoint) => namespaces.get(e.namespace ?? '');
  // mTLS needs a proxy at both ends: an address source (an ipBlock peer, the ambient kubelet probe address) is plaintext.
  const pod = (f: (q: Query, reasons: readonly string[]) => boolean) => (q: Query, reasons: readonly string[]) => q.source.kind === 'pod' && q.destination.kind === 'pod' && q.protocol === 'TCP' && f(q, reasons);
  // Who is meshed and which mTLS mode applies come from the backend's own reader.
  switch (backend) {
    case 'istio':
    case 'istio-ambient': {
      const istio = new IstioEvaluator(objects);
      return pod((q) => istio.dataPlane(q.destination) !== undefined && istio.peerAuthenticationMode(q.destination, q.port).mode === 'STRICT');
    }
    case 'linkerd': {
      const linkerd = new LinkerdEvaluator(objects);
      return pod((q, reasons) => linkerd.meshed(q.destination) && linkerdAuthenticated(objects, q, reasons, nsMeta(q.destination)?.annotations));
    }
    case 'cilium':
      return pod((q, reasons) => ciliumAuthRequired(objects, q, reasons));
    case 'kuma': {
      const kuma = new KumaEvaluator(objects);
      return pod((q) => {
        const member = kuma.membership(q.destination);
        return member !== undefined && kuma.mtls(member.mesh) === KumaMtls.STRICT;
      });
    }
    default:
      return () => false;
  }
}

/**
 * Linkerd: the AuthorizationPolicies the reader names in its reasons all require a
 * MeshTLSAuthentication; without named ones, every authorization of the port's Server does, or
 * the default inbound policy is an authenticated one.
 */
function linkerdAuthenticated(objects: Manifest[], q: Query, reasons: readonly string[], nsAnnotations: { [key: string]: string } | undefined): boolean {
  const d = q.destination;
  const requiresMtls = (a: Manifest) => (a.spec?.requiredAuthenticationRefs ?? []).some((r: any) => r?.kind === 'MeshTLSAuthentication');
  const named = [...reasons.join('\n').matchAll(/AuthorizationPolicy ([a-z0-9-]+)\/([a-z0-9.-]+)/g)]
    .map(([, ns, name]) => objects.find((o) => o.kind === 'AuthorizationPolicy' && o.apiVersion.startsWith('policy.linkerd.io/') && o.metadata.namespace === ns && o.metadata.name === name))
    .filter((a): a is Manifest => a !== undefined);
  if (named.length > 0) return named.every(requiresMtls);
  const servers = objects.filter((m) => m.kind === 'Server' && m.apiVersion.startsWith('policy.linkerd.io/') && m.metadata.namespace === d.namespace
    && selectorMatches(m.spec?.podSelector ?? { matchLabels: { 'zt-never': 'x' } }, d.labels)
    && (m.spec?.port === q.port || (d.ports ?? []).some((p) => p.name === m.spec?.port && p.number === q.port)));
  if (servers.length === 0) {
    const policy = d.annotations?.['config.linkerd.io/default-inbound-policy'] ?? nsAnnotations?.['config.linkerd.io/default-inbound-policy'];
    return policy === 'all-authenticated' || policy === 'cluster-authenticated';
  }
  const names = new Set(servers.map((s) => s.metadata.name));
  const authz = objects.filter((m) => m.kind === 'AuthorizationPolicy' && m.apiVersion.startsWith('policy.linkerd.io/') && m.metadata.namespace === d.namespace
    && ((m.spec?.targetRef?.kind === 'Server' && names.has(m.spec.targetRef.name)) || m.spec?.targetRef?.kind === 'Namespace' || m.spec?.targetRef?.kind === 'HTTPRoute'));
  return authz.length > 0 && authz.every(requiresMtls);
}

/**
 * Cilium: the rules the reader names in its reasons (`CiliumNetworkPolicy ns/name ingress[0]`);
 * mutual authentication is required when one of them says `authentication.mode: required`, or
 * when both ends' namespaces are enrolled in ztunnel (`io.cilium/mtls-enabled: "true"`).
 */
function ciliumAuthRequired(objects: Manifest[], q: Query, reasons: readonly string[]): boolean {
  const ztunnel = (e: Endpoint) => e.kind === 'pod' && e.namespaceLabels?.['io.cilium/mtls-enabled'] === 'true';
  if (ztunnel(q.source) && ztunnel(q.destination)) return true;
  const named = /(CiliumNetworkPolicy|CiliumClusterwideNetworkPolicy) (?:([a-z0-9-]+)\/)?([a-z0-9.-]+) (ingress|egress)\[(\d+)\]/g;
  for (const reason of reasons) {
    for (const m of reason.matchAll(named)) {
      const [, kind, ns, name, dir, index] = m;
      const policy = objects.find((o) => o.kind === kind && o.metadata.name === name && (kind === 'CiliumClusterwideNetworkPolicy' || o.metadata.namespace === ns));
      const rule = policy?.spec?.[dir]?.[Number(index)];
      if (rule?.authentication?.mode === 'required') return true;
    }
  }
  return false;
}
