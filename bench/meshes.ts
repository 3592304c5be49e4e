/**
 * The backends the benchmark runs: every mesh the example app renders the story for
 * (`STORY_MESHES` in apps/main.ts), so a backend that joins the story joins the benchmark.
 */
import { Mesh } from '../lib';
import { STORY_MESHES } from '../apps/main';

/**
 * Settings a backend needs at benchmark scale instead of the story's defaults. Network Service
 * Mesh cuts one prefix per destination workload from a pool; the default 172.16.0.0/16 in /24s
 * holds 256 destinations, the benchmark has up to 8000.
 */
const AT_SCALE: { [id: string]: () => Mesh } = {
  nsm: () => Mesh.networkServiceMesh({ cidrPool: '10.0.0.0/8', prefixLength: 26 }),
};

/** Every backend, in the order of the story. */
export function benchMeshes(): Mesh[] {
  return STORY_MESHES.map((m) => AT_SCALE[m.id]?.() ?? m);
}
