/**
 * The report's universe holds every party the policies of any backend name (issue #16): a
 * labelled workload outside the app with its ServiceAccount is a row on every mesh that admits
 * it, `explain --from` can name it, and the internet (`world`) is always asked, both ways.
 */
import { Testing } from 'cdk8s';
import { IstioMode, Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { diffMatrices, explain, flowMatrix, readerOf, resolveEndpoint } from '../lib/report';
import { SourcedManifest, parseManifests } from '../lib/verify';

const BACKUP = { namespace: 'ops', labels: { app: 'backup' }, serviceAccount: 'pg-backup' };

function app(mesh: () => Mesh, peer?: Parameters<typeof Peer.workload>[0]): SourcedManifest[] {
  const a = Testing.app();
  const chart = new ZeroTrustChart(a, 'c', { namespace: 'prod', mesh: mesh() });
  const pg = new SecureWorkload(chart, 'postgres', { image: 'postgres', ports: [Port.tcp(5432)] });
  const api = new SecureWorkload(chart, 'api', { image: 'api', ports: [Port.http(8080)] });
  pg.allowFrom(api);
  if (peer) pg.allowFrom(Peer.workload(peer));
  return parseManifests(a.synthYaml(), 'app.yaml');
}

const row = (r: { source: string; destination: string; port: string; protocol: string }) => `${r.source} -> ${r.destination} ${r.port}/${r.protocol}`;

describe.each([
  ['istio', () => Mesh.istio()],
  ['istio-ambient', () => Mesh.istio({ mode: IstioMode.AMBIENT })],
  ['linkerd', () => Mesh.linkerd()],
  ['cilium', () => Mesh.cilium()],
])('a labelled workload with a ServiceAccount outside the app: %s', (id, mesh) => {
  const before = app(mesh);
  const after = app(mesh, BACKUP);

  test('diff reports the flow it adds, named by namespace, labels and account', () => {
    const d = diffMatrices(flowMatrix(before, { comparedWith: after }), flowMatrix(after, { comparedWith: before }));
    expect(d.added.map(row)).toEqual(['ops/{app=backup}@pg-backup -> prod/postgres 5432/TCP']);
    expect(d.removed).toEqual([]);
  });

  test('explain --from names it, and a pod of the namespace with another account is refused', () => {
    const chosen = readerOf(after, id);
    const destination = resolveEndpoint(after, 'prod/postgres', '--to');
    const query = (from: string) => ({ source: resolveEndpoint(after, from, '--from'), destination, port: 5432, protocol: 'TCP' as const });
    expect(explain(after, chosen.backend, chosen.evaluator, query('ops/{app=backup}@pg-backup')).decision.allowed).toBe(true);
    expect(explain(after, chosen.backend, chosen.evaluator, query('ops/*')).decision.allowed).toBe(false);
  });
});

test('kuma: a MeshSubset\'s tags are a party of their own', () => {
  const peer = { namespace: 'ops', labels: { app: 'backup' } };
  const before = app(() => Mesh.kuma());
  const after = app(() => Mesh.kuma(), peer);
  const d = diffMatrices(flowMatrix(before, { comparedWith: after }), flowMatrix(after, { comparedWith: before }));
  expect(d.added.map(row)).toEqual(['ops/{app=backup} -> prod/postgres 5432/TCP']);
});

test('an unknown party is refused by name', () => {
  expect(() => resolveEndpoint(app(() => Mesh.istio(), BACKUP), 'ops/{app=other}@x', '--from')).toThrow(/--from ops\/\{app=other\}@x: no party of that name/);
});

const policy = (from: string) => `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Ingress, Egress]
  ingress: [${from}]
  egress: []
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: prod}
spec:
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: x, ports: [{containerPort: 5432}]}]}
`;

describe('the internet is always a party', () => {
  test('with no address range named, an open ingress is a row from world', () => {
    const m = flowMatrix(parseManifests(policy('{ports: [{port: 5432}]}'), 'open.yaml'));
    expect(m.rows.map(row)).toContain('world -> prod/db 5432/TCP');
  });

  test('an ipBlock replaced by an open rule: flows added from world, nothing removed', () => {
    const before = parseManifests(policy('{from: [{ipBlock: {cidr: 10.0.0.0/8}}], ports: [{port: 5432}]}'), 'before.yaml');
    const after = parseManifests(policy('{ports: [{port: 5432}]}'), 'after.yaml');
    const d = diffMatrices(flowMatrix(before, { comparedWith: after }), flowMatrix(after, { comparedWith: before }));
    expect(d.added.map(row)).toEqual(expect.arrayContaining(['world -> prod/db 5432/TCP', 'ns:* -> prod/db 5432/TCP']));
    expect(d.added.map(row)).not.toContain('cidr:10.0.0.0/8 -> prod/db 5432/TCP');
    expect(d.removed).toEqual([]);
  });

  test('egress to world is asked although no policy names an address', () => {
    const m = flowMatrix(parseManifests(policy('{}').replace('egress: []', 'egress: [{}]'), 'egress.yaml'));
    expect(m.rows.map(row)).toEqual(expect.arrayContaining(['prod/db -> world any/TCP', 'prod/db -> world any/UDP']));
  });
});
