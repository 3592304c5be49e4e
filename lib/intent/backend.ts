/**
 * Backend ids: the one list of backends. A `Record<BackendId, ...>` in the render registry
 * (`lib/meshes/mesh.ts`) and the read registry (`lib/verify/backends/`) makes the compiler list
 * every place a new backend must fill in.
 */
export const BACKEND_IDS = ['networkpolicy', 'istio', 'istio-ambient', 'linkerd', 'cilium', 'kuma', 'nsm'] as const;

/** One of `BACKEND_IDS`: also the output folder name (`dist/<id>/`). */
export type BackendId = typeof BACKEND_IDS[number];

/** True when `id` is a known backend id. */
export function isBackendId(id: string): id is BackendId {
  return (BACKEND_IDS as readonly string[]).includes(id);
}
