/**
 * Property: on random topologies, what the NSM reader learns from the YAML alone equals the intent
 * at NSM's granularity.
 * - The connections it finds (client workload -> endpoint workload over a service) are exactly the
 *   intent's flows between two SecureWorkloads, one interface per service per client, payload IP.
 * - Asked about every pair of pods (the app's workloads, an intruder pod in each app namespace and
 *   a pod outside the app) on every declared port and an undeclared one, the NSM layer connects
 *   exactly the pairs joined by a declared flow (every port, both directions: the documented L3
 *   widening) and nobody else. Flows with external peers are not NSM's: they stay on the primary
 *   network, whose NetworkPolicies the NetworkPolicy reader checks.
 * Only YAML text reaches the reader: the synthesized output is parsed back from a string.
 */
import fc from 'fast-check';
import { Testing } from 'cdk8s';
import { parseAllDocuments } from 'yaml';
import { Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { IntentRegistry } from '../lib/intent/registry';
import { ZeroTrustModel } from '../lib/intent/model';
import { NsmEvaluator } from '../lib/verify/nsm';
import { Endpoint, Manifest, Query } from '../lib/verify/types';

const SEED = 20240611;
const NAMESPACES = ['ns-a', 'ns-b'];
const PORT_POOL = [80, 5432, 8080];

interface Topo {
  workloads: Array<{ ns: number; ports: number[] }>;
  edges: Array<{ from: number; to: number; portMask: number; declaredBySource: boolean }>;
  external: Array<{ w: number; kind: 'ns' | 'ip'; dir: 'from' | 'to' }>;
}

const topoArb: fc.Arbitrary<Topo> = fc.record({
  workloads: fc.array(fc.record({ ns: fc.integer({ min: 0, max: 1 }), ports: fc.subarray(PORT_POOL, { minLength: 1 }) }), { minLength: 1, maxLength: 6 }),
  edges: fc.array(fc.record({ from: fc.nat(5), to: fc.nat(5), portMask: fc.nat(7), declaredBySource: fc.boolean() }), { maxLength: 8 }),
  external: fc.array(fc.record({ w: fc.nat(5), kind: fc.constantFrom<'ns' | 'ip'>('ns', 'ip'), dir: fc.constantFrom<'from' | 'to'>('from', 'to') }), { maxLength: 3 }),
});

function build(t: Topo): { yaml: string; model: ZeroTrustModel } {
  const app = Testing.app();
  // Random topologies restrict flows to some ports; NSM carries them only with the opt-in.
  const mesh = Mesh.networkServiceMesh({ allowPortsOverConnection: true, cidrPool: '10.250.0.0/16', prefixLength: 28 });
  const charts = NAMESPACES.map((ns) => new ZeroTrustChart(app, ns, { namespace: ns, mesh }));
  const ws = t.workloads.map((w, i) => new SecureWorkload(charts[w.ns], `w${i}`, { image: `example/w${i}:1`, ports: w.ports.map((p) => Port.tcp(p)) }));
  const at = (i: number) => ws[i % ws.length];
  for (const e of t.edges) {
    const from = at(e.from);
    const to = at(e.to);
    // A workload cannot be its own NSM client: such a flow is a synth error (NSM_SELF_CONNECTION).
    if (from === to) continue;
    const picked = to.ports.filter((_, k) => (e.portMask >> k) & 1);
    const ports = picked.length ? picked : undefined;
    if (e.declaredBySource) from.allowTo(to, { ports });
    else to.allowFrom(from, { ports });
  }
  for (const x of t.external) {
    const peer = x.kind === 'ns' ? Peer.namespace('ingress-nginx') : Peer.ipBlock('203.0.113.0/24');
    if (x.dir === 'from') at(x.w).allowFrom(peer);
    else at(x.w).allowTo(peer, { ports: [Port.tcp(443)] });
  }
  return { yaml: app.synthYaml(), model: IntentRegistry.of(app).resolve().model };
}

/** Parses synthesized YAML back into plain manifests. */
function manifestsOf(yaml: string): Manifest[] {
  return parseAllDocuments(yaml).map((d) => d.toJS()).filter((m) => m);
}

/** `ns/name -> ns/name` of every flow between two distinct SecureWorkloads. */
function intentPairs(model: ZeroTrustModel): Set<string> {
  const out = new Set<string>();
  for (const f of model.flows) {
    if (f.source.type !== 'workload' || f.destination.type !== 'workload' || f.source.workload === f.destination.workload) continue;
    out.add(`${f.source.workload.namespace}/${f.source.workload.name} -> ${f.destination.workload.namespace}/${f.destination.workload.name}`);
  }
  return out;
}

/** One endpoint per pod template of the manifests, plus an intruder per app namespace and an outsider. */
function podsOf(manifests: Manifest[]): Endpoint[] {
  const out: Endpoint[] = [];
  for (const m of manifests) {
    if (m.kind !== 'Deployment' && m.kind !== 'StatefulSet') continue;
    const t = (m as any).spec.template;
    out.push({
      id: `${m.metadata.namespace}/${m.metadata.name}`,
      kind: 'pod',
      namespace: m.metadata.namespace,
      labels: t.metadata.labels,
      annotations: t.metadata.annotations ?? {},
      ports: t.spec.containers.flatMap((c: any) => (c.ports ?? []).map((p: any) => ({ number: p.containerPort, protocol: p.protocol }))),
      workload: m.metadata.name,
    });
  }
  for (const ns of NAMESPACES) out.push({ id: `${ns}/zt-intruder`, kind: 'pod', namespace: ns, labels: { intruder: 'true' }, annotations: {} });
  out.push({ id: 'zt-outsider/zt-outsider', kind: 'pod', namespace: 'zt-outsider', labels: {}, annotations: {} });
  return out;
}

/** The first query where the reader's NSM layer and the intent disagree. */
function firstMismatch(reader: NsmEvaluator, pods: Endpoint[], pairs: Set<string>): string | undefined {
  for (const source of pods) {
    for (const destination of pods) {
      if (source === destination) continue;
      const connected = source.workload !== undefined && destination.workload !== undefined
        && (pairs.has(`${source.id} -> ${destination.id}`) || pairs.has(`${destination.id} -> ${source.id}`));
      for (const port of [...(destination.ports ?? []).map((p) => p.number), 1]) {
        const q: Query = { source, destination, port, protocol: 'TCP' };
        const d = reader.evaluate(q);
        if (d.allowed !== connected) {
          return `${source.id} -> ${destination.id}:${port}: NSM ${d.allowed ? 'ALLOWS' : 'DENIES'}, intent ${connected ? 'ALLOWS' : 'DENIES'} (${d.reasons.join('; ')})`;
        }
      }
    }
  }
  return undefined;
}

describe('reader(synth(intent)) == intent for NSM connections', () => {
  test('connections and every pod pair, on random topologies', () => {
    let connectionsSeen = 0;
    let deniedSeen = 0;
    fc.assert(fc.property(topoArb, (t) => {
      const { yaml, model } = build(t);
      const manifests = manifestsOf(yaml);
      const reader = new NsmEvaluator(manifests);
      const pairs = intentPairs(model);
      const connections = reader.connections();
      expect(new Set(connections.map((c) => `${c.client} -> ${c.endpoint}`))).toEqual(pairs);
      expect(connections).toHaveLength(pairs.size);
      for (const c of connections) expect(c.payload).toBe('IP');
      const perClient = new Map<string, string[]>();
      for (const c of connections) perClient.set(c.client, [...(perClient.get(c.client) ?? []), c.interfaceName!]);
      for (const ifs of perClient.values()) expect(new Set(ifs).size).toBe(ifs.length);
      // Prefixes never overlap (equal-length blocks: distinct means disjoint).
      const prefixes = reader.endpoints.map((e) => e.cidrPrefix);
      expect(new Set(prefixes).size).toBe(prefixes.length);

      // Every client, and only the clients, is told that its endpoints have no stable address or name.
      const notes = reader.addressNotes();
      expect(notes.map((n) => n.party)).toEqual([...perClient.keys()].sort());
      for (const n of notes) {
        for (const c of connections.filter((x) => x.client === n.party)) expect(n.text).toContain(`\`${c.service}\` on \`${c.interfaceName}\``);
      }

      const pods = podsOf(manifests);
      const mismatch = firstMismatch(reader, pods, pairs);
      if (mismatch) throw new Error(mismatch);
      connectionsSeen += connections.length;
      deniedSeen += pods.filter((p) => !p.workload).length;
    }), { numRuns: 50, seed: SEED, endOnFailure: true });
    expect(connectionsSeen).toBeGreaterThan(50);
    expect(deniedSeen).toBeGreaterThan(50);
  });

  test('a widened manifest is caught: one more service in a client annotation', () => {
    let caught = 0;
    fc.assert(fc.property(topoArb, (t) => {
      const { yaml, model } = build(t);
      const manifests = manifestsOf(yaml);
      const pairs = intentPairs(model);
      const services = manifests.filter((m) => m.kind === 'NetworkService');
      const pods = manifests.filter((m) => m.kind === 'Deployment' || m.kind === 'StatefulSet') as any[];
      for (const svc of services) {
        const dest = `${svc.metadata.namespace}/${svc.metadata.labels!['app.kubernetes.io/name']}`;
        const client = pods.find((p) => {
          const id = `${p.metadata.namespace}/${p.metadata.name}`;
          return id !== dest && !pairs.has(`${id} -> ${dest}`) && !pairs.has(`${dest} -> ${id}`);
        });
        if (!client) continue;
        const annotations = client.spec.template.metadata.annotations ?? {};
        annotations['networkservicemesh.io'] = [annotations['networkservicemesh.io'], `kernel://${svc.metadata.name}/nsm-99`].filter(Boolean).join(',');
        client.spec.template.metadata.annotations = annotations;
        const reader = new NsmEvaluator(manifests);
        expect(firstMismatch(reader, podsOf(manifests), pairs)).toMatch(/NSM ALLOWS, intent DENIES/);
        caught++;
        return;
      }
    }), { numRuns: 30, seed: SEED });
    expect(caught).toBeGreaterThan(3);
  });
});
