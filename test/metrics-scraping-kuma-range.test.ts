/**
 * Kuma refuses address-range sources (KUMA_NOT_ENFORCEABLE); a scraper given as an ip-block is
 * refused by that code too, on kuma-dp's own metrics port (hidden from the Kuma layer), naming the
 * workload and the rule, instead of reaching the self-check.
 */
import { App } from 'cdk8s';
import { Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { ZeroTrustError } from '../lib/intent/errors';
import { expectSynthError, synthApp } from './support/synth';

function app(scraper: () => any, appPort?: Port): App {
  const a = new App();
  const c = new ZeroTrustChart(a, 'p', { namespace: 'p', mesh: Mesh.kuma() });
  new SecureWorkload(c, 'web', { image: 'x', ports: [Port.http(8080), Port.http(9090, 'metrics')] });
  c.allowMetricsScraping(scraper(), appPort ? { appPort } : {});
  return a;
}

test.each([['192.168.1.0/24'], ['0.0.0.0/0'], ['10.1.2.3/32']])('scraper Peer.ipBlock(%s) is refused with the Kuma address-range code', (cidr) => {
  const error = expectSynthError(app(() => Peer.ipBlock(cidr)), `cidr:${cidr}`);
  const problems: ZeroTrustError[] = error.problems.length > 0 ? [...error.problems] : [error];
  expect(problems.map((p) => p.code)).not.toContain('SELF_CHECK_WIDER');
  const refusal = problems.find((p) => p.code === 'KUMA_NOT_ENFORCEABLE')!;
  expect(refusal).toBeDefined();
  expect(refusal.workload).toBe('p/web');
  expect(refusal.rule).toMatch(/^p\/web\.allowMetricsScraping\(cidr:/);
});

test('with an appPort too, the refusal is still coded', () => {
  const error = expectSynthError(app(() => Peer.ipBlock('192.168.1.0/24'), Port.http(9090, 'metrics')), 'cidr:192.168.1.0/24');
  const problems: ZeroTrustError[] = error.problems.length > 0 ? [...error.problems] : [error];
  expect(problems.every((p) => p.code === 'KUMA_NOT_ENFORCEABLE')).toBe(true);
});

test('a scraper in the mesh still synthesizes, with 5670 open to it', () => {
  const objects = synthApp(app(() => Peer.namespace('monitoring')));
  const ingress = objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'web-ingress');
  expect(JSON.stringify(ingress.spec.ingress)).toContain('"port":5670');
});
