/**
 * Plain-JavaScript misuse of the options added with weakening, rollout and metrics scraping:
 * wrong-typed values are refused with a coded ZeroTrustError, never read as truthy (a wider
 * policy) and never a TypeError.
 */
import { App } from 'cdk8s';
import { Mesh, Peer, Port, SecureWorkload, Weaken, ZeroTrustChart } from '../lib';
import { expectError } from './support/errors';

const prom = Peer.workload({ namespace: 'monitoring', labels: { app: 'prom' } });

function chart(mesh: Mesh, props: any = {}): ZeroTrustChart {
  const c = new ZeroTrustChart(new App(), 'p', { namespace: 'p', mesh, ...props });
  new SecureWorkload(c, 'web', { image: 'x', ports: [Port.http(8080), Port.http(9090, 'metrics')] });
  return c;
}

describe('allowMetricsScraping options', () => {
  test.each([['false'], [0], [1], [null], ['true']])('proxyMetrics %p is refused, not read as truthy', (value) => {
    const c = chart(Mesh.kuma());
    expectError(() => c.allowMetricsScraping(prom, { proxyMetrics: value as any, appPort: Port.http(9090, 'metrics') }), 'INVALID_ARGUMENT', /proxyMetrics must be true or false/);
  });

  test.each([[{}], ['web'], [5], [null]])('workloads %p (not an array) is refused', (value) => {
    const c = chart(Mesh.istio());
    expectError(() => c.allowMetricsScraping(prom, { workloads: value as any }), 'INVALID_ARGUMENT', /workloads must be an array/);
  });
});

describe('weaken', () => {
  const factories: Array<[string, (props: any) => Mesh]> = [
    ['istio', (p) => Mesh.istio(p)], ['linkerd', (p) => Mesh.linkerd(p)], ['cilium', (p) => Mesh.cilium(p)],
    ['networkpolicy', (p) => Mesh.networkPolicy(p)], ['kuma', (p) => Mesh.kuma(p)], ['nsm', (p) => Mesh.networkServiceMesh(p)],
  ];
  for (const [name, make] of factories) {
    test.each([[{}], [5], ['HTTP_TO_PORT'], [null], [true]])(`${name}: weaken %p (not an array) is refused`, (value) => {
      expectError(() => make({ weaken: value }), 'INVALID_MESH_PROPS', /weaken must be an array of Weaken members/);
    });
    test.each([['x'], [5], [null], [[]]])(`${name}: props %p (not an object) are refused`, (value) => {
      expectError(() => make(value), 'INVALID_MESH_PROPS', /props must be an object/);
    });
  }
  test('an array of members still works', () => {
    expect(Mesh.kuma({ weaken: [Weaken.HTTP_TO_PORT] }).id).toBe('kuma');
  });
});

describe('deprecated flags', () => {
  test.each([['false'], [0], [1], ['no'], [null]])('NSM allowPortsOverConnection / allowHttpRulesOverConnection %p are refused', (value) => {
    expectError(() => Mesh.networkServiceMesh({ allowPortsOverConnection: value as any }), 'INVALID_MESH_PROPS', /allowPortsOverConnection must be true or false/);
    expectError(() => Mesh.networkServiceMesh({ allowHttpRulesOverConnection: value as any }), 'INVALID_MESH_PROPS', /allowHttpRulesOverConnection must be true or false/);
  });

  test('NSM allowPortsOverConnection "false" no longer opens the whole connection', () => {
    const app = new App();
    expect(() => {
      const c = new ZeroTrustChart(app, 'p', { namespace: 'p', mesh: Mesh.networkServiceMesh({ allowPortsOverConnection: 'false' as any }) });
      const db = new SecureWorkload(c, 'db', { image: 'x', ports: [Port.tcp(5432), Port.tcp(9187)] });
      db.allowFrom(new SecureWorkload(c, 'web', { image: 'x', ports: [Port.http(8080)] }), { ports: [Port.tcp(5432)] });
    }).toThrow(/allowPortsOverConnection must be true or false/);
  });

  test.each([['bogus'], [true], [5], [null]])('Kuma httpRules %p is refused', (value) => {
    expectError(() => Mesh.kuma({ httpRules: value as any }), 'INVALID_MESH_PROPS', /httpRules must be one of REJECT, ENFORCE_AT_L4/);
  });
});

describe('clusterNetworks', () => {
  test.each([[['0.0.0.0/0']], [['::/0']], [['10.0.0.0/8', '0.0.0.0/0', '::/0']], [['1.2.3.4/0']]])('%p (a whole address family) is refused', (networks) => {
    expectError(() => chart(Mesh.networkPolicy({ weaken: [Weaken.HOST_TO_PORT] }), { clusterNetworks: networks }), 'INVALID_ARGUMENT', /every IPv[46] address/);
  });
});
