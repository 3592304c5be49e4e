/**
 * The documents behind the YAML files `FastYaml.synth` wrote, so that a reader in the same
 * process (the flow report of `ZeroTrustReview.write`) can take them instead of parsing the
 * files again. Parsing is the slow part of reading a small folder back: the `yaml` parser's
 * first use costs a few hundred milliseconds, more than the whole synth of the story.
 *
 * A file's documents are handed out only while its bytes on disk are the ones written (same
 * SHA-1), so a reader still sees exactly what is in the folder; any other file is parsed.
 */
import { createHash } from 'crypto';
import * as path from 'path';
import { App } from 'cdk8s';

interface WrittenFile {
  readonly digest: string;
  readonly documents: readonly unknown[];
}

const byApp = new WeakMap<App, Map<string, WrittenFile>>();

function digestOf(text: string): string {
  return createHash('sha1').update(text, 'utf8').digest('hex');
}

/** What `FastYaml.synth` wrote for an app; kept until forgotten or the app object is collected. */
export class WrittenManifests {
  /** Starts a new record for the app (a second synth replaces the first). */
  public static begin(app: App): WrittenManifests {
    const files = new Map<string, WrittenFile>();
    byApp.set(app, files);
    return new WrittenManifests(files);
  }

  /** The record of the app's last `FastYaml.synth`, if there was one. */
  public static of(app: App): WrittenManifests | undefined {
    const files = byApp.get(app);
    return files ? new WrittenManifests(files) : undefined;
  }

  /** Forgets the app's record, so its documents can be collected. */
  public static forget(app: App): void {
    byApp.delete(app);
  }

  private constructor(private readonly files: Map<string, WrittenFile>) {}

  /** Records that `text`, the YAML of `documents`, was written to `file`. */
  public record(file: string, text: string, documents: readonly unknown[]): void {
    this.files.set(path.resolve(file), { digest: digestOf(text), documents });
  }

  /**
   * The documents written to `file`, if `text` (what the file holds now) is exactly what was
   * written; `undefined` otherwise.
   */
  public documentsOf(file: string, text: string): readonly unknown[] | undefined {
    const written = this.files.get(path.resolve(file));
    if (written === undefined || written.digest !== digestOf(text)) return undefined;
    return written.documents;
  }
}
