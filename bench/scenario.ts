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
  /** Peak resident set size of the process (MiB). */
  readonly peakRssMiB: number;
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
  // What App.synth() does per chart before writing: validate, resolve, render to JSON.
  const perChart = app.charts.map((c) => Object.values(c.toJson()) as any[]);
  const t2 = performance.now();
  const yaml = perChart.map((docs) => Yaml.stringify(...docs));
  const t3 = performance.now();
  const before = FastYaml.stats().fallback;
  const fast = perChart.map((docs) => FastYaml.stringify(...docs));
  const t4 = performance.now();
  const json = perChart.map((docs) => JSON.stringify(docs));
  const t5 = performance.now();
  void json;

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
  // Separators between documents belong to no document; count them with the policies' share.
  const bytes = yaml.reduce((n, s) => n + Buffer.byteLength(s), 0);
  const result: ScenarioResult = {
    scenario, workloads: w, edges: e,
    buildMs: t1 - t0, synthMs: t2 - t1, yamlMs: t3 - t2, fastYamlMs: t4 - t3, jsonMs: t5 - t4,
    fastYamlIdentical: yaml.every((s, i) => s === fast[i]),
    fastYamlFallbacks: FastYaml.stats().fallback - before,
    objects, kinds, bytes, networkPolicyBytes: npBytes,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
  if (!verify || !scenario.startsWith('zt:')) return result;
  return { ...result, verify: verifyOutput(scenario, topo, perChart.flat()) };
}

if (require.main === module) {
  const [scenario, w, e, ...flags] = process.argv.slice(2);
  const r = runScenario(scenario, Number(w), Number(e), flags.includes('--verify'));
  process.stdout.write(JSON.stringify(r) + '\n');
}
