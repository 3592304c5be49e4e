/**
 * The compiled `cdk8s-zero-trust` command, spawned with node: every command on the story's output
 * for every backend, help and usage errors, malformed input, and diff as a CI gate.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Mesh } from '../lib';
import { STORY_MESHES } from '../apps/main';
import { changedStory, story, synthTo, tempDir } from './support/stories';

const ROOT = path.join(__dirname, '..');
const BIN = path.join(ROOT, 'bin', 'cdk8s-zero-trust.js');
const DIST = (id: string) => path.join('dist', id);
const BACKENDS = STORY_MESHES.map((m) => m.id);

function cli(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf-8' });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** No stack trace: no `    at fn (file:line)` lines. */
function expectNoStack(text: string) {
  expect(text).not.toMatch(/^\s+at .+[:(]/m);
}

const temps: string[] = [];
function temp(prefix: string): string {
  const d = tempDir(prefix);
  temps.push(d);
  return d;
}

beforeAll(() => {
  if (!fs.existsSync(BIN)) throw new Error(`${BIN} is missing: run "npx tsc -p ." first (npm test does)`);
});
afterAll(() => {
  for (const d of temps) fs.rmSync(d, { recursive: true, force: true });
});

describe('help and usage', () => {
  test('--help lists the commands and exit codes; exit 0', () => {
    const r = cli('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: cdk8s-zero-trust <command> \[options\]/);
    for (const c of ['flows <dir>', 'explain <dir>', 'diff <old-dir> <new-dir>', 'verify <dir>', '-h, --help', '-V, --version', 'Exit codes:']) {
      expect(r.stdout).toContain(c);
    }
  });

  test.each(['flows', 'explain', 'diff', 'verify'])('%s --help: its usage and options; exit 0', (command) => {
    const r = cli(command, '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Usage: cdk8s-zero-trust ${command} `));
    expect(r.stdout).toContain('--backend');
  });

  test('--version prints the package version', () => {
    const r = cli('--version');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(require('../package.json').version);
  });

  test('no command: help on stdout, exit 2; unknown command or option: message and exit 2', () => {
    expect(cli().code).toBe(2);
    const unknown = cli('flow', 'dist');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('cdk8s-zero-trust: unknown command "flow"');
    const option = cli('flows', DIST('networkpolicy'), '--colour');
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("Unknown option '--colour'");
    const format = cli('flows', DIST('networkpolicy'), '--format', 'pdf');
    expect(format.code).toBe(2);
    expect(format.stderr).toContain('unknown format "pdf"');
    const missing = cli('diff', DIST('networkpolicy'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('diff: missing <new-dir>');
    expectNoStack(unknown.stderr + option.stderr + format.stderr + missing.stderr);
  });

  test('an unknown backend is a usage error naming the known ones', () => {
    const r = cli('flows', DIST('networkpolicy'), '--backend', 'consul');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown backend "consul".*networkpolicy/);
  });
});

describe.each(BACKENDS)('on the story for %s', (id) => {
  test('flows: the table names the declared flows; json, mermaid and dot agree', () => {
    const table = cli('flows', DIST(id));
    expect(table.stderr).toBe('');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^\| Source +\| Destination +\| Port +\| Protocol +\| L7 rule +\| mTLS +\|$/m);
    // NSM connects the two workloads at L3: every port (docs/backends/nsm.md).
    const dbPort = id === 'nsm' ? 'any' : '5432';
    // On NSM hero is marked: it gets no stable name or address for lil-deebee (docs/backends/nsm.md).
    const hero = id === 'nsm' ? '`production/hero` \\(no NSM endpoint name\\)' : '`production/hero`';
    expect(table.stdout).toMatch(new RegExp(`\\| ${hero} +\\| \`production/lil-deebee\` +\\| ${dbPort} +\\| TCP +\\|`));
    // On the meshes the peer namespace is taken to run in the mesh, and says so.
    const enrolled = ['istio', 'istio-ambient', 'linkerd', 'kuma'].includes(id) ? ' \\(assumed in mesh\\)' : '';
    expect(table.stdout).toMatch(new RegExp(`\\| \`ns:ingress-nginx\`${enrolled} +\\| ${hero} +\\| 8080 +\\| TCP +\\|`));
    expect(table.stdout).toMatch(new RegExp(`\\| ${hero} +\\| \`kube-system/kube-dns\` \\(assumed\\) +\\| 53 +\\| UDP +\\|`));
    expect(table.stdout).toMatch(/^### Assumptions and warnings\n\n- `kube-system\/kube-dns` \(assumed\): cluster DNS, which these manifests do not define/m);
    expect(table.stdout).toMatch(new RegExp(`\\| ${hero} +\\| \`cidr:203\\.0\\.113\\.0/24\` +\\| 443 +\\| TCP +\\|`));
    if (id === 'nsm') expect(table.stdout).toMatch(/^- `production\/hero` \(no NSM endpoint name\): reaches `lil-deebee\.production` on `nsm-1` over NSM/m);

    const json = JSON.parse(cli('flows', DIST(id), '--format', 'json').stdout);
    expect(json.backend).toBe(id);
    expect(json.flows).toContainEqual(expect.objectContaining({ source: 'production/hero', destination: 'production/lil-deebee', port: dbPort, protocol: 'TCP' }));

    const mermaid = cli('flows', DIST(id), '--format', 'mermaid').stdout;
    expect(mermaid).toMatch(/^flowchart LR\n/);
    expect(mermaid).toMatch(/n_production_hero -->\|"(5432|any port)\/TCP[^"]*"\| n_production_lil_deebee/);

    const dot = cli('flows', DIST(id), '-f', 'dot').stdout;
    expect(dot).toMatch(/^digraph flows \{/);
    expect(dot).toContain('n_production_hero -> n_production_lil_deebee');
  });

  test('explain: Hero may reach Lil DeeBee (exit 0) and the objects are named with file and document; ingress-nginx may not (exit 1)', () => {
    const ok = cli('explain', DIST(id), '--from', 'production/hero', '--to', 'production/lil-deebee:5432');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`^ALLOWED: production/hero -> production/lil-deebee 5432/TCP \\(${id}\\)`));
    expect(ok.stdout).toMatch(/Objects:\n(  - .+ \(dist\/.+production\.k8s\.yaml document #\d+\)\n)+/);
    const denied = cli('explain', DIST(id), '--from', 'ns:ingress-nginx', '--to', 'production/lil-deebee:5432');
    expect(denied.code).toBe(1);
    expect(denied.stdout).toMatch(/^DENIED: ingress-nginx\/\* -> production\/lil-deebee 5432\/TCP/);
  });

  test('verify: the committed manifests agree with the intent file beside them', () => {
    const r = cli('verify', DIST(id));
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(new RegExp(`^OK: dist/${id} \\(${id}\\) allows exactly what dist/${id}/zero-trust.intent.json declares`));
    expect(r.code).toBe(0);
  });

  test('diff of a folder with itself: nothing changed, exit 0', () => {
    const r = cli('diff', DIST(id), DIST(id));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('0 flows added, 0 removed.');
    expect(r.stdout).toContain('No allowed flow changed.');
  });
});

test('flows --format svg: a Graphviz picture, without browser or network', () => {
  const out = path.join(temp('svg'), 'flows.svg');
  const r = cli('flows', DIST('networkpolicy'), '--format', 'svg', '--output', out);
  expect(r.code).toBe(0);
  const svg = fs.readFileSync(out, 'utf-8');
  expect(svg).toMatch(/<svg [^>]*viewBox=/);
  expect(svg).toContain('production/lil&#45;deebee');
  expect(svg).toContain('5432/TCP');
});

describe('diff on a change that opens one flow and closes another', () => {
  test('markdown for a PR comment, exit 1 because a flow was added; json lists the same', () => {
    const mesh = Mesh.networkPolicy();
    const before = synthTo(temp('before'), story(mesh));
    const after = synthTo(temp('after'), changedStory(mesh));
    const r = cli('diff', before, after);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('## Allowed flow changes');
    expect(r.stdout).toContain('1 flow added, 1 removed.');
    expect(r.stdout).toMatch(/### Added \(1\)\n\n\| Source .*\n\| -+.*\n\| `ns:monitoring` +\| `production\/hero` +\| 8080 +\| TCP +\|/);
    expect(r.stdout).toMatch(/### Removed \(1\)\n\n\| Source .*\n\| -+.*\n\| `production\/hero` +\| `cidr:203\.0\.113\.0\/24` +\| 443 +\| TCP +\|/);

    const json = JSON.parse(cli('diff', before, after, '--format', 'json').stdout);
    expect(json.added.map((f: any) => `${f.source} -> ${f.destination} ${f.port}/${f.protocol}`)).toEqual(['ns:monitoring -> production/hero 8080/TCP']);
    expect(json.removed.map((f: any) => `${f.source} -> ${f.destination} ${f.port}/${f.protocol}`)).toEqual(['production/hero -> cidr:203.0.113.0/24 443/TCP']);

    // Reversed, the change re-opens Hero's egress: still a flow added.
    const back = cli('diff', after, before);
    expect(back.code).toBe(1);
    expect(back.stdout).toContain('1 flow added, 1 removed.');
  });

  test('a change that only closes flows passes the gate (exit 0)', () => {
    const mesh = Mesh.networkPolicy();
    const before = synthTo(temp('before'), changedStory(mesh));
    const after = synthTo(temp('after'), changedStory(mesh));
    // Close the monitoring flow by hand-editing the YAML: its peer leaves Hero's ingress rule.
    const file = path.join(after, 'production.k8s.yaml');
    const text = fs.readFileSync(file, 'utf-8');
    const edited = text.replace(/\n {8}- namespaceSelector:\n {12}matchLabels:\n {14}kubernetes\.io\/metadata\.name: monitoring/, '');
    expect(edited).not.toBe(text);
    fs.writeFileSync(file, edited);
    const r = cli('diff', before, after);
    expect(r.stdout).toContain('0 flows added, 1 removed.');
    expect(r.code).toBe(0);
  });
});

describe('verify catches manifests that no longer match the intent', () => {
  test('a widened NetworkPolicy port list: exit 1 with the difference', () => {
    const dir = synthTo(temp('widened'), story(Mesh.networkPolicy()));
    const file = path.join(dir, 'production.k8s.yaml');
    const text = fs.readFileSync(file, 'utf-8');
    // Drop the port list of Hero's ingress rule: ingress-nginx may now reach every port of Hero.
    const edited = text.replace(/(name: hero-ingress[\s\S]*?)\n {6}ports:\n {8}- port: 8080/, '$1');
    expect(edited).not.toBe(text);
    fs.writeFileSync(file, edited);
    const r = cli('verify', dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAILED: .* differs from .*zero-trust\.intent\.json/);
    expect(r.stdout).toMatch(/ingress-nginx\/\* -> production\/hero 1\/TCP: networkpolicy ALLOWS, intent DENIES\n  networkpolicy: .*NetworkPolicy production\/hero-ingress allows ingress/);
  });

  test('a missing or malformed intent file: exit 2 with a message', () => {
    const dir = temp('nointent');
    fs.copyFileSync(path.join(ROOT, DIST('networkpolicy'), 'production.k8s.yaml'), path.join(dir, 'production.k8s.yaml'));
    const missing = cli('verify', dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no intent file');
    fs.writeFileSync(path.join(dir, 'zero-trust.intent.json'), '{"version": 1, "namespaces": [{"name": "production"}], "workloads": [], "flows": []}');
    const bad = cli('verify', dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('zero-trust.intent.json: namespaces[0].backend: expected a non-empty string');
    expectNoStack(missing.stderr + bad.stderr);
  });
});

describe('malformed input', () => {
  test.each([
    ['broken YAML', 'kind: Namespace\napiVersion: v1\nmetadata: {name: a}\n---\n# nothing\n---\nmetadata: [unclosed\n', /bad\.yaml document #2: malformed YAML/],
    ['an object without kind', 'apiVersion: v1\nmetadata: {name: a}\n', /bad\.yaml document #0: object has no kind/],
    ['a scalar document', 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\njust a string\n', /bad\.yaml document #1: expected a mapping/],
    ['a NetworkPolicy with a bad CIDR', 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: a}\nspec:\n  podSelector: {}\n  egress:\n  - to:\n    - ipBlock: {cidr: 10.0.0.0/99}\n', /bad\.yaml#0 \(NetworkPolicy a\/p\) spec\.egress\[0\]\.to\[0\]/],
  ])('%s: exit 2, the file and document named, no stack trace', (_what, yaml, message) => {
    const dir = temp('bad');
    fs.writeFileSync(path.join(dir, 'bad.yaml'), yaml);
    for (const args of [['flows', dir, '--backend', 'networkpolicy'], ['explain', dir, '--backend', 'networkpolicy', '--from', 'a/x', '--to', 'a/y:1'], ['diff', dir, dir, '--backend', 'networkpolicy']]) {
      const r = cli(...args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(message);
      expect(r.stderr).toMatch(/^cdk8s-zero-trust: /);
      expectNoStack(r.stderr);
    }
  });

  test('a folder that does not exist or holds no YAML: exit 2', () => {
    const none = cli('flows', 'no/such/dir');
    expect(none.code).toBe(2);
    expect(none.stderr).toBe('cdk8s-zero-trust: no/such/dir: no such file or directory\n');
    const empty = cli('flows', temp('empty'));
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('no Kubernetes objects found');
  });

  test('objects of no known backend: exit 2 asking for --backend', () => {
    const dir = temp('plain');
    fs.writeFileSync(path.join(dir, 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: a}\n');
    const r = cli('flows', dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--backend');
    expectNoStack(r.stderr);
  });
});
