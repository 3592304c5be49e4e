/**
 * The Cilium reader against hand-written manifests (Cilium semantics), and the property:
 * reader(synth(intent)) == intent, on random topologies, for every probe query.
 *
 * Until the shared probe universe and `intentAllows` land on main, the expected semantics here is
 * written from the declared rules directly (not from the renderer's model).
 */
import { App, Testing } from 'cdk8s';
import * as fc from 'fast-check';
import { Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { CiliumMutualAuth } from '../lib/meshes/cilium';
import { httpRuleMatches, normalizeHttpRule } from '../lib/intent/rules';
import { CiliumPolicyEvaluator, dnsMatches } from '../lib/verify/cilium';
import { Endpoint, Manifest, Query } from '../lib/verify/types';
import { heroAndLilDeeBee } from '../apps/story';
import { synthApp } from './support/synth';

// ---------------------------------------------------------------------------------------------
// endpoints from manifests

/** Pod endpoints of every Deployment/StatefulSet, with namespace labels from the Namespace objects. */
function podsOf(objects: any[]): Endpoint[] {
  const nsLabels = new Map<string, any>(objects.filter((o) => o.kind === 'Namespace').map((o) => [o.metadata.name, { ...o.metadata.labels, 'kubernetes.io/metadata.name': o.metadata.name }]));
  return objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet').map((o) => ({
    id: `${o.metadata.namespace}/${o.metadata.name}`,
    kind: 'pod' as const,
    namespace: o.metadata.namespace,
    namespaceLabels: nsLabels.get(o.metadata.namespace) ?? { 'kubernetes.io/metadata.name': o.metadata.namespace },
    labels: o.spec.template.metadata.labels,
    serviceAccount: o.spec.template.spec.serviceAccountName,
    workload: o.metadata.name,
    ports: (o.spec.template.spec.containers[0].ports ?? []).map((p: any) => ({ name: p.name, number: p.containerPort, protocol: p.protocol })),
  }));
}

function pod(ns: string, name: string, labels: { [k: string]: string }, sa = 'default', nsLabels: { [k: string]: string } = {}): Endpoint {
  return { id: `${ns}/${name}`, kind: 'pod', namespace: ns, namespaceLabels: { 'kubernetes.io/metadata.name': ns, ...nsLabels }, labels, serviceAccount: sa };
}
const ip = (a: string): Endpoint => ({ id: `ip:${a}`, kind: 'ip', ip: a });
const host = (h: string): Endpoint => ({ id: `fqdn:${h}`, kind: 'fqdn', host: h });
const q = (source: Endpoint, destination: Endpoint, port: number, protocol: 'TCP' | 'UDP' = 'TCP', http?: { method: string; path: string }): Query => ({ source, destination, port, protocol, ...(http ? { http } : {}) });

const OUTSIDE = pod('outside', 'intruder', { app: 'intruder' });
const NGINX = pod('ingress-nginx', 'controller', { 'app.kubernetes.io/name': 'ingress-nginx' }, 'ingress-nginx');
const PROMETHEUS = pod('monitoring', 'prometheus', { app: 'prometheus' }, 'prometheus');
const PROMETHEUS_OTHER_SA = pod('monitoring', 'prometheus-impostor', { app: 'prometheus' }, 'default');
const KUBE_DNS = pod('kube-system', 'coredns', { 'k8s-app': 'kube-dns' }, 'coredns');

function storyObjects(mesh = Mesh.cilium({ mutualAuth: CiliumMutualAuth.SPIRE })): any[] {
  const app = Testing.app();
  heroAndLilDeeBee(app, mesh);
  return synthApp(app);
}

// ---------------------------------------------------------------------------------------------
// hand-written Cilium semantics

describe('the reader knows Cilium', () => {
  const web = pod('shop', 'web', { app: 'web' }, 'web');
  const api = pod('shop', 'api', { app: 'api' }, 'api');
  const cnp = (name: string, spec: any, namespace = 'shop'): Manifest => ({ apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name, namespace }, spec });

  test('no policy: Cilium default mode allows everything', () => {
    expect(new CiliumPolicyEvaluator([]).evaluate(q(web, api, 8080)).allowed).toBe(true);
  });

  test('an ingress section closes ingress only; egress stays open', () => {
    const r = new CiliumPolicyEvaluator([cnp('api', { endpointSelector: { matchLabels: { app: 'api' } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'web' } }] }] })]);
    expect(r.evaluate(q(web, api, 8080)).allowed).toBe(true);
    expect(r.evaluate(q(OUTSIDE, api, 8080)).allowed).toBe(false);
    expect(r.evaluate(q(api, ip('198.51.100.1'), 443)).allowed).toBe(true);
  });

  test('an empty rule {} allows everything; a present but empty peer list allows nothing', () => {
    const open = new CiliumPolicyEvaluator([cnp('api', { endpointSelector: { matchLabels: { app: 'api' } }, ingress: [{}] })]);
    expect(open.evaluate(q(OUTSIDE, api, 1)).allowed).toBe(true);
    const closed = new CiliumPolicyEvaluator([cnp('api', { endpointSelector: { matchLabels: { app: 'api' } }, ingress: [{ fromEntities: [] }] })]);
    expect(closed.evaluate(q(web, api, 1)).allowed).toBe(false);
  });

  test('enableDefaultDeny cannot close a direction without rules (cilium#35558), but can keep one open despite rules', () => {
    const notClosed = new CiliumPolicyEvaluator([cnp('base', { endpointSelector: { matchLabels: { app: 'api' } }, enableDefaultDeny: { ingress: true, egress: true }, egress: [{ toEntities: ['world'] }] })]);
    expect(notClosed.evaluate(q(web, api, 8080)).allowed).toBe(true);
    expect(notClosed.evaluate(q(api, web, 8080)).allowed).toBe(false);
    const closed = new CiliumPolicyEvaluator([cnp('base', { endpointSelector: { matchLabels: { app: 'api' } }, ingress: [{ fromEntities: ['none'] }] })]);
    expect(closed.evaluate(q(web, api, 8080)).allowed).toBe(false);
    const open = new CiliumPolicyEvaluator([cnp('base', { endpointSelector: {}, enableDefaultDeny: { ingress: false }, ingress: [{ fromEntities: ['world'] }] })]);
    expect(open.evaluate(q(web, api, 8080)).allowed).toBe(true);
  });

  test('fromEndpoints without a namespace means the policy namespace; the endpointSelector too', () => {
    const r = new CiliumPolicyEvaluator([cnp('api', { endpointSelector: { matchLabels: { app: 'api' } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'web' } }] }] })]);
    expect(r.evaluate(q(pod('other', 'web', { app: 'web' }), api, 8080)).allowed).toBe(false);
    expect(r.evaluate(q(web, pod('other', 'api', { app: 'api' }), 8080)).allowed).toBe(true);
    const cross = new CiliumPolicyEvaluator([cnp('api', { endpointSelector: { matchLabels: { app: 'api' } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'web', 'k8s:io.kubernetes.pod.namespace': 'other' } }] }] })]);
    expect(cross.evaluate(q(pod('other', 'web', { app: 'web' }), api, 8080)).allowed).toBe(true);
    expect(cross.evaluate(q(web, api, 8080)).allowed).toBe(false);
  });

  test('the ServiceAccount label pins the source identity', () => {
    const r = new CiliumPolicyEvaluator([cnp('api', { endpointSelector: { matchLabels: { app: 'api' } }, ingress: [{ fromEndpoints: [{ matchLabels: { 'k8s:io.cilium.k8s.policy.serviceaccount': 'web' } }] }] })]);
    expect(r.evaluate(q(web, api, 8080)).allowed).toBe(true);
    expect(r.evaluate(q(pod('shop', 'web2', { app: 'web' }, 'other'), api, 8080)).allowed).toBe(false);
  });

  test('deny rules win over allows', () => {
    const r = new CiliumPolicyEvaluator([cnp('api', {
      endpointSelector: { matchLabels: { app: 'api' } },
      ingress: [{ fromEntities: ['cluster'] }],
      ingressDeny: [{ fromEndpoints: [{ matchLabels: { app: 'web' } }], toPorts: [{ ports: [{ port: '8080', protocol: 'TCP' }] }] }],
    })]);
    expect(r.evaluate(q(web, api, 8080)).allowed).toBe(false);
    expect(r.evaluate(q(web, api, 9090)).allowed).toBe(true);
  });

  test('entities and CIDR sets with exceptions', () => {
    const r = new CiliumPolicyEvaluator([cnp('web', { endpointSelector: { matchLabels: { app: 'web' } }, egress: [{ toCIDRSet: [{ cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] }] }, { toEntities: ['cluster'] }] })]);
    expect(r.evaluate(q(web, ip('10.2.3.4'), 443)).allowed).toBe(true);
    expect(r.evaluate(q(web, ip('10.1.3.4'), 443)).allowed).toBe(false);
    expect(r.evaluate(q(web, ip('198.51.100.1'), 443)).allowed).toBe(false);
    expect(r.evaluate(q(web, api, 443)).allowed).toBe(true);
  });

  test('ports: ranges, ANY protocol, named ports', () => {
    const named = { ...api, ports: [{ name: 'http', number: 8080, protocol: 'TCP' as const }] };
    const r = new CiliumPolicyEvaluator([cnp('web', { endpointSelector: { matchLabels: { app: 'web' } }, egress: [{ toEntities: ['all'], toPorts: [{ ports: [{ port: '8000', endPort: 8010 }, { port: 'http', protocol: 'TCP' }] }] }] })]);
    expect(r.evaluate(q(web, ip('198.51.100.1'), 8005, 'UDP')).allowed).toBe(true);
    expect(r.evaluate(q(web, ip('198.51.100.1'), 8011)).allowed).toBe(false);
    expect(r.evaluate(q(web, named, 8080)).allowed).toBe(true);
    expect(r.evaluate(q(web, api, 8080)).allowed).toBe(false);
  });

  test('HTTP regexes are matched against the whole method and path; an L4-only rule for the same peer allows all', () => {
    const http = { endpointSelector: { matchLabels: { app: 'api' } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'web' } }], toPorts: [{ ports: [{ port: '8080', protocol: 'TCP' }], rules: { http: [{ method: 'GET', path: '/api/.*' }] } }] }] };
    const r = new CiliumPolicyEvaluator([cnp('api', http)]);
    expect(r.evaluate(q(web, api, 8080, 'TCP', { method: 'GET', path: '/api/x' })).allowed).toBe(true);
    expect(r.evaluate(q(web, api, 8080, 'TCP', { method: 'GETX', path: '/api/x' })).allowed).toBe(false);
    expect(r.evaluate(q(web, api, 8080, 'TCP', { method: 'GET', path: '/v2/api/x' })).allowed).toBe(false);
    expect(r.evaluate(q(web, api, 8080)).allowed).toBe(true);
    const widened = new CiliumPolicyEvaluator([cnp('api', http), cnp('api-l4', { endpointSelector: { matchLabels: { app: 'api' } }, ingress: [{ fromEndpoints: [{ matchLabels: { app: 'web' } }] }] })]);
    expect(widened.evaluate(q(web, api, 8080, 'TCP', { method: 'DELETE', path: '/' })).allowed).toBe(true);
  });

  test('toFQDNs needs a DNS rule that lets the source resolve the name', () => {
    const fqdnRule = { toFQDNs: [{ matchName: 'api.example.com' }], toPorts: [{ ports: [{ port: '443', protocol: 'TCP' }] }] };
    const dns = (names: any[]) => ({ toEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'kube-system', 'k8s:k8s-app': 'kube-dns' } }], toPorts: [{ ports: [{ port: '53', protocol: 'UDP' }], rules: { dns: names } }] });
    const blind = new CiliumPolicyEvaluator([cnp('web', { endpointSelector: { matchLabels: { app: 'web' } }, egress: [fqdnRule, { toEndpoints: [{ matchLabels: { 'k8s:io.kubernetes.pod.namespace': 'kube-system' } }] }] })]);
    expect(blind.evaluate(q(web, host('api.example.com'), 443)).allowed).toBe(false);
    const seeing = new CiliumPolicyEvaluator([cnp('web', { endpointSelector: { matchLabels: { app: 'web' } }, egress: [fqdnRule, dns([{ matchName: 'api.example.com' }])] })]);
    expect(seeing.evaluate(q(web, host('api.example.com'), 443)).allowed).toBe(true);
    expect(seeing.evaluate(q(web, host('evil.example.com'), 443)).allowed).toBe(false);
    expect(seeing.evaluate(q(web, KUBE_DNS, 53, 'UDP')).allowed).toBe(true);
    expect(seeing.evaluate(q(web, KUBE_DNS, 53, 'TCP')).allowed).toBe(false);
  });

  test('DNS patterns: * one label deep, leading * without dot, **. many labels', () => {
    expect(dnsMatches({ matchPattern: '*.cilium.io' }, 'www.cilium.io')).toBe(true);
    expect(dnsMatches({ matchPattern: '*.cilium.io' }, 'cilium.io')).toBe(false);
    expect(dnsMatches({ matchPattern: '*.cilium.io' }, 'a.b.cilium.io')).toBe(false);
    expect(dnsMatches({ matchPattern: '*cilium.io' }, 'sub-cilium.io')).toBe(true);
    expect(dnsMatches({ matchPattern: '**.cilium.io' }, 'a.b.cilium.io')).toBe(true);
    expect(dnsMatches({ matchName: 'API.example.com.' }, 'api.example.com')).toBe(true);
  });

  test('fields it does not model are an error, not a silent allow', () => {
    expect(() => new CiliumPolicyEvaluator([cnp('web', { endpointSelector: {}, egress: [{ toServices: [{ k8sService: { serviceName: 'x', namespace: 'y' } }] }] })]).evaluate(q(web, api, 1))).toThrow(/toServices is not modelled/);
    expect(() => new CiliumPolicyEvaluator([{ apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'x', namespace: 'shop' }, spec: {} }])).toThrow(/does not model Kubernetes NetworkPolicy/);
  });
});

// ---------------------------------------------------------------------------------------------
// the story, read back

describe('the story, read back from the manifests', () => {
  const objects = storyObjects();
  const reader = new CiliumPolicyEvaluator(objects);
  const [hero, db] = ['production/hero', 'production/lil-deebee'].map((id) => podsOf(objects).find((p) => p.id === id)!);

  test('exactly the declared flows, plus DNS', () => {
    expect(reader.evaluate(q(hero, db, 5432)).allowed).toBe(true);
    expect(reader.evaluate(q(hero, db, 5433)).allowed).toBe(false);
    expect(reader.evaluate(q(db, hero, 8080)).allowed).toBe(false);
    expect(reader.evaluate(q(NGINX, hero, 8080)).allowed).toBe(true);
    expect(reader.evaluate(q(NGINX, db, 5432)).allowed).toBe(false);
    expect(reader.evaluate(q(OUTSIDE, hero, 8080)).allowed).toBe(false);
    expect(reader.evaluate(q(OUTSIDE, db, 5432)).allowed).toBe(false);
    expect(reader.evaluate(q(hero, ip('203.0.113.9'), 443)).allowed).toBe(true);
    expect(reader.evaluate(q(hero, ip('203.0.114.9'), 443)).allowed).toBe(false);
    expect(reader.evaluate(q(db, ip('203.0.113.9'), 443)).allowed).toBe(false);
    expect(reader.evaluate(q(db, KUBE_DNS, 53, 'UDP')).allowed).toBe(true);
    expect(reader.evaluate(q(db, host('example.com'), 443)).allowed).toBe(false);
    expect(reader.evaluate(q(hero, db, 5432)).reasons).toEqual([
      'CiliumNetworkPolicy production/hero egress[1] allows egress',
      'CiliumNetworkPolicy production/lil-deebee ingress[0] allows ingress',
    ]);
  });

  test('a widened manifest is caught: an added empty rule opens Lil DeeBee to everyone', () => {
    const edited = JSON.parse(JSON.stringify(objects));
    edited.find((o: any) => o.metadata?.name === 'lil-deebee' && o.kind === 'CiliumNetworkPolicy').spec.ingress.push({});
    expect(new CiliumPolicyEvaluator(edited).evaluate(q(OUTSIDE, db, 5432)).allowed).toBe(true);
  });

  test('an edited manifest is caught: without the baseline, ingress-only Lil DeeBee may call out despite enableDefaultDeny', () => {
    const edited = JSON.parse(JSON.stringify(objects)).filter((o: any) => o.metadata?.name !== 'default-deny');
    expect(new CiliumPolicyEvaluator(edited).evaluate(q(db, ip('198.51.100.1'), 443)).allowed).toBe(true);
    expect(reader.evaluate(q(db, ip('198.51.100.1'), 443)).allowed).toBe(false);
  });

  test('ztunnel: between enrolled pods Cilium sees HBONE, so an undeclared port of Lil DeeBee opens to Hero (documented gap)', () => {
    const zt = storyObjects(Mesh.cilium({ mutualAuth: CiliumMutualAuth.ZTUNNEL }));
    const r = new CiliumPolicyEvaluator(zt);
    const [h, d] = ['production/hero', 'production/lil-deebee'].map((id) => podsOf(zt).find((p) => p.id === id)!);
    expect(h.namespaceLabels!['io.cilium/mtls-enabled']).toBe('true');
    expect(r.evaluate(q(h, d, 5432)).allowed).toBe(true);
    expect(r.evaluate(q(h, d, 5433)).allowed).toBe(true);
    expect(r.evaluate(q(OUTSIDE, d, 5432)).allowed).toBe(false);
    expect(r.evaluate(q(NGINX, h, 8080)).allowed).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// the property

interface WorkloadSpec { ns: string; name: string; ports: Port[] }
interface RuleSpec { from: number | 'nginx' | 'prometheus' | 'partner'; to: number | 'partner' | 'api'; portIdx?: number; http?: { methods?: string[]; paths?: string[] } }
interface Topology { workloads: WorkloadSpec[]; rules: RuleSpec[]; mode: CiliumMutualAuth }

const PORT_CHOICES = [Port.http(8080), Port.tcp(5432, 'postgres'), Port.udp(5353, 'mdns'), Port.grpc(9090)];
const PARTNER = '203.0.113.0/24';
const FQDN = 'api.example.com';

const topology: fc.Arbitrary<Topology> = fc.record({
  workloads: fc.uniqueArray(fc.record({
    ns: fc.constantFrom('alpha', 'beta'),
    name: fc.constantFrom('web', 'api', 'db', 'jobs'),
    ports: fc.subarray(PORT_CHOICES, { minLength: 0, maxLength: 2 }),
  }), { minLength: 1, maxLength: 4, selector: (w) => `${w.ns}/${w.name}` }),
  rules: fc.array(fc.record({
    from: fc.oneof(fc.nat(3), fc.constantFrom('nginx' as const, 'prometheus' as const, 'partner' as const)),
    to: fc.oneof(fc.nat(3), fc.constantFrom('partner' as const, 'api' as const)),
    portIdx: fc.option(fc.nat(1), { nil: undefined }),
    http: fc.option(fc.record({
      methods: fc.option(fc.subarray(['GET', 'POST'], { minLength: 1 }), { nil: undefined }),
      paths: fc.option(fc.subarray(['/api/*', '/healthz'], { minLength: 1 }), { nil: undefined }),
    }), { nil: undefined }),
  }), { maxLength: 6 }),
  mode: fc.constantFrom(CiliumMutualAuth.SPIRE, CiliumMutualAuth.NONE),
});

/** A declared flow in endpoint terms, for the expected semantics. */
interface Declared { src: (e: Endpoint) => boolean; dst: (e: Endpoint) => boolean; ports?: Port[]; http: Array<{ methods: string[]; paths: string[] }> }

/** Builds the app; returns it with the flows as declared (only those that synth accepts). */
function build(t: Topology): { app: App; declared: Declared[] } {
  const app = Testing.app();
  const charts = new Map<string, ZeroTrustChart>();
  const made: Array<{ spec: WorkloadSpec; w: SecureWorkload }> = [];
  for (const spec of t.workloads) {
    if (!charts.has(spec.ns)) charts.set(spec.ns, new ZeroTrustChart(app, spec.ns, { namespace: spec.ns, mesh: Mesh.cilium({ mutualAuth: t.mode }) }));
    made.push({ spec, w: new SecureWorkload(charts.get(spec.ns)!, spec.name, { image: spec.name, ports: spec.ports }) });
  }
  const isWorkload = (m: { spec: WorkloadSpec }) => (e: Endpoint) => e.kind === 'pod' && e.namespace === m.spec.ns && e.workload === m.spec.name;
  const declared: Declared[] = [];
  for (const r of t.rules) {
    const src = typeof r.from === 'number' ? made[r.from % made.length] : undefined;
    if (typeof r.to === 'number' || r.to === 'api') {
      // Inbound to a workload of the app.
      const dst = typeof r.to === 'number' ? made[r.to % made.length] : made.find((m) => m.spec.name === 'api');
      if (!dst || dst.spec.ports.length === 0 || (src && src === dst)) continue;
      const ports = r.portIdx !== undefined ? [dst.spec.ports[r.portIdx % dst.spec.ports.length]] : undefined;
      const portList = ports ?? dst.spec.ports;
      const http = r.http && portList.every((p) => p.speaksHttp) ? [r.http] : undefined;
      const peer = src ? src.w : r.from === 'nginx' ? Peer.namespace('ingress-nginx')
        : r.from === 'prometheus' ? Peer.workload({ namespace: 'monitoring', labels: { app: 'prometheus' }, serviceAccount: 'prometheus' })
          : Peer.ipBlock(PARTNER);
      dst.w.allowFrom(peer, { ports, http });
      const srcMatch = src ? isWorkload(src) : r.from === 'nginx' ? (e: Endpoint) => e.kind === 'pod' && e.namespace === 'ingress-nginx'
        : r.from === 'prometheus' ? (e: Endpoint) => e.kind === 'pod' && e.namespace === 'monitoring' && e.labels?.app === 'prometheus' && e.serviceAccount === 'prometheus'
          : (e: Endpoint) => e.kind === 'ip' && !!e.ip?.startsWith('203.0.113.');
      declared.push({ src: srcMatch, dst: isWorkload(dst), ports: portList, http: (http ?? []).map((h) => normalizeHttpRule(h, 'test')) });
    } else if (src) {
      // Outbound to the partner range or the partner host.
      const toHost = (r.portIdx ?? 0) % 2 === 1;
      const port = r.http ? Port.http(80) : Port.tcp(443);
      const http = r.http ? [r.http] : undefined;
      src.w.allowTo(toHost ? Peer.fqdn(FQDN) : Peer.ipBlock(PARTNER), { ports: [port], http });
      declared.push({
        src: isWorkload(src),
        dst: toHost ? (e) => e.kind === 'fqdn' && e.host === FQDN : (e) => e.kind === 'ip' && !!e.ip?.startsWith('203.0.113.'),
        ports: [port],
        http: (http ?? []).map((h) => normalizeHttpRule(h, 'test')),
      });
    }
  }
  return { app, declared };
}

function expected(declared: Declared[], query: Query): boolean {
  const { source, destination } = query;
  if (source.kind === 'pod' && destination.id === KUBE_DNS.id && query.port === 53) return true; // DNS stays open
  return declared.some((d) => d.src(source) && d.dst(destination)
    && (!d.ports || d.ports.some((p) => p.number === query.port && p.protocol === query.protocol))
    && (d.http.length === 0 || !query.http || d.http.some((h) => httpRuleMatches(h, query.http!.method, query.http!.path))));
}

function probes(objects: any[]): Query[] {
  const pods = podsOf(objects);
  const others = [OUTSIDE, NGINX, PROMETHEUS, PROMETHEUS_OTHER_SA];
  const external = [ip('203.0.113.7'), ip('198.51.100.1'), host(FQDN), host('evil.example.com')];
  const requests = [undefined, { method: 'GET', path: '/api/x' }, { method: 'POST', path: '/healthz' }, { method: 'DELETE', path: '/api/x' }];
  const out: Query[] = [];
  const portsOf = (e: Endpoint): Array<[number, 'TCP' | 'UDP']> => [...(e.ports ?? []).map((p) => [p.number, p.protocol] as [number, 'TCP' | 'UDP']), [9999, 'TCP']];
  for (const src of [...pods, ...others, ip('203.0.113.7'), ip('198.51.100.1')]) {
    for (const dst of [...pods, ...others, ...external, KUBE_DNS]) {
      if (src.id === dst.id) continue;
      if (!pods.includes(src) && !pods.includes(dst)) continue;
      const ports: Array<[number, 'TCP' | 'UDP']> = dst.kind === 'pod' ? (dst === KUBE_DNS ? [[53, 'UDP'], [53, 'TCP']] : portsOf(dst)) : [[443, 'TCP'], [80, 'TCP'], [5353, 'UDP']];
      for (const [port, protocol] of ports) {
        for (const http of protocol === 'TCP' && dst !== KUBE_DNS ? requests : [undefined]) out.push(q(src, dst, port, protocol, http));
      }
    }
  }
  return out;
}

describe('property: reader(synth(intent)) == intent', () => {
  test('on random topologies, every probe, including sources outside the mesh', () => {
    let checked = 0;
    let allowed = 0;
    fc.assert(fc.property(topology, (t) => {
      const { app, declared } = build(t);
      const objects = synthApp(app);
      const reader = new CiliumPolicyEvaluator(objects);
      for (const query of probes(objects)) {
        const got = reader.evaluate(query);
        const want = expected(declared, query);
        if (got.allowed !== want) {
          throw new Error(`${query.source.id} -> ${query.destination.id}:${query.port}/${query.protocol}${query.http ? ` ${query.http.method} ${query.http.path}` : ''}: reader ${got.allowed}, intent ${want}\n${got.reasons.join('\n')}`);
        }
        checked++;
        if (want && query.destination.id !== KUBE_DNS.id) allowed++;
      }
    }), { seed: 20261127, numRuns: 50 });
    expect(checked).toBeGreaterThan(1000);
    expect(allowed).toBeGreaterThan(100);
  });
});
