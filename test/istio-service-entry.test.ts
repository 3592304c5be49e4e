/**
 * Istio sidecar egress to address ranges and host names (issue 19 follow-up): what the self-check
 * found with nothing weakened, and what Istio does there. A ServiceEntry's addresses hold no
 * `except` and its ports are every importer's; opaque TCP is matched by the address dialled
 * (hosts ignored), HTTP by the Host header. Each app synthesizes (the self-check reads the
 * output back) and its objects are checked field by field.
 */
import { App, Testing } from 'cdk8s';
import { Dns, IstioMode, Mesh, Peer, Port, SecureWorkload, ZeroTrustChart, ZeroTrustSynthesis } from '../lib';
import { IstioEvaluator } from '../lib/verify/istio';
import { Endpoint, Manifest } from '../lib/verify/types';
import { workloadEndpoints } from './support/istio-endpoints';
import { find, synthApp } from './support/synth';

function chart(app: App, dns?: Dns): ZeroTrustChart {
  return new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: Mesh.istio({ mode: IstioMode.SIDECAR }), ...(dns ? { dns } : {}) });
}

function problems(app: App): string[] {
  try {
    app.synthYaml();
  } catch (e) {
    const found = ZeroTrustSynthesis.problemsOf(e);
    if (found.length === 0) throw e;
    return found.map((p) => p.message);
  }
  return [];
}

describe('Istio sidecar: address ranges and host names', () => {
  test('egress to 0.0.0.0/0 on TCP 53 beside a host name, with NodeLocal DNS: a host name\'s address is in the whole-space block (opaque TCP)', () => {
    const app = Testing.app();
    const api = new SecureWorkload(chart(app, Dns.nodeLocal()), 'api', { image: 'x', ports: [Port.http(8080)] });
    api.allowTo(Peer.ipBlock('0.0.0.0/0'), { ports: [Port.tcp(53)] });
    api.allowTo(Peer.fqdn('api.example.com'), { ports: [Port.tcp(443)] });
    expect(problems(app)).toEqual([]);
    const se = find(synthApp(app), 'ServiceEntry', 'cidr-0-0-0-0-0', 'shop');
    expect(se.spec).toEqual(expect.objectContaining({ addresses: ['0.0.0.0/0'], ports: [{ number: 53, name: 'tcp-53', protocol: 'TCP' }], resolution: 'NONE' }));
  });

  test('an address range on an HTTP port is opaque TCP in its ServiceEntry (HTTP would match the Host header against the placeholder host)', () => {
    const app = Testing.app();
    const api = new SecureWorkload(chart(app), 'api', { image: 'x', ports: [Port.http(8080)] });
    api.allowTo(Peer.ipBlock('0.0.0.0/0'), { ports: [Port.http(5432)] });
    expect(problems(app)).toEqual([]);
    expect(find(synthApp(app), 'ServiceEntry', 'cidr-0-0-0-0-0', 'shop').spec.ports).toEqual([{ number: 5432, name: 'tcp-5432', protocol: 'TCP' }]);
  });

  test('a block declared with and without an except (IPv6, 9090) beside a host name on 9090: each ServiceEntry holds its own addresses, the except cut out', () => {
    const app = Testing.app();
    const c = chart(app);
    const api = new SecureWorkload(c, 'api', { image: 'x', ports: [Port.http(8080)] });
    const web = new SecureWorkload(c, 'web', { image: 'x', ports: [Port.http(8080)] });
    api.allowTo(Peer.ipBlock('2001:db8::/32', ['2001:db8:1::/48']), { ports: [Port.tcp(9090)] });
    api.allowTo(Peer.fqdn('api.example.com'), { ports: [Port.tcp(9090)] });
    web.allowTo(Peer.ipBlock('2001:db8::/32'), { ports: [Port.tcp(9090)] });
    expect(problems(app)).toEqual([]);
    const objects = synthApp(app);
    const entries = objects.filter((o) => o.kind === 'ServiceEntry' && o.metadata.name.startsWith('cidr-'));
    expect(entries.map((o) => o.metadata.name).sort()).toEqual(['cidr-2001-db8-32', 'cidr-2001-db8-32-2']);
    const withExcept = entries.find((o) => o.spec.addresses.length > 1);
    // 2001:db8::/32 without 2001:db8:1::/48: one CIDR per prefix length from /33 to /48.
    expect(withExcept.spec.addresses).toHaveLength(16);
    expect(withExcept.spec.addresses).toContain('2001:db8:8000::/33');
    expect(withExcept.spec.addresses).toContain('2001:db8::/48');
    expect(withExcept.spec.addresses).not.toContain('2001:db8:1::/48');
    expect(entries.find((o) => o !== withExcept).spec.addresses).toEqual(['2001:db8::/32']);
    // Each sidecar imports its own entry only.
    const hosts = (name: string) => find(objects, 'Sidecar', name, 'shop').spec.egress[0].hosts;
    expect(hosts('api')).toContain(`./${withExcept.spec.hosts[0]}`);
    expect(hosts('api')).not.toContain(`./${entries.find((o) => o !== withExcept).spec.hosts[0]}`);
    expect(hosts('web')).toEqual(expect.arrayContaining([`./${entries.find((o) => o !== withExcept).spec.hosts[0]}`]));
  });

  test('an address range the workloads of a namespace declare on different ports: one ServiceEntry per port set', () => {
    const app = Testing.app();
    const c = chart(app);
    const api = new SecureWorkload(c, 'api', { image: 'x', ports: [Port.http(8080)] });
    const web = new SecureWorkload(c, 'web', { image: 'x', ports: [Port.http(8080)] });
    api.allowTo(Peer.ipBlock('203.0.113.0/24'), { ports: [Port.tcp(443)] });
    api.allowTo(Peer.fqdn('api.example.com'), { ports: [Port.tcp(5432)] });
    web.allowTo(Peer.ipBlock('203.0.113.0/24'), { ports: [Port.tcp(5432)] });
    expect(problems(app)).toEqual([]);
    const ports = synthApp(app).filter((o) => o.kind === 'ServiceEntry' && o.metadata.name.startsWith('cidr-')).map((o) => `${o.metadata.name} ${o.spec.ports.map((p: any) => p.number).join(',')}`);
    expect(ports.sort()).toEqual(['cidr-203-0-113-0-24 443', 'cidr-203-0-113-0-24-2 5432']);
  });

  test('a host two workloads declare on different ports is refused where the other\'s port is open to every address for the first', () => {
    const app = Testing.app();
    const c = chart(app);
    const api = new SecureWorkload(c, 'api', { image: 'x', ports: [Port.http(8080)] });
    const web = new SecureWorkload(c, 'web', { image: 'x', ports: [Port.http(8080)] });
    api.allowTo(Peer.fqdn('*.example.org'), { ports: [Port.tcp(443)] });
    api.allowTo(Peer.fqdn('api.example.com'), { ports: [Port.tcp(80)] });
    web.allowTo(Peer.fqdn('*.example.org'), { ports: [Port.tcp(80)] });
    expect(problems(app)).toEqual([expect.stringMatching(/^shop\/api\.allowTo\(fqdn:\*\.example\.org\): the ServiceEntry of \*\.example\.org in shop lists port 80, which other workloads declare, .*declare the same ports for \*\.example\.org/)]);
    // The same ports, or no other egress on them: synthesizes.
    const ok = Testing.app();
    const c2 = chart(ok);
    new SecureWorkload(c2, 'api', { image: 'x', ports: [Port.http(8080)] }).allowTo(Peer.fqdn('*.example.org'), { ports: [Port.tcp(443)] });
    new SecureWorkload(c2, 'web', { image: 'x', ports: [Port.http(8080)] }).allowTo(Peer.fqdn('*.example.org'), { ports: [Port.tcp(80)] });
    expect(problems(ok)).toEqual([]);
  });

  test('ingress from 0.0.0.0/0: a client outside the cluster (a host name) is in the block the AuthorizationPolicy names', () => {
    const app = Testing.app();
    const api = new SecureWorkload(chart(app), 'api', { image: 'x', ports: [Port.tcp(6379)] });
    api.allowFrom(Peer.ipBlock('0.0.0.0/0'), { ports: [Port.tcp(6379)] });
    // A host name in the app: the self-check probes from host names too.
    api.allowTo(Peer.fqdn('api.example.com'), { ports: [Port.tcp(443)] });
    expect(problems(app)).toEqual([]);
    const policy = find(synthApp(app), 'AuthorizationPolicy', 'api', 'shop');
    expect(policy.spec.rules).toContainEqual(expect.objectContaining({ from: [{ source: { ipBlocks: ['0.0.0.0/0'] } }] }));
  });
});

describe('the Istio reader: a host name as a source, by the AuthorizationPolicy rules Istio matches on its address', () => {
  const host: Endpoint = { id: 'fqdn:api.example.com', kind: 'fqdn', host: 'api.example.com' } as Endpoint;
  function ask(extra: (manifests: Manifest[]) => Manifest[]): boolean {
    const app = Testing.app();
    new SecureWorkload(chart(app), 'api', { image: 'x', ports: [Port.tcp(6379)] }).allowFrom(Peer.ipBlock('0.0.0.0/0'), { ports: [Port.tcp(6379)] });
    const manifests = extra(synthApp(app) as Manifest[]);
    const [api] = workloadEndpoints(manifests);
    return new IstioEvaluator(manifests).evaluate({ source: host, destination: api, port: 6379, protocol: 'TCP' }).allowed;
  }
  const deny = (source: object): Manifest => ({
    apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'pin', namespace: 'shop' },
    spec: { action: 'DENY', rules: [{ from: [{ source }], to: [{ operation: { ports: ['6379'] } }] }] },
  } as Manifest);
  const narrowed = (ms: Manifest[]) => ms.map((m) => (m.kind === 'AuthorizationPolicy' && m.metadata.name === 'api'
    ? { ...m, spec: { ...m.spec, rules: m.spec.rules.map((r: any) => ({ ...r, from: [{ source: { ipBlocks: ['0.0.0.0/0'], notIpBlocks: ['10.0.0.0/8'] } }] })) } } : m));

  test('ALLOW from 0.0.0.0/0 admits it; with notIpBlocks it does not (a block with excepts is not taken to hold a host, as in the intent)', () => {
    expect(ask((ms) => ms)).toBe(true);
    expect(ask(narrowed)).toBe(false);
  });

  test('a DENY rule matches it by the same convention: notIpBlocks of a narrower block do not exclude it, a whole-space one does; ipBlocks of a narrower block do not hold it', () => {
    expect(ask((ms) => [...ms, deny({ notIpBlocks: ['203.0.113.0/24'] })])).toBe(false);
    expect(ask((ms) => [...ms, deny({ notIpBlocks: ['0.0.0.0/0'] })])).toBe(true);
    expect(ask((ms) => [...ms, deny({ ipBlocks: ['203.0.113.0/24'] })])).toBe(true);
    expect(ask((ms) => [...ms, deny({ ipBlocks: ['0.0.0.0/0'] })])).toBe(false);
  });
});
