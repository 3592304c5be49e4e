import { App, Chart, Testing } from 'cdk8s';
import * as cilium from '../imports/cilium-networkpolicies-cilium.io';
import * as istio from '../imports/istio-security-authorizationpolicies-security.istio.io';
import * as linkerd from '../imports/linkerd-policy-servers-policy.linkerd.io';
import * as mtp from '../imports/kuma-meshtrafficpermissions-kuma.io';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expectValid, getValidator, validateAll, validateObject } from './support/schema';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { resolveCrdDir, isComplete, loadSources } = require('../scripts/crds');

const meta = (name: string, namespace = 'demo') => ({ name, namespace, labels: { app: name } });

const networkPolicy = () => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: meta('allow-web'),
  spec: {
    podSelector: { matchLabels: { app: 'web' } },
    policyTypes: ['Ingress', 'Egress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { app: 'client' } } }], ports: [{ port: 8080, protocol: 'TCP' }, { port: 'http' }] }],
    egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } }] }],
  },
});

describe('core kinds (kubernetes v1.30.0 definitions)', () => {
  test('valid NetworkPolicy passes', () => {
    expect(validateObject(networkPolicy())).toEqual([]);
    expectValid([networkPolicy()]);
  });

  test('unknown field fails, naming the field', () => {
    const np: any = networkPolicy();
    np.spec.podSelektor = np.spec.podSelector;
    const errors = validateObject(np);
    expect(errors).toEqual(expect.arrayContaining([expect.stringContaining('/spec/podSelektor')]));
    expect(errors.join('\n')).toMatch(/unknown field "podSelektor"/);
    expect(() => expectValid([np])).toThrow(/NetworkPolicy demo\/allow-web: \/spec\/podSelektor/);
  });

  test('unknown metadata field fails', () => {
    const np: any = networkPolicy();
    np.metadata.lables = { a: 'b' };
    expect(validateObject(np).join('\n')).toMatch(/\/metadata\/lables/);
  });

  test('wrong type fails', () => {
    const np: any = networkPolicy();
    np.spec.policyTypes = 'Ingress';
    expect(validateObject(np).join('\n')).toMatch(/\/spec\/policyTypes: must be array/);
    const np2: any = networkPolicy();
    np2.spec.ingress[0].ports[0].port = true;
    expect(validateObject(np2).length).toBeGreaterThan(0);
  });

  test('other core kinds', () => {
    expectValid([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo', labels: { 'istio-injection': 'enabled' } } },
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('web') },
      { apiVersion: 'v1', kind: 'Service', metadata: meta('web'), spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] } },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: meta('web'),
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' }, annotations: { 'linkerd.io/inject': 'enabled' } },
            spec: { serviceAccountName: 'web', containers: [{ name: 'web', image: 'nginx:1.27', ports: [{ containerPort: 8080 }], resources: { limits: { cpu: '100m', memory: 128 } } }] },
          },
        },
      },
    ]);
  });

  test('missing apiVersion/kind and wrong apiVersion fail', () => {
    expect(validateObject({ kind: 'Namespace', metadata: { name: 'x' } })).not.toEqual([]);
    expect(validateObject({ apiVersion: 'networking.k8s.io/v1beta1', kind: 'NetworkPolicy', metadata: { name: 'x' } }).join()).toMatch(/no schema for/);
  });

  test('int32 range is enforced', () => {
    const svc = (port: number) => ({ apiVersion: 'v1', kind: 'Service', metadata: meta('web'), spec: { ports: [{ port }] } });
    expect(validateObject(svc(80))).toEqual([]);
    expect(validateObject(svc(2 ** 40)).join('\n')).toMatch(/\/spec\/ports\/0\/port: must match format "int32"/);
    expect(validateObject(svc(1.5))).not.toEqual([]);
  });
});

describe('CRDs', () => {
  const authz = () => ({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: meta('allow-web'),
    spec: {
      selector: { matchLabels: { app: 'web' } },
      action: 'ALLOW',
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/demo/sa/client'] } }], to: [{ operation: { ports: ['8080'], methods: ['GET'] } }] }],
    },
  });

  test('Istio AuthorizationPolicy v1 passes', () => {
    expect(validateObject(authz())).toEqual([]);
    expect(validateObject({ ...authz(), apiVersion: 'security.istio.io/v1beta1' })).toEqual([]);
  });

  test('Istio AuthorizationPolicy with unknown field fails', () => {
    const a: any = authz();
    a.spec.rules[0].from[0].source.principal = ['x'];
    expect(validateObject(a).join('\n')).toMatch(/\/spec\/rules\/0\/from\/0\/source\/principal: unknown field/);
    const b: any = authz();
    b.spec.action = 'PERMIT';
    expect(validateObject(b).join('\n')).toMatch(/\/spec\/action/);
  });

  test('CRD metadata is checked as ObjectMeta', () => {
    const a: any = authz();
    a.metadata.labelz = {};
    expect(validateObject(a).join('\n')).toMatch(/\/metadata\/labelz: unknown field/);
    const b: any = authz();
    delete b.kind;
    expect(validateObject(b)).not.toEqual([]);
  });

  test('Istio PeerAuthentication, Sidecar, ServiceEntry pass', () => {
    expectValid([
      { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: meta('default'), spec: { mtls: { mode: 'STRICT' }, portLevelMtls: { 8080: { mode: 'PERMISSIVE' } } } },
      { apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: meta('default'), spec: { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' }, egress: [{ hosts: ['./*', 'istio-system/*'] }] } },
      {
        apiVersion: 'networking.istio.io/v1',
        kind: 'ServiceEntry',
        metadata: meta('api'),
        spec: { hosts: ['api.example.com'], location: 'MESH_EXTERNAL', resolution: 'DNS', ports: [{ number: 443, name: 'https', protocol: 'TLS' }] },
      },
    ]);
  });

  test('Linkerd policy.linkerd.io/v1beta3 Server passes', () => {
    const server = {
      apiVersion: 'policy.linkerd.io/v1beta3',
      kind: 'Server',
      metadata: meta('web-http'),
      spec: { podSelector: { matchLabels: { app: 'web' } }, port: 'http', proxyProtocol: 'HTTP/1', accessPolicy: 'deny' },
    };
    expect(validateObject(server)).toEqual([]);
    // proxyProtocol is a free string in the CRD; port is int-or-string
    expect(validateObject({ ...server, spec: { ...server.spec, port: true } }).join('\n')).toMatch(/\/spec\/port/);
    expect(validateObject({ ...server, spec: { ...server.spec, proxyprotocol: 'opaque' } }).join('\n')).toMatch(/unknown field "proxyprotocol"/);
  });

  test('Linkerd AuthorizationPolicy and MeshTLSAuthentication pass', () => {
    expectValid([
      {
        apiVersion: 'policy.linkerd.io/v1alpha1',
        kind: 'AuthorizationPolicy',
        metadata: meta('web'),
        spec: {
          targetRef: { group: 'policy.linkerd.io', kind: 'Server', name: 'web-http' },
          requiredAuthenticationRefs: [{ group: 'policy.linkerd.io', kind: 'MeshTLSAuthentication', name: 'clients' }],
        },
      },
      { apiVersion: 'policy.linkerd.io/v1alpha1', kind: 'MeshTLSAuthentication', metadata: meta('clients'), spec: { identities: ['client.demo.serviceaccount.identity.linkerd.cluster.local'] } },
    ]);
  });

  test('Cilium CiliumNetworkPolicy with mutual authentication passes', () => {
    const cnp = {
      apiVersion: 'cilium.io/v2',
      kind: 'CiliumNetworkPolicy',
      metadata: meta('web'),
      spec: {
        endpointSelector: { matchLabels: { app: 'web' } },
        ingress: [
          {
            fromEndpoints: [{ matchLabels: { app: 'client' } }],
            toPorts: [{ ports: [{ port: '8080', protocol: 'TCP' }] }],
            authentication: { mode: 'required' },
          },
        ],
      },
    };
    expect(validateObject(cnp)).toEqual([]);
    const bad: any = JSON.parse(JSON.stringify(cnp));
    bad.spec.ingress[0].authentication.mode = 'mtls';
    expect(validateObject(bad).join('\n')).toMatch(/authentication\/mode/);
  });

  test('Cilium pattern with \\PC compiles (log.value)', () => {
    const ccnp = {
      apiVersion: 'cilium.io/v2',
      kind: 'CiliumClusterwideNetworkPolicy',
      metadata: { name: 'default-deny' },
      spec: { endpointSelector: {}, ingress: [{}], log: { value: 'deny all' } },
    };
    expect(validateObject(ccnp)).toEqual([]);
  });

  test('Kuma MeshTrafficPermission passes', () => {
    const mtp = {
      apiVersion: 'kuma.io/v1alpha1',
      kind: 'MeshTrafficPermission',
      metadata: { name: 'allow-client', namespace: 'kuma-system', labels: { 'kuma.io/mesh': 'default' } },
      spec: {
        targetRef: { kind: 'Dataplane', labels: { app: 'web' } },
        from: [{ targetRef: { kind: 'MeshSubset', tags: { 'kuma.io/service': 'client_demo_svc_80' } }, default: { action: 'Allow' } }],
      },
    };
    expect(validateObject(mtp)).toEqual([]);
    const bad: any = JSON.parse(JSON.stringify(mtp));
    bad.spec.from[0].default.action = 'Permit';
    expect(validateObject(bad)).not.toEqual([]);
  });

  test('Kuma Mesh spec is checked against Mesh.json', () => {
    const mesh = {
      apiVersion: 'kuma.io/v1alpha1',
      kind: 'Mesh',
      metadata: { name: 'default' },
      spec: {
        mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin', mode: 'STRICT', dpCert: { rotation: { expiration: '24h' } } }] },
        networking: { outbound: { passthrough: false } },
      },
    };
    expect(validateObject(mesh)).toEqual([]);
    const bad: any = JSON.parse(JSON.stringify(mesh));
    bad.spec.mtls.enabledBackends = 'ca-1';
    expect(validateObject(bad).join('\n')).toMatch(/\/spec\/mtls\/enabledBackends: unknown field/);
    const bad2: any = JSON.parse(JSON.stringify(mesh));
    bad2.spec.mtls.backends[0].mode = 'STRICTEST';
    expect(validateObject(bad2)).not.toEqual([]);
  });

  test('NSM NetworkService passes', () => {
    expectValid([
      {
        apiVersion: 'networkservicemesh.io/v1',
        kind: 'NetworkService',
        metadata: meta('secure-l3'),
        spec: { payload: 'IP', matches: [{ source_selector: { app: 'client' }, routes: [{ destination_selector: { app: 'web' } }] }] },
      },
    ]);
  });

  test('SPIRE ClusterSPIFFEID passes', () => {
    expectValid([
      {
        apiVersion: 'spire.spiffe.io/v1alpha1',
        kind: 'ClusterSPIFFEID',
        metadata: { name: 'demo-workloads' },
        spec: {
          spiffeIDTemplate: 'spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }}',
          podSelector: { matchLabels: { app: 'web' } },
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'demo' } },
        },
      },
    ]);
  });

  test('Gateway API HTTPRoute passes', () => {
    const route = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: meta('web'),
      spec: {
        parentRefs: [{ name: 'web', kind: 'Service', group: '', port: 80 }],
        rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/api' }, method: 'GET' }], backendRefs: [{ name: 'web', port: 80 }] }],
      },
    };
    expect(validateObject(route)).toEqual([]);
    const bad: any = JSON.parse(JSON.stringify(route));
    bad.spec.rules[0].matches[0].path.typ = 'Exact';
    expect(validateObject(bad).join('\n')).toMatch(/path\/typ: unknown field/);
  });

  test('unknown kind fails', () => {
    expect(validateObject({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } })).toEqual([
      expect.stringMatching(/no schema for example.com\/v1 Widget/),
    ]);
    expect(() => expectValid([{ apiVersion: 'security.istio.io/v1', kind: 'Nope', metadata: { name: 'w' } }])).toThrow(/no schema for/);
  });

  test('all indexed schemas compile', () => {
    const v = getValidator();
    for (const key of v.knownKinds()) {
      const i = key.lastIndexOf('/');
      const errs = v.validate({ apiVersion: key.slice(0, i), kind: key.slice(i + 1), metadata: { name: 'x' } });
      expect(errs.join('\n')).not.toMatch(/no schema/);
    }
  });
});

describe('resolveCrdDir', () => {
  test('honours CRD_DIR', () => {
    const dir = os.tmpdir();
    expect(resolveCrdDir({ env: { CRD_DIR: dir }, repoRoot: '/nonexistent/repo' })).toBe(path.resolve(dir));
  });

  // Each route on a layout of its own, so the tests pass whichever route this run's schemas came by.
  const made: string[] = [];
  afterAll(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
  const layout = (opts: { shared?: boolean; cache?: 'complete' | 'partial' }) => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), 'zt-crd-routes-'));
    made.push(base);
    const repoRoot = path.join(base, 'repo');
    fs.mkdirSync(repoRoot);
    if (opts.shared) fs.mkdirSync(path.join(base, 'shared', 'crds'), { recursive: true });
    if (opts.cache) {
      const files: { path: string }[] = loadSources().files;
      for (const f of opts.cache === 'complete' ? files : files.slice(1)) {
        const file = path.join(repoRoot, '.cache', 'crds', f.path);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, '');
      }
    }
    return { base, repoRoot };
  };

  test('finds ../shared/crds beside the repository when CRD_DIR is unset', () => {
    const { base, repoRoot } = layout({ shared: true, cache: 'complete' });
    expect(resolveCrdDir({ env: {}, repoRoot })).toBe(path.join(base, 'shared', 'crds'));
  });

  test('CRD_DIR comes before ../shared/crds', () => {
    const { base, repoRoot } = layout({ shared: true });
    const dir = path.join(base, 'elsewhere');
    fs.mkdirSync(dir);
    expect(resolveCrdDir({ env: { CRD_DIR: dir }, repoRoot })).toBe(dir);
  });

  test('falls back to a complete .cache/crds (the `npm run crds` route)', () => {
    const { repoRoot } = layout({ cache: 'complete' });
    expect(resolveCrdDir({ env: {}, repoRoot })).toBe(path.join(repoRoot, '.cache', 'crds'));
    expect(isComplete(path.join(repoRoot, '.cache', 'crds'))).toBe(true);
  });

  test('an incomplete .cache/crds is not used', () => {
    const { repoRoot } = layout({ cache: 'partial' });
    expect(() => resolveCrdDir({ env: {}, repoRoot })).toThrow(/no complete cache/);
  });

  test('this run found complete schemas on one of the routes', () => {
    const dir: string = resolveCrdDir();
    const routes = [
      process.env.CRD_DIR && path.resolve(path.join(__dirname, '..'), process.env.CRD_DIR),
      path.resolve(__dirname, '..', '..', 'shared', 'crds'),
      path.resolve(__dirname, '..', '.cache', 'crds'),
    ].filter(Boolean);
    expect(routes).toContain(dir);
    expect(isComplete(dir)).toBe(true);
  });

  test('throws a helpful message when CRD_DIR is missing', () => {
    expect(() => resolveCrdDir({ env: { CRD_DIR: '/nonexistent/crds' }, repoRoot: '/nonexistent/repo' })).toThrow(/CRD_DIR.*\n.*three ways[\s\S]*npm run crds/);
  });

  test('throws a helpful message with no fallback', () => {
    let msg = '';
    try {
      resolveCrdDir({ env: {}, repoRoot: path.join(os.tmpdir(), 'no-such-repo-xyz') });
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/CRD_DIR/);
    expect(msg).toMatch(/\.\.\/shared\/crds/);
    expect(msg).toMatch(/npm run crds/);
  });
});

/** The generated constructs synthesize manifests the strict validator accepts. */
test('generated imports synthesize schema-valid manifests', () => {
  const app: App = Testing.app();
  const chart = new Chart(app, 'demo', { namespace: 'demo' });
  new istio.AuthorizationPolicy(chart, 'authz', {
    metadata: { name: 'allow-web' },
    spec: {
      selector: { matchLabels: { app: 'web' } },
      action: istio.AuthorizationPolicySpecAction.ALLOW,
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/demo/sa/client'] } }] }],
    },
  });
  new linkerd.ServerV1Beta3(chart, 'server', {
    metadata: { name: 'web-http' },
    spec: { podSelector: { matchLabels: { app: 'web' } }, port: 8080, proxyProtocol: 'HTTP/2' },
  });
  new cilium.CiliumNetworkPolicy(chart, 'cnp', {
    metadata: { name: 'web' },
    spec: {
      endpointSelector: { matchLabels: { app: 'web' } },
      ingress: [{ fromEndpoints: [{ matchLabels: { app: 'client' } }], authentication: { mode: cilium.CiliumNetworkPolicySpecIngressAuthenticationMode.REQUIRED } }],
    },
  });
  new mtp.MeshTrafficPermission(chart, 'mtp', {
    metadata: { name: 'allow-client', labels: { 'kuma.io/mesh': 'default' } },
    spec: {
      targetRef: { kind: mtp.MeshTrafficPermissionSpecTargetRefKind.MESH },
      from: [{ targetRef: { kind: mtp.MeshTrafficPermissionSpecFromTargetRefKind.MESH }, default: { action: mtp.MeshTrafficPermissionSpecFromDefaultAction.ALLOW } }],
    },
  });
  const manifests = Testing.synth(chart);
  expect(manifests).toHaveLength(4);
  expect(validateAll(manifests)).toEqual([]);
  expectValid(manifests);
});
