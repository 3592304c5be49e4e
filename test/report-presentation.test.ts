/**
 * How the report shows what it found: every Markdown cell escaped (hostile names cannot leave the
 * table or reach the pull-request comment), Mermaid and DOT labels escaped, address ranges with
 * their `except`s, a port opened to `any` shown as a widening and not as a closing, FLOWS.md titled
 * with the mesh, hostNetwork pods and assumed parties marked, and ZeroTrustReview.write on folders
 * that hold more than the app's own files.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { App, YamlOutputType } from 'cdk8s';
import * as fc from 'fast-check';
import { Mesh, Port, SecureWorkload, ZeroTrustChart, ZeroTrustReview } from '../lib';
import { heroAndLilDeeBee } from '../apps/story';
import {
  FlowMatrix, FlowRow, code, diffMatrices, dotText, escapeMarkdown, flowMatrix, formatDiffMarkdown, formatDot, formatFlowsMarkdown, formatMermaid, formatTable, mermaidText,
} from '../lib/report';
import { loadManifests } from '../lib/verify';
import { story, synthTo, tempDir } from './support/stories';

const ROOT = path.join(__dirname, '..');
const BIN = path.join(ROOT, 'bin', 'cdk8s-zero-trust.js');

function cli(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf-8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

const temps: string[] = [];
function temp(prefix: string): string {
  const d = tempDir(prefix);
  temps.push(d);
  return d;
}
afterAll(() => temps.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function folder(files: { [file: string]: string }, prefix = 'present'): string {
  const dir = temp(prefix);
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, f), text);
  return dir;
}

const row = (source: string, destination: string, port = '80', extra: Partial<FlowRow> = {}): FlowRow => ({ source, destination, port, protocol: 'TCP', l7: '', mtls: false, reasons: [], ...extra });

/** The cells of a Markdown table line, split at pipes that are not escaped. */
function cells(line: string): string[] {
  return line.split(/(?<!\\)\|/).slice(1, -1);
}

const HOSTILE = [
  'a|b', 'a`b', '``', 'a\nb', 'a\r\nb', '<img src=x onerror=alert(1)>', '@admin', '#1', '[x](http://e.example)', '**bold**', '_i_',
  'a\\', '\\|', '&lt;', '\u202eevil', 'é', '\u0000', '| --- |', '\n## Approved\n', ' lead', 'trail ', '',
];

describe('escaping', () => {
  test.each(HOSTILE)('code(%j) stays in one cell, one line, and shows no markup', (name) => {
    const c = code(name);
    expect(c).not.toMatch(/[\n\r]/);
    expect(cells(`| ${c} |`)).toHaveLength(1);
    if (c.startsWith('<code>')) expect(c.slice(6, -7)).toMatch(/^[A-Za-z0-9 .,:;/=+(){}&#-]*$/);
    else expect(c).toMatch(/^`[^`|\\\n]*`$/);
  });

  test('any name: a table of rows keeps its columns, lines and nothing but its own markup', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.string(), fc.string({ unit: 'binary' })), { minLength: 1, maxLength: 5 }), (names) => {
      const matrix: FlowMatrix = { backend: 'networkpolicy', rows: names.map(([a, b]) => row(a, b, '80', { l7: a })) };
      const table = formatTable(matrix).split('\n');
      expect(table).toHaveLength(names.length + 2);
      for (const line of table) expect(cells(line)).toHaveLength(6);
      const diff = formatDiffMarkdown(diffMatrices({ backend: 'networkpolicy', rows: [] }, matrix), names[0][0], names[0][1]);
      expect(diff).not.toMatch(/<(?!\/?code>)/);
      expect(diff.split('\n').filter((l) => l.startsWith('|')).every((l) => cells(l).length === 6)).toBe(true);
      expect(diff).not.toMatch(/^#(?!# Allowed flow changes|## Added)/m);
    }), { numRuns: 300, seed: 161616 });
  });

  test('Mermaid labels cannot end their quotes, the diagram or the Markdown fence; DOT strings cannot end theirs', () => {
    for (const name of HOSTILE) {
      expect(mermaidText(name)).not.toMatch(/["`\n\r<>|]/);
      expect(dotText(name)).toMatch(/^"([^"\\\n\r]|\\.)*"$/);
    }
    const matrix: FlowMatrix = { backend: 'networkpolicy', rows: [row('ns/a"]\n```\n# x', 'ns/b`<b>')] };
    const mermaid = formatMermaid(matrix);
    expect(mermaid.split('\n').every((l) => l === '' || /^ *(flowchart|subgraph|end|n_|none)/.test(l))).toBe(true);
    expect(mermaid).not.toContain('```');
    const page = formatFlowsMarkdown(matrix);
    expect(page.match(/^```/gm)).toHaveLength(2);
    expect(formatDot(matrix).split('\n').every((l) => !/^#/.test(l))).toBe(true);
  });

  test('escapeMarkdown keeps letters, digits and plain punctuation, and turns the rest into references', () => {
    expect(escapeMarkdown('prod/web-1.x')).toBe('prod/web-1.x');
    expect(escapeMarkdown('a|b`c<d>@e\n')).toBe('a&#124;b&#96;c&#60;d&#62;&#64;e&#10;');
  });

  test('through the CLI: a workload named to break out of the table stays in its cell of flows and diff', () => {
    const evil = 'web`|</code><img src=x>\n## Approved by @admin';
    const deny = 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: prod}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n';
    const pod = (name: string) => `apiVersion: v1\nkind: Pod\nmetadata: {name: ${JSON.stringify(name)}, namespace: prod, labels: {app: x}}\nspec: {containers: [{name: c, image: x, ports: [{containerPort: 80}]}]}\n`;
    const before = folder({ 'a.yaml': `${deny}---\n${pod('web')}` });
    const after = folder({ 'a.yaml': `${pod(evil)}` });
    const d = cli('diff', before, after, '-b', 'networkpolicy');
    expect(d.code).toBe(1);
    expect(d.stdout).not.toMatch(/^## Approved/m);
    expect(d.stdout).not.toContain('<img');
    expect(d.stdout).not.toContain('@admin');
    for (const line of d.stdout.split('\n').filter((l) => l.startsWith('|'))) expect(cells(line)).toHaveLength(6);
    const f = cli('flows', after, '-b', 'networkpolicy');
    expect(f.code).toBe(0);
    for (const line of f.stdout.split('\n').filter((l) => l.startsWith('|'))) expect(cells(line)).toHaveLength(6);
  });
});

describe('address ranges keep their except parts', () => {
  const dir = () => folder({
    'a.yaml': [
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: prod}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: c, image: x}]}\n',
      'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: egress, namespace: prod}\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n  egress:\n  - to:\n    - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}\n    ports: [{port: 443}]\n',
    ].join('---\n'),
  });

  test('in the table, JSON and diagrams: the range is named with its except, the excepted range is not allowed', () => {
    const d = dir();
    const table = cli('flows', d);
    expect(table.stdout).toMatch(/\| `prod\/web` +\| `cidr:10\.0\.0\.0\/8 except 10\.1\.0\.0\/16` +\| 443 +\| TCP +\|/);
    expect(table.stdout).not.toMatch(/\| `prod\/web` +\| `cidr:10\.1\.0\.0\/16`/);
    expect(cli('flows', d, '-f', 'dot').stdout).toContain('"cidr:10.0.0.0/8 except 10.1.0.0/16"');
  });

  test('in the SVG', async () => {
    expect(cli('flows', dir(), '-f', 'svg').stdout).toContain('cidr:10.0.0.0/8 except 10.1.0.0/16');
  });
});

describe('a port opened to any port', () => {
  const matrix = (rows: FlowRow[]): FlowMatrix => ({ backend: 'networkpolicy', rows });

  test('is shown as the added any row, replacing the specific rows, which are not listed as removed', () => {
    const d = diffMatrices(matrix([row('a', 'b', '5432'), row('a', 'b', '8080'), row('a', 'c', '80')]), matrix([row('a', 'b', 'any')]));
    expect(d.added.map((r) => r.port)).toEqual(['any']);
    expect(d.removed.map((r) => `${r.destination}:${r.port}`)).toEqual(['c:80']);
    expect(d.widened).toEqual([{ row: d.added[0], ports: ['5432', '8080'] }]);
    const md = formatDiffMarkdown(d, 'old', 'new');
    expect(md).toMatch(/\| `a` +\| `b` +\| any \(was 5432, 8080\) +\| TCP +\|/);
    expect(md).toContain('1 flow added, 1 removed, 1 opened to any port');
  });

  test('narrowed back from any port: the any row is removed ("now only"), the port kept is not added, unless it is wider', () => {
    const d = diffMatrices(matrix([row('a', 'b', 'any', { mtls: true })]), matrix([row('a', 'b', '5432', { mtls: true }), row('a', 'b', '8080', { mtls: false })]));
    expect(d.removed.map((r) => r.port)).toEqual(['any']);
    expect(d.added.map((r) => r.port)).toEqual(['8080']); // mTLS no longer required: a widening, still added
    expect(formatDiffMarkdown(d, 'old', 'new')).toMatch(/\| `a` +\| `b` +\| any \(now only 5432\) +\|/);
  });

  test('end to end: a NetworkPolicy port dropped (every port open) is an added any row and exit 1, with nothing removed', () => {
    const base = temp('any-base');
    synthTo(base, story(Mesh.networkPolicy()));
    const wide = temp('any-new');
    synthTo(wide, story(Mesh.networkPolicy()));
    const file = path.join(wide, 'production.k8s.yaml');
    const text = fs.readFileSync(file, 'utf8');
    // hero's egress to lil-deebee and lil-deebee's ingress from hero: drop their ports, so every port is open.
    const widened = text.replace(/- ports:\n\s+- port: 5432\n\s+to:/, '- to:').replace(/\n {6}ports:\n {8}- port: 5432(?=\n {2}podSelector:)/, '');
    expect(widened.match(/- port: 5432/g)).toBeNull();
    fs.writeFileSync(file, widened);
    const d = cli('diff', base, wide);
    expect(d.code).toBe(1);
    expect(d.stdout).toMatch(/\| `production\/hero` +\| `production\/lil-deebee` +\| any \(was 5432\) +\| TCP +\|/);
    expect(d.stdout).not.toMatch(/### Removed/);
  });
});

describe('FLOWS.md, hostNetwork and assumed parties', () => {
  test('FLOWS.md is titled with the mesh, not the folder', () => {
    const dir = temp('some-folder-name');
    synthTo(dir, story(Mesh.linkerd()));
    expect(fs.readFileSync(path.join(dir, 'FLOWS.md'), 'utf8')).toMatch(/^# Allowed flows: linkerd\n/);
    expect(cli('flows', dir, '-f', 'markdown').stdout).toMatch(/^# Allowed flows: linkerd\n/);
  });

  test('a hostNetwork workload is marked, explained under the table and warned about', () => {
    const dir = folder({
      'a.yaml': [
        'apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent, namespace: prod}\nspec:\n  selector: {matchLabels: {app: agent}}\n  template:\n    metadata: {labels: {app: agent}}\n    spec: {hostNetwork: true, containers: [{name: c, image: x, ports: [{containerPort: 9100}]}]}\n',
        'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: prod}\nspec: {podSelector: {}, policyTypes: [Ingress], ingress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}}]}]}\n',
      ].join('---\n'),
    });
    const r = cli('flows', dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\| `ns:monitoring` +\| `prod\/agent` \(hostNetwork\) +\|/);
    expect(r.stdout).toMatch(/^- `prod\/agent` \(hostNetwork\): runs with `hostNetwork: true`/m);
    expect(r.stderr).toMatch(/warning: prod\/agent runs with `hostNetwork: true`/);
    expect(JSON.parse(cli('flows', dir, '-f', 'json').stdout).notes).toContainEqual(expect.objectContaining({ kind: 'host-network', party: 'prod/agent' }));
  });

  test('the made-up cluster DNS is marked assumed; a cluster DNS the manifests define is not', () => {
    const dir = temp('dns');
    synthTo(dir, story(Mesh.networkPolicy()));
    expect(cli('flows', dir).stdout).toMatch(/`kube-system\/kube-dns` \(assumed\)/);
    fs.writeFileSync(path.join(dir, 'dns.yaml'), 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: coredns, namespace: kube-system}\nspec:\n  selector: {matchLabels: {k8s-app: kube-dns}}\n  template:\n    metadata: {labels: {k8s-app: kube-dns}}\n    spec: {containers: [{name: c, image: x, ports: [{containerPort: 53, protocol: UDP}]}]}\n');
    const r = cli('flows', dir);
    expect(r.stdout).toMatch(/`kube-system\/coredns`/);
    expect(r.stdout).not.toMatch(/\(assumed\)/);
  });

  test('explain prints the notes about its two ends', () => {
    const r = cli('explain', 'dist/istio', '--from', 'ns:ingress-nginx', '--to', 'production/hero:8080');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Notes:\n {2}- ingress-nginx\/\* \(assumed in mesh\): namespace `ingress-nginx`/);
  });
});

describe('ZeroTrustReview.write on folders that hold more than the app', () => {
  test('stale per-mesh folders in the outdir are not read: no crash, FLOWS.md of the app\'s own files', () => {
    const outdir = temp('review-sub');
    for (const id of ['istio', 'linkerd', 'cilium']) fs.cpSync(path.join(ROOT, 'dist', id), path.join(outdir, id), { recursive: true });
    synthTo(outdir, story(Mesh.cilium()));
    const page = fs.readFileSync(path.join(outdir, 'FLOWS.md'), 'utf8');
    expect(page).toMatch(/^# Allowed flows: cilium\n/);
    expect(page).toMatch(/`production\/hero`/);
  });

  test('folder-per-chart output: the chart folders are read', () => {
    const outdir = temp('review-per-chart');
    const app = new App({ outdir, yamlOutputType: YamlOutputType.FOLDER_PER_CHART_FILE_PER_RESOURCE });
    heroAndLilDeeBee(app, Mesh.networkPolicy());
    app.synth();
    ZeroTrustReview.write(app);
    expect(fs.readFileSync(path.join(outdir, 'FLOWS.md'), 'utf8')).toMatch(/\| `production\/hero` +\| `production\/lil-deebee` +\| 5432 +\|/);
  });

  test('an app of two meshes: a clear ManifestError that says what to do, the intent file still written', () => {
    const outdir = temp('review-two-meshes');
    const app = new App({ outdir });
    for (const [ns, mesh] of [['a', Mesh.istio()], ['b', Mesh.linkerd()]] as const) {
      const chart = new ZeroTrustChart(app, ns, { namespace: ns, mesh });
      new SecureWorkload(chart, 'web', { image: 'x', ports: [Port.http(8080)] });
    }
    app.synth();
    expect(() => ZeroTrustReview.write(app)).toThrow(/FLOWS\.md cannot be: the manifests mix objects of several meshes.*The app uses istio and linkerd; .*synth each mesh's charts into its own outdir/);
    expect(fs.existsSync(path.join(outdir, 'zero-trust.intent.json'))).toBe(true);
  });

  test('an outdir with no manifest of its own: a clear ManifestError, the intent file still written', () => {
    const outdir = temp('review-empty');
    const app = new App({ outdir: path.join(outdir, 'elsewhere') });
    heroAndLilDeeBee(app, Mesh.networkPolicy());
    app.synth();
    fs.mkdirSync(path.join(outdir, 'istio'));
    expect(() => ZeroTrustReview.write(app, { outdir })).toThrow(/ZeroTrustReview\.write: .*zero-trust\.intent\.json is written, but FLOWS\.md cannot be: .*no Kubernetes objects in its \*\.yaml, \*\.yml or \*\.json files \(its subfolders elsewhere, istio are not read/);
    expect(fs.existsSync(path.join(outdir, 'zero-trust.intent.json'))).toBe(true);
  });
});

test('an any row names each layer once, not once per port (the kubelet probe rows of Istio ambient)', () => {
  const rows = flowMatrix(loadManifests(path.join(__dirname, '..', 'dist', 'istio-ambient'))).rows.filter((r) => r.source === 'cidr:169.254.7.127/32');
  expect(rows.map((r) => `${r.destination} ${r.port}/${r.protocol}`)).toEqual(['production/hero any/TCP', 'production/lil-deebee any/TCP']);
  for (const r of rows) {
    expect(r.reasons).toEqual([
      'ip:169.254.7.127 is the kubelet probe address, which ztunnel does not intercept',
      `networkpolicy ip:169.254.7.127 -> ${r.destination}:any/TCP: allowed`,
    ]);
  }
});
