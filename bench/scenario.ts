/**
 * One benchmark scenario, run in its own process so peak memory is its own:
 * `node --expose-gc bench/scenario.js <scenario> <workloads> <edges> [--verify]` prints one JSON
 * line (`ScenarioResult`). Scenarios: `zt:<mesh id>`, `zt:all` (every backend in one app),
 * `cdk8s-plus`, `plain`.
 */
import { App, Yaml } from 'cdk8s';
import { FastYaml } from '../lib';
import { benchMeshes } from './meshes';
import { buildCdk8sPlus, buildPlain, buildZeroTrust, topology, Topology } from './topology';
import { VerifyResult, verifyOutput } from './verify';

/** What one scenario run measured. */
export interface ScenarioResult {
  readonly scenario: string;
  readonly workloads: number;
  readonly edges: number;
  /** Constructing the app (constructs, declared intent). */
  readonly buildMs: number;
  /** Validation, rendering and resolution to JSON objects (what `app.synth()` does before YAML). */
  readonly synthMs: number;
  /** `Yaml.stringify` per chart, as `app.synth()` writes it. */
  readonly yamlMs: number;
  /** `FastYaml.stringify` of the same documents. */
  readonly fastYamlMs: number;
  /** `JSON.stringify` of the same documents, for scale. */
  readonly jsonMs: number;
  readonly fastYamlIdentical: boolean;
  readonly fastYamlFallbacks: number;
  readonly objects: number;
  readonly kinds: { [kind: string]: number };
  readonly bytes: number;
  /** Bytes of the NetworkPolicy documents alone. */
  readonly networkPolicyBytes: number;
  /** Peak resident set size (MiB) through build, synth and YAML, and the peak reached by the end of the other phases. */
  readonly peakRssMiB: number;
  readonly peakRssBuildMiB: number;
  readonly peakRssSynthMiB: number;
  readonly peakRssWithCheckMiB: number;
  readonly verify?: VerifyResult;
}

function build(app: App, scenario: string, topo: Topology): void {
  if (scenario === 'cdk8s-plus') return buildCdk8sPlus(app, topo);
  if (scenario === 'plain') return buildPlain(app, topo);
  const meshes = benchMeshes();
  if (scenario === 'zt:all') {
    for (const m of meshes) buildZeroTrust(app, topo, m, `-${m.id}`);
    return;
  }
  const id = scenario.replace(/^zt:/, '');
  const mesh = meshes.find((m) => m.id === id);
  if (!mesh) throw new Error(`unknown scenario ${scenario}; backends: ${meshes.map((m) => m.id).join(', ')}`);
  buildZeroTrust(app, topo, mesh);
}

function maxRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

function gc(): void {
  (global as any).gc?.();
}

/** Runs one scenario in this process. */
export function runScenario(scenario: string, w: number, e: number, verify: boolean): ScenarioResult {
  const topo = topology(w, e);
  gc();
  const t0 = performance.now();
  const app = new App({ outdir: '/nonexistent-bench-output' });
  build(app, scenario, topo);
  const t1 = performance.now();
  const rssBuild = maxRssMiB();
  // What App.synth() does per chart before writing: validate, resolve, render to JSON.
  const perChart = app.charts.map((c) => Object.values(c.toJson()) as any[]);
  const t2 = performance.now();
  const rssSynth = maxRssMiB();
  // Each phase keeps only sizes, as app.synth() keeps nothing once a file is written.
  const yamlBytes: number[] = [];
  let yamlMs = 0;
  for (const docs of perChart) {
    const t = performance.now();
    const text = Yaml.stringify(...docs);
    yamlMs += performance.now() - t;
    yamlBytes.push(Buffer.byteLength(text));
  }
  const rssYaml = maxRssMiB();
  const before = FastYaml.stats().fallback;
  let fastMs = 0;
  let identical = true;
  for (const docs of perChart) {
    const t = performance.now();
    const text = FastYaml.stringify(...docs);
    fastMs += performance.now() - t;
    // Checked against cdk8s's bytes outside the timed part.
    if (identical && text !== Yaml.stringify(...docs)) identical = false;
  }
  let jsonMs = 0;
  for (const docs of perChart) {
    const t = performance.now();
    JSON.stringify(docs);
    jsonMs += performance.now() - t;
  }

  const kinds: { [kind: string]: number } = {};
  let objects = 0;
  let npBytes = 0;
  for (const docs of perChart) {
    for (const d of docs) {
      kinds[d.kind] = (kinds[d.kind] ?? 0) + 1;
      objects++;
      if (d.kind === 'NetworkPolicy') npBytes += Buffer.byteLength(FastYaml.stringify(d));
    }
  }
  const bytes = yamlBytes.reduce((n, b) => n + b, 0);
  const result: ScenarioResult = {
    scenario, workloads: w, edges: e,
    buildMs: t1 - t0, synthMs: t2 - t1, yamlMs, fastYamlMs: fastMs, jsonMs,
    fastYamlIdentical: identical,
    fastYamlFallbacks: FastYaml.stats().fallback - before,
    objects, kinds, bytes, networkPolicyBytes: npBytes,
    // What app.synth() needs: build, synth and YAML (the byte comparison afterwards holds both texts).
    peakRssMiB: rssYaml,
    peakRssBuildMiB: rssBuild, peakRssSynthMiB: rssSynth, peakRssWithCheckMiB: maxRssMiB(),
  };
  if (!verify || !scenario.startsWith('zt:')) return result;
  return { ...result, verify: verifyOutput(scenario, topo, perChart.flat()) };
}

if (require.main === module) {
  const [scenario, w, e, ...flags] = process.argv.slice(2);
  const r = runScenario(scenario, Number(w), Number(e), flags.includes('--verify'));
  process.stdout.write(JSON.stringify(r) + '\n');
}
