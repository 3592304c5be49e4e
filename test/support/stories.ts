/** Story variants synthesized into temporary folders, for report and CLI tests. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'cdk8s';
import { Mesh, Peer, Port, SecureWorkload, WorkloadKind, ZeroTrustChart, ZeroTrustReview } from '../../lib';
import { heroAndLilDeeBee } from '../../apps/story';

/** A fresh temporary folder (removed by `cleanup`). */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `zt-${prefix}-`));
}

/** Synthesizes an app built by `build` into `outdir` with its review files. */
export function synthTo(outdir: string, build: (app: App) => void): string {
  const app = new App({ outdir });
  build(app);
  app.synth();
  ZeroTrustReview.write(app);
  return outdir;
}

/** The story as committed. */
export function story(mesh: Mesh): (app: App) => void {
  return (app) => { heroAndLilDeeBee(app, mesh); };
}

/**
 * The story after a change that opens one flow and closes another: `monitoring` may now reach
 * Hero on 8080, and Hero's egress to 203.0.113.0/24:443 is gone.
 */
export function changedStory(mesh: Mesh): (app: App) => void {
  return (app) => {
    const prod = new ZeroTrustChart(app, 'production', { namespace: 'production', mesh });
    const hero = new SecureWorkload(prod, 'hero', { image: 'ghcr.io/example/hero:1.0', ports: [Port.http(8080)] });
    const deebee = new SecureWorkload(prod, 'lil-deebee', { image: 'postgres:16', ports: [Port.tcp(5432, 'postgres')], kind: WorkloadKind.STATEFUL_SET });
    deebee.allowFrom(hero);
    hero.allowFrom(Peer.namespace('ingress-nginx'), { ports: [Port.http(8080)] });
    hero.allowFrom(Peer.namespace('monitoring'), { ports: [Port.http(8080)] });
  };
}

/** The story with an HTTP rule: ingress-nginx may only `GET /api/*` on Hero. */
export function httpStory(mesh: Mesh): (app: App) => void {
  return (app) => {
    const prod = new ZeroTrustChart(app, 'production', { namespace: 'production', mesh });
    const hero = new SecureWorkload(prod, 'hero', { image: 'ghcr.io/example/hero:1.0', ports: [Port.http(8080)] });
    const deebee = new SecureWorkload(prod, 'lil-deebee', { image: 'postgres:16', ports: [Port.tcp(5432, 'postgres')], kind: WorkloadKind.STATEFUL_SET });
    deebee.allowFrom(hero);
    hero.allowFrom(Peer.namespace('ingress-nginx'), { ports: [Port.http(8080)], http: [{ methods: ['GET'], paths: ['/api/*'] }] });
  };
}
