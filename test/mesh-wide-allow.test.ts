/**
 * Issue 18, Proof: "a mesh-wide Allow in the mesh's system namespace does not widen any flow", on
 * the backends beside Istio (test/istio-mesh-allow.test.ts) and Kuma (test/app-works-property,
 * test/kuma-identity). Random apps from the shared generator are synthesized, a hostile allow is
 * added to the output folder, and the folder is read back with the backend's reader:
 *
 * - Linkerd: a Server on every pod of the `linkerd` namespace and an AuthorizationPolicy on that
 *   namespace for every address. Linkerd's policy objects apply in their own namespace only, and
 *   our namespaces pin their default (`config.linkerd.io/default-inbound-policy: deny`) over the
 *   cluster default, which the reader takes as `all-unauthenticated` (Linkerd's own default): the
 *   folder reads exactly as the intent.
 * - NSM: NSM has no allow objects of its own (its authorization is the registry's and managers'
 *   OPA configuration, not a Kubernetes object); a NetworkPolicy allow-all in `nsm-system` applies
 *   to that namespace's pods only: the folder reads exactly as the intent.
 * - Cilium: a CiliumClusterwideNetworkPolicy that allows ingress from every entity to every pod
 *   widens: Cilium adds allow rules up, and ingress denies (`ingressDeny`) have no negation that
 *   could refuse "everything but the declared peers" without enumerating the complement of every
 *   peer's labels. The residual is exact: the folder then reads as our policies with their ingress
 *   side removed, so the sources' egress policies alone decide (docs/backends/cilium.md).
 */
import { Testing } from 'cdk8s';
import * as fc from 'fast-check';
import { stringify } from 'yaml';
import { Mesh } from '../lib';
import {
  Manifest, backendIntentOptions, compareWithIntent, describeMismatch, intentProbes, parseManifests, probeUniverse, queries, readerFor,
} from '../lib/verify';
import { BackendId } from '../lib/intent/backend';
import { TopologyFeatures, buildApp, topologyArb } from './topology';

const RUNS = Number(process.env.ZT_PROPERTY_RUNS ?? 20);
const SEED = Number(process.env.ZT_PROPERTY_SEED ?? 20261207);
const ENROLLED = ['ext-a'];

const LINKERD_ALLOW_ALL: Manifest[] = [
  { apiVersion: 'policy.linkerd.io/v1beta3', kind: 'Server', metadata: { name: 'everything', namespace: 'linkerd' }, spec: { podSelector: {}, port: 8080 } },
  {
    apiVersion: 'policy.linkerd.io/v1alpha1', kind: 'NetworkAuthentication', metadata: { name: 'anywhere', namespace: 'linkerd' },
    spec: { networks: [{ cidr: '0.0.0.0/0' }, { cidr: '::/0' }] },
  },
  {
    apiVersion: 'policy.linkerd.io/v1alpha1', kind: 'AuthorizationPolicy', metadata: { name: 'allow-all', namespace: 'linkerd' },
    spec: { targetRef: { kind: 'Namespace', name: 'linkerd' }, requiredAuthenticationRefs: [{ group: 'policy.linkerd.io', kind: 'NetworkAuthentication', name: 'anywhere' }] },
  },
];
const NSM_ALLOW_ALL: Manifest[] = [{
  apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'allow-all', namespace: 'nsm-system' },
  spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [{}], egress: [{}] },
}];
const CILIUM_ALLOW_ALL: Manifest = {
  apiVersion: 'cilium.io/v2', kind: 'CiliumClusterwideNetworkPolicy', metadata: { name: 'allow-all-ingress' },
  spec: { endpointSelector: {}, ingress: [{ fromEntities: ['all'] }] },
};

interface Case { readonly id: BackendId; readonly mesh: () => Mesh; readonly features: TopologyFeatures; readonly refusals?: RegExp }
const UDP_IDENTITY = /the mesh does not carry UDP/;

/** Synthesizes a random app and reads the output back from YAML text; undefined when the backend refuses it. */
function synth(c: Case, spec: Parameters<typeof buildApp>[0]) {
  const { app, model, dns } = buildApp(spec, Testing.app(), c.mesh);
  let yaml: string;
  try {
    yaml = app.synthYaml();
  } catch (e) {
    if (c.refusals?.test((e as Error).message)) return undefined;
    throw e;
  }
  const manifests = parseManifests(parseManifests(yaml, 'synth.yaml').map((m) => stringify(m.manifest, { version: '1.1' })).join('---\n'), 'synth.yaml').map((m) => m.manifest);
  return { manifests, model: model(), dns };
}

describe.each([
  ['linkerd', { id: 'linkerd', mesh: () => Mesh.linkerd(), features: { maxWorkloads: 6, http: true, serviceAccounts: 'always', ipSourceBlocks: [0, 1, 2, 3] }, refusals: UDP_IDENTITY }, LINKERD_ALLOW_ALL],
  ['nsm', { id: 'nsm', mesh: () => Mesh.networkServiceMesh({ allowPortsOverConnection: true, allowHttpRulesOverConnection: true }), features: { maxWorkloads: 6, http: true, httpFromPeers: false, selfFlows: false } }, NSM_ALLOW_ALL],
] as Array<[string, Case, Manifest[]]>)('%s: a mesh-wide allow in the system namespace widens nothing', (_name, c, hostile) => {
  test('random apps read exactly as the intent with the hostile objects added', () => {
    let runs = 0;
    fc.assert(fc.property(topologyArb(c.features), (spec) => {
      const out = synth(c, spec);
      if (!out) return;
      const all = [...out.manifests, ...hostile];
      const reader = readerFor(all, { backend: c.id, enrolledNamespaces: ENROLLED });
      const probes = intentProbes(out.model);
      const universe = probeUniverse(all, probes.endpoints, probes.ports, probes.requests);
      const mismatches = compareWithIntent(reader, out.model, universe, { limit: 1, dns: out.dns, ...backendIntentOptions(c.id, { enrolledNamespaces: ENROLLED }) });
      if (mismatches.length > 0) throw new Error(`first mismatch:\n${describeMismatch(mismatches[0], c.id)}`);
      runs++;
    }), { numRuns: RUNS, seed: SEED, endOnFailure: true });
    expect(runs).toBeGreaterThan(RUNS / 2);
  });
});

describe('cilium: a clusterwide ingress allow-all widens exactly to what the sources\' egress policies allow (documented residual)', () => {
  const c: Case = { id: 'cilium', mesh: () => Mesh.cilium(), features: { maxWorkloads: 6, http: true, fqdn: true, serviceAccounts: 'sometimes', egressServiceAccounts: true, dnsChoices: [0, 2] } };
  /** Our policies with the ingress side taken out: no ingress rules, no ingress default deny. */
  const withoutIngress = (m: Manifest): Manifest => {
    if (m.kind !== 'CiliumNetworkPolicy') return m;
    const { ingress: _i, ingressDeny: _d, ...spec } = m.spec;
    return { ...m, spec: { ...spec, enableDefaultDeny: { ...(spec.enableDefaultDeny ?? {}), ingress: false } } };
  };

  test('random apps: the folder with the allow-all reads as the folder without ingress rules, and wider than the intent', () => {
    let runs = 0;
    let widened = 0;
    fc.assert(fc.property(topologyArb(c.features), (spec) => {
      const out = synth(c, spec);
      if (!out) return;
      const hostile = readerFor([...out.manifests, CILIUM_ALLOW_ALL], { backend: 'cilium' });
      const residual = readerFor(out.manifests.map(withoutIngress), { backend: 'cilium' });
      const ours = readerFor(out.manifests, { backend: 'cilium' });
      const probes = intentProbes(out.model);
      const universe = probeUniverse(out.manifests, probes.endpoints, probes.ports, probes.requests);
      let wider = false;
      for (const q of queries(universe)) {
        const got = hostile.evaluate(q).allowed;
        expect([q.source.id, q.destination.id, q.port, q.protocol, q.http?.path, got]).toEqual([q.source.id, q.destination.id, q.port, q.protocol, q.http?.path, residual.evaluate(q).allowed]);
        if (got && !ours.evaluate(q).allowed) wider = true;
      }
      if (wider) widened++;
      runs++;
    }), { numRuns: Math.ceil(RUNS / 2), seed: SEED, endOnFailure: true });
    expect(runs).toBeGreaterThan(RUNS / 4);
    // Not vacuous: the allow-all does widen (which is why it is documented).
    expect(widened).toBeGreaterThan(0);
  });
});
