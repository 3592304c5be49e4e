import { App, Testing } from 'cdk8s';
import { Dns, IstioMode, Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { heroAndLilDeeBee } from '../apps/story';
import { IstioEvaluator } from '../lib/verify/istio';
import { Endpoint, Manifest, Query, decision } from '../lib/verify/types';
import { foreignPod, fqdnEndpoint, ipEndpoint, workloadEndpoints } from './support/istio-endpoints';
import { expectValid } from './support/schema';
import { expectSynthError, find, synthApp } from './support/synth';

const ALLOWS = 'zero-trust.cdk8s.io/allows';
const HERO = { 'app.kubernetes.io/name': 'hero' };
const DEEBEE = { 'app.kubernetes.io/name': 'lil-deebee' };

function story(mode: IstioMode): any[] {
  const app = Testing.app();
  heroAndLilDeeBee(app, Mesh.istio({ mode }));
  return synthApp(app);
}

function byKind(objects: any[], kind: string): string[] {
  return objects.filter((o) => o.kind === kind).map((o) => o.metadata.name).sort();
}

function probe(objects: any[], mode: IstioMode) {
  const reader = new IstioEvaluator(objects as Manifest[], { enrolledNamespaces: { 'ingress-nginx': mode } });
  const eps = workloadEndpoints(objects as Manifest[]);
  const pod = (name: string) => eps.find((e) => e.workload === name)!;
  const ask = (source: Endpoint, destination: Endpoint, port: number, http?: { method: string; path: string }) =>
    reader.evaluate({ source, destination, port, protocol: 'TCP', ...(http ? { http } : {}) } as Query);
  return { reader, pod, ask };
}

describe.each([IstioMode.SIDECAR, IstioMode.AMBIENT])('the story on Istio (%s)', (mode) => {
  const objects = story(mode);
  const ns = 'production';

  test('every object validates strictly against its upstream schema', () => {
    expectValid(objects);
  });

  test('the namespace is enrolled in the right data plane', () => {
    const labels = find(objects, 'Namespace', ns).metadata.labels;
    if (mode === IstioMode.SIDECAR) {
      expect(labels['istio-injection']).toBe('enabled');
      expect(labels['istio.io/dataplane-mode']).toBeUndefined();
    } else {
      expect(labels['istio.io/dataplane-mode']).toBe('ambient');
      expect(labels['istio-injection']).toBeUndefined();
    }
  });

  test('STRICT mTLS for the namespace, and no port-level exception (no source outside the mesh is declared)', () => {
    expect(byKind(objects, 'PeerAuthentication')).toEqual(['default']);
    const pa = find(objects, 'PeerAuthentication', 'default', ns);
    expect(pa.apiVersion).toBe('security.istio.io/v1');
    expect(pa.spec).toEqual({ mtls: { mode: 'STRICT' } });
  });

  test('allow-nothing, then per destination workload one ALLOW policy and its DENY twin', () => {
    expect(byKind(objects, 'AuthorizationPolicy')).toEqual(['allow-nothing', 'hero', 'hero-deny', 'lil-deebee', 'lil-deebee-deny']);
    expect(find(objects, 'AuthorizationPolicy', 'allow-nothing').spec).toEqual({});
    for (const ap of objects.filter((o) => o.kind === 'AuthorizationPolicy')) {
      expect(ap.metadata.labels['app.kubernetes.io/managed-by']).toBe('cdk8s-zero-trust');
      expect(ap.metadata.annotations[ALLOWS]).toBeTruthy();
    }
  });

  test('Lil DeeBee admits Hero by SPIFFE principal, on 5432 only', () => {
    const ap = find(objects, 'AuthorizationPolicy', 'lil-deebee', ns);
    expect(ap.spec).toEqual({
      selector: { matchLabels: DEEBEE },
      action: 'ALLOW',
      rules: [{ from: [{ source: { principals: ['cluster.local/ns/production/sa/hero'] } }], to: [{ operation: { ports: ['5432'] } }] }],
    });
    expect(ap.metadata.annotations[ALLOWS]).toBe('production/hero -> production/lil-deebee on 5432/TCP');
  });

  test('Lil DeeBee\'s DENY twin refuses every other principal on 5432 and every other port (a mesh-wide ALLOW cannot widen it)', () => {
    expect(find(objects, 'AuthorizationPolicy', 'lil-deebee-deny', ns).spec).toEqual({
      selector: { matchLabels: DEEBEE },
      action: 'DENY',
      rules: [
        { from: [{ source: { notPrincipals: ['cluster.local/ns/production/sa/hero'] } }], to: [{ operation: { ports: ['5432'] } }] },
        { to: [{ operation: { notPorts: ['5432'] } }] },
      ],
    });
  });

  test('Hero admits the ingress-nginx namespace on 8080', () => {
    expect(find(objects, 'AuthorizationPolicy', 'hero', ns).spec).toEqual({
      selector: { matchLabels: HERO },
      action: 'ALLOW',
      rules: [{ from: [{ source: { namespaces: ['ingress-nginx'] } }], to: [{ operation: { ports: ['8080'] } }] }],
    });
  });

  test('the reader agrees: declared flows pass, everything else is denied', () => {
    const { pod, ask } = probe(objects, mode);
    const hero = pod('hero');
    const deebee = pod('lil-deebee');
    const nginx = foreignPod('ingress-nginx', 'ingress-nginx');
    const outsider = foreignPod('outside', 'curl');
    const stranger = { ...foreignPod(ns, 'stranger'), namespaceLabels: hero.namespaceLabels };
    expect(ask(hero, deebee, 5432).allowed).toBe(true);
    expect(ask(nginx, hero, 8080).allowed).toBe(true);
    expect(ask(hero, ipEndpoint('203.0.113.7'), 443).allowed).toBe(true);
    // nothing else
    expect(ask(deebee, hero, 8080).allowed).toBe(false);
    expect(ask(nginx, deebee, 5432).allowed).toBe(false);
    expect(ask(stranger, deebee, 5432).allowed).toBe(false);
    expect(ask(hero, deebee, 5433).allowed).toBe(false);
    const out = ask(outsider, hero, 8080);
    expect(out.allowed).toBe(false);
    expect(out.reasons.join('\n')).toMatch(/STRICT mTLS rejects plaintext/);
    expect(ask(ipEndpoint('203.0.113.7'), hero, 8080).allowed).toBe(false);
    if (mode === IstioMode.SIDECAR) {
      // REGISTRY_ONLY: only the declared range and port leave Hero's sidecar.
      expect(ask(hero, ipEndpoint('198.51.100.7'), 443).allowed).toBe(false);
      expect(ask(hero, ipEndpoint('203.0.113.7'), 80).allowed).toBe(false);
      expect(ask(deebee, ipEndpoint('203.0.113.7'), 443).allowed).toBe(false);
      expect(ask(hero, fqdnEndpoint('example.com'), 443).allowed).toBe(false);
    }
  });

  test('the NetworkPolicy layer stays on and opens only what the mesh needs', () => {
    const nps = byKind(objects, 'NetworkPolicy');
    if (mode === IstioMode.SIDECAR) {
      expect(nps).toEqual(['allow-dns', 'allow-istiod', 'default-deny', 'hero-egress', 'hero-ingress', 'lil-deebee-ingress']);
      expect(find(objects, 'NetworkPolicy', 'allow-istiod').spec).toEqual({
        podSelector: {},
        policyTypes: ['Egress'],
        egress: [{
          to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'istio-system' } }, podSelector: { matchLabels: { app: 'istiod' } } }],
          ports: [{ port: 15012 }],
        }],
      });
      expect(find(objects, 'NetworkPolicy', 'lil-deebee-ingress').spec.ingress[0].ports).toEqual([{ port: 5432 }]);
    } else {
      expect(nps).toEqual(['allow-ambient-probes', 'allow-dns', 'default-deny', 'hero-egress', 'hero-ingress', 'lil-deebee-ingress']);
      expect(find(objects, 'NetworkPolicy', 'allow-ambient-probes').spec).toEqual({
        podSelector: {},
        policyTypes: ['Ingress'],
        ingress: [{ from: [{ ipBlock: { cidr: '169.254.7.127/32' } }], ports: [{ protocol: 'TCP' }] }],
      });
      // HBONE 15008 only from the declared source, beside the app port.
      expect(find(objects, 'NetworkPolicy', 'lil-deebee-ingress').spec.ingress).toEqual([{
        from: [{ podSelector: { matchLabels: HERO } }],
        ports: [{ port: 5432 }, { port: 15008 }],
      }]);
      // The range outside the cluster gets no mesh port.
      expect(find(objects, 'NetworkPolicy', 'hero-egress').spec.egress).toContainEqual({ to: [{ ipBlock: { cidr: '203.0.113.0/24' } }], ports: [{ port: 443 }] });
    }
  });

  test('snapshot, for review', () => {
    expect(objects).toMatchSnapshot();
  });
});

describe('sidecar mode egress', () => {
  const objects = story(IstioMode.SIDECAR);

  test('a namespace default Sidecar imports only cluster DNS; each workload imports only what it may reach; all REGISTRY_ONLY', () => {
    expect(byKind(objects, 'Sidecar')).toEqual(['default', 'hero', 'lil-deebee']);
    // TCP DNS goes through the sidecar: the DNS pods' namespace is imported everywhere.
    expect(find(objects, 'Sidecar', 'default').spec).toEqual({ egress: [{ hosts: ['kube-system/*'] }], outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } });
    expect(find(objects, 'Sidecar', 'hero').spec).toEqual({
      workloadSelector: { labels: HERO },
      egress: [{ hosts: ['./cidr-203-0-113-0-24.external.invalid', 'kube-system/*', 'production/lil-deebee.production.svc.cluster.local'] }],
      outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' },
    });
    expect(find(objects, 'Sidecar', 'lil-deebee').spec.egress).toEqual([{ hosts: ['kube-system/*'] }]);
  });

  test('the partner range is a ServiceEntry visible in the namespace only', () => {
    expect(find(objects, 'ServiceEntry', 'cidr-203-0-113-0-24').spec).toEqual({
      hosts: ['cidr-203-0-113-0-24.external.invalid'],
      addresses: ['203.0.113.0/24'],
      ports: [{ number: 443, name: 'tcp-443', protocol: 'TCP' }],
      location: 'MESH_EXTERNAL',
      resolution: 'NONE',
      exportTo: ['.'],
    });
  });
});

describe('sidecar mode with NodeLocal DNS (an address, not a Service)', () => {
  function nodeLocal(mode: IstioMode): any[] {
    const a = Testing.app();
    const c = new ZeroTrustChart(a, 'production', { namespace: 'production', mesh: Mesh.istio({ mode }), dns: Dns.nodeLocal() });
    const hero = new SecureWorkload(c, 'hero', { image: 'hero', ports: [Port.http(8080)] });
    const deebee = new SecureWorkload(c, 'lil-deebee', { image: 'postgres', ports: [Port.tcp(5432, 'postgres')] });
    deebee.allowFrom(hero);
    return synthApp(a);
  }
  const objects = nodeLocal(IstioMode.SIDECAR);

  test('a ServiceEntry registers the address on TCP 53, and every Sidecar imports it', () => {
    expectValid(objects);
    expect(find(objects, 'ServiceEntry', 'cluster-dns-tcp').spec).toEqual({
      hosts: ['cluster-dns-tcp.external.invalid'],
      addresses: ['169.254.20.10/32'],
      ports: [{ number: 53, name: 'tcp-53', protocol: 'TCP' }],
      location: 'MESH_EXTERNAL',
      resolution: 'NONE',
      exportTo: ['.'],
    });
    expect(byKind(objects, 'Sidecar')).toEqual(['default', 'hero', 'lil-deebee']);
    for (const sidecar of objects.filter((o) => o.kind === 'Sidecar')) {
      expect(sidecar.spec.egress[0].hosts).toContain('./cluster-dns-tcp.external.invalid');
      expect(sidecar.spec.egress[0].hosts).not.toContain('kube-system/*');
    }
  });

  test('the reader lets TCP DNS to that address through the proxy, and nothing else on 53', () => {
    const { reader, pod } = probe(objects, IstioMode.SIDECAR);
    const ask = (ip: string, protocol: 'TCP' | 'UDP') => reader.evaluate({ source: pod('hero'), destination: ipEndpoint(ip), port: 53, protocol } as Query);
    expect(ask('169.254.20.10', 'TCP').allowed).toBe(true);
    expect(ask('169.254.20.10', 'UDP').allowed).toBe(true);
    expect(ask('169.254.20.11', 'TCP').allowed).toBe(false);
  });

  test('ambient mode does not intercept DNS: no ServiceEntry', () => {
    expect(byKind(nodeLocal(IstioMode.AMBIENT), 'ServiceEntry')).toEqual([]);
  });
});

describe('ambient mode without L7 rules', () => {
  const objects = story(IstioMode.AMBIENT);
  test('no waypoint, no Sidecar, no ServiceEntry, no Service label', () => {
    expect(byKind(objects, 'Gateway')).toEqual([]);
    expect(byKind(objects, 'Sidecar')).toEqual([]);
    expect(byKind(objects, 'ServiceEntry')).toEqual([]);
    expect(find(objects, 'Service', 'hero').metadata.labels['istio.io/use-waypoint']).toBeUndefined();
  });
});

/** The story plus an L7 rule: ingress-nginx may only GET /api/* and /healthz on Hero, and a second HTTP client with POST. */
function l7Story(mode: IstioMode): App {
  const app = Testing.app();
  const prod = new ZeroTrustChart(app, 'production', { namespace: 'production', mesh: Mesh.istio({ mode }) });
  const hero = new SecureWorkload(prod, 'hero', { image: 'hero', ports: [Port.http(8080), Port.tcp(9090, 'metrics')] });
  const deebee = new SecureWorkload(prod, 'lil-deebee', { image: 'postgres', ports: [Port.tcp(5432, 'postgres')] });
  const admin = new SecureWorkload(prod, 'admin', { image: 'admin' });
  deebee.allowFrom(hero);
  hero.allowFrom(Peer.namespace('ingress-nginx'), { ports: [Port.http(8080)], http: [{ methods: ['GET'], paths: ['/api/*', '/healthz'] }] });
  hero.allowFrom(admin, { ports: [Port.http(8080)], http: [{ methods: ['POST'], paths: ['/admin/*'] }] });
  hero.allowFrom(admin, { ports: [Port.tcp(9090, 'metrics')] });
  return app;
}

describe('HTTP rules', () => {
  test('sidecar mode: methods and paths on the HTTP port, in the destination policy', () => {
    const objects = synthApp(l7Story(IstioMode.SIDECAR));
    expectValid(objects);
    expect(find(objects, 'AuthorizationPolicy', 'hero').spec.rules).toEqual([
      { from: [{ source: { namespaces: ['ingress-nginx'] } }], to: [{ operation: { ports: ['8080'], methods: ['GET'], paths: ['/api/*', '/healthz'] } }] },
      { from: [{ source: { principals: ['cluster.local/ns/production/sa/admin'] } }], to: [{ operation: { ports: ['8080'], methods: ['POST'], paths: ['/admin/*'] } }] },
      { from: [{ source: { principals: ['cluster.local/ns/production/sa/admin'] } }], to: [{ operation: { ports: ['9090'] } }] },
    ]);
    const { pod, ask } = probe(objects, IstioMode.SIDECAR);
    const nginx = foreignPod('ingress-nginx', 'ingress-nginx');
    expect(ask(nginx, pod('hero'), 8080, { method: 'GET', path: '/api/users' }).allowed).toBe(true);
    expect(ask(nginx, pod('hero'), 8080, { method: 'POST', path: '/api/users' }).allowed).toBe(false);
    expect(ask(nginx, pod('hero'), 8080, { method: 'GET', path: '/admin/x' }).allowed).toBe(false);
    expect(ask(pod('admin'), pod('hero'), 8080, { method: 'POST', path: '/admin/x' }).allowed).toBe(true);
    expect(ask(pod('admin'), pod('hero'), 9090).allowed).toBe(true);
    expect(ask(nginx, pod('hero'), 9090).allowed).toBe(false);
  });

  test('ambient mode: a waypoint for Hero only, targetRefs policy for L7, and the ztunnel policy admits the waypoint', () => {
    const objects = synthApp(l7Story(IstioMode.AMBIENT));
    expectValid(objects);
    expect(find(objects, 'Gateway', 'waypoint', 'production')).toMatchObject({
      apiVersion: 'gateway.networking.k8s.io/v1',
      metadata: { labels: { 'istio.io/waypoint-for': 'service' } },
      spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] },
    });
    expect(find(objects, 'Service', 'hero').metadata.labels['istio.io/use-waypoint']).toBe('waypoint');
    expect(find(objects, 'Service', 'lil-deebee').metadata.labels['istio.io/use-waypoint']).toBeUndefined();
    expect(find(objects, 'AuthorizationPolicy', 'hero-l7').spec).toEqual({
      targetRefs: [{ kind: 'Service', group: '', name: 'hero' }],
      action: 'ALLOW',
      rules: [
        { from: [{ source: { namespaces: ['ingress-nginx'] } }], to: [{ operation: { ports: ['8080'], methods: ['GET'], paths: ['/api/*', '/healthz'] } }] },
        { from: [{ source: { principals: ['cluster.local/ns/production/sa/admin'] } }], to: [{ operation: { ports: ['8080'], methods: ['POST'], paths: ['/admin/*'] } }] },
        { from: [{ source: { principals: ['cluster.local/ns/production/sa/admin'] } }], to: [{ operation: { ports: ['9090'] } }] },
      ],
    });
    // ztunnel: no HTTP fields; the waypoint on every port it forwards, the L4-only flow directly.
    expect(find(objects, 'AuthorizationPolicy', 'hero').spec).toEqual({
      selector: { matchLabels: HERO },
      action: 'ALLOW',
      rules: [
        { from: [{ source: { principals: ['cluster.local/ns/production/sa/waypoint'] } }], to: [{ operation: { ports: ['8080', '9090'] } }] },
        { from: [{ source: { principals: ['cluster.local/ns/production/sa/admin'] } }], to: [{ operation: { ports: ['9090'] } }] },
      ],
    });
    // lil-deebee stays on ztunnel only.
    expect(find(objects, 'AuthorizationPolicy', 'lil-deebee').spec.selector).toEqual({ matchLabels: DEEBEE });
    // Each ALLOW policy has its DENY twin (ztunnel's L4 only, the waypoint's with the requests); admin, reached by nobody, is denied everything.
    expect(byKind(objects, 'AuthorizationPolicy')).toEqual(['admin-deny', 'allow-nothing', 'hero', 'hero-deny', 'hero-l7', 'hero-l7-deny', 'lil-deebee', 'lil-deebee-deny']);
    expect(JSON.stringify(find(objects, 'AuthorizationPolicy', 'hero-deny').spec)).not.toMatch(/Methods|Paths/);

    // NetworkPolicy: clients -> waypoint:15008, waypoint -> hero:15008 and istiod.
    expect(find(objects, 'NetworkPolicy', 'waypoint-ingress').spec).toEqual({
      podSelector: { matchLabels: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' } },
      policyTypes: ['Ingress'],
      ingress: [{
        from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }, { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'admin' } } }],
        ports: [{ port: 15008 }],
      }],
    });
    expect(find(objects, 'NetworkPolicy', 'hero-from-waypoint').spec.ingress).toEqual([{
      from: [{ podSelector: { matchLabels: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' } } }],
      ports: [{ port: 15008 }],
    }]);
    expect(find(objects, 'NetworkPolicy', 'admin-to-waypoint').spec.egress).toEqual([{
      to: [{ podSelector: { matchLabels: { 'gateway.networking.k8s.io/gateway-name': 'waypoint' } } }],
      ports: [{ port: 15008 }],
    }]);

    const { pod, ask } = probe(objects, IstioMode.AMBIENT);
    const nginx = foreignPod('ingress-nginx', 'ingress-nginx');
    const get = ask(nginx, pod('hero'), 8080, { method: 'GET', path: '/healthz' });
    expect(get.allowed).toBe(true);
    expect(get.reasons.join('\n')).toMatch(/uses waypoint production\/waypoint/);
    expect(ask(nginx, pod('hero'), 8080, { method: 'DELETE', path: '/healthz' }).allowed).toBe(false);
    expect(ask(pod('admin'), pod('hero'), 8080, { method: 'POST', path: '/admin/users' }).allowed).toBe(true);
    expect(ask(pod('admin'), pod('hero'), 8080, { method: 'GET', path: '/api/users' }).allowed).toBe(false);
    expect(ask(pod('admin'), pod('hero'), 9090).allowed).toBe(true);
    expect(ask(pod('hero'), pod('lil-deebee'), 5432).allowed).toBe(true);
  });

  test('an HTTP rule on a TCP port is a synth error', () => {
    const app = Testing.app();
    const prod = new ZeroTrustChart(app, 'production', { namespace: 'production', mesh: Mesh.istio() });
    const db = new SecureWorkload(prod, 'db', { image: 'postgres', ports: [Port.tcp(5432)] });
    db.allowFrom(Peer.namespace('tools'), { http: [{ methods: ['GET'] }] });
    expectSynthError(app, 'production/db.allowFrom(ns:tools)', 'HTTP');
  });
});

describe('what Istio cannot express is a synth error', () => {
  function app(mode: IstioMode, declare: (c: ZeroTrustChart, hero: SecureWorkload) => void): App {
    const a = Testing.app();
    const c = new ZeroTrustChart(a, 'production', { namespace: 'production', mesh: Mesh.istio({ mode }) });
    declare(c, new SecureWorkload(c, 'hero', { image: 'hero', ports: [Port.http(8080)] }));
    return a;
  }

  test('Peer.workload without a ServiceAccount cannot be a principal', () => {
    expectSynthError(app(IstioMode.SIDECAR, (_c, hero) => hero.allowFrom(Peer.workload({ namespace: 'tools', labels: { app: 'curl' } }))),
      '[istio] production/hero.allowFrom(tools/{app=curl})', 'no ServiceAccount', 'serviceAccount');
  });

  test('Peer.workload with a ServiceAccount becomes its principal', () => {
    const objects = synthApp(app(IstioMode.SIDECAR, (_c, hero) => hero.allowFrom(Peer.workload({ namespace: 'tools', labels: { app: 'curl' }, serviceAccount: 'curl' }))));
    expect(find(objects, 'AuthorizationPolicy', 'hero').spec.rules[0].from).toEqual([{ source: { principals: ['cluster.local/ns/tools/sa/curl'] } }]);
  });

  test('host-name egress in ambient mode: ztunnel ignores REGISTRY_ONLY', () => {
    expectSynthError(app(IstioMode.AMBIENT, (_c, hero) => hero.allowTo(Peer.fqdn('api.example.com'), { ports: [Port.tcp(443)] })),
      '[istio-ambient] production/hero.allowTo(fqdn:api.example.com)', 'REGISTRY_ONLY');
  });

  test('host-name egress without ports in sidecar mode', () => {
    expectSynthError(app(IstioMode.SIDECAR, (_c, hero) => hero.allowTo(Peer.fqdn('api.example.com'))), 'ServiceEntry needs the ports');
  });

  test('ambient: HTTP rules on a workload without a Service (the waypoint attaches to it)', () => {
    const a = Testing.app();
    const c = new ZeroTrustChart(a, 'production', { namespace: 'production', mesh: Mesh.istio({ mode: IstioMode.AMBIENT }) });
    const hero = new SecureWorkload(c, 'hero', { image: 'hero', ports: [Port.http(8080)], service: false });
    const admin = new SecureWorkload(c, 'admin', { image: 'admin' });
    hero.allowFrom(admin, { http: [{ methods: ['GET'] }] });
    expectSynthError(a, '[istio-ambient] production/hero', 'need a waypoint', 'service: false');
  });

  test('ambient: HTTP rules for a source outside the mesh', () => {
    expectSynthError(app(IstioMode.AMBIENT, (_c, hero) => hero.allowFrom(Peer.ipBlock('198.51.100.0/24'), { http: [{ methods: ['GET'] }] })), 'bypass');
  });
});

describe('sources outside the mesh and host names', () => {
  test('an address range source: PERMISSIVE on exactly its port, ipBlocks in the rule', () => {
    const a = Testing.app();
    const c = new ZeroTrustChart(a, 'production', { namespace: 'production', mesh: Mesh.istio() });
    const hero = new SecureWorkload(c, 'hero', { image: 'hero', ports: [Port.http(8080), Port.tcp(9090, 'metrics')] });
    hero.allowFrom(Peer.ipBlock('198.51.100.0/24', ['198.51.100.128/25']), { ports: [Port.http(8080)] });
    const objects = synthApp(a);
    expectValid(objects);
    expect(find(objects, 'PeerAuthentication', 'hero').spec).toEqual({
      selector: { matchLabels: HERO }, mtls: { mode: 'STRICT' }, portLevelMtls: { 8080: { mode: 'PERMISSIVE' } },
    });
    expect(find(objects, 'AuthorizationPolicy', 'hero').spec.rules).toEqual([
      { from: [{ source: { ipBlocks: ['198.51.100.0/24'], notIpBlocks: ['198.51.100.128/25'] } }], to: [{ operation: { ports: ['8080'] } }] },
    ]);
    const { pod, ask } = probe(objects, IstioMode.SIDECAR);
    expect(ask(ipEndpoint('198.51.100.7'), pod('hero'), 8080).allowed).toBe(true);
    expect(ask(ipEndpoint('198.51.100.200'), pod('hero'), 8080).allowed).toBe(false);
    expect(ask(ipEndpoint('198.51.100.7'), pod('hero'), 9090).allowed).toBe(false);
    expect(ask(foreignPod('outside', 'curl'), pod('hero'), 8080).allowed).toBe(false);
  });

  test('sidecar mode: a host name is a ServiceEntry, a Sidecar host and any-address egress on its port only', () => {
    const a = Testing.app();
    const c = new ZeroTrustChart(a, 'production', { namespace: 'production', mesh: Mesh.istio() });
    const hero = new SecureWorkload(c, 'hero', { image: 'hero', ports: [Port.http(8080)] });
    hero.allowTo(Peer.fqdn('api.example.com'), { ports: [Port.tcp(443)] });
    const objects = synthApp(a);
    expectValid(objects);
    expect(find(objects, 'ServiceEntry', 'api-example-com').spec).toEqual({
      hosts: ['api.example.com'], ports: [{ number: 443, name: 'tls-443', protocol: 'TLS' }], location: 'MESH_EXTERNAL', resolution: 'DNS', exportTo: ['.'],
    });
    expect(find(objects, 'Sidecar', 'hero').spec.egress).toEqual([{ hosts: ['./api.example.com', 'kube-system/*'] }]);
    const np = find(objects, 'NetworkPolicy', 'hero-egress');
    expect(np.spec.egress).toEqual([{ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }], ports: [{ port: 443 }] }]);
    expect(np.metadata.annotations[ALLOWS]).toBe('production/hero -> fqdn:api.example.com on 443/TCP');
    const { pod, ask } = probe(objects, IstioMode.SIDECAR);
    expect(ask(pod('hero'), fqdnEndpoint('api.example.com'), 443).allowed).toBe(true);
    expect(ask(pod('hero'), fqdnEndpoint('evil.example.com'), 443).allowed).toBe(false);
    expect(ask(pod('hero'), fqdnEndpoint('api.example.com'), 80).allowed).toBe(false);
  });
});

describe('options', () => {
  test('revision, trust domain and mesh-wide STRICT', () => {
    const a = Testing.app();
    heroAndLilDeeBee(a, Mesh.istio({ revision: 'canary', trustDomain: 'example.org', meshWideStrictMtls: true }));
    const objects = synthApp(a);
    expectValid(objects);
    expect(find(objects, 'Namespace', 'production').metadata.labels).toMatchObject({ 'istio.io/rev': 'canary' });
    expect(find(objects, 'Namespace', 'production').metadata.labels['istio-injection']).toBeUndefined();
    expect(find(objects, 'PeerAuthentication', 'default', 'istio-system').spec).toEqual({ mtls: { mode: 'STRICT' } });
    expect(find(objects, 'AuthorizationPolicy', 'lil-deebee').spec.rules[0].from[0].source.principals).toEqual(['example.org/ns/production/sa/hero']);
    expect(find(objects, 'NetworkPolicy', 'allow-istiod').spec.egress[0].to[0].podSelector.matchLabels).toEqual({ app: 'istiod', 'istio.io/rev': 'canary' });
  });

  test('mesh ids', () => {
    expect(Mesh.istio().id).toBe('istio');
    expect(Mesh.istio({ mode: IstioMode.AMBIENT }).id).toBe('istio-ambient');
  });
});

describe('the reader asks the network layer about the packets as they really look', () => {
  function recorder() {
    const hops: string[] = [];
    return {
      hops,
      layer: { backend: 'recorder', evaluate: (q: Query) => { hops.push(`${q.source.id} -> ${q.destination.id}:${q.port}/${q.protocol}`); return decision(true, []); } },
    };
  }

  test('sidecar: the app port', () => {
    const objects = story(IstioMode.SIDECAR);
    const r = recorder();
    const eps = workloadEndpoints(objects as Manifest[]);
    const reader = new IstioEvaluator(objects as Manifest[], { networkLayer: r.layer });
    expect(reader.evaluate({ source: eps.find((e) => e.workload === 'hero')!, destination: eps.find((e) => e.workload === 'lil-deebee')!, port: 5432, protocol: 'TCP' }).allowed).toBe(true);
    expect(r.hops).toEqual(['production/hero -> production/lil-deebee:5432/TCP']);
  });

  test('ambient: HBONE 15008 between mesh pods, the app port from outside the mesh, two hops through a waypoint', () => {
    const plain = story(IstioMode.AMBIENT);
    const r = recorder();
    const eps = workloadEndpoints(plain as Manifest[]);
    const reader = new IstioEvaluator(plain as Manifest[], { networkLayer: r.layer });
    reader.evaluate({ source: eps.find((e) => e.workload === 'hero')!, destination: eps.find((e) => e.workload === 'lil-deebee')!, port: 5432, protocol: 'TCP' });
    reader.evaluate({ source: eps.find((e) => e.workload === 'hero')!, destination: ipEndpoint('203.0.113.7'), port: 443, protocol: 'TCP' });
    expect(r.hops).toEqual(['production/hero -> production/lil-deebee:15008/TCP', 'production/hero -> ip:203.0.113.7:443/TCP']);

    const l7 = synthApp(l7Story(IstioMode.AMBIENT)) as Manifest[];
    const r2 = recorder();
    const eps2 = workloadEndpoints(l7);
    const reader2 = new IstioEvaluator(l7, { networkLayer: r2.layer });
    const d = reader2.evaluate({ source: eps2.find((e) => e.workload === 'admin')!, destination: eps2.find((e) => e.workload === 'hero')!, port: 8080, protocol: 'TCP', http: { method: 'POST', path: '/admin/x' } });
    expect(d.allowed).toBe(true);
    expect(r2.hops).toEqual(['production/admin -> production/waypoint:15008/TCP', 'production/waypoint -> production/hero:15008/TCP']);
  });
});
