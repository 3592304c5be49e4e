import { Testing } from 'cdk8s';
import { Mesh } from '../lib';
import { heroAndLilDeeBee } from '../apps/story';
import { expectValid } from './support/schema';
import { find, synthApp, storyYaml } from './support/synth';

function story(mesh: Mesh = Mesh.kuma()): any[] {
  const app = Testing.app();
  heroAndLilDeeBee(app, mesh);
  return synthApp(app);
}

const ALLOWS = 'zero-trust.cdk8s.io/allows';

describe('the story on Kuma', () => {
  const objects = story();

  test('every object validates strictly against its upstream schema (Kuma CRDs, Mesh.json for the Mesh spec)', () => {
    expectValid(objects);
  });

  test('the namespace joins the mesh with sidecar injection', () => {
    expect(find(objects, 'Namespace', 'production').metadata.labels).toEqual({
      'app.kubernetes.io/managed-by': 'cdk8s-zero-trust',
      'kuma.io/mesh': 'default',
      'kuma.io/sidecar-injection': 'enabled',
    });
  });

  test('the Mesh is cluster-scoped, builtin CA, mTLS STRICT, without default policies', () => {
    const mesh = find(objects, 'Mesh', 'default');
    expect(mesh.apiVersion).toBe('kuma.io/v1alpha1');
    expect(mesh.metadata.namespace).toBeUndefined();
    expect(mesh.spec).toEqual({
      mtls: { enabledBackend: 'ca-1', backends: [{ name: 'ca-1', type: 'builtin', mode: 'STRICT' }] },
      skipCreatingInitialPolicies: ['*'],
    });
  });

  test('Lil DeeBee admits only Hero, matched by its tags (labels + namespace), on the whole Dataplane', () => {
    const mtp = find(objects, 'MeshTrafficPermission', 'lil-deebee', 'production');
    expect(mtp.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'cdk8s-zero-trust', 'kuma.io/mesh': 'default' });
    expect(mtp.spec).toEqual({
      targetRef: { kind: 'Dataplane', labels: { 'app.kubernetes.io/name': 'lil-deebee' } },
      // The default pinned first: a mesh-wide Allow cannot widen it.
      from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Deny' } }, {
        targetRef: { kind: 'MeshSubset', tags: { 'app.kubernetes.io/name': 'hero', 'k8s.kuma.io/namespace': 'production' } },
        default: { action: 'Allow' },
      }],
    });
    expect(mtp.metadata.annotations[ALLOWS]).toBe('production/hero -> production/lil-deebee on 5432/TCP');
  });

  test('Hero admits the ingress-nginx namespace by its namespace tag', () => {
    const mtp = find(objects, 'MeshTrafficPermission', 'hero', 'production');
    expect(mtp.spec.targetRef).toEqual({ kind: 'Dataplane', labels: { 'app.kubernetes.io/name': 'hero' } });
    expect(mtp.spec.from).toEqual([{ targetRef: { kind: 'Mesh' }, default: { action: 'Deny' } }, { targetRef: { kind: 'MeshSubset', tags: { 'k8s.kuma.io/namespace': 'ingress-nginx' } }, default: { action: 'Allow' } }]);
  });

  test('only two permissions: each pins its default with a Deny from Mesh first, then allows MeshSubsets only', () => {
    const mtps = objects.filter((o) => o.kind === 'MeshTrafficPermission');
    expect(mtps.map((m) => m.metadata.name).sort()).toEqual(['hero', 'lil-deebee']);
    for (const m of mtps) {
      expect(m.spec.from[0]).toEqual({ targetRef: { kind: 'Mesh' }, default: { action: 'Deny' } });
      for (const f of m.spec.from.slice(1)) {
        expect(f.default.action).toBe('Allow');
        expect(f.targetRef.kind).toBe('MeshSubset');
      }
    }
  });

  test('egress leaves the mesh only for Hero, only to the partner range on 443', () => {
    const none = find(objects, 'MeshPassthrough', 'no-passthrough', 'production');
    expect(none.spec).toEqual({ targetRef: { kind: 'Mesh' }, default: { passthroughMode: 'None' } });
    const hero = find(objects, 'MeshPassthrough', 'hero-passthrough', 'production');
    expect(hero.spec).toEqual({
      targetRef: { kind: 'Dataplane', labels: { 'app.kubernetes.io/name': 'hero' } },
      default: { passthroughMode: 'Matched', appendMatch: [{ type: 'CIDR', value: '203.0.113.0/24', port: 443, protocol: 'tcp' }] },
    });
    expect(objects.filter((o) => o.kind === 'MeshPassthrough')).toHaveLength(2);
  });

  test('NetworkPolicy stays on below: default deny, DNS, kuma-cp 5678, and the declared flows', () => {
    const names = objects.filter((o) => o.kind === 'NetworkPolicy').map((p) => p.metadata.name).sort();
    expect(names).toEqual(['allow-dns', 'allow-kuma-control-plane', 'default-deny', 'hero-egress', 'hero-ingress', 'lil-deebee-ingress']);
    expect(find(objects, 'NetworkPolicy', 'allow-kuma-control-plane').spec).toEqual({
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [{
        to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kuma-system' } }, podSelector: { matchLabels: { app: 'kuma-control-plane' } } }],
        ports: [{ port: 5678 }],
      }],
    });
    expect(find(objects, 'NetworkPolicy', 'lil-deebee-ingress').spec.ingress).toEqual([
      { from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'hero' } } }], ports: [{ port: 5432 }] },
    ]);
  });

  test('pods carry no API token; the sidecar gets one from a projected volume named by annotation', () => {
    for (const [kind, name] of [['Deployment', 'hero'], ['StatefulSet', 'lil-deebee']]) {
      const pod = find(objects, kind, name).spec.template;
      expect(pod.spec.automountServiceAccountToken).toBe(false);
      expect(pod.metadata.annotations).toEqual({ 'kuma.io/service-account-token-volume': 'kuma-sidecar-token' });
      expect(pod.spec.volumes.map((v: any) => v.name)).toEqual(['kuma-sidecar-token']);
      expect(pod.spec.volumes[0].projected.sources[0]).toEqual({ serviceAccountToken: { path: 'token', expirationSeconds: 3607 } });
      expect(pod.spec.containers.every((c: any) => !c.volumeMounts)).toBe(true);
    }
  });

  test('createMesh: false references the mesh by name and emits none', () => {
    const objs = story(Mesh.kuma({ meshName: 'payments', createMesh: false }));
    expect(objs.some((o) => o.kind === 'Mesh')).toBe(false);
    expect(find(objs, 'Namespace', 'production').metadata.labels['kuma.io/mesh']).toBe('payments');
    for (const o of objs.filter((x) => x.apiVersion === 'kuma.io/v1alpha1')) expect(o.metadata.labels['kuma.io/mesh']).toBe('payments');
    expectValid(objs);
  });

  test('snapshot, for review', () => {
    expect(objects).toMatchSnapshot();
  });

  test('two synths give identical bytes', () => {
    expect(storyYaml(Mesh.kuma())).toBe(storyYaml(Mesh.kuma()));
  });
});
