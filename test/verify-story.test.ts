import { Testing } from 'cdk8s';
import { heroAndLilDeeBee } from '../apps/story';
import * as plus from 'cdk8s-plus-27';
import { Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { IntentRegistry } from '../lib/intent/registry';
import {
  NetworkPolicyEvaluator, allowedFlows, compareWithIntent, describeMismatch, parseManifests, probeUniverse,
} from '../lib/verify';

function story() {
  const app = Testing.app();
  heroAndLilDeeBee(app, Mesh.networkPolicy());
  const yaml = app.synthYaml();
  const manifests = parseManifests(yaml, 'story.yaml');
  const model = IntentRegistry.of(app).resolve().model;
  return { manifests, model };
}

test('the story: NetworkPolicy output agrees with the intent on every probe', () => {
  const { manifests, model } = story();
  const evaluator = new NetworkPolicyEvaluator(manifests);
  const universe = probeUniverse(manifests);
  const mismatches = compareWithIntent(evaluator, model, universe, { limit: 5 });
  expect(mismatches.map((m) => describeMismatch(m, 'networkpolicy'))).toEqual([]);
  expect(universe.endpoints.map((e) => e.id)).toEqual(expect.arrayContaining([
    'production/hero', 'production/lil-deebee', 'production/zt-intruder', 'ingress-nginx/*', 'kube-system/*', 'kube-system/kube-dns', 'ip:203.0.113.1', 'ip:192.0.2.1',
  ]));
});

test('the story: the allowed flows between workloads are exactly the declared ones', () => {
  const { manifests } = story();
  const flows = allowedFlows(new NetworkPolicyEvaluator(manifests), probeUniverse(manifests));
  const fromHero = flows.filter((f) => f.source === 'production/hero').map((f) => `${f.destination} ${f.port}/${f.protocol}`);
  expect(fromHero).toEqual([
    'ip:203.0.113.1 443/TCP',
    'kube-system/kube-dns 53/TCP',
    'kube-system/kube-dns 53/UDP',
    'production/lil-deebee 5432/TCP',
  ]);
  const toHero = flows.filter((f) => f.destination === 'production/hero').map((f) => `${f.source} ${f.port}/${f.protocol}`);
  expect(toHero).toEqual(['ingress-nginx/* 8080/TCP']);
  const db = flows.find((f) => f.destination === 'production/lil-deebee')!;
  expect(db.reasons).toEqual([
    'NetworkPolicy production/hero-egress allows egress (production/hero -> production/lil-deebee on 5432/TCP)',
    'NetworkPolicy production/lil-deebee-ingress allows ingress (production/hero -> production/lil-deebee on 5432/TCP)',
  ]);
});

test('an adopted cdk8s-plus workload is recognised by its selector labels, not its object name', () => {
  const app = Testing.app();
  const chart = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: Mesh.networkPolicy() });
  const sa = new plus.ServiceAccount(chart, 'api-sa', { metadata: { name: 'api' } });
  const deployment = new plus.Deployment(chart, 'api-deploy', {
    serviceAccount: sa,
    containers: [{ image: 'example/api:1', portNumber: 8080, securityContext: { ensureNonRoot: false } }],
  });
  const api = new SecureWorkload(chart, 'api', { workload: deployment, ports: [Port.tcp(8080)] });
  const cache = new SecureWorkload(chart, 'cache', { image: 'redis:7', ports: [Port.tcp(6379)] });
  api.allowTo(cache);
  api.allowFrom(Peer.namespace('ingress-nginx'));
  const manifests = parseManifests(app.synthYaml(), 'shop.yaml');
  const model = IntentRegistry.of(app).resolve().model;
  const universe = probeUniverse(manifests);
  const adopted = universe.endpoints.find((e) => e.labels?.['app.kubernetes.io/name'] === 'api')!;
  expect(adopted.id).not.toBe('shop/api');
  const mismatches = compareWithIntent(new NetworkPolicyEvaluator(manifests), model, universe, { limit: 5 });
  expect(mismatches.map((m) => describeMismatch(m, 'networkpolicy'))).toEqual([]);
  const flows = allowedFlows(new NetworkPolicyEvaluator(manifests), universe).filter((f) => f.destination === 'shop/cache');
  expect(flows.map((f) => `${f.source} ${f.port}/${f.protocol}`)).toEqual([`${adopted.id} 6379/TCP`]);
});
