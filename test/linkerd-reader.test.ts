import { Testing } from 'cdk8s';
import { Mesh, Peer, Port, Probe, SecureWorkload, ZeroTrustChart } from '../lib';
import { LinkerdEvaluator, LinkerdQuery } from '../lib/verify/linkerd';
import { Endpoint, PolicyEvaluator, Query, decision } from '../lib/verify/types';
import { find, synthApp } from './support/synth';

/** The pod of a synthesized workload, as the manifests describe it. */
function pod(objects: any[], namespace: string, name: string): Endpoint {
  const w = objects.find((o) => ['Deployment', 'StatefulSet'].includes(o.kind) && o.metadata.name === name && o.metadata.namespace === namespace);
  const ns = objects.find((o) => o.kind === 'Namespace' && o.metadata.name === namespace);
  const t = w.spec.template;
  return {
    id: `${namespace}/${name}`,
    kind: 'pod',
    namespace,
    namespaceLabels: { 'kubernetes.io/metadata.name': namespace },
    namespaceAnnotations: ns?.metadata.annotations ?? {},
    labels: t.metadata.labels,
    annotations: t.metadata.annotations ?? {},
    serviceAccount: t.spec.serviceAccountName,
    ports: (t.spec.containers[0].ports ?? []).map((p: any) => ({ name: p.name, number: p.containerPort, protocol: p.protocol })),
    workload: name,
  };
}

function foreign(namespace: string, sa: string, meshed: boolean, labels: { [k: string]: string } = {}): Endpoint {
  return {
    id: `${namespace}/${sa}${meshed ? '' : '-unmeshed'}`,
    kind: 'pod',
    namespace,
    namespaceLabels: { 'kubernetes.io/metadata.name': namespace },
    namespaceAnnotations: meshed ? { 'linkerd.io/inject': 'enabled' } : {},
    labels,
    annotations: {},
    serviceAccount: sa,
    ports: [],
  };
}

const ip = (a: string): Endpoint => ({ id: `ip:${a}`, kind: 'ip', ip: a });

function l7Objects(): any[] {
  const app = Testing.app();
  const shop = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: Mesh.linkerd() });
  const ops = new ZeroTrustChart(app, 'ops', { namespace: 'ops', mesh: Mesh.linkerd() });
  const api = new SecureWorkload(shop, 'api', { image: 'api:1', ports: [Port.http(8080), Port.grpc(9090), Port.tcp(7000)], readiness: Probe.fromHttpGet('/healthz') });
  const web = new SecureWorkload(shop, 'web', { image: 'web:1', serviceAccountName: 'web-sa' });
  const admin = new SecureWorkload(shop, 'admin', { image: 'admin:1' });
  const monitor = new SecureWorkload(ops, 'monitor', { image: 'monitor:1' });
  api.allowFrom(web, { ports: [Port.http(8080)], http: [{ methods: ['GET', 'HEAD'], paths: ['/api/*'] }, { methods: ['POST'], paths: ['/api/orders'] }] });
  api.allowFrom(monitor, { ports: [Port.http(8080)], http: [{ methods: ['GET'], paths: ['/metrics'] }] });
  api.allowFrom(admin, { ports: [Port.http(8080)] });
  api.allowFrom(Peer.ipBlock('10.20.0.0/16', ['10.20.1.0/24']), { ports: [Port.http(8080)] });
  api.allowFrom(Peer.workload({ namespace: 'batch', labels: { app: 'report' }, serviceAccount: 'report' }), { ports: [Port.grpc(9090)], http: [{ paths: ['/shop.Orders/List'] }] });
  return synthApp(app);
}

describe('the Linkerd reader on HTTP rules', () => {
  const objects = l7Objects();
  const ev = new LinkerdEvaluator(objects);
  const api = pod(objects, 'shop', 'api');
  const web = pod(objects, 'shop', 'web');
  const admin = pod(objects, 'shop', 'admin');
  const monitor = pod(objects, 'ops', 'monitor');
  const q = (source: Endpoint, port: number, method?: string, path?: string, headers?: { [k: string]: string }): LinkerdQuery =>
    ({ source, destination: api, port, protocol: 'TCP', ...(method ? { http: { method, path: path!, ...(headers ? { headers } : {}) } } : {}) });
  const allowed = (query: LinkerdQuery) => ev.evaluate(query).allowed;

  test('meshing and identity come from the annotations', () => {
    expect(ev.meshed(api)).toBe(true);
    expect(ev.identity(web)).toBe('web-sa.shop.serviceaccount.identity.linkerd.cluster.local');
    expect(ev.meshed(foreign('batch', 'report', false))).toBe(false);
    expect(ev.meshed(ip('10.20.5.5'))).toBe(false);
  });

  test('web may GET/HEAD under /api/ and POST /api/orders, nothing else', () => {
    expect(allowed(q(web, 8080, 'GET', '/api/users'))).toBe(true);
    expect(allowed(q(web, 8080, 'HEAD', '/api/'))).toBe(true);
    expect(allowed(q(web, 8080, 'POST', '/api/orders'))).toBe(true);
    expect(allowed(q(web, 8080, 'POST', '/api/users'))).toBe(false);
    expect(allowed(q(web, 8080, 'GET', '/api'))).toBe(false);
    expect(allowed(q(web, 8080, 'GET', '/metrics'))).toBe(false);
    expect(ev.evaluate(q(web, 8080, 'GET', '/api/users')).reasons.join()).toMatch(/AuthorizationPolicy shop\/api-http-8080-rules-1 authorizes shop\/web/);
  });

  test('monitor (another namespace) may GET /metrics only', () => {
    expect(allowed(q(monitor, 8080, 'GET', '/metrics'))).toBe(true);
    expect(allowed(q(monitor, 8080, 'POST', '/metrics'))).toBe(false);
    expect(allowed(q(monitor, 8080, 'GET', '/api/x'))).toBe(false);
  });

  test('admin may send any request: Server-wide authorization on every route, catch-all for the rest', () => {
    for (const [m, p] of [['GET', '/api/x'], ['DELETE', '/anything'], ['GET', '/metrics'], ['GET', '/']]) {
      expect(allowed(q(admin, 8080, m, p))).toBe(true);
    }
    expect(allowed(q(admin, 8080))).toBe(true);
    expect(allowed(q(admin, 9090))).toBe(false);
  });

  test('a plain connection is accepted when some request would be', () => {
    expect(allowed(q(web, 8080))).toBe(true);
    expect(allowed(q(foreign('shop', 'intruder', true), 8080))).toBe(false);
  });

  test('an unmeshed source with the right ServiceAccount is denied: no mTLS identity', () => {
    const unmeshed = { ...monitor, id: 'ops/monitor-unmeshed', annotations: { 'linkerd.io/inject': 'disabled' } };
    expect(ev.meshed(unmeshed)).toBe(false);
    expect(allowed(q(unmeshed, 8080, 'GET', '/metrics'))).toBe(false);
  });

  test('the IP block is authorized by address (except the excluded range), on every request', () => {
    expect(allowed(q(ip('10.20.5.5'), 8080, 'DELETE', '/x'))).toBe(true);
    expect(allowed(q(ip('10.20.1.5'), 8080, 'GET', '/x'))).toBe(false);
    expect(allowed(q(ip('10.30.0.1'), 8080, 'GET', '/x'))).toBe(false);
  });

  test('kubelet probes pass on the probe route; the same path without kubelet\'s User-Agent does not', () => {
    expect(allowed(q(ip('192.168.1.10'), 8080, 'GET', '/healthz', { 'User-Agent': 'kube-probe/1.30' }))).toBe(true);
    expect(allowed(q(ip('192.168.1.10'), 8080, 'GET', '/healthz'))).toBe(false);
    expect(allowed(q(ip('192.168.1.10'), 8080, 'POST', '/healthz', { 'User-Agent': 'kube-probe/1.30' }))).toBe(false);
    // A declared source keeps its own rules on probe paths.
    expect(allowed(q(monitor, 8080, 'GET', '/healthz'))).toBe(false);
  });

  test('gRPC port: only the declared method, only for the declared identity', () => {
    const report = foreign('batch', 'report', true, { app: 'report' });
    expect(allowed(q(report, 9090, 'POST', '/shop.Orders/List'))).toBe(true);
    const res = ev.evaluate(q(report, 9090, 'POST', '/shop.Orders/Delete'));
    expect(res.allowed).toBe(false);
    expect(res.reasons.join()).toMatch(/404/);
    expect(allowed(q(foreign('batch', 'other', true), 9090, 'POST', '/shop.Orders/List'))).toBe(false);
  });

  test('a declared port nobody may reach, and undeclared ports, are refused', () => {
    expect(ev.evaluate(q(admin, 7000)).reasons.join()).toMatch(/nothing authorizes/);
    const undeclared = ev.evaluate(q(admin, 6000));
    expect(undeclared.allowed).toBe(false);
    expect(undeclared.reasons.join()).toMatch(/default inbound policy "deny"/);
    expect(allowed(q(admin, 4143))).toBe(false);
  });

  test('an edited (widened) manifest is caught', () => {
    const widened = objects.map((o) => (o.kind === 'MeshTLSAuthentication' && o.metadata.name === 'api-http-8080-rules-2'
      ? { ...o, spec: { identities: ['*'] } } : o));
    const intruder = foreign('shop', 'intruder', true);
    expect(allowed(q(intruder, 8080, 'GET', '/metrics'))).toBe(false);
    expect(new LinkerdEvaluator(widened).evaluate(q(intruder, 8080, 'GET', '/metrics')).allowed).toBe(true);
    // Dropping an authentication silently disables its AuthorizationPolicy: the reader follows Linkerd.
    const dropped = objects.filter((o) => !(o.kind === 'NetworkAuthentication' && o.metadata.name === 'api-http-8080-networks'));
    expect(new LinkerdEvaluator(dropped).evaluate(q(ip('10.20.5.5'), 8080, 'GET', '/x')).allowed).toBe(false);
  });

  test('routes that tie and decide differently are reported as ambiguous', () => {
    const extra = {
      ...find(objects, 'HTTPRoute', 'api-http-8080-rules-2'),
      metadata: { ...find(objects, 'HTTPRoute', 'api-http-8080-rules-2').metadata, name: 'shadow' },
      spec: { parentRefs: [{ group: 'policy.linkerd.io', kind: 'Server', name: 'api-http-8080' }], rules: [{ matches: [{ path: { type: 'Exact', value: '/metrics' }, method: 'GET' }] }] },
    };
    const res = new LinkerdEvaluator([...objects, extra]).evaluate(q(monitor, 8080, 'GET', '/metrics'));
    expect(res.allowed).toBe(false);
    expect(res.reasons.join()).toMatch(/ambiguous/);
  });
});

describe('the Linkerd reader asks the L3/L4 layer about the port packets really use', () => {
  test('meshed to meshed: the proxy port 4143; from outside the mesh: the app port', () => {
    const app = Testing.app();
    const c = new ZeroTrustChart(app, 'p', { namespace: 'p', mesh: Mesh.linkerd() });
    const db = new SecureWorkload(c, 'db', { image: 'x', ports: [Port.tcp(5432)] });
    const hero = new SecureWorkload(c, 'hero', { image: 'x' });
    db.allowFrom(hero);
    const objects = synthApp(app);
    const asked: Query[] = [];
    const l4: PolicyEvaluator = { backend: 'stub', evaluate: (x) => { asked.push(x); return decision(true, [{ layer: 'networkpolicy', verdict: 'allow', objects: [], detail: 'stub' }]); } };
    const ev = new LinkerdEvaluator(objects, { l4 });
    const dbPod = pod(objects, 'p', 'db');
    expect(ev.evaluate({ source: pod(objects, 'p', 'hero'), destination: dbPod, port: 5432, protocol: 'TCP' }).allowed).toBe(true);
    expect(asked[0].port).toBe(4143);
    expect(ev.evaluate({ source: ip('10.0.0.9'), destination: dbPod, port: 5432, protocol: 'TCP' }).allowed).toBe(false);
    expect(asked[1].port).toBe(5432);
    const deny: PolicyEvaluator = { backend: 'stub', evaluate: () => decision(false, [{ layer: 'networkpolicy', verdict: 'deny', objects: [], detail: 'blocked' }]) };
    expect(new LinkerdEvaluator(objects, { l4: deny }).evaluate({ source: pod(objects, 'p', 'hero'), destination: dbPod, port: 5432, protocol: 'TCP' }).allowed).toBe(false);
  });
});
