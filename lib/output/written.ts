/**
 * The documents behind the YAML files `FastYaml.synth` wrote, so that a reader in the same
 * process (the flow report of `ZeroTrustReview.write`) can take them instead of parsing the
 * files again. Parsing is the slow part of reading a small folder back: the `yaml` parser's
 * first use costs a few hundred milliseconds, more than the whole synth of the story.
 *
 * A file's documents are handed out only while its bytes on disk are the ones written (same
 * SHA-1), so a reader still sees exactly what is in the folder; any other file is parsed.
 *
 * Outputs up to `DEFAULT_MAX_BYTES` of YAML are remembered: parsing is what a re-read costs, a
 * few hundred milliseconds for a small folder and seconds for a large one. Remembering keeps every
 * chart's documents alive through the synth (cdk8s lets each go once its file is written), so past
 * that size the record is dropped and files are parsed.
 */
import { createHash } from 'crypto';
import * as path from 'path';
import { App, Chart } from 'cdk8s';

interface WrittenFile {
  readonly digest: string;
  readonly documents: readonly unknown[];
}

/**
 * YAML bytes of an app's output beyond which nothing is remembered: 64 MiB, several times the
 * 2000-workload benchmark app's 8-14 MB, whose documents take well under 100 MiB of heap and
 * whose parse would cost seconds.
 */
const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

/** An app's record; `files` is undefined once the output outgrew the limit. */
interface AppRecord {
  files?: Map<string, WrittenFile>;
  bytes: number;
  readonly maxBytes: number;
}

const byApp = new WeakMap<App, AppRecord>();

function digestOf(text: string): string {
  return createHash('sha1').update(text, 'utf8').digest('hex');
}

/** What `FastYaml.synth` wrote for an app; kept until forgotten or the app object is collected. */
export class WrittenManifests {
  /**
   * Starts a new record for the app (a second synth replaces the first).
   * @param maxBytes YAML bytes beyond which the record is dropped
   */
  public static begin(app: App, maxBytes: number = DEFAULT_MAX_BYTES): WrittenManifests {
    const record: AppRecord = { files: new Map(), bytes: 0, maxBytes };
    byApp.set(app, record);
    return new WrittenManifests(record);
  }

  /** The record of the app's last `FastYaml.synth`, if there was one. */
  public static of(app: App): WrittenManifests | undefined {
    const record = byApp.get(app);
    return record ? new WrittenManifests(record) : undefined;
  }

  /** Forgets the app's record, so its documents can be collected. */
  public static forget(app: App): void {
    byApp.delete(app);
  }

  private constructor(private readonly state: AppRecord) {}

  /** Records that `text`, the YAML of `documents`, was written to `file`. */
  public record(file: string, text: string, documents: readonly unknown[]): void {
    const r = this.state;
    if (r.files === undefined) return;
    r.bytes += text.length;
    if (r.bytes > r.maxBytes) {
      r.files = undefined; // let every document go; readers parse the files
      return;
    }
    r.files.set(path.resolve(file), { digest: digestOf(text), documents });
  }

  /**
   * The documents written to `file`, if `text` (what the file holds now) is exactly what was
   * written; `undefined` otherwise, and for every file of an output too large to remember.
   */
  public documentsOf(file: string, text: string): readonly unknown[] | undefined {
    const written = this.state.files?.get(path.resolve(file));
    if (written === undefined || written.digest !== digestOf(text)) return undefined;
    return written.documents;
  }
}

/**
 * The documents each ZeroTrustChart handed to cdk8s (its `toJson()`), by app: what a plain
 * `app.synth()` wrote into the chart's file, so that `ZeroTrustReview.write` after it can take them
 * where the file holds exactly their YAML instead of parsing it. The synthesis holds every
 * chart's documents at once already (for its self-check), so keeping them adds no peak memory;
 * the record goes with `forget` or the app.
 */
export class ChartDocuments {
  /** Records the documents a chart returned from `toJson()` (the last call wins). */
  public static record(chart: Chart, documents: readonly unknown[]): void {
    const app = chart.node.root as App;
    let charts = chartDocs.get(app);
    if (!charts) {
      charts = new Map();
      chartDocs.set(app, charts);
    }
    charts.set(chart, documents);
  }

  /** The documents recorded for the app's charts, and forgets them. */
  public static take(app: App): Map<Chart, readonly unknown[]> | undefined {
    const charts = chartDocs.get(app);
    chartDocs.delete(app);
    return charts;
  }

  private constructor() {}
}

const chartDocs = new WeakMap<App, Map<Chart, readonly unknown[]>>();
