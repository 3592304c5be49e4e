/**
 * The review of a Kuma chart in PERMISSIVE: `verify` passes on both mTLS stages, the mTLS column
 * stops saying required for the namespace's destinations, and `diff` from STRICT to PERMISSIVE of
 * the same app changes exactly that column (the review takes the namespaces the policies name to
 * be in the mesh, so the connections are the same; the reader tests cover clients outside it).
 */
import * as fs from 'fs';
import * as path from 'path';
import { Mesh, MtlsMode } from '../lib';
import { heroAndLilDeeBee } from '../apps/story';
import { main } from '../lib/cli';
import { synthTo, tempDir } from './support/stories';

async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; } });
  return { code, stdout, stderr };
}

describe('the review of the story on Kuma in PERMISSIVE', () => {
  const root = tempDir('rollout-kuma-permissive');
  const strict = synthTo(path.join(root, 'strict'), (app) => { heroAndLilDeeBee(app, Mesh.kuma()); });
  const plain = synthTo(path.join(root, 'plain'), (app) => { heroAndLilDeeBee(app, Mesh.kuma(), { mtls: MtlsMode.PERMISSIVE }); });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
  const key = (r: any) => `${r.source} ${r.destination} ${r.port} ${r.protocol} ${r.l7}`;

  test('verify passes on both stages; FLOWS.md names the stage; no row into production says mTLS required', async () => {
    for (const dir of [strict, plain]) {
      const r = await cli('verify', dir);
      expect(r.stderr).toBe('');
      expect([r.code, r.stdout.slice(0, 4)]).toEqual([0, 'OK: ']);
    }
    expect(fs.readFileSync(path.join(plain, 'FLOWS.md'), 'utf-8')).toMatch(/Rollout stage: `production` ENFORCE, mTLS PERMISSIVE\./);
    const before = JSON.parse((await cli('flows', strict, '--format', 'json')).stdout);
    const after = JSON.parse((await cli('flows', plain, '--format', 'json')).stdout);
    expect(after.stages).toEqual([{ namespace: 'production', enforcement: 'ENFORCE', mtls: 'PERMISSIVE' }]);
    const intoProduction = after.flows.filter((r: any) => r.destination.startsWith('production/'));
    expect(intoProduction.length).toBeGreaterThan(0);
    for (const r of intoProduction) expect(r.mtls).toBe(false);
    // In STRICT the same destinations required mTLS.
    for (const r of before.flows.filter((x: any) => x.destination.startsWith('production/') && x.protocol === 'TCP' && x.source.startsWith('production/'))) expect(r.mtls).toBe(true);
  });

  test('diff STRICT -> PERMISSIVE changes exactly the mTLS column of the TCP rows into production: the same connections, no longer required to be mTLS', async () => {
    const before = JSON.parse((await cli('flows', strict, '--format', 'json')).stdout);
    const after = JSON.parse((await cli('flows', plain, '--format', 'json')).stdout);
    // The review takes ingress-nginx (named by the policies) to be in the mesh: the allowed connections are the same.
    expect(after.flows.map(key).sort()).toEqual(before.flows.map(key).sort());
    const d = await cli('diff', strict, plain, '--format', 'json');
    const json = JSON.parse(d.stdout);
    const changed = before.flows.filter((r: any) => r.destination.startsWith('production/') && r.protocol === 'TCP');
    expect(changed.length).toBe(2);
    expect(json.removed.map((r: any) => `${key(r)} ${r.mtls}`).sort()).toEqual(changed.map((r: any) => `${key(r)} true`).sort());
    expect(json.added.map((r: any) => `${key(r)} ${r.mtls}`).sort()).toEqual(changed.map((r: any) => `${key(r)} false`).sort());
    expect(json.stages.new).toEqual([{ namespace: 'production', enforcement: 'ENFORCE', mtls: 'PERMISSIVE' }]);
    expect(json.stages.old).toEqual([]);
  });
});
