/**
 * The real package is a jsii package: `npm run package` (jsii, then jsii-pacmak) on a copy of its
 * sources with its own package.json builds the assembly and the code of every language target.
 * The language builds need PyPI, Maven Central, NuGet and the Go proxy, so the targets are
 * generated with --code-only, and the Python code is byte-compiled. API.md is regenerated from
 * the assembly and must equal the committed one.
 */
import * as fs from 'fs';
import * as path from 'path';
import { copyPackage, root, run, runWithLog } from './support/package-copy';

const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
let work = '';
let out = '';
let log = '';

beforeAll(() => {
  work = copyPackage('zt-jsii-');
  out = path.join(work, 'dist-jsii');
  const { stdout, stderr } = runWithLog('npm', ['run', 'package', '--', '--code-only', '--outdir', out], work);
  log = stdout + stderr;
});

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** Every file under `dir`, relative to it. */
function files(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).filter((f) => fs.statSync(path.join(dir, f)).isFile());
}

test('jsii compiles the real package without errors or unsilenced warnings', () => {
  expect(log).toMatch(/Errors: 0 \| Warnings: 0 \(\+\d+ silenced\)/);
  expect(log).not.toMatch(/error JSII|warning JSII/);
  const assembly = JSON.parse(fs.readFileSync(path.join(work, '.jsii'), 'utf8'));
  expect(assembly.name).toBe('cdk8s-zero-trust');
  expect(Object.keys(assembly.types)).toEqual(expect.arrayContaining([
    'cdk8s-zero-trust.ZeroTrustChart', 'cdk8s-zero-trust.SecureWorkload', 'cdk8s-zero-trust.IAdoptableWorkload',
    'cdk8s-zero-trust.Mesh', 'cdk8s-zero-trust.Peer', 'cdk8s-zero-trust.Port', 'cdk8s-zero-trust.FastYaml',
  ]));
  // jsii dependencies are the peers; the others are bundled into the package.
  expect(Object.keys(assembly.dependencies).sort()).toEqual(['cdk8s', 'constructs']);
  expect(assembly.bundled).toEqual({ '@viz-js/viz': pkg.dependencies['@viz-js/viz'], 'yaml': expect.any(String) });
  expect(assembly.targets).toEqual(expect.objectContaining({
    python: { distName: 'cdk8s-zero-trust', module: 'cdk8s_zero_trust' },
    java: { package: 'org.cdk8s.zerotrust', maven: { groupId: 'org.cdk8s', artifactId: 'cdk8s-zero-trust' } },
    dotnet: { namespace: 'Org.Cdk8s.ZeroTrust', packageId: 'Org.Cdk8s.ZeroTrust' },
    go: { moduleName: 'github.com/cdk8s-zero-trust/cdk8s-zero-trust-go' },
  }));
  // Compiled without source maps, with jsii's runtime type information.
  const workload = fs.readFileSync(path.join(work, 'lib', 'intent', 'workload.js'), 'utf8');
  expect(workload).toContain('cdk8s-zero-trust.SecureWorkload');
  expect(workload).not.toContain('sourceMappingURL');
});

test('jsii-pacmak generates the npm tarball and the Python, Java, .NET and Go code', () => {
  expect(fs.readdirSync(path.join(out, 'js'))).toEqual([`${pkg.name}@${pkg.version}.jsii.tgz`]);
  const expected: { [target: string]: string[] } = {
    python: ['setup.py', 'src/cdk8s_zero_trust/__init__.py', `src/cdk8s_zero_trust/_jsii/${pkg.name}@${pkg.version}.jsii.tgz`],
    java: ['pom.xml', 'src/main/java/org/cdk8s/zerotrust/SecureWorkload.java', 'src/main/java/org/cdk8s/zerotrust/IAdoptableWorkload.java'],
    dotnet: ['Org.Cdk8s.ZeroTrust/Org.Cdk8s.ZeroTrust.csproj', 'Org.Cdk8s.ZeroTrust/Org/Cdk8s/ZeroTrust/SecureWorkload.cs'],
    go: ['cdk8szerotrust/go.mod', 'cdk8szerotrust/SecureWorkload.go', 'cdk8szerotrust/IAdoptableWorkload.go'],
  };
  for (const [target, paths] of Object.entries(expected)) {
    const generated = files(path.join(out, target));
    expect({ target, missing: paths.filter((p) => !generated.includes(p)) }).toEqual({ target, missing: [] });
    // Each language package carries the license.
    expect(generated.some((f) => path.basename(f) === 'LICENSE')).toBe(true);
  }
  expect(fs.readFileSync(path.join(out, 'go', 'cdk8szerotrust', 'go.mod'), 'utf8')).toMatch(/^module github\.com\/cdk8s-zero-trust\/cdk8s-zero-trust-go\/cdk8szerotrust$/m);
});

test('the generated Python byte-compiles', () => {
  const python = path.join(out, 'python');
  const sources = files(python).filter((f) => f.endsWith('.py'));
  expect(sources).toEqual(expect.arrayContaining(['setup.py', 'src/cdk8s_zero_trust/__init__.py']));
  run('python3', ['-m', 'py_compile', ...sources], python);
  const init = fs.readFileSync(path.join(python, 'src', 'cdk8s_zero_trust', '__init__.py'), 'utf8');
  expect(init).toMatch(/^class SecureWorkload\(/m);
  expect(init).toMatch(/^class IAdoptableWorkload\(/m);
});

test('API.md is generated from the code and current (npm run docgen)', () => {
  run(path.join(root, 'node_modules', '.bin', 'jsii-docgen'), ['--output', 'API.md'], work, { JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION: process.versions.node.split('.')[0] });
  const generated = fs.readFileSync(path.join(work, 'API.md'), 'utf8');
  const committed = fs.readFileSync(path.join(root, 'API.md'), 'utf8');
  if (generated !== committed) throw new Error('API.md is stale: run `npm run docgen` and commit API.md');
  expect(generated).toContain('### SecureWorkload');
  expect(generated).toContain('### IAdoptableWorkload');
});
