/**
 * The review at scale (issue 17): for every backend and size, the benchmark topology is
 * synthesized into a folder, then the commands a reviewer runs are timed on it, each in a fresh
 * process (wall time from spawn to exit, peak RSS of that process):
 *
 * - `flows <dir> --format json` (every row with its reasons);
 * - `diff <old-dir> <dir>` against the same topology with 1% of its edges moved elsewhere;
 * - `verify <dir>` against the intent file written beside the manifests;
 * - `ZeroTrustReview.write(app)` (intent file and FLOWS.md) right after the synth it follows, in
 *   the synth's process: after `app.synth()` (FLOWS.md parses the files back) and after
 *   `FastYaml.synth(app)` (FLOWS.md takes the documents just written).
 *
 * Each is compared with the time of the synth of that output (build + `app.synth()`, YAML
 * written, self-check on: what produced the folder). At sizes up to `--review-old` workloads the
 * former all-pairs algorithm is run too, in its own process, and its rows compared with the new
 * ones. `npm run bench` adds the section to bench/RESULTS.md; alone:
 * `node bench/review.js [W/E ...] [--backends a,b] [--old N]` prints it.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'cdk8s';
import { Enforcement, FastYaml, ZeroTrustReview } from '../lib';
import { main as cli } from '../lib/cli';
import { flowMatrix, matrixRowsByProbing, readerOf, reportUniverse } from '../lib/report';
import { loadManifests } from '../lib/verify';
import { benchMeshes } from './meshes';
import { BenchEdge, Topology, buildZeroTrust, prng, topology } from './topology';

/** The same topology with `fraction` of its edges moved to other pairs (seeded): the "after" of a review. */
export function movedEdges(topo: Topology, fraction = 0.01, seed = 7): Topology {
  const w = topo.workloads.length;
  const rnd = prng(seed);
  const edges = [...topo.edges];
  const seen = new Set(edges.map((e) => e.from * w + e.to));
  const moves = Math.max(1, Math.round(edges.length * fraction));
  for (let i = 0; i < moves && w > 1; i++) {
    const k = Math.floor(rnd() * edges.length);
    let next: BenchEdge | undefined;
    while (!next) {
      const from = Math.floor(rnd() * w);
      const to = Math.floor(rnd() * w);
      if (from !== to && !seen.has(from * w + to)) next = { from, to };
    }
    seen.delete(edges[k].from * w + edges[k].to);
    seen.add(next.from * w + next.to);
    edges[k] = next;
  }
  return { ...topo, edges };
}

/** What a synth child measured. */
interface SynthRun {
  /** Build + synth + files written, ms. */
  readonly synthMs: number;
  /** `ZeroTrustReview.write(app)` right after, ms (0 when not asked). */
  readonly writeMs: number;
  readonly peakRssMiB: number;
}

/** What a command child measured (wall time is taken by the parent). */
interface CommandRun {
  readonly code: number;
  readonly peakRssMiB: number;
  readonly outputBytes: number;
  /** Rows of `flows --format json`. */
  readonly rows?: number;
  /** First line of the output (verify's verdict). */
  readonly firstLine: string;
}

function maxRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** Child: synthesizes one backend's topology into `outdir`, optionally writing the review files. */
function synthChild(backend: string, w: number, e: number, outdir: string, options: { fast: boolean; write: boolean; moved: boolean; audit?: boolean }): SynthRun {
  const mesh = benchMeshes().find((m) => m.id === backend);
  if (!mesh) throw new Error(`unknown backend ${backend}`);
  const topo = options.moved ? movedEdges(topology(w, e)) : topology(w, e);
  const t0 = performance.now();
  const app = new App({ outdir });
  buildZeroTrust(app, topo, mesh, '', options.audit ? Enforcement.AUDIT : undefined);
  if (options.fast) FastYaml.synth(app);
  else app.synth();
  const t1 = performance.now();
  if (options.write) ZeroTrustReview.write(app);
  else ZeroTrustReview.write(app, { flowsMarkdown: false });
  const t2 = performance.now();
  return { synthMs: t1 - t0, writeMs: options.write ? t2 - t1 : 0, peakRssMiB: maxRssMiB() };
}

/** Child: runs the CLI with its output counted, not printed. */
async function commandChild(args: string[]): Promise<CommandRun> {
  const chunks: string[] = [];
  const errors: string[] = [];
  let bytes = 0;
  const keep = args[0] === 'flows' || args[0] === 'verify';
  const code = await cli(args, { stdout: (t) => { bytes += t.length; if (keep) chunks.push(t); }, stderr: (t) => { errors.push(t); process.stderr.write(t); } });
  const peakRssMiB = maxRssMiB();
  if (code === 2) return { code, peakRssMiB, outputBytes: bytes, firstLine: errors.join('').split('\n')[0].slice(0, 300) };
  const text = chunks.join('');
  const rows = args[0] === 'flows' ? (JSON.parse(text).flows as unknown[]).length : undefined;
  return { code, peakRssMiB, outputBytes: bytes, ...(rows !== undefined ? { rows } : {}), firstLine: text.split('\n')[0].slice(0, 300) };
}

/** Child: the former all-pairs rows and the new ones of a folder, timed, and whether they are the same. */
function compareChild(dir: string): { oldMs: number; newMs: number; same: boolean; rows: number } {
  const manifests = loadManifests(dir);
  const t0 = performance.now();
  const fresh = flowMatrix(manifests);
  const t1 = performance.now();
  const chosen = readerOf(manifests);
  const old = matrixRowsByProbing(manifests, chosen.backend, chosen.evaluator, reportUniverse(manifests));
  const t2 = performance.now();
  return { newMs: t1 - t0, oldMs: t2 - t1, same: JSON.stringify(old) === JSON.stringify(fresh.rows), rows: fresh.rows.length };
}

function spawnChild<T>(args: string[]): { result: T; wallMs: number } {
  const t = performance.now();
  const r = spawnSync(process.execPath, [__filename, '--child', ...args], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const wallMs = performance.now() - t;
  if (r.status !== 0) throw new Error(`review bench child ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return { result: JSON.parse(r.stdout.trim().split('\n').pop()!), wallMs };
}

/** A command in its own process; a process that died (out of memory, say) is a failed command, not the end of the benchmark. */
function command(args: string[]): { result: CommandRun; wallMs: number } {
  const t = performance.now();
  try {
    return spawnChild<CommandRun>(['command', ...args]);
  } catch (e) {
    const why = ((e as Error).message.split('\n').filter((l) => l.trim()).pop() ?? 'died').slice(0, 200);
    return { result: { code: 2, peakRssMiB: NaN, outputBytes: 0, firstLine: `the process died: ${why}` }, wallMs: performance.now() - t };
  }
}

/** One backend at one size. */
export interface ReviewCost {
  readonly backend: string;
  readonly workloads: number;
  readonly edges: number;
  /** Build + `app.synth()` (self-check on, YAML written) of the folder reviewed. */
  readonly synthMs: number;
  /** `failed` holds the command's error when it exited with 2. */
  readonly flows: { ms: number; rssMiB: number; rows: number; failed?: string };
  readonly diff: { ms: number; rssMiB: number; added: boolean; failed?: string };
  readonly verify: { ms: number; rssMiB: number; ok: boolean; failed?: string };
  /** `ZeroTrustReview.write` after `app.synth()` (FLOWS.md parses the files). */
  readonly write: { ms: number; synthMs: number };
  /** `ZeroTrustReview.write` after `FastYaml.synth()` (FLOWS.md takes the documents written). */
  readonly writeFast: { ms: number; synthMs: number };
  /** The former all-pairs algorithm on the same folder, when run. */
  readonly old?: { ms: number; newMs: number; same: boolean };
}

/**
 * Measures every backend at every size.
 * @param log progress lines go here
 */
export function reviewCosts(sizes: [number, number][], options: { backends?: string[]; oldUpTo?: number; audit?: boolean } = {}, log: (line: string) => void = () => undefined): ReviewCost[] {
  const stage = options.audit ? ['audit'] : [];
  const out: ReviewCost[] = [];
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'zt-review-'));
  try {
    for (const [w, e] of sizes) {
      for (const backend of benchMeshes().map((m) => m.id).filter((b) => !options.backends || options.backends.includes(b))) {
        const dir = path.join(root, `${backend}-${w}`);
        const before = path.join(root, `${backend}-${w}-before`);
        const fastDir = path.join(root, `${backend}-${w}-fast`);
        const synth = spawnChild<SynthRun>(['synth', backend, String(w), String(e), dir, 'write', ...stage]).result;
        const fast = spawnChild<SynthRun>(['synth', backend, String(w), String(e), fastDir, 'write', 'fast', ...stage]).result;
        spawnChild<SynthRun>(['synth', backend, String(w), String(e), before, 'moved', ...stage]);
        const flows = command(['flows', dir, '--format', 'json']);
        const diff = command(['diff', before, dir]);
        const verify = command(['verify', dir]);
        const old = options.oldUpTo !== undefined && w <= options.oldUpTo ? spawnChild<{ oldMs: number; newMs: number; same: boolean }>(['compare', dir]).result : undefined;
        const cost: ReviewCost = {
          backend: options.audit ? `${backend} AUDIT` : backend, workloads: w, edges: e, synthMs: synth.synthMs,
          flows: { ms: flows.wallMs, rssMiB: flows.result.peakRssMiB, rows: flows.result.rows ?? 0, ...failure(flows.result) },
          diff: { ms: diff.wallMs, rssMiB: diff.result.peakRssMiB, added: diff.result.code === 1, ...failure(diff.result) },
          verify: { ms: verify.wallMs, rssMiB: verify.result.peakRssMiB, ok: verify.result.code === 0, ...failure(verify.result) },
          write: { ms: synth.writeMs, synthMs: synth.synthMs },
          writeFast: { ms: fast.writeMs, synthMs: fast.synthMs },
          ...(old ? { old: { ms: old.oldMs, newMs: old.newMs, same: old.same } } : {}),
        };
        if (!cost.verify.ok) log(`review ${backend} ${w}/${e}: verify did not pass: ${verify.result.firstLine}`);
        out.push(cost);
        log(`review ${backend.padEnd(14)} ${`${w}/${e}`.padEnd(11)} synth ${ms(cost.synthMs).padStart(7)}  flows ${ms(cost.flows.ms).padStart(7)} ${Math.round(cost.flows.rssMiB)} MiB`
          + `  diff ${ms(cost.diff.ms).padStart(7)} ${Math.round(cost.diff.rssMiB)} MiB  verify ${ms(cost.verify.ms).padStart(7)} ${Math.round(cost.verify.rssMiB)} MiB`
          + `  FLOWS.md +${pct(cost.write.ms, cost.write.synthMs)} (fast +${pct(cost.writeFast.ms, cost.writeFast.synthMs)})`
          + `${old ? `  old ${ms(old.oldMs)} ${old.same ? 'same rows' : 'ROWS DIFFER'}` : ''}`);
        for (const d of [dir, before, fastDir]) fs.rmSync(d, { recursive: true, force: true });
      }
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
  return out;
}

/** `{ failed }` with the command's error, when it exited with 2. */
function failure(r: CommandRun): { failed?: string } {
  return r.code === 2 ? { failed: r.firstLine.replace(/^cdk8s-zero-trust: /, '') } : {};
}

const ms = (v: number) => (v >= 10000 ? `${(v / 1000).toFixed(1)} s` : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`);
const pct = (part: number, whole: number) => `${Math.round((part / whole) * 100)}%`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(a / b >= 10 ? 0 : 1)}×`;

/** Goals of issue 17 at 2000/10000. */
const GOAL = { workloads: 2000, edges: 10000, ratio: 3, rssMiB: 1024, write: 0.5 };

/** The RESULTS.md section. */
export function reviewSection(costs: ReviewCost[], run?: { date: string; loadStart: number; loadEnd: number; seconds: number }): string {
  const lines = ['## Review at scale', ''];
  if (run) {
    lines.push(`Run on ${run.date} (${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'CPU'}, Node ${process.version}); load average at start ${run.loadStart.toFixed(1)}, `
      + `at end ${run.loadEnd.toFixed(1)}; ${Math.round(run.seconds)} s. A load above the core count means other processes shared the CPUs: times are then longer than on an idle machine, the synth's as much as the commands'.`, '');
  }
  lines.push('`flows --format json`, `diff` (against the same topology with 1% of its edges moved) and `verify` on the folder each backend synthesized, '
    + 'each a fresh process (wall time from spawn to exit, peak RSS), and `ZeroTrustReview.write(app)` (intent file and FLOWS.md) in the synth\'s process right after it. '
    + '**synth** is the build and `app.synth()` (self-check on, YAML written) that produced the folder; each command\'s ratio is to it. '
    + 'FLOWS.md is measured after `app.synth()` (it parses the files back) and after `FastYaml.synth(app)` (it takes the documents just written), as added time over that synth. '
    + 'Goals at 2000/10000: each command at most 3× its synth and under 1 GiB; FLOWS.md at most +50%. One run each.', '');
  const sizes = [...new Map(costs.map((c) => [`${c.workloads}/${c.edges}`, [c.workloads, c.edges] as const])).values()];
  for (const [w, e] of sizes) {
    const mine = costs.filter((c) => c.workloads === w && c.edges === e);
    lines.push(`### ${w} workloads / ${e} edges`, '');
    lines.push('| backend | synth | flows | × | RSS | rows | diff | × | RSS | verify | × | RSS | FLOWS.md after `app.synth()` | after `FastYaml.synth()` |'
      + (mine.some((c) => c.old) ? ' former all-pairs `flows` |' : ''));
    lines.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|' + (mine.some((c) => c.old) ? '---|' : ''));
    for (const c of mine) {
      const r = (x: number) => ratio(x, c.synthMs);
      const time = (x: { ms: number; failed?: string }) => (x.failed ? `failed after ${ms(x.ms)}: ${x.failed}` : ms(x.ms));
      lines.push(`| ${c.backend} | ${ms(c.synthMs)} | ${time(c.flows)} | ${r(c.flows.ms)} | ${Math.round(c.flows.rssMiB)} MiB | ${c.flows.failed ? '—' : c.flows.rows.toLocaleString('en-US')} `
        + `| ${time(c.diff)} | ${r(c.diff.ms)} | ${Math.round(c.diff.rssMiB)} MiB | ${time(c.verify)}${c.verify.ok || c.verify.failed ? '' : ' (FAILED)'} | ${r(c.verify.ms)} | ${Math.round(c.verify.rssMiB)} MiB `
        + `| ${ms(c.write.ms)} (+${pct(c.write.ms, c.write.synthMs)} of ${ms(c.write.synthMs)}) | ${ms(c.writeFast.ms)} (+${pct(c.writeFast.ms, c.writeFast.synthMs)} of ${ms(c.writeFast.synthMs)}) |`
        + (c.old ? ` ${ms(c.old.ms)} (new: ${ms(c.old.newMs)}), ${c.old.same ? 'same rows' : '**rows differ**'} |` : mine.some((x) => x.old) ? ' — |' : ''));
    }
    lines.push('');
  }
  // Growth between the two largest sizes, as the synth benchmark reports it.
  if (sizes.length >= 2) {
    const [a, z] = sizes.slice(-2);
    const n = (s: readonly [number, number]) => s[0] + s[1];
    lines.push(`Growth between ${a[0]}/${a[1]} and ${z[0]}/${z[1]}: log-log exponent against n = W + E (1.0 = linear), time and peak RSS above 40 MiB.`, '');
    lines.push('| backend | flows | flows RSS | diff | diff RSS | verify | verify RSS | synth |');
    lines.push('|---|--:|--:|--:|--:|--:|--:|--:|');
    for (const backend of [...new Set(costs.map((c) => c.backend))]) {
      const ca = costs.find((c) => c.backend === backend && c.workloads === a[0] && c.edges === a[1]);
      const cz = costs.find((c) => c.backend === backend && c.workloads === z[0] && c.edges === z[1]);
      if (!ca || !cz) continue;
      const k = (f: (c: ReviewCost) => number) => (Math.log(f(cz) / f(ca)) / Math.log(n(z) / n(a))).toFixed(2);
      const rss = (f: (c: ReviewCost) => number) => k((c) => Math.max(1, f(c) - 40));
      const ok = (x: (c: ReviewCost) => { failed?: string }, text: string) => (x(ca).failed || x(cz).failed ? '—' : text);
      lines.push(`| ${backend} | ${ok((c) => c.flows, k((c) => c.flows.ms))} | ${ok((c) => c.flows, rss((c) => c.flows.rssMiB))} `
        + `| ${ok((c) => c.diff, k((c) => c.diff.ms))} | ${ok((c) => c.diff, rss((c) => c.diff.rssMiB))} `
        + `| ${ok((c) => c.verify, k((c) => c.verify.ms))} | ${ok((c) => c.verify, rss((c) => c.verify.rssMiB))} | ${k((c) => c.synthMs)} |`);
    }
    lines.push('');
  }
  const goal = costs.filter((c) => c.workloads === GOAL.workloads && c.edges === GOAL.edges);
  if (goal.length) {
    const worst = (f: (c: ReviewCost) => number) => goal.reduce((m, c) => (f(c) > f(m) ? c : m));
    const check = (label: string, f: (c: ReviewCost) => number, limit: number, fmt: (v: number) => string) => {
      const c = worst(f);
      lines.push(`| ${label} | ${fmt(f(c))} (${c.backend}) | ${f(c) <= limit ? 'met' : '**missed**'} |`);
    };
    lines.push(`Goals at ${GOAL.workloads}/${GOAL.edges} (worst backend):`, '', '| goal | measured | |', '|---|---|---|');
    // A command that failed did not meet its goal, however fast it failed.
    const took = (x: { ms: number; failed?: string }, c: ReviewCost) => (x.failed ? Infinity : x.ms / c.synthMs);
    check('`flows` ≤ 3× synth', (c) => took(c.flows, c), GOAL.ratio, (v) => `${v.toFixed(1)}×`);
    check('`diff` ≤ 3× synth', (c) => took(c.diff, c), GOAL.ratio, (v) => `${v.toFixed(1)}×`);
    check('`verify` ≤ 3× synth', (c) => took(c.verify, c), GOAL.ratio, (v) => `${v.toFixed(1)}×`);
    check('every command < 1 GiB', (c) => Math.max(c.flows.rssMiB, c.diff.rssMiB, c.verify.rssMiB), GOAL.rssMiB, (v) => `${Math.round(v)} MiB`);
    check('FLOWS.md ≤ +50% after `FastYaml.synth()`', (c) => c.writeFast.ms / c.writeFast.synthMs, GOAL.write, (v) => `+${Math.round(v * 100)}%`);
    check('FLOWS.md ≤ +50% after `app.synth()`', (c) => c.write.ms / c.write.synthMs, GOAL.write, (v) => `+${Math.round(v * 100)}%`);
    lines.push('');
  }
  return lines.join('\n');
}

async function childMain(args: string[]): Promise<void> {
  const [mode, ...rest] = args;
  let result: unknown;
  if (mode === 'synth') {
    const [backend, w, e, outdir, ...flags] = rest;
    result = synthChild(backend, Number(w), Number(e), outdir, { write: flags.includes('write'), fast: flags.includes('fast'), moved: flags.includes('moved'), audit: flags.includes('audit') });
  } else if (mode === 'command') {
    result = await commandChild(rest);
  } else if (mode === 'compare') {
    result = compareChild(rest[0]);
  } else {
    throw new Error(`unknown child mode ${mode}`);
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (require.main === module) {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    childMain(args.slice(1)).catch((e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exit(1); });
  } else {
    const sizes: [number, number][] = [];
    let backends: string[] | undefined;
    let oldUpTo: number | undefined;
    let audit = false;
    for (let i = 0; i < args.length; i++) {
      if (args[i] === '--backends') backends = args[++i].split(',');
      else if (args[i] === '--old') oldUpTo = Number(args[++i]);
      else if (args[i] === '--audit') audit = true;
      else sizes.push(args[i].split('/').map(Number) as [number, number]);
    }
    const costs = reviewCosts(sizes.length ? sizes : [[2000, 10000]], { backends, oldUpTo, audit }, (l) => process.stderr.write(`${l}\n`));
    process.stdout.write(reviewSection(costs));
  }
}
