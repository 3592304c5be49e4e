import { Testing } from 'cdk8s';
import { Enforcement, KumaIdentity, Mesh } from '../lib';
import { heroAndLilDeeBee } from '../apps/story';
import { isAudited } from '../lib/verify/audit';
import { readerFor } from '../lib/verify/readers';
import { Manifest } from '../lib/verify/types';
import { expectValid } from './support/schema';
import { expectSynthError, find, synthApp } from './support/synth';
import { workloadEndpoints } from './support/istio-endpoints';

function story(enforcement?: Enforcement): any[] {
  const app = Testing.app();
  heroAndLilDeeBee(app, Mesh.kuma(), { enforcement });
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
