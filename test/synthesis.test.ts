/**
 * The explicit synth step: one place that resolves, checks (collecting every problem) and renders,
 * whichever cdk8s entry point asks first; brands instead of `instanceof`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { App, Chart, ApiObject, Testing, Yaml } from 'cdk8s';
import { heroAndLilDeeBee } from '../apps/story';
import { STORY_MESHES } from '../apps/main';
import { FastYaml, Mesh, Peer, Port, SecureWorkload, ZeroTrustChart, ZeroTrustReview, ZeroTrustSynthesis } from '../lib';
import { ZeroTrustError } from '../lib/intent/errors';
import { tempDir } from './support/stories';
import { compareText } from '../lib/intent/collation';
import { bindMesh } from '../lib/intent/render';
import { BackendDetectionError, detectBackend } from '../lib/verify/readers';

function storyApp(mesh: Mesh, outdir?: string): App {
  const app = outdir ? new App({ outdir }) : Testing.app();
  heroAndLilDeeBee(app, mesh);
  return app;
}

function errorOf(f: () => unknown): ZeroTrustError | Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('every cdk8s entry point renders the same objects', () => {
  test.each(STORY_MESHES.map((m) => [m.id, m] as const))('%s', (_id, mesh) => {
    const viaSynthYaml = storyApp(mesh).synthYaml();
    const viaTesting = Yaml.stringify(...storyApp(mesh).charts.flatMap((c) => Testing.synth(c)));
    const prepared = storyApp(mesh);
    ZeroTrustSynthesis.prepare(prepared);
    ZeroTrustSynthesis.prepare(prepared); // idempotent
    const viaPrepare = prepared.synthYaml();
    const dir = tempDir('synth-step');
    const a = storyApp(mesh, path.join(dir, 'a'));
    a.synth();
    const b = storyApp(mesh, path.join(dir, 'b'));
    FastYaml.synth(b);
    const file = (d: string) => fs.readFileSync(path.join(d, 'production.k8s.yaml'), 'utf8');

    expect(viaSynthYaml).toContain('kind: ServiceAccount');
    expect(viaTesting).toBe(viaSynthYaml);
    expect(viaPrepare).toBe(viaSynthYaml);
    expect(file(path.join(dir, 'a'))).toBe(viaSynthYaml);
    expect(file(path.join(dir, 'b'))).toBe(viaSynthYaml);
    // Synthesizing twice renders once: no object appears twice.
    expect(a.synthYaml()).toBe(viaSynthYaml);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('problems are collected in one synth', () => {
  test('every refused rule of every chart, grouped by namespace, each naming backend, workload and rule', () => {
    const app = Testing.app();
    const shop = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: Mesh.networkPolicy() });
    const web = new SecureWorkload(shop, 'web', { image: 'x', ports: [Port.http(8080)] });
    const api = new SecureWorkload(shop, 'api', { image: 'x', ports: [Port.http(8080)] });
    api.allowFrom(web, { http: [{ methods: ['GET'] }] });
    api.allowFrom(Peer.workload({ namespace: 'ops', labels: { app: 'backup' }, serviceAccount: 'backup' }));
    web.allowTo(Peer.fqdn('api.example.com'), { ports: [Port.tcp(443)] });
    const pay = new ZeroTrustChart(app, 'pay', { namespace: 'pay', mesh: Mesh.networkPolicy() });
    const ledger = new SecureWorkload(pay, 'ledger', { image: 'x', ports: [Port.http(8080)] });
    ledger.allowTo(Peer.fqdn('bank.example.com'), { ports: [Port.tcp(443)] });

    const e = errorOf(() => ZeroTrustSynthesis.prepare(app)) as ZeroTrustError;
    expect(e).toBeInstanceOf(ZeroTrustError);
    expect(e.message).toMatch(/^4 problems/);
    expect(e.code).toBe('SYNTH_FAILED');
    expect(e.problems.map((p) => [p.namespace, p.backend, p.workload]).sort()).toEqual([
      ['pay', 'networkpolicy', 'pay/ledger'], ['shop', 'networkpolicy', 'shop/api'], ['shop', 'networkpolicy', 'shop/api'], ['shop', 'networkpolicy', 'shop/web'],
    ]);
    expect(e.message).toContain('namespace shop:');
    expect(e.message).toContain('namespace pay:');
    expect(e.message).toContain('[networkpolicy] shop/api.allowFrom(shop/web): NetworkPolicy cannot match HTTP methods or paths');
    expect(e.message).toContain('[networkpolicy] shop/api.allowFrom(ops/{app=backup}@backup): NetworkPolicy cannot match a ServiceAccount');
    expect(e.message).toContain('[networkpolicy] shop/web.allowTo(fqdn:api.example.com): NetworkPolicy cannot match host names');
    expect(e.message).toContain('[networkpolicy] pay/ledger.allowTo(fqdn:bank.example.com)');

    // cdk8s's own synth throws the same ZeroTrustError (not cdk8s's plain validation Error).
    const viaCdk8s = errorOf(() => app.synthYaml()) as ZeroTrustError;
    expect(viaCdk8s).toBeInstanceOf(ZeroTrustError);
    expect(viaCdk8s.code).toBe('SYNTH_FAILED');
    expect(viaCdk8s.message).toBe(e.message);
  });

  test('errors carry their fields', () => {
    const app = Testing.app();
    const c = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: Mesh.networkPolicy() });
    const web = new SecureWorkload(c, 'web', { image: 'x', ports: [Port.http(8080)] });
    web.allowTo(Peer.fqdn('api.example.com'), { ports: [Port.tcp(443)] });
    const e = errorOf(() => ZeroTrustSynthesis.prepare(app)) as ZeroTrustError;
    expect(e.backend).toBe('networkpolicy');
    expect(e.namespace).toBe('shop');
    expect(e.message.startsWith('[networkpolicy] ')).toBe(true);
    expect(e.text.startsWith('[')).toBe(false);
  });

  test('resolution errors carry namespace, workload and rule', () => {
    const app = Testing.app();
    const c = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: Mesh.networkPolicy() });
    const web = new SecureWorkload(c, 'web', { image: 'x', ports: [Port.http(8080)] });
    web.allowTo(Peer.ipBlock('10.0.0.0/8'), { ports: [] });
    const e = errorOf(() => ZeroTrustSynthesis.prepare(app)) as ZeroTrustError;
    expect(e).toMatchObject({ backend: 'networkpolicy', namespace: 'shop', workload: 'shop/web', rule: 'shop/web.allowTo(cidr:10.0.0.0/8)' });
  });
});

describe('brands, not instanceof', () => {
  test('a plain Chart is not a ZeroTrustChart, a ZeroTrustChart is', () => {
    const app = Testing.app();
    const plain = new Chart(app, 'plain');
    const zt = new ZeroTrustChart(app, 'zt', { namespace: 'zt', mesh: Mesh.networkPolicy() });
    expect(ZeroTrustChart.isZeroTrustChart(plain)).toBe(false);
    expect(ZeroTrustChart.isZeroTrustChart(zt)).toBe(true);
    expect(ZeroTrustChart.isZeroTrustChart(undefined)).toBe(false);
    const w = new SecureWorkload(zt, 'w', { image: 'x' });
    expect(SecureWorkload.isSecureWorkload(w)).toBe(true);
    expect(SecureWorkload.isSecureWorkload(plain)).toBe(false);
  });

  test('a SecureWorkload in a plain Chart gets the intended message', () => {
    const app = Testing.app();
    const plain = new Chart(app, 'plain', { namespace: 'other' });
    new ZeroTrustChart(app, 'zt', { namespace: 'zt', mesh: Mesh.networkPolicy() });
    const e = errorOf(() => new SecureWorkload(plain, 'w', { image: 'x' })) as ZeroTrustError;
    expect(e).toBeInstanceOf(ZeroTrustError);
    expect(e.code).toBe('NOT_IN_ZERO_TRUST_CHART');
    expect(e.message).toContain('must be defined inside a ZeroTrustChart, not in the plain Chart plain');
  });

  test('plain charts beside ZeroTrustCharts synthesize and review', () => {
    const dir = tempDir('plain-beside');
    const app = new App({ outdir: dir });
    const plain = new Chart(app, 'plain', { namespace: 'tools' });
    new ApiObject(plain, 'cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' } });
    heroAndLilDeeBee(app, Mesh.networkPolicy());
    app.synth();
    const written = ZeroTrustReview.write(app);
    expect(written.map((f) => path.basename(f))).toEqual(['zero-trust.intent.json', 'FLOWS.md']);
    expect(fs.readFileSync(path.join(dir, 'plain.k8s.yaml'), 'utf8')).toContain('kind: ConfigMap');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a mesh that is not from a Mesh factory is refused', () => {
    const app = Testing.app();
    const e = errorOf(() => new ZeroTrustChart(app, 'x', { namespace: 'x', mesh: { id: 'networkpolicy' } })) as ZeroTrustError;
    expect(e.code).toBe('INVALID_MESH');
  });
});

describe('review fixes', () => {
  test('a problem of the namespace itself is reported once, without a rule of another namespace', () => {
    const app = Testing.app();
    const shop = new ZeroTrustChart(app, 'shop', { namespace: 'aaa', mesh: Mesh.istio() });
    const x = new SecureWorkload(shop, 'x', { image: 'x', ports: [Port.http(8080)] });
    const y = new SecureWorkload(shop, 'y', { image: 'y', ports: [Port.http(8080)] });
    x.allowTo(y);
    new ZeroTrustChart(app, 'root', { namespace: 'istio-system', mesh: Mesh.istio() });
    const problems = ZeroTrustSynthesis.problemsOf(errorOf(() => ZeroTrustSynthesis.prepare(app)));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ code: 'CHART_IN_MESH_ROOT_NAMESPACE', backend: 'istio', namespace: 'istio-system', workload: undefined, rule: undefined });
  });

  test('problemsOf gives fields for every problem, and nothing for other errors', () => {
    const app = Testing.app();
    const c = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: Mesh.networkPolicy() });
    const web = new SecureWorkload(c, 'web', { image: 'x', ports: [Port.http(8080)] });
    web.allowTo(Peer.fqdn('a.example.com'), { ports: [Port.tcp(443)] });
    web.allowFrom(Peer.workload({ namespace: 'ops', labels: { app: 'x' }, serviceAccount: 'x' }));
    const problems = ZeroTrustSynthesis.problemsOf(errorOf(() => app.synthYaml()));
    expect(problems.map((p) => p.code).sort()).toEqual(['FQDN_NOT_ENFORCEABLE', 'SERVICE_ACCOUNT_NOT_ENFORCEABLE']);
    expect(problems.every((p) => p.backend === 'networkpolicy' && p.workload === 'shop/web')).toBe(true);
    expect(ZeroTrustSynthesis.problemsOf(new Error('x'))).toEqual([]);
  });

  test('a ZeroTrustChart of another copy of the library is refused, not silently ignored', () => {
    const app = Testing.app();
    let other: any;
    jest.isolateModules(() => { other = require('../lib'); });
    expect(other.ZeroTrustChart).not.toBe(ZeroTrustChart);
    const foreign = new other.ZeroTrustChart(app, 'foreign', { namespace: 'foreign', mesh: other.Mesh.networkPolicy() });
    expect(ZeroTrustChart.isZeroTrustChart(foreign)).toBe(true);
    const e = errorOf(() => new SecureWorkload(foreign, 'w', { image: 'x' })) as ZeroTrustError;
    expect(e.code).toBe('FOREIGN_LIBRARY_COPY');
  });

  test('backend detection: the first mesh that enrols a namespace wins, opt-out labels do not count', () => {
    const ns = (labels: { [key: string]: string }, annotations: { [key: string]: string } = {}) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels, annotations } });
    expect(detectBackend([ns({ 'istio-injection': 'enabled', 'kuma.io/sidecar-injection': 'disabled' })])).toBe('istio');
    expect(detectBackend([ns({ 'istio-injection': 'enabled' }, { 'linkerd.io/inject': 'enabled' })])).toBe('istio');
    expect(() => detectBackend([ns({}, { 'linkerd.io/inject': 'disabled' })])).toThrow(BackendDetectionError);
    expect(detectBackend([ns({ 'io.cilium/mtls-enabled': 'true' })])).toBe('cilium');
  });

  test('one collation: code-unit order, whatever the locale', () => {
    expect(['fd00:1::/32', 'fd00::/16', 'B', 'a', '_x', ':y'].sort(compareText)).toEqual([':y', 'B', '_x', 'a', 'fd00:1::/32', 'fd00::/16']);
  });

  test('objects added after prepare() are emitted (the documents the self-check read are not reused)', () => {
    const app = storyApp(Mesh.networkPolicy());
    ZeroTrustSynthesis.prepare(app);
    const chart = app.charts.find((c) => ZeroTrustChart.isZeroTrustChart(c))!;
    new ApiObject(chart, 'late', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'late' } });
    expect(app.synthYaml()).toContain('name: late');
  });

  test('a namespaced object rendered without a namespace is refused, not applied wherever kubectl points', () => {
    const app = Testing.app();
    const mesh = { id: 'networkpolicy' };
    bindMesh(mesh, {
      backend: 'networkpolicy',
      layers: () => [{ backend: 'networkpolicy', check: () => undefined, render: () => [{ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'stray' } }] }],
    });
    new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh });
    const problems = ZeroTrustSynthesis.problemsOf(errorOf(() => app.synthYaml()));
    expect(problems.map((p) => p.code)).toEqual(['RENDERED_WITHOUT_NAMESPACE']);
  });
});
