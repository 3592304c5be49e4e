import { App } from 'cdk8s';
import { Mesh, Peer, Port, SecureWorkload, WorkloadKind, ZeroTrustChart, ZeroTrustChartProps } from '../lib';

/**
 * The story: Hero only needs to reach its database, Lil DeeBee. Everything else is closed;
 * the one line that stays open is authenticated and, on a mesh, encrypted.
 */
export function heroAndLilDeeBee(app: App, mesh: Mesh, stage: Pick<ZeroTrustChartProps, 'enforcement' | 'mtls'> = {}): ZeroTrustChart {
  const prod = new ZeroTrustChart(app, 'production', { namespace: 'production', mesh, ...stage });
  const hero = new SecureWorkload(prod, 'hero', { image: 'ghcr.io/example/hero:1.0', ports: [Port.http(8080)] });
  const deebee = new SecureWorkload(prod, 'lil-deebee', {
    image: 'postgres:16',
    ports: [Port.tcp(5432, 'postgres')],
    kind: WorkloadKind.STATEFUL_SET,
  });
  deebee.allowFrom(hero);
  hero.allowFrom(Peer.namespace('ingress-nginx'), { ports: [Port.http(8080)] });
  hero.allowTo(Peer.ipBlock('203.0.113.0/24'), { ports: [Port.tcp(443)] });
  return prod;
}
