/**
 * The backends the benchmark runs: every mesh the example app renders the story for
 * (`STORY_MESHES` in apps/main.ts), so a backend that joins the story joins the benchmark.
 */
import { Mesh } from '../lib';
import { STORY_MESHES } from '../apps/main';

/** Every backend, in the order of the story. */
export function benchMeshes(): Mesh[] {
  return [...STORY_MESHES];
}
