/** detectBackend over every backend's story output, readerFor's composition and enrolment. */
import * as path from 'path';
import { BACKENDS, BackendDetectionError, detectBackend, enrolExternal, inventory, loadManifests, readerFor } from '../lib/verify';
import { Endpoint, Manifest } from '../lib/verify/types';
import { BackendId } from '../lib/intent/backend';

const DIST = path.join(__dirname, '..', 'dist');

describe('detectBackend', () => {
  test.each(BACKENDS.map((b) => [b]))('dist/%s is detected as itself', (backend) => {
    expect(detectBackend(loadManifests(path.join(DIST, backend)))).toBe(backend);
  });

  test('mixed meshes are a clear error naming what was found', () => {
    const mixed = [...loadManifests(path.join(DIST, 'istio')), ...loadManifests(path.join(DIST, 'linkerd'))];
    expect(() => detectBackend(mixed)).toThrow(BackendDetectionError);
    expect(() => detectBackend(mixed)).toThrow(/several meshes: istio \(.*\); linkerd \(/);
  });

  test('nothing recognisable is a clear error', () => {
    const plain: Manifest[] = [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'a' } }];
    expect(() => detectBackend(plain)).toThrow(/no policy object recognised among 1 manifests/);
    expect(() => readerFor(plain, { backend: 'calico' })).toThrow(/unknown backend "calico"/);
  });
});

describe('readerFor', () => {
  const pod = (namespace: string): Endpoint => ({ id: `${namespace}/probe`, kind: 'pod', namespace, namespaceLabels: { 'kubernetes.io/metadata.name': namespace }, namespaceAnnotations: {}, labels: {}, annotations: {}, serviceAccount: 'default', ports: [] });

  test('enrolExternal sets what each reader looks at', () => {
    expect(enrolExternal('istio', pod('ingress-nginx')).namespaceLabels).toMatchObject({ 'istio-injection': 'enabled' });
    expect(enrolExternal('istio-ambient', pod('ingress-nginx')).namespaceLabels).toMatchObject({ 'istio.io/dataplane-mode': 'ambient' });
    expect(enrolExternal('linkerd', pod('ingress-nginx')).namespaceAnnotations).toMatchObject({ 'linkerd.io/inject': 'enabled' });
    expect(enrolExternal('kuma', pod('ingress-nginx')).namespaceLabels).toMatchObject({ 'kuma.io/sidecar-injection': 'enabled', 'kuma.io/mesh': 'default' });
    expect(enrolExternal('networkpolicy', pod('x'))).toEqual(pod('x'));
    const ip: Endpoint = { id: 'ip:192.0.2.1', kind: 'ip', ip: '192.0.2.1' };
    expect(enrolExternal('istio', ip)).toBe(ip);
  });

  /** Whether the backend denies the story's ingress-nginx peer when it is not enrolled in the mesh. */
  const UNMESHED_DENIED: { readonly [id in BackendId]: boolean } = {
    'networkpolicy': false, 'istio': true, 'istio-ambient': true, 'linkerd': true, 'cilium': false, 'kuma': true, 'nsm': false,
  };
  test.each(BACKENDS.map((b) => [b]))('%s: the story flow from ingress-nginx, enrolled or not', (backend) => {
    const manifests = loadManifests(path.join(DIST, backend));
    const hero = inventory(manifests).workloads.find((w) => w.id === 'production/hero')!;
    const deebee = inventory(manifests).workloads.find((w) => w.id === 'production/lil-deebee')!;
    const q = (source: Endpoint, destination: Endpoint, port: number) => ({ source, destination, port, protocol: 'TCP' as const });
    const plain = readerFor(manifests);
    const enrolled = readerFor(manifests, { enrolledNamespaces: ['ingress-nginx'] });
    expect(plain.backend).toBe(backend);
    expect(enrolled.backend).toBe(backend);
    expect(enrolled.evaluate(q(pod('ingress-nginx'), hero, 8080)).allowed).toBe(true);
    expect(enrolled.evaluate(q(pod('ingress-nginx'), deebee, 5432)).allowed).toBe(false);
    expect(enrolled.evaluate(q(pod('elsewhere'), hero, 8080)).allowed).toBe(false);
    expect(enrolled.evaluate(q(hero, deebee, 5432)).allowed).toBe(true);
    // NSM connections are L3 and bidirectional (docs/backends/nsm.md): the reverse path is open.
    expect(enrolled.evaluate(q(deebee, hero, 8080)).allowed).toBe(backend === 'nsm');
    // A peer outside the mesh is rejected by the identity meshes, admitted by the L3/L4 ones.
    expect(plain.evaluate(q(pod('ingress-nginx'), hero, 8080)).allowed).toBe(!UNMESHED_DENIED[backend]);
  });
});
