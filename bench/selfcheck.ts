/**
 * The cost of the self-check (ZeroTrustChart `selfCheck`, on by default): the benchmark topology
 * synthesized with every backend with the self-check on and off, each run in its own process,
 * median of `reps`. `npm run bench` adds the table to bench/RESULTS.md; alone:
 * `node bench/selfcheck.js [W/E ...]` prints it.
 *
 * The app is built as bench/topology.ts `buildZeroTrust` builds it, with `selfCheck` set.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { App } from 'cdk8s';
import { Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { selfCheckStats } from '../lib/meshes/selfcheck';
import { benchMeshes } from './meshes';
import { Topology, topology } from './topology';

/** One run of one backend at one size. */
export interface SelfCheckRun {
  readonly backend: string;
  readonly workloads: number;
  readonly edges: number;
  readonly selfCheck: boolean;
  /** Constructing the app. */
  readonly buildMs: number;
  /** Every chart's `toJson()`: resolution, checks, rendering (and the self-check when on). */
  readonly synthMs: number;
  /** How the self-check asked (`exhaustive` or `focused`) and how many connections. */
  readonly mode?: string;
  readonly queries: number;
  /** The self-check's own wall and CPU time (reading back and asking), ms. */
  readonly checkMs: number;
  readonly checkCpuMs: number;
  /** CPU time of the whole synth, ms. */
  readonly synthCpuMs: number;
}

function build(app: App, topo: Topology, backend: string, selfCheck: boolean): void {
  const mesh = benchMeshes().find((m) => m.id === backend);
  if (!mesh) throw new Error(`unknown backend ${backend}`);
  const charts = new Map<string, ZeroTrustChart>();
  for (const ns of topo.namespaces) charts.set(ns, new ZeroTrustChart(app, ns, { namespace: ns, mesh, selfCheck }));
  const secure = topo.workloads.map((w) => new SecureWorkload(charts.get(w.namespace)!, w.name, {
    image: 'registry.example.com/bench:1.0',
    ports: [Port.tcp(w.port, 'app')],
  }));
  for (const e of topo.edges) secure[e.to].allowFrom(secure[e.from]);
}

/** Runs one backend in this process. */
export function runOnce(backend: string, w: number, e: number, selfCheck: boolean): SelfCheckRun {
  const topo = topology(w, e);
  const t0 = performance.now();
  const app = new App({ outdir: '/nonexistent-bench-output' });
  build(app, topo, backend, selfCheck);
  const t1 = performance.now();
  const cpu = process.cpuUsage();
  for (const c of app.charts) c.toJson();
  const used = process.cpuUsage(cpu);
  const t2 = performance.now();
  const stats = selfCheckStats();
  return {
    backend, workloads: w, edges: e, selfCheck, buildMs: t1 - t0, synthMs: t2 - t1, mode: stats.last?.mode, queries: stats.queries,
    checkMs: stats.ms, checkCpuMs: stats.cpuMs, synthCpuMs: (used.user + used.system) / 1000,
  };
}

function child(backend: string, w: number, e: number, selfCheck: boolean): SelfCheckRun {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'selfcheck.js'), '--child', backend, String(w), String(e), String(selfCheck)], {
    encoding: 'utf8', maxBuffer: 16 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`self-check bench ${backend} ${w}/${e} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const ms = (v: number) => (v >= 10000 ? `${(v / 1000).toFixed(1)} s` : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`);

/** Measured cost at one size: synth time off and on (medians), per backend. */
export interface SelfCheckCost {
  readonly backend: string;
  readonly workloads: number;
  readonly edges: number;
  readonly offMs: number;
  readonly onMs: number;
  /** CPU time of the synth, off and on (medians), ms: less sensitive to a busy machine than wall time. */
  readonly offCpuMs: number;
  readonly onCpuMs: number;
  /** The self-check's own CPU time (reading back and asking; median), ms. */
  readonly checkCpuMs: number;
  readonly mode?: string;
  readonly queries: number;
}

/**
 * Measures every backend at every size, off and on alternately (`reps` each, medians).
 * @param log progress lines go here
 */
export function selfCheckCosts(sizes: [number, number][], reps: number, log: (line: string) => void = () => undefined): SelfCheckCost[] {
  const out: SelfCheckCost[] = [];
  for (const [w, e] of sizes) {
    for (const backend of benchMeshes().map((m) => m.id)) {
      const off: SelfCheckRun[] = [];
      const on: SelfCheckRun[] = [];
      for (let i = 0; i < reps; i++) {
        off.push(child(backend, w, e, false));
        on.push(child(backend, w, e, true));
      }
      const cost: SelfCheckCost = {
        backend, workloads: w, edges: e, offMs: median(off.map((r) => r.synthMs)), onMs: median(on.map((r) => r.synthMs)),
        offCpuMs: median(off.map((r) => r.synthCpuMs)), onCpuMs: median(on.map((r) => r.synthCpuMs)), checkCpuMs: median(on.map((r) => r.checkCpuMs)),
        mode: on[0].mode, queries: on[0].queries,
      };
      out.push(cost);
      log(`self-check ${backend.padEnd(14)} ${`${w}/${e}`.padEnd(11)} synth off ${ms(cost.offMs).padStart(7)}  on ${ms(cost.onMs).padStart(7)}  +${Math.round((cost.onMs / cost.offMs - 1) * 100)}%`
        + `  CPU +${Math.round((cost.onCpuMs / cost.offCpuMs - 1) * 100)}% (check ${ms(cost.checkCpuMs)})  ${cost.mode} ${cost.queries.toLocaleString('en-US')} connections`);
    }
  }
  return out;
}

/** The RESULTS.md section. */
export function selfCheckSection(costs: SelfCheckCost[], reps: number): string {
  const lines = ['## Cost of the self-check', ''];
  lines.push(`Synth time (every chart's \`toJson()\`: resolution, checks, rendering, and with the self-check on, reading the output back) with \`selfCheck: false\` and with the default \`selfCheck: true\`, median of ${reps} runs each in a fresh process; wall time, and CPU time (user and system, less sensitive to a busy machine), with the self-check's own CPU time (reading back and asking; it shares the rendering with the synth). Exhaustive: the whole probe universe, asked only where the objects' or the intent's prefilter may allow; focused: every declared flow plus a fixed set of parties per workload (see lib/meshes/selfcheck.ts), verdicts first and reasons only for a difference. Goal: at most +30% at 2000/10000 on networkpolicy.`, '');
  lines.push('| backend | W/E | synth, off | synth, on | cost | CPU, off | CPU, on | CPU cost | self-check CPU | mode | connections asked |');
  lines.push('|---|---|--:|--:|--:|--:|--:|--:|--:|---|--:|');
  const pct = (on: number, off: number) => `+${Math.round((on / off - 1) * 100)}%`;
  for (const c of costs) {
    lines.push(`| ${c.backend} | ${c.workloads}/${c.edges} | ${ms(c.offMs)} | ${ms(c.onMs)} | ${pct(c.onMs, c.offMs)} | ${ms(c.offCpuMs)} | ${ms(c.onCpuMs)} | ${pct(c.onCpuMs, c.offCpuMs)} | ${ms(c.checkCpuMs)} | ${c.mode ?? '—'} | ${c.queries.toLocaleString('en-US')} |`);
  }
  const goal = costs.find((c) => c.backend === 'networkpolicy' && c.workloads === 2000 && c.edges === 10000);
  if (goal) {
    lines.push('', `Goal at 2000/10000 on networkpolicy: ${pct(goal.onMs, goal.offMs)} wall, ${pct(goal.onCpuMs, goal.offCpuMs)} CPU — ${goal.onCpuMs <= goal.offCpuMs * 1.3 ? 'met' : '**missed**'}.`);
  }
  lines.push('');
  return lines.join('\n');
}

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    const [, backend, w, e, on] = args;
    process.stdout.write(JSON.stringify(runOnce(backend, Number(w), Number(e), on === 'true')) + '\n');
  } else {
    const sizes = (args.length ? args : ['2000/10000']).map((s) => s.split('/').map(Number) as [number, number]);
    const costs = selfCheckCosts(sizes, 3, (l) => process.stderr.write(`${l}\n`));
    process.stdout.write(selfCheckSection(costs, 3));
  }
}
