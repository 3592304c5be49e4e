/**
 * The one place the report and the CLI ask for a backend's reader. Everything else goes through
 * `readerOf`, so switching to the shared backend registry touches only this file.
 */
import { ManifestError } from '../verify/manifests';
import { NetworkPolicyEvaluator } from '../verify/networkpolicy';
import { PolicyEvaluator, SourcedManifest } from '../verify/types';

/** A reader chosen for a set of manifests. */
export interface ChosenReader {
  /** Backend id (`networkpolicy`, `istio`, ...). */
  readonly backend: string;
  readonly evaluator: PolicyEvaluator;
}

/** Backend ids the CLI accepts. */
export function backendIds(): string[] {
  return ['networkpolicy', 'istio', 'istio-ambient', 'linkerd', 'cilium', 'kuma', 'nsm']; // TEMP until readers.ts lands
}

/** The reader for the manifests: `backend` when given, else detected from the objects. */
export function readerOf(manifests: readonly SourcedManifest[], backend?: string): ChosenReader {
  if (backend !== undefined && !backendIds().includes(backend)) {
    throw new ManifestError(`unknown backend "${backend}"; expected one of ${backendIds().join(', ')}`);
  }
  return { backend: backend ?? 'networkpolicy', evaluator: new NetworkPolicyEvaluator(manifests) };
}
