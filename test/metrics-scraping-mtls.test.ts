/**
 * The ports a mesh's proxy serves itself outside its traffic capture (Istio sidecar 15020/15090,
 * Kuma's kuma-dp 5670) are plaintext: the flows' mTLS column says so, app ports of the same pods
 * still say required, and the "assumed in mesh" note does not promise that an outside client is
 * refused on rows without mTLS.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { App } from 'cdk8s';
import { Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { synthTo, tempDir } from './support/stories';

const ROOT = path.join(__dirname, '..');
const BIN = path.join(ROOT, 'bin', 'cdk8s-zero-trust.js');

test.each([
  ['istio', () => Mesh.istio(), ['15020', '15090']],
  ['kuma', () => Mesh.kuma(), ['5670']],
] as const)('%s: the proxy\'s own metrics ports are not mTLS, the app ports are', (_id, mesh, plaintext) => {
  const dir = tempDir('zt-scrape-mtls');
  try {
    synthTo(dir, (app: App) => {
      const chart = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: mesh() });
      new SecureWorkload(chart, 'api', { image: 'api', ports: [Port.http(8080), Port.http(9090, 'metrics')] });
      chart.allowMetricsScraping(Peer.namespace('monitoring'), { appPort: Port.http(9090, 'metrics') });
    });
    const r = spawnSync(process.execPath, [BIN, 'flows', dir, '--format', 'json'], { cwd: ROOT, encoding: 'utf-8' });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    const scrape = out.flows.filter((f: any) => f.source === 'ns:monitoring' && f.destination === 'shop/api');
    const mtlsByPort = Object.fromEntries(scrape.map((f: any) => [f.port, f.mtls]));
    for (const p of plaintext) expect(mtlsByPort[p]).toBe(false);
    expect(mtlsByPort['9090']).toBe(true);
    const note = out.notes.find((n: any) => n.kind === 'enrolled' && n.party === 'ns:monitoring');
    expect(note.text).toMatch(/refused where a row says allowed with mTLS required/);
    expect(note.text).not.toMatch(/refused where the rows say allowed\)/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
