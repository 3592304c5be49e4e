/**
 * Input the CLI must read as the cluster does or refuse with exit code 2, the file and document
 * named, and no stack trace: hostile files (FIFOs, devices, symbolic links out of the folder,
 * oversized files), fields of the wrong type (Kubernetes' own kinds at load time, a mesh's objects
 * through the traced rerun), SCTP, every workload kind and two kinds of the same name, and the
 * issue's widening by merge key caught by diff and verify.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { App } from 'cdk8s';
import { Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { inventory, loadManifests } from '../lib/verify';
import { story, synthTo, tempDir } from './support/stories';

const ROOT = path.join(__dirname, '..');
const BIN = path.join(ROOT, 'bin', 'cdk8s-zero-trust.js');

function cli(...args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf-8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function expectNoStack(text: string) {
  expect(text).not.toMatch(/^\s+at .+[:(]/m);
  expect(text).not.toMatch(/internal error/);
}

/** Exit 2, the message naming `what`, no stack. */
function expectRefused(r: { code: number; stderr: string }, what: RegExp) {
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(what);
  expectNoStack(r.stderr);
}

const temps: string[] = [];
function temp(prefix: string): string {
  const d = tempDir(prefix);
  temps.push(d);
  return d;
}
afterAll(() => temps.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A folder with the given files. */
function folder(files: { [file: string]: string }, prefix = 'input'): string {
  const dir = temp(prefix);
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), text);
  }
  return dir;
}

const NP = 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n';
const deny = `${NP}metadata: {name: deny, namespace: prod}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n`;
const deployment = (name: string, extra = '') => `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ${name}, namespace: prod}\nspec:\n  selector: {matchLabels: {app: ${name}}}\n  template:\n    metadata: {labels: {app: ${name}}}\n    spec:\n      containers:\n      - name: c\n        image: x\n        ports:\n        - containerPort: 8080\n${extra}`;

describe('hostile files: refused with exit 2, never read, never hanging', () => {
  test('a character device (/dev/zero) given as the input', () => {
    expectRefused(cli('flows', '/dev/zero'), /\/dev\/zero: a character device, not a regular file/);
  });

  test('a FIFO in the folder, or given as the input, is refused at once instead of hanging', () => {
    const dir = folder({ 'a.yaml': deny });
    const fifo = path.join(dir, 'pipe.yaml');
    if (spawnSync('mkfifo', [fifo]).status !== 0) return; // no mkfifo here
    const started = Date.now();
    expectRefused(cli('flows', dir), /pipe\.yaml: a FIFO \(named pipe\), not a regular file/);
    expectRefused(cli('flows', fifo), /pipe\.yaml: a FIFO \(named pipe\)/);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  test('symbolic links: followed to a file inside the folder; refused out of it, to nowhere, or to a folder named like a manifest', () => {
    const outside = folder({ 'elsewhere.yaml': deployment('outside') }, 'outside');
    const dir = folder({ 'sub/real.yaml': deployment('web'), 'policy.yaml': deny });
    fs.symlinkSync(path.join('sub', 'real.yaml'), path.join(dir, 'link.yaml'));
    const ok = cli('flows', dir, '--format', 'json');
    expect(ok.code).toBe(0);
    expect(loadManifests(dir).map((m) => path.basename(m.file))).toEqual(['link.yaml', 'policy.yaml']);

    const out = folder({ 'policy.yaml': deny });
    fs.symlinkSync(path.join(outside, 'elsewhere.yaml'), path.join(out, 'link.yaml'));
    expectRefused(cli('flows', out), /link\.yaml: a symbolic link out of the folder/);

    const dangling = folder({ 'policy.yaml': deny });
    fs.symlinkSync('nowhere.yaml', path.join(dangling, 'link.yaml'));
    expectRefused(cli('flows', dangling), /link\.yaml: a symbolic link to nowhere\.yaml, which does not exist/);

    const toDir = folder({ 'policy.yaml': deny, 'sub/x.yaml': deployment('x') });
    fs.symlinkSync('sub', path.join(toDir, 'folder.yaml'));
    expectRefused(cli('flows', toDir), /folder\.yaml: a symbolic link to a folder named like a manifest file/);
  });

  test('a file past --max-bytes, or files past --max-total-bytes, are refused with the limit and the flag that raises it', () => {
    const dir = folder({ 'a.yaml': `${deny}---\n${deployment('web')}`, 'b.yaml': deployment('api') });
    expectRefused(cli('flows', dir, '--max-bytes', '100'), /a\.yaml: \d+ bytes is more than one manifest file may hold here \(100 bytes\).*--max-bytes/);
    const first = fs.statSync(path.join(dir, 'a.yaml')).size;
    expectRefused(cli('flows', dir, '--max-total-bytes', String(first + 10)), /b\.yaml: reading it would take the files read past 10 bytes left of the total limit.*--max-total-bytes/);
    expect(cli('flows', dir, '--max-bytes', '1k').code).toBe(0);
    expectRefused(cli('flows', dir, '--max-bytes', 'lots'), /--max-bytes lots: expected a size in bytes/);
  });

  test('a file that is not UTF-8 is refused', () => {
    const dir = folder({});
    fs.writeFileSync(path.join(dir, 'a.yaml'), Buffer.from([0xff, 0xfe, 0x61, 0x00, 0x3a, 0x00]));
    expectRefused(cli('flows', dir), /a\.yaml: not UTF-8 text/);
  });

  test('a folder of per-mesh folders: nothing read without -R, and the message says why', () => {
    const dir = folder({ 'istio/a.yaml': deny, 'linkerd/b.yaml': deny.replace('name: deny', 'name: deny-b') });
    expectRefused(cli('flows', dir), /no Kubernetes objects found .*its subfolders \(istio, linkerd\) are read only with -R/);
    expect(cli('flows', dir, '-R').code).toBe(0);
  });
});

describe('fields of the wrong type: exit 2 naming file, document and field', () => {
  test('metadata.namespace: 42', () => {
    const dir = folder({ 'a.yaml': `${deny}---\n${deployment('web').replace('namespace: prod', 'namespace: 42')}` });
    expectRefused(cli('flows', dir), /a\.yaml document #1: Deployment web: metadata\.namespace must be a string, not the number 42/);
  });

  test('matchExpressions given as a map', () => {
    const policy = `${NP}metadata: {name: p, namespace: prod}\nspec:\n  podSelector:\n    matchExpressions: {key: app, operator: In, values: [web]}\n`;
    expectRefused(cli('flows', folder({ 'a.yaml': `${deny}---\n${policy}` })), /a\.yaml document #1: NetworkPolicy prod\/p: spec\.podSelector\.matchExpressions must be a list, not a map/);
  });

  test('a label value written as a number, a port as a word, a list as a map', () => {
    expectRefused(cli('flows', folder({ 'a.yaml': deployment('web').replace('labels: {app: web}', 'labels: {app: web, version: 2}') })), /spec\.template\.metadata\.labels\.version must be a string, not the number 2 \(quote it: "2"\)/);
    expectRefused(cli('flows', folder({ 'a.yaml': deployment('web').replace('containerPort: 8080', 'containerPort: http') })), /containers\[0\]\.ports\[0\]\.containerPort must be a port number \(1-65535\), not the string "http"/);
    expectRefused(cli('flows', folder({ 'a.yaml': `${NP}metadata: {name: p, namespace: prod}\nspec:\n  podSelector: {}\n  ingress: {from: []}\n` })), /document #0: NetworkPolicy prod\/p: spec\.ingress must be a list, not a map/);
  });

  test('a mesh object\'s field the shape check does not know: the reader\'s failure names the document and field', () => {
    const dir = temp('traced');
    synthTo(dir, story(Mesh.istio()));
    const file = path.join(dir, 'production.k8s.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('  rules:\n    - from:', '  rules:\n    x:\n      from:'));
    const r = cli('flows', dir);
    expectRefused(r, /production\.k8s\.yaml document #\d+: AuthorizationPolicy production\/\S+: spec\.rules is a map, which the reader cannot read/);
  });
});

describe('SCTP: refused, or read without it when asked, never dropped in silence', () => {
  const sctp = deployment('sig').replace('        - containerPort: 8080\n', '        - containerPort: 8080\n        - containerPort: 9999\n          protocol: SCTP\n');

  test('an SCTP container port is refused, naming the field and the way out', () => {
    expectRefused(cli('flows', folder({ 'a.yaml': `${deny}---\n${sctp}` })), /a\.yaml document #1: Deployment prod\/sig: spec\.template\.spec\.containers\[0\]\.ports\[1\]\.protocol is SCTP, which the flow report does not model.*--ignore-sctp/);
  });

  test('an SCTP port of a policy is refused too', () => {
    const policy = `${NP}metadata: {name: p, namespace: prod}\nspec:\n  podSelector: {}\n  ingress:\n  - ports:\n    - {port: 9999, protocol: SCTP}\n`;
    expectRefused(cli('flows', folder({ 'a.yaml': policy })), /document #0: NetworkPolicy prod\/p: spec\.ingress\[0\]\.ports\[0\]\.protocol is SCTP/);
  });

  test('--ignore-sctp reads the rest and warns about each port left out', () => {
    const r = cli('flows', folder({ 'a.yaml': `${deny}---\n${sctp}` }), '--ignore-sctp');
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/warning: .*a\.yaml document #1: Deployment prod\/sig spec\.template\.spec\.containers\[0\]\.ports\[1\]\.protocol is SCTP, left out/);
  });

  test('explain --protocol SCTP says why it cannot answer', () => {
    expectRefused(cli('explain', 'dist/networkpolicy', '--from', 'production/hero', '--to', 'production/lil-deebee:5432', '--protocol', 'SCTP'), /--protocol SCTP: the readers do not model SCTP/);
  });
});

describe('workload kinds and identities', () => {
  const template = (kind: string, apiVersion: string, name: string, path0 = 'spec:\n  template:\n') => `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata: {name: ${name}, namespace: prod}\n${path0}    metadata: {labels: {app: ${name}}}\n    spec: {containers: [{name: c, image: x, ports: [{containerPort: 80}]}]}\n`;

  test('ReplicationController, bare ReplicaSet, Job, CronJob, DaemonSet, Pod are workloads; a CRD of the same kind elsewhere is not', () => {
    const dir = folder({
      'a.yaml': [
        template('ReplicationController', 'v1', 'rc'),
        template('ReplicaSet', 'apps/v1', 'rs'),
        template('Job', 'batch/v1', 'job'),
        template('CronJob', 'batch/v1', 'cron', 'spec:\n  schedule: "* * * * *"\n  jobTemplate:\n   spec:\n    template:\n').replace(/\n {4}(metadata|spec): /g, '\n      $1: '),
        template('DaemonSet', 'apps/v1', 'ds'),
        'apiVersion: v1\nkind: Pod\nmetadata: {name: pod, namespace: prod, labels: {app: pod}}\nspec: {containers: [{name: c, image: x}]}\n',
        template('Job', 'example.com/v1', 'not-a-workload'),
      ].join('---\n'),
    });
    expect(inventory(loadManifests(dir)).workloads.map((w) => w.id)).toEqual(['prod/cron', 'prod/ds', 'prod/job', 'prod/pod', 'prod/rc', 'prod/rs']);
  });

  test('a Deployment and a StatefulSet of the same name are two workloads, ns/Kind/name; explain names either', () => {
    const dir = folder({
      'a.yaml': [deny, template('Deployment', 'apps/v1', 'db'), template('StatefulSet', 'apps/v1', 'db').replace('app: db', 'app: db-sts'), template('Deployment', 'apps/v1', 'web')].join('---\n'),
    });
    expect(inventory(loadManifests(dir)).workloads.map((w) => w.id)).toEqual(['prod/Deployment/db', 'prod/StatefulSet/db', 'prod/web']);
    const both = cli('explain', dir, '--from', 'prod/web', '--to', 'prod/StatefulSet/db:80');
    expect(both.code).toBe(1);
    expect(both.stdout).toMatch(/^DENIED: prod\/web -> prod\/StatefulSet\/db 80\/TCP/);
    expectRefused(cli('explain', dir, '--from', 'prod/web', '--to', 'prod/db:80'), /--to prod\/db: objects of several kinds have this name; name one: prod\/Deployment\/db, prod\/StatefulSet\/db/);
  });

  test('two objects of the same kind, namespace and name are refused, naming both (kubectl keeps whichever it applies last)', () => {
    const dir = folder({ 'a.yaml': deployment('web'), 'b.yaml': deployment('web').replace(/app: web/g, 'app: web2') });
    expect(() => loadManifests(dir)).toThrow(/b\.yaml document #0: Deployment prod\/web is also defined by .*a\.yaml document #0/);
  });
});

describe('manifests as the cluster reads them, end to end', () => {
  test('an object defined twice is refused with exit 2 naming both files', () => {
    expectRefused(cli('flows', folder({ 'a.yaml': deployment('api'), 'b.yaml': deployment('api') })), /b\.yaml document #0: Deployment prod\/api is also defined by .*a\.yaml document #0/);
  });

  test('objects without metadata.namespace are read as in default, and the report says so', () => {
    const open = `${NP}metadata: {name: open}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n  ingress: [{}]\n`;
    const r = cli('flows', folder({ 'a.yaml': `${open}---\n${deployment('api').replace(', namespace: prod', '')}` }));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/`default\/api` \(namespace assumed\)/);
    expect(r.stderr).toMatch(/`Deployment api` set no `metadata\.namespace`: read as in namespace `default`, but `kubectl apply` puts them in its current context's namespace/);
  });

  test('a folder of JSON pods has flows', () => {
    const pod = (name: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'prod', labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 80 }] }] } });
    const dir = folder({
      'pods.json': JSON.stringify({ apiVersion: 'v1', kind: 'PodList', items: [pod('a'), pod('b')] }),
      'policy.json': JSON.stringify({ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'a-from-b', namespace: 'prod' }, spec: { podSelector: { matchLabels: { app: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { app: 'b' } } }] }] } }),
    });
    const r = cli('flows', dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\| `prod\/b` +\| `prod\/a` +\| any +\| TCP +\|/);
  });

  test('an allow-all policy written with a merge key is an added flow for diff (exit 1) and a mismatch for verify', () => {
    const base = temp('merge-base');
    synthTo(base, story(Mesh.networkPolicy()));
    const widened = temp('merge-new');
    synthTo(widened, story(Mesh.networkPolicy()));
    fs.appendFileSync(path.join(widened, 'production.k8s.yaml'), `---\n${NP}metadata:\n  name: sneaky\n  namespace: production\nspec: { <<: {podSelector: {}, ingress: [{}]} }\n`);
    const d = cli('diff', base, widened);
    expect(d.code).toBe(1);
    expect(d.stdout).toMatch(/### Added/);
    expect(d.stdout).toMatch(/\| `ns:\*` +\| `production\/lil-deebee` +\|/);
    const v = cli('verify', widened);
    expect(v.code).toBe(1);
    expect(v.stdout).toMatch(/^FAILED:/);
  });

  test('a port written 010 is port 8 in the report', () => {
    const app = (dir: string) => synthTo(dir, (a: App) => {
      const chart = new ZeroTrustChart(a, 'prod', { namespace: 'prod', mesh: Mesh.networkPolicy() });
      const web = new SecureWorkload(chart, 'web', { image: 'x', ports: [Port.tcp(8)] });
      web.allowFrom(Peer.namespace('ops'), { ports: [Port.tcp(8)] });
    });
    const dir = app(temp('octal'));
    const file = path.join(dir, 'prod.k8s.yaml');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/port: 8\n/g, 'port: 010\n'));
    const r = cli('flows', dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\| `ns:ops` +\| `prod\/web` +\| 8 +\| TCP +\|/);
    expect(r.stdout).not.toMatch(/\| 10 +\|/);
  });
});
