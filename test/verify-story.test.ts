import { Testing } from 'cdk8s';
import { heroAndLilDeeBee } from '../apps/story';
import { Mesh } from '../lib';
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
