/**
 * The example app: the Hero and Lil DeeBee story rendered once per backend into
 * `dist/<backend>/`. Run with `npm run synth`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { App } from 'cdk8s';
import { FastYaml, IstioMode, Mesh, ZeroTrustReview } from '../lib';
import { heroAndLilDeeBee } from './story';

/** Every backend the story is rendered for; each gets `dist/<mesh.id>/`. */
export const STORY_MESHES: Mesh[] = [
  Mesh.networkPolicy(),
  Mesh.istio({ mode: IstioMode.SIDECAR }),
  Mesh.istio({ mode: IstioMode.AMBIENT }),
  Mesh.linkerd(),
  Mesh.cilium(),
  Mesh.kuma(),
  Mesh.networkServiceMesh(),
];

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
