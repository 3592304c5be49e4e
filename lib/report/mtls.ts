/**
 * The mTLS column: whether an allowed connection must be mutually authenticated, read from the
 * manifests by the backend's own descriptor (`lib/verify/backends/<backend>.ts`): Istio
 * PeerAuthentication STRICT, Linkerd authorizations that all require MeshTLSAuthentication or an
 * authenticated default policy, Cilium `authentication.mode: required`, Kuma's Mesh with a STRICT
 * mTLS backend; NetworkPolicy and NSM never. The source being meshed follows: the reader only
 * allows such a connection from a meshed source.
 */
import { isBackendId } from '../intent/backend';
import { MtlsOf, readerBackend } from '../verify/backends';
import { AnyManifest, manifestOf } from '../verify/manifests';

export { MtlsOf } from '../verify/backends';

/** A function that says whether an allowed query (with the effects of the reader's decisions) requires mTLS. */
export function mtlsOf(backend: string, manifests: readonly AnyManifest[]): MtlsOf {
  if (!isBackendId(backend)) throw new Error(`unknown backend "${backend}"`);
  const answer = readerBackend(backend).mtls(manifests.map(manifestOf));
  // mTLS needs a proxy at both ends: an address source (an ipBlock peer, the ambient kubelet probe address) is plaintext.
  return (q, effects) => q.source.kind === 'pod' && q.destination.kind === 'pod' && q.protocol === 'TCP' && answer(q, effects);
}

/** Whether a backend's mTLS column reads the decision's effects at all (the others ignore them). */
export function mtlsReadsEffects(backend: string): boolean {
  return isBackendId(backend) && readerBackend(backend).mtlsReadsEffects;
}
