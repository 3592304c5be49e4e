/**
 * Property (issue 19): random apps with random accepted weakenings, per backend. The reader reads
 * the synthesized YAML (text only) and must allow exactly the intent with the accepted
 * weakenings applied (the intent file's model: each weakened flow in its weaker form) — no wider.
 * With the cluster's ranges given, a host name weakened to its ports leaves them out. Only
 * accepted members weaken a flow, the declared flows are recorded as declared, and an app
 * that is refused is refused only for members not accepted or for refusals with no weaker form.
 */
import { Testing } from 'cdk8s';
import * as fc from 'fast-check';
import { stringify } from 'yaml';
import { App } from 'cdk8s';
import { CiliumMutualAuth, IstioMode, Mesh, Peer, Port, SecureWorkload, Weaken, ZeroTrustChart, ZeroTrustReview, ZeroTrustSynthesis } from '../lib';
import { backendIntentOptions, compareWithIntent, describeMismatch, intentProbes, parseManifests, probeUniverse, readerFor } from '../lib/verify';
import { parseIntentDocument } from '../lib/intent/document';
import { IntentRegistry } from '../lib/intent/registry';
import { BackendId } from '../lib/intent/backend';
import { FlowModel, describeFlow, endpointKey, samePort } from '../lib/intent/model';
import { ZeroTrustError } from '../lib/intent/errors';
import { WEAKEN_MEMBERS, declaredFlow, hostExceptOf, weakenFlow } from '../lib/intent/weaken';
import { TopologyFeatures, buildApp, topologyArb } from './topology';

const RUNS = Number(process.env.ZT_PROPERTY_RUNS ?? 30);
const SEED = Number(process.env.ZT_PROPERTY_SEED ?? 20261207);
const ENROLLED = ['ext-a'];
const SMALL = 5;

interface WeakenCase {
  readonly name: string;
  readonly id: BackendId;
  readonly mesh: (weaken: Weaken[]) => Mesh;
  /** Intent the backend refuses, to be accepted by weakenings. */
  readonly features: TopologyFeatures;
  /** The members that answer this backend's refusals. */
  readonly members: Weaken[];
  /** Refusals with no weaker form the generator may still meet. */
  readonly refusals?: RegExp;
}

const CASES: WeakenCase[] = [
  {
    name: 'networkpolicy', id: 'networkpolicy', mesh: (weaken) => Mesh.networkPolicy({ weaken }),
    features: { maxWorkloads: SMALL, http: true, fqdn: true, serviceAccounts: 'sometimes', egressServiceAccounts: true },
    members: [Weaken.HTTP_TO_PORT, Weaken.IDENTITY_TO_LABELS, Weaken.HOST_TO_PORT],
  },
  {
    name: 'istio (sidecar)', id: 'istio', mesh: (weaken) => Mesh.istio({ mode: IstioMode.SIDECAR, weaken }),
    // Host names need listed single TCP ports (a ServiceEntry), hence no any-port or range egress.
    features: { maxWorkloads: SMALL, http: true, fqdn: true, serviceAccounts: 'sometimes', externalAnyPort: false, portRanges: false },
    members: [Weaken.WORKLOAD_TO_NAMESPACE, Weaken.IDENTITY_TO_LABELS, Weaken.HTTP_TO_PORT],
    // A host's ServiceEntry lists the ports every workload declares for it: refused where another workload's egress opens them.
    refusals: /which other workloads declare|no request attribute carries the source's labels/,
  },
  {
    name: 'istio (ambient)', id: 'istio-ambient', mesh: (weaken) => Mesh.istio({ mode: IstioMode.AMBIENT, weaken }),
    features: { maxWorkloads: SMALL, http: true, fqdn: true, serviceAccounts: 'sometimes' },
    members: [Weaken.WORKLOAD_TO_NAMESPACE, Weaken.IDENTITY_TO_LABELS, Weaken.HTTP_TO_PORT, Weaken.HOST_TO_PORT],
    // One peer's labels with another's account, admitted wider than the intent (IDENTITY_PAIRING_NOT_ENFORCEABLE): no weaker form.
    refusals: /no request attribute carries the source's labels/,
  },
  {
    name: 'linkerd', id: 'linkerd', mesh: (weaken) => Mesh.linkerd({ weaken }),
    features: { maxWorkloads: SMALL, http: true, fqdn: true, serviceAccounts: 'sometimes', ipSourceBlocks: [0, 1, 2, 3] },
    members: [Weaken.WORKLOAD_TO_NAMESPACE, Weaken.IDENTITY_TO_LABELS, Weaken.HOST_TO_PORT],
    // HTTP rules of two sources that overlap on one port (OVERLAPPING_HTTP_RULES): one HTTPRoute per request.
    refusals: /overlap those of|no request attribute carries the source's labels/,
  },
  {
    name: 'cilium (ztunnel)', id: 'cilium', mesh: (weaken) => Mesh.cilium({ mutualAuth: CiliumMutualAuth.ZTUNNEL, weaken }),
    features: { maxWorkloads: SMALL, http: true, fqdn: true, serviceAccounts: 'sometimes', egressServiceAccounts: true, dnsChoices: [0, 2], udp: false },
    members: [Weaken.HTTP_TO_PORT, Weaken.PORTS_TO_CONNECTION],
  },
  {
    name: 'cilium (SPIRE)', id: 'cilium', mesh: (weaken) => Mesh.cilium({ weaken }),
    features: { maxWorkloads: SMALL, http: true, fqdn: true, serviceAccounts: 'sometimes', egressServiceAccounts: true, dnsChoices: [0, 2] },
    members: [Weaken.HTTP_TO_PORT, Weaken.PORTS_TO_CONNECTION, Weaken.HOST_TO_PORT],
  },
  {
    name: 'kuma', id: 'kuma', mesh: (weaken) => Mesh.kuma({ weaken }),
    features: { maxWorkloads: SMALL, http: true, fqdn: true, serviceAccounts: 'sometimes', ipSources: false, egressToExternalPods: false, dnsChoices: [0] },
    members: [Weaken.HTTP_TO_PORT, Weaken.IDENTITY_TO_LABELS],
    refusals: /MeshPassthrough cannot express the except|has more than \d+ ports; narrow it/,
  },
  {
    name: 'nsm', id: 'nsm', mesh: (weaken) => Mesh.networkServiceMesh({ weaken }),
    features: { maxWorkloads: SMALL, http: true, fqdn: true, serviceAccounts: 'sometimes', selfFlows: false },
    members: [Weaken.HTTP_TO_PORT, Weaken.PORTS_TO_CONNECTION, Weaken.IDENTITY_TO_LABELS, Weaken.HOST_TO_PORT],
  },
];

/** The problem the chart's layers find when the flows alone are checked (the layers the synth ran), or undefined. */
function refusalOf(chart: ZeroTrustChart, model: ReturnType<ZeroTrustSynthesis['_run']>['model'] & object, flows: FlowModel[]): ZeroTrustError | undefined {
  const ctx = {
    model: { ...model, flows }, namespace: model.namespaces.find((n) => n.name === chart.namespaceName)!,
    dns: chart.dns.spec, createsNamespace: chart._emitsNamespace, clusterNetworks: chart._clusterNetworks,
  };
  for (const layer of chart._binding.layers()) {
    try {
      layer.check(ctx);
    } catch (e) {
      if (e instanceof ZeroTrustError) return e;
      throw e;
    }
  }
  return undefined;
}

/**
 * The model the synth enforces is the declared one with exactly the refused parts weakened: the
 * enforced forms of each declared flow split its ports into parts (each port in one part), a form
 * changes only what its members give up, and each member of a part is needed on each of its ports
 * (that port alone, with the part's other members applied but not this one, is refused for this
 * member by a chart the flow touches).
 */
function expectExactlyTheRefusedParts(app: App): void {
  const model = ZeroTrustSynthesis._of(app)._run().model!;
  const charts = app.node.findAll().filter((x): x is ZeroTrustChart => x instanceof ZeroTrustChart);
  const forms = new Map<FlowModel, FlowModel[]>();
  for (const f of model.flows) forms.set(declaredFlow(f), [...(forms.get(declaredFlow(f)) ?? []), f]);
  for (const [d, enforced] of forms) {
    const parts = new Map<string, { ports: readonly typeof d.ports[number][]; members: readonly Weaken[] }>();
    for (const f of enforced) {
      const ports = f.part ?? d.ports;
      parts.set(JSON.stringify([ports.map(String), f.weakened ?? []]), { ports, members: f.weakened ?? [] });
      // Nothing but what a member gives up differs from the declaration.
      const members = new Set(f.weakened ?? []);
      if (!members.has(Weaken.HTTP_TO_PORT)) expect(f.http).toEqual(d.http);
      else expect(d.http.length).toBeGreaterThan(0);
      if (!members.has(Weaken.PORTS_TO_CONNECTION)) expect(f.ports.map(String)).toEqual(ports.map(String));
      const weakerSource = members.has(Weaken.IDENTITY_TO_LABELS) || members.has(Weaken.WORKLOAD_TO_NAMESPACE);
      if (!weakerSource) expect(endpointKey(f.source)).toBe(endpointKey(d.source));
      if (!members.has(Weaken.HOST_TO_PORT) && !members.has(Weaken.IDENTITY_TO_LABELS)) expect(endpointKey(f.destination)).toBe(endpointKey(d.destination));
    }
    // The parts split the declared ports: each in exactly one.
    for (const p of d.ports) expect([...parts.values()].filter((x) => x.ports.some((q) => samePort(p, q))).length).toBe(1);
    expect([...parts.values()].reduce((n, x) => n + x.ports.length, 0)).toBe(d.ports.length);
    const touched = charts.filter((ch) => [d.source, d.destination].some((e) => e.type === 'workload' && e.workload.namespace === ch.namespaceName));
    for (const { ports, members } of parts.values()) {
      for (const m of members) {
        const others = WEAKEN_MEMBERS.filter((x) => x !== m && members.includes(x));
        for (const p of (ports.length ? ports.map((x) => [x]) : [[]])) {
          const flows = weakenFlow({ ...d, ports: p.length ? p : d.ports }, others, hostExceptOf(enforced));
          const why = touched.map((ch) => refusalOf(ch, model, flows)).find((e) => e?.weaken === m);
          if (!why) throw new Error(`${d.declaredAt}: ${m} weakens ${p.map(String).join(', ') || 'the flow'}, which no chart refuses without it (${touched.map((ch) => refusalOf(ch, model, flows)?.message ?? 'no refusal').join('; ')})`);
        }
      }
    }
  }
}

describe.each(CASES.map((c) => [c.name, c]))('reader(synth(intent, weaken)) == weaken(intent): %s', (_name, c: WeakenCase) => {
  test('random apps, random accepted weakenings', () => {
    const stats = { runs: 0, refused: 0, weakened: 0 };
    fc.assert(
      // Every member half of the time (so weakenings happen often), a random subset otherwise (so refusals do too).
      fc.property(topologyArb(c.features), fc.oneof(fc.constant(c.members), fc.subarray(c.members)), fc.boolean(), (spec, accepted, ranges) => {
        // The chart's clusterNetworks (left out of a host name weakened to its ports) half of the time: a range inside
        // the excepts of the generator's blocks, so only a block declared without its except overlaps it (and is refused).
        const { app, dns } = buildApp(spec, Testing.app(), () => c.mesh(accepted), c.features.egressServiceAccounts,
          () => (ranges ? { clusterNetworks: ['10.1.0.0/16', 'fd00::/8'] } : {}));
        let yaml: string;
        try {
          yaml = app.synthYaml();
        } catch (e) {
          const problems = ZeroTrustSynthesis.problemsOf(e);
          if (problems.length === 0) throw e;
          for (const p of problems) {
            // Refused for a member not accepted, or for intent with no weaker form this backend documents.
            if (p.weaken !== undefined && accepted.includes(p.weaken)) throw new Error(`refused although ${p.weaken} is accepted: ${p.message}`);
            if (p.weaken === undefined && !(c.refusals?.test(p.message) || /the mesh does not carry UDP|ztunnel carries TCP only/.test(p.message))
              && !(ranges && p.code === 'IP_BLOCK_OVERLAPS_CLUSTER')) throw e;
          }
          stats.refused++;
          return;
        }
        const declared = IntentRegistry.of(app).resolve().model;
        const doc = JSON.parse(ZeroTrustReview.intentJson(app));
        // The intent file records the flows as declared, and weakens only with accepted members.
        expect(doc.flows.map((f: any) => f.declaredAt)).toEqual(declared.flows.map((f) => f.declaredAt));
        for (const f of doc.flows) for (const m of f.weakened ?? []) expect(accepted).toContain(m);
        const enforced = parseIntentDocument(doc).model;
        stats.weakened += doc.flows.filter((f: any) => f.weakened).length;
        const reprinted = parseManifests(yaml, 'synth.yaml').map((m) => stringify(m.manifest, { version: '1.1' })).join('---\n');
        const manifests = parseManifests(reprinted, 'synth.yaml');
        // Every weakened flow says so in an allows annotation.
        const annotations = manifests.map((m) => m.manifest.metadata?.annotations?.['zero-trust.cdk8s.io/allows'] ?? '').join('\n');
        for (const f of enforced.flows) if (f.weakened) expect(annotations).toContain(describeFlow(f));
        const reader = readerFor(manifests, { backend: c.id, enrolledNamespaces: ENROLLED });
        const probes = intentProbes(enforced);
        const universe = probeUniverse(manifests, probes.endpoints, probes.ports, probes.requests);
        const mismatches = compareWithIntent(reader, enforced, universe, { limit: 1, dns, ...backendIntentOptions(c.id, { enrolledNamespaces: ENROLLED }) });
        if (mismatches.length > 0) throw new Error(`first mismatch (accepted ${accepted.join(', ') || 'nothing'}):\n${describeMismatch(mismatches[0], c.id)}`);
        expectExactlyTheRefusedParts(app);
        stats.runs++;
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    if (process.env.ZT_PROPERTY_STATS) console.log(c.name, stats);
    // Not vacuous: most apps synthesize.
    expect(stats.runs).toBeGreaterThan(RUNS / 4);
    if (c.name !== 'cilium (SPIRE)') expect(stats.weakened).toBeGreaterThan(0);
  });
});

/**
 * Property (issue 19, follow-up): flows that mix TCP, UDP and HTTP ports, from a peer with or
 * without a ServiceAccount and with or without HTTP rules, on every backend with every member
 * accepted: each member weakens exactly the ports its refusal named (see expectExactlyTheRefusedParts).
 */
describe.each(CASES.map((c) => [c.name, c]))('a weakening covers exactly the refused ports: %s', (_name, c: WeakenCase) => {
  test('random mixed-protocol flows', () => {
    const portArb = fc.record({ kind: fc.constantFrom('tcp', 'udp', 'http'), number: fc.constantFrom(53, 80, 5353, 8080) });
    let weakened = 0;
    fc.assert(
      fc.property(fc.uniqueArray(portArb, { minLength: 2, maxLength: 4, selector: (p) => `${p.number}/${p.kind === 'udp' ? 'UDP' : 'TCP'}` }), fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        fc.constantFrom('prometheus', 'prometheus', undefined), fc.boolean(), fc.constantFrom('from', 'from', 'namespace', 'to'), (specs, pick, serviceAccount, http, peer) => {
          const app = Testing.app();
          const chart = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: c.mesh(c.members) });
          const ports = specs.map((p) => (p.kind === 'tcp' ? Port.tcp(p.number) : p.kind === 'udp' ? Port.udp(p.number) : Port.http(p.number)));
          const api = new SecureWorkload(chart, 'api', { image: 'x', ports });
          const chosen = ports.filter((_, i) => pick[i]);
          const rule = { ...(chosen.length ? { ports: chosen } : {}), ...(http && (chosen.length ? chosen : ports).every((p) => p.speaksHttp) ? { http: [{ methods: ['GET'] }] } : {}) };
          const other = Peer.workload({ namespace: 'ext-a', labels: { app: 'client' }, ...(serviceAccount ? { serviceAccount } : {}) });
          if (peer === 'from') api.allowFrom(other, rule);
          else if (peer === 'namespace') api.allowFrom(Peer.namespace('ext-a'), rule);
          else api.allowTo(other, { ports: chosen.length ? chosen : ports });
          try {
            app.synthYaml();
          } catch (e) {
            const problems = ZeroTrustSynthesis.problemsOf(e);
            if (problems.length === 0) throw e;
            // Only refusals with no weaker form are left when every member is accepted.
            for (const p of problems) if (p.weaken !== undefined) throw new Error(`refused although ${p.weaken} is accepted: ${p.message}`);
            return;
          }
          weakened += ZeroTrustSynthesis._of(app)._run().model!.flows.filter((f) => f.weakened?.length).length;
          expectExactlyTheRefusedParts(app);
        }),
      { numRuns: RUNS, seed: SEED },
    );
    // Not vacuous (Cilium weakens nothing of flows with peers outside the app).
    if (c.id !== 'cilium') expect(weakened).toBeGreaterThan(0);
  });
});
