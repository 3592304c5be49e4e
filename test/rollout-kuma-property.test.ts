/**
 * Kuma's PERMISSIVE over generated apps: the same topology synthesized in STRICT and in
 * PERMISSIVE on every other namespace (the self-check of each synth compares the reader with the intent, where PERMISSIVE
 * is the `permissiveAdmitsPlaintext` deviation). Read back from the YAML text, PERMISSIVE allows
 * everything STRICT allows, and what it allows beyond that is exactly TCP from a client outside
 * the mesh to a pod of a PERMISSIVE namespace that the intent declares: plaintext opens no
 * undeclared connection.
 */
import { Testing } from 'cdk8s';
import * as fc from 'fast-check';
import { Mesh, MtlsMode } from '../lib';
import { IntentEvaluator, backendIntentOptions, intentProbes, parseManifests, probeUniverse, queries, readerFor } from '../lib/verify';
import { describeQuery } from '../lib/verify/expected';
import { KumaEvaluator } from '../lib/verify/kuma';
import { manifestOf } from '../lib/verify/manifests';
import { TopologySpec, buildApp, topologyArb } from './topology';

const RUNS = Number(process.env.ZT_PROPERTY_RUNS ?? 25);
const SEED = Number(process.env.ZT_PROPERTY_SEED ?? 20261207);
const ENROLLED = ['ext-a'];
const FEATURES = { maxWorkloads: 5, fqdn: true, ipSources: false, egressToExternalPods: false, dnsChoices: [0] };
/** Refusals of STRICT on Kuma that the generator may meet (as in backends-property). */
const KUMA_REFUSALS = /MeshPassthrough cannot express the except|has more than \d+ ports; narrow it|the mesh does not carry UDP/;

/** STRICT everywhere, or PERMISSIVE on the first, third, ... namespace (the others stay STRICT beside them). */
function synth(spec: TopologySpec, mtls: MtlsMode) {
  let i = 0;
  const { app, model, dns } = buildApp(spec, Testing.app(), () => Mesh.kuma(), false, () => ({ mtls: i++ % 2 === 0 ? mtls : MtlsMode.STRICT }));
  try {
    const manifests = parseManifests(app.synthYaml(), 'synth.yaml');
    return { manifests, model: model(), dns };
  } catch (e) {
    if (KUMA_REFUSALS.test((e as Error).message)) return undefined;
    throw e;
  }
}

test('PERMISSIVE allows everything STRICT allows; beyond it, only declared plaintext into PERMISSIVE namespaces', () => {
  const stats = { runs: 0, opened: 0, allowed: 0 };
  fc.assert(fc.property(topologyArb(FEATURES), (spec) => {
    const strict = synth(spec, MtlsMode.STRICT);
    if (!strict) return;
    const plain = synth(spec, MtlsMode.PERMISSIVE);
    if (!plain) throw new Error('PERMISSIVE refused a topology STRICT accepts');
    const before = readerFor(strict.manifests, { backend: 'kuma', enrolledNamespaces: ENROLLED });
    const after = readerFor(plain.manifests, { backend: 'kuma', enrolledNamespaces: ENROLLED });
    const kuma = new KumaEvaluator(plain.manifests.map(manifestOf));
    const intent = new IntentEvaluator(plain.model, { dns: plain.dns, ...backendIntentOptions('kuma', { enrolledNamespaces: ENROLLED }) });
    const permissiveNs = new Set(plain.model.namespaces.filter((n) => n.mtls === 'permissive').map((n) => n.name));
    const probes = intentProbes(plain.model);
    for (const q of queries(probeUniverse(plain.manifests, probes.endpoints, probes.ports, probes.requests))) {
      const was = before.evaluate(q).allowed;
      const now = after.evaluate(q).allowed;
      if (was && !now) throw new Error(`PERMISSIVE denies what STRICT allows: ${describeQuery(q)}`);
      if (now !== intent.allows(q)) throw new Error(`PERMISSIVE ${now ? 'allows' : 'denies'} against the intent: ${describeQuery(q)}`);
      if (now && !was) {
        const plaintext = q.protocol === 'TCP' && q.destination.kind === 'pod' && permissiveNs.has(q.destination.namespace ?? '')
          && (q.source.kind !== 'pod' || kuma.membership(q.source) === undefined);
        if (!plaintext) throw new Error(`PERMISSIVE opens more than plaintext into its namespaces: ${describeQuery(q)}`);
        stats.opened++;
      }
      if (now) stats.allowed++;
    }
    stats.runs++;
  }), { numRuns: RUNS, seed: SEED, endOnFailure: true });
  if (process.env.ZT_PROPERTY_STATS) console.log('kuma permissive', stats);
  expect(stats.runs).toBeGreaterThan(RUNS / 2);
  expect(stats.opened).toBeGreaterThan(0);
  expect(stats.allowed).toBeGreaterThan(stats.opened);
});
