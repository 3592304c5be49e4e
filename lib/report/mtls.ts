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
import { DecidingObject, DecisionEffect, Endpoint, Manifest, Query } from '../verify/types';

/**
 * Whether an allowed query requires mTLS, given the effects of the reader's decisions that allowed
 * it. It reads which objects decided, not in which order or how often.
 */
export type MtlsOf = (q: Query, effects: readonly DecisionEffect[]) => boolean;

/** Whether a backend's mTLS column reads the effects at all (the others ignore them). */
export function mtlsReadsEffects(backend: string): boolean {
  return backend === 'linkerd' || backend === 'cilium';
}

/** A function that says whether an allowed query (with the effects of the reader's decisions) requires mTLS. */
export function mtlsOf(backend: string, manifests: readonly AnyManifest[]): MtlsOf {
  const objects = new Objects(manifests.map(manifestOf));
  const namespaces = new Map(inventory(manifests).namespaces.map((n) => [n.name, n]));
  const nsMeta = (e: Endpoint) => namespaces.get(e.namespace ?? '');
  // mTLS needs a proxy at both ends: an address source (an ipBlock peer, the ambient kubelet probe address) is plaintext.
  const pod = (f: MtlsOf): MtlsOf => (q, effects) => q.source.kind === 'pod' && q.destination.kind === 'pod' && q.protocol === 'TCP' && f(q, effects);
  // Who is meshed and which mTLS mode applies come from the backend's own reader.
  switch (backend) {
    case 'istio':
    case 'istio-ambient': {
      const istio = new IstioEvaluator(objects.all);
      return pod((q) => istio.dataPlane(q.destination) !== undefined && istio.peerAuthenticationMode(q.destination, q.port).mode === 'STRICT');
    }
    case 'linkerd': {
      const linkerd = new LinkerdEvaluator(objects.all);
      return pod((q, effects) => linkerd.meshed(q.destination) && linkerdAuthenticated(objects, q, effects, nsMeta(q.destination)?.annotations));
    }
    case 'cilium':
      return pod((q, effects) => ciliumAuthRequired(objects, q, effects));
    case 'kuma': {
      const kuma = new KumaEvaluator(objects.all);
      return pod((q) => {
        const member = kuma.membership(q.destination);
        return member !== undefined && kuma.mtls(member.mesh) === KumaMtls.STRICT;
      });
    }
    default:
      return () => false;
  }
}

/** The manifests, indexed by kind and name and by kind and namespace (the column is asked once per row). */
class Objects {
  private readonly byName = new Map<string, Manifest[]>();
  private readonly byNamespace = new Map<string, Manifest[]>();

  public constructor(public readonly all: Manifest[]) {
    for (const o of all) {
      for (const [m, key] of [[this.byName, `${o.kind}\0${o.metadata.name}`], [this.byNamespace, `${o.kind}\0${o.metadata.namespace}`]] as const) {
        const l = m.get(key);
        if (l) l.push(o);
        else m.set(key, [o]);
      }
    }
  }

  /** Objects of a kind named `name`, in manifest order. */
  public named(kind: string, name: string): readonly Manifest[] {
    return this.byName.get(`${kind}\0${name}`) ?? [];
  }

  /** Objects of a kind in a namespace, in manifest order. */
  public inNamespace(kind: string, namespace: string | undefined): readonly Manifest[] {
    return this.byNamespace.get(`${kind}\0${namespace}`) ?? [];
  }
}

/** The manifest of `apiGroup` an effect names, if it is among `objects` (a cluster-scoped reference matches by name). */
function find(objects: Objects, ref: DecidingObject, apiGroup: string): Manifest | undefined {
  return objects.named(ref.kind, ref.name).find((o) => o.apiVersion.startsWith(`${apiGroup}/`)
    && (ref.namespace === undefined || o.metadata.namespace === ref.namespace));
}

/** The objects named by the Linkerd or Cilium effects that allowed the connection. */
function allowingObjects(effects: readonly DecisionEffect[], layer: 'linkerd' | 'cilium'): DecidingObject[] {
  return effects.filter((e) => e.layer === layer && e.verdict === 'allow').flatMap((e) => e.objects);
}

/**
 * Linkerd: the AuthorizationPolicies that authorized the connection all require a
 * MeshTLSAuthentication; without any (the Server's accessPolicy or the default inbound policy
 * admitted it), every authorization of the port's Server does, or the default inbound policy is
 * an authenticated one.
 */
function linkerdAuthenticated(objects: Objects, q: Query, effects: readonly DecisionEffect[], nsAnnotations: { [key: string]: string } | undefined): boolean {
  const d = q.destination;
  const requiresMtls = (a: Manifest) => (a.spec?.requiredAuthenticationRefs ?? []).some((r: any) => r?.kind === 'MeshTLSAuthentication');
  const named = allowingObjects(effects, 'linkerd')
    .filter((o) => o.kind === 'AuthorizationPolicy')
    .map((o) => find(objects, o, 'policy.linkerd.io'))
    .filter((a): a is Manifest => a !== undefined);
  if (named.length > 0) return named.every(requiresMtls);
  const servers = objects.inNamespace('Server', d.namespace).filter((m) => m.apiVersion.startsWith('policy.linkerd.io/') && m.metadata.namespace === d.namespace
    && selectorMatches(m.spec?.podSelector ?? { matchLabels: { 'zt-never': 'x' } }, d.labels)
    && (m.spec?.port === q.port || (d.ports ?? []).some((p) => p.name === m.spec?.port && p.number === q.port)));
  if (servers.length === 0) {
    const policy = d.annotations?.['config.linkerd.io/default-inbound-policy'] ?? nsAnnotations?.['config.linkerd.io/default-inbound-policy'];
    return policy === 'all-authenticated' || policy === 'cluster-authenticated';
  }
  const names = new Set(servers.map((s) => s.metadata.name));
  const authz = objects.inNamespace('AuthorizationPolicy', d.namespace).filter((m) => m.apiVersion.startsWith('policy.linkerd.io/') && m.metadata.namespace === d.namespace
    && ((m.spec?.targetRef?.kind === 'Server' && names.has(m.spec.targetRef.name)) || m.spec?.targetRef?.kind === 'Namespace' || m.spec?.targetRef?.kind === 'HTTPRoute'));
  return authz.length > 0 && authz.every(requiresMtls);
}

/**
 * Cilium: mutual authentication is required when a rule that allowed the connection says
 * `authentication.mode: required`, or when both ends' namespaces are enrolled in ztunnel
 * (`io.cilium/mtls-enabled: "true"`).
 */
function ciliumAuthRequired(objects: Objects, q: Query, effects: readonly DecisionEffect[]): boolean {
  const ztunnel = (e: Endpoint) => e.kind === 'pod' && e.namespaceLabels?.['io.cilium/mtls-enabled'] === 'true';
  if (ztunnel(q.source) && ztunnel(q.destination)) return true;
  return allowingObjects(effects, 'cilium').some((o) => {
    const rule = o.rule && find(objects, o, 'cilium.io')?.spec?.[o.rule.list]?.[o.rule.index];
    return rule?.authentication?.mode === 'required';
  });
}
