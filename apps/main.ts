/**
 * The example app: the Hero and Lil DeeBee story rendered once per backend into
 * `dist/<backend>/`. Run with `npm run synth`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { App } from 'cdk8s';
import { FastYaml, IstioMode, Mesh, ZeroTrustReview } from '../lib';
import { BACKEND_IDS, BackendId } from '../lib/intent/backend';
import { heroAndLilDeeBee } from './story';

/** The mesh of each backend the story is rendered for; a backend id without one is a compile error. */
const STORY_MESH: { readonly [id in BackendId]: () => Mesh } = {
  'networkpolicy': () => Mesh.networkPolicy(),
  'istio': () => Mesh.istio({ mode: IstioMode.SIDECAR }),
  'istio-ambient': () => Mesh.istio({ mode: IstioMode.AMBIENT }),
  'linkerd': () => Mesh.linkerd(),
  'cilium': () => Mesh.cilium(),
  'kuma': () => Mesh.kuma(),
  'nsm': () => Mesh.networkServiceMesh(),
};

/** Every backend the story is rendered for, in `BACKEND_IDS` order; each gets `dist/<mesh.id>/`. */
export const STORY_MESHES: Mesh[] = BACKEND_IDS.map((id) => {
  const mesh = STORY_MESH[id]();
  if (mesh.id !== id) throw new Error(`apps/main.ts: the story mesh of ${id} is ${mesh.id}`);
  return mesh;
});

/**
 * Synthesizes the story for every backend under `outRoot`, each folder with its review files:
 * `zero-trust.intent.json` (what `cdk8s-zero-trust verify` checks against) and `FLOWS.md`.
 */
export function synthStory(outRoot: string): string[] {
  const folders: string[] = [];
  for (const mesh of STORY_MESHES) {
    const outdir = path.join(outRoot, mesh.id);
    // Start clean so a removed chart cannot leave a stale file behind.
    fs.rmSync(outdir, { recursive: true, force: true });
    const app = new App({ outdir });
    heroAndLilDeeBee(app, mesh);
    // The same files as app.synth(), written by the fast YAML writer (byte-identical).
    FastYaml.synth(app);
    ZeroTrustReview.write(app);
    folders.push(outdir);
  }
  return folders;
}

if (require.main === module) {
  for (const dir of synthStory(path.join(__dirname, '..', 'dist'))) {
    console.log(`synthesized ${path.relative(process.cwd(), dir) || dir}`);
  }
}
