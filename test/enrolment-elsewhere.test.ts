/**
 * Issue 18: with `createNamespace: false` (a namespace managed elsewhere, without the mesh's
 * labels), Kuma and Linkerd pods enrol themselves. The proof must fail without the pod
 * metadata: the reader's enrolment result is asserted with and without it.
 */
import { Testing } from 'cdk8s';
import { IstioMode, Mesh, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { inventory } from '../lib/verify/inventory';
import { readerFor } from '../lib/verify/readers';
import { Endpoint } from '../lib/verify/types';
import { synthApp } from './support/synth';

const CASES = [
  ['kuma', () => Mesh.kuma({ meshName: 'payments' }), { labels: { 'kuma.io/sidecar-injection': 'enabled', 'kuma.io/mesh': 'payments' } }],
  ['linkerd', () => Mesh.linkerd(), { annotations: { 'linkerd.io/inject': 'enabled', 'config.linkerd.io/default-inbound-policy': 'deny' } }],
  ['istio', () => Mesh.istio(), { labels: { 'sidecar.istio.io/inject': 'true' } }],
  ['istio-ambient', () => Mesh.istio({ mode: IstioMode.AMBIENT }), { labels: { 'istio.io/dataplane-mode': 'ambient' } }],
] as const;

/** A bare namespace: only the name label Kubernetes sets. */
const BARE = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { 'kubernetes.io/metadata.name': 'shop' } } };

function elsewhere(mesh: Mesh): any[] {
  const app = Testing.app();
  const c = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh, createNamespace: false });
  const api = new SecureWorkload(c, 'api', { image: 'api', ports: [Port.http(8080)] });
  api.allowFrom(new SecureWorkload(c, 'web', { image: 'web' }));
  return synthApp(app);
}

/** The objects with the given pod-template metadata keys removed (the enrolment a namespace would otherwise give). */
function withoutEnrolment(objects: any[], keys: readonly string[]): any[] {
  const copy = JSON.parse(JSON.stringify(objects));
  for (const o of copy) {
    const meta = o.spec?.template?.metadata;
    if (!meta) continue;
    for (const k of keys) {
      delete meta.labels?.[k];
      delete meta.annotations?.[k];
    }
  }
  return copy;
}

/** web -> api, and a pod with web's labels and ServiceAccount that is not enrolled -> api. */
function verdicts(id: string, objects: any[]): { web: boolean; intruder: boolean; apiMeshed: string } {
  const manifests = [BARE, ...objects];
  const reader = readerFor(manifests, { backend: id });
  const pods = inventory(manifests).workloads;
  const api = pods.find((p) => p.labels?.['app.kubernetes.io/name'] === 'api')!;
  const web = pods.find((p) => p.labels?.['app.kubernetes.io/name'] === 'web')!;
  const intruder: Endpoint = { ...web, id: 'shop/intruder', labels: { 'app.kubernetes.io/name': 'web' }, annotations: {}, workload: undefined };
  const ask = (source: Endpoint) => reader.evaluate({ source, destination: api, port: 8080, protocol: 'TCP' });
  const reasons = ask(intruder).reasons.join('; ');
  return { web: ask(web).allowed, intruder: ask(intruder).allowed, apiMeshed: reasons };
}

describe('createNamespace: false — enrolment is on the pods, and the proof depends on it', () => {
  test.each(CASES)('%s: every pod template carries the enrolment metadata', (_id, mesh, expected) => {
    const objects = elsewhere(mesh());
    expect(objects.some((o) => o.kind === 'Namespace')).toBe(false);
    const templates = objects.filter((o) => o.kind === 'Deployment').map((d) => d.spec.template.metadata);
    expect(templates).toHaveLength(2);
    for (const t of templates) {
      if ('labels' in expected) expect(t.labels).toMatchObject(expected.labels);
      if ('annotations' in expected) expect(t.annotations).toMatchObject(expected.annotations);
    }
  });

  test.each(CASES)('%s: in a bare namespace the enrolled api refuses a plaintext pod with web\'s labels; without the pod metadata it would not', (id, mesh, expected) => {
    const objects = elsewhere(mesh());
    const enrolled = verdicts(id, objects);
    expect(enrolled.web).toBe(true);
    expect(enrolled.intruder).toBe(false);
    const keys = Object.keys('labels' in expected ? expected.labels : expected.annotations);
    const bare = verdicts(id, withoutEnrolment(objects, keys));
    // Neither pod in the mesh: nothing but the NetworkPolicy layer, which admits web's labels.
    expect(bare.intruder).toBe(true);
    expect(bare.web).toBe(true);
  });
});
