/**
 * One proof for every backend: reader(synth(intent)) == intent, on both layers.
 *
 * For each backend, random topologies from the shared generator (`test/topology.ts`, restricted to
 * what the backend accepts) are synthesized with that mesh, parsed back from YAML text only, read
 * by `readerFor(...)` (the backend's reader composed with its NetworkPolicy layer) and compared
 * with the shared expected semantics `intentAllows` plus the deviations the backend documents
 * (`backendIntentOptions`) on the whole probe universe: every workload, every probe the policies
 * and the intent call for (intruders, an outsider, peers, addresses, host names, ServiceAccounts),
 * every port that matters, and HTTP requests matching and not matching every rule.
 *
 * Peer namespace `ext-a` is enrolled in the mesh (as the intent assumes of a peer like
 * ingress-nginx: see `enrolExternal`); `ext-b` is not, so identity meshes must deny its pods.
 */
import { Testing } from 'cdk8s';
import * as fc from 'fast-check';
import { stringify } from 'yaml';
import { CiliumMutualAuth, IstioMode, KumaIdentity, Mesh } from '../lib';
import {
  Endpoint, IntentEvaluator, NetworkPolicyEvaluator, PolicyEvaluator, SourcedManifest, backendIntentOptions, compareWithIntent,
  describeMismatch, describeQuery, endpointMatches, intentProbes, parseManifests, probeUniverse, queries, readerFor,
} from '../lib/verify';
import { BACKEND_IDS, BackendId } from '../lib/intent/backend';
import { EndpointModel, ZeroTrustModel } from '../lib/intent/model';
import { DnsSpec } from '../lib/intent/dns';
import { TopologyFeatures, TopologySpec, UNMANAGED, buildApp, topologyArb } from './topology';

const RUNS = Number(process.env.ZT_PROPERTY_RUNS ?? 30);
const SEED = Number(process.env.ZT_PROPERTY_SEED ?? 20250101);
const ENROLLED = ['ext-a'];

interface BackendCase {
  /** Test name. */
  readonly name: string;
  /** Backend id for readerFor / backendIntentOptions. */
  readonly id: BackendId;
  readonly mesh: () => Mesh;
  readonly features: TopologyFeatures;
  /** Synth refusals the generator may still meet (checked to be this backend's documented ones). */
  readonly refusals?: RegExp;
}

const SMALL = 6;
/** Identity meshes refuse a ServiceAccount on UDP ports (the mesh does not carry UDP). */
const UDP_IDENTITY = /the mesh does not carry UDP/;
/** Istio, Linkerd and Kuma with SPIFFE identities refuse a pod with one peer's labels and another's account that would be admitted with more than the intent grants it. */
const CROSSED = /IDENTITY_PAIRING_NOT_ENFORCEABLE|no request attribute carries the source's labels/;
const CASES: BackendCase[] = [
  { name: 'networkpolicy', id: 'networkpolicy', mesh: () => Mesh.networkPolicy(), features: { maxWorkloads: SMALL } },
  {
    name: 'istio (sidecar)', id: 'istio', mesh: () => Mesh.istio({ mode: IstioMode.SIDECAR }),
    // Every DNS choice: Sidecars import the DNS pods' namespace, or a ServiceEntry of NodeLocal DNS's
    // address, so TCP DNS passes the proxy (docs/backends/istio.md).
    features: { maxWorkloads: SMALL, http: true, fqdn: true, serviceAccounts: 'always', externalAnyPort: false, portRanges: false },
    // A host's ServiceEntry lists every workload's ports: refused where another workload's egress opens them to every address.
    refusals: new RegExp(`${UDP_IDENTITY.source}|${CROSSED.source}|which other workloads declare`),
  },
  {
    name: 'istio (ambient)', id: 'istio-ambient', mesh: () => Mesh.istio({ mode: IstioMode.AMBIENT }),
    features: { maxWorkloads: SMALL, http: true, serviceAccounts: 'always' },
    refusals: new RegExp(`${UDP_IDENTITY.source}|${CROSSED.source}|clients outside the mesh bypass it`),
  },
  {
    name: 'linkerd', id: 'linkerd', mesh: () => Mesh.linkerd(),
    // Not 0.0.0.0/0 as a source: Linkerd's NetworkAuthentication cannot tell a pod from an address,
    // so a whole-address-space network also authorizes meshed pods at L7 (reported gap).
    features: { maxWorkloads: SMALL, http: true, serviceAccounts: 'always', ipSourceBlocks: [0, 1, 2, 3] },
    refusals: new RegExp(`${UDP_IDENTITY.source}|${CROSSED.source}`),
  },
  {
    name: 'cilium (SPIRE)', id: 'cilium', mesh: () => Mesh.cilium({ mutualAuth: CiliumMutualAuth.SPIRE }),
    features: { maxWorkloads: SMALL, http: true, fqdn: true, serviceAccounts: 'sometimes', egressServiceAccounts: true, dnsChoices: [0, 2] },
  },
  {
    name: 'cilium (ztunnel)', id: 'cilium', mesh: () => Mesh.cilium({ mutualAuth: CiliumMutualAuth.ZTUNNEL }),
    features: { maxWorkloads: SMALL, fqdn: true, serviceAccounts: 'sometimes', egressServiceAccounts: true, dnsChoices: [0, 2], allPortsOnly: true, udp: false },
  },
  {
    name: 'kuma', id: 'kuma', mesh: () => Mesh.kuma(),
    // kube-dns only, as for the Istio sidecar: TCP DNS to NodeLocal DNS or to DNS pods of a peer
    // namespace passes when a passthrough happens to cover it (tcpDnsBlocked does not model that).
    features: { maxWorkloads: SMALL, fqdn: true, ipSources: false, egressToExternalPods: false, dnsChoices: [0] },
    refusals: /MeshPassthrough cannot express the except|has more than \d+ ports; narrow it/,
  },
  {
    // SPIFFE IDs by ServiceAccount: peers outside the app are named with their ServiceAccount.
    name: 'kuma (SPIFFE identity)', id: 'kuma', mesh: () => Mesh.kuma({ identity: KumaIdentity.SPIFFE }),
    features: { maxWorkloads: SMALL, fqdn: true, ipSources: false, egressToExternalPods: false, dnsChoices: [0], serviceAccounts: 'always' },
    refusals: new RegExp(`MeshPassthrough cannot express the except|has more than \\d+ ports; narrow it|${UDP_IDENTITY.source}|${CROSSED.source}`),
  },
  {
    name: 'nsm', id: 'nsm', mesh: () => Mesh.networkServiceMesh({ allowPortsOverConnection: true, allowHttpRulesOverConnection: true }),
    features: { maxWorkloads: SMALL, http: true, httpFromPeers: false, selfFlows: false },
  },
];

/** Synthesizes a topology with a mesh and reads the output back from YAML text only. */
function synth(c: BackendCase, spec: TopologySpec): { manifests: SourcedManifest[]; model: ZeroTrustModel; dns: (ns: string) => DnsSpec } | { refused: string } {
  const { app, model, dns } = buildApp(spec, Testing.app(), c.mesh, c.features.egressServiceAccounts);
  let yaml: string;
  try {
    yaml = app.synthYaml();
  } catch (e) {
    const message = (e as Error).message;
    if (c.refusals && c.refusals.test(message)) return { refused: message };
    throw e;
  }
  const reprinted = parseManifests(yaml, 'synth.yaml').map((m) => stringify(m.manifest, { version: '1.1' })).join('---\n');
  return { manifests: parseManifests(reprinted, 'synth.yaml'), model: model(), dns };
}

test('every backend has a case', () => {
  expect([...new Set(CASES.map((c) => c.id))].sort()).toEqual([...BACKEND_IDS].sort());
});

describe.each(CASES.map((c) => [c.name, c]))('reader(synth(intent)) == intent: %s', (_name, c: BackendCase) => {
  test('every query of the probe universe, both layers', () => {
    const stats = { runs: 0, refused: 0, queries: 0, allowed: 0, requests: 0 };
    fc.assert(
      fc.property(topologyArb(c.features), (spec) => {
        const out = synth(c, spec);
        if ('refused' in out) { stats.refused++; return; }
        const { manifests, model, dns } = out;
        const reader: PolicyEvaluator = readerFor(manifests, { backend: c.id, enrolledNamespaces: ENROLLED });
        const probes = intentProbes(model);
        // A named account with another peer's labels is probed too: Istio and Linkerd refuse what would admit it (IDENTITY_PAIRING_NOT_ENFORCEABLE).
        const universe = probeUniverse(manifests, probes.endpoints, probes.ports, probes.requests);
        const mismatches = compareWithIntent(reader, model, universe, { limit: 1, dns, ...backendIntentOptions(c.id, { enrolledNamespaces: ENROLLED }) });
        if (mismatches.length > 0) throw new Error(`first mismatch:\n${describeMismatch(mismatches[0], c.id)}`);
        stats.runs++;
        if (stats.runs % 4 === 1) {
          const qs = queries(universe);
          stats.queries += qs.length;
          stats.requests += qs.filter((q) => q.http).length;
          stats.allowed += qs.filter((q) => q.source.kind === 'pod' && q.destination.kind === 'pod' && q.port !== 53 && reader.evaluate(q).allowed).length;
        }
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    if (process.env.ZT_PROPERTY_STATS) console.log(c.name, stats);
    // Not vacuous: most topologies synthesize, and pod-to-pod connections are allowed.
    expect(stats.refused).toBeLessThan(RUNS / 3);
    expect(stats.allowed).toBeGreaterThan(0);
  });
});

/**
 * The NetworkPolicy layer alone, asked as the packets really look (Istio ambient HBONE 15008 and
 * Linkerd 4143 between meshed pods, the app port otherwise): it admits the declared app flows and
 * nothing else, on every pair of pods of the app's namespaces and of the peer namespaces. Between
 * meshed pods the tunnel port stands for every app port, so there it admits exactly the pairs some
 * flow joins (the mesh above checks the port); with an unmeshed end it admits the declared ports,
 * plus the tunnel port of declared pairs with a TCP port (the layer's documented `meshPorts`).
 */
const NP_LAYER_CASES: Array<{ name: string; id: BackendId; meshPort?: number; mesh: () => Mesh; features: TopologyFeatures; refusals?: RegExp }> = [
  { name: 'istio (sidecar)', id: 'istio', mesh: () => Mesh.istio({ mode: IstioMode.SIDECAR }), features: { maxWorkloads: SMALL, http: true, serviceAccounts: 'always', externalAnyPort: false, portRanges: false }, refusals: new RegExp(`${UDP_IDENTITY.source}|${CROSSED.source}`) },
  // No HTTP rules, so no waypoint: the two hops through it are the reader's business (test/istio-story).
  { name: 'istio (ambient)', id: 'istio-ambient', meshPort: 15008, mesh: () => Mesh.istio({ mode: IstioMode.AMBIENT }), features: { maxWorkloads: SMALL, serviceAccounts: 'always' }, refusals: new RegExp(`${UDP_IDENTITY.source}|${CROSSED.source}`) },
  { name: 'linkerd', id: 'linkerd', meshPort: 4143, mesh: () => Mesh.linkerd(), features: { maxWorkloads: SMALL, http: true, serviceAccounts: 'always' }, refusals: new RegExp(`${UDP_IDENTITY.source}|${CROSSED.source}`) },
  { name: 'kuma', id: 'kuma', mesh: () => Mesh.kuma(), features: { maxWorkloads: SMALL, ipSources: false, egressToExternalPods: false }, refusals: /MeshPassthrough cannot express/ },
  {
    name: 'kuma (SPIFFE identity)', id: 'kuma', mesh: () => Mesh.kuma({ identity: KumaIdentity.SPIFFE }),
    features: { maxWorkloads: SMALL, ipSources: false, egressToExternalPods: false, serviceAccounts: 'always' }, refusals: new RegExp(`MeshPassthrough cannot express|${UDP_IDENTITY.source}|${CROSSED.source}`),
  },
];

describe.each(NP_LAYER_CASES.map((c) => [c.name, c]))('the NetworkPolicy layer of %s admits the app flows and nothing else', (_name, c) => {
  test('every pair of pods, with the mesh ports the packets use', () => {
    let admitted = 0;
    let runs = 0;
    fc.assert(fc.property(topologyArb(c.features), (spec) => {
      const out = synth({ name: c.name, id: c.id, mesh: c.mesh, features: c.features, refusals: c.refusals }, spec);
      if ('refused' in out) return;
      const { manifests, model, dns } = out;
      runs++;
      const np = new NetworkPolicyEvaluator(manifests);
      const probes = intentProbes(model);
      const universe = probeUniverse(manifests, probes.endpoints, probes.ports);
      const managed = new Set(model.namespaces.map((n) => n.name));
      const pods = universe.endpoints.filter((e) => e.kind === 'pod' && (managed.has(e.namespace!) || UNMANAGED.includes(e.namespace!)));
      const meshed = (e: Endpoint) => managed.has(e.namespace!) || ENROLLED.includes(e.namespace!);
      // This layer matches labels; the mesh above checks ServiceAccounts (identityEnforcedAbove).
      const noSa = (e: EndpointModel): EndpointModel => (e.type === 'external-workload' ? { ...e, serviceAccount: undefined } : e);
      const layerModel: ZeroTrustModel = { ...model, flows: model.flows.map((f) => ({ ...f, source: noSa(f.source), destination: noSa(f.destination) })) };
      const intent = new IntentEvaluator(layerModel, { dns });
      for (const q of queries({ ...universe, endpoints: pods })) {
        // The tunnel carries TCP only: a UDP-only flow opens no mesh port.
        const pairFlows = layerModel.flows.filter((f) => endpointMatches(f.source, q.source) && endpointMatches(f.destination, q.destination)
          && (f.ports.length === 0 || f.ports.some((p) => p.protocol === 'TCP')));
        const tunnelled = c.meshPort !== undefined && q.protocol === 'TCP' && meshed(q.source) && meshed(q.destination);
        const asked = tunnelled ? { ...q, port: c.meshPort! } : q;
        const unmanagedPair = !managed.has(q.source.namespace!) && !managed.has(q.destination.namespace!);
        const want = tunnelled ? unmanagedPair || pairFlows.length > 0
          : intent.evaluate(q).allowed || (c.meshPort !== undefined && q.protocol === 'TCP' && q.port === c.meshPort && pairFlows.length > 0);
        const got = np.evaluate(asked);
        if (got.allowed !== want) {
          throw new Error(`${describeQuery(q)}${tunnelled ? ` (asked on ${c.meshPort})` : ''}: NetworkPolicy ${got.allowed ? 'ALLOWS' : 'DENIES'}, expected ${want ? 'ALLOWS' : 'DENIES'}\n  ${got.reasons.join('\n  ')}`);
        }
        if (got.allowed && q.source.workload && q.destination.workload) admitted++;
      }
    }), { numRuns: Math.ceil(RUNS / 2), seed: SEED, endOnFailure: true });
    expect(runs).toBeGreaterThan(RUNS / 4);
    expect(admitted).toBeGreaterThan(0);
  });
});
