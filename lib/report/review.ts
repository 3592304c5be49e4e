/**
 * The review files of an app, written beside its synthesized manifests: the intent file and the
 * flow report.
 */
import * as fs from 'fs';
import * as path from 'path';
import { App, Chart, Names, YamlOutputType } from 'cdk8s';
import { IConstruct } from 'constructs';
import { ZeroTrustChart } from '../intent/chart';
import { DnsSpec } from '../intent/dns';
import { INTENT_FILE_NAME, intentDocumentText } from '../intent/document';
import { IntentRegistry } from '../intent/registry';
import { enforcementSummary, formatEnforcementSummary } from '../intent/weaken';
import { ZeroTrustSynthesis } from '../intent/synthesis';
import { ChartDocuments, WrittenManifests } from '../output/written';
import { FastYaml } from '../output/yaml';
import { ManifestError } from '../verify/manifests';
import { BackendDetectionError } from '../verify/readers';
import { writeFlowsMarkdown } from './flows-file';

/** Options of `ZeroTrustReview.write`. */
export interface ZeroTrustReviewOptions {
  /**
   * Folder to write into: the folder of the synthesized manifests.
   * @default - the app's `outdir`
   */
  readonly outdir?: string;
  /**
   * Whether to write `FLOWS.md`: the flows the manifests allow, as a table and a Mermaid
   * diagram, read back from the YAML in the folder.
   * @default true
   */
  readonly flowsMarkdown?: boolean;
  /**
   * Whether to print the synth summary: per backend, how many flows are enforced as declared and
   * how many weakened, and how (`Weaken` members the charts accepted).
   * @default true
   */
  readonly printSummary?: boolean;
}

/**
 * The review files of an app, written beside its synthesized manifests: `zero-trust.intent.json`
 * (the declared intent, which `npx cdk8s-zero-trust verify <dir>` checks the manifests against)
 * and `FLOWS.md` (the allowed flows, for pull-request review). cdk8s offers no hook after
 * `app.synth()`, so call it yourself, right after synth:
 *
 * ```ts
 * app.synth();
 * ZeroTrustReview.write(app); // dist/zero-trust.intent.json, dist/FLOWS.md
 * ```
 */
export class ZeroTrustReview {
  /** File name of the intent file. */
  public static readonly INTENT_FILE_NAME = INTENT_FILE_NAME;
  /** File name of the flow report. */
  public static readonly FLOWS_FILE_NAME = 'FLOWS.md';

  /** The intent of the app as deterministic JSON text; throws if the intent does not resolve. */
  public static intentJson(app: App): string {
    // The same problems, with the same fields, as the synth reports.
    ZeroTrustSynthesis.prepare(app);
    // The flows as enforced: with the weakenings the charts accepted (the file records them).
    const model = ZeroTrustSynthesis._of(app)._run().model ?? IntentRegistry.of(app).resolve().model;
    return intentDocumentText(model, chartDns(app));
  }

  /**
   * The synth summary, one line per backend: how many declared flows are enforced as declared and
   * how many in a weaker form, by `Weaken` member (`kuma: 7 flows enforced as declared, 5 weakened
   * (Weaken.HTTP_TO_PORT: 1, Weaken.IDENTITY_TO_LABELS: 4)`). Throws if the intent does not resolve.
   */
  public static summary(app: App): string {
    ZeroTrustSynthesis.prepare(app);
    const model = ZeroTrustSynthesis._of(app)._run().model ?? IntentRegistry.of(app).resolve().model;
    return ['zero-trust enforcement:', ...formatEnforcementSummary(enforcementSummary(model)).map((l) => `  ${l}`)].join('\n');
  }

  /**
   * Writes `zero-trust.intent.json` and (unless disabled) `FLOWS.md` into the app's outdir (or
   * `options.outdir`); call after `app.synth()`. Returns the paths written.
   */
  public static write(app: App, options: ZeroTrustReviewOptions = {}): string[] {
    const outdir = options.outdir ?? app.outdir;
    fs.mkdirSync(outdir, { recursive: true });
    const intentFile = path.join(outdir, INTENT_FILE_NAME);
    fs.writeFileSync(intentFile, ZeroTrustReview.intentJson(app));
    if (options.printSummary !== false) process.stdout.write(`${ZeroTrustReview.summary(app)}\n`);
    if (options.flowsMarkdown === false) return [intentFile];
    const backends = [...new Set(IntentRegistry.of(app).resolve().model.namespaces.map((n) => n.backend))].sort();
    const written = WrittenManifests.of(app);
    const charts = ChartDocuments.take(app);
    // Used once: after this, the app no longer holds on to every document it wrote.
    WrittenManifests.forget(app);
    const ofCharts = charts ? chartFileDocuments(app, charts) : undefined;
    try {
      return [intentFile, writeFlowsMarkdown(outdir, {
        backend: backends.length === 1 ? backends[0] : undefined,
        documentsOf: written ? (file, text) => written.documentsOf(file, text) : ofCharts,
        // The app's own files: those of outdir, and of its chart folders with folder-per-chart
        // output. Other folders (another mesh's output, say) are not the app's and are not read.
        subfolders: chartFolders(app, outdir),
      })];
    } catch (e) {
      const err = e as Error;
      if (err?.name !== 'ManifestError' && !(err instanceof BackendDetectionError)) throw e;
      const mixed = backends.length > 1 ? ` The app uses ${backends.join(' and ')}; FLOWS.md reads one folder with one backend's reader: synth each mesh's charts into its own outdir and call ZeroTrustReview.write for each.` : '';
      throw new ManifestError(`ZeroTrustReview.write: ${intentFile} is written, but FLOWS.md cannot be: ${err.message}.${mixed} Pass { flowsMarkdown: false } to write the intent file alone.`);
    }
  }

  private constructor() {}
}

/**
 * After a plain `app.synth()`: the documents of a file cdk8s wrote for the app's charts (one file
 * per chart, `NNNN-` prefixed when charts depend on each other, or one file for the app), taken
 * from what each ZeroTrustChart returned, when the file holds exactly their YAML (cdk8s's `yaml`
 * writer and FastYaml write the same bytes); `undefined` (parse it) otherwise.
 */
function chartFileDocuments(app: App, charts: Map<Chart, readonly unknown[]>): (file: string, text: string) => readonly unknown[] | undefined {
  const ext = app.outputFileExtension;
  const byName = new Map<string, readonly unknown[]>();
  for (const [chart, docs] of charts) byName.set(Names.toDnsLabel(chart), docs);
  // `app.charts` walks the whole construct tree: only for the one file of a FILE_PER_APP output.
  const all = () => (app.charts.every((c) => charts.has(c)) ? app.charts.flatMap((c) => [...charts.get(c)!]) : undefined);
  return (file, text) => {
    const base = path.basename(file);
    if (!base.endsWith(ext)) return undefined;
    const name = base.slice(0, base.length - ext.length);
    const docs = app.yamlOutputType === YamlOutputType.FILE_PER_APP
      ? (name === 'app' ? all() : undefined)
      : app.yamlOutputType === YamlOutputType.FILE_PER_CHART ? byName.get(name) ?? byName.get(name.replace(/^\d{4}-/, '')) : undefined;
    if (docs === undefined || docs.length === 0) return undefined;
    return FastYaml.stringify(...docs) === text ? docs : undefined;
  };
}

/** The subfolders of `outdir` holding the app's charts (folder-per-chart output), if any. */
function chartFolders(app: App, outdir: string): string[] {
  if (app.yamlOutputType !== YamlOutputType.FOLDER_PER_CHART_FILE_PER_RESOURCE || !fs.existsSync(outdir)) return [];
  const names = new Set(app.charts.map((c) => Names.toDnsLabel(c)));
  return fs.readdirSync(outdir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && (names.has(e.name) || names.has(e.name.replace(/^\d{4}-/, ''))))
    .map((e) => e.name)
    .sort();
}

/** The DNS of every ZeroTrustChart of the app, by namespace. */
function chartDns(app: IConstruct): { [namespace: string]: DnsSpec } {
  const out: { [namespace: string]: DnsSpec } = {};
  for (const c of app.node.findAll()) {
    if (ZeroTrustChart.isZeroTrustChart(c)) out[c.namespaceName] = c.dns.spec;
  }
  return out;
}
