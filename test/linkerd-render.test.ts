import { App, Testing } from 'cdk8s';
import { Mesh, Peer, Port, Probe, SecureWorkload, ZeroTrustChart } from '../lib';
import { heroAndLilDeeBee } from '../apps/story';
import { expectValid } from './support/schema';
import { expectSynthError, find, synthApp, storyYaml } from './support/synth';
import { expectError } from './support/errors';

function story(mesh = Mesh.linkerd()): any[] {
  const app = Testing.app();
  heroAndLilDeeBee(app, mesh);
  return synthApp(app);
}

const ALLOWS = 'zero-trust.cdk8s.io/allows';

describe('the story on Linkerd', () => {
  const objects = story();
  const linkerd = objects.filter((o) => o.apiVersion.startsWith('policy.linkerd.io/') || o.apiVersion.startsWith('gateway.networking.k8s.io/'));

  test('every object validates strictly against the upstream Kubernetes, Linkerd and Gateway API schemas', () => {
    expectValid(objects);
  });

  test('the namespace and its pods are meshed and default deny', () => {
    const ns = find(objects, 'Namespace', 'production');
    expect(ns.metadata.annotations).toEqual({ 'linkerd.io/inject': 'enabled', 'config.linkerd.io/default-inbound-policy': 'deny' });
    for (const [kind, name] of [['Deployment', 'hero'], ['StatefulSet', 'lil-deebee']]) {
      expect(find(objects, kind, name).spec.template.metadata.annotations).toEqual({ 'config.linkerd.io/default-inbound-policy': 'deny', 'linkerd.io/inject': 'enabled' });
    }
  });

  test('one Server per workload port, selecting the pods, protocol from the port kind, no route objects without HTTP rules', () => {
    expect(linkerd.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
      'AuthorizationPolicy/hero-http-8080', 'AuthorizationPolicy/lil-deebee-postgres',
      'MeshTLSAuthentication/hero-http-8080', 'MeshTLSAuthentication/lil-deebee-postgres',
      'Server/hero-http-8080', 'Server/lil-deebee-postgres',
    ]);
    const hero = find(objects, 'Server', 'hero-http-8080');
    expect(hero.apiVersion).toBe('policy.linkerd.io/v1beta3');
    expect(hero.spec).toEqual({ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'hero' } }, port: 8080, proxyProtocol: 'HTTP/1', accessPolicy: 'deny' });
    const db = find(objects, 'Server', 'lil-deebee-postgres');
    expect(db.spec).toEqual({ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'lil-deebee' } }, port: 5432, proxyProtocol: 'opaque', accessPolicy: 'deny' });
    for (const o of linkerd) {
      expect(o.metadata.namespace).toBe('production');
      expect(o.metadata.labels['app.kubernetes.io/managed-by']).toBe('cdk8s-zero-trust');
      expect(o.metadata.annotations[ALLOWS]).toBeTruthy();
    }
  });

  test('Lil DeeBee authorizes exactly Hero\'s ServiceAccount on its Server', () => {
    expect(find(objects, 'MeshTLSAuthentication', 'lil-deebee-postgres').spec).toEqual({ identityRefs: [{ kind: 'ServiceAccount', name: 'hero' }] });
    expect(find(objects, 'AuthorizationPolicy', 'lil-deebee-postgres').spec).toEqual({
      targetRef: { group: 'policy.linkerd.io', kind: 'Server', name: 'lil-deebee-postgres' },
      requiredAuthenticationRefs: [{ group: 'policy.linkerd.io', kind: 'MeshTLSAuthentication', name: 'lil-deebee-postgres' }],
    });
    expect(find(objects, 'MeshTLSAuthentication', 'lil-deebee-postgres').metadata.annotations[ALLOWS])
      .toContain('identity hero.production.serviceaccount.identity.linkerd.cluster.local');
  });

  test('the ingress-nginx namespace peer maps to every identity of that namespace (identityRefs kind Namespace)', () => {
    expect(find(objects, 'MeshTLSAuthentication', 'hero-http-8080').spec).toEqual({ identityRefs: [{ kind: 'Namespace', name: 'ingress-nginx' }] });
    expect(find(objects, 'MeshTLSAuthentication', 'hero-http-8080').metadata.annotations[ALLOWS])
      .toContain('identity *.ingress-nginx.serviceaccount.identity.linkerd.cluster.local');
    expect(find(objects, 'AuthorizationPolicy', 'hero-http-8080').spec.targetRef).toEqual({ group: 'policy.linkerd.io', kind: 'Server', name: 'hero-http-8080' });
  });

  test('NetworkPolicy admits the proxy port 4143 beside the app port from declared sources only, the control plane and DNS', () => {
    expect(find(objects, 'NetworkPolicy', 'lil-deebee-ingress').spec.ingress).toEqual([{
      from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'hero' } } }],
      ports: [{ port: 4143 }, { port: 5432 }],
    }]);
    expect(find(objects, 'NetworkPolicy', 'hero-ingress').spec.ingress).toEqual([{
      from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }],
      ports: [{ port: 4143 }, { port: 8080 }],
    }]);
    // Egress to the partner range is not pod-to-pod: no proxy port there.
    expect(find(objects, 'NetworkPolicy', 'hero-egress').spec.egress).toEqual([
      { to: [{ ipBlock: { cidr: '203.0.113.0/24' } }], ports: [{ port: 443 }] },
      { to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'lil-deebee' } } }], ports: [{ port: 4143 }, { port: 5432 }] },
    ]);
    const cp = find(objects, 'NetworkPolicy', 'allow-linkerd-control-plane').spec;
    expect(cp).toEqual({
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [{
        to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'linkerd' } }, podSelector: { matchLabels: { 'linkerd.io/control-plane-ns': 'linkerd' } } }],
        ports: [{ port: 8086 }, { port: 8080 }, { port: 8090 }],
      }],
    });
    expect(find(objects, 'NetworkPolicy', 'default-deny').spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    expect(find(objects, 'NetworkPolicy', 'allow-dns').spec.egress[0].ports).toEqual([{ port: 53, protocol: 'UDP' }, { port: 53 }]);
  });

  test('control-plane namespace and identity domain are configurable', () => {
    const other = story(Mesh.linkerd({ controlPlaneNamespace: 'linkerd-prod', identityDomain: 'prod.example' }));
    expect(find(other, 'NetworkPolicy', 'allow-linkerd-control-plane').spec.egress[0].to).toEqual([{
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'linkerd-prod' } },
      podSelector: { matchLabels: { 'linkerd.io/control-plane-ns': 'linkerd-prod' } },
    }]);
    expect(find(other, 'MeshTLSAuthentication', 'lil-deebee-postgres').metadata.annotations[ALLOWS])
      .toContain('identity hero.production.serviceaccount.identity.linkerd-prod.prod.example');
  });

  test('snapshot, for review', () => {
    expect(objects).toMatchSnapshot();
  });

  test('two synths give identical bytes', () => {
    expect(storyYaml(Mesh.linkerd())).toBe(storyYaml(Mesh.linkerd()));
  });
});

/** An API with HTTP rules, every kind of source, a gRPC port and a UDP port. */
function l7App(): App {
  const app = Testing.app();
  const shop = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: Mesh.linkerd() });
  const ops = new ZeroTrustChart(app, 'ops', { namespace: 'ops', mesh: Mesh.linkerd() });
  const api = new SecureWorkload(shop, 'api', {
    image: 'api:1', ports: [Port.http(8080), Port.grpc(9090), Port.udp(5353, 'dns-ish')],
    readiness: Probe.fromHttpGet('/readyz'), liveness: Probe.fromHttpGet('/livez', { port: 8080 }),
  });
  const web = new SecureWorkload(shop, 'web', { image: 'web:1', serviceAccountName: 'web-sa' });
  const admin = new SecureWorkload(shop, 'admin', { image: 'admin:1' });
  const monitor = new SecureWorkload(ops, 'monitor', { image: 'monitor:1' });
  api.allowFrom(web, { ports: [Port.http(8080)], http: [{ methods: ['GET', 'HEAD'], paths: ['/api/*'] }, { methods: ['POST'], paths: ['/api/orders'] }] });
  api.allowFrom(monitor, { ports: [Port.http(8080)], http: [{ methods: ['GET'], paths: ['/metrics'] }] });
  api.allowFrom(admin, { ports: [Port.http(8080)] });
  api.allowFrom(Peer.ipBlock('10.20.0.0/16', ['10.20.1.0/24']), { ports: [Port.http(8080)] });
  api.allowFrom(Peer.workload({ namespace: 'batch', labels: { app: 'report' }, serviceAccount: 'report' }), { ports: [Port.grpc(9090)], http: [{ paths: ['/shop.Orders/List'] }] });
  api.allowFrom(web, { ports: [Port.udp(5353, 'dns-ish')] });
  return app;
}

describe('HTTP rules on Linkerd', () => {
  const objects = synthApp(l7App());
  const shop = objects.filter((o) => o.metadata?.namespace === 'shop');

  test('every object validates strictly against the upstream schemas', () => {
    expectValid(objects);
  });

  test('an HTTP port with rules: the rule group becomes an HTTPRoute on the Server, authorized on the route', () => {
    const route = find(shop, 'HTTPRoute', 'api-http-8080-rules-2');
    // Linkerd's own HTTPRoute (linkerd-crds); the Gateway API CRDs are not installed by Linkerd 2.20.
    expect(route.apiVersion).toBe('policy.linkerd.io/v1beta3');
    expect(route.spec.parentRefs).toEqual([{ group: 'policy.linkerd.io', kind: 'Server', name: 'api-http-8080' }]);
    expect(route.spec.rules).toEqual([{ matches: [{ path: { type: 'Exact', value: '/metrics' }, method: 'GET' }] }]);
    expect(find(shop, 'MeshTLSAuthentication', 'api-http-8080-rules-2').spec).toEqual({ identityRefs: [{ kind: 'ServiceAccount', name: 'monitor', namespace: 'ops' }] });
    expect(find(shop, 'AuthorizationPolicy', 'api-http-8080-rules-2').spec.targetRef).toEqual({ group: 'policy.linkerd.io', kind: 'HTTPRoute', name: 'api-http-8080-rules-2' });

    const webRoute = find(shop, 'HTTPRoute', 'api-http-8080-rules-1');
    // Prefixes are regular expressions: Gateway API PathPrefix /api/ would also match "/api" itself.
    expect(webRoute.spec.rules).toEqual([
      { matches: [{ path: { type: 'RegularExpression', value: '/api/.*' }, method: 'GET' }, { path: { type: 'RegularExpression', value: '/api/.*' }, method: 'HEAD' }] },
      { matches: [{ path: { type: 'Exact', value: '/api/orders' }, method: 'POST' }] },
    ]);
    expect(find(shop, 'MeshTLSAuthentication', 'api-http-8080-rules-1').spec).toEqual({ identityRefs: [{ kind: 'ServiceAccount', name: 'web-sa' }] });
  });

  test('sources allowed every request stay on the Server, with a catch-all route so requests outside the rules still find one', () => {
    expect(find(shop, 'AuthorizationPolicy', 'api-http-8080').spec.targetRef).toEqual({ group: 'policy.linkerd.io', kind: 'Server', name: 'api-http-8080' });
    expect(find(shop, 'MeshTLSAuthentication', 'api-http-8080').spec).toEqual({ identityRefs: [{ kind: 'ServiceAccount', name: 'admin' }] });
    expect(find(shop, 'HTTPRoute', 'api-http-8080-any').spec.rules).toEqual([{ matches: [{ path: { type: 'PathPrefix', value: '/' } }] }]);
    expect(shop.some((o) => o.kind === 'AuthorizationPolicy' && o.spec.targetRef.name === 'api-http-8080-any')).toBe(false);
  });

  test('an IP block is a NetworkAuthentication (unauthenticated, by address)', () => {
    expect(find(shop, 'NetworkAuthentication', 'api-http-8080-networks').spec).toEqual({ networks: [{ cidr: '10.20.0.0/16', except: ['10.20.1.0/24'] }] });
    expect(find(shop, 'AuthorizationPolicy', 'api-http-8080-networks').spec.requiredAuthenticationRefs).toEqual([{ group: 'policy.linkerd.io', kind: 'NetworkAuthentication', name: 'api-http-8080-networks' }]);
    expect(find(shop, 'NetworkAuthentication', 'api-http-8080-networks').metadata.annotations[ALLOWS]).toContain('unauthenticated');
  });

  test('kubelet probes keep a route of their own on Servers with routes, outranking every other route', () => {
    const probes = find(shop, 'HTTPRoute', 'api-http-8080-probes');
    // Exactly the pod template's own httpGet probe paths on that port.
    expect(probes.spec.rules[0].matches).toEqual(['/livez', '/readyz'].map((value) => ({
      path: { type: 'Exact', value },
      headers: [{ type: 'RegularExpression', name: 'User-Agent', value: 'kube-probe/.*' }],
      method: 'GET',
    })));
    expect(find(shop, 'AuthorizationPolicy', 'api-http-8080-probes').spec.requiredAuthenticationRefs).toEqual([{ group: 'policy.linkerd.io', kind: 'NetworkAuthentication', name: 'kubelet-probes' }]);
    expect(find(shop, 'NetworkAuthentication', 'kubelet-probes').spec).toEqual({ networks: [{ cidr: '0.0.0.0/0' }, { cidr: '::/0' }] });
  });

  test('gRPC with rules is served as HTTP/2 so HTTPRoutes apply; cross-namespace identities carry their namespace', () => {
    expect(find(shop, 'Server', 'api-grpc-9090').spec.proxyProtocol).toBe('HTTP/2');
    expect(find(shop, 'HTTPRoute', 'api-grpc-9090-rules-1').spec.rules).toEqual([{ matches: [{ path: { type: 'Exact', value: '/shop.Orders/List' } }] }]);
    expect(find(shop, 'MeshTLSAuthentication', 'api-grpc-9090-rules-1').spec).toEqual({ identityRefs: [{ kind: 'ServiceAccount', name: 'report', namespace: 'batch' }] });
    expect(shop.some((o) => o.metadata.name === 'api-grpc-9090-any')).toBe(false);
  });

  test('UDP is not proxied by Linkerd: no Server, the NetworkPolicy layer alone admits it (and no proxy port 4143 for a UDP-only flow)', () => {
    expect(shop.some((o) => o.kind === 'Server' && o.spec.port === 5353)).toBe(false);
    expect(find(shop, 'NetworkPolicy', 'api-ingress').spec.ingress).toContainEqual({
      from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'web' } } }],
      ports: [{ port: 5353, protocol: 'UDP' }],
    });
  });

  test('ports nobody may reach still get a Server, with no authorization', () => {
    const app = Testing.app();
    const c = new ZeroTrustChart(app, 'c', { namespace: 'c', mesh: Mesh.linkerd() });
    new SecureWorkload(c, 'lonely', { image: 'x', ports: [Port.grpc(9000)] });
    const out = synthApp(app);
    expect(find(out, 'Server', 'lonely-grpc-9000').spec.proxyProtocol).toBe('gRPC');
    expect(out.filter((o) => o.kind === 'AuthorizationPolicy')).toEqual([]);
  });

  test('a pod template without probes gets no probe route (nothing unauthenticated is opened)', () => {
    const app = Testing.app();
    const c = new ZeroTrustChart(app, 'c', { namespace: 'c', mesh: Mesh.linkerd() });
    const a = new SecureWorkload(c, 'a', { image: 'x', ports: [Port.http(80)] });
    const b = new SecureWorkload(c, 'b', { image: 'x' });
    a.allowFrom(b, { http: [{ methods: ['GET'] }] });
    const out = synthApp(app);
    expect(out.filter((o) => o.metadata.name.endsWith('-probes') || o.kind === 'NetworkAuthentication')).toEqual([]);
    expect(find(out, 'HTTPRoute', 'a-http-80-rules-1').spec.rules).toEqual([{ matches: [{ path: { type: 'PathPrefix', value: '/' }, method: 'GET' }] }]);
  });
});

describe('intent Linkerd cannot enforce fails at synth', () => {
  function app(): { app: App; a: SecureWorkload; b: SecureWorkload; c: SecureWorkload } {
    const a0 = Testing.app();
    const chart = new ZeroTrustChart(a0, 'p', { namespace: 'p', mesh: Mesh.linkerd() });
    return {
      app: a0,
      a: new SecureWorkload(chart, 'a', { image: 'x', ports: [Port.http(80)], readiness: Probe.fromHttpGet('/healthz') }),
      b: new SecureWorkload(chart, 'b', { image: 'x' }),
      c: new SecureWorkload(chart, 'c', { image: 'x' }),
    };
  }

  test('a host name allowed to some workloads of a namespace would be widened by the namespace-wide EgressNetwork', () => {
    const { app: a0, b } = app();
    b.allowTo(Peer.fqdn('api.example.com'), { ports: [Port.tcp(443)] });
    expectSynthError(a0, '[linkerd] p/b.allowTo(fqdn:api.example.com)', 'EgressNetwork applies to every workload of namespace p', 'a, c', 'Peer.ipBlock()');
  });

  test('a host name allowed to every workload still cannot be enforced at L3/L4', () => {
    const a0 = Testing.app();
    const chart = new ZeroTrustChart(a0, 'p', { namespace: 'p', mesh: Mesh.linkerd() });
    new SecureWorkload(chart, 'b', { image: 'x' }).allowTo(Peer.fqdn('api.example.com'), { ports: [Port.tcp(443)] });
    expectSynthError(a0, '[linkerd] p/b.allowTo(fqdn:api.example.com)', 'NetworkPolicy cannot match host names');
  });

  test('Peer.workload without a ServiceAccount has no identity', () => {
    const { app: a0, a } = app();
    a.allowFrom(Peer.workload({ namespace: 'other', labels: { app: 'x' } }));
    expectSynthError(a0, '[linkerd] p/a.allowFrom(other/{app=x})', 'ServiceAccount', 'unknown');
  });

  test('HTTP rules of different sources that overlap on one port', () => {
    const { app: a0, a, b, c } = app();
    a.allowFrom(b, { http: [{ methods: ['GET'], paths: ['/api/*'] }] });
    a.allowFrom(c, { http: [{ paths: ['/api/users'] }] });
    expectSynthError(a0, '[linkerd]', 'p/a.allowFrom(p/c)', 'overlap those of p/a.allowFrom(p/b)', 'exactly one HTTPRoute');
  });

  test('the same rules for two sources share one route', () => {
    const { app: a0, a, b, c } = app();
    a.allowFrom(b, { http: [{ methods: ['GET'], paths: ['/api/*'] }] });
    a.allowFrom(c, { http: [{ methods: ['GET'], paths: ['/api/*'] }] });
    const out = synthApp(a0);
    expect(find(out, 'MeshTLSAuthentication', 'a-http-80-rules-1').spec.identityRefs).toEqual([{ kind: 'ServiceAccount', name: 'b' }, { kind: 'ServiceAccount', name: 'c' }]);
    expect(out.filter((o) => o.kind === 'HTTPRoute').map((o) => o.metadata.name)).toEqual(['a-http-80-rules-1', 'a-http-80-probes']);
  });

  test('a rule for "/" with any method beside sources allowed everything would tie with the catch-all route', () => {
    const { app: a0, a, b, c } = app();
    a.allowFrom(b, { http: [{ paths: ['/'] }] });
    a.allowFrom(c);
    expectSynthError(a0, '[linkerd] p/a.allowFrom(p/b)', 'catch-all');
  });

  test('bad props fail where they are written', () => {
    expectError(() => Mesh.linkerd({ identityDomain: 'Not A Domain' }), 'INVALID_NAME', /identityDomain/);
    expectError(() => Mesh.linkerd({ controlPlaneNamespace: 'x_y' }), 'INVALID_NAME', /controlPlaneNamespace/);
    expectError(() => Mesh.linkerd({ probePaths: ['/healthz'] } as any), 'INVALID_MESH_PROPS', /probePaths is gone/);
    expectError(() => Mesh.linkerd({ probeNetworks: [] }), 'INVALID_MESH_PROPS', /probeNetworks/);
  });
});
