/**
 * Issue 18: the output works in a real cluster (GitOps apply, probes, DNS, namespaces managed
 * elsewhere) and opens nothing beyond the intent.
 */
import { App, Testing } from 'cdk8s';
import * as plus from 'cdk8s-plus-30';
import { IstioMode, LinkerdHttpRoutes, Mesh, Peer, Port, SecureWorkload, WorkloadKind, ZeroTrustChart } from '../lib';
import { expectValid } from './support/schema';
import { synthApp } from './support/synth';

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (e) {
    const err = e as { code?: string; problems?: Array<{ code?: string }> };
    return err.code === 'SYNTH_FAILED' ? (err.problems ?? []).map((p) => p.code).join(',') : err.code;
  }
}

describe('cluster-scoped objects are emitted once per app', () => {
  test('Kuma: several charts on one mesh emit the Mesh once, in the first chart', () => {
    const app = Testing.app();
    const charts = ['shop', 'payments', 'batch'].map((ns) => new ZeroTrustChart(app, ns, { namespace: ns, mesh: Mesh.kuma() }));
    const [shop, payments, batch] = charts.map((c) => new SecureWorkload(c, 'app', { image: 'app', ports: [Port.http(8080)] }));
    payments.allowFrom(shop);
    batch.allowTo(payments);
    const perChart = app.charts.map((c) => Testing.synth(c).filter((o: any) => o.kind === 'Mesh').length);
    expect(perChart).toEqual([1, 0, 0]);
    expectValid(synthApp(app));
  });

  test('two charts rendering different cluster-scoped objects under one name are refused', () => {
    const app = Testing.app();
    // ClusterSPIFFEID names are <namespace>-<workload>: a-b/c and a/b-c both make "a-b-c".
    const one = new ZeroTrustChart(app, 'one', { namespace: 'a-b', mesh: Mesh.cilium({ spiffeIds: {} }) });
    const two = new ZeroTrustChart(app, 'two', { namespace: 'a', mesh: Mesh.cilium({ spiffeIds: {} }) });
    new SecureWorkload(one, 'c', { image: 'c' });
    new SecureWorkload(two, 'b-c', { image: 'b' });
    expect(codeOf(() => synthApp(app))).toBe('CLUSTER_OBJECT_CONFLICT');
  });
});

export { App, Peer };

describe('Linkerd HTTPRoutes need no Gateway API CRDs', () => {
  const routesApp = (mesh: Mesh, paths: string[]) => {
    const app = Testing.app();
    const c = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh });
    const api = new SecureWorkload(c, 'api', { image: 'api', ports: [Port.http(8080)] });
    api.allowFrom(new SecureWorkload(c, 'web', { image: 'web' }), { http: [{ methods: ['GET'], paths }] });
    return synthApp(app);
  };

  test('policy.linkerd.io/v1beta3 by default (linkerd-crds); more than 8 matches are split into rules of 8', () => {
    const paths = Array.from({ length: 11 }, (_, i) => `/p${i}`);
    const objects = routesApp(Mesh.linkerd(), paths);
    expectValid(objects);
    const routes = objects.filter((o) => o.kind === 'HTTPRoute');
    expect(routes.map((r) => r.apiVersion)).toEqual(routes.map(() => 'policy.linkerd.io/v1beta3'));
    const rules = routes.find((r) => r.metadata.name === 'api-http-8080-rules-1').spec.rules;
    expect(rules.map((r: any) => r.matches.length)).toEqual([8, 3]);
    const authz = objects.find((o) => o.kind === 'AuthorizationPolicy' && o.metadata.name === 'api-http-8080-rules-1');
    expect(authz.spec.targetRef.group).toBe('policy.linkerd.io');
  });

  test('LinkerdHttpRoutes.GATEWAY_API writes gateway.networking.k8s.io/v1 routes (the Gateway API CRDs are a prerequisite)', () => {
    const objects = routesApp(Mesh.linkerd({ httpRoutes: LinkerdHttpRoutes.GATEWAY_API }), ['/a']);
    expectValid(objects);
    const routes = objects.filter((o) => o.kind === 'HTTPRoute');
    expect(routes.length).toBeGreaterThan(0);
    for (const r of routes) expect(r.apiVersion).toBe('gateway.networking.k8s.io/v1');
    const authz = objects.find((o) => o.kind === 'AuthorizationPolicy' && o.metadata.name === 'api-http-8080-rules-1');
    expect(authz.spec.targetRef.group).toBe('gateway.networking.k8s.io');
  });

  test('an unknown httpRoutes value is refused', () => {
    expect(codeOf(() => Mesh.linkerd({ httpRoutes: 'gateway' as any }))).toBe('INVALID_MESH_PROPS');
  });
});

describe('mesh tunnel ports are opened for TCP flows only', () => {
  test.each([
    ['istio-ambient', 15008, () => Mesh.istio({ mode: IstioMode.AMBIENT })],
    ['linkerd', 4143, () => Mesh.linkerd()],
  ] as const)('%s: a UDP-only flow opens no tunnel port (%i)', (_id, port, mesh) => {
    const app = Testing.app();
    const c = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: mesh() });
    const dns = new SecureWorkload(c, 'resolver', { image: 'r', ports: [Port.udp(5353, 'mdns'), Port.tcp(9000, 'admin')] });
    const client = new SecureWorkload(c, 'client', { image: 'c' });
    const admin = new SecureWorkload(c, 'admin', { image: 'a' });
    dns.allowFrom(client, { ports: [Port.udp(5353, 'mdns')] });
    dns.allowFrom(admin, { ports: [Port.tcp(9000, 'admin')] });
    const objects = synthApp(app);
    expectValid(objects);
    const ingress = objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'resolver-ingress').spec.ingress;
    const portsFrom = (who: string) => ingress.filter((r: any) => JSON.stringify(r.from).includes(`"${who}"`)).flatMap((r: any) => r.ports.map((p: any) => `${p.port}/${p.protocol ?? 'TCP'}`)).sort();
    expect(portsFrom('client')).toEqual(['5353/UDP']);
    expect(portsFrom('admin')).toEqual([`${port}/TCP`, '9000/TCP'].sort());
  });
});

describe('StatefulSets', () => {
  test('the governing Service is headless on every backend; Deployments keep a ClusterIP Service', () => {
    for (const mesh of [Mesh.networkPolicy(), Mesh.istio(), Mesh.istio({ mode: IstioMode.AMBIENT }), Mesh.linkerd(), Mesh.cilium(), Mesh.kuma(), Mesh.networkServiceMesh()]) {
      const app = Testing.app();
      const c = new ZeroTrustChart(app, 'data', { namespace: 'data', mesh });
      const db = new SecureWorkload(c, 'db', { image: 'postgres:16', kind: WorkloadKind.STATEFUL_SET, ports: [Port.tcp(5432, 'postgres')] });
      db.allowFrom(new SecureWorkload(c, 'api', { image: 'api', ports: [Port.http(8080)] }));
      const objects = synthApp(app);
      expectValid(objects);
      const sts = objects.find((o) => o.kind === 'StatefulSet');
      const svc = objects.find((o) => o.kind === 'Service' && o.metadata.name === sts.spec.serviceName);
      expect([mesh.id, svc.spec.clusterIP]).toEqual([mesh.id, 'None']);
      expect(objects.find((o) => o.kind === 'Service' && o.metadata.name === 'api').spec.clusterIP).toBeUndefined();
    }
  });

  test('ambient: HTTP rules to a StatefulSet are refused (clients reach its pod addresses, which the Service waypoint does not serve)', () => {
    const app = Testing.app();
    const c = new ZeroTrustChart(app, 'data', { namespace: 'data', mesh: Mesh.istio({ mode: IstioMode.AMBIENT }) });
    const db = new SecureWorkload(c, 'search', { image: 'search', kind: WorkloadKind.STATEFUL_SET, ports: [Port.http(9200)] });
    db.allowFrom(new SecureWorkload(c, 'api', { image: 'api' }), { http: [{ methods: ['GET'] }] });
    expect(codeOf(() => synthApp(app))).toBe('AMBIENT_L7_HEADLESS');
  });
});

describe('adopted workloads that already have a Service', () => {
  const adopted = (service?: boolean) => {
    const app = Testing.app();
    const c = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: Mesh.networkPolicy() });
    const sa = new plus.ServiceAccount(c, 'sa', { metadata: { name: 'web' } });
    const d = new plus.Deployment(c, 'web-deployment', { serviceAccount: sa, containers: [{ image: 'web', portNumber: 8080, securityContext: { ensureNonRoot: false } }] });
    d.exposeViaService({ name: 'web', ports: [{ port: 8080 }] });
    const web = new SecureWorkload(c, 'web', { workload: d, ...(service !== undefined ? { service } : {}) });
    web.allowFrom(Peer.namespace('ingress-nginx'));
    return app;
  };

  test('a second Service of the same name is refused, naming the way out (service: false)', () => {
    let message = '';
    try { synthApp(adopted()); } catch (e) { message = (e as Error).message; }
    expect(codeOf(() => synthApp(adopted()))).toBe('SERVICE_ALREADY_EXISTS');
    expect(message).toContain('service: false');
  });

  test('service: false keeps the existing Service and emits no other', () => {
    const objects = synthApp(adopted(false));
    expect(objects.filter((o) => o.kind === 'Service').map((o) => o.metadata.name)).toEqual(['web']);
  });
});
