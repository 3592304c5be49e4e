/**
 * The review follows the stage: FLOWS.md, `flows` and `diff` name the chart's stage and mark the
 * rows open only because of the audit; `diff` from the AUDIT output to the ENFORCE output of the
 * same app removes exactly those rows and adds none; `verify` passes on both stages.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Enforcement, Mesh, MtlsMode } from '../lib';
import { heroAndLilDeeBee } from '../apps/story';
import { main } from '../lib/cli';
import { AUDIT_MARK } from '../lib/report/audit';
import { synthTo, tempDir } from './support/stories';

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; } });
  return { code, stdout, stderr };
}

describe.each([
  ['istio', () => Mesh.istio(), { enforcement: Enforcement.AUDIT }],
  ['linkerd', () => Mesh.linkerd(), { enforcement: Enforcement.AUDIT }],
  ['kuma', () => Mesh.kuma(), { enforcement: Enforcement.AUDIT }],
] as const)('the review of the story on %s in AUDIT', (_id, mesh, stage) => {
  const root = tempDir('rollout-review');
  const enforce = synthTo(path.join(root, 'enforce'), (app) => { heroAndLilDeeBee(app, mesh()); });
  const audit = synthTo(path.join(root, 'audit'), (app) => { heroAndLilDeeBee(app, mesh(), stage); });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  test('the intent file records the stage; verify passes on both stages', async () => {
    const intent = JSON.parse(fs.readFileSync(path.join(audit, 'zero-trust.intent.json'), 'utf-8'));
    expect(intent.namespaces[0].enforcement).toBe('audit');
    for (const dir of [enforce, audit]) {
      const r = await cli('verify', dir);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^OK: /);
    }
  });

  test('FLOWS.md and flows name the stage and mark the rows the audit alone opens; ENFORCE output has neither', async () => {
    const page = fs.readFileSync(path.join(audit, 'FLOWS.md'), 'utf-8');
    expect(page).toMatch(/Rollout stage: `production` AUDIT/);
    expect(page).toContain(AUDIT_MARK);
    expect(fs.readFileSync(path.join(enforce, 'FLOWS.md'), 'utf-8')).not.toMatch(/Rollout stage|audit: would be denied/);
    const json = JSON.parse((await cli('flows', audit, '--format', 'json')).stdout);
    expect(json.stages).toEqual([{ namespace: 'production', enforcement: 'AUDIT', mtls: 'STRICT' }]);
    const marked = json.flows.filter((r: any) => r.l7.includes(AUDIT_MARK));
    expect(marked.length).toBeGreaterThan(0);
    // Every marked row ends at a workload of the audited namespace: the audit is inbound.
    for (const r of marked) expect(r.destination).toMatch(/^production\//);
    // The unmarked rows are exactly the ENFORCE output's.
    const before = JSON.parse((await cli('flows', enforce, '--format', 'json')).stdout);
    const key = (r: any) => `${r.source} ${r.destination} ${r.port} ${r.protocol} ${r.l7} ${r.mtls}`;
    expect(json.flows.filter((r: any) => !r.l7.includes(AUDIT_MARK)).map(key).sort()).toEqual(before.flows.map(key).sort());
  });

  test('diff AUDIT -> ENFORCE removes exactly the marked rows and adds none; the other way adds them', async () => {
    const json = JSON.parse((await cli('flows', audit, '--format', 'json')).stdout);
    const key = (r: any) => `${r.source} ${r.destination} ${r.port} ${r.protocol} ${r.l7} ${r.mtls}`;
    const marked = json.flows.filter((r: any) => r.l7.includes(AUDIT_MARK)).map(key).sort();
    const toEnforce = await cli('diff', audit, enforce, '--format', 'json');
    const d = JSON.parse(toEnforce.stdout);
    expect(d.added).toEqual([]);
    expect(d.removed.map(key).sort()).toEqual(marked);
    expect(toEnforce.code).toBe(0);
    expect(d.stages.old[0].enforcement).toBe('AUDIT');
    expect(d.stages.new).toEqual([]);
    const markdown = (await cli('diff', audit, enforce)).stdout;
    expect(markdown).toMatch(/Rollout stage: `production` AUDIT.* → ENFORCE, STRICT/);
    // Moving to AUDIT is a widening the gate sees.
    const toAudit = await cli('diff', enforce, audit, '--format', 'json');
    expect(toAudit.code).toBe(1);
    expect(JSON.parse(toAudit.stdout).added.map(key).sort()).toEqual(marked);
  });
});

test('PERMISSIVE shows in the stage line, and the mTLS column no longer says required for the namespace\'s workloads', async () => {
  const root = tempDir('rollout-permissive');
  try {
    const dir = synthTo(path.join(root, 'p'), (app) => { heroAndLilDeeBee(app, Mesh.istio(), { mtls: MtlsMode.PERMISSIVE }); });
    expect(fs.readFileSync(path.join(dir, 'FLOWS.md'), 'utf-8')).toMatch(/Rollout stage: `production` ENFORCE, mTLS PERMISSIVE\./);
    const json = JSON.parse((await cli('flows', dir, '--format', 'json')).stdout);
    const toHero = json.flows.filter((r: any) => r.destination === 'production/hero');
    expect(toHero.length).toBeGreaterThan(0);
    for (const r of toHero) expect(r.mtls).toBe(false);
    expect((await cli('verify', dir)).code).toBe(0);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('verify fails an AUDIT folder where a policy admits for real what the audit only records (Server all-unauthenticated instead of audit)', async () => {
  const root = tempDir('rollout-tampered');
  try {
    const dir = synthTo(path.join(root, 'a'), (app) => { heroAndLilDeeBee(app, Mesh.linkerd(), { enforcement: Enforcement.AUDIT }); });
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.k8s.yaml'))!;
    const text = fs.readFileSync(path.join(dir, file), 'utf-8');
    expect(text).toContain('accessPolicy: audit');
    fs.writeFileSync(path.join(dir, file), text.replace('accessPolicy: audit', 'accessPolicy: all-unauthenticated'));
    const r = await cli('verify', dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAILED: /);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('Linkerd in AUDIT: a declared client reaches every other port of its destination audited, one row listing the ports; FLOWS.md is deterministic', async () => {
  const root = tempDir('rollout-fold');
  try {
    const build = (app: import('cdk8s').App) => { heroAndLilDeeBee(app, Mesh.linkerd(), { enforcement: Enforcement.AUDIT }); };
    const a = synthTo(path.join(root, 'a'), build);
    const b = synthTo(path.join(root, 'b'), build);
    expect(fs.readFileSync(path.join(a, 'FLOWS.md'), 'utf-8')).toBe(fs.readFileSync(path.join(b, 'FLOWS.md'), 'utf-8'));
    const json = JSON.parse((await cli('flows', a, '--format', 'json')).stdout);
    const heroToDeebee = json.flows.filter((r: any) => r.source === 'production/hero' && r.destination === 'production/lil-deebee');
    const declared = heroToDeebee.filter((r: any) => !r.l7.includes(AUDIT_MARK));
    const audited = heroToDeebee.filter((r: any) => r.l7.includes(AUDIT_MARK));
    expect(declared.map((r: any) => r.port)).toEqual(['5432']);
    expect(audited).toHaveLength(1);
    expect(audited[0].port).toMatch(/^\d+(-\d+)?(, \d+(-\d+)?)+$/);
    expect(audited[0].port.split(', ')).not.toContain('5432');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
