/**
 * `npm run bench`: synthesizes the benchmark topology with every backend, with all backends in
 * one app, with cdk8s-plus-27's connections API and as hand-written plain ApiObjects, each
 * scenario in its own child process (median of `--reps`, default 3), checks the library's output
 * with lib/verify/, and writes bench/RESULTS.md.
 *
 * Flags: `--large` adds 8000/40000 (run `--large-reps` times, default 1: one run of every scenario
 * there takes minutes); `--reps N`; `--sizes 100/300,500/2000`; `--only a,b`
 * (scenario names); `--no-verify`; `--no-self-check` (skips measuring the self-check's cost,
 * bench/selfcheck.ts, below 8000 workloads); `--no-review` (skips the review at scale,
 * bench/review.ts: flows, diff, verify and FLOWS.md per backend and size); `--review-only` (runs
 * only the review and replaces its section of the existing RESULTS.md; `--self-check-only`
 * likewise for the self-check's section); `--review-old N` (also
 * runs the former all-pairs flows up to N workloads, default 100); `--out FILE`. The scenarios'
 * synth column includes the self-check, which is on by default.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { benchMeshes } from './meshes';
import type { ScenarioResult } from './scenario';
import { reviewCosts, reviewSection } from './review';
import { selfCheckCosts, selfCheckSection } from './selfcheck';

interface Options {
  sizes: [number, number][];
  reps: number;
  /** Runs per scenario at 8000 workloads and more. */
  largeReps: number;
  only?: string[];
  verify: boolean;
  synthTime: boolean;
  /** Measure the self-check's cost (bench/selfcheck.ts). */
  selfCheck: boolean;
  /** Measure the review at scale (bench/review.ts). */
  review: boolean;
  /** Only the review, its section replaced in the existing results. */
  reviewOnly: boolean;
  /** Only the self-check's cost, its section replaced in the existing results. */
  selfCheckOnly: boolean;
  /** Run the former all-pairs flows up to this many workloads. */
  reviewOld: number;
  out: string;
}

function parseArgs(argv: string[]): Options {
  const opt: Options = {
    sizes: [[100, 300], [500, 2000], [2000, 10000]],
    reps: 3,
    largeReps: 1,
    verify: true,
    synthTime: true,
    selfCheck: true,
    review: true,
    reviewOnly: false,
    selfCheckOnly: false,
    reviewOld: 100,
    out: path.join(__dirname, 'RESULTS.md'),
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--large') opt.sizes.push([8000, 40000]);
    else if (a === '--reps') opt.reps = Number(argv[++i]);
    else if (a === '--large-reps') opt.largeReps = Number(argv[++i]);
    else if (a === '--sizes') opt.sizes = argv[++i].split(',').map((s) => s.split('/').map(Number) as [number, number]);
    else if (a === '--only') opt.only = argv[++i].split(',');
    else if (a === '--no-verify') opt.verify = false;
    else if (a === '--no-synth-time') opt.synthTime = false;
    else if (a === '--no-self-check') opt.selfCheck = false;
    else if (a === '--no-review') opt.review = false;
    else if (a === '--review-only') opt.reviewOnly = true;
    else if (a === '--self-check-only') opt.selfCheckOnly = true;
    else if (a === '--review-old') opt.reviewOld = Number(argv[++i]);
    else if (a === '--out') opt.out = path.resolve(argv[++i]);
    else throw new Error(`unknown flag ${a}`);
  }
  return opt;
}

function runChild(scenario: string, w: number, e: number, verify: boolean): ScenarioResult {
  const script = path.join(__dirname, 'scenario.js');
  const r = spawnSync(process.execPath, ['--expose-gc', script, scenario, String(w), String(e), ...(verify ? ['--verify'] : [])], {
    encoding: 'utf8', maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`scenario ${scenario} ${w}/${e} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

interface SynthTimes {
  /** `npm run synth` (scripts/synth.js through npm), median of 5, ms. */
  readonly npm: number[];
  /** `node scripts/synth.js`, median of 5, ms. */
  readonly node: number[];
  /** The former way on a fresh clone: full `tsc` type-check, then `node apps/main.js`, once, ms. */
  readonly tscThenNode?: number;
}

/** Wall time of what a user runs to synthesize the story for every backend. */
function synthTimes(): SynthTimes {
  const root = path.join(__dirname, '..');
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'zt-synth-'));
  const wall = (cmd: string, args: string[]) => {
    const t = performance.now();
    const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr}`);
    return performance.now() - t;
  };
  const npm: number[] = [];
  const node: number[] = [];
  for (let i = 0; i < 5; i++) {
    npm.push(wall('npm', ['run', '--silent', 'synth', '--', out]));
    node.push(wall(process.execPath, [path.join(root, 'scripts', 'synth.js'), out]));
  }
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const tscThenNode = wall(process.execPath, [tsc, '-p', 'tsconfig.json', '--noEmit', '--incremental', 'false']) +
    wall(process.execPath, [path.join(root, 'apps', 'main.js'), out]);
  fs.rmSync(out, { recursive: true, force: true });
  return { npm, node, tscThenNode };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Median of each timing and memory figure over the repetitions; counts come from the first run. */
function combine(runs: ScenarioResult[]): ScenarioResult {
  const m = (k: keyof ScenarioResult) => median(runs.map((r) => r[k] as number));
  return {
    ...runs[0],
    buildMs: m('buildMs'), synthMs: m('synthMs'), yamlMs: m('yamlMs'), fastYamlMs: m('fastYamlMs'), jsonMs: m('jsonMs'),
    peakRssMiB: m('peakRssMiB'), peakRssSynthMiB: m('peakRssSynthMiB'),
    fastYamlIdentical: runs.every((r) => r.fastYamlIdentical),
    verify: runs.find((r) => r.verify)?.verify,
  };
}

const total = (r: ScenarioResult) => r.buildMs + r.synthMs + r.yamlMs;
const totalFast = (r: ScenarioResult) => r.buildMs + r.synthMs + r.fastYamlMs;
const s = (ms: number) => (ms >= 10000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`);
const x = (r: number) => `${r.toFixed(r >= 10 ? 0 : r >= 1 ? 1 : 2)}×`;
const kinds = (k: { [kind: string]: number }) => Object.entries(k).sort(([a], [b]) => a.localeCompare(b)).map(([kk, n]) => `${kk} ${n.toLocaleString('en-US')}`).join(', ');

/** Least squares y = a + b·x; returns b. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) { num += (xs[i] - mx) * (ys[i] - my); den += (xs[i] - mx) ** 2; }
  return den === 0 ? NaN : num / den;
}

/** Runs per scenario at a size: the large sizes take minutes a run. */
function repsFor(opt: Options, workloads: number): number {
  return workloads >= 8000 ? opt.largeReps : opt.reps;
}

/** The review section of `text` (from its heading to the next section of the same level) replaced by `section`, or appended. */
export function replaceSection(text: string, heading: string, section: string): string {
  const start = text.indexOf(`\n${heading}\n`);
  if (start < 0) return `${text.replace(/\n*$/, '\n')}\n${section}`;
  const next = text.indexOf('\n## ', start + heading.length + 2);
  return `${text.slice(0, start + 1)}${section}${next < 0 ? '' : `\n${text.slice(next + 1)}`}`;
}

function reviewOf(opt: Options): string {
  const loadStart = os.loadavg()[0];
  const started = Date.now();
  const costs = reviewCosts(opt.sizes, { oldUpTo: opt.reviewOld }, (l) => process.stderr.write(`${l}\n`));
  // The AUDIT stage where it costs most to review (Linkerd: an audited policy admits on every port), beside ENFORCE at the same sizes.
  costs.push(...reviewCosts(opt.sizes.filter(([w]) => w <= 2000), { backends: ['linkerd'], oldUpTo: opt.reviewOld, audit: true }, (l) => process.stderr.write(`${l}\n`)));
  return reviewSection(costs, { date: new Date().toISOString().slice(0, 10), loadStart, loadEnd: os.loadavg()[0], seconds: (Date.now() - started) / 1000 });
}

function main(): void {
  const opt = parseArgs(process.argv.slice(2));
  if (opt.reviewOnly || opt.selfCheckOnly) {
    let text = fs.existsSync(opt.out) ? fs.readFileSync(opt.out, 'utf8') : '# Benchmark results\n';
    if (opt.selfCheckOnly) {
      const costs = selfCheckCosts(opt.sizes.filter(([w]) => w < 8000), opt.reps, (l) => process.stderr.write(`${l}\n`));
      text = replaceSection(text, '## Cost of the self-check', selfCheckSection(costs, opt.reps));
    }
    if (opt.reviewOnly) text = replaceSection(text, '## Review at scale', reviewOf(opt));
    fs.writeFileSync(opt.out, text);
    process.stderr.write(`wrote ${path.relative(process.cwd(), opt.out)}\n`);
    return;
  }
  const meshes = benchMeshes().map((m) => m.id);
  const scenarios = [...meshes.map((id) => `zt:${id}`), ...(meshes.length > 1 ? ['zt:all'] : []), 'plain', 'cdk8s-plus']
    .filter((sc) => !opt.only || opt.only.includes(sc));
  const started = Date.now();
  const load0 = os.loadavg()[0];
  const results = new Map<string, ScenarioResult>(); // `${scenario}@${w}/${e}`
  for (const [w, e] of opt.sizes) {
    for (const sc of scenarios) {
      const runs: ScenarioResult[] = [];
      for (let i = 0; i < repsFor(opt, w); i++) runs.push(runChild(sc, w, e, opt.verify && i === 0));
      const r = combine(runs);
      results.set(`${sc}@${w}/${e}`, r);
      process.stderr.write(`${sc.padEnd(18)} ${`${w}/${e}`.padEnd(12)} build ${s(r.buildMs).padStart(7)}  synth ${s(r.synthMs).padStart(7)}  yaml ${s(r.yamlMs).padStart(7)}  fast ${s(r.fastYamlMs).padStart(7)}  ${Math.round(r.peakRssMiB)} MiB  ${r.objects} objects${r.verify ? `  verify ${r.verify.mismatches.length === 0 ? 'ok' : 'MISMATCH'} (${r.verify.queries})` : ''}\n`);
    }
  }
  const synth = opt.synthTime ? synthTimes() : undefined;
  const selfCheck = opt.selfCheck ? selfCheckSection(selfCheckCosts(opt.sizes.filter(([w]) => w < 8000), opt.reps, (l) => process.stderr.write(`${l}\n`)), opt.reps) : '';
  const review = opt.review ? reviewOf(opt) : '';
  const elapsed = (Date.now() - started) / 1000;
  const md = report(opt, scenarios, meshes, results, { elapsed, load0, load1: os.loadavg()[0] }, synth) + (selfCheck ? `\n${selfCheck}` : '') + (review ? `\n${review}` : '');
  fs.writeFileSync(opt.out, md);
  process.stderr.write(`wrote ${path.relative(process.cwd(), opt.out)} (${elapsed.toFixed(0)} s)\n`);
  const failed = [...results.values()].filter((r) => !r.fastYamlIdentical || (r.verify && r.verify.mismatches.length > 0));
  if (failed.length) {
    process.stderr.write(`FAILED: ${failed.map((r) => `${r.scenario}@${r.workloads}/${r.edges}`).join(', ')}\n`);
    process.exitCode = 1;
  }
}

function report(opt: Options, scenarios: string[], meshes: string[], results: Map<string, ScenarioResult>, run: { elapsed: number; load0: number; load1: number }, synth?: SynthTimes): string {
  const get = (sc: string, w: number, e: number) => results.get(`${sc}@${w}/${e}`);
  const lines: string[] = [];
  const cpus = os.cpus();
  lines.push('# Benchmark results', '');
  lines.push(`Generated by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: Node ${process.version}, ${cpus.length} × ${cpus[0]?.model ?? 'CPU'}, ` +
    `median of ${opt.reps} runs${opt.sizes.some(([w]) => repsFor(opt, w) !== opt.reps) ? ` (${opt.largeReps} at 8000 workloads and more)` : ''}, each scenario in its own process (peak RSS is that process's maximum resident set through build, synth and YAML). Load average at start ${run.load0.toFixed(1)}, at end ${run.load1.toFixed(1)}; total ${Math.round(run.elapsed)} s.`, '');
  lines.push('Topology: W workloads round-robin in 4 namespaces, one TCP port each, E random distinct workload-to-workload edges (seeded). ' +
    '**build** = constructing the app; **synth** = validation, rendering and resolution to JSON (what `app.synth()` does before YAML); ' +
    '**YAML** = `Yaml.stringify` per chart as cdk8s writes it; **total** = build + synth + YAML; **fast** = `FastYaml.stringify` of the same documents (byte-identical, checked every run).', '');
  lines.push('Baselines: **plain** = the objects the NetworkPolicy backend emits, written by hand as plain cdk8s `ApiObject`s (no intent layer); ' +
    '**cdk8s-plus** = cdk8s-plus-27 `Deployment` + `ServiceAccount` + `Service` per workload, a deny-all policy per namespace, `connections.allowFrom` per edge. ' +
    (meshes.length > 1 ? '**all** = every backend in one app (the topology once per backend, namespaces suffixed with the backend id). ' : ''), '');

  for (const [w, e] of opt.sizes) {
    lines.push(`## ${w} workloads / ${e} edges`, '');
    lines.push('| scenario | build | synth | YAML | total | fast YAML | JSON | total with fast YAML | peak RSS | objects | bytes | bytes/edge (policies) | vs plain | cdk8s-plus ÷ this | verified |');
    lines.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|');
    const plain = get('plain', w, e);
    const plus = get('cdk8s-plus', w, e);
    for (const sc of scenarios) {
      const r = get(sc, w, e);
      if (!r) continue;
      const v = r.verify;
      const verified = !sc.startsWith('zt:') ? '—' : !v ? 'not run' : v.queries === 0 ? v.reader : v.mismatches.length === 0 ? `yes, ${v.queries.toLocaleString('en-US')} queries (${v.declared.toLocaleString('en-US')} declared)` : `**NO**: ${v.mismatches.length} mismatches`;
      lines.push(`| ${sc.replace(/^zt:/, '')} | ${s(r.buildMs)} | ${s(r.synthMs)} | ${s(r.yamlMs)} | **${s(total(r))}** | ${s(r.fastYamlMs)} | ${s(r.jsonMs)} | ${s(totalFast(r))} | ${Math.round(r.peakRssMiB)} MiB | ${r.objects.toLocaleString('en-US')} | ${(r.bytes / 1e6).toFixed(2)} MB | ${Math.round(r.bytes / e)} (${Math.round(r.networkPolicyBytes / e)}) | ${plain ? x(total(r) / total(plain)) : '—'} | ${plus ? x(total(plus) / total(r)) : '—'} | ${verified} |`);
    }
    lines.push('');
    lines.push('Objects by kind: ' + scenarios.map((sc) => get(sc, w, e)).filter((r): r is ScenarioResult => !!r)
      .map((r) => `**${r.scenario.replace(/^zt:/, '')}**: ${kinds(r.kinds)}`).join('; ') + '.', '');
  }

  // Linear growth: time against n = W + E.
  lines.push('## Growth', '');
  lines.push('Least-squares slope of total time (and fast total) against n = W + E over the sizes, and the log-log exponent between the two largest sizes (1.0 = linear).', '');
  lines.push('| scenario | ms per 1k (W+E) | exponent, total | exponent, fast total | exponent, peak RSS above 40 MiB |');
  lines.push('|---|--:|--:|--:|--:|');
  const growth = new Map<string, number>();
  for (const sc of scenarios) {
    const rs = opt.sizes.map(([w, e]) => get(sc, w, e)!).filter(Boolean);
    if (rs.length < 2) continue;
    const ns = rs.map((r) => r.workloads + r.edges);
    const b = slope(ns, rs.map(total)) * 1000;
    const [a, z] = [rs[rs.length - 2], rs[rs.length - 1]];
    const k = (f: (r: ScenarioResult) => number) => Math.log(f(z) / f(a)) / Math.log((z.workloads + z.edges) / (a.workloads + a.edges));
    const kt = k(total);
    growth.set(sc, kt);
    lines.push(`| ${sc.replace(/^zt:/, '')} | ${b.toFixed(0)} | ${kt.toFixed(2)} | ${k(totalFast).toFixed(2)} | ${k((r) => Math.max(1, r.peakRssMiB - 40)).toFixed(2)} |`);
  }
  lines.push('');

  // Goals at 2000/10000.
  const [gw, ge] = [2000, 10000];
  const np = get('zt:networkpolicy', gw, ge);
  const plain = get('plain', gw, ge);
  const plus = get('cdk8s-plus', gw, ge);
  const all = get('zt:all', gw, ge) ?? (meshes.length === 1 ? np : undefined);
  if (np && plain && plus) {
    const nsCount = 4;
    const goal = (ok: boolean) => (ok ? 'met' : '**missed**');
    const npObjects = np.kinds.NetworkPolicy ?? 0;
    const fastRatio = np.yamlMs / np.fastYamlMs;
    lines.push(`## Goals at ${gw}/${ge}`, '');
    lines.push('| goal | measured | |');
    lines.push('|---|---|---|');
    lines.push(`| NetworkPolicy backend ≤ 1.2× plain ApiObjects | ${x(total(np) / total(plain))} | ${goal(total(np) / total(plain) <= 1.2)} |`);
    const fastVsPlus = total(plus) / totalFast(np);
    // With cdk8s's YAML, the serializer alone bounds the ratio: even free build and synth could not beat this.
    const yamlBound = total(plus) / np.yamlMs;
    lines.push(`| ≥ 3× faster than cdk8s-plus-27 | ${x(total(plus) / total(np))} with cdk8s's YAML (at most ${x(yamlBound)} even if build and synth took no time: cdk8s's YAML of this output alone takes ${s(np.yamlMs)}); ${x(fastVsPlus)} with \`FastYaml.synth\` | ${goal(total(plus) / total(np) >= 3)}${total(plus) / total(np) < 3 && fastVsPlus >= 3 ? ' (met with the opt-in fast output)' : ''} |`);
    lines.push(`| NetworkPolicy objects ≤ 2 per workload + 2 per namespace (${2 * gw + 2 * nsCount}) | ${npObjects.toLocaleString('en-US')} (cdk8s-plus: ${(plus.kinds.NetworkPolicy ?? 0).toLocaleString('en-US')}) | ${goal(npObjects <= 2 * gw + 2 * nsCount)} |`);
    lines.push(`| YAML bytes per edge ≤ 600 (NetworkPolicy documents) | ${Math.round(np.networkPolicyBytes / ge)} (all documents: ${Math.round(np.bytes / ge)}) | ${goal(np.networkPolicyBytes / ge <= 600)} |`);
    const worst = [...growth.entries()].sort(([, a], [, b]) => b - a)[0];
    if (worst) lines.push(`| every backend grows linearly | exponents ${[...growth.entries()].map(([k, v]) => `${k.replace(/^zt:/, '')} ${v.toFixed(2)}`).join(', ')} | ${goal([...growth.entries()].filter(([k]) => k.startsWith('zt:')).every(([, v]) => v <= 1.2))} (1.2 allowed for noise) |`);
    if (all) lines.push(`| all backends together < 1 GiB peak | ${Math.round(all.peakRssMiB)} MiB through YAML (${Math.round(all.peakRssSynthMiB)} MiB by the end of synth; ${all.scenario.replace(/^zt:/, '')}, ${(all.workloads * meshes.length).toLocaleString('en-US')} workloads) | ${goal(all.peakRssMiB < 1024)} |`);
    lines.push(`| fast YAML ≥ 5× faster than cdk8s's YAML, same bytes | ${x(fastRatio)} on networkpolicy${all && all !== np ? `, ${x(all.yamlMs / all.fastYamlMs)} on all` : ''}; identical in every run | ${goal(fastRatio >= 5 && [...results.values()].every((r) => r.fastYamlIdentical))} |`);
    lines.push('');
  }
  if (synth) {
    const m = median(synth.npm);
    lines.push('## What a user waits for: `npm run synth`', '');
    lines.push(`The story for every backend (${meshes.join(', ')}), wall time of 5 runs each (median in bold), on a fresh process every time:`, '');
    lines.push('| command | runs | median | goal < 1 s |');
    lines.push('|---|---|--:|---|');
    lines.push(`| \`npm run synth\` (esbuild bundle, cached, + synth) | ${synth.npm.map((v) => Math.round(v)).join(', ')} ms | **${s(m)}** | ${m < 1000 ? 'met' : '**missed**'} |`);
    lines.push(`| \`node scripts/synth.js\` (same, without npm's own start-up) | ${synth.node.map((v) => Math.round(v)).join(', ')} ms | **${s(median(synth.node))}** | |`);
    if (synth.tscThenNode !== undefined) lines.push(`| before: \`tsc\` type-check of the tree, then \`node apps/main.js\` (once) | | ${s(synth.tscThenNode)} | |`);
    lines.push('', '`npm test` and `npm run build` still run the full `tsc` type-check.', '');
  }
  return lines.join('\n');
}

if (require.main === module) main();
