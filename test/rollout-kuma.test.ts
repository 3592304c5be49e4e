import { Testing } from 'cdk8s';
import { Enforcement, KumaIdentity, Mesh, MtlsMode } from '../lib';
import { heroAndLilDeeBee } from '../apps/story';
import { isAudited } from '../lib/verify/audit';
import { readerFor } from '../lib/verify/readers';
import { Manifest } from '../lib/verify/types';
import { expectValid } from './support/schema';
import { expectSynthError, find, synthApp } from './support/synth';
import { workloadEndpoints } from './support/istio-endpoints';

function story(enforcement?: Enforcement, mtls?: MtlsMode): any[] {
  const app = Testing.app();
  heroAndLilDeeBee(app, Mesh.kuma(), { enforcement, mtls });
  return synthApp(app);
}

describe('the story on Kuma in AUDIT', () => {
  const enforce = story();
  const audit = story(Enforcement.AUDIT);

  test('every object validates strictly against its upstream schema (AllowWithShadowDeny is in the pinned CRD)', () => {
    expectValid(audit);
  });

  test('the pinned default of each destination becomes AllowWithShadowDeny; the declared Allow entries stay; one audit NetworkPolicy per workload', () => {
    const before = find(enforce, 'MeshTrafficPermission', 'lil-deebee', 'production');
    const after = find(audit, 'MeshTrafficPermission', 'lil-deebee', 'production');
    expect(before.spec.from[0]).toEqual({ targetRef: { kind: 'Mesh' }, default: { action: 'Deny' } });
    expect(after.spec.from[0]).toEqual({ targetRef: { kind: 'Mesh' }, default: { action: 'AllowWithShadowDeny' } });
    expect(after.spec.from.slice(1)).toEqual(before.spec.from.slice(1));
    expect(find(audit, 'NetworkPolicy', 'hero-audit-ingress', 'production').spec.ingress).toEqual([{ ports: [{ port: 8080 }] }]);
  });

  test('an undeclared meshed client is admitted and marked; the declared one is not', () => {
    const reader = readerFor(audit as Manifest[], { backend: 'kuma', enrolledNamespaces: ['batch'] });
    const pods = workloadEndpoints(audit as Manifest[]);
    const hero = pods.find((e) => e.workload === 'hero')!;
    const deebee = pods.find((e) => e.workload === 'lil-deebee')!;
    const declared = reader.evaluate({ source: hero, destination: deebee, port: 5432, protocol: 'TCP' });
    expect([declared.allowed, isAudited(declared)]).toEqual([true, false]);
    const batch = { id: 'batch/x', kind: 'pod' as const, namespace: 'batch', labels: { app: 'x' }, serviceAccount: 'x', namespaceLabels: { 'kubernetes.io/metadata.name': 'batch' } };
    const undeclared = reader.evaluate({ source: batch, destination: deebee, port: 5432, protocol: 'TCP' });
    expect([undeclared.allowed, isAudited(undeclared)]).toEqual([true, true]);
    expect(undeclared.reasons.join('\n')).toMatch(/AllowWithShadowDeny\): would be denied/);
  });
});

test('AUDIT with KumaIdentity.SPIFFE is refused (STAGE_NOT_SUPPORTED): rules[] have no default entry to audit', () => {
  const app = Testing.app();
  heroAndLilDeeBee(app, Mesh.kuma({ identity: KumaIdentity.SPIFFE }), { enforcement: Enforcement.AUDIT });
  const e = expectSynthError(app, 'KumaIdentity.TAGS');
  expect((e.problems.length ? e.problems : [e]).map((p) => p.code)).toContain('STAGE_NOT_SUPPORTED');
});

/** A pod of a namespace outside the mesh (no injection label): a plaintext client. */
function outside(namespace: string, labels: { [key: string]: string } = { app: 'x' }) {
  return { id: `${namespace}/x`, kind: 'pod' as const, namespace, labels, serviceAccount: 'x', namespaceLabels: { 'kubernetes.io/metadata.name': namespace } };
}

describe('the story on Kuma in PERMISSIVE', () => {
  const strict = story();
  const plain = story(undefined, MtlsMode.PERMISSIVE);

  test('one MeshTLS more, Permissive for every sidecar of the namespace, validating against the pinned CRD; every other object as in STRICT', () => {
    expectValid(plain);
    const tls = plain.filter((o) => o.kind === 'MeshTLS');
    expect(tls).toHaveLength(1);
    expect(tls[0].metadata).toMatchObject({ name: 'permissive-mtls', namespace: 'production', labels: { 'kuma.io/mesh': 'default' } });
    expect(tls[0].metadata.annotations['zero-trust.cdk8s.io/stage']).toBe('permissive');
    expect(tls[0].spec).toEqual({ targetRef: { kind: 'Mesh' }, rules: [{ default: { mode: 'Permissive' } }] });
    expect(strict.some((o) => o.kind === 'MeshTLS')).toBe(false);
    expect(plain.filter((o) => o.kind !== 'MeshTLS')).toEqual(strict);
  });

  test('a declared client outside the mesh is admitted in plaintext with no permission checked; STRICT rejects it', () => {
    const hero = workloadEndpoints(plain as Manifest[]).find((e) => e.workload === 'hero')!;
    const q = { source: outside('ingress-nginx'), destination: hero, port: 8080, protocol: 'TCP' as const };
    const before = readerFor(strict as Manifest[], { backend: 'kuma' }).evaluate(q);
    expect(before.allowed).toBe(false);
    expect(before.reasons.join('\n')).toMatch(/mesh default is STRICT: plaintext from ingress-nginx\/x \(outside the mesh\) is rejected/);
    const after = readerFor(plain as Manifest[], { backend: 'kuma' }).evaluate(q);
    expect(after.allowed).toBe(true);
    expect(isAudited(after)).toBe(false);
    expect(after.reasons.join('\n')).toMatch(/MeshTLS production\/permissive-mtls makes production\/hero PERMISSIVE: plaintext from ingress-nginx\/x passes, and Kuma checks no MeshTrafficPermission/);
    expect(after.effects.find((e) => e.layer === 'kuma')!.objects).toEqual([{ kind: 'MeshTLS', namespace: 'production', name: 'permissive-mtls' }]);
  });

  test('plaintext is not a way around the intent: an undeclared client outside the mesh is still dropped by the NetworkPolicy layer, an undeclared meshed one by the permissions', () => {
    const reader = readerFor(plain as Manifest[], { backend: 'kuma', enrolledNamespaces: ['batch'] });
    const pods = workloadEndpoints(plain as Manifest[]);
    const hero = pods.find((e) => e.workload === 'hero')!;
    const deebee = pods.find((e) => e.workload === 'lil-deebee')!;
    // hero's labels, outside the mesh, in another namespace: not the declared source.
    const impostor = reader.evaluate({ source: outside('batch-plain', hero.labels), destination: deebee, port: 5432, protocol: 'TCP' });
    expect(impostor.allowed).toBe(false);
    expect(impostor.effects.filter((e) => e.verdict === 'deny').map((e) => e.layer)).toEqual(['networkpolicy']);
    const meshed = { ...outside('batch'), namespaceLabels: { 'kubernetes.io/metadata.name': 'batch', 'kuma.io/sidecar-injection': 'enabled' } };
    const m = reader.evaluate({ source: meshed, destination: hero, port: 8080, protocol: 'TCP' });
    expect(m.allowed).toBe(false);
    // The declared meshed client keeps its mTLS permission.
    expect(reader.evaluate({ source: hero, destination: deebee, port: 5432, protocol: 'TCP' }).allowed).toBe(true);
  });

  test('a more specific MeshTLS Strict on one workload wins over the namespace\'s Permissive; a MeshTLS the reader cannot model throws', () => {
    const hero = workloadEndpoints(plain as Manifest[]).find((e) => e.workload === 'hero')!;
    const strictHero = { apiVersion: 'kuma.io/v1alpha1', kind: 'MeshTLS', metadata: { name: 'hero-strict', namespace: 'production', labels: { 'kuma.io/mesh': 'default' } },
      spec: { targetRef: { kind: 'Dataplane', labels: { ...hero.labels } }, rules: [{ default: { mode: 'Strict' } }] } };
    const q = { source: outside('ingress-nginx'), destination: hero, port: 8080, protocol: 'TCP' as const };
    const d = readerFor([...plain, strictHero] as Manifest[], { backend: 'kuma' }).evaluate(q);
    expect(d.allowed).toBe(false);
    expect(d.reasons.join('\n')).toMatch(/MeshTLS production\/hero-strict makes production\/hero STRICT/);
    const ported = { ...strictHero, spec: { ...strictHero.spec, targetRef: { ...strictHero.spec.targetRef, sectionName: 'http' } } };
    expect(() => readerFor([...plain, ported] as Manifest[], { backend: 'kuma' }).evaluate(q)).toThrow(/sectionName is not modelled/);
  });
});

test('PERMISSIVE with KumaIdentity.SPIFFE is refused (MTLS_MODE_NOT_SUPPORTED): plaintext would skip the ServiceAccount check', () => {
  const app = Testing.app();
  heroAndLilDeeBee(app, Mesh.kuma({ identity: KumaIdentity.SPIFFE }), { mtls: MtlsMode.PERMISSIVE });
  const e = expectSynthError(app, 'KumaIdentity.TAGS');
  const problems = e.problems.length ? e.problems : [e];
  expect(problems.map((p) => p.code)).toContain('MTLS_MODE_NOT_SUPPORTED');
  expect(problems.map((p) => p.message).join('\n')).toMatch(/checks no MeshTrafficPermission on plaintext/);
});

test('PERMISSIVE with AUDIT is refused (MTLS_MODE_NOT_SUPPORTED): the audit NetworkPolicies admit anyone, and plaintext meets no permission that records it', () => {
  const app = Testing.app();
  heroAndLilDeeBee(app, Mesh.kuma(), { enforcement: Enforcement.AUDIT, mtls: MtlsMode.PERMISSIVE });
  const e = expectSynthError(app, 'audit in STRICT first');
  expect((e.problems.length ? e.problems : [e]).map((p) => p.code)).toContain('MTLS_MODE_NOT_SUPPORTED');
});
