import * as fc from 'fast-check';
import { stringify } from 'yaml';
import { NetworkPolicyEvaluator, compareWithIntent, describeMismatch, intentProbes, parseManifests, probeUniverse, queries } from '../lib/verify';
import { TopologySpec, buildApp, topologyArb } from './topology';

const RUNS = Number(process.env.ZT_PROPERTY_RUNS ?? 60);
const SEED = Number(process.env.ZT_PROPERTY_SEED ?? 20240611);

/** Synthesizes a topology and reads the output back from YAML text only. */
function synth(spec: TopologySpec) {
  const { app, model, dns } = buildApp(spec);
  // Only the YAML text goes to the evaluator: parse it, print every document again with the yaml
  // package and parse that, so nothing of the constructs can leak through.
  const yaml = app.synthYaml();
  const reprinted = parseManifests(yaml, 'synth.yaml').map((m) => stringify(m.manifest, { version: '1.1' })).join('---\n');
  return { yaml, manifests: parseManifests(reprinted, 'synth.yaml'), model: model(), dns };
}

describe('NetworkPolicy backend agrees with the intent on random topologies', () => {
  test('every query of the probe universe', () => {
    let queriesChecked = 0;
    let allowedSeen = 0;
    let flowsSeen = 0;
    let runs = 0;
    fc.assert(
      fc.property(topologyArb(30), (spec) => {
        const { manifests, model, dns } = synth(spec);
        const evaluator = new NetworkPolicyEvaluator(manifests);
        // Probes from the output and from the intent, so neither side can hide a line it drew.
        const probes = intentProbes(model);
        const universe = probeUniverse(manifests, probes.endpoints, probes.ports);
        const qs = queries(universe);
        queriesChecked += qs.length;
        flowsSeen += model.flows.length;
        if (runs++ % 4 === 0) allowedSeen += qs.filter((q) => evaluator.evaluate(q).allowed && q.source.kind === 'pod' && q.destination.kind === 'pod' && q.port !== 53).length;
        const mismatches = compareWithIntent(evaluator, model, universe, { limit: 1, dns });
        if (mismatches.length > 0) {
          throw new Error(`first mismatch:\n${describeMismatch(mismatches[0], 'networkpolicy')}`);
        }
        const policies = manifests.filter((m) => m.manifest.kind === 'NetworkPolicy').length;
        const namespaces = model.namespaces.length;
        if (policies > 2 * model.workloads.length + 2 * namespaces) {
          throw new Error(`${policies} NetworkPolicies for ${model.workloads.length} workloads in ${namespaces} namespaces`);
        }
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    // The runs must exercise something: flows declared, non-DNS pod-to-pod connections allowed.
    expect(flowsSeen).toBeGreaterThan(RUNS);
    expect(allowedSeen).toBeGreaterThan(RUNS / 4);
    if (process.env.ZT_PROPERTY_STATS) console.log({ queriesChecked, flowsSeen, allowedSeen });
  });

  test('synthesis is deterministic: two apps from the same spec give identical bytes', () => {
    fc.assert(
      fc.property(topologyArb(15), (spec) => {
        const { app } = buildApp(spec);
        const a = app.synthYaml();
        expect(app.synthYaml()).toBe(a); // the same app twice
        expect(buildApp(spec).app.synthYaml()).toBe(a); // a second app from the same spec
      }),
      { numRuns: 30, seed: SEED },
    );
  });
});
