/**
 * Issue 18: `ZeroTrustChart.allowMetricsScraping`: the scraper reaches each workload's own
 * metrics port and its mesh proxy's metrics ports, on every backend, and nothing else; read back
 * with each backend's reader.
 */
import { App, Testing } from 'cdk8s';
import { IstioMode, Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { intentDocument } from '../lib/intent/document';
import { ZeroTrustSynthesis } from '../lib/intent/synthesis';
import { inventory } from '../lib/verify/inventory';
import { LinkerdEvaluator } from '../lib/verify/linkerd';
import { NetworkPolicyEvaluator } from '../lib/verify/networkpolicy';
import { readerFor } from '../lib/verify/readers';
import { Endpoint } from '../lib/verify/types';
import { expectError } from './support/errors';
import { expectValid } from './support/schema';
import { find, synthApp } from './support/synth';

/** Every port a probe asks about: the app's, each mesh's proxy ports, and a few others. */
const PORTS = [4143, 4191, 5432, 5670, 8080, 9090, 15008, 15020, 15021, 15090];

interface Case {
  readonly id: string;
  readonly mesh: () => Mesh;
  /** Scraper given with a ServiceAccount (Linkerd authorizes by identity) and meshed. */
  readonly identity: boolean;
  readonly appPort: boolean;
  /** Ports the scraper must reach on api. */
  readonly open: number[];
}

const CASES: Case[] = [
  { id: 'networkpolicy', mesh: () => Mesh.networkPolicy(), identity: false, appPort: true, open: [9090] },
  { id: 'istio', mesh: () => Mesh.istio(), identity: false, appPort: false, open: [15020, 15090] },
  { id: 'istio-ambient', mesh: () => Mesh.istio({ mode: IstioMode.AMBIENT }), identity: true, appPort: true, open: [9090] },
  { id: 'linkerd', mesh: () => Mesh.linkerd({ probeNetworks: ['10.0.0.0/16'] }), identity: true, appPort: true, open: [4191, 9090] },
  { id: 'cilium', mesh: () => Mesh.cilium(), identity: false, appPort: true, open: [9090] },
  { id: 'kuma', mesh: () => Mesh.kuma(), identity: false, appPort: true, open: [5670, 9090] },
];

const SCRAPER = { namespace: 'monitoring', labels: { app: 'prometheus' } };

function build(c: Case, before = false): App {
  const app = Testing.app();
  const chart = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: c.mesh() });
  const scrape = () => chart.allowMetricsScraping(Peer.workload({ ...SCRAPER, ...(c.identity ? { serviceAccount: 'prometheus' } : {}) }), c.appPort ? { appPort: Port.http(9090, 'metrics') } : {});
  if (before) scrape();
  const api = new SecureWorkload(chart, 'api', { image: 'api', ports: [Port.http(8080), Port.http(9090, 'metrics')] });
  const db = new SecureWorkload(chart, 'db', { image: 'db', ports: [Port.tcp(5432), Port.http(9090, 'metrics')] });
  api.allowFrom(new SecureWorkload(chart, 'web', { image: 'web', ports: [Port.http(9090, 'metrics')] }), { ports: [Port.http(8080)] });
  db.allowFrom(api, { ports: [Port.tcp(5432)] });
  if (!before) scrape();
  return app;
}

/** A pod of the monitoring namespace: the scraper, or another pod there. */
function monitoringPod(c: Case, labels: { [k: string]: string }, id: string): Endpoint {
  const meshed = c.id === 'linkerd' ? { annotations: { 'linkerd.io/inject': 'enabled' } }
    : c.id === 'istio-ambient' ? { namespaceLabels: { 'kubernetes.io/metadata.name': 'monitoring', 'istio.io/dataplane-mode': 'ambient' } }
      : c.id === 'kuma' ? { labels: { ...labels, 'kuma.io/sidecar-injection': 'enabled' } } : {};
  return { id, kind: 'pod', namespace: 'monitoring', labels, serviceAccount: 'prometheus', ...meshed } as Endpoint;
}

describe('allowMetricsScraping: the scraper reaches the metrics ports and nothing else', () => {
  test.each(CASES.map((c) => [c.id, c] as const))('%s', (_id, c) => {
    const objects = synthApp(build(c));
    expectValid(objects);
    const reader = readerFor(objects, { backend: c.id });
    const pods = inventory(objects).workloads;
    const scraper = monitoringPod(c, SCRAPER.labels, 'monitoring/prometheus');
    const other = monitoringPod(c, { app: 'grafana' }, 'monitoring/grafana');
    for (const name of ['api', 'db', 'web']) {
      const pod = pods.find((p) => p.labels?.['app.kubernetes.io/name'] === name)!;
      const reached = PORTS.filter((port) => reader.evaluate({ source: scraper, destination: pod, port, protocol: 'TCP' }).allowed);
      expect({ name, reached }).toEqual({ name, reached: c.open });
      expect(PORTS.filter((port) => reader.evaluate({ source: other, destination: pod, port, protocol: 'TCP' }).allowed)).toEqual([]);
    }
  });

  test.each(CASES.map((c) => [c.id, c] as const))('%s: the intent records the scrape flows, the proxy ports marked as the proxy\'s', (_id, c) => {
    const app = build(c, true);
    synthApp(app);
    const doc = intentDocument(ZeroTrustSynthesis._of(app)._run().model!);
    const scrapes = doc.flows.filter((f) => f.source.type === 'external-workload');
    const proxyPorts = c.open.filter((p) => p !== 9090);
    // Workloads declared after the call are scraped too.
    for (const w of ['shop/api', 'shop/db', 'shop/web']) {
      const mine = scrapes.filter((f) => f.destination.type === 'workload' && f.destination.workload === w);
      expect(mine.map((f) => ({ ports: f.ports.map((p) => p.number), proxy: f.proxy ?? false }))).toEqual([
        ...(c.appPort ? [{ ports: [9090], proxy: false }] : []),
        ...(proxyPorts.length ? [{ ports: proxyPorts, proxy: true }] : []),
      ].sort((a, b) => a.ports[0] - b.ports[0]));
      for (const f of mine) expect(f.declaredAt).toBe(`${w}.allowMetricsScraping(monitoring/{app=prometheus}${c.identity ? '@prometheus' : ''})`);
    }
  });
});

describe('allowMetricsScraping: Linkerd admin server', () => {
  const linkerd = CASES.find((c) => c.id === 'linkerd')!;

  test('a Server on 4191 with GET /metrics for the scraper and the proxy probes for kubelet', () => {
    const objects = synthApp(build(linkerd));
    const server = find(objects, 'Server', 'api-proxy-admin', 'shop');
    expect(server.spec).toEqual({ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'api' } }, port: 4191, proxyProtocol: 'HTTP/1', accessPolicy: 'deny' });
    expect(find(objects, 'MeshTLSAuthentication', 'api-proxy-admin-metrics', 'shop').spec.identityRefs).toEqual([{ kind: 'ServiceAccount', name: 'prometheus', namespace: 'monitoring' }]);
    const reader = new LinkerdEvaluator(objects, { l4: new NetworkPolicyEvaluator(objects) });
    // Kubelet's probes come from the node, which NetworkPolicy does not restrict: Linkerd's layer alone.
    const l7 = new LinkerdEvaluator(objects);
    const api = inventory(objects).workloads.find((p) => p.labels?.['app.kubernetes.io/name'] === 'api')!;
    const scraper = monitoringPod(linkerd, SCRAPER.labels, 'monitoring/prometheus');
    const node: Endpoint = { id: 'ip:10.0.3.4', kind: 'ip', ip: '10.0.3.4' };
    const ask = (source: Endpoint, method: string, path: string, ua?: string) => (source.kind === 'ip' ? l7 : reader).evaluate({
      source, destination: api, port: 4191, protocol: 'TCP', http: { method, path, ...(ua ? { headers: { 'User-Agent': ua } } : {}) },
    }).allowed;
    expect(ask(scraper, 'GET', '/metrics')).toBe(true);
    expect(ask(scraper, 'PUT', '/proxy-log-level')).toBe(false);
    expect(ask(scraper, 'GET', '/live')).toBe(false);
    expect(ask(node, 'GET', '/live', 'kube-probe/1.30')).toBe(true);
    expect(ask(node, 'GET', '/ready', 'kube-probe/1.30')).toBe(true);
    expect(ask(node, 'GET', '/metrics', 'kube-probe/1.30')).toBe(false);
    expect(ask({ id: 'ip:192.0.2.1', kind: 'ip', ip: '192.0.2.1' }, 'GET', '/live', 'kube-probe/1.30')).toBe(false);
  });
});

describe('allowMetricsScraping: refusals', () => {
  test('Istio\'s metrics ports are outside its authorization: a scraper by ServiceAccount is refused there', () => {
    const app = Testing.app();
    const chart = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: Mesh.istio() });
    new SecureWorkload(chart, 'api', { image: 'api', ports: [Port.http(8080)] });
    chart.allowMetricsScraping(Peer.workload({ ...SCRAPER, serviceAccount: 'prometheus' }));
    const e = expectError(() => synthApp(app), 'SERVICE_ACCOUNT_NOT_ENFORCEABLE', /15020.*metrics merging/);
    expect(e.workload).toBe('shop/api');
    expect(e.backend).toBe('istio');
  });

  test('a scraper behind an Istio sidecar is refused (REGISTRY_ONLY drops pod-addressed scrapes); Linkerd and Kuma scrapers in the mesh work', () => {
    const build = (mesh: () => Mesh) => {
      const app = Testing.app();
      const prom = new SecureWorkload(new ZeroTrustChart(app, 'monitoring', { namespace: 'monitoring', mesh: mesh() }), 'prometheus', { image: 'prom' });
      const chart = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: mesh() });
      new SecureWorkload(chart, 'api', { image: 'api', ports: [Port.http(8080)] });
      chart.allowMetricsScraping(prom);
      return app;
    };
    const e = expectError(() => synthApp(build(() => Mesh.istio())), 'SCRAPER_BEHIND_SIDECAR', /15020, 15090/);
    expect(e.namespace).toBe('monitoring');
    for (const mesh of [() => Mesh.linkerd(), () => Mesh.kuma()]) {
      const objects = synthApp(build(mesh));
      expect(objects.filter((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'prometheus-egress')).toHaveLength(1);
    }
  });

  test('nothing to open: ambient Istio has no proxy in the pod, and proxyMetrics: false without appPort', () => {
    const chart = new ZeroTrustChart(Testing.app(), 'shop', { namespace: 'shop', mesh: Mesh.istio({ mode: IstioMode.AMBIENT }) });
    expectError(() => chart.allowMetricsScraping(Peer.namespace('monitoring')), 'NOTHING_TO_SCRAPE', /appPort/);
    const kuma = new ZeroTrustChart(Testing.app(), 'shop', { namespace: 'shop', mesh: Mesh.kuma() });
    expectError(() => kuma.allowMetricsScraping(Peer.namespace('monitoring'), { proxyMetrics: false }), 'NOTHING_TO_SCRAPE');
  });

  test('an app port a workload does not declare, and workloads of another chart, are refused', () => {
    const app = Testing.app();
    const chart = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: Mesh.kuma() });
    const other = new ZeroTrustChart(app, 'other', { namespace: 'other', mesh: Mesh.kuma() });
    const stranger = new SecureWorkload(other, 'x', { image: 'x', ports: [Port.http(9090)] });
    new SecureWorkload(chart, 'api', { image: 'api', ports: [Port.http(8080)] });
    expectError(() => chart.allowMetricsScraping(Peer.namespace('monitoring'), { workloads: [stranger] }), 'INVALID_ARGUMENT', /of this chart/);
    expectError(() => chart.allowMetricsScraping('prometheus' as any), 'INVALID_PEER');
    chart.allowMetricsScraping(Peer.namespace('monitoring'), { appPort: Port.http(9090) });
    const e = expectError(() => synthApp(app), 'UNDECLARED_PORT', /allowMetricsScraping/);
    expect(e.rule).toBe('shop/api.allowMetricsScraping(ns:monitoring)');
  });

  test('proxyMetrics: false opens the app port only', () => {
    const app = Testing.app();
    const chart = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: Mesh.kuma() });
    new SecureWorkload(chart, 'api', { image: 'api', ports: [Port.http(9090)] });
    chart.allowMetricsScraping(Peer.namespace('monitoring'), { appPort: Port.http(9090), proxyMetrics: false });
    expect(find(synthApp(app), 'NetworkPolicy', 'api-ingress', 'shop').spec.ingress.map((r: any) => r.ports)).toEqual([[{ port: 9090 }]]);
  });
});
