import { App, Testing } from 'cdk8s';
import { heroAndLilDeeBee } from '../../apps/story';
import { Mesh } from '../../lib';

/** Synthesizes every chart of an app and returns all objects, as a user's `cdk8s synth` would see them. */
export function synthApp(app: App): any[] {
  return app.charts.flatMap((c) => Testing.synth(c));
}

/** Finds one object by kind and name (and namespace if given); throws if absent. */
export function find(objects: any[], kind: string, name: string, namespace?: string): any {
  const hit = objects.find((o) => o.kind === kind && o.metadata?.name === name && (namespace === undefined || o.metadata?.namespace === namespace));
  if (!hit) {
    throw new Error(`no ${kind} ${namespace ? `${namespace}/` : ''}${name} among: ${objects.map((o) => `${o.kind}/${o.metadata?.name}`).join(', ')}`);
  }
  return hit;
}

/** Expects synth to fail with a message containing every fragment. */
export function expectSynthError(app: App, ...fragments: string[]): void {
  let message = '';
  try {
    synthApp(app);
  } catch (e) {
    message = (e as Error).message;
  }
  if (!message) throw new Error(`synth succeeded, expected an error containing ${JSON.stringify(fragments)}`);
  for (const f of fragments) expect(message).toContain(f);
}

/** The story synthesized in a fresh app for `mesh`, as one YAML string (for byte-for-byte determinism checks). */
export function storyYaml(mesh: Mesh): string {
  const app = Testing.app();
  heroAndLilDeeBee(app, mesh);
  return app.synthYaml();
}
