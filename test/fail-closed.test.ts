/**
 * Issue 15, one test per defect: every input that used to synthesize a policy wider (or
 * narrower) than declared, or an object the API server rejects, is now a ZeroTrustError with a
 * code and the workload, rule and backend it concerns — or is enforced exactly.
 */
import * as fs from 'fs';
import * as path from 'path';
import { ApiObject, App, Chart, JsonPatch, Testing } from 'cdk8s';
import * as plus from 'cdk8s-plus-27';
import * as YAML from 'yaml';
import { heroAndLilDeeBee } from '../apps/story';
import { STORY_MESHES } from '../apps/main';
import {
  CiliumMutualAuth, IstioMode, KumaHttpRules, Mesh, Peer, Port, PortKind, Probe, SecureWorkload, ZeroTrustChart, ZeroTrustSynthesis,
} from '../lib';
import { ZeroTrustError } from '../lib/intent/errors';
import { HTTPROUTE_PATH_MAX, httpRoutePathProblem } from '../lib/meshes/linkerd/policies';
import { selfCheckStats } from '../lib/meshes/selfcheck';
import { runOnce } from '../bench/selfcheck';

/** The problems synth reports (one, or every one of a SYNTH_FAILED). */
function problemsOf(app: App): ZeroTrustError[] {
  try {
    ZeroTrustSynthesis.prepare(app);
  } catch (e) {
    expect(e).toBeInstanceOf(ZeroTrustError);
    const z = e as ZeroTrustError;
    return z.code === 'SYNTH_FAILED' ? [...z.problems] : [z];
  }
  return [];
}

/** The one problem with `code` (fails listing all problems otherwise). */
function problem(app: App, code: string): ZeroTrustError {
  const all = problemsOf(app);
  const hit = all.find((p) => p.code === code);
  if (!hit) throw new Error(`no ${code} among: ${all.map((p) => `${p.code}: ${p.message}`).join('\n') || 'no problems'}`);
  return hit;
}

/** The error `f` throws, which must be a ZeroTrustError (never a TypeError). */
function thrown(f: () => unknown): ZeroTrustError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ZeroTrustError);
    return e as ZeroTrustError;
  }
  throw new Error('expected a ZeroTrustError');
}

function chart(mesh: Mesh = Mesh.networkPolicy(), namespace = 'shop', app: App = Testing.app()) {
  const c = new ZeroTrustChart(app, namespace, { namespace, mesh });
  return { app, c };
}

const MESHES: Array<[string, () => Mesh]> = [
  ['networkpolicy', () => Mesh.networkPolicy()],
  ['istio', () => Mesh.istio({ mode: IstioMode.SIDECAR })],
  ['istio-ambient', () => Mesh.istio({ mode: IstioMode.AMBIENT })],
  ['linkerd', () => Mesh.linkerd()],
  ['cilium', () => Mesh.cilium()],
  ['kuma', () => Mesh.kuma()],
  ['nsm', () => Mesh.networkServiceMesh()],
];

describe('1. HTTP rules on egress outside the app: refused on Istio and Linkerd, enforced on Cilium', () => {
  const peers: Array<[string, () => any]> = [
    ['ipBlock', () => Peer.ipBlock('203.0.113.0/24')],
    ['namespace', () => Peer.namespace('partners')],
    ['workload', () => Peer.workload({ namespace: 'partners', labels: { app: 'api' } })],
    ['fqdn', () => Peer.fqdn('api.example.com')],
  ];
  const meshes: Array<[string, () => Mesh]> = [
    ['istio', () => Mesh.istio({ mode: IstioMode.SIDECAR })],
    ['istio-ambient', () => Mesh.istio({ mode: IstioMode.AMBIENT })],
    ['linkerd', () => Mesh.linkerd()],
  ];
  for (const [backend, mesh] of meshes) {
    test.each(peers)(`${backend}: allowTo(%s) with http`, (_kind, peer) => {
      const { app, c } = chart(mesh());
      const web = new SecureWorkload(c, 'web', { image: 'web:1' });
      web.allowTo(peer(), { ports: [Port.http(80)], http: [{ methods: ['GET'] }] });
      const p = problem(app, 'HTTP_RULES_ON_EGRESS_NOT_ENFORCED');
      expect(p).toMatchObject({ backend, namespace: 'shop', workload: 'shop/web' });
      expect(p.rule).toMatch(/^shop\/web\.allowTo\(/);
      expect(p.message).toContain('would be enforced by nothing');
    });
  }

  test('Cilium enforces them at the source (the self-check reads GET allowed, DELETE denied)', () => {
    const { app, c } = chart(Mesh.cilium());
    const web = new SecureWorkload(c, 'web', { image: 'web:1' });
    web.allowTo(Peer.fqdn('api.example.com'), { ports: [Port.http(80)], http: [{ methods: ['GET'], paths: ['/v1/*'] }] });
    web.allowTo(Peer.ipBlock('203.0.113.0/24'), { ports: [Port.http(80)], http: [{ methods: ['POST'] }] });
    expect(problemsOf(app)).toEqual([]);
    const yaml = app.synthYaml();
    expect(yaml).toContain('method: ^GET$');
    expect(yaml).toContain('method: ^POST$');
  });

  test('HTTP rules between workloads of the app stay enforced at the destination', () => {
    for (const [, mesh] of meshes) {
      const { app, c } = chart(mesh());
      const web = new SecureWorkload(c, 'web', { image: 'web:1' });
      const api = new SecureWorkload(c, 'api', { image: 'api:1', ports: [Port.http(8080)] });
      web.allowTo(api, { http: [{ methods: ['GET'] }] });
      expect(problemsOf(app)).toEqual([]);
    }
  });
});

describe('2. adopted cdk8s-plus workloads', () => {
  function deployment(scope: Chart, id: string) {
    const sa = new plus.ServiceAccount(scope, `${id}-sa`, { metadata: { name: id } });
    return new plus.Deployment(scope, id, { containers: [{ image: 'legacy:1', portNumber: 8080 }], serviceAccount: sa });
  }

  test('in another namespace: refused where it is adopted', () => {
    const app = Testing.app();
    const other = new Chart(app, 'other', { namespace: 'legacy' });
    const d = deployment(other, 'old');
    const { c } = chart(Mesh.istio(), 'shop', app);
    const e = thrown(() => new SecureWorkload(c, 'old', { workload: d }));
    expect(e).toMatchObject({ code: 'ADOPTED_WORKLOAD_ELSEWHERE', workload: 'shop/old', namespace: 'shop' });
    expect(e.message).toContain('namespace "legacy"');
  });

  test('in a chart without a namespace: refused', () => {
    const app = Testing.app();
    const d = deployment(new Chart(app, 'anywhere'), 'old');
    const { c } = chart(Mesh.networkPolicy(), 'shop', app);
    expect(thrown(() => new SecureWorkload(c, 'old', { workload: d })).code).toBe('ADOPTED_WORKLOAD_ELSEWHERE');
  });

  test('in another app: refused', () => {
    const d = deployment(new Chart(Testing.app(), 'x', { namespace: 'shop' }), 'old');
    const { c } = chart();
    expect(thrown(() => new SecureWorkload(c, 'old', { workload: d })).code).toBe('ADOPTED_WORKLOAD_ELSEWHERE');
  });

  test('adopted twice: refused', () => {
    const { app, c } = chart(Mesh.linkerd());
    const d = deployment(c, 'old');
    new SecureWorkload(c, 'first', { workload: d });
    const e = thrown(() => new SecureWorkload(c, 'second', { workload: d }));
    expect(e).toMatchObject({ code: 'WORKLOAD_ADOPTED_TWICE', workload: 'shop/second' });
    expect(e.message).toContain('already secured by SecureWorkload shop/first');
    expect(problemsOf(app)).toEqual([]);
  });

  test('in a plain chart of the same namespace: accepted, and the self-check finds its pods', () => {
    const app = Testing.app();
    const d = deployment(new Chart(app, 'legacy', { namespace: 'shop' }), 'old');
    const { c } = chart(Mesh.istio(), 'shop', app);
    const old = new SecureWorkload(c, 'old', { workload: d });
    old.allowFrom(new SecureWorkload(c, 'web', { image: 'web:1' }));
    expect(problemsOf(app)).toEqual([]);
  });
});

describe('3. explicit empty lists', () => {
  test.each([
    ['methods: []', [{ methods: [] }], 'methods is an empty list'],
    ['paths: []', [{ paths: [] }], 'paths is an empty list'],
    ["methods: ['GET'], paths: []", [{ methods: ['GET'], paths: [] }], 'paths is an empty list'],
    ['both empty', [{ methods: [], paths: [] }], 'methods and paths are an empty list'],
    ['http: []', [], 'http is an empty list'],
  ])('%s', (_what, http, text) => {
    const { app, c } = chart(Mesh.istio());
    const api = new SecureWorkload(c, 'api', { image: 'api:1', ports: [Port.http(8080)] });
    api.allowFrom(new SecureWorkload(c, 'web', { image: 'web:1' }), { http });
    const p = problem(app, 'EMPTY_HTTP_LIST');
    expect(p).toMatchObject({ backend: 'istio', workload: 'shop/api', rule: 'shop/api.allowFrom(shop/web)' });
    expect(p.message).toContain(text);
  });
});

describe('4. pod labels and annotations a mesh reserves', () => {
  const cases: Array<[string, () => Mesh, { [k: string]: string }]> = [
    ['istio', () => Mesh.istio(), { 'sidecar.istio.io/inject': 'false' }],
    ['istio', () => Mesh.istio(), { 'istio.io/rev': 'other' }],
    ['istio-ambient', () => Mesh.istio({ mode: IstioMode.AMBIENT }), { 'istio.io/dataplane-mode': 'none' }],
    ['istio-ambient', () => Mesh.istio({ mode: IstioMode.AMBIENT }), { 'istio.io/use-waypoint': 'none' }],
    ['linkerd', () => Mesh.linkerd(), { 'linkerd.io/inject': 'disabled' }],
    ['kuma', () => Mesh.kuma(), { 'kuma.io/sidecar-injection': 'disabled' }],
    ['kuma', () => Mesh.kuma(), { 'kuma.io/mesh': 'other' }],
    ['cilium', () => Mesh.cilium(), { 'io.cilium.k8s.policy.serviceaccount': 'admin' }],
    ['nsm', () => Mesh.networkServiceMesh(), { 'spiffe.io/spiffe-id': 'true' }],
  ];
  test.each(cases.map(([b, m, l]) => [b, Object.keys(l)[0], m, l] as const))('%s refuses the pod label %s', (backend, _key, mesh, podLabels) => {
    const { app, c } = chart(mesh());
    new SecureWorkload(c, 'web', { image: 'web:1', podLabels });
    const p = problem(app, 'RESERVED_POD_METADATA');
    expect(p).toMatchObject({ backend, workload: 'shop/web', namespace: 'shop' });
    expect(p.message).toContain(Object.keys(podLabels)[0]);
  });

  test('annotations of an adopted workload count too', () => {
    const { app, c } = chart(Mesh.linkerd());
    const sa = new plus.ServiceAccount(c, 'sa', { metadata: { name: 'old' } });
    const d = new plus.Deployment(c, 'old-deployment', { containers: [{ image: 'x', portNumber: 8080 }], serviceAccount: sa });
    d.podMetadata.addAnnotation('config.linkerd.io/skip-inbound-ports', '8080');
    new SecureWorkload(c, 'old', { workload: d });
    expect(problem(app, 'RESERVED_POD_METADATA').message).toContain('config.linkerd.io/skip-inbound-ports');
  });

  test('NetworkPolicy reserves none of them, and ordinary labels pass everywhere', () => {
    const { app, c } = chart(Mesh.networkPolicy());
    new SecureWorkload(c, 'web', { image: 'web:1', podLabels: { 'sidecar.istio.io/inject': 'false' } });
    expect(problemsOf(app)).toEqual([]);
    for (const [, mesh] of MESHES) {
      const x = chart(mesh());
      new SecureWorkload(x.c, 'web', { image: 'web:1', podLabels: { team: 'shop', tier: 'front' } });
      expect(problemsOf(x.app)).toEqual([]);
    }
  });
});

describe("5. a chart in the mesh's root or system namespace", () => {
  test.each([
    ['istio', 'istio-system', () => Mesh.istio()],
    ['istio-ambient', 'istio-system', () => Mesh.istio({ mode: IstioMode.AMBIENT })],
    ['istio', 'mesh-root', () => Mesh.istio({ rootNamespace: 'mesh-root' })],
    ['kuma', 'kuma-system', () => Mesh.kuma()],
    ['kuma', 'kong-mesh-system', () => Mesh.kuma({ controlPlaneNamespace: 'kong-mesh-system' })],
    ['linkerd', 'linkerd', () => Mesh.linkerd()],
  ] as Array<[string, string, () => Mesh]>)('%s in %s', (backend, ns, mesh) => {
    const { app, c } = chart(mesh(), ns);
    new SecureWorkload(c, 'web', { image: 'web:1' });
    expect(problem(app, 'CHART_IN_MESH_ROOT_NAMESPACE')).toMatchObject({ backend, namespace: ns });
    // So no allow-nothing AuthorizationPolicy is ever emitted there.
    expect(() => app.synthYaml()).toThrow(ZeroTrustError);
  });

  test('istio-system is an ordinary namespace for other backends', () => {
    const { app, c } = chart(Mesh.networkPolicy(), 'istio-system');
    new SecureWorkload(c, 'web', { image: 'web:1' });
    expect(problemsOf(app)).toEqual([]);
  });
});

describe('6. plain charts beside ZeroTrustCharts (see also test/synthesis.test.ts "brands, not instanceof")', () => {
  test('x instanceof ZeroTrustChart is not what the library asks; a plain chart synthesizes and is self-checked with the app', () => {
    const app = Testing.app();
    const plain = new Chart(app, 'tools', { namespace: 'tools' });
    new ApiObject(plain, 'cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' } });
    heroAndLilDeeBee(app, Mesh.istio());
    expect(ZeroTrustChart.isZeroTrustChart(plain)).toBe(false);
    expect(problemsOf(app)).toEqual([]);
    expect(app.synthYaml()).toContain('kind: ConfigMap');
    expect(thrown(() => new SecureWorkload(plain, 'w', { image: 'x' })).code).toBe('NOT_IN_ZERO_TRUST_CHART');
  });
});

describe('invalid manifests are synth errors', () => {
  test('a workload name that is no DNS-1035 label cannot name a Service', () => {
    const { app, c } = chart();
    new SecureWorkload(c, '9lives', { image: 'cat:9', ports: [Port.http(8080)] });
    expect(problem(app, 'INVALID_SERVICE_NAME')).toMatchObject({ workload: 'shop/9lives', backend: 'networkpolicy' });
    const ok = chart();
    new SecureWorkload(ok.c, '9lives', { image: 'cat:9', ports: [Port.http(8080)], service: false });
    expect(problemsOf(ok.app)).toEqual([]);
  });

  describe('Linkerd HTTPRoute paths', () => {
    test.each([
      ['/a//b', 'INVALID_HTTPROUTE_PATH'],
      ['/a/../b', 'INVALID_HTTPROUTE_PATH'],
      ['/a/./b', 'INVALID_HTTPROUTE_PATH'],
      ['/a%2Fb', 'INVALID_HTTPROUTE_PATH'],
      ['/a%2fb', 'INVALID_HTTPROUTE_PATH'],
      ['/a/..', 'INVALID_HTTPROUTE_PATH'],
      ['/a/.', 'INVALID_HTTPROUTE_PATH'],
      ['/a"b', 'INVALID_HTTPROUTE_PATH'],
      [`/${'x'.repeat(1024)}`, 'INVALID_HTTPROUTE_PATH'], // longer than 1024
      [`/${'x'.repeat(1024)}*`, 'INVALID_HTTPROUTE_PATH'], // as a prefix
      ['/a?x=1', 'INVALID_HTTP_PATH'],
      ['/a#top', 'INVALID_HTTP_PATH'],
      ['/caf\u00e9', 'INVALID_HTTP_PATH'],
    ])('%#: %s', (pathValue, code) => {
      const { app, c } = chart(Mesh.linkerd());
      const api = new SecureWorkload(c, 'api', { image: 'api:1', ports: [Port.http(8080)] });
      api.allowFrom(new SecureWorkload(c, 'web', { image: 'web:1' }), { http: [{ paths: [pathValue] }] });
      expect(problem(app, code)).toMatchObject({ backend: 'linkerd', workload: 'shop/api', rule: 'shop/api.allowFrom(shop/web)' });
    });

    test('probe paths (read from the pod template) are held to the same rules', () => {
      const { app, c } = chart(Mesh.linkerd());
      const api = new SecureWorkload(c, 'api', { image: 'api:1', ports: [Port.http(8080)], readiness: Probe.fromHttpGet('/a//b') });
      api.allowFrom(new SecureWorkload(c, 'web', { image: 'web:1' }), { http: [{ methods: ['GET'] }] });
      expect(problem(app, 'INVALID_HTTPROUTE_PATH')).toMatchObject({ backend: 'linkerd', workload: 'shop/api' });
    });

    test('too many matches for one HTTPRoute', () => {
      const { app, c } = chart(Mesh.linkerd());
      const api = new SecureWorkload(c, 'api', { image: 'api:1', ports: [Port.http(8080)] });
      const paths = Array.from({ length: 40 }, (_, i) => `/p${i}`);
      api.allowFrom(new SecureWorkload(c, 'web', { image: 'web:1' }), { http: [{ methods: ['GET', 'POST', 'PUT', 'DELETE'], paths }] });
      expect(problem(app, 'HTTPROUTE_TOO_LARGE')).toMatchObject({ backend: 'linkerd', workload: 'shop/api' });
    });

    test('the checks agree with the CEL and length rules of the HTTPRoute CRD (read from ../shared/crds)', () => {
      const rules = httpRoutePathRules();
      expect(rules.cel.length).toBeGreaterThanOrEqual(9);
      expect(rules.maxLength).toBe(HTTPROUTE_PATH_MAX);
      const samples = [
        '/', '/healthz', '/api/v1/items', '/a//b', '/a/../b', '/a/./b', '/a/..', '/a/.', '/..', '/.', '/a%2Fb', '/a%2fb', '/a%20b', '/a%zz',
        '/a#b', '/a?x=1', '/café', '/a b', "/~user/!$&'()*+,;=:@", 'relative', '', `/${'x'.repeat(1023)}`, `/${'x'.repeat(1024)}`, '/a"b', '/a<b', '/a\\b',
      ];
      for (const value of samples) {
        const crdAccepts = rules.accepts(value);
        expect([value, httpRoutePathProblem(value) === undefined]).toEqual([value, crdAccepts]);
      }
    });
  });

  test('two workloads sharing one ServiceAccount', () => {
    const { app, c } = chart(Mesh.istio());
    new SecureWorkload(c, 'web', { image: 'web:1', serviceAccountName: 'shared' });
    new SecureWorkload(c, 'api', { image: 'api:1', serviceAccountName: 'shared' });
    const p = problem(app, 'SHARED_SERVICE_ACCOUNT');
    expect(p).toMatchObject({ backend: 'istio', namespace: 'shop' });
    expect(p.message).toContain('ServiceAccount "shared"');
  });

  test('ZeroTrustChart labels are validated, and may not set what the library or the mesh sets', () => {
    const app = Testing.app();
    expect(thrown(() => new ZeroTrustChart(app, 'a', { namespace: 'a', mesh: Mesh.networkPolicy(), labels: { 'bad key!': 'x' } })).code).toBe('INVALID_LABEL');
    expect(thrown(() => new ZeroTrustChart(app, 'b', { namespace: 'b', mesh: Mesh.networkPolicy(), labels: { team: 'a'.repeat(64) } })).code).toBe('INVALID_LABEL');
    expect(thrown(() => new ZeroTrustChart(app, 'c', { namespace: 'c', mesh: Mesh.networkPolicy(), labels: { 'app.kubernetes.io/name': 'x' } })).code).toBe('RESERVED_LABEL');
    expect(thrown(() => new ZeroTrustChart(app, 'd', { namespace: 'd', mesh: Mesh.istio(), labels: { 'istio-injection': 'disabled' } }))).toMatchObject({ code: 'RESERVED_LABEL', backend: 'istio' });
    expect(thrown(() => new ZeroTrustChart(app, 'e', { namespace: 'e', mesh: Mesh.kuma(), labels: { 'kuma.io/sidecar-injection': 'disabled' } })).code).toBe('RESERVED_LABEL');
    expect(thrown(() => new ZeroTrustChart(app, 'f', { namespace: 'f', mesh: Mesh.networkPolicy(), labels: ['x'] as any })).code).toBe('INVALID_ARGUMENT');
    new ZeroTrustChart(app, 'g', { namespace: 'g', mesh: Mesh.istio(), labels: { team: 'shop' } });
  });

  test('Cilium ServiceAccount label values over 63 characters', () => {
    const { app, c } = chart(Mesh.cilium());
    const sa = `${'a'.repeat(40)}.${'b'.repeat(40)}`; // a valid ServiceAccount name, 81 characters
    const api = new SecureWorkload(c, 'api', { image: 'api:1', ports: [Port.http(8080)] });
    api.allowFrom(new SecureWorkload(c, 'web', { image: 'web:1', serviceAccountName: sa }));
    expect(problem(app, 'CILIUM_LABEL_VALUE_TOO_LONG')).toMatchObject({ backend: 'cilium', workload: 'shop/api', rule: 'shop/api.allowFrom(shop/web)' });
  });
});

describe('found by the self-check and the hostile property test, now refused by name', () => {
  test('Istio sidecar: a flow to a workload without a Service (REGISTRY_ONLY never forwards to it)', () => {
    const { app, c } = chart(Mesh.istio());
    const db = new SecureWorkload(c, 'db', { image: 'db:1', ports: [Port.tcp(5432)], service: false });
    db.allowFrom(new SecureWorkload(c, 'web', { image: 'web:1' }));
    expect(problem(app, 'DESTINATION_NEEDS_SERVICE')).toMatchObject({ backend: 'istio', workload: 'shop/db', rule: 'shop/db.allowFrom(shop/web)' });
    const ambient = chart(Mesh.istio({ mode: IstioMode.AMBIENT }));
    const adb = new SecureWorkload(ambient.c, 'db', { image: 'db:1', ports: [Port.tcp(5432)], service: false });
    adb.allowFrom(new SecureWorkload(ambient.c, 'web', { image: 'web:1' }));
    expect(problemsOf(ambient.app)).toEqual([]);
  });

  test('Istio sidecar: HTTP rules to a workload without a Service (its ports would be TCP)', () => {
    const { app, c } = chart(Mesh.istio());
    const api = new SecureWorkload(c, 'api', { image: 'api:1', ports: [Port.http(8080)], service: false });
    api.allowFrom(Peer.namespace('ingress'), { http: [{ paths: ['/healthz'] }] });
    expect(problem(app, 'HTTP_RULES_NEED_SERVICE')).toMatchObject({ backend: 'istio', workload: 'shop/api' });
  });

  test('podLabels given with an adopted workload are checked too', () => {
    const { app, c } = chart(Mesh.kuma());
    const sa = new plus.ServiceAccount(c, 'sa', { metadata: { name: 'old' } });
    const d = new plus.Deployment(c, 'old-deployment', { containers: [{ image: 'x', portNumber: 8080 }], serviceAccount: sa });
    new SecureWorkload(c, 'old', { workload: d, podLabels: { 'kuma.io/mesh': 'other' } });
    expect(problem(app, 'RESERVED_POD_METADATA')).toMatchObject({ backend: 'kuma', workload: 'shop/old' });
  });

  test('Kuma: an except beside host names on the same port is refused when checked, not while rendering', () => {
    const { app, c } = chart(Mesh.kuma());
    const web = new SecureWorkload(c, 'web', { image: 'web:1' });
    web.allowTo(Peer.ipBlock('10.0.0.0/8', ['10.1.0.0/16']), { ports: [Port.tcp(443)] });
    web.allowTo(Peer.fqdn('api.example.com'), { ports: [Port.tcp(443)] });
    expect(problem(app, 'KUMA_PASSTHROUGH_EXCEPT')).toMatchObject({ backend: 'kuma', namespace: 'shop', workload: 'shop/web', rule: 'shop/web.allowTo(cidr:10.0.0.0/8 except 10.1.0.0/16)' });
  });
});

describe('lenient parsing is gone', () => {
  test.each(['1:2:3:4:5:6:7:8::/64', '010.0.0.0/8', '10.0.0.0/08', '10.0.0.01/32', '::1::/128', '10.0.0.0/33', '10.0.0.0'])('Peer.ipBlock(%s)', (cidr) => {
    expect(thrown(() => Peer.ipBlock(cidr)).code).toBe('INVALID_CIDR');
  });
  test('valid CIDRs still parse', () => {
    for (const cidr of ['0.0.0.0/0', '10.0.0.0/8', '2001:db8::/32', '::/0', '1:2:3:4:5:6:7::/112', '::1/128']) Peer.ipBlock(cidr);
  });
  test('duplicate except entries', () => {
    expect(thrown(() => Peer.ipBlock('10.0.0.0/8', ['10.1.0.0/16', '10.1.0.0/16'])).code).toBe('INVALID_IP_BLOCK');
    expect(thrown(() => Peer.ipBlock('10.0.0.0/8', ['10.1.0.0/16', '10.1.2.3/16'])).code).toBe('INVALID_IP_BLOCK');
  });
  test.each(['1.2.3.4', '10.0.0.1', '*.1.2.3', `${'a'.repeat(64)}.example.com`, 'example.123', 'UPPER.example.com', 'no-dot'])('Peer.fqdn(%s)', (host) => {
    expect(thrown(() => Peer.fqdn(host)).code).toBe('INVALID_FQDN');
  });
  test.each(['', ' ', 'nginx:1 ', 'ngi nx:1', 'nginx:1\nkind: Secret', 'nginx\t:1'])('image %j', (image) => {
    const { c } = chart();
    expect(thrown(() => new SecureWorkload(c, 'web', { image }))).toMatchObject({ code: 'INVALID_IMAGE', workload: 'shop/web' });
  });
  test('an unknown port kind is refused instead of rendered as TCP', () => {
    expect(thrown(() => new Port({ number: 9999, kind: 'sctp' as PortKind })).code).toBe('INVALID_PORT_KIND');
    expect(thrown(() => new Port({ number: 80, kind: 'HTTP' as PortKind })).code).toBe('INVALID_PORT_KIND');
    expect(new Port({ number: 80, kind: PortKind.HTTP }).protocol).toBe('TCP');
  });
});

describe('silently narrower: now errors', () => {
  test('Kuma charts of different meshName', () => {
    const app = Testing.app();
    const a = new ZeroTrustChart(app, 'a', { namespace: 'a', mesh: Mesh.kuma({ meshName: 'payments' }) });
    const b = new ZeroTrustChart(app, 'b', { namespace: 'b', mesh: Mesh.kuma({ meshName: 'shop', createMesh: true }) });
    const x = new SecureWorkload(a, 'x', { image: 'x:1', ports: [Port.tcp(5432)] });
    x.allowFrom(new SecureWorkload(b, 'y', { image: 'y:1' }));
    expect(problem(app, 'CROSS_MESH_FLOW')).toMatchObject({ backend: 'kuma', workload: 'a/x', rule: 'a/x.allowFrom(b/y)' });
  });
  test('Istio charts of different trustDomain', () => {
    const app = Testing.app();
    const a = new ZeroTrustChart(app, 'a', { namespace: 'a', mesh: Mesh.istio({ trustDomain: 'one.example' }) });
    const b = new ZeroTrustChart(app, 'b', { namespace: 'b', mesh: Mesh.istio({ trustDomain: 'two.example' }) });
    const x = new SecureWorkload(a, 'x', { image: 'x:1', ports: [Port.tcp(5432)] });
    new SecureWorkload(b, 'y', { image: 'y:1' }).allowTo(x);
    expect(problem(app, 'CROSS_MESH_FLOW')).toMatchObject({ backend: 'istio', workload: 'b/y', rule: 'b/y.allowTo(a/x)' });
  });
  test('charts of one mesh with separate Mesh values still talk', () => {
    const app = Testing.app();
    const a = new ZeroTrustChart(app, 'a', { namespace: 'a', mesh: Mesh.kuma({ meshName: 'shop' }) });
    const b = new ZeroTrustChart(app, 'b', { namespace: 'b', mesh: Mesh.kuma({ meshName: 'shop', createMesh: false }) });
    new SecureWorkload(a, 'x', { image: 'x:1', ports: [Port.tcp(5432)] }).allowFrom(new SecureWorkload(b, 'y', { image: 'y:1' }));
    expect(problemsOf(app)).toEqual([]);
  });
  test('x.allowFrom(x) on NSM', () => {
    const { app, c } = chart(Mesh.networkServiceMesh());
    const x = new SecureWorkload(c, 'x', { image: 'x:1', ports: [Port.tcp(80)] });
    x.allowFrom(x);
    expect(problem(app, 'NSM_SELF_CONNECTION')).toMatchObject({ backend: 'nsm', workload: 'shop/x', rule: 'shop/x.allowFrom(shop/x)' });
  });
});

describe('plain JavaScript shapes are checked where they are passed', () => {
  function pair() {
    const { c } = chart(Mesh.istio());
    const api = new SecureWorkload(c, 'api', { image: 'api:1', ports: [Port.http(8080)] });
    const web = new SecureWorkload(c, 'web', { image: 'web:1' });
    return { api, web };
  }
  test.each([
    ['one HTTP rule instead of an array', { http: { methods: ['GET'] } }, 'http must be an array'],
    ['a misspelt HTTP rule field', { http: [{ method: ['GET'] }] }, 'unknown field "method"'],
    ['methods as a string', { http: [{ methods: 'GET' }] }, 'methods must be an array of strings'],
    ['a misspelt option', { port: [Port.http(8080)] }, 'unknown option "port"'],
    ['ports not an array', { ports: Port.http(8080) }, 'ports must be an array'],
    ['a port that is not a Port', { ports: [8080] }, 'ports[0] must be a Port'],
    ['options not an object', 'GET', 'options must be an object'],
  ])('%s', (_what, options, text) => {
    const { api, web } = pair();
    const e = thrown(() => api.allowFrom(web, options as any));
    expect(e).toMatchObject({ code: 'INVALID_ARGUMENT', workload: 'shop/api' });
    expect(e.rule).toMatch(/^shop\/api\.allowFrom/);
    expect(e.message).toContain(text);
  });
  test('peers, props and factories', () => {
    const { api } = pair();
    expect(thrown(() => api.allowTo({} as any)).code).toBe('INVALID_PEER');
    const { c } = chart();
    expect(thrown(() => new SecureWorkload(c, 'a', null as any)).code).toBe('INVALID_ARGUMENT');
    expect(thrown(() => new SecureWorkload(c, 'b', { image: 'x', ports: Port.tcp(1) as any })).code).toBe('INVALID_ARGUMENT');
    expect(thrown(() => new SecureWorkload(c, 'c', { image: 'x', podLabels: 'a=b' as any })).code).toBe('INVALID_ARGUMENT');
    expect(thrown(() => new SecureWorkload(c, 'd', { image: 42 as any })).code).toBe('INVALID_ARGUMENT');
    expect(thrown(() => Peer.ipBlock('10.0.0.0/8', '10.1.0.0/16' as any)).code).toBe('INVALID_ARGUMENT');
    expect(thrown(() => Peer.ipBlock(undefined as any)).code).toBe('INVALID_CIDR');
    expect(thrown(() => Peer.fqdn(undefined as any)).code).toBe('INVALID_ARGUMENT');
    expect(thrown(() => Peer.workload(undefined as any)).code).toBe('INVALID_ARGUMENT');
    expect(thrown(() => Peer.workload({ namespace: 'x', labels: 'app=a' as any })).code).toBe('EMPTY_SELECTOR');
    expect(thrown(() => new Port(undefined as any)).code).toBe('INVALID_ARGUMENT');
    expect(thrown(() => Port.tcp('80' as any)).code).toBe('INVALID_PORT');
    expect(thrown(() => new ZeroTrustChart(Testing.app(), 'z', undefined as any)).code).toBe('INVALID_ARGUMENT');
    expect(thrown(() => new ZeroTrustChart(Testing.app(), 'z', { namespace: 'z', mesh: Mesh.istio(), selfCheck: 'no' as any })).code).toBe('INVALID_ARGUMENT');
  });
});

describe('the self-check', () => {
  test('it runs on every synth and asks the whole probe universe of a small app', () => {
    const before = selfCheckStats();
    for (const mesh of STORY_MESHES) {
      const app = Testing.app();
      heroAndLilDeeBee(app, mesh);
      app.synthYaml();
    }
    const after = selfCheckStats();
    expect(after.runs - before.runs).toBe(STORY_MESHES.length);
    expect(after.last?.mode).toBe('exhaustive');
    expect(after.queries - before.queries).toBeGreaterThan(1000);
  });

  test('objects that allow more than declared fail the synth, naming the connection and the object', () => {
    const app = Testing.app();
    heroAndLilDeeBee(app, Mesh.networkPolicy());
    const extra = new Chart(app, 'extra', { namespace: 'production' });
    new ApiObject(extra, 'np', {
      apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'allow-all' },
      spec: { podSelector: {}, ingress: [{}], policyTypes: ['Ingress'] },
    });
    const problems = problemsOf(app);
    expect(problems.length).toBeGreaterThan(0);
    const p = problems.find((x) => x.code === 'SELF_CHECK_WIDER')!;
    expect(p).toMatchObject({ backend: 'networkpolicy', namespace: 'production' });
    expect(p.workload).toMatch(/^production\//);
    expect(p.message).toMatch(/the rendered objects ALLOW \S+ -> production\/\S+ \d+\/(TCP|UDP)/);
    expect(p.message).toContain('NetworkPolicy production/allow-all');
    expect(() => app.synth()).toThrow(ZeroTrustError);
  });

  test('objects that deny a declared flow fail the synth too', () => {
    const app = Testing.app();
    heroAndLilDeeBee(app, Mesh.istio());
    const extra = new Chart(app, 'extra', { namespace: 'production' });
    new ApiObject(extra, 'deny', {
      apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'deny-db' },
      spec: { selector: { matchLabels: { 'app.kubernetes.io/name': 'lil-deebee' } }, action: 'DENY', rules: [{}] },
    });
    const p = problem(app, 'SELF_CHECK_NARROWER');
    expect(p).toMatchObject({ backend: 'istio', workload: 'production/lil-deebee', rule: 'production/lil-deebee.allowFrom(production/hero)' });
    expect(p.message).toContain('AuthorizationPolicy production/deny-db');
  });

  test('a workload whose pods left the output, and pods that borrow a selector', () => {
    // A JSON patch on an adopted workload replaces the pod labels the SecureWorkload set.
    const lost = Testing.app();
    const { c } = chart(Mesh.cilium(), 'shop', lost);
    const sa = new plus.ServiceAccount(c, 'sa', { metadata: { name: 'old' } });
    const d = new plus.Deployment(c, 'old-deployment', { containers: [{ image: 'x', portNumber: 8080 }], serviceAccount: sa });
    ApiObject.of(d).addJsonPatch(JsonPatch.replace('/spec/template/metadata/labels', { app: 'renamed' }));
    new SecureWorkload(c, 'old', { workload: d }).allowFrom(new SecureWorkload(c, 'web', { image: 'web:1' }));
    expect(problem(lost, 'SELF_CHECK_NO_PODS')).toMatchObject({ backend: 'cilium', workload: 'shop/old' });

    const borrowed = Testing.app();
    heroAndLilDeeBee(borrowed, Mesh.kuma());
    const other = new Chart(borrowed, 'other', { namespace: 'production' });
    new plus.Deployment(other, 'impostor', { containers: [{ image: 'x' }], podMetadata: { labels: { 'app.kubernetes.io/name': 'hero' } } });
    expect(problem(borrowed, 'SELF_CHECK_SHARED_SELECTOR')).toMatchObject({ backend: 'kuma', workload: 'production/hero' });
  });

  test('selfCheck: false turns it off for that chart', () => {
    const app = Testing.app();
    const c = new ZeroTrustChart(app, 'production', { namespace: 'production', mesh: Mesh.networkPolicy(), selfCheck: false });
    new SecureWorkload(c, 'hero', { image: 'hero:1', ports: [Port.http(8080)] });
    const extra = new Chart(app, 'extra', { namespace: 'production' });
    new ApiObject(extra, 'np', { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'allow-all' }, spec: { podSelector: {}, ingress: [{}] } });
    const before = selfCheckStats().runs;
    expect(problemsOf(app)).toEqual([]);
    expect(selfCheckStats().runs).toBe(before);
  });

  test('what the charts emit is what was checked, byte for byte the same as without the check', () => {
    for (const mesh of STORY_MESHES) {
      const on = Testing.app();
      heroAndLilDeeBee(on, mesh);
      const off = Testing.app();
      const c = new ZeroTrustChart(off, 'production', { namespace: 'production', mesh, selfCheck: false });
      // heroAndLilDeeBee builds its own chart; rebuild the same intent in a chart with the check off.
      const hero = new SecureWorkload(c, 'hero', { image: 'ghcr.io/example/hero:1.0', ports: [Port.http(8080)] });
      const deebee = new SecureWorkload(c, 'lil-deebee', { image: 'postgres:16', ports: [Port.tcp(5432, 'postgres')], kind: 'StatefulSet' as any });
      deebee.allowFrom(hero);
      hero.allowFrom(Peer.namespace('ingress-nginx'), { ports: [Port.http(8080)] });
      hero.allowTo(Peer.ipBlock('203.0.113.0/24'), { ports: [Port.tcp(443)] });
      expect(on.synthYaml()).toBe(off.synthYaml());
    }
  });

  test('a chart whose Namespace is created elsewhere is checked with the labels its mesh asked for', () => {
    for (const [, mesh] of MESHES) {
      const app = Testing.app();
      const c = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: mesh(), createNamespace: false });
      const api = new SecureWorkload(c, 'api', { image: 'api:1', ports: [Port.tcp(8080)] });
      api.allowFrom(new SecureWorkload(c, 'web', { image: 'web:1' }));
      expect(problemsOf(app)).toEqual([]);
    }
  });

  test('settings the reader must know: trust domain, root namespace, a Kuma mesh created elsewhere, L4 downgrade, ztunnel', () => {
    const meshes = [
      Mesh.istio({ trustDomain: 'corp.example', rootNamespace: 'mesh-root', revision: 'canary' }),
      Mesh.istio({ mode: IstioMode.AMBIENT, rootNamespace: 'mesh-root', revision: 'canary' }),
      Mesh.linkerd({ controlPlaneNamespace: 'l5d', identityDomain: 'corp.example' }),
      Mesh.kuma({ createMesh: false, meshName: 'shop', httpRules: KumaHttpRules.ENFORCE_AT_L4 }),
      Mesh.cilium({ mutualAuth: CiliumMutualAuth.ZTUNNEL }),
    ];
    for (const mesh of meshes) {
      const { app, c } = chart(mesh);
      const api = new SecureWorkload(c, 'api', { image: 'api:1', ports: [Port.http(8080)] });
      const web = new SecureWorkload(c, 'web', { image: 'web:1' });
      api.allowFrom(web, mesh.id === 'cilium' ? {} : { http: [{ methods: ['GET'], paths: ['/api/*'] }] });
      api.allowFrom(Peer.namespace('ingress'), { ports: [Port.http(8080)] });
      expect([mesh.id, problemsOf(app).map((p) => p.message)]).toEqual([mesh.id, []]);
    }
  });

  test('above the exhaustive budget it asks a focused set, which still catches an intruder', () => {
    const before = selfCheckStats().runs;
    const run = runOnce('networkpolicy', 300, 900, true);
    expect(run.mode).toBe('focused');
    expect(selfCheckStats().runs).toBe(before + 1);

    const app = Testing.app();
    const c = new ZeroTrustChart(app, 'big', { namespace: 'big', mesh: Mesh.networkPolicy() });
    const ws = Array.from({ length: 200 }, (_, i) => new SecureWorkload(c, `w${i}`, { image: 'x:1', ports: [Port.tcp(8000 + i)] }));
    ws.forEach((w, i) => w.allowFrom(ws[(i + 1) % ws.length]));
    const extra = new Chart(app, 'extra', { namespace: 'big' });
    new ApiObject(extra, 'np', { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'w7-wide' }, spec: { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'w7' } }, ingress: [{}] } });
    const p = problem(app, 'SELF_CHECK_WIDER');
    expect(selfCheckStats().last?.mode).toBe('focused');
    expect(p.workload).toBe('big/w7');
    expect(p.message).toContain('NetworkPolicy big/w7-wide');
  });

  test('app.synth() throws the ZeroTrustError, with the same output directory untouched on failure', () => {
    const dir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'zt-fail-'));
    const app = new App({ outdir: dir });
    const { c } = chart(Mesh.istio(), 'istio-system', app);
    new SecureWorkload(c, 'web', { image: 'web:1' });
    expect(() => app.synth()).toThrow(expect.objectContaining({ code: 'CHART_IN_MESH_ROOT_NAMESPACE' }));
    expect(fs.readdirSync(dir)).toEqual([]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

/** The CEL rules and maxLength of an HTTPRoute path (v1), evaluated for the forms the CRD uses. */
function httpRoutePathRules(): { cel: string[]; maxLength: number; accepts: (value: string) => boolean } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const crdDir: string = require('../scripts/crds').resolveCrdDir();
  const crd = YAML.parse(fs.readFileSync(path.join(crdDir, 'gateway-api', 'gateway.networking.k8s.io_httproutes.yaml'), 'utf8'));
  const v1 = crd.spec.versions.find((v: any) => v.name === 'v1');
  const pathSchema = v1.schema.openAPIV3Schema.properties.spec.properties.rules.items.properties.matches.items.properties.path;
  const cel: string[] = (pathSchema['x-kubernetes-validations'] ?? []).map((r: any) => r.rule);
  const maxLength: number = pathSchema.properties.value.maxLength;
  // `(self.type in ['Exact','PathPrefix']) ? <check> : true` where <check> is one call on self.value.
  const checks = cel.map((rule) => {
    const m = /^\(self\.type in \['Exact','PathPrefix'\]\) \? (!?)self\.value\.(startsWith|contains|endsWith|matches)\((?:'([^']*)'|r"""(.*)""")\) : true$/.exec(rule);
    if (!m) {
      // The only other rule restricts `type`, which the renderer always sets to an allowed value.
      expect(rule).toContain("self.type == 'RegularExpression'");
      return () => true;
    }
    const [, not, fn, literal, regex] = m;
    const test = (v: string) => (fn === 'matches' ? new RegExp(regex).test(v) : fn === 'startsWith' ? v.startsWith(literal) : fn === 'endsWith' ? v.endsWith(literal) : v.includes(literal));
    return (v: string) => (not ? !test(v) : test(v));
  });
  return { cel, maxLength, accepts: (value) => value.length <= maxLength && checks.every((c) => c(value)) };
}
