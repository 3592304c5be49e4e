/**
 * The public API must stay publishable with jsii (Python, Go, Java). The jsii compiler runs on a
 * copy of lib/ and imports/ so it cannot touch the working tree's build output.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '..');

test('jsii compiles the public API without errors', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'zt-jsii-'));
  const copy = (rel: string) => fs.cpSync(path.join(root, rel), path.join(work, rel), {
    recursive: true,
    filter: (src) => !/\.(js|d\.ts)$/.test(src),
  });
  copy('lib');
  copy('imports');
  copy('README.md');
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(work, 'node_modules'), 'dir');
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  fs.writeFileSync(path.join(work, 'package.json'), JSON.stringify({
    name: pkg.name,
    version: pkg.version,
    description: pkg.description,
    license: pkg.license,
    main: 'lib/index.js',
    types: 'lib/index.d.ts',
    author: { name: 'cdk8s-zero-trust developers', organization: false },
    repository: { type: 'git', url: 'https://example.invalid/cdk8s-zero-trust.git' },
    peerDependencies: pkg.peerDependencies,
    devDependencies: {},
    jsii: { outdir: 'dist-jsii', targets: {}, tsc: { outDir: '.', rootDir: '.' } },
  }, null, 2));
  let output = '';
  try {
    output = execFileSync(path.join(root, 'node_modules', '.bin', 'jsii'), ['--silence-warnings=reserved-word'], { cwd: work, encoding: 'utf8', stdio: 'pipe' });
  } catch (e: any) {
    throw new Error(`jsii rejected the public API:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
  const assembly = JSON.parse(fs.readFileSync(path.join(work, '.jsii'), 'utf8'));
  expect(Object.keys(assembly.types)).toEqual(expect.arrayContaining(['cdk8s-zero-trust.ZeroTrustChart', 'cdk8s-zero-trust.SecureWorkload', 'cdk8s-zero-trust.Mesh', 'cdk8s-zero-trust.Peer', 'cdk8s-zero-trust.Port']));
  expect(output).not.toMatch(/error JSII/);
  fs.rmSync(work, { recursive: true, force: true });
});
