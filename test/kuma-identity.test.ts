/**
 * Kuma with `KumaIdentity.SPIFFE`: a MeshIdentity issues SPIFFE IDs by ServiceAccount and the
 * MeshTrafficPermissions match them with `rules[]`, so a pod that copies a workload's labels no
 * longer gets its permissions (it does with the default, tag-based identity). The reader models
 * both; these tests read the synthesized manifests back with it.
 */
import { Testing } from 'cdk8s';
import { KumaIdentity, Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { heroAndLilDeeBee } from '../apps/story';
import { KumaEvaluator } from '../lib/verify/kuma';
import { Endpoint, Manifest, Query } from '../lib/verify/types';
import { expectValid, validateAll } from './support/schema';
import { expectError } from './support/errors';
import { expectSynthError, find, synthApp } from './support/synth';

const SPIFFE = () => Mesh.kuma({ identity: KumaIdentity.SPIFFE });
const MESHED = { 'kuma.io/sidecar-injection': 'enabled' };

function story(mesh: Mesh): Manifest[] {
  const app = Testing.app();
  heroAndLilDeeBee(app, mesh);
  return synthApp(app) as Manifest[];
}

/** A meshed pod of namespace `ns` with these labels, running as `sa`, with the container ports given. */
function pod(id: string, ns: string, labels: { [k: string]: string }, sa: string, ports: Array<[string, number]> = []): Endpoint {
  return {
    id, kind: 'pod', namespace: ns, labels, annotations: {}, serviceAccount: sa,
    namespaceLabels: { 'kubernetes.io/metadata.name': ns, ...MESHED },
    ports: ports.map(([name, number]) => ({ name, number, protocol: 'TCP' as const })),
  };
}
const tcp = (source: Endpoint, destination: Endpoint, port: number): Query => ({ source, destination, port, protocol: 'TCP' });

const HERO = pod('production/hero', 'production', { 'app.kubernetes.io/name': 'hero' }, 'hero', [['http', 8080]]);
const DEEBEE = pod('production/lil-deebee', 'production', { 'app.kubernetes.io/name': 'lil-deebee' }, 'lil-deebee', [['postgres', 5432]]);
/** Hero's labels, another ServiceAccount: what anyone allowed to create pods in the namespace can run. */
const IMPOSTOR = pod('production/impostor', 'production', { 'app.kubernetes.io/name': 'hero' }, 'impostor');
const NGINX = pod('ingress-nginx/controller', 'ingress-nginx', { app: 'ingress-nginx' }, 'ingress-nginx');

describe('the story with KumaIdentity.SPIFFE', () => {
  const objects = story(SPIFFE());

  test('every object but the MeshIdentity validates strictly against the pinned Kuma CRDs; the MeshIdentity CRD is not pinned, so its fields are asserted one by one', () => {
    expectValid(objects.filter((o) => o.kind !== 'MeshIdentity'));
    // Proof that the filter is needed and hides nothing else: only the MeshIdentity has no schema.
    const errors = validateAll(objects);
    expect(errors.length).toBe(1);
    expect(errors[0]).toMatch(/MeshIdentity/);
    const identity = find(objects, 'MeshIdentity', 'default-identity', 'kuma-system');
    expect(identity.apiVersion).toBe('kuma.io/v1alpha1');
    expect(identity.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'cdk8s-zero-trust', 'kuma.io/mesh': 'default' });
    expect(identity.spec).toEqual({
      selector: { dataplane: { matchLabels: {} } },
      spiffeID: { trustDomain: 'default.mesh.local', path: '/ns/{{ .Namespace }}/sa/{{ .ServiceAccount }}' },
      provider: { type: 'Bundled', bundled: { meshTrustCreation: 'Enabled', insecureAllowSelfSigned: true, autogenerate: { enabled: true } } },
    });
  });

  test('the Mesh turns MeshServices on (MeshIdentity needs them) and keeps mTLS STRICT', () => {
    expect(find(objects, 'Mesh', 'default').spec).toEqual({
      mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin', mode: 'STRICT' }] },
      skipCreatingInitialPolicies: ['*'],
      meshServices: { mode: 'Exclusive' },
    });
  });

  test('Lil DeeBee allows exactly Hero\'s SPIFFE ID (its ServiceAccount), with rules[] and no from[]', () => {
    const mtp = find(objects, 'MeshTrafficPermission', 'lil-deebee', 'production');
    expect(mtp.spec).toEqual({
      targetRef: { kind: 'Dataplane', labels: { 'app.kubernetes.io/name': 'lil-deebee' } },
      rules: [{ default: { allow: [{ spiffeID: { type: 'Exact', value: 'spiffe://default.mesh.local/ns/production/sa/hero' } }] } }],
    });
    expect(mtp.spec.from).toBeUndefined();
  });

  test('a namespace peer is a prefix ending in "/sa/", so namespace "ingress-nginx-evil" does not match', () => {
    const mtp = find(objects, 'MeshTrafficPermission', 'hero', 'production');
    expect(mtp.spec.rules).toEqual([{ default: { allow: [{ spiffeID: { type: 'Prefix', value: 'spiffe://default.mesh.local/ns/ingress-nginx/sa/' } }] } }]);
    const reader = new KumaEvaluator(objects);
    const evil = pod('ingress-nginx-evil/controller', 'ingress-nginx-evil', { app: 'ingress-nginx' }, 'ingress-nginx');
    expect(reader.kumaLayer(tcp(NGINX, HERO, 8080)).allowed).toBe(true);
    expect(reader.kumaLayer(tcp(evil, HERO, 8080)).allowed).toBe(false);
  });

  test('the reader: Hero reaches Lil DeeBee; a pod with Hero\'s labels under another ServiceAccount does not', () => {
    const reader = new KumaEvaluator(objects);
    expect(reader.spiffeId(HERO, 'default')).toBe('spiffe://default.mesh.local/ns/production/sa/hero');
    expect(reader.kumaLayer(tcp(HERO, DEEBEE, 5432))).toMatchObject({ allowed: true, reasons: [expect.stringMatching(/^rules\[\] allow spiffe:\/\/default\.mesh\.local\/ns\/production\/sa\/hero on production\/lil-deebee:5432/)] });
    const impostor = reader.kumaLayer(tcp(IMPOSTOR, DEEBEE, 5432));
    expect(impostor.allowed).toBe(false);
    expect(impostor.reasons[0]).toMatch(/no MeshTrafficPermission rules\[\] allow spiffe:\/\/default\.mesh\.local\/ns\/production\/sa\/impostor/);
  });

  test('the same story with the default tag identity lets the impostor in: what SPIFFE identity fixes', () => {
    const tags = story(Mesh.kuma());
    expect(tags.some((o) => o.kind === 'MeshIdentity')).toBe(false);
    const reader = new KumaEvaluator(tags);
    expect(reader.spiffeId(HERO, 'default')).toBeUndefined();
    expect(reader.kumaLayer(tcp(IMPOSTOR, DEEBEE, 5432)).allowed).toBe(true);
    expect(reader.kumaLayer(tcp(HERO, DEEBEE, 5432)).allowed).toBe(true);
  });
});

describe('pins, ports and the mesh-wide allow', () => {
  function app(): Manifest[] {
    const a = Testing.app();
    const c = new ZeroTrustChart(a, 'shop', { namespace: 'shop', mesh: SPIFFE() });
    const api = new SecureWorkload(c, 'api', { image: 'api', ports: [Port.tcp(8080, 'http'), Port.tcp(9090, 'admin')] });
    const web = new SecureWorkload(c, 'web', { image: 'web', ports: [Port.tcp(80, 'http')] });
    new SecureWorkload(c, 'vault', { image: 'vault', ports: [Port.tcp(8200, 'api')] });
    api.allowFrom(web, { ports: [Port.tcp(8080, 'http')] });
    return synthApp(a) as Manifest[];
  }
  const objects = app();
  const API = pod('shop/api', 'shop', { 'app.kubernetes.io/name': 'api' }, 'api', [['http', 8080], ['admin', 9090]]);
  const WEB = pod('shop/web', 'shop', { 'app.kubernetes.io/name': 'web' }, 'web', [['http', 80]]);
  const VAULT = pod('shop/vault', 'shop', { 'app.kubernetes.io/name': 'vault' }, 'vault', [['api', 8200]]);
  const OTHER = pod('shop/other', 'shop', { app: 'other' }, 'other');
  /** An operator's mesh-wide allow of every identity, in the system namespace. */
  const meshWideAllow: Manifest = {
    apiVersion: 'kuma.io/v1alpha1', kind: 'MeshTrafficPermission',
    metadata: { name: 'allow-all', namespace: 'kuma-system', labels: { 'kuma.io/mesh': 'default' } },
    spec: { targetRef: { kind: 'Mesh' }, rules: [{ default: { allow: [{ spiffeID: { type: 'Prefix', value: 'spiffe://' } }] } }] },
  };

  test('ports with different clients get a policy each; a closed port and a closed workload deny every SPIFFE ID', () => {
    expectValid(objects.filter((o) => o.kind !== 'MeshIdentity'));
    const mtps = objects.filter((o) => o.kind === 'MeshTrafficPermission').map((o) => [o.metadata.name, o.spec.targetRef.sectionName ?? '', JSON.stringify(o.spec.rules)]);
    const denyAll = JSON.stringify([{ default: { deny: [{ spiffeID: { type: 'Prefix', value: 'spiffe://' } }] } }]);
    expect(mtps).toEqual([
      ['api-http', 'http', JSON.stringify([{ default: { allow: [{ spiffeID: { type: 'Exact', value: 'spiffe://default.mesh.local/ns/shop/sa/web' } }] } }])],
      ['api-admin', 'admin', denyAll],
      ['vault', '', denyAll],
      ['web', '', denyAll],
    ]);
  });

  test('read back: web reaches api on 8080 only; nobody reaches vault or api\'s admin port', () => {
    const reader = new KumaEvaluator(objects);
    expect(reader.kumaLayer(tcp(WEB, API, 8080)).allowed).toBe(true);
    expect(reader.kumaLayer(tcp(WEB, API, 9090)).allowed).toBe(false);
    expect(reader.kumaLayer(tcp(OTHER, API, 8080)).allowed).toBe(false);
    expect(reader.kumaLayer(tcp(WEB, VAULT, 8200)).allowed).toBe(false);
  });

  test('a mesh-wide allow of every identity cannot open the pinned ports, but does widen the ports some client may reach (documented)', () => {
    const reader = new KumaEvaluator([...objects, meshWideAllow]);
    expect(reader.kumaLayer(tcp(OTHER, VAULT, 8200)).allowed).toBe(false);
    expect(reader.kumaLayer(tcp(OTHER, API, 9090)).allowed).toBe(false);
    expect(reader.kumaLayer(tcp(OTHER, API, 8080)).allowed).toBe(true);
  });

  test('what the reader does not model is an error, not a guess: from[] on a SPIFFE destination, rules[] on a tag one, a Spire provider', () => {
    const fromPolicy: Manifest = {
      apiVersion: 'kuma.io/v1alpha1', kind: 'MeshTrafficPermission',
      metadata: { name: 'legacy', namespace: 'kuma-system', labels: { 'kuma.io/mesh': 'default' } },
      spec: { targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }] },
    };
    expect(() => new KumaEvaluator([...objects, fromPolicy]).kumaLayer(tcp(WEB, API, 8080))).toThrow(/from\[\] on shop\/api, which has a SPIFFE identity/);
    const tagObjects = objects.filter((o) => o.kind !== 'MeshIdentity');
    expect(() => new KumaEvaluator(tagObjects).kumaLayer(tcp(WEB, API, 8080))).toThrow(/rules\[\] \(SPIFFE matching\) on shop\/api, which has no SPIFFE identity/);
    const spire = objects.map((o) => (o.kind === 'MeshIdentity' ? { ...o, spec: { ...o.spec, provider: { type: 'Spire', spire: {} } } } : o));
    expect(() => new KumaEvaluator(spire).kumaLayer(tcp(WEB, API, 8080))).toThrow(/provider Spire is not modelled/);
  });
});

describe('several charts, createMesh: false, and refusals', () => {
  test('two charts on one mesh: one Mesh and one MeshIdentity in the folder (kustomize would refuse a second)', () => {
    const a = Testing.app();
    const shop = new ZeroTrustChart(a, 'shop', { namespace: 'shop', mesh: SPIFFE() });
    const pay = new ZeroTrustChart(a, 'pay', { namespace: 'pay', mesh: SPIFFE() });
    const web = new SecureWorkload(shop, 'web', { image: 'web' });
    new SecureWorkload(pay, 'ledger', { image: 'ledger', ports: [Port.tcp(8443, 'https')] }).allowFrom(web);
    const objects = synthApp(a) as Manifest[];
    expect(objects.filter((o) => o.kind === 'MeshIdentity').map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual(['kuma-system/default-identity']);
    expect(objects.filter((o) => o.kind === 'Mesh').length).toBe(1);
    expect(find(objects, 'MeshTrafficPermission', 'ledger', 'pay').spec.rules[0].default.allow).toEqual([{ spiffeID: { type: 'Exact', value: 'spiffe://default.mesh.local/ns/shop/sa/web' } }]);
  });

  test.each([
    ['identity', () => Mesh.kuma(), () => SPIFFE(), 'shop uses KumaIdentity.TAGS, pay uses KumaIdentity.SPIFFE (trust domain default.mesh.local)'],
    ['trustDomain', () => SPIFFE(), () => Mesh.kuma({ identity: KumaIdentity.SPIFFE, trustDomain: 'other.example.org' }), 'pay uses KumaIdentity.SPIFFE (trust domain other.example.org)'],
    // pay sorts first, so its chart would emit the MeshIdentity, but it does not create the mesh.
    ['createMesh (SPIFFE, the first namespace does not create it)', () => SPIFFE(), () => Mesh.kuma({ identity: KumaIdentity.SPIFFE, createMesh: false }), 'the first namespace, pay, which has createMesh: false, while shop creates the mesh'],
  ])('charts on one mesh with a different %s: KUMA_MESH_SETTINGS_DIFFER naming both charts\' namespaces', (_what, first, second, detail) => {
    const a = Testing.app();
    const shop = new ZeroTrustChart(a, 'shop', { namespace: 'shop', mesh: first() });
    const pay = new ZeroTrustChart(a, 'pay', { namespace: 'pay', mesh: second() });
    new SecureWorkload(shop, 'web', { image: 'web' });
    new SecureWorkload(pay, 'ledger', { image: 'ledger', ports: [Port.tcp(8443, 'https')] });
    const error = expectSynthError(a, 'share the Kuma mesh "default" with settings that do not fit together', detail, 'give every chart on it the same Mesh.kuma() identity and trustDomain');
    expect(error.message).toMatch(/namespaces (shop and pay|pay and shop)/);
    expect((error.problems.length > 0 ? error.problems : [error]).map((p) => [p.code, p.namespace])).toEqual([['KUMA_MESH_SETTINGS_DIFFER', 'pay']]);
  });

  test('SPIFFE: the first namespace creates the mesh and another names it: one MeshIdentity, from the first', () => {
    const a = Testing.app();
    new SecureWorkload(new ZeroTrustChart(a, 'shop', { namespace: 'shop', mesh: Mesh.kuma({ identity: KumaIdentity.SPIFFE, createMesh: false }) }), 'web', { image: 'web' });
    new SecureWorkload(new ZeroTrustChart(a, 'pay', { namespace: 'pay', mesh: SPIFFE() }), 'ledger', { image: 'ledger' });
    const objects = synthApp(a) as Manifest[];
    expect(objects.filter((o) => o.kind === 'MeshIdentity').map((o) => o.metadata.name)).toEqual(['default-identity']);
  });

  test('with tags one chart may own the Mesh and another name it (createMesh: false): one Mesh in the folder', () => {
    const a = Testing.app();
    new SecureWorkload(new ZeroTrustChart(a, 'shop', { namespace: 'shop', mesh: Mesh.kuma() }), 'web', { image: 'web' });
    new SecureWorkload(new ZeroTrustChart(a, 'pay', { namespace: 'pay', mesh: Mesh.kuma({ createMesh: false }) }), 'ledger', { image: 'ledger' });
    expect((synthApp(a) as Manifest[]).filter((o) => o.kind === 'Mesh').map((o) => o.metadata.name)).toEqual(['default']);
  });

  test('charts on two meshes may differ', () => {
    const a = Testing.app();
    new SecureWorkload(new ZeroTrustChart(a, 'shop', { namespace: 'shop', mesh: Mesh.kuma() }), 'web', { image: 'web' });
    new SecureWorkload(new ZeroTrustChart(a, 'pay', { namespace: 'pay', mesh: Mesh.kuma({ identity: KumaIdentity.SPIFFE, meshName: 'payments' }) }), 'ledger', { image: 'ledger' });
    const objects = synthApp(a) as Manifest[];
    expect(objects.filter((o) => o.kind === 'Mesh').map((o) => o.metadata.name).sort()).toEqual(['default', 'payments']);
    expect(objects.filter((o) => o.kind === 'MeshIdentity').map((o) => o.metadata.name)).toEqual(['payments-identity']);
  });

  test('createMesh: false emits neither Mesh nor MeshIdentity, and the trust domain the props name is used', () => {
    const objects = story(Mesh.kuma({ identity: KumaIdentity.SPIFFE, createMesh: false, trustDomain: 'prod.example.org' }));
    expect(objects.filter((o) => o.kind === 'Mesh' || o.kind === 'MeshIdentity')).toEqual([]);
    expect(find(objects, 'MeshTrafficPermission', 'lil-deebee', 'production').spec.rules[0].default.allow)
      .toEqual([{ spiffeID: { type: 'Exact', value: 'spiffe://prod.example.org/ns/production/sa/hero' } }]);
    expectValid(objects);
  });

  test('a Peer.workload() client without a ServiceAccount cannot be named by SPIFFE ID: a synth error naming the rule and the way out', () => {
    const a = Testing.app();
    const c = new ZeroTrustChart(a, 'shop', { namespace: 'shop', mesh: SPIFFE() });
    new SecureWorkload(c, 'api', { image: 'api', ports: [Port.tcp(8080)] }).allowFrom(Peer.workload({ namespace: 'batch', labels: { app: 'jobs' } }));
    const error = expectSynthError(a, 'with KumaIdentity.SPIFFE a client\'s identity is its ServiceAccount', 'give the peer its serviceAccount, or use Peer.namespace()');
    expect((error.problems.length > 0 ? error.problems : [error]).map((p) => p.code)).toEqual(['KUMA_NOT_ENFORCEABLE']);
  });

  test('with a ServiceAccount it is an Exact ID (the NetworkPolicy layer below still checks the labels)', () => {
    const a = Testing.app();
    const c = new ZeroTrustChart(a, 'shop', { namespace: 'shop', mesh: SPIFFE() });
    new SecureWorkload(c, 'api', { image: 'api', ports: [Port.tcp(8080)] }).allowFrom(Peer.workload({ namespace: 'batch', labels: { app: 'jobs' }, serviceAccount: 'jobs' }));
    const objects = synthApp(a) as Manifest[];
    expect(find(objects, 'MeshTrafficPermission', 'api', 'shop').spec.rules[0].default.allow).toEqual([{ spiffeID: { type: 'Exact', value: 'spiffe://default.mesh.local/ns/batch/sa/jobs' } }]);
    const np = objects.filter((o) => o.kind === 'NetworkPolicy' && JSON.stringify(o.spec).includes('"app":"jobs"'));
    expect(np.length).toBeGreaterThan(0);
  });

  test('bad props fail where the mesh is made', () => {
    expectError(() => Mesh.kuma({ trustDomain: 'x.example' }), 'INVALID_MESH_PROPS', /trustDomain is used only with identity: KumaIdentity.SPIFFE/);
    expectError(() => Mesh.kuma({ identity: 'certs' as any }), 'INVALID_MESH_PROPS', /identity "certs" is not one of tags, spiffe/);
    expect(() => Mesh.kuma({ identity: KumaIdentity.SPIFFE, trustDomain: 'Not A Domain' })).toThrow(/trustDomain/);
  });
});
