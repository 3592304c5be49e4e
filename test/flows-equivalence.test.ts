/**
 * The review at scale asks each reader only what its prefilter says it may allow
 * (lib/verify/prefilter.ts). This proves it changes nothing: on random apps of every backend
 * (the shared generator of test/topology.ts, with workloads, namespaces, external workloads,
 * address blocks and host names as peers), synthesized, read back from YAML and often edited
 * (a policy object dropped, or an allow-all NetworkPolicy added, so that readers and intent
 * disagree and closed sides open up), the flow rows are the same as the former all-pairs
 * probing's, byte for byte, with and without the intent's probes; and `verify` reports the same
 * connections probed and the same mismatches, in the same order.
 */
import { Testing } from 'cdk8s';
import * as fc from 'fast-check';
import { stringify } from 'yaml';
import { CiliumMutualAuth, Enforcement, IstioEgress, IstioMode, Mesh } from '../lib';
import { BACKEND_IDS, BackendId } from '../lib/intent/backend';
import { intentDocument, parseIntentDocument } from '../lib/intent/document';
import { matrixRows, matrixRowsByProbing, readerOf, reportUniverse, verifyAgainstIntent, verifyAgainstIntentByProbing } from '../lib/report';
import { Manifest, PolicyEvaluator, SourcedManifest, intentProbes, parseManifests } from '../lib/verify';
import { EnforcedView } from '../lib/verify/audit';
import { TopologyFeatures, TopologySpec, buildApp, topologyArb } from './topology';

const RUNS = Number(process.env.ZT_EQUIVALENCE_RUNS ?? 12);
const SEED = Number(process.env.ZT_PROPERTY_SEED ?? 20250101);
const SMALL = 5;

interface Case {
  readonly name: string;
  readonly id: BackendId;
  readonly mesh: () => Mesh;
  readonly features: TopologyFeatures;
  /** Runs of this case, when its interesting apps are rarer than one in a few. @default RUNS */
  readonly runs?: number;
  /** Every chart in AUDIT: the rows of the reader and of its enforced view (what the review marks) are compared. */
  readonly audit?: boolean;
}

const CASES: Case[] = [
  { name: 'networkpolicy', id: 'networkpolicy', mesh: () => Mesh.networkPolicy(), features: { maxWorkloads: SMALL } },
  { name: 'istio (sidecar)', id: 'istio', mesh: () => Mesh.istio({ mode: IstioMode.SIDECAR }), features: { maxWorkloads: SMALL, http: true, fqdn: true, serviceAccounts: 'always', externalAnyPort: false, portRanges: false } },
  // Host names leave through the egress gateway: the network layer sees the sidecar reach the gateway's pods, not the host.
  { name: 'istio (egress gateway)', id: 'istio', mesh: () => Mesh.istio({ egress: IstioEgress.GATEWAY }), features: { maxWorkloads: SMALL, http: true, fqdn: true, wildcardHosts: false, serviceAccounts: 'always', externalAnyPort: false, portRanges: false }, runs: RUNS * 4 },
  { name: 'istio (ambient)', id: 'istio-ambient', mesh: () => Mesh.istio({ mode: IstioMode.AMBIENT }), features: { maxWorkloads: SMALL, http: true, serviceAccounts: 'always' } },
  { name: 'linkerd', id: 'linkerd', mesh: () => Mesh.linkerd(), features: { maxWorkloads: SMALL, http: true, serviceAccounts: 'always', ipSourceBlocks: [0, 1, 2, 3] } },
  { name: 'cilium (SPIRE)', id: 'cilium', mesh: () => Mesh.cilium(), features: { maxWorkloads: SMALL, http: true, fqdn: true, serviceAccounts: 'sometimes', egressServiceAccounts: true, dnsChoices: [0, 2] } },
  {
    name: 'cilium (ztunnel)', id: 'cilium', mesh: () => Mesh.cilium({ mutualAuth: CiliumMutualAuth.ZTUNNEL }),
    features: { maxWorkloads: SMALL, fqdn: true, serviceAccounts: 'sometimes', egressServiceAccounts: true, dnsChoices: [0, 2], allPortsOnly: true, udp: false },
  },
  { name: 'kuma', id: 'kuma', mesh: () => Mesh.kuma(), features: { maxWorkloads: SMALL, fqdn: true, ipSources: false, egressToExternalPods: false, dnsChoices: [0] } },
  { name: 'nsm', id: 'nsm', mesh: () => Mesh.networkServiceMesh({ allowPortsOverConnection: true, allowHttpRulesOverConnection: true }), features: { maxWorkloads: SMALL, http: true, httpFromPeers: false, selfFlows: false } },
];

/** AUDIT on the meshes that have it: an audited Linkerd Server or default policy admits on every port, which the prefilter answers in blocks. */
const AUDIT_CASES: Case[] = [
  { name: 'linkerd AUDIT', id: 'linkerd', mesh: () => Mesh.linkerd(), features: { maxWorkloads: SMALL, http: true, serviceAccounts: 'always', ipSourceBlocks: [0, 1, 2, 3] }, audit: true },
  { name: 'istio (sidecar) AUDIT', id: 'istio', mesh: () => Mesh.istio({ mode: IstioMode.SIDECAR }),
    features: { maxWorkloads: SMALL, http: true, fqdn: true, serviceAccounts: 'always', externalAnyPort: false, portRanges: false }, audit: true },
  { name: 'kuma AUDIT', id: 'kuma', mesh: () => Mesh.kuma(), features: { maxWorkloads: SMALL, fqdn: true, ipSources: false, egressToExternalPods: false, dnsChoices: [0] }, audit: true },
];

/** Policy kinds an edit may drop. */
const POLICY_KINDS = new Set(['NetworkPolicy', 'AuthorizationPolicy', 'Sidecar', 'PeerAuthentication', 'Server', 'MeshTLSAuthentication',
  'CiliumNetworkPolicy', 'CiliumClusterwideNetworkPolicy', 'MeshTrafficPermission', 'MeshPassthrough', 'NetworkService']);

/** `none`, drop the n-th policy object, or add an allow-all NetworkPolicy to the n-th namespace. */
type Edit = { kind: 'none' } | { kind: 'drop'; n: number } | { kind: 'open'; n: number };
const editArb: fc.Arbitrary<Edit> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 2, arbitrary: fc.nat(50).map((n) => ({ kind: 'drop' as const, n })) },
  { weight: 1, arbitrary: fc.nat(3).map((n) => ({ kind: 'open' as const, n })) },
);

function edit(manifests: SourcedManifest[], e: Edit, id: BackendId): SourcedManifest[] {
  if (e.kind === 'none') return manifests;
  if (e.kind === 'drop') {
    const policies = manifests.filter((m) => POLICY_KINDS.has(m.manifest.kind));
    if (policies.length === 0) return manifests;
    const dropped = policies[e.n % policies.length];
    return manifests.filter((m) => m !== dropped);
  }
  // Cilium's reader refuses NetworkPolicies beside its own policies.
  if (id === 'cilium') return manifests;
  const namespaces = manifests.filter((m) => m.manifest.kind === 'Namespace').map((m) => m.manifest.metadata.name);
  if (namespaces.length === 0) return manifests;
  const allowAll: Manifest = {
    apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'zt-edit-allow-all', namespace: namespaces[e.n % namespaces.length] },
    spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'], ingress: [{}], egress: [{}] },
  };
  return [...manifests, { manifest: allowAll, file: 'edit.yaml', index: 0 }];
}

/** Synthesizes a topology and reads it back from YAML text; undefined when the backend refuses it. */
function synth(c: Case, spec: TopologySpec): { manifests: SourcedManifest[]; intent: ReturnType<typeof parseIntentDocument> } | undefined {
  const { app, model, dns } = buildApp(spec, Testing.app(), c.mesh, c.features.egressServiceAccounts, () => (c.audit ? { enforcement: Enforcement.AUDIT } : {}));
  let yaml: string;
  try {
    yaml = app.synthYaml();
  } catch {
    return undefined; // a documented refusal (test/property-backends checks which)
  }
  const m = model();
  const dnsByNs = Object.fromEntries(m.namespaces.map((n) => [n.name, dns(n.name)]));
  const intent = parseIntentDocument(JSON.parse(JSON.stringify(intentDocument(m, dnsByNs))), 'zero-trust.intent.json');
  // Reprinted as YAML 1.1, which quotes names such as `n` that the readers (YAML 1.1) take for booleans.
  const reprinted = parseManifests(yaml, 'synth.yaml').map((x) => stringify(x.manifest, { version: '1.1' })).join('---\n');
  return { manifests: parseManifests(reprinted, 'synth.yaml'), intent };
}

test('every backend has a case', () => {
  expect([...new Set(CASES.map((c) => c.id))].sort()).toEqual([...BACKEND_IDS].sort());
});

describe.each([...CASES, ...AUDIT_CASES].map((c) => [c.name, c]))('the prefiltered review equals all-pairs probing: %s', (_name, c: Case) => {
  test('flow rows (with and without the intent\'s probes) and verify', () => {
    let compared = 0;
    let rows = 0;
    let mismatches = 0;
    let audited = 0;
    fc.assert(fc.property(topologyArb(c.features), editArb, (spec, e) => {
      const out = synth(c, spec);
      if (!out) return;
      const manifests = edit(out.manifests, e, c.id);
      let chosen;
      try {
        chosen = readerOf(manifests, c.id);
      } catch {
        return;
      }
      for (const extra of [[], intentProbes(out.intent.model).endpoints]) {
        const universe = reportUniverse(manifests, extra);
        const fresh = readerOf(manifests, c.id);
        const byProbing = matrixRowsByProbing(manifests, fresh.backend, fresh.evaluator, universe);
        const prefiltered = matrixRows(manifests, chosen.backend, chosen.evaluator, universe);
        expect(prefiltered).toEqual(byProbing);
        rows += byProbing.length;
        if (c.audit) {
          // The enforced view (the review's unmarked rows) keeps the reader's uniform ports.
          const enforcedByProbing = matrixRowsByProbing(manifests, fresh.backend, new EnforcedView(readerOf(manifests, c.id).evaluator), universe);
          expect(matrixRows(manifests, chosen.backend, new EnforcedView(chosen.evaluator), universe)).toEqual(enforcedByProbing);
          audited += byProbing.filter((r) => r.l7 === '' && r.reasons.some((x) => x.includes('would be denied'))).length;
        }
      }
      // `verify` compares the enforced view of an AUDIT chart with the intent (lib/verify/audit.ts).
      const checked = (r: PolicyEvaluator) => (c.audit ? new EnforcedView(r) : r);
      const v = verifyAgainstIntent(manifests, chosen.backend, checked(chosen.evaluator), out.intent, chosen.enrolledNamespaces);
      const fresh = readerOf(manifests, c.id);
      const w = verifyAgainstIntentByProbing(manifests, fresh.backend, checked(fresh.evaluator), out.intent, fresh.enrolledNamespaces);
      expect(v.probes).toBe(w.probes);
      expect(v.mismatches.map(mismatchText)).toEqual(w.mismatches.map(mismatchText));
      mismatches += w.mismatches.length;
      compared++;
    }), { numRuns: c.runs ?? RUNS, seed: SEED, endOnFailure: true });
    if (process.env.ZT_PROPERTY_STATS) console.log(c.name, { compared, rows, mismatches, audited });
    expect(compared).toBeGreaterThan((c.runs ?? RUNS) / 3);
    expect(rows).toBeGreaterThan(0);
    // An AUDIT case meets rows open only because of the audit.
    if (c.audit) expect(audited).toBeGreaterThan(0);
  });
});

function mismatchText(m: { query: { source: { id: string }; destination: { id: string }; port: number; protocol: string; http?: { method: string; path: string } }; actual: { allowed: boolean; reasons: string[] }; expected: { allowed: boolean; reasons: string[] } }): string {
  const q = m.query;
  return `${q.source.id} -> ${q.destination.id} ${q.port}/${q.protocol}${q.http ? ` ${q.http.method} ${q.http.path}` : ''}: ${m.actual.allowed} ${m.actual.reasons.join('; ')} | ${m.expected.allowed} ${m.expected.reasons.join('; ')}`;
}
