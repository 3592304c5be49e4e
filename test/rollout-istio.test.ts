import { Testing } from 'cdk8s';
import { Enforcement, IstioMode, Mesh, MtlsMode, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { heroAndLilDeeBee } from '../apps/story';
import { EnforcedView, isAudited } from '../lib/verify/audit';
import { readerFor } from '../lib/verify/readers';
import { Endpoint, Query } from '../lib/verify/types';
import { expectValid } from './support/schema';
import { find, synthApp } from './support/synth';

const DRY_RUN = 'istio.io/dry-run';

function story(stage: { enforcement?: Enforcement; mtls?: MtlsMode }): any[] {
  const app = Testing.app();
  heroAndLilDeeBee(app, Mesh.istio(), stage);
  return synthApp(app);
}

const pod = (namespace: string, name: string, serviceAccount = name): Endpoint => ({
  id: `${namespace}/${name}`, kind: 'pod', namespace, labels: { 'app.kubernetes.io/name': name }, serviceAccount,
  namespaceLabels: { 'kubernetes.io/metadata.name': namespace },
});
const HERO = pod('production', 'hero');
const DEEBEE = pod('production', 'lil-deebee');
const INGRESS = pod('ingress-nginx', 'controller');
const ENROLLED_ELSEWHERE = pod('payments', 'api');

describe('the story on Istio (sidecar) in AUDIT', () => {
  const enforce = story({});
  const audit = story({ enforcement: Enforcement.AUDIT });

  test('every object validates strictly against its upstream schema', () => {
    expectValid(audit);
  });

  test('every AuthorizationPolicy of the chart is a dry run; everything else is as in ENFORCE, plus one audit NetworkPolicy per workload', () => {
    const policies = audit.filter((o) => o.kind === 'AuthorizationPolicy');
    expect(policies.length).toBeGreaterThan(1);
    for (const p of policies) expect(p.metadata.annotations[DRY_RUN]).toBe('true');
    const strip = (o: any) => {
      if (o.kind !== 'AuthorizationPolicy') return o;
      const { [DRY_RUN]: _d, 'zero-trust.cdk8s.io/stage': _s, ...annotations } = o.metadata.annotations;
      return { ...o, metadata: { ...o.metadata, annotations } };
    };
    const added = audit.filter((o) => o.metadata.name.endsWith('-audit-ingress'));
    expect(added.map((o) => o.metadata.name).sort()).toEqual(['hero-audit-ingress', 'lil-deebee-audit-ingress']);
    expect(audit.filter((o) => !added.includes(o)).map(strip)).toEqual(enforce);
    const np = find(audit, 'NetworkPolicy', 'lil-deebee-audit-ingress', 'production');
    expect(np.spec).toEqual({ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'lil-deebee' } }, policyTypes: ['Ingress'], ingress: [{ ports: [{ port: 5432 }] }] });
  });

  test('STRICT mTLS stays: the audit admits only mesh clients', () => {
    expect(find(audit, 'PeerAuthentication', 'default', 'production').spec).toEqual({ mtls: { mode: 'STRICT' } });
  });

  test('the reader admits an undeclared mesh client and marks it; declared flows are not marked; the enforced view denies exactly the marked ones', () => {
    const reader = readerFor(audit, { backend: 'istio', enrolledNamespaces: ['ingress-nginx', 'payments'] });
    const enforced = new EnforcedView(reader);
    const before = readerFor(enforce, { backend: 'istio', enrolledNamespaces: ['ingress-nginx', 'payments'] });
    const ask = (r: { evaluate(q: Query): any }, source: Endpoint, destination: Endpoint, port: number) => r.evaluate({ source, destination, port, protocol: 'TCP' });
    const undeclared = ask(reader, ENROLLED_ELSEWHERE, DEEBEE, 5432);
    expect(undeclared.allowed).toBe(true);
    expect(isAudited(undeclared)).toBe(true);
    expect(undeclared.reasons.join('\n')).toMatch(/would be denied; allowed because the policies are dry-run/);
    expect(ask(enforced, ENROLLED_ELSEWHERE, DEEBEE, 5432).allowed).toBe(false);
    expect(ask(before, ENROLLED_ELSEWHERE, DEEBEE, 5432).allowed).toBe(false);
    for (const [s, d, port] of [[HERO, DEEBEE, 5432], [INGRESS, HERO, 8080]] as const) {
      const declared = ask(reader, s, d, port);
      expect(declared.allowed).toBe(true);
      expect(isAudited(declared)).toBe(false);
    }
    // A plaintext client is still rejected (STRICT), and the workloads' own egress stays enforced.
    const outsider = pod('elsewhere', 'x');
    expect(ask(reader, outsider, DEEBEE, 5432).allowed).toBe(false);
    expect(ask(reader, DEEBEE, HERO, 8080).allowed).toBe(false);
  });
});

describe('the story on Istio (sidecar) in PERMISSIVE', () => {
  test('the namespace\'s PeerAuthentication is PERMISSIVE and validates; nothing else changes', () => {
    const enforce = story({});
    const plain = story({ mtls: MtlsMode.PERMISSIVE });
    expectValid(plain);
    const pa = find(plain, 'PeerAuthentication', 'default', 'production');
    expect(pa.spec).toEqual({ mtls: { mode: 'PERMISSIVE' } });
    expect(pa.metadata.annotations['zero-trust.cdk8s.io/stage']).toBe('permissive');
    expect(plain.filter((o) => o.kind !== 'PeerAuthentication')).toEqual(enforce.filter((o) => o.kind !== 'PeerAuthentication'));
  });

  test('with AUDIT, a plaintext client passes mTLS and is admitted, marked; in ENFORCE the authorization still refuses it', () => {
    const outsider = pod('elsewhere', 'x');
    const auditPlain = readerFor(story({ enforcement: Enforcement.AUDIT, mtls: MtlsMode.PERMISSIVE }), { backend: 'istio' });
    const d = auditPlain.evaluate({ source: outsider, destination: DEEBEE, port: 5432, protocol: 'TCP' });
    expect(d.allowed).toBe(true);
    expect(isAudited(d)).toBe(true);
    const enforcePlain = readerFor(story({ mtls: MtlsMode.PERMISSIVE }), { backend: 'istio' });
    const e = enforcePlain.evaluate({ source: outsider, destination: DEEBEE, port: 5432, protocol: 'TCP' });
    expect(e.allowed).toBe(false);
    expect(e.reasons.join('\n')).toMatch(/PERMISSIVE/);
  });

  test('a workload PeerAuthentication with port-level exceptions keeps its own allows text and becomes PERMISSIVE', () => {
    const app = Testing.app();
    const c = new ZeroTrustChart(app, 'p', { namespace: 'p', mesh: Mesh.istio(), mtls: MtlsMode.PERMISSIVE });
    const w = new SecureWorkload(c, 'api', { image: 'x', ports: [Port.http(8080)] });
    w.allowFrom(Peer.ipBlock('203.0.113.0/24'), { ports: [Port.http(8080)] });
    const objects = synthApp(app);
    expectValid(objects);
    const pas = objects.filter((o) => o.kind === 'PeerAuthentication');
    expect(pas.length).toBe(2);
    for (const pa of pas) expect(pa.spec.mtls.mode).toBe('PERMISSIVE');
    const own = pas.find((pa) => pa.spec.selector)!;
    expect(own.metadata.annotations['zero-trust.cdk8s.io/allows']).not.toMatch(/^PERMISSIVE mTLS: pods of/);
  });
});

test('the reader on hand-written ambient manifests: ztunnel is not sent dry-run policies, so they are absent there and nothing is marked', () => {
  const app = Testing.app();
  heroAndLilDeeBee(app, Mesh.istio({ mode: IstioMode.AMBIENT }));
  const objects = synthApp(app).map((o) => (o.kind === 'AuthorizationPolicy'
    ? { ...o, metadata: { ...o.metadata, annotations: { ...o.metadata.annotations, [DRY_RUN]: 'true' } } } : o));
  const meshOnly = readerFor(objects, { backend: 'istio-ambient', networkLayer: false, enrolledNamespaces: ['payments'] });
  const d = meshOnly.evaluate({ source: ENROLLED_ELSEWHERE, destination: DEEBEE, port: 5432, protocol: 'TCP' });
  expect(d.allowed).toBe(true);
  expect(isAudited(d)).toBe(false);
  const enforced = readerFor(synthApp((() => { const a = Testing.app(); heroAndLilDeeBee(a, Mesh.istio({ mode: IstioMode.AMBIENT })); return a; })()), { backend: 'istio-ambient', networkLayer: false, enrolledNamespaces: ['payments'] });
  expect(enforced.evaluate({ source: ENROLLED_ELSEWHERE, destination: DEEBEE, port: 5432, protocol: 'TCP' }).allowed).toBe(false);
});
