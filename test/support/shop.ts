import { App } from 'cdk8s';
import { IPeer, Mesh, Peer, Port, SecureWorkload, WorkloadKind, ZeroTrustChart } from '../../lib';

/** The workloads of the shop, by name. */
export interface Shop {
  readonly app: App;
  readonly charts: ZeroTrustChart[];
  readonly workloads: { [name: string]: SecureWorkload };
}

/**
 * The realistic app of issue 19, with no mesh-specific code: ingress -> web -> api (HTTP rules
 * `GET /products*`, `POST /orders`) -> postgres; a gRPC payments service in a second namespace;
 * api egress to api.stripe.com:443; Prometheus (by labels and ServiceAccount) scraping every
 * workload's metrics port. `mesh` is called once per chart; `http: false` declares web -> api
 * without its HTTP rules; `clusterNetworks` is given to both charts.
 */
export function shopApp(app: App, mesh: () => Mesh, options: { readonly http?: boolean; readonly clusterNetworks?: string[] } = {}): Shop {
  const networks = options.clusterNetworks ? { clusterNetworks: options.clusterNetworks } : {};
  const shop = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: mesh(), ...networks });
  const payments = new ZeroTrustChart(app, 'payments', { namespace: 'payments', mesh: mesh(), ...networks });
  const metrics = Port.http(9090, 'metrics');
  const web = new SecureWorkload(shop, 'web', { image: 'ghcr.io/example/web:1', ports: [Port.http(8080), metrics] });
  const api = new SecureWorkload(shop, 'api', { image: 'ghcr.io/example/api:1', ports: [Port.http(8080), metrics] });
  const postgres = new SecureWorkload(shop, 'postgres', {
    image: 'postgres:16', kind: WorkloadKind.STATEFUL_SET, ports: [Port.tcp(5432, 'postgres'), Port.http(9187, 'metrics')],
  });
  const pay = new SecureWorkload(payments, 'payments', { image: 'ghcr.io/example/payments:1', ports: [Port.grpc(50051), metrics] });

  web.allowFrom(Peer.namespace('ingress-nginx'), { ports: [Port.http(8080)] });
  const http = options.http === false ? {} : { http: [{ methods: ['GET'], paths: ['/products*'] }, { methods: ['POST'], paths: ['/orders'] }] };
  api.allowFrom(web, { ports: [Port.http(8080)], ...http });
  postgres.allowFrom(api, { ports: [Port.tcp(5432, 'postgres')] });
  pay.allowFrom(api, { ports: [Port.grpc(50051)] });
  api.allowTo(Peer.fqdn('api.stripe.com'), { ports: [Port.tcp(443)] });
  const prometheus: IPeer = Peer.workload({ namespace: 'monitoring', labels: { 'app.kubernetes.io/name': 'prometheus' }, serviceAccount: 'prometheus' });
  for (const w of [web, api, pay]) w.allowFrom(prometheus, { ports: [metrics] });
  postgres.allowFrom(prometheus, { ports: [Port.http(9187, 'metrics')] });
  return { app, charts: [shop, payments], workloads: { web, api, postgres, payments: pay } };
}
