import { Testing } from 'cdk8s';
import { Enforcement, IstioMode, Mesh, MtlsMode, ZeroTrustChart } from '../lib';
import { BACKEND_IDS, BackendId } from '../lib/intent/backend';
import { intentDocument, parseIntentDocument } from '../lib/intent/document';
import { IntentRegistry } from '../lib/intent/registry';
import { STORY_MESHES } from '../apps/main';
import { heroAndLilDeeBee } from '../apps/story';
import { expectError } from './support/errors';

/** A mesh of each backend (as the story renders it). */
const MESH: { [id in BackendId]: () => Mesh } = {
  'networkpolicy': () => Mesh.networkPolicy(),
  'istio': () => Mesh.istio(),
  'istio-ambient': () => Mesh.istio({ mode: IstioMode.AMBIENT }),
  'linkerd': () => Mesh.linkerd(),
  'cilium': () => Mesh.cilium(),
  'kuma': () => Mesh.kuma(),
  'nsm': () => Mesh.networkServiceMesh(),
};

/** Which backend honours which stage (the README's rollout table says the same). */
const AUDIT: BackendId[] = ['istio', 'linkerd', 'kuma'];
const PERMISSIVE: BackendId[] = ['istio', 'kuma'];

function chart(id: BackendId, enforcement?: Enforcement, mtls?: MtlsMode): ZeroTrustChart {
  return new ZeroTrustChart(Testing.app(), 'prod', { namespace: 'prod', mesh: MESH[id](), enforcement, mtls });
}

describe.each([...BACKEND_IDS])('the stages on %s', (id) => {
  test(AUDIT.includes(id) ? 'Enforcement.AUDIT is accepted' : 'Enforcement.AUDIT is refused with STAGE_NOT_SUPPORTED, naming alternatives', () => {
    if (AUDIT.includes(id)) {
      expect(chart(id, Enforcement.AUDIT)._stage).toEqual({ enforcement: 'audit' });
      expect(chart(id, Enforcement.AUDIT).enforcement).toBe(Enforcement.AUDIT);
      return;
    }
    const e = expectError(() => chart(id, Enforcement.AUDIT), 'STAGE_NOT_SUPPORTED', /Enforcement\.AUDIT cannot be honoured/);
    expect(e.backend).toBe(id);
    expect(e.namespace).toBe('prod');
    // Every refusal names a way forward: a mesh that audits, or the cluster setting to use.
    expect(e.message).toMatch(/Mesh\.istio\(\) sidecar|IstioMode\.SIDECAR|policy-audit-mode/);
  });

  test(PERMISSIVE.includes(id) ? 'MtlsMode.PERMISSIVE is accepted' : 'MtlsMode.PERMISSIVE is refused with MTLS_MODE_NOT_SUPPORTED', () => {
    if (PERMISSIVE.includes(id)) {
      expect(chart(id, undefined, MtlsMode.PERMISSIVE)._stage).toEqual({ mtls: 'permissive' });
      expect(chart(id, undefined, MtlsMode.PERMISSIVE).mtls).toBe(MtlsMode.PERMISSIVE);
      return;
    }
    const e = expectError(() => chart(id, undefined, MtlsMode.PERMISSIVE), 'MTLS_MODE_NOT_SUPPORTED', /MtlsMode\.PERMISSIVE cannot be honoured/);
    expect(e.backend).toBe(id);
  });

  test('ENFORCE and STRICT, given explicitly, are the default', () => {
    expect(chart(id, Enforcement.ENFORCE, MtlsMode.STRICT)._stage).toEqual({});
    const c = chart(id);
    expect([c.enforcement, c.mtls]).toEqual([Enforcement.ENFORCE, MtlsMode.STRICT]);
  });
});

test('Cilium\'s refusal says what the cluster must set, as the YAML cannot carry it', () => {
  expectError(() => chart('cilium', Enforcement.AUDIT), 'STAGE_NOT_SUPPORTED', /policyAuditMode=true.*PolicyAuditMode=Enabled/);
});

test('a value outside the enums is INVALID_ARGUMENT', () => {
  expectError(() => chart('istio', 'audit' as any), 'INVALID_ARGUMENT', /enforcement must be one of ENFORCE, AUDIT/);
  expectError(() => chart('istio', undefined, 'permissive' as any), 'INVALID_ARGUMENT', /mtls must be one of STRICT, PERMISSIVE/);
});

test('ENFORCE and STRICT given explicitly render the story byte for byte as the defaults, on every backend', () => {
  for (const mesh of STORY_MESHES) {
    const plain = Testing.app();
    heroAndLilDeeBee(plain, mesh);
    const explicit = Testing.app();
    heroAndLilDeeBee(explicit, mesh, { enforcement: Enforcement.ENFORCE, mtls: MtlsMode.STRICT });
    expect(explicit.synthYaml()).toBe(plain.synthYaml());
  }
});

test('zero-trust.intent.json records the stage only when it is not the default, and reads it back', () => {
  const app = Testing.app();
  new ZeroTrustChart(app, 'a', { namespace: 'a', mesh: Mesh.istio(), enforcement: Enforcement.AUDIT, mtls: MtlsMode.PERMISSIVE });
  new ZeroTrustChart(app, 'b', { namespace: 'b', mesh: Mesh.istio() });
  const model = IntentRegistry.of(app).resolve().model;
  const doc = intentDocument(model);
  expect(doc.namespaces.map((n) => [n.name, n.enforcement, n.mtls])).toEqual([['a', 'audit', 'permissive'], ['b', undefined, undefined]]);
  expect(Object.keys(doc.namespaces[1])).toEqual(['name', 'backend', 'dns']);
  const back = parseIntentDocument(JSON.parse(JSON.stringify(doc)));
  expect(back.model.namespaces.map((n) => [n.name, n.enforcement, n.mtls])).toEqual([['a', 'audit', 'permissive'], ['b', undefined, undefined]]);
  const bad = JSON.parse(JSON.stringify(doc));
  bad.namespaces[0].enforcement = 'observe';
  expectError(() => parseIntentDocument(bad), 'INVALID_INTENT_DOCUMENT', /namespaces\[0\]\.enforcement: expected "audit"/);
});
