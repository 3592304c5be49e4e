/**
 * Issue 18: the output works in a real cluster (GitOps apply, probes, DNS, namespaces managed
 * elsewhere) and opens nothing beyond the intent.
 */
import { App, Testing } from 'cdk8s';
import { Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { expectValid } from './support/schema';
import { synthApp } from './support/synth';

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (e) {
    const err = e as { code?: string; problems?: Array<{ code?: string }> };
    return err.code === 'SYNTH_FAILED' ? (err.problems ?? []).map((p) => p.code).join(',') : err.code;
  }
}

describe('cluster-scoped objects are emitted once per app', () => {
  test('Kuma: several charts on one mesh emit the Mesh once, in the first chart', () => {
    const app = Testing.app();
    const charts = ['shop', 'payments', 'batch'].map((ns) => new ZeroTrustChart(app, ns, { namespace: ns, mesh: Mesh.kuma() }));
    const [shop, payments, batch] = charts.map((c) => new SecureWorkload(c, 'app', { image: 'app', ports: [Port.http(8080)] }));
    payments.allowFrom(shop);
    batch.allowTo(payments);
    const perChart = app.charts.map((c) => Testing.synth(c).filter((o: any) => o.kind === 'Mesh').length);
    expect(perChart).toEqual([1, 0, 0]);
    expectValid(synthApp(app));
  });

  test('two charts rendering different cluster-scoped objects under one name are refused', () => {
    const app = Testing.app();
    // ClusterSPIFFEID names are <namespace>-<workload>: a-b/c and a/b-c both make "a-b-c".
    const one = new ZeroTrustChart(app, 'one', { namespace: 'a-b', mesh: Mesh.cilium({ spiffeIds: {} }) });
    const two = new ZeroTrustChart(app, 'two', { namespace: 'a', mesh: Mesh.cilium({ spiffeIds: {} }) });
    new SecureWorkload(one, 'c', { image: 'c' });
    new SecureWorkload(two, 'b-c', { image: 'b' });
    expect(codeOf(() => synthApp(app))).toBe('CLUSTER_OBJECT_CONFLICT');
  });
});

export { App, Peer };
