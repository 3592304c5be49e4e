import { App, Testing } from 'cdk8s';
import { Dns, Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { CiliumMutualAuth } from '../lib/meshes/cilium';
import { ciliumHttpRules, escapeEre, methodRegex, pathRegex } from '../lib/meshes/cilium/http';
import { heroAndLilDeeBee } from '../apps/story';
import { expectValid } from './support/schema';
import { CiliumPolicyEvaluator } from '../lib/verify/cilium';
import { Endpoint } from '../lib/verify/types';
import { expectSynthError, find, synthApp, storyYaml } from './support/synth';
import { expectError } from './support/errors';

function story(mesh: Mesh = Mesh.cilium({ mutualAuth: CiliumMutualAuth.SPIRE })): any[] {
  const app = Testing.app();
  heroAndLilDeeBee(app, mesh);
  return synthApp(app);
}

const auth = { authentication: { mode: 'required' } };

describe('the story on Cilium (SPIRE mutual auth, chosen explicitly)', () => {
  const objects = story();
  const cnps = objects.filter((o) => o.kind === 'CiliumNetworkPolicy');

  test('every object validates strictly against its upstream schema', () => {
    expectValid(objects);
  });

  test('one baseline and one policy per workload; no Kubernetes NetworkPolicy', () => {
    expect(cnps.map((p) => p.metadata.name).sort()).toEqual(['default-deny', 'hero', 'lil-deebee']);
    expect(objects.filter((o) => o.kind === 'NetworkPolicy')).toEqual([]);
    for (const p of cnps) {
      expect(p.apiVersion).toBe('cilium.io/v2');
      expect(p.metadata.namespace).toBe('production');
      expect(p.metadata.labels['app.kubernetes.io/managed-by']).toBe('cdk8s-zero-trust');
      expect(p.metadata.annotations['zero-trust.cdk8s.io/allows']).toBeTruthy();
      expect(p.spec.enableDefaultDeny).toEqual({ ingress: true, egress: true });
      // An empty rule {} would allow everything in Cilium: never emitted.
      for (const r of [...(p.spec.ingress ?? []), ...(p.spec.egress ?? [])]) expect(Object.keys(r)).not.toEqual([]);
    }
  });

  test('the baseline closes every pod both ways and keeps only DNS to kube-dns open, through the DNS proxy', () => {
    const base = find(cnps, 'CiliumNetworkPolicy', 'default-deny').spec;
    expect(base.endpointSelector).toEqual({});
    expect(base.enableDefaultDeny).toEqual({ ingress: true, egress: true });
    // An ingress rule is what closes ingress; "none" selects nothing.
    expect(base.ingress).toEqual([{ fromEntities: ['none'] }]);
    expect(base.egress).toEqual([{
      toEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'kube-system', 'k8s:k8s-app': 'kube-dns' } }],
      toPorts: [{ ports: [{ port: '53', protocol: 'UDP' }, { port: '53', protocol: 'TCP' }], rules: { dns: [{ matchPattern: '*' }] } }],
    }]);
  });

  test('Lil DeeBee hears only from Hero (labels and ServiceAccount), only on 5432, authenticated', () => {
    const p = find(cnps, 'CiliumNetworkPolicy', 'lil-deebee');
    expect(p.spec.endpointSelector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'lil-deebee' } });
    expect(p.spec.ingress).toEqual([{
      fromEndpoints: [{ matchLabels: { 'app.kubernetes.io/name': 'hero', 'k8s:io.cilium.k8s.policy.serviceaccount': 'hero' } }],
      toPorts: [{ ports: [{ port: '5432', protocol: 'TCP' }] }],
      ...auth,
    }]);
    expect(p.spec.egress).toBeUndefined();
    expect(p.metadata.annotations['zero-trust.cdk8s.io/allows']).toBe('production/hero -> production/lil-deebee on 5432/TCP');
  });

  test('Hero hears from ingress-nginx on 8080 and reaches Lil DeeBee and the partner range only', () => {
    const p = find(cnps, 'CiliumNetworkPolicy', 'hero').spec;
    expect(p.endpointSelector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'hero' } });
    expect(p.ingress).toEqual([{
      fromEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'ingress-nginx' } }],
      toPorts: [{ ports: [{ port: '8080', protocol: 'TCP' }] }],
      ...auth,
    }]);
    expect(p.egress).toEqual([
      { toCIDRSet: [{ cidr: '203.0.113.0/24' }], toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }] },
      {
        toEndpoints: [{ matchLabels: { 'app.kubernetes.io/name': 'lil-deebee', 'k8s:io.cilium.k8s.policy.serviceaccount': 'lil-deebee' } }],
        toPorts: [{ ports: [{ port: '5432', protocol: 'TCP' }] }],
        ...auth,
      },
    ]);
  });

  test('the namespace carries no ztunnel label in SPIRE mode; no ClusterSPIFFEID unless asked', () => {
    expect(find(objects, 'Namespace', 'production').metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'cdk8s-zero-trust' });
    expect(objects.filter((o) => o.kind === 'ClusterSPIFFEID')).toEqual([]);
  });

  test('snapshot, for review', () => {
    expect(objects).toMatchSnapshot();
  });

  test('two synths give identical bytes', () => {
    expect(storyYaml(Mesh.cilium())).toBe(storyYaml(Mesh.cilium()));
  });
});

describe('mutual auth modes', () => {
  test('the default is NONE, not the deprecated SPIRE mutual authentication: same bytes as NONE, no authentication field, no ztunnel label', () => {
    const byDefault = story(Mesh.cilium());
    expect(storyYaml(Mesh.cilium())).toBe(storyYaml(Mesh.cilium({ mutualAuth: CiliumMutualAuth.NONE })));
    expect(JSON.stringify(byDefault)).not.toContain('authentication');
    expect(find(byDefault, 'Namespace', 'production').metadata.labels['io.cilium/mtls-enabled']).toBeUndefined();
    expect(storyYaml(Mesh.cilium())).not.toBe(storyYaml(Mesh.cilium({ mutualAuth: CiliumMutualAuth.SPIRE })));
  });

  test('NONE: the same rules without authentication', () => {
    const cnps = story(Mesh.cilium({ mutualAuth: CiliumMutualAuth.NONE })).filter((o) => o.kind === 'CiliumNetworkPolicy');
    expect(JSON.stringify(cnps)).not.toContain('authentication');
    expect(find(cnps, 'CiliumNetworkPolicy', 'lil-deebee').spec.ingress[0].fromEndpoints).toEqual([
      { matchLabels: { 'app.kubernetes.io/name': 'hero', 'k8s:io.cilium.k8s.policy.serviceaccount': 'hero' } },
    ]);
  });

  test('ZTUNNEL: namespace enrolled, HBONE 15008 beside the app port between workloads, no authentication field', () => {
    const objects = story(Mesh.cilium({ mutualAuth: CiliumMutualAuth.ZTUNNEL }));
    expectValid(objects);
    expect(find(objects, 'Namespace', 'production').metadata.labels['io.cilium/mtls-enabled']).toBe('true');
    const db = find(objects, 'CiliumNetworkPolicy', 'lil-deebee').spec;
    expect(db.ingress).toEqual([{
      fromEndpoints: [{ matchLabels: { 'app.kubernetes.io/name': 'hero', 'k8s:io.cilium.k8s.policy.serviceaccount': 'hero' } }],
      toPorts: [{ ports: [{ port: '5432', protocol: 'TCP' }, { port: '15008', protocol: 'TCP' }] }],
    }]);
    // ingress-nginx is not enrolled by this app: its traffic arrives on the app port.
    expect(find(objects, 'CiliumNetworkPolicy', 'hero').spec.ingress[0].toPorts).toEqual([{ ports: [{ port: '8080', protocol: 'TCP' }] }]);
  });

  test('ZTUNNEL rejects what ztunnel hides from Cilium: HTTP rules, UDP, a subset of the ports', () => {
    const build = (f: (api: SecureWorkload, web: SecureWorkload) => void) => {
      const app = Testing.app();
      const chart = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: Mesh.cilium({ mutualAuth: CiliumMutualAuth.ZTUNNEL }) });
      const api = new SecureWorkload(chart, 'api', { image: 'api', ports: [Port.http(8080), Port.tcp(9090, 'metrics'), Port.udp(5353, 'mdns')] });
      const web = new SecureWorkload(chart, 'web', { image: 'web' });
      f(api, web);
      return app;
    };
    expectSynthError(build((api, web) => api.allowFrom(web, { ports: [Port.http(8080)], http: [{ methods: ['GET'] }] })),
      '[cilium] shop/api.allowFrom(shop/web)', 'HTTP rules cannot be enforced');
    expectSynthError(build((api, web) => api.allowFrom(web)), '[cilium] shop/api.allowFrom(shop/web)', 'TCP only');
    expectSynthError(build((api, web) => api.allowFrom(web, { ports: [Port.http(8080)] })),
      '[cilium] shop/api.allowFrom(shop/web)', 'HBONE port 15008', '9090/TCP');
  });

  test('an unknown mode is refused when the mesh is created', () => {
    expectError(() => Mesh.cilium({ mutualAuth: 'wireguard' as any }), 'INVALID_MESH_PROPS', /mutualAuth "wireguard" is not one of spire, ztunnel, none/);
  });
});

describe('peers, L7 and FQDN egress', () => {
  function shop(): { app: App; api: SecureWorkload; web: SecureWorkload; jobs: SecureWorkload } {
    const app = Testing.app();
    const shopChart = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: Mesh.cilium({ mutualAuth: CiliumMutualAuth.SPIRE }) });
    const batch = new ZeroTrustChart(app, 'batch', { namespace: 'batch', mesh: Mesh.cilium({ mutualAuth: CiliumMutualAuth.SPIRE, spiffeIds: { className: 'spire' } }) });
    const api = new SecureWorkload(shopChart, 'api', { image: 'api', ports: [Port.http(8080)] });
    const web = new SecureWorkload(shopChart, 'web', { image: 'web', serviceAccountName: 'web-sa' });
    const jobs = new SecureWorkload(batch, 'jobs', { image: 'jobs' });
    return { app, api, web, jobs };
  }

  test('cross-namespace peers carry the namespace label; HTTP becomes escaped, anchored regexes at the destination', () => {
    const { app, api, web, jobs } = shop();
    api.allowFrom(web, { http: [{ methods: ['GET', 'HEAD'], paths: ['/api/*', '/v1.0/items'] }] });
    api.allowFrom(jobs, { http: [{ methods: ['POST'], paths: ['/jobs'] }] });
    api.allowFrom(Peer.workload({ namespace: 'monitoring', labels: { app: 'prometheus' }, serviceAccount: 'prometheus' }), { http: [{ paths: ['/metrics'] }] });
    const objects = synthApp(app);
    expectValid(objects);
    const ingress = find(objects, 'CiliumNetworkPolicy', 'api', 'shop').spec.ingress;
    expect(ingress).toEqual([
      {
        fromEndpoints: [{ matchLabels: { app: 'prometheus', 'k8s:io.cilium.k8s.policy.serviceaccount': 'prometheus', 'k8s:io.kubernetes.pod.namespace': 'monitoring' } }],
        toPorts: [{ ports: [{ port: '8080', protocol: 'TCP' }], rules: { http: [{ path: '^/metrics$' }] } }],
        ...auth,
      },
      {
        fromEndpoints: [{ matchLabels: { 'app.kubernetes.io/name': 'jobs', 'k8s:io.cilium.k8s.policy.serviceaccount': 'jobs', 'k8s:io.kubernetes.pod.namespace': 'batch' } }],
        toPorts: [{ ports: [{ port: '8080', protocol: 'TCP' }], rules: { http: [{ method: '^POST$', path: '^/jobs$' }] } }],
        ...auth,
      },
      {
        fromEndpoints: [{ matchLabels: { 'app.kubernetes.io/name': 'web', 'k8s:io.cilium.k8s.policy.serviceaccount': 'web-sa' } }],
        toPorts: [{ ports: [{ port: '8080', protocol: 'TCP' }], rules: { http: [{ method: '^(GET|HEAD)$', path: '^/api/.*$' }, { method: '^(GET|HEAD)$', path: '^/v1\\.0/items$' }] } }],
        ...auth,
      },
    ]);
    // The source's egress allows the port; the destination's proxy enforces the request.
    expect(find(objects, 'CiliumNetworkPolicy', 'jobs', 'batch').spec.egress).toEqual([{
      toEndpoints: [{ matchLabels: { 'app.kubernetes.io/name': 'api', 'k8s:io.cilium.k8s.policy.serviceaccount': 'api', 'k8s:io.kubernetes.pod.namespace': 'shop' } }],
      toPorts: [{ ports: [{ port: '8080', protocol: 'TCP' }] }],
      ...auth,
    }]);
  });

  test('FQDN egress: toFQDNs gates the connections; DNS stays open for every name, so peers and search-list candidates resolve', () => {
    const { app, web } = shop();
    web.allowTo(Peer.fqdn('api.stripe.com'), { ports: [Port.tcp(443)] });
    web.allowTo(Peer.fqdn('*.s3.amazonaws.com'), { ports: [Port.http(80)], http: [{ methods: ['GET'] }] });
    const objects = synthApp(app);
    expectValid(objects);
    const base = find(objects, 'CiliumNetworkPolicy', 'default-deny', 'shop').spec;
    // Every pod, web too: a DNS rule listing only the external names would make the proxy answer
    // REFUSED to in-cluster names and to the search-list candidates tried first (ndots:5).
    expect(base.endpointSelector).toEqual({});
    expect(base.egress[0].toPorts[0].rules).toEqual({ dns: [{ matchPattern: '*' }] });
    const web0 = find(objects, 'CiliumNetworkPolicy', 'web', 'shop').spec;
    expect(web0.egress).toEqual([
      { toFQDNs: [{ matchName: 'api.stripe.com' }], toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }] },
      { toFQDNs: [{ matchPattern: '*.s3.amazonaws.com' }], toPorts: [{ ports: [{ port: '80', protocol: 'TCP' }], rules: { http: [{ method: '^GET$' }] } }] },
    ]);
    // The reader's DNS proxy model: web resolves its peers' Service names and the search-list
    // candidates of the external name; connections to other hosts stay closed.
    const reader = new CiliumPolicyEvaluator(objects);
    const webPod: Endpoint = { id: 'shop/web', kind: 'pod', namespace: 'shop', labels: { 'app.kubernetes.io/name': 'web' }, serviceAccount: 'web', namespaceLabels: {} };
    for (const name of ['api.shop.svc.cluster.local', 'api.stripe.com.shop.svc.cluster.local', 'api.stripe.com.svc.cluster.local', 'api.stripe.com', 'x.s3.amazonaws.com']) {
      expect([name, reader.resolves(webPod, name)]).toEqual([name, true]);
    }
    const to = (host: string) => reader.evaluate({ source: webPod, destination: { id: `fqdn:${host}`, kind: 'fqdn', host }, port: 443, protocol: 'TCP' }).allowed;
    expect(to('api.stripe.com')).toBe(true);
    expect(to('evil.example.com')).toBe(false);
  });

  test('ip blocks keep their exceptions; port ranges keep endPort', () => {
    const { app, web } = shop();
    web.allowTo(Peer.ipBlock('10.0.0.0/8', ['10.1.0.0/16']), { ports: [Port.tcpRange(8000, 8100)] });
    const objects = synthApp(app);
    expectValid(objects);
    expect(find(objects, 'CiliumNetworkPolicy', 'web', 'shop').spec.egress).toEqual([
      { toCIDRSet: [{ cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] }], toPorts: [{ ports: [{ port: '8000', endPort: 8100, protocol: 'TCP' }] }] },
    ]);
  });

  test('spiffeIds registers each workload of the chart with SPIRE by namespace and ServiceAccount', () => {
    const { app, api, jobs } = shop();
    api.allowFrom(jobs);
    const objects = synthApp(app);
    expectValid(objects);
    const ids = objects.filter((o) => o.kind === 'ClusterSPIFFEID');
    expect(ids.map((o) => o.metadata.name)).toEqual(['batch-jobs']);
    expect(ids[0].metadata.namespace).toBeUndefined();
    expect(ids[0].spec).toEqual({
      className: 'spire',
      spiffeIDTemplate: 'spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }}',
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'batch' } },
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'jobs' } },
    });
  });

  test('a workload without flows gets no policy of its own: the baseline closes it', () => {
    const { app } = shop();
    const names = synthApp(app).filter((o) => o.kind === 'CiliumNetworkPolicy').map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
    expect(names).toEqual(['shop/default-deny', 'batch/default-deny']);
  });

  test('NodeLocal DNS is refused: the DNS proxy needs the DNS pods', () => {
    const app = Testing.app();
    const chart = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: Mesh.cilium(), dns: Dns.nodeLocal() });
    new SecureWorkload(chart, 'api', { image: 'api' });
    expectSynthError(app, '[cilium] namespace shop', 'Local Redirect Policy');
  });

  test('a workload named like the baseline is refused', () => {
    const app = Testing.app();
    const chart = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: Mesh.cilium() });
    new SecureWorkload(chart, 'default-deny', { image: 'x' });
    expectSynthError(app, '[cilium] namespace shop', '"default-deny"');
  });
});

describe('HTTP regex translation', () => {
  test('escapes every ERE metacharacter of user input', () => {
    expect(escapeEre('/a.b+c?(d)[e]{f}|g^h$i\\j*')).toBe('/a\\.b\\+c\\?\\(d\\)\\[e\\]\\{f\\}\\|g\\^h\\$i\\\\j\\*');
  });

  test('exact paths are anchored, a trailing * becomes .*, methods an anchored alternation', () => {
    expect(pathRegex('/healthz')).toBe('^/healthz$');
    expect(pathRegex('/api/*')).toBe('^/api/.*$');
    expect(pathRegex('/v1.0/*')).toBe('^/v1\\.0/.*$');
    expect(methodRegex(['GET'])).toBe('^GET$');
    expect(methodRegex(['GET', 'POST'])).toBe('^(GET|POST)$');
  });

  test('rules: one entry per path, methods folded, an empty rule means any request', () => {
    expect(ciliumHttpRules([{ methods: [], paths: [] }])).toEqual([{}]);
    expect(ciliumHttpRules([{ methods: ['GET'], paths: [] }, { methods: ['GET'], paths: [] }])).toEqual([{ method: '^GET$' }]);
    expect(ciliumHttpRules([{ methods: [], paths: ['/b', '/a'] }])).toEqual([{ path: '^/a$' }, { path: '^/b$' }]);
  });
});
