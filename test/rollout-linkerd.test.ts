import { Testing } from 'cdk8s';
import { Enforcement, Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { heroAndLilDeeBee } from '../apps/story';
import { EnforcedView, isAudited } from '../lib/verify/audit';
import { readerFor } from '../lib/verify/readers';
import { expectValid } from './support/schema';
import { expectSynthError, find, synthApp } from './support/synth';
import { workloadEndpoints } from './support/istio-endpoints';
import { Manifest } from '../lib/verify/types';

const DEFAULT_POLICY = 'config.linkerd.io/default-inbound-policy';

function story(enforcement?: Enforcement): any[] {
  const app = Testing.app();
  heroAndLilDeeBee(app, Mesh.linkerd(), { enforcement });
  return synthApp(app);
}

describe('the story on Linkerd in AUDIT', () => {
  const enforce = story();
  const audit = story(Enforcement.AUDIT);

  test('every object validates strictly against its upstream schema (Server accessPolicy audit is in the pinned v1beta3 CRD)', () => {
    expectValid(audit);
  });

  test('the namespace and the pods default to audit, every Server is in audit, and the layer admits the proxy port and the app ports', () => {
    expect(find(audit, 'Namespace', 'production').metadata.annotations[DEFAULT_POLICY]).toBe('audit');
    expect(find(enforce, 'Namespace', 'production').metadata.annotations[DEFAULT_POLICY]).toBe('deny');
    const servers = audit.filter((o) => o.kind === 'Server');
    expect(servers.length).toBeGreaterThan(0);
    for (const s of servers) expect(s.spec.accessPolicy).toBe('audit');
    for (const w of audit.filter((o) => ['Deployment', 'StatefulSet'].includes(o.kind))) expect(w.spec.template.metadata.annotations[DEFAULT_POLICY]).toBe('audit');
    const np = find(audit, 'NetworkPolicy', 'lil-deebee-audit-ingress', 'production');
    expect(np.spec.ingress).toEqual([{ ports: [{ port: 4143 }, { port: 5432 }] }]);
    // Everything else as in ENFORCE: the same objects, by kind and name.
    const names = (objects: any[]) => objects.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(names(audit).filter((n) => !n.endsWith('-audit-ingress'))).toEqual(names(enforce));
  });

  test('an undeclared meshed client is admitted and marked; a declared one is not; the enforced view is ENFORCE', () => {
    const reader = readerFor(audit as Manifest[], { backend: 'linkerd' });
    const before = readerFor(enforce as Manifest[], { backend: 'linkerd' });
    const pods = workloadEndpoints(audit as Manifest[]);
    const hero = pods.find((e) => e.workload === 'hero')!;
    const deebee = pods.find((e) => e.workload === 'lil-deebee')!;
    const heroBefore = workloadEndpoints(enforce as Manifest[]).find((e) => e.workload === 'hero')!;
    const deebeeBefore = workloadEndpoints(enforce as Manifest[]).find((e) => e.workload === 'lil-deebee')!;
    const declared = reader.evaluate({ source: hero, destination: deebee, port: 5432, protocol: 'TCP' });
    expect(declared.allowed).toBe(true);
    expect(isAudited(declared)).toBe(false);
    // Lil DeeBee may not call Hero: audited, not enforced.
    const undeclared = reader.evaluate({ source: deebee, destination: hero, port: 8080, protocol: 'TCP' });
    const enforcedNow = new EnforcedView(reader).evaluate({ source: deebee, destination: hero, port: 8080, protocol: 'TCP' });
    const enforcedThen = before.evaluate({ source: deebeeBefore, destination: heroBefore, port: 8080, protocol: 'TCP' });
    // Lil DeeBee's egress stays enforced, so the connection never reaches Hero's proxy.
    expect(undeclared.allowed).toBe(false);
    expect(enforcedNow.allowed).toBe(enforcedThen.allowed);
  });
});

test('a peer outside the app reaching a workload in AUDIT is admitted and marked, and a source named by labels is refused (AUDIT_NOT_RECORDED)', () => {
  const app = Testing.app();
  const c = new ZeroTrustChart(app, 'p', { namespace: 'p', mesh: Mesh.linkerd(), enforcement: Enforcement.AUDIT });
  const api = new SecureWorkload(c, 'api', { image: 'x', ports: [Port.http(8080)] });
  api.allowFrom(Peer.namespace('frontend'), { ports: [Port.http(8080)] });
  const objects = synthApp(app);
  const reader = readerFor(objects as Manifest[], { backend: 'linkerd', enrolledNamespaces: ['frontend', 'batch'] });
  const target = workloadEndpoints(objects as Manifest[]).find((e) => e.workload === 'api')!;
  const pod = (ns: string) => ({ id: `${ns}/x`, kind: 'pod' as const, namespace: ns, labels: { app: 'x' }, serviceAccount: 'x', namespaceLabels: { 'kubernetes.io/metadata.name': ns } });
  const declared = reader.evaluate({ source: pod('frontend'), destination: target, port: 8080, protocol: 'TCP' });
  const undeclared = reader.evaluate({ source: pod('batch'), destination: target, port: 8080, protocol: 'TCP' });
  expect([declared.allowed, isAudited(declared)]).toEqual([true, false]);
  expect([undeclared.allowed, isAudited(undeclared)]).toEqual([true, true]);
  expect(undeclared.reasons.join('\n')).toMatch(/would be denied; admitted and logged because the Server is in audit/);

  const refused = Testing.app();
  const r = new ZeroTrustChart(refused, 'p', { namespace: 'p', mesh: Mesh.linkerd(), enforcement: Enforcement.AUDIT });
  const w = new SecureWorkload(r, 'api', { image: 'x', ports: [Port.http(8080)] });
  w.allowFrom(Peer.workload({ namespace: 'batch', labels: { role: 'job' }, serviceAccount: 'job' }));
  const e = expectSynthError(refused, 'not recorded as a would-be denial');
  expect((e.problems.length ? e.problems : [e]).map((p) => p.code)).toContain('AUDIT_NOT_RECORDED');
});
