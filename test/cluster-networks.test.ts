/**
 * Issue 18: a chart told the cluster's pod and Service ranges (`clusterNetworks`) refuses
 * ip-blocks that overlap them, and cuts them out of the every-address egress opened for host names.
 */
import * as fc from 'fast-check';
import { Testing } from 'cdk8s';
import { IstioMode, Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { ZeroTrustError } from '../lib/intent/errors';
import { overlappedNetwork, parseClusterNetworks } from '../lib/intent/networks';
import { cidrContains, parseCidr } from '../lib/intent/cidr';
import { expectError } from './support/errors';
import { expectValid } from './support/schema';
import { find, synthApp } from './support/synth';
import { inventory } from '../lib/verify/inventory';
import { NetworkPolicyEvaluator } from '../lib/verify/networkpolicy';
import { Endpoint } from '../lib/verify/types';

const NETWORKS = ['10.244.0.0/16', '10.96.0.0/12', 'fd00:10:244::/56'];

const MESHES = [
  ['networkpolicy', () => Mesh.networkPolicy()],
  ['istio', () => Mesh.istio()],
  ['istio-ambient', () => Mesh.istio({ mode: IstioMode.AMBIENT })],
  ['linkerd', () => Mesh.linkerd()],
  ['cilium', () => Mesh.cilium()],
] as const;

function problemsOf(run: () => unknown): ZeroTrustError[] {
  try {
    run();
  } catch (e) {
    const err = e as ZeroTrustError;
    return err.problems.length > 0 ? [...err.problems] : [err];
  }
  return [];
}

function app(mesh: Mesh, rule: (api: SecureWorkload) => void, networks: string[] | null = NETWORKS) {
  const a = Testing.app();
  const c = new ZeroTrustChart(a, 'shop', { namespace: 'shop', mesh, ...(networks ? { clusterNetworks: networks } : {}) });
  const api = new SecureWorkload(c, 'api', { image: 'api', ports: [Port.http(8080)] });
  rule(api);
  return a;
}

describe('ip-blocks overlapping the cluster networks are refused', () => {
  test.each(MESHES)('%s: a source range containing the pod network names workload, rule and backend', (id, mesh) => {
    const problems = problemsOf(() => synthApp(app(mesh(), (api) => api.allowFrom(Peer.ipBlock('10.0.0.0/8')))));
    const overlap = problems.filter((p) => p.code === 'IP_BLOCK_OVERLAPS_CLUSTER');
    expect(overlap).toHaveLength(1);
    expect(overlap[0].backend).toBe(id);
    expect(overlap[0].namespace).toBe('shop');
    expect(overlap[0].workload).toBe('shop/api');
    expect(overlap[0].rule).toMatch(/shop\/api/);
    expect(overlap[0].message).toContain('10.244.0.0/16');
  });

  test('a source range inside the Service network, and an IPv6 one inside the pod network, are refused', () => {
    for (const cidr of ['10.100.1.0/24', 'fd00:10:244::/64']) {
      const codes = problemsOf(() => synthApp(app(Mesh.networkPolicy(), (api) => api.allowFrom(Peer.ipBlock(cidr))))).map((p) => p.code);
      expect(codes).toEqual(['IP_BLOCK_OVERLAPS_CLUSTER']);
    }
  });

  test('an egress destination overlapping the cluster is refused', () => {
    const problems = problemsOf(() => synthApp(app(Mesh.networkPolicy(), (api) => api.allowTo(Peer.ipBlock('10.96.0.10/32'), { ports: [Port.udp(53)] }))));
    expect(problems.map((p) => p.code)).toEqual(['IP_BLOCK_OVERLAPS_CLUSTER']);
    expect(problems[0].message).toContain('destination cidr:10.96.0.10/32');
  });

  test('a range that lists every cluster network it contains in except is accepted, and rendered as given', () => {
    const objects = synthApp(app(Mesh.networkPolicy(), (api) => api.allowFrom(Peer.ipBlock('10.0.0.0/8', ['10.244.0.0/16', '10.96.0.0/12']))));
    expect(find(objects, 'NetworkPolicy', 'api-ingress').spec.ingress[0].from).toEqual([{ ipBlock: { cidr: '10.0.0.0/8', except: ['10.244.0.0/16', '10.96.0.0/12'] } }]);
    expectValid(objects);
  });

  test('a disjoint range is accepted; without clusterNetworks nothing is checked', () => {
    expect(problemsOf(() => synthApp(app(Mesh.networkPolicy(), (api) => api.allowFrom(Peer.ipBlock('192.0.2.0/24')))))).toEqual([]);
    expect(problemsOf(() => synthApp(app(Mesh.networkPolicy(), (api) => api.allowFrom(Peer.ipBlock('10.0.0.0/8')), null)))).toEqual([]);
  });

  test('malformed or repeated clusterNetworks are refused where they are written', () => {
    expectError(() => new ZeroTrustChart(Testing.app(), 'c', { namespace: 'c', mesh: Mesh.networkPolicy(), clusterNetworks: ['10.0.0.0/33'] }), 'INVALID_CIDR', /clusterNetworks/);
    expectError(() => new ZeroTrustChart(Testing.app(), 'c', { namespace: 'c', mesh: Mesh.networkPolicy(), clusterNetworks: ['10.0.0.1/8', '10.0.0.0/8'] }), 'INVALID_ARGUMENT', /twice/);
    expectError(() => new ZeroTrustChart(Testing.app(), 'c', { namespace: 'c', mesh: Mesh.networkPolicy(), clusterNetworks: '10.0.0.0/8' as any }), 'INVALID_ARGUMENT', /array/);
    expect(parseClusterNetworks(['10.96.0.1/12', '10.244.0.0/16'], 'x')).toEqual(['10.244.0.0/16', '10.96.0.0/12']);
  });

  test('overlap, property: refused exactly when some address of the block outside its excepts is in a cluster network', () => {
    // Small IPv4 ranges inside 10.0.0.0/24, so every address can be enumerated.
    const cidr = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 24, max: 32 })).map(([a, p]) => `10.0.0.${(a >> (32 - p)) << (32 - p)}/${p}`);
    fc.assert(fc.property(cidr, fc.array(cidr, { maxLength: 3 }), fc.array(cidr, { minLength: 1, maxLength: 3 }), (block, excepts, networks) => {
      const b = parseCidr(block, 'b');
      const ex = [...new Set(excepts)].filter((e) => { const p = parseCidr(e, 'e'); return p.prefix > b.prefix && cidrContains(b, p.address); });
      const nets = [...new Set(networks)];
      let exposed = false;
      for (let i = 0; i < 256 && !exposed; i++) {
        const addr = (10n << 24n) + BigInt(i);
        if (!cidrContains(b, addr) || ex.some((e) => cidrContains(parseCidr(e, 'e'), addr))) continue;
        exposed = nets.some((n) => cidrContains(parseCidr(n, 'n'), addr));
      }
      const found = overlappedNetwork({ cidr: block, except: ex }, nets);
      // Never misses an exposed address; may refuse a network its excepts cover only together.
      if (exposed) expect(found).toBeDefined();
      if (found && !exposed) expect(ex.length).toBeGreaterThan(1);
    }), { numRuns: 500 });
  });
});

describe('host-name egress opens every address but the cluster networks', () => {
  test.each([
    ['istio', () => Mesh.istio()],
    ['kuma', () => Mesh.kuma()],
  ] as const)('%s: the NetworkPolicy egress for a host name excepts the cluster ranges of its family', (_id, mesh) => {
    const objects = synthApp(app(mesh(), (api) => api.allowTo(Peer.fqdn('api.example.com'), { ports: [Port.tcp(443)] })));
    const egress = find(objects, 'NetworkPolicy', 'api-egress').spec.egress;
    expect(egress).toEqual([{
      to: [
        { ipBlock: { cidr: '0.0.0.0/0', except: ['10.244.0.0/16', '10.96.0.0/12'] } },
        { ipBlock: { cidr: '::/0', except: ['fd00:10:244::/56'] } },
      ],
      ports: [{ port: 443 }],
    }]);
    expect(find(objects, 'NetworkPolicy', 'api-egress').metadata.annotations['zero-trust.cdk8s.io/cluster-networks']).toBe('10.244.0.0/16,10.96.0.0/12,fd00:10:244::/56');
    expectValid(objects);
  });

  test('the NetworkPolicy reader: a host name is in an every-address block only when its excepts are the annotated cluster ranges', () => {
    const objects = synthApp(app(Mesh.istio(), (api) => api.allowTo(Peer.fqdn('api.example.com'), { ports: [Port.tcp(443)] })));
    const ask = (docs: any[]) => {
      const api = inventory(docs).workloads.find((p) => p.labels?.['app.kubernetes.io/name'] === 'api')!;
      const host: Endpoint = { id: 'fqdn:api.example.com', kind: 'fqdn', host: 'api.example.com' } as Endpoint;
      const pod: Endpoint = { id: 'ip:10.244.1.7', kind: 'ip', ip: '10.244.1.7' };
      const reader = new NetworkPolicyEvaluator(docs);
      return [host, pod].map((destination) => reader.evaluate({ source: api, destination, port: 443, protocol: 'TCP' }).allowed);
    };
    expect(ask(objects)).toEqual([true, false]);
    // The same excepts without the annotation: the reader cannot tell they are the cluster's, and denies the host.
    const bare = JSON.parse(JSON.stringify(objects));
    delete find(bare, 'NetworkPolicy', 'api-egress').metadata.annotations['zero-trust.cdk8s.io/cluster-networks'];
    expect(ask(bare)).toEqual([false, false]);
  });

  test('without clusterNetworks the egress is every address, as before', () => {
    const objects = synthApp(app(Mesh.istio(), (api) => api.allowTo(Peer.fqdn('api.example.com'), { ports: [Port.tcp(443)] }), null));
    expect(find(objects, 'NetworkPolicy', 'api-egress').spec.egress[0].to).toEqual([{ ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }]);
  });
});
