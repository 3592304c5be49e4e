import { Testing } from 'cdk8s';
import { IstioMode, Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { IntentRegistry } from '../lib/intent/registry';
import { foldPeers } from '../lib/meshes/networkpolicy/policies';
import {
  NetworkPolicyEvaluator, allowedFlows, compareWithIntent, describeMismatch, labelSetsSatisfying, parseManifests, probeUniverse,
} from '../lib/verify';
import { expectValid } from './support/schema';
import { find } from './support/synth';

const NAME = 'app.kubernetes.io/name';
const nsSel = (ns: string) => ({ matchLabels: { 'kubernetes.io/metadata.name': ns } });

/** A database in `shop` reached by three shop workloads, two ops workloads and pods outside the app. */
function build(mesh: Mesh, identities = false) {
  // Identity meshes need a ServiceAccount for peers outside the app; NetworkPolicy refuses one. One account for the three
  // metrics peers: with one each, a pod with one's labels and another's account would pass (IDENTITY_PAIRING_NOT_ENFORCEABLE).
  const sa = () => (identities ? { serviceAccount: 'metrics' } : {});
  const app = Testing.app();
  const shop = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh });
  const ops = new ZeroTrustChart(app, 'ops', { namespace: 'ops', mesh });
  const w = (chart: ZeroTrustChart, name: string, port: number) => new SecureWorkload(chart, name, { image: 'registry.example.com/app:1', ports: [Port.tcp(port)] });
  const db = w(shop, 'db', 5432);
  const cache = w(shop, 'cache', 6379);
  for (const name of ['web', 'api', 'worker']) db.allowFrom(w(shop, name, 8080));
  for (const name of ['monitor', 'backup']) db.allowFrom(w(ops, name, 9000));
  db.allowFrom(Peer.workload({ namespace: 'metrics', labels: { app: 'scraper' }, ...sa() }));
  db.allowFrom(Peer.workload({ namespace: 'metrics', labels: { app: 'exporter' }, ...sa() }));
  db.allowFrom(Peer.workload({ namespace: 'metrics', labels: { app: 'agent', tier: 'infra' }, ...sa() }));
  cache.allowFrom(Peer.ipBlock('10.1.0.0/16'));
  const yaml = app.synthYaml();
  return { yaml, manifests: parseManifests(yaml, 'fold.yaml'), model: IntentRegistry.of(app).resolve().model, objects: Testing.synth(shop).concat(Testing.synth(ops)) };
}

describe('NetworkPolicy peers naming pods of one namespace by one label are folded into one In peer', () => {
  const { manifests, model, objects } = build(Mesh.networkPolicy());
  const ingress = find(objects, 'NetworkPolicy', 'db-ingress', 'shop').spec.ingress;

  test('one peer per namespace, values sorted; multi-label peers stay as they are', () => {
    expect(ingress).toEqual([{
      from: [
        { namespaceSelector: nsSel('metrics'), podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['exporter', 'scraper'] }] } },
        { namespaceSelector: nsSel('metrics'), podSelector: { matchLabels: { app: 'agent', tier: 'infra' } } },
        { namespaceSelector: nsSel('ops'), podSelector: { matchExpressions: [{ key: NAME, operator: 'In', values: ['backup', 'monitor'] }] } },
        { podSelector: { matchExpressions: [{ key: NAME, operator: 'In', values: ['api', 'web', 'worker'] }] } },
      ],
      ports: [{ port: 5432 }],
    }]);
  });

  test('a single source keeps its matchLabels form', () => {
    const cacheIngress = find(objects, 'NetworkPolicy', 'cache-ingress', 'shop').spec.ingress;
    expect(cacheIngress[0].from).toEqual([{ ipBlock: { cidr: '10.1.0.0/16' } }]);
    const backupEgress = find(objects, 'NetworkPolicy', 'backup-egress', 'ops').spec.egress;
    expect(backupEgress[0].to).toEqual([{ namespaceSelector: nsSel('shop'), podSelector: { matchLabels: { [NAME]: 'db' } } }]);
  });

  test('every object validates against its upstream schema', () => {
    expectValid(objects);
  });

  test('the folded policies admit exactly the declared sources', () => {
    const evaluator = new NetworkPolicyEvaluator(manifests);
    const universe = probeUniverse(manifests);
    expect(compareWithIntent(evaluator, model, universe, { limit: 5 }).map((m) => describeMismatch(m, 'networkpolicy'))).toEqual([]);
    // Each folded value got a probe pod of its own, and only the declared ones reach the database.
    expect(universe.endpoints.map((e) => e.id)).toEqual(expect.arrayContaining(['metrics/{app=exporter}', 'metrics/{app=scraper}']));
    const toDb = allowedFlows(evaluator, universe).filter((f) => f.destination === 'shop/db').map((f) => f.source);
    expect([...new Set(toDb)].sort()).toEqual([
      'metrics/{app=agent,tier=infra}', 'metrics/{app=exporter}', 'metrics/{app=scraper}', 'ops/backup', 'ops/monitor', 'shop/api', 'shop/web', 'shop/worker',
    ]);
  });

  test('the mesh layers fold the same way (Istio ambient adds HBONE to the same peer)', () => {
    const ambient = build(Mesh.istio({ mode: IstioMode.AMBIENT }), true);
    const rule = find(ambient.objects, 'NetworkPolicy', 'db-ingress', 'shop').spec.ingress
      .find((r: any) => r.ports.some((p: any) => p.port === 5432));
    expect(rule.from).toContainEqual({ podSelector: { matchExpressions: [{ key: NAME, operator: 'In', values: ['api', 'web', 'worker'] }] } });
    expectValid(ambient.objects);
  });
});

describe('foldPeers', () => {
  test('keeps ipBlocks, multi-label and expression peers; folds per namespace part and key', () => {
    const folded = foldPeers([
      { podSelector: { matchLabels: { app: 'b' } } },
      { ipBlock: { cidr: '10.0.0.0/8' } },
      { podSelector: { matchLabels: { app: 'a' } } },
      { podSelector: { matchLabels: { role: 'x' } } },
      { namespaceSelector: nsSel('n'), podSelector: { matchLabels: { app: 'a' } } },
      { namespaceSelector: nsSel('n') },
      { podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['z'] }] } },
      { podSelector: { matchLabels: { app: 'a' } } },
    ]);
    expect(folded).toEqual([
      { ipBlock: { cidr: '10.0.0.0/8' } },
      { namespaceSelector: nsSel('n'), podSelector: { matchLabels: { app: 'a' } } },
      { namespaceSelector: nsSel('n') },
      { podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['a', 'b'] }] } },
      { podSelector: { matchExpressions: [{ key: 'app', operator: 'In', values: ['z'] }] } },
      { podSelector: { matchLabels: { role: 'x' } } },
    ]);
  });

  test('labelSetsSatisfying gives one label set per In value', () => {
    expect(labelSetsSatisfying({ matchLabels: { tier: 'db' }, matchExpressions: [{ key: 'app', operator: 'In', values: ['a', 'b'] }] }))
      .toEqual([{ tier: 'db', app: 'a' }, { tier: 'db', app: 'b' }]);
    expect(labelSetsSatisfying({ matchLabels: { app: 'c' }, matchExpressions: [{ key: 'app', operator: 'In', values: ['a'] }] })).toEqual([]);
  });
});
