/**
 * The read side of every backend, one entry each. A backend id without an entry here is a
 * compile error (`Record<BackendId, ...>`).
 */
import { BACKEND_IDS, BackendId } from '../../intent/backend';
import { ciliumBackend } from './cilium';
import { ReaderBackend } from './descriptor';
import { istioAmbientBackend, istioSidecarBackend } from './istio';
import { kumaBackend } from './kuma';
import { linkerdBackend } from './linkerd';
import { networkPolicyBackend } from './networkpolicy';
import { nsmBackend } from './nsm';

export * from './descriptor';

const REGISTRY: { readonly [id in BackendId]: ReaderBackend } = {
  'networkpolicy': networkPolicyBackend,
  'istio': istioSidecarBackend,
  'istio-ambient': istioAmbientBackend,
  'linkerd': linkerdBackend,
  'cilium': ciliumBackend,
  'kuma': kumaBackend,
  'nsm': nsmBackend,
};

/** The read side of a backend. */
export function readerBackend(id: BackendId): ReaderBackend {
  return REGISTRY[id];
}

/** Every backend's read side, in `BACKEND_IDS` order. */
export function readerBackends(): ReaderBackend[] {
  return BACKEND_IDS.map((id) => REGISTRY[id]);
}
