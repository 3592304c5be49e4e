/**
 * The one place the report and the CLI ask for a backend's reader: `readerFor` of
 * `lib/verify/readers`, with the peer namespaces the policies name (and the manifests do not
 * define, such as ingress-nginx) enrolled in the mesh unless told otherwise.
 */
import { inventory } from '../verify/inventory';
import { BACKENDS, detectBackend, infrastructureNamespaces, isBackend, readerFor } from '../verify/readers';
import { ManifestError } from '../verify/manifests';
import { PolicyEvaluator, SourcedManifest } from '../verify/types';
import { mentions } from './universe';
import { compareText } from '../intent/collation';

/** A reader chosen for a set of manifests. */
export interface ChosenReader {
  /** Backend id (`networkpolicy`, `istio`, ...). */
  readonly backend: string;
  readonly evaluator: PolicyEvaluator;
  /** Namespaces not defined by the manifests whose pods are taken to run in the mesh. */
  readonly enrolledNamespaces: string[];
}

/** Backend ids the CLI accepts. */
export function backendIds(): string[] {
  return [...BACKENDS];
}

/**
 * Namespaces of the cluster's own machinery, never taken to be enrolled: cluster DNS and the
 * meshes' control planes do not run behind a mesh proxy. Each backend's descriptor lists its own.
 */
export const INFRASTRUCTURE_NAMESPACES: readonly string[] = infrastructureNamespaces();

/** Namespaces the policies name as peers that no manifest defines (ingress-nginx, monitoring, ...), infrastructure aside. */
export function peerNamespaces(manifests: readonly SourcedManifest[]): string[] {
  const declared = new Set(inventory(manifests).namespaces.filter((n) => n.declared).map((n) => n.name));
  return mentions(manifests).namespaces.filter((n) => !declared.has(n) && !INFRASTRUCTURE_NAMESPACES.includes(n));
}

/**
 * The reader for the manifests: `backend` when given, else detected from the objects.
 * `enrolledNamespaces` defaults to `peerNamespaces(manifests)`: a policy that admits a peer
 * namespace on a mesh means the peer runs in the mesh (a plaintext client would be refused).
 */
export function readerOf(manifests: readonly SourcedManifest[], backend?: string, enrolledNamespaces?: readonly string[]): ChosenReader {
  if (backend !== undefined && !isBackend(backend)) {
    throw new ManifestError(`unknown backend "${backend}"; expected one of ${backendIds().join(', ')}`);
  }
  const id = backend ?? detectBackend(manifests);
  const enrolled = [...(enrolledNamespaces ?? peerNamespaces(manifests))].sort(compareText);
  return { backend: id, evaluator: readerFor(manifests, { backend: id, enrolledNamespaces: enrolled }), enrolledNamespaces: enrolled };
}
