/**
 * Issue 18: the output works in a real cluster (GitOps apply, probes, DNS, namespaces managed
 * elsewhere) and opens nothing beyond the intent.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Testing } from 'cdk8s';
import * as YAML from 'yaml';
import * as plus from 'cdk8s-plus-30';
import { CiliumMutualAuth, IstioMode, LinkerdHttpRoutes, Mesh, Peer, Port, Probe, SecureWorkload, WorkloadKind, ZeroTrustChart } from '../lib';
import { expectValid } from './support/schema';
import { synthApp } from './support/synth';
import { IstioEvaluator } from '../lib/verify/istio';
import { LinkerdEvaluator } from '../lib/verify/linkerd';
import { inventory } from '../lib/verify/inventory';
import { readerFor } from '../lib/verify/readers';
import { Endpoint } from '../lib/verify/types';

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

describe('namespaces managed elsewhere (createNamespace: false): the pods enrol themselves', () => {
  const elsewhere = (mesh: Mesh) => {
    const app = Testing.app();
    const c = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh, createNamespace: false });
    const api = new SecureWorkload(c, 'api', { image: 'api', ports: [Port.http(8080)] });
    api.allowFrom(new SecureWorkload(c, 'web', { image: 'web' }));
    return app;
  };
  const podLabels = (objects: any[]) => objects.filter((o) => o.kind === 'Deployment').map((d) => d.spec.template.metadata.labels);

  test.each([
    ['istio', () => Mesh.istio(), { 'sidecar.istio.io/inject': 'true' }],
    ['istio with a revision', () => Mesh.istio({ revision: 'canary' }), { 'istio.io/rev': 'canary' }],
    ['istio-ambient', () => Mesh.istio({ mode: IstioMode.AMBIENT }), { 'istio.io/dataplane-mode': 'ambient' }],
    ['kuma', () => Mesh.kuma({ meshName: 'payments', createMesh: false }), { 'kuma.io/sidecar-injection': 'enabled', 'kuma.io/mesh': 'payments' }],
  ] as const)('%s: enrolment labels on every pod template', (_name, mesh, labels) => {
    const objects = synthApp(elsewhere(mesh()));
    expect(objects.some((o) => o.kind === 'Namespace')).toBe(false);
    for (const l of podLabels(objects)) expect(l).toMatchObject(labels);
    expectValid(objects);
  });

  test.each([
    ['istio', () => Mesh.istio()], ['istio-ambient', () => Mesh.istio({ mode: IstioMode.AMBIENT })],
    ['kuma', () => Mesh.kuma()], ['linkerd', () => Mesh.linkerd()],
  ] as const)('%s: read back with a bare namespace, web reaches api and a plaintext pod with the labels of web does not', (id, mesh) => {
    const objects = synthApp(elsewhere(mesh()));
    const manifests = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { 'kubernetes.io/metadata.name': 'shop' } } }, ...objects];
    const reader = readerFor(manifests, { backend: id });
    const pods = inventory(manifests).workloads;
    const api = pods.find((p) => p.labels?.['app.kubernetes.io/name'] === 'api')!;
    const web = pods.find((p) => p.labels?.['app.kubernetes.io/name'] === 'web')!;
    // web's labels and ServiceAccount but not its enrolment: plaintext, which only an enrolled api refuses.
    const plain = Object.fromEntries(Object.entries(web.labels ?? {}).filter(([k]) => !/^(sidecar\.istio\.io|istio\.io|kuma\.io)\//.test(k)));
    const intruder: Endpoint = { ...web, id: 'shop/intruder', labels: plain, annotations: {}, workload: undefined };
    expect(reader.evaluate({ source: web, destination: api, port: 8080, protocol: 'TCP' }).allowed).toBe(true);
    expect(reader.evaluate({ source: intruder, destination: api, port: 8080, protocol: 'TCP' }).allowed).toBe(false);
  });

  test('a chart that emits its Namespace keeps enrolment on the Namespace only', () => {
    const app = Testing.app();
    const c = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: Mesh.istio() });
    new SecureWorkload(c, 'api', { image: 'api' });
    expect(podLabels(synthApp(app))[0]['sidecar.istio.io/inject']).toBeUndefined();
  });

  test('the Istio reader enrols pods by their own labels in a bare namespace', () => {
    const reader = new IstioEvaluator([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { 'kubernetes.io/metadata.name': 'shop' } } }]);
    const pod = (labels: { [k: string]: string }): Endpoint => ({ id: 'shop/p', kind: 'pod', namespace: 'shop', labels, serviceAccount: 'p' });
    expect(reader.dataPlane(pod({}))).toBeUndefined();
    expect(reader.dataPlane(pod({ 'sidecar.istio.io/inject': 'true' }))).toBe('sidecar');
    expect(reader.dataPlane(pod({ 'istio.io/dataplane-mode': 'ambient' }))).toBe('ambient');
  });

  test('Cilium ztunnel enrols only by namespace label: refused', () => {
    expect(codeOf(() => synthApp(elsewhere(Mesh.cilium({ mutualAuth: CiliumMutualAuth.ZTUNNEL }))))).toBe('NAMESPACE_ENROLMENT_NEEDED');
  });
});

describe('Linkerd probe routes come from the pod template', () => {
  const build = (probes: { created?: boolean; adopted?: boolean }) => {
    const app = Testing.app();
    const c = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: Mesh.linkerd({ probeNetworks: ['10.0.0.0/16'] }) });
    const web = new SecureWorkload(c, 'web', { image: 'web' });
    const api = new SecureWorkload(c, 'api', {
      image: 'api', ports: [Port.http(8080)],
      ...(probes.created ? { readiness: Probe.fromHttpGet('/actuator/health/readiness'), liveness: Probe.fromHttpGet('/actuator/health/liveness') } : {}),
    });
    api.allowFrom(web, { http: [{ methods: ['GET'], paths: ['/api/*'] }] });
    const sa = new plus.ServiceAccount(c, 'legacy-sa', { metadata: { name: 'legacy' } });
    const d = new plus.Deployment(c, 'legacy-deployment', {
      serviceAccount: sa,
      containers: [{
        image: 'legacy', ports: [{ number: 9000, name: 'http-api' }], securityContext: { ensureNonRoot: false },
        ...(probes.adopted ? { readiness: plus.Probe.fromHttpGet('/ping', { port: 9000 }) } : {}),
      }],
    });
    const legacy = new SecureWorkload(c, 'legacy', { workload: d });
    legacy.allowFrom(web, { http: [{ methods: ['POST'] }] });
    return synthApp(app);
  };
  const probeRoute = (objects: any[], name: string) => objects.find((o) => o.kind === 'HTTPRoute' && o.metadata.name === name);

  test('created and adopted workloads: exactly their httpGet probe paths, from probeNetworks', () => {
    const objects = build({ created: true, adopted: true });
    expectValid(objects);
    const created = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'api').spec.template.spec.containers[0];
    expect(created.readinessProbe).toEqual({ httpGet: { path: '/actuator/health/readiness', port: 8080 } });
    const paths = (r: any) => r.spec.rules.flatMap((x: any) => x.matches.map((m: any) => m.path.value));
    expect(paths(probeRoute(objects, 'api-http-8080-probes'))).toEqual(['/actuator/health/liveness', '/actuator/health/readiness']);
    expect(paths(probeRoute(objects, 'legacy-http-api-probes'))).toEqual(['/ping']);
    expect(objects.find((o) => o.kind === 'NetworkAuthentication' && o.metadata.name === 'kubelet-probes').spec.networks).toEqual([{ cidr: '10.0.0.0/16' }]);
    // The Linkerd reader (its L7 layer: kubelet's traffic from the node is not subject to
    // NetworkPolicy): the probe passes from the node network, the same request without kubelet's
    // User-Agent, from elsewhere or on another path does not.
    const reader = new LinkerdEvaluator(objects);
    const api = inventory(objects).workloads.find((p) => p.labels?.['app.kubernetes.io/name'] === 'api')!;
    const node = (ip: string): Endpoint => ({ id: `ip:${ip}`, kind: 'ip', ip });
    const ask = (src: Endpoint, path: string, ua?: string) => reader.evaluate({
      source: src, destination: api, port: 8080, protocol: 'TCP',
      http: { method: 'GET', path, ...(ua ? { headers: { 'User-Agent': ua } } : {}) },
    } as any).allowed;
    expect(ask(node('10.0.3.4'), '/actuator/health/readiness', 'kube-probe/1.30')).toBe(true);
    expect(ask(node('10.0.3.4'), '/actuator/health/readiness')).toBe(false);
    expect(ask(node('192.0.2.1'), '/actuator/health/readiness', 'kube-probe/1.30')).toBe(false);
    expect(ask(node('10.0.3.4'), '/healthz', 'kube-probe/1.30')).toBe(false);
  });

  test('no probes: no probe route, no unauthenticated NetworkAuthentication', () => {
    const objects = build({});
    expect(objects.filter((o) => o.metadata.name.endsWith('-probes') || o.kind === 'NetworkAuthentication')).toEqual([]);
  });

  test('a probe on a port the workload does not declare is refused', () => {
    const app = Testing.app();
    const c = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: Mesh.linkerd() });
    expect(codeOf(() => new SecureWorkload(c, 'api', { image: 'api', ports: [Port.http(8080)], readiness: Probe.fromHttpGet('/r', { port: 9999 }) }))).toBe('INVALID_PROBE');
  });
});

describe('every output folder builds with kustomize, with several charts per app', () => {
  const kubectl = (() => {
    try {
      execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

  test.each([
    ['networkpolicy', () => Mesh.networkPolicy()], ['istio', () => Mesh.istio()], ['istio-ambient', () => Mesh.istio({ mode: IstioMode.AMBIENT })],
    ['linkerd', () => Mesh.linkerd()], ['cilium', () => Mesh.cilium({ spiffeIds: {} })], ['kuma', () => Mesh.kuma()], ['nsm', () => Mesh.networkServiceMesh()],
  ] as const)('%s', (_id, mesh) => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'zt-kustomize-'));
    try {
      const app = new App({ outdir });
      const m = mesh();
      const shop = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: m });
      const payments = new ZeroTrustChart(app, 'payments', { namespace: 'payments', mesh: m });
      const data = new ZeroTrustChart(app, 'data', { namespace: 'data', mesh: m });
      const web = new SecureWorkload(shop, 'web', { image: 'web', ports: [Port.http(8080)], readiness: Probe.fromHttpGet('/ready') });
      const ledger = new SecureWorkload(payments, 'ledger', { image: 'ledger', ports: [Port.http(8080)] });
      const db = new SecureWorkload(data, 'db', { image: 'postgres:16', kind: WorkloadKind.STATEFUL_SET, ports: [Port.tcp(5432, 'postgres')] });
      ledger.allowFrom(web, { ports: [Port.http(8080)] });
      db.allowFrom(ledger);
      app.synth();
      const files = fs.readdirSync(outdir).filter((f) => f.endsWith('.yaml')).sort();
      expect(files.length).toBe(3);
      // Objects are unique by group, kind, namespace and name across the folder (what kustomize requires).
      const ids = files.flatMap((f) => YAML.parseAllDocuments(fs.readFileSync(path.join(outdir, f), 'utf8')).map((d) => d.toJSON()))
        .filter((o: any) => o).map((o: any) => `${o.apiVersion.split('/').slice(0, -1).join('/')}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
      expect(ids.filter((x, i) => ids.indexOf(x) !== i)).toEqual([]);
      if (kubectl) {
        fs.writeFileSync(path.join(outdir, 'kustomization.yaml'), `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n${files.map((f) => `  - ${f}`).join('\n')}\n`);
        const built = execFileSync('kubectl', ['kustomize', outdir], { encoding: 'utf8' });
        expect(YAML.parseAllDocuments(built).length).toBe(ids.length);
      }
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });
});
