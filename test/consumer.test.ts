/**
 * A user's view: pack the library, install the tarball into a fresh cdk8s app, compile a
 * TypeScript app against the shipped declarations, and synth.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '..');

/** Runs a command and fails with its output, not just its exit code. */
function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: 'pipe' });
  } catch (e: any) {
    throw new Error(`${cmd} ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}
const pkg = require('../package.json');

test('the packed library installs into a fresh cdk8s app and synthesizes', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zt-consumer-'));
  const packed = run('npm', ['pack', '--silent', '--pack-destination', work], root).trim().split('\n').pop()!;
  const tarball = path.join(work, packed);
  expect(fs.existsSync(tarball)).toBe(true);

  const app = path.join(work, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  const peers = ['cdk8s', 'cdk8s-plus-27', 'constructs'].map((p) => `${p}@${pkg.devDependencies[p]}`);
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball, ...peers], app);

  fs.writeFileSync(path.join(app, 'main.ts'), `
import { App } from 'cdk8s';
import { Mesh, Peer, Port, SecureWorkload, WorkloadKind, ZeroTrustChart } from 'cdk8s-zero-trust';

const app = new App({ outdir: 'dist' });
const prod = new ZeroTrustChart(app, 'production', { namespace: 'production', mesh: Mesh.networkPolicy() });
const hero = new SecureWorkload(prod, 'hero', { image: 'ghcr.io/example/hero:1.0', ports: [Port.http(8080)] });
const deebee = new SecureWorkload(prod, 'lil-deebee', { image: 'postgres:16', ports: [Port.tcp(5432, 'postgres')], kind: WorkloadKind.STATEFUL_SET });
deebee.allowFrom(hero);
hero.allowFrom(Peer.namespace('ingress-nginx'), { ports: [Port.http(8080)] });
app.synth();
`);
  const tsc = path.join(root, 'node_modules', '.bin', 'tsc');
  // Compiled against the shipped declarations (skipLibCheck off) so a broken .d.ts fails here.
  run(tsc, ['--strict', '--esModuleInterop', '--skipLibCheck', 'false', '--target', 'es2020', '--module', 'commonjs', 'main.ts'], app);
  run('node', ['main.js'], app);

  const out = fs.readFileSync(path.join(app, 'dist', 'production.k8s.yaml'), 'utf8');
  expect(out).toContain('name: lil-deebee-ingress');
  expect(out).toContain('kind: NetworkPolicy');
  fs.rmSync(work, { recursive: true, force: true });
});
