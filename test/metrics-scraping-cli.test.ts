/**
 * Issue 18: the scrape flows of `allowMetricsScraping` are intent like any other: written to
 * zero-trust.intent.json, listed by `flows` and checked by `verify` on the synthesized folder.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { App } from 'cdk8s';
import { Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { synthTo, tempDir } from './support/stories';

const ROOT = path.join(__dirname, '..');
const BIN = path.join(ROOT, 'bin', 'cdk8s-zero-trust.js');
const cli = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf-8' });

test.each([['linkerd', () => Mesh.linkerd(), 4191, true], ['kuma', () => Mesh.kuma(), 5670, false]] as const)('%s: the intent records the scrape, verify agrees, flows lists it where the scraper is named by labels', (_id, mesh, proxyPort, identity) => {
  const dir = tempDir('zt-scrape');
  try {
    synthTo(dir, (app: App) => {
      const chart = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: mesh() });
      new SecureWorkload(chart, 'api', { image: 'api', ports: [Port.http(8080), Port.http(9090, 'metrics')] });
      chart.allowMetricsScraping(Peer.workload({ namespace: 'monitoring', labels: { app: 'prometheus' }, ...(identity ? { serviceAccount: 'prometheus' } : {}) }), { appPort: Port.http(9090, 'metrics') });
    });
    const intent = JSON.parse(fs.readFileSync(path.join(dir, 'zero-trust.intent.json'), 'utf8'));
    expect(intent.flows.map((f: any) => [f.ports.map((p: any) => p.number), f.proxy ?? false])).toEqual([[[proxyPort], true], [[9090], false]].sort((a: any, b: any) => a[0][0] - b[0][0]));
    const verify = cli('verify', dir);
    expect({ code: verify.status, stderr: verify.stderr }).toEqual({ code: 0, stderr: '' });
    const flows = cli('flows', dir, '--format', 'json');
    expect(flows.status).toBe(0);
    // The scraper is a party of the review universe on both (named by labels, and on Linkerd by
    // its ServiceAccount too), so its rows are listed.
    const rows = JSON.stringify(JSON.parse(flows.stdout));
    expect(rows).toContain(String(proxyPort));
    expect(rows).toContain('9090');
    expect(rows).toContain('monitoring');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
