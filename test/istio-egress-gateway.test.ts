/**
 * Issue 18: Istio host-name egress through an egress gateway (`egress: IstioEgress.GATEWAY`):
 * the sidecar routes the host to the gateway, the gateway forwards it, and the NetworkPolicy
 * layer opens egress to the gateway's pods only (instead of every address).
 */
import { App, Testing } from 'cdk8s';
import * as fc from 'fast-check';
import { backendIntentOptions, compareWithIntent, describeMismatch, intentProbes, parseManifests, probeUniverse } from '../lib/verify';
import { PORT_POOL, buildApp, topologyArb } from './topology';
import { IstioEgress, IstioMode, Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { ZeroTrustError } from '../lib/intent/errors';
import { flowMatrix } from '../lib/report';
import { inventory } from '../lib/verify/inventory';
import { NetworkPolicyEvaluator } from '../lib/verify/networkpolicy';
import { readerFor } from '../lib/verify/readers';
import { Endpoint } from '../lib/verify/types';
import { ZeroTrustModel, WorkloadModel } from '../lib/intent/model';
import { expectError } from './support/errors';
import { validateAll } from './support/schema';
import { expectSynthError, find, synthApp } from './support/synth';

function build(mesh: Mesh): App {
  const app = Testing.app();
  const c = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh });
  const api = new SecureWorkload(c, 'api', { image: 'api', ports: [Port.http(8080)] });
  api.allowTo(Peer.fqdn('api.stripe.com'), { ports: [Port.tcp(443), Port.http(80)] });
  new SecureWorkload(c, 'web', { image: 'web', ports: [Port.http(8080)] }).allowFrom(api);
  return app;
}

/** A workload's (host, port) pairs through the gateway, sorted and joined ('' when it names no host). */
function gatewayPairs(m: ZeroTrustModel, w: WorkloadModel): string {
  const own = m.flows.filter((f) => f.source.type === 'workload' && f.source.workload === w && f.destination.type === 'fqdn');
  return [...new Set(own.flatMap((f) => f.ports.map((p) => `${(f.destination as { host: string }).host}:${p.number}`)))].sort().join(',');
}

const host = (h: string): Endpoint => ({ id: `fqdn:${h}`, kind: 'fqdn', host: h } as Endpoint);

describe('Istio egress gateway', () => {
  const objects = synthApp(build(Mesh.istio({ egress: IstioEgress.GATEWAY })));

  test('Gateway and VirtualService route the host through istio-egressgateway; the ServiceEntry is visible to the gateway', () => {
    expect(find(objects, 'ServiceEntry', 'api-stripe-com', 'shop').spec.exportTo).toEqual(['.', 'istio-system']);
    const gw = find(objects, 'Gateway', 'egress-api-stripe-com', 'shop');
    expect(gw.apiVersion).toBe('networking.istio.io/v1');
    expect(gw.spec).toEqual({
      selector: { istio: 'egressgateway' },
      servers: [
        { port: { number: 80, name: 'http-80', protocol: 'HTTP' }, hosts: ['api.stripe.com'] },
        { port: { number: 443, name: 'tls-443', protocol: 'TLS' }, hosts: ['api.stripe.com'], tls: { mode: 'PASSTHROUGH' } },
      ],
    });
    expect(gw.metadata.annotations['zero-trust.cdk8s.io/egress-gateway-target-ports']).toBe('80=8080,443=8443');
    const vs = find(objects, 'VirtualService', 'egress-api-stripe-com', 'shop');
    expect(vs.spec.gateways).toEqual(['mesh', 'shop/egress-api-stripe-com']);
    expect(vs.spec.exportTo).toEqual(['.', 'istio-system']);
    expect(vs.spec.tls).toEqual([
      { match: [{ gateways: ['mesh'], port: 443, sniHosts: ['api.stripe.com'] }], route: [{ destination: { host: 'istio-egressgateway.istio-system.svc.cluster.local', port: { number: 443 } } }] },
      { match: [{ gateways: ['shop/egress-api-stripe-com'], port: 443, sniHosts: ['api.stripe.com'] }], route: [{ destination: { host: 'api.stripe.com', port: { number: 443 } } }] },
    ]);
    expect(vs.spec.http.map((r: any) => r.route[0].destination.host)).toEqual(['istio-egressgateway.istio-system.svc.cluster.local', 'api.stripe.com']);
    expect(find(objects, 'Sidecar', 'api', 'shop').spec.egress[0].hosts).toContain('istio-system/istio-egressgateway.istio-system.svc.cluster.local');
    expect(find(objects, 'Sidecar', 'web', 'shop').spec.egress[0].hosts).not.toContain('istio-system/istio-egressgateway.istio-system.svc.cluster.local');
  });

  test('the NetworkPolicy layer opens egress to the gateway pods only, on the pod ports', () => {
    const egress = find(objects, 'NetworkPolicy', 'api-egress', 'shop').spec.egress;
    expect(egress).toContainEqual({
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'istio-system' } }, podSelector: { matchLabels: { istio: 'egressgateway' } } }],
      ports: [{ port: 8080 }, { port: 8443 }],
    });
    const text = JSON.stringify(objects.filter((o) => o.kind === 'NetworkPolicy'));
    expect(text).not.toContain('0.0.0.0/0');
    expect(text).not.toContain('::/0');
  });

  test('read back: api reaches the host through the gateway, web does not, and no address is open directly', () => {
    const reader = readerFor(objects, { backend: 'istio' });
    const pods = inventory(objects).workloads;
    const api = pods.find((p) => p.labels?.['app.kubernetes.io/name'] === 'api')!;
    const web = pods.find((p) => p.labels?.['app.kubernetes.io/name'] === 'web')!;
    const viaGateway = reader.evaluate({ source: api, destination: host('api.stripe.com'), port: 443, protocol: 'TCP' });
    expect(viaGateway.allowed).toBe(true);
    expect(viaGateway.reasons.join(' ')).toMatch(/egress gateway istio-system\/istio-egressgateway \(its pods on 8443\)/);
    expect(reader.evaluate({ source: api, destination: host('api.stripe.com'), port: 80, protocol: 'TCP' }).allowed).toBe(true);
    expect(reader.evaluate({ source: api, destination: host('api.stripe.com'), port: 8443, protocol: 'TCP' }).allowed).toBe(false);
    expect(reader.evaluate({ source: api, destination: host('evil.example.com'), port: 443, protocol: 'TCP' }).allowed).toBe(false);
    expect(reader.evaluate({ source: web, destination: host('api.stripe.com'), port: 443, protocol: 'TCP' }).allowed).toBe(false);
    // Beneath the sidecar (a process that bypasses it), the network layer admits no address.
    const np = new NetworkPolicyEvaluator(objects);
    expect(np.evaluate({ source: api, destination: { id: 'ip:104.18.0.1', kind: 'ip', ip: '104.18.0.1' }, port: 443, protocol: 'TCP' }).allowed).toBe(false);
    expect(np.evaluate({ source: api, destination: host('api.stripe.com'), port: 443, protocol: 'TCP' }).allowed).toBe(false);
  });

  test('the objects validate where the pinned schemas have them (Istio\'s Gateway and VirtualService CRDs are not pinned in ../shared/crds)', () => {
    const pinned = objects.filter((o) => !(o.apiVersion === 'networking.istio.io/v1' && ['Gateway', 'VirtualService'].includes(o.kind)));
    expect(validateAll(pinned)).toEqual([]);
    expect(pinned.length).toBeLessThan(objects.length);
  });

  test('a gateway of your own: namespace, labels, Service and ports', () => {
    const out = synthApp(build(Mesh.istio({ egress: IstioEgress.GATEWAY, egressGateway: { namespace: 'egress', labels: { app: 'egw' }, serviceName: 'egw', targetPorts: { 80: 80, 443: 443 } } })));
    expect(find(out, 'VirtualService', 'egress-api-stripe-com', 'shop').spec.tls[0].route[0].destination.host).toBe('egw.egress.svc.cluster.local');
    expect(find(out, 'NetworkPolicy', 'api-egress', 'shop').spec.egress).toContainEqual({
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'egress' } }, podSelector: { matchLabels: { app: 'egw' } } }],
      ports: [{ port: 80 }, { port: 443 }],
    });
  });

  test('the default is unchanged: the sidecar narrows, NetworkPolicy opens every address', () => {
    const out = synthApp(build(Mesh.istio()));
    expect(out.some((o) => o.kind === 'VirtualService' || (o.kind === 'Gateway' && o.apiVersion.startsWith('networking.istio.io')))).toBe(false);
    expect(JSON.stringify(find(out, 'NetworkPolicy', 'api-egress', 'shop').spec.egress)).toContain('0.0.0.0/0');
  });
});

describe('Istio egress gateway: refusals', () => {
  test('ambient mode refuses the gateway', () => {
    expectError(() => Mesh.istio({ mode: IstioMode.AMBIENT, egress: IstioEgress.GATEWAY }), 'EGRESS_GATEWAY_NOT_SUPPORTED', /sidecar mode/);
  });

  test('wildcard hosts and ports the gateway does not expose are refused at synth, naming the rule', () => {
    const wildcard = Testing.app();
    const c = new ZeroTrustChart(wildcard, 'shop', { namespace: 'shop', mesh: Mesh.istio({ egress: IstioEgress.GATEWAY }) });
    new SecureWorkload(c, 'api', { image: 'api' }).allowTo(Peer.fqdn('*.stripe.com'), { ports: [Port.tcp(443)] });
    const e = expectError(() => synthApp(wildcard), 'EGRESS_GATEWAY_WILDCARD');
    expect(e.rule).toBe('shop/api.allowTo(fqdn:*.stripe.com)');
    const port = Testing.app();
    const d = new ZeroTrustChart(port, 'shop', { namespace: 'shop', mesh: Mesh.istio({ egress: IstioEgress.GATEWAY }) });
    new SecureWorkload(d, 'api', { image: 'api' }).allowTo(Peer.fqdn('db.example.com'), { ports: [Port.tcp(5432)] });
    expectError(() => synthApp(port), 'EGRESS_GATEWAY_PORT_UNKNOWN', /targetPorts/);
  });

  test('the gateway checks no source: users with different hosts are refused, naming both workloads and what one would gain', () => {
    const app = Testing.app();
    const mesh = () => Mesh.istio({ egress: IstioEgress.GATEWAY });
    const p = new ZeroTrustChart(app, 'p', { namespace: 'p', mesh: mesh() });
    new SecureWorkload(p, 'a', { image: 'a' }).allowTo(Peer.fqdn('api.example.com'), { ports: [Port.tcp(443)] });
    const q = new ZeroTrustChart(app, 'q', { namespace: 'q', mesh: mesh() });
    new SecureWorkload(q, 'b', { image: 'b' }).allowTo(Peer.fqdn('other.example.com'), { ports: [Port.tcp(443)] });
    const problems = expectSynthError(app).problems;
    // Each namespace refuses its own user: each would gain the other's host.
    expect(problems.map((x) => [x.code, x.workload])).toEqual([['ISTIO_EGRESS_GATEWAY_SHARED', 'p/a'], ['ISTIO_EGRESS_GATEWAY_SHARED', 'q/b']]);
    expect(problems[1].message).toMatch(/q\/b, which reaches the gateway .* could reach api\.example\.com:443 that p\/a declares/);
    const e = problems[0];
    expect(e.message).toMatch(/p\/a, which reaches the gateway .* could reach other\.example\.com:443 that q\/b declares/);
    expect(e.backend).toBe('istio');
    expect(e.workload).toBe('p/a');
    expect(e.rule).toBe('p/a.allowTo(fqdn:api.example.com)');
    expect(e.message).toMatch(/same hosts and ports.*IstioEgress\.SIDECAR.*AuthorizationPolicy.*ISTIO_MUTUAL/);
    // Same host, another port: refused too (the gateway forwards the port's server to anyone reaching it).
    const ports = Testing.app();
    const r = new ZeroTrustChart(ports, 'shop', { namespace: 'shop', mesh: mesh() });
    new SecureWorkload(r, 'a', { image: 'a' }).allowTo(Peer.fqdn('api.example.com'), { ports: [Port.tcp(443)] });
    new SecureWorkload(r, 'b', { image: 'b' }).allowTo(Peer.fqdn('api.example.com'), { ports: [Port.tcp(443), Port.tcp(80)] });
    expectError(() => synthApp(ports), 'ISTIO_EGRESS_GATEWAY_SHARED', /shop\/a, .* could reach api\.example\.com:80 that shop\/b declares/);
  });

  test('users with the same hosts across charts synthesize, and the reader agrees with the intent', () => {
    const app = Testing.app();
    for (const ns of ['p', 'q']) {
      const c = new ZeroTrustChart(app, ns, { namespace: ns, mesh: Mesh.istio({ egress: IstioEgress.GATEWAY }) });
      new SecureWorkload(c, 'a', { image: 'a' }).allowTo(Peer.fqdn('api.example.com'), { ports: [Port.tcp(443)] });
      new SecureWorkload(c, 'none', { image: 'none' });
    }
    const out = synthApp(app);
    const reader = readerFor(out, { backend: 'istio' });
    const pods = inventory(out).workloads;
    const of = (ns: string, name: string) => pods.find((w) => w.namespace === ns && w.labels?.['app.kubernetes.io/name'] === name)!;
    expect(reader.evaluate({ source: of('q', 'a'), destination: host('api.example.com'), port: 443, protocol: 'TCP' }).allowed).toBe(true);
    expect(reader.evaluate({ source: of('q', 'none'), destination: host('api.example.com'), port: 443, protocol: 'TCP' }).allowed).toBe(false);
  });

  test('the reader models the gateway as shared: a user of the gateway reaches a host another namespace routes through it', () => {
    // Two apps synthesized apart (each accepted alone), applied together: what the synth refuses in one app.
    const one = (ns: string, hostName: string) => {
      const app = Testing.app();
      const c = new ZeroTrustChart(app, ns, { namespace: ns, mesh: Mesh.istio({ egress: IstioEgress.GATEWAY }) });
      new SecureWorkload(c, 'b', { image: 'b' }).allowTo(Peer.fqdn(hostName), { ports: [Port.tcp(443)] });
      new SecureWorkload(c, 'none', { image: 'none' });
      return app.synthYaml();
    };
    const manifests = parseManifests([one('p', 'other.example.com'), one('q', 'api.example.com')].join('\n---\n'), 'both.yaml');
    const all = manifests.map((x) => x.manifest);
    const reader = readerFor(all, { backend: 'istio' });
    const pods = inventory(all).workloads;
    const of = (ns: string, name: string) => pods.find((w) => w.namespace === ns && w.labels?.['app.kubernetes.io/name'] === name)!;
    const shared = reader.evaluate({ source: of('p', 'b'), destination: host('api.example.com'), port: 443, protocol: 'TCP' });
    expect(shared.allowed).toBe(true);
    expect(shared.reasons.join(' ')).toMatch(/imports the egress gateway istio-system\/istio-egressgateway, which checks no source: VirtualService q\/egress-api-example-com/);
    expect(reader.evaluate({ source: of('p', 'none'), destination: host('api.example.com'), port: 443, protocol: 'TCP' }).allowed).toBe(false);
    expect(reader.evaluate({ source: of('p', 'b'), destination: host('evil.example.com'), port: 443, protocol: 'TCP' }).allowed).toBe(false);
    const rows = flowMatrix(manifests, { backend: 'istio' }).rows.filter((r) => r.destination === 'fqdn:api.example.com').map((r) => `${r.source} ${r.port}`);
    expect(rows).toEqual(['p/b 443', 'q/b 443']);
  });

  test('bad gateway props are refused where they are written', () => {
    expectError(() => Mesh.istio({ egressGateway: { namespace: 'egress' } }), 'INVALID_MESH_PROPS', /egress is not IstioEgress.GATEWAY/);
    expectError(() => Mesh.istio({ egress: IstioEgress.GATEWAY, egressGateway: { targetPorts: { 443: 0 } } }), 'INVALID_MESH_PROPS', /targetPorts/);
    expectError(() => Mesh.istio({ egress: IstioEgress.GATEWAY, egressGateway: { labels: {} } }), 'INVALID_MESH_PROPS', /labels/);
    expectError(() => Mesh.istio({ egress: 'firewall' as any }), 'INVALID_MESH_PROPS', /egress/);
  });
});

describe('Istio egress gateway: random topologies read back equal the intent', () => {
  test('reader(synth(intent)) == intent on the probe universe, host names included', () => {
    // Every port of the generator's pool is a port of the gateway (to a pod port of its own).
    const targetPorts = Object.fromEntries(PORT_POOL.map((p) => [String(p), 20000 + p]));
    const mesh = () => Mesh.istio({ egress: IstioEgress.GATEWAY, egressGateway: { targetPorts } });
    const features = { maxWorkloads: 6, http: true, fqdn: true, wildcardHosts: false, serviceAccounts: 'always' as const, externalAnyPort: false, portRanges: false };
    let hosts = 0;
    let runs = 0;
    let refused = 0;
    fc.assert(fc.property(topologyArb(features), (spec) => {
      const { app, model, dns } = buildApp(spec, Testing.app(), mesh);
      let objects: any[];
      try {
        objects = synthApp(app);
      } catch (e) {
        if (/the mesh does not carry UDP/.test((e as Error).message)) return;
        const codes = new Set(((e as ZeroTrustError).problems?.length ? (e as ZeroTrustError).problems : [e as ZeroTrustError]).map((x) => x.code));
        if (codes.has('ISTIO_EGRESS_GATEWAY_SHARED') && codes.size === 1) {
          // Refused only where two gateway users declare different (host, port) sets.
          const sets = new Set(model().workloads.map((w) => gatewayPairs(model(), w)).filter((x) => x !== '').map(String));
          expect(sets.size).toBeGreaterThan(1);
          refused++;
          return;
        }
        throw e;
      }
      runs++;
      const m = model();
      hosts += m.flows.filter((f) => f.destination.type === 'fqdn').length;
      const reader = readerFor(objects, { backend: 'istio' });
      const probes = intentProbes(m);
      const universe = probeUniverse(objects, probes.endpoints, probes.ports, probes.requests);
      const mismatches = compareWithIntent(reader, m, universe, { limit: 1, dns, ...backendIntentOptions('istio', {}) });
      if (mismatches.length > 0) throw new Error(describeMismatch(mismatches[0], 'istio'));
      // No address is opened for host names beneath the sidecars: every egress ipBlock is a declared address range.
      const declared = new Set(m.flows.flatMap((f) => (f.destination.type === 'ip-block' ? [f.destination.cidr] : [])));
      const egressBlocks = objects.filter((o) => o.kind === 'NetworkPolicy').flatMap((o) => (o.spec.egress ?? []).flatMap((r: any) => (r.to ?? []).flatMap((p: any) => (p.ipBlock ? [p.ipBlock.cidr] : []))));
      for (const b of egressBlocks) if (b !== '169.254.20.10/32') expect(declared.has(b)).toBe(true);
    }), { numRuns: 20, seed: 20261207, endOnFailure: true });
    expect(runs).toBeGreaterThan(5);
    expect(hosts).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });
});
