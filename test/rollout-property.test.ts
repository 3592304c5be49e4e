/**
 * The rollout stage over generated apps: the same topology synthesized in ENFORCE and in AUDIT
 * (the self-check of each synth already compares its enforced view with the intent). Read back
 * from the YAML text, the AUDIT output allows every connection the ENFORCE output allows, and
 * marks as audited ("would be denied") exactly the connections it allows beyond those, none of
 * which the intent declares.
 */
import { Testing } from 'cdk8s';
import * as fc from 'fast-check';
import { Enforcement, Mesh } from '../lib';
import { BackendId } from '../lib/intent/backend';
import { IntentEvaluator, backendIntentOptions, intentProbes, parseManifests, probeUniverse, queries, readerFor } from '../lib/verify';
import { isAudited } from '../lib/verify/audit';
import { describeQuery } from '../lib/verify/expected';
import { TopologyFeatures, TopologySpec, buildApp, topologyArb } from './topology';

const RUNS = Number(process.env.ZT_PROPERTY_RUNS ?? 25);
const SEED = Number(process.env.ZT_PROPERTY_SEED ?? 20261207);
const ENROLLED = ['ext-a'];
const UDP_IDENTITY = /the mesh does not carry UDP/;
/** Refusals of ENFORCE on Kuma that the generator may meet (as in backends-property). */
const KUMA_REFUSALS = /MeshPassthrough cannot express the except|has more than \d+ ports; narrow it/;

interface StageCase { readonly id: BackendId; readonly mesh: () => Mesh; readonly features: TopologyFeatures }

const CASES: StageCase[] = [
  { id: 'istio', mesh: () => Mesh.istio(), features: { maxWorkloads: 5, http: true, fqdn: true, serviceAccounts: 'always', externalAnyPort: false, portRanges: false } },
  { id: 'kuma', mesh: () => Mesh.kuma(), features: { maxWorkloads: 5, fqdn: true, ipSources: false, egressToExternalPods: false, dnsChoices: [0] } },
  { id: 'linkerd', mesh: () => Mesh.linkerd(), features: { maxWorkloads: 5, http: true, serviceAccounts: 'always', ipSourceBlocks: [0, 1, 2, 3] } },
];

function synth(c: StageCase, spec: TopologySpec, enforcement: Enforcement) {
  const { app, model, dns } = buildApp(spec, Testing.app(), c.mesh, false, () => ({ enforcement }));
  let yaml: string;
  try {
    yaml = app.synthYaml();
  } catch (e) {
    // A refusal of ENFORCE the generator may meet; in AUDIT, a source named by labels the mesh cannot see.
    if (UDP_IDENTITY.test((e as Error).message) || KUMA_REFUSALS.test((e as Error).message) || (enforcement === Enforcement.AUDIT && /not recorded as a would-be denial/.test((e as Error).message))) return undefined;
    throw e;
  }
  return { manifests: parseManifests(yaml, 'synth.yaml'), model: model(), dns };
}

describe.each(CASES.map((c) => [c.id, c] as const))('AUDIT against ENFORCE on %s', (_id, c) => {
  test('AUDIT allows everything ENFORCE allows; what it allows beyond is exactly what it marks, and never declared', () => {
    const stats = { runs: 0, refused: 0, marked: 0, allowed: 0 };
    fc.assert(fc.property(topologyArb(c.features), (spec) => {
      const enforce = synth(c, spec, Enforcement.ENFORCE);
      if (!enforce) return;
      const audit = synth(c, spec, Enforcement.AUDIT);
      if (!audit) { stats.refused++; return; }
      const before = readerFor(enforce.manifests, { backend: c.id, enrolledNamespaces: ENROLLED });
      const after = readerFor(audit.manifests, { backend: c.id, enrolledNamespaces: ENROLLED });
      const intent = new IntentEvaluator(audit.model, { dns: audit.dns, ...backendIntentOptions(c.id, { enrolledNamespaces: ENROLLED }) });
      const probes = intentProbes(audit.model);
      // The AUDIT output's universe (its audit NetworkPolicies add ports to probe); ENFORCE is asked with its own
      // parties, which differ only in what the stage changes on them (Linkerd: the namespace's default policy).
      const universe = (manifests: typeof audit.manifests) => probeUniverse(manifests, probes.endpoints, probes.ports, probes.requests);
      const own = new Map(universe(enforce.manifests).endpoints.map((e) => [e.id, e]));
      for (const q of queries(universe(audit.manifests))) {
        const was = before.evaluate({ ...q, source: own.get(q.source.id) ?? q.source, destination: own.get(q.destination.id) ?? q.destination }).allowed;
        const now = after.evaluate(q);
        if (was && !now.allowed) throw new Error(`AUDIT denies what ENFORCE allows: ${describeQuery(q)}`);
        if (isAudited(now) !== (now.allowed && !was)) throw new Error(`audit mark ${isAudited(now)} but ENFORCE ${was ? 'allows' : 'denies'}: ${describeQuery(q)}\n${now.reasons.join('\n')}`);
        if (isAudited(now) && intent.allows(q)) throw new Error(`a declared connection is marked: ${describeQuery(q)}`);
        if (now.allowed) stats.allowed++;
        if (isAudited(now)) stats.marked++;
      }
      stats.runs++;
    }), { numRuns: RUNS, seed: SEED, endOnFailure: true });
    if (process.env.ZT_PROPERTY_STATS) console.log(c.id, stats);
    // Not vacuous: most topologies synthesize, and the audit admits connections the intent does not declare.
    expect(stats.runs).toBeGreaterThan(RUNS / 2);
    expect(stats.marked).toBeGreaterThan(0);
    expect(stats.allowed).toBeGreaterThan(stats.marked);
  });
});
