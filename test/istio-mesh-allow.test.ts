/**
 * Issue 18: a mesh-wide ALLOW in Istio's root namespace does not widen any flow. Istio ORs ALLOW
 * policies, so an ALLOW-all in istio-system (selector-less: every sidecar and ztunnel; attached to
 * the `istio-waypoint` GatewayClass: every waypoint) admits whatever ours do not; the DENY twin of
 * each of our ALLOW policies refuses that complement first (ports, sources, HTTP requests).
 */
import { Testing } from 'cdk8s';
import * as fc from 'fast-check';
import { stringify } from 'yaml';
import { HttpRule, IstioMode, Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import {
  Manifest, PolicyEvaluator, backendIntentOptions, compareWithIntent, describeMismatch, intentProbes, parseManifests, probeUniverse, readerFor,
} from '../lib/verify';
import { BackendId } from '../lib/intent/backend';
import { inventory } from '../lib/verify/inventory';
import { Query } from '../lib/verify/types';
import { TopologyFeatures, buildApp, topologyArb } from './topology';
import { expectSynthError, synthApp } from './support/synth';

const RUNS = Number(process.env.ZT_PROPERTY_RUNS ?? 30);
const SEED = Number(process.env.ZT_PROPERTY_SEED ?? 20261207);
const ENROLLED = ['ext-a'];

/** What an operator (or an installer's demo) may leave in the root namespace. */
const HOSTILE: Manifest[] = [
  { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'allow-all', namespace: 'istio-system' }, spec: { action: 'ALLOW', rules: [{}] } },
  {
    apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'allow-all-waypoints', namespace: 'istio-system' },
    spec: { targetRefs: [{ kind: 'GatewayClass', group: 'gateway.networking.k8s.io', name: 'istio-waypoint' }], action: 'ALLOW', rules: [{}] },
  },
];

interface Case { readonly name: string; readonly id: BackendId; readonly mesh: () => Mesh; readonly features: TopologyFeatures; readonly refusals: RegExp }
const CASES: Case[] = [
  {
    name: 'sidecar', id: 'istio', mesh: () => Mesh.istio(),
    features: { maxWorkloads: 6, http: true, fqdn: true, serviceAccounts: 'always', externalAnyPort: false, portRanges: false }, refusals: /the mesh does not carry UDP/,
  },
  {
    name: 'ambient', id: 'istio-ambient', mesh: () => Mesh.istio({ mode: IstioMode.AMBIENT }),
    features: { maxWorkloads: 6, http: true, serviceAccounts: 'always' }, refusals: /the mesh does not carry UDP|clients outside the mesh bypass it/,
  },
];

const WAYPOINT_LABEL = 'gateway.networking.k8s.io/gateway-name';
const isDenyTwin = (m: Manifest) => m.kind === 'AuthorizationPolicy' && m.spec?.action === 'DENY';

describe.each(CASES.map((c) => [c.name, c] as const))('Istio %s: an ALLOW-all in istio-system widens nothing', (_name, c) => {
  test('random apps with HTTP rules and every kind of peer read exactly as the intent, with the hostile policies added', () => {
    const stats = { runs: 0, widenedWithoutTwins: 0 };
    fc.assert(fc.property(topologyArb(c.features), (spec) => {
      const { app, model, dns } = buildApp(spec, Testing.app(), c.mesh);
      let yaml: string;
      try {
        yaml = app.synthYaml();
      } catch (e) {
        if (c.refusals.test((e as Error).message)) return;
        throw e;
      }
      const ours = parseManifests(parseManifests(yaml, 'synth.yaml').map((m) => stringify(m.manifest, { version: "1.1" })).join('---\n'), 'synth.yaml').map((m) => m.manifest);
      const m = model();
      const probes = intentProbes(m);
      const check = (manifests: Manifest[]) => {
        const reader: PolicyEvaluator = readerFor(manifests, { backend: c.id, enrolledNamespaces: ENROLLED });
        const universe = probeUniverse(manifests, probes.endpoints, probes.ports, probes.requests);
        // The waypoint's own pods run outside ztunnel's capture (istio.io/dataplane-mode: none) and listen on HBONE only; the
        // reader models them as captured, so a selector-less ALLOW reaches them there and nowhere in a cluster (see the report).
        return compareWithIntent(reader, m, universe, { limit: 1000, dns, ...backendIntentOptions(c.id, { enrolledNamespaces: ENROLLED }) })
          .filter((x) => x.query.destination.labels?.[WAYPOINT_LABEL] === undefined);
      };
      const mismatches = check([...ours, ...HOSTILE]);
      if (mismatches.length > 0) throw new Error(`first mismatch:\n${describeMismatch(mismatches[0], c.id)}`);
      // Not vacuous: without the DENY twins the hostile policies widen some flows.
      if (check([...ours.filter((x) => !isDenyTwin(x)), ...HOSTILE]).length > 0) stats.widenedWithoutTwins++;
      stats.runs++;
    }), { numRuns: RUNS, seed: SEED, endOnFailure: true });
    if (process.env.ZT_PROPERTY_STATS) console.log(c.name, stats);
    expect(stats.runs).toBeGreaterThan(RUNS / 2);
    expect(stats.widenedWithoutTwins).toBeGreaterThan(RUNS / 10);
  });
});

/** One chart in `shop` with the given mesh; returns the AuthorizationPolicies. */
function policies(mesh: Mesh, build: (c: ZeroTrustChart) => void, selfCheck = true): any[] {
  const app = Testing.app();
  build(new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh, selfCheck }));
  return synthApp(app).filter((o) => o.kind === 'AuthorizationPolicy');
}
const named = (objects: any[], name: string) => objects.find((o) => o.metadata.name === name);

describe('the DENY twin of an ALLOW policy', () => {
  const rulesA: HttpRule[] = [{ methods: ['GET'], paths: ['/api/*'] }];
  const rulesB: HttpRule[] = [{ methods: ['GET', 'HEAD'], paths: ['/static/*'] }, { methods: ['DELETE'], paths: ['/orders'] }];
  const build = (c: ZeroTrustChart) => {
    const api = new SecureWorkload(c, 'api', { image: 'api', ports: [Port.http(8080), Port.tcp(9000)] });
    const web = new SecureWorkload(c, 'web', { image: 'web', ports: [Port.http(8080)] });
    const admin = new SecureWorkload(c, 'admin', { image: 'admin', ports: [Port.http(8080)] });
    api.allowFrom(web, { ports: [Port.http(8080)], http: rulesA });
    api.allowFrom(admin, { ports: [Port.http(8080)], http: rulesB });
    api.allowFrom(Peer.namespace('ingress'), { ports: [Port.tcp(9000)] });
  };

  test('sidecar: unknown sources per port, each source\'s requests outside its rules (the negation of a union, written as a union), other ports', () => {
    const deny = named(policies(Mesh.istio(), build), 'api-deny');
    expect(deny.spec.action).toBe('DENY');
    expect(deny.spec.selector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'api' } });
    expect(deny.spec.rules).toEqual([
      { from: [{ source: { notPrincipals: ['cluster.local/ns/shop/sa/admin', 'cluster.local/ns/shop/sa/web'] } }], to: [{ operation: { ports: ['8080'] } }] },
      // admin: (GET|HEAD and /static/*) or (DELETE and /orders); denied: four ways to miss both, none subsumed.
      {
        from: [{ source: { principals: ['cluster.local/ns/shop/sa/admin'] } }],
        to: [
          { operation: { ports: ['8080'], notMethods: ['DELETE', 'GET', 'HEAD'] } },
          { operation: { ports: ['8080'], notMethods: ['DELETE'], notPaths: ['/static/*'] } },
          { operation: { ports: ['8080'], notMethods: ['GET', 'HEAD'], notPaths: ['/orders'] } },
          { operation: { ports: ['8080'], notPaths: ['/orders', '/static/*'] } },
        ],
      },
      // web: GET and /api/*; denied: another method, or another path.
      {
        from: [{ source: { principals: ['cluster.local/ns/shop/sa/web'] } }],
        to: [{ operation: { ports: ['8080'], notMethods: ['GET'] } }, { operation: { ports: ['8080'], notPaths: ['/api/*'] } }],
      },
      { from: [{ source: { notNamespaces: ['ingress'] } }], to: [{ operation: { ports: ['9000'] } }] },
      { to: [{ operation: { notPorts: ['8080', '9000'] } }] },
    ]);
  });

  test('a workload nobody may reach is denied everything', () => {
    const objects = policies(Mesh.istio(), build);
    expect(named(objects, 'web-deny').spec).toEqual({ selector: { matchLabels: { 'app.kubernetes.io/name': 'web' } }, action: 'DENY', rules: [{}] });
  });

  test('ambient: ztunnel\'s twin is L4 only (an HTTP field there would deny the port), the waypoint\'s carries the requests', () => {
    const objects = policies(Mesh.istio({ mode: IstioMode.AMBIENT }), build);
    const l4 = named(objects, 'api-deny');
    expect(JSON.stringify(l4.spec)).not.toMatch(/Methods|Paths/);
    expect(l4.spec.rules[0]).toEqual({ from: [{ source: { notPrincipals: ['cluster.local/ns/shop/sa/waypoint'] } }], to: [{ operation: { ports: ['8080'] } }] });
    const l7 = named(objects, 'api-l7-deny');
    expect(l7.spec.targetRefs).toEqual([{ kind: 'Service', group: '', name: 'api' }]);
    expect(l7.spec.rules.filter((r: any) => r.from?.[0].source.principals?.[0] === 'cluster.local/ns/shop/sa/web')[0].to)
      .toEqual([{ operation: { ports: ['8080'], notMethods: ['GET'] } }, { operation: { ports: ['8080'], notPaths: ['/api/*'] } }]);
  });

  test('a principal whose namespace is a peer too may send what either allows; the namespace rule leaves it out', () => {
    // The principal's rules within the namespace's: a pod of ingress running as gw without app=gw gets nothing the intent does not grant it.
    const objects = policies(Mesh.istio(), (c) => {
      const api = new SecureWorkload(c, 'api', { image: 'api', ports: [Port.http(8080)] });
      api.allowFrom(Peer.workload({ namespace: 'ingress', labels: { app: 'gw' }, serviceAccount: 'gw' }), { ports: [Port.http(8080)], http: [{ methods: ['GET'] }] });
      api.allowFrom(Peer.namespace('ingress'), { ports: [Port.http(8080)], http: [{ methods: ['GET'] }, { methods: ['POST'] }] });
    });
    const rules = named(objects, 'api-deny').spec.rules;
    expect(rules).toContainEqual({ from: [{ source: { principals: ['cluster.local/ns/ingress/sa/gw'] } }], to: [{ operation: { ports: ['8080'], notMethods: ['GET', 'POST'] } }] });
    expect(rules).toContainEqual({ from: [{ source: { namespaces: ['ingress'], notPrincipals: ['cluster.local/ns/ingress/sa/gw'] } }], to: [{ operation: { ports: ['8080'], notMethods: ['GET', 'POST'] } }] });
  });

  test('a principal granted more than its namespace is refused: Istio cannot tell its pods from the namespace\'s other pods running as it', () => {
    const app = Testing.app();
    const c = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: Mesh.istio(), selfCheck: false });
    const api = new SecureWorkload(c, 'api', { image: 'api', ports: [Port.http(8080)] });
    api.allowFrom(Peer.workload({ namespace: 'ingress', labels: { app: 'gw' }, serviceAccount: 'gw' }), { ports: [Port.http(8080)], http: [{ methods: ['GET'] }] });
    api.allowFrom(Peer.namespace('ingress'), { ports: [Port.http(8080)], http: [{ methods: ['POST'] }] });
    const error = expectSynthError(app, 'a pod of ingress with the labels of ns:ingress running as gw would be admitted with what gw is granted [GET any path], while the intent grants it only [POST any path]');
    expect((error.problems.length > 0 ? error.problems : [error]).map((p) => [p.code, p.backend, p.workload, p.rule]))
      .toEqual([['IDENTITY_PAIRING_NOT_ENFORCEABLE', 'istio', 'shop/api', 'shop/api.allowFrom(ingress/{app=gw}@gw)']]);
  });

  test('up to 8 HTTP rules of one source on one port are negated (subsumed operations dropped); 9 are refused with the workload and port', () => {
    const rules = (n: number): HttpRule[] => [...Array(n).keys()].map((i) => ({ methods: ['GET'], paths: [`/r${i}`] }));
    const objects = policies(Mesh.istio(), (c) => {
      const api = new SecureWorkload(c, 'api', { image: 'api', ports: [Port.http(8080)] });
      api.allowFrom(new SecureWorkload(c, 'web', { image: 'web' }), { ports: [Port.http(8080)], http: rules(8) });
    });
    // Missing every rule: another method, or none of the eight paths (the 2^8 - 2 mixed choices are subsumed).
    expect(named(objects, 'api-deny').spec.rules[1].to).toEqual([
      { operation: { ports: ['8080'], notMethods: ['GET'] } },
      { operation: { ports: ['8080'], notPaths: rules(8).map((r) => r.paths![0]).sort() } },
    ]);
    const app = Testing.app();
    const c = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: Mesh.istio() });
    new SecureWorkload(c, 'api', { image: 'api', ports: [Port.http(8080)] }).allowFrom(new SecureWorkload(c, 'web', { image: 'web' }), { ports: [Port.http(8080)], http: rules(9) });
    const error = expectSynthError(app, 'shop/api port 8080: 9 distinct HTTP rules of one source on one port', 'Merge the rules');
    expect((error.problems.length > 0 ? error.problems : [error]).map((p) => [p.code, p.workload])).toEqual([['ISTIO_HTTP_RULES_NOT_PINNABLE', 'shop/api']]);
  });

  test('the reader: a GatewayClass-wide ALLOW in the root namespace applies at every waypoint (and only there)', () => {
    const app = Testing.app();
    const c = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: Mesh.istio({ mode: IstioMode.AMBIENT }) });
    build(c);
    const objects = synthApp(app).filter((o) => !(o.kind === 'AuthorizationPolicy' && o.spec.action === 'DENY'));
    const pods = inventory(objects).workloads;
    const pod = (name: string) => pods.find((p) => p.labels?.['app.kubernetes.io/name'] === name)!;
    const q: Query = { source: pod('web'), destination: pod('api'), port: 8080, protocol: 'TCP', http: { method: 'POST', path: '/api/x' } };
    expect(readerFor(objects, { backend: 'istio-ambient', networkLayer: false }).evaluate(q).allowed).toBe(false);
    const d = readerFor([...objects, HOSTILE[1]], { backend: 'istio-ambient', networkLayer: false }).evaluate(q);
    expect(d.allowed).toBe(true);
    expect(d.reasons.join(' ')).toMatch(/istio-system\/allow-all-waypoints/);
    // ztunnel ignores it: a TCP port no policy of ours admits stays closed.
    expect(readerFor([...objects, HOSTILE[1]], { backend: 'istio-ambient', networkLayer: false }).evaluate({ ...q, port: 7000, http: undefined }).allowed).toBe(false);
  });
});
