/**
 * The read side of every backend, one entry each. A backend id without an entry here is a
 * compile error (`Record<BackendId, ...>`).
 */
import { BACKEND_IDS, BackendId } from '../../intent/backend';
import { ciliumBackend } from './cilium';
import { ReaderBackend } from './descriptor';
import { NamedParty } from './parties';
import { Manifest } from '../types';
import { istioAmbientBackend, istioSidecarBackend } from './istio';
import { kumaBackend } from './kuma';
import { linkerdBackend } from './linkerd';
import { networkPolicyBackend } from './networkpolicy';
import { nsmBackend } from './nsm';

export * from './descriptor';
export { NamedParty } from './parties';

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

/**
 * The parties every backend's objects among `objects` name (lib/verify/backends/parties.ts),
 * whichever backend reads them: the probe universe is the same for all.
 */
export function namedParties(objects: readonly Manifest[]): NamedParty[] {
  // Istio's two backends share one function: asked once.
  return [...new Set(BACKEND_IDS.map((id) => REGISTRY[id].parties))].flatMap((parties) => parties(objects));
}
