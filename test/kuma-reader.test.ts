/**
 * The Kuma reader against synthesized output: reader(synth(intent)) == intent on every probe the
 * Kuma layer decides alone (TCP between meshed pods on declared ports, TCP from meshed pods to
 * addresses and host names), sources outside the mesh are denied, and edited manifests are caught.
 * Ports a workload does not declare, UDP and `except` ranges are the NetworkPolicy layer's job.
 */
import fc from 'fast-check';
import { App, Testing } from 'cdk8s';
import { KumaHttpRules, KumaIdentity, Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { heroAndLilDeeBee } from '../apps/story';
import { KumaEvaluator, KumaMtls } from '../lib/verify/kuma';
import { Endpoint, Manifest, Query } from '../lib/verify/types';
import { synthApp } from './support/synth';

const MESHED_NS = { 'kuma.io/sidecar-injection': 'enabled' };

/** Pod endpoints of the workloads in the manifests, as a probe universe would build them. */
function podsOf(objects: Manifest[]): Endpoint[] {
  const nsLabels = new Map(objects.filter((o) => o.kind === 'Namespace').map((n) => [n.metadata.name, { ...n.metadata.labels, 'kubernetes.io/metadata.name': n.metadata.name }]));
  return objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet').map((w) => ({
    id: `${w.metadata.namespace}/${w.metadata.name}`,
    kind: 'pod' as const,
    namespace: w.metadata.namespace,
    namespaceLabels: nsLabels.get(w.metadata.namespace!) ?? {},
    labels: w.spec.template.metadata.labels,
    annotations: w.spec.template.metadata.annotations,
    serviceAccount: w.spec.template.spec.serviceAccountName,
    ports: w.spec.template.spec.containers.flatMap((c: any) => (c.ports ?? []).map((p: any) => ({ name: p.name, number: p.containerPort, protocol: p.protocol }))),
    workload: w.metadata.name,
  }));
}

const pod = (id: string, namespace: string, labels: { [k: string]: string }, meshed: boolean): Endpoint => ({
  id, kind: 'pod', namespace, labels, namespaceLabels: { 'kubernetes.io/metadata.name': namespace, ...(meshed ? MESHED_NS : {}) },
});
const ip = (addr: string): Endpoint => ({ id: `ip:${addr}`, kind: 'ip', ip: addr });
const host = (h: string): Endpoint => ({ id: `fqdn:${h}`, kind: 'fqdn', host: h });
const tcp = (source: Endpoint, destination: Endpoint, port: number): Query => ({ source, destination, port, protocol: 'TCP' });

describe('the story, read back', () => {
  const app = Testing.app();
  heroAndLilDeeBee(app, Mesh.kuma());
  const objects = synthApp(app) as Manifest[];
  const reader = new KumaEvaluator(objects);
  const [hero, deebee] = ['production/hero', 'production/lil-deebee'].map((id) => podsOf(objects).find((p) => p.id === id)!);
  const nginx = pod('ingress-nginx/controller', 'ingress-nginx', { app: 'ingress-nginx' }, true);

  test('both workloads are meshed in mesh default with mTLS STRICT', () => {
    expect(reader.membership(hero)).toEqual({ mesh: 'default' });
    expect(reader.membership(deebee)).toEqual({ mesh: 'default' });
  });

  test('what the story allows', () => {
    expect(reader.evaluate(tcp(hero, deebee, 5432))).toEqual({
      allowed: true,
      effects: [{ layer: 'kuma', verdict: 'allow', objects: [{ kind: 'MeshTrafficPermission', namespace: 'production', name: 'lil-deebee' }], detail: 'MeshTrafficPermission production/lil-deebee (Allow)' }],
      reasons: ['MeshTrafficPermission production/lil-deebee (Allow)'],
    });
    expect(reader.evaluate(tcp(nginx, hero, 8080)).allowed).toBe(true);
    expect(reader.evaluate(tcp(hero, ip('203.0.113.7'), 443)).allowed).toBe(true);
  });

  test('what it does not', () => {
    expect(reader.evaluate(tcp(deebee, hero, 8080)).allowed).toBe(false);
    expect(reader.evaluate(tcp(nginx, deebee, 5432)).allowed).toBe(false);
    expect(reader.evaluate(tcp(hero, ip('198.51.100.1'), 443)).allowed).toBe(false);
    expect(reader.evaluate(tcp(hero, ip('203.0.113.7'), 80)).allowed).toBe(false);
    expect(reader.evaluate(tcp(deebee, ip('203.0.113.7'), 443)).allowed).toBe(false);
    expect(reader.evaluate(tcp(hero, host('api.example.com'), 443)).allowed).toBe(false);
  });

  test('a client outside the mesh is rejected by STRICT mTLS, even from the allowed namespace', () => {
    const plain = pod('ingress-nginx/unmeshed', 'ingress-nginx', { app: 'ingress-nginx' }, false);
    const d = reader.evaluate(tcp(plain, hero, 8080));
    expect(d.allowed).toBe(false);
    expect(d.reasons[0]).toMatch(/STRICT: plaintext/);
    expect(reader.evaluate(tcp(ip('203.0.113.7'), hero, 8080)).allowed).toBe(false);
  });

  test('a client of another mesh is rejected', () => {
    const other = { ...nginx, labels: { ...nginx.labels, 'kuma.io/mesh': 'other' } };
    expect(reader.evaluate(tcp(other, hero, 8080)).allowed).toBe(false);
  });
});

describe('edited manifests are caught', () => {
  const base = (): Manifest[] => {
    const app = Testing.app();
    heroAndLilDeeBee(app, Mesh.kuma());
    return JSON.parse(JSON.stringify(synthApp(app)));
  };
  const pods = (objs: Manifest[]) => podsOf(objs);
  const nginx = pod('ingress-nginx/controller', 'ingress-nginx', { app: 'ingress-nginx' }, true);

  test('a Mesh-wide allow-all permission in kuma-system does not widen anything: each destination pins its default with a Deny', () => {
    const objs = base();
    objs.push({ apiVersion: 'kuma.io/v1alpha1', kind: 'MeshTrafficPermission', metadata: { name: 'allow-all', namespace: 'kuma-system', labels: { 'kuma.io/mesh': 'default' } }, spec: { targetRef: { kind: 'Mesh' }, from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Allow' } }] } });
    const deebee = pods(objs).find((p) => p.id === 'production/lil-deebee')!;
    expect(new KumaEvaluator(objs).evaluate(tcp(nginx, deebee, 5432)).allowed).toBe(false);
    // Without the pin, it would.
    for (const m of objs) if (m.kind === 'MeshTrafficPermission' && m.metadata.namespace === 'production') m.spec.from = m.spec.from.slice(1);
    expect(new KumaEvaluator(objs).evaluate(tcp(nginx, deebee, 5432)).allowed).toBe(true);
  });

  test('a more specific Deny overrides the generated Allow', () => {
    const objs = base();
    objs.push({ apiVersion: 'kuma.io/v1alpha1', kind: 'MeshTrafficPermission', metadata: { name: 'deny-hero', namespace: 'production', labels: { 'kuma.io/mesh': 'default' } }, spec: { targetRef: { kind: 'Dataplane', labels: { 'app.kubernetes.io/name': 'lil-deebee' }, sectionName: 'postgres' }, from: [{ targetRef: { kind: 'MeshSubset', tags: { 'app.kubernetes.io/name': 'hero' } }, default: { action: 'Deny' } }] } });
    const [hero, deebee] = ['production/hero', 'production/lil-deebee'].map((id) => pods(objs).find((p) => p.id === id)!);
    const d = new KumaEvaluator(objs).evaluate(tcp(hero, deebee, 5432));
    expect(d).toEqual({
      allowed: false,
      effects: [{ layer: 'kuma', verdict: 'deny', objects: [{ kind: 'MeshTrafficPermission', namespace: 'production', name: 'deny-hero' }], detail: 'MeshTrafficPermission production/deny-hero (Deny)' }],
      reasons: ['MeshTrafficPermission production/deny-hero (Deny)'],
    });
  });

  test('widening a from entry to the whole namespace lets every production pod in', () => {
    const objs = base();
    const mtp = objs.find((o) => o.kind === 'MeshTrafficPermission' && o.metadata.name === 'lil-deebee')!;
    delete mtp.spec.from[1].targetRef.tags['app.kubernetes.io/name'];
    const [hero, deebee] = ['production/hero', 'production/lil-deebee'].map((id) => pods(objs).find((p) => p.id === id)!);
    const stranger = { ...hero, id: 'production/stranger', labels: { 'app.kubernetes.io/name': 'stranger' } };
    expect(new KumaEvaluator(objs).evaluate(tcp(stranger, deebee, 5432)).allowed).toBe(true);
    expect(new KumaEvaluator(base()).evaluate(tcp(stranger, deebee, 5432)).allowed).toBe(false);
  });

  test('turning mTLS off (or PERMISSIVE) opens the mesh to plaintext', () => {
    const objs = base();
    const mesh = objs.find((o) => o.kind === 'Mesh')!;
    const plain = pod('elsewhere/p', 'elsewhere', { app: 'x' }, false);
    const hero = pods(objs).find((p) => p.id === 'production/hero')!;
    mesh.spec.mtls.backends[0].mode = 'PERMISSIVE';
    expect(new KumaEvaluator(objs).evaluate(tcp(plain, hero, 8080)).allowed).toBe(true);
    delete mesh.spec.mtls.enabledBackend;
    expect(new KumaEvaluator(objs).evaluate(tcp(nginx, hero, 9999)).allowed).toBe(true);
  });

  test('a referenced mesh absent from the manifests is read as mTLS off unless told otherwise', () => {
    const objs = base().filter((o) => o.kind !== 'Mesh');
    const hero = pods(objs).find((p) => p.id === 'production/hero')!;
    const plain = pod('elsewhere/p', 'elsewhere', { app: 'x' }, false);
    expect(new KumaEvaluator(objs).evaluate(tcp(plain, hero, 8080)).allowed).toBe(true);
    expect(new KumaEvaluator(objs, { meshes: { default: KumaMtls.STRICT } }).evaluate(tcp(plain, hero, 8080)).allowed).toBe(false);
  });

  test('removing the None passthrough lets Hero reach any address', () => {
    const objs = base().filter((o) => !(o.kind === 'MeshPassthrough'));
    const deebee = pods(objs).find((p) => p.id === 'production/lil-deebee')!;
    expect(new KumaEvaluator(objs).evaluate(tcp(deebee, ip('198.51.100.1'), 443)).allowed).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// property: reader(synth(intent)) == intent

interface Topo {
  readonly workloads: { ns: number; ports: number[] }[];
  readonly edges: { from: number; to: number; portMask: number }[];
  readonly nsPeers: { to: number; portMask: number }[];
  readonly extPeers: { to: number; portMask: number }[];
  readonly cidrs: { from: number; cidr: number; port: number }[];
  readonly hosts: { from: number; host: number; port: number; http: boolean }[];
  readonly httpOnEdge: boolean;
}

const PORT_POOL = [5432, 8080, 9090];
const CIDRS = ['203.0.113.0/24', '198.51.100.0/25'];
const CIDR_PROBES = ['203.0.113.9', '198.51.100.5', '198.51.100.200', '192.0.2.1'];
const HOSTS = ['api.example.com', '*.partner.example'];
const HOST_PROBES = ['api.example.com', 'x.partner.example', 'partner.example', 'evil.example.com'];

const topoArb: fc.Arbitrary<Topo> = fc.record({
  workloads: fc.array(fc.record({ ns: fc.integer({ min: 0, max: 1 }), ports: fc.subarray(PORT_POOL, { minLength: 1 }) }), { minLength: 1, maxLength: 4 }),
  edges: fc.array(fc.record({ from: fc.nat(3), to: fc.nat(3), portMask: fc.nat(7) }), { maxLength: 5 }),
  nsPeers: fc.array(fc.record({ to: fc.nat(3), portMask: fc.nat(7) }), { maxLength: 2 }),
  extPeers: fc.array(fc.record({ to: fc.nat(3), portMask: fc.nat(7) }), { maxLength: 2 }),
  cidrs: fc.array(fc.record({ from: fc.nat(3), cidr: fc.nat(1), port: fc.constantFrom(443, 8443) }), { maxLength: 2 }),
  hosts: fc.array(fc.record({ from: fc.nat(3), host: fc.nat(1), port: fc.constantFrom(443, 80), http: fc.boolean() }), { maxLength: 2 }),
  httpOnEdge: fc.boolean(),
});

const tcpPort = (n: number) => (n === 8080 ? Port.http(n) : Port.tcp(n));

function build(t: Topo, identity: KumaIdentity = KumaIdentity.TAGS): { app: App; expected: (q: Query) => boolean; names: string[] } {
  const app = Testing.app();
  const spiffe = identity === KumaIdentity.SPIFFE;
  const mesh = Mesh.kuma({ httpRules: KumaHttpRules.ENFORCE_AT_L4, identity });
  const charts = [new ZeroTrustChart(app, 'ns0', { namespace: 'apps', mesh }), new ZeroTrustChart(app, 'ns1', { namespace: 'data', mesh: Mesh.kuma({ createMesh: false, httpRules: KumaHttpRules.ENFORCE_AT_L4, identity }) })];
  // Names repeat across namespaces (apps/w0, data/w0), so only the namespace tag tells clients apart.
  const count = [0, 0];
  const ws = t.workloads.map((w) => new SecureWorkload(charts[w.ns], `w${count[w.ns]++}`, { image: 'x', ports: w.ports.map(tcpPort) }));
  const allowed: { src: (e: Endpoint) => boolean; dst: (e: Endpoint) => boolean; ports: number[] }[] = [];
  const pick = (w: SecureWorkload, mask: number) => {
    const ps = w.ports.filter((_, i) => mask & (1 << i));
    return ps.length ? ps : undefined;
  };
  const isW = (w: SecureWorkload) => (e: Endpoint) => e.id === `${w.namespace}/${w.name}`;
  for (const e of t.edges) {
    const [a, b] = [ws[e.from % ws.length], ws[e.to % ws.length]];
    const ports = pick(b, e.portMask);
    const http = t.httpOnEdge && (ports ?? b.ports).every((p) => p.speaksHttp) ? [{ methods: ['GET'] }] : undefined;
    b.allowFrom(a, { ports, http });
    allowed.push({ src: isW(a), dst: isW(b), ports: (ports ?? b.ports).map((p) => p.number) });
  }
  for (const e of t.nsPeers) {
    const b = ws[e.to % ws.length];
    const ports = pick(b, e.portMask);
    b.allowFrom(Peer.namespace('ingress-nginx'), { ports });
    allowed.push({ src: (x) => x.namespace === 'ingress-nginx', dst: isW(b), ports: (ports ?? b.ports).map((p) => p.number) });
  }
  for (const e of t.extPeers) {
    const b = ws[e.to % ws.length];
    const ports = pick(b, e.portMask);
    // Tags: the labels are the identity. SPIFFE: the ServiceAccount is (the labels are the NetworkPolicy layer's, not read here).
    b.allowFrom(Peer.workload({ namespace: 'monitoring', labels: { app: 'prometheus' }, ...(spiffe ? { serviceAccount: 'prometheus' } : {}) }), { ports });
    const src = spiffe ? (x: Endpoint) => x.namespace === 'monitoring' && x.serviceAccount === 'prometheus' : (x: Endpoint) => x.namespace === 'monitoring' && x.labels?.app === 'prometheus';
    allowed.push({ src, dst: isW(b), ports: (ports ?? b.ports).map((p) => p.number) });
  }
  for (const c of t.cidrs) {
    const a = ws[c.from % ws.length];
    a.allowTo(Peer.ipBlock(CIDRS[c.cidr]), { ports: [Port.tcp(c.port)] });
    const [net, bits] = CIDRS[c.cidr].split('/');
    const base = net.split('.').map(Number).reduce((x, y) => x * 256 + y, 0);
    const inRange = (e: Endpoint) => e.kind === 'ip' && Math.floor(e.ip!.split('.').map(Number).reduce((x, y) => x * 256 + y, 0) / 2 ** (32 - Number(bits))) === Math.floor(base / 2 ** (32 - Number(bits)));
    allowed.push({ src: isW(a), dst: inRange, ports: [c.port] });
  }
  for (const h of t.hosts) {
    const a = ws[h.from % ws.length];
    const name = HOSTS[h.host];
    a.allowTo(Peer.fqdn(name), { ports: [h.http ? Port.http(h.port) : Port.tcp(h.port)] });
    const match = (e: Endpoint) => e.kind === 'fqdn' && (name.startsWith('*.') ? e.host!.endsWith(name.slice(1)) : e.host === name);
    allowed.push({ src: isW(a), dst: match, ports: [h.port] });
  }
  return {
    app,
    names: ws.map((w) => `${w.namespace}/${w.name}`),
    expected: (q) => allowed.some((a) => a.src(q.source) && a.dst(q.destination) && a.ports.includes(q.port)),
  };
}

const withSa = (e: Endpoint, serviceAccount: string): Endpoint => ({ ...e, serviceAccount });

describe.each([KumaIdentity.TAGS, KumaIdentity.SPIFFE])('reader(synth(intent)) == intent, identity %s', (identity) => {
  test('on random topologies (seeded)', () => {
    fc.assert(fc.property(topoArb, (t) => {
      const { app, expected } = build(t, identity);
      const objects = synthApp(app) as Manifest[];
      const reader = new KumaEvaluator(objects);
      const pods = podsOf(objects);
      const clients = [
        ...pods,
        pod('ingress-nginx/controller', 'ingress-nginx', { app: 'ingress-nginx' }, true),
        withSa(pod('monitoring/prometheus', 'monitoring', { app: 'prometheus', extra: 'x' }, true), 'prometheus'),
        withSa(pod('monitoring/grafana', 'monitoring', { app: 'grafana' }, true), 'grafana'),
        // Prometheus's labels under another ServiceAccount: admitted with tags, not with SPIFFE.
        withSa(pod('monitoring/impostor', 'monitoring', { app: 'prometheus' }, true), 'impostor'),
        // Prometheus's ServiceAccount under other labels: admitted by the Kuma layer with SPIFFE (the NetworkPolicy layer checks labels).
        withSa(pod('monitoring/same-sa', 'monitoring', { app: 'other' }, true), 'prometheus'),
      ];
      const outsiders = [pod('ingress-nginx/plain', 'ingress-nginx', { app: 'ingress-nginx' }, false), ip('203.0.113.9')];
      let checked = 0;
      for (const d of pods) {
        for (const port of d.ports!.map((p) => p.number)) {
          for (const s of clients) {
            const q = tcp(s, d, port);
            const got = reader.evaluate(q);
            if (got.allowed !== expected(q)) throw new Error(`${s.id} -> ${d.id}:${port}: reader ${got.allowed} (${got.reasons.join('; ')}), intent ${expected(q)}`);
            checked++;
          }
          for (const s of outsiders) expect(reader.evaluate(tcp(s, d, port)).allowed).toBe(false);
        }
      }
      for (const s of pods) {
        for (const port of [80, 443, 8443]) {
          for (const d of [...CIDR_PROBES.map(ip), ...HOST_PROBES.map(host)]) {
            const q = tcp(s, d, port);
            const got = reader.evaluate(q);
            if (got.allowed !== expected(q)) throw new Error(`${s.id} -> ${d.id}:${port}: reader ${got.allowed} (${got.reasons.join('; ')}), intent ${expected(q)}`);
            checked++;
          }
        }
      }
      expect(checked).toBeGreaterThan(0);
    }), { seed: 20260707, numRuns: 50 });
  });
});
