import { App, Testing } from 'cdk8s';
import { heroAndLilDeeBee } from '../../apps/story';
import { Mesh } from '../../lib';
import { ZeroTrustError } from '../../lib/intent/errors';

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

/**
 * Expects synth to fail with a `ZeroTrustError` whose message contains every fragment, and whose
 * every problem carries a code and names the backend that refused and the namespace it belongs to.
 */
export function expectSynthError(app: App, ...fragments: string[]): ZeroTrustError {
  let thrown: unknown;
  try {
    synthApp(app);
  } catch (e) {
    thrown = e;
  }
  if (!thrown) throw new Error(`synth succeeded, expected an error containing ${JSON.stringify(fragments)}`);
  expect(thrown).toBeInstanceOf(ZeroTrustError);
  const error = thrown as ZeroTrustError;
  for (const f of fragments) expect(error.message).toContain(f);
  // The [backend] prefix is added once, by the error itself.
  expect(error.message).not.toMatch(/\[([a-z-]+)\] \[\1\]/);
  for (const p of error.problems.length > 0 ? error.problems : [error]) {
    expect(p.code).toMatch(/^[A-Z][A-Z0-9_]+$/);
    expect(p.backend).toBeDefined();
    expect(p.namespace).toBeDefined();
  }
  return error;
}

/** The story synthesized in a fresh app for `mesh`, as one YAML string (for byte-for-byte determinism checks). */
export function storyYaml(mesh: Mesh): string {
  const app = Testing.app();
  heroAndLilDeeBee(app, mesh);
  return app.synthYaml();
}
