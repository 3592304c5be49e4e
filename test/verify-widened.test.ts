/**
 * The comparison can fail: manifests widened by hand (an AND peer split into an OR, a podSelector
 * or except or port list dropped, default deny removed) disagree with the intent somewhere.
 */
import * as fc from 'fast-check';
import { Manifest, NetworkPolicyEvaluator, SourcedManifest, compareWithIntent, describeQuery, intentProbes, parseManifests, probeUniverse } from '../lib/verify';
import { ZeroTrustModel } from '../lib/intent/model';
import { TopologySpec, buildApp, topologyArb } from './topology';

const NAME = 'kubernetes.io/metadata.name';

/** ns-a: api -> db (5432), api -> ext-a {role: client}, ingress from ext-b {role: scraper} and from 10.0.0.0/8 except 10.1.0.0/16; ns-b: worker -> ns-a/db. */
const FIXED: TopologySpec = {
  namespaces: 2,
  workloads: [
    { ns: 0, name: 'api', ports: [{ kind: 'http', number: 8080 }, { kind: 'tcp', number: 9090 }] },
    { ns: 0, name: 'db', ports: [{ kind: 'tcp', number: 5432 }] },
    { ns: 1, name: 'worker', ports: [{ kind: 'tcp', number: 80 }] },
  ],
  flows: [
    { kind: 'w2w', from: 0, to: 1, declaredBy: 'source', ports: { all: true } },
    { kind: 'w2w', from: 2, to: 1, declaredBy: 'destination', ports: { all: true } },
    { kind: 'external', w: 0, dir: 'to', ns: 'ext-a', labels: { role: 'client' }, ports: { all: true }, external: { ports: [{ kind: 'tcp', number: 443 }] } },
    { kind: 'external', w: 0, dir: 'from', ns: 'ext-b', labels: { role: 'scraper' }, ports: { subset: [false, true, false] }, external: { any: true } },
    { kind: 'ip', w: 0, dir: 'from', block: 0, withExcept: true, ports: { subset: [true, false, false] }, external: { any: true } },
  ],
};

function synth(spec: TopologySpec): { manifests: SourcedManifest[]; model: ZeroTrustModel } {
  const { app, model } = buildApp(spec);
  return { manifests: parseManifests(app.synthYaml(), 'synth.yaml'), model: model() };
}

function mismatchesOf(manifests: Array<Manifest | SourcedManifest>, model: ZeroTrustModel) {
  const probes = intentProbes(model);
  return compareWithIntent(new NetworkPolicyEvaluator(manifests), model, probeUniverse(manifests, probes.endpoints, probes.ports));
}

/** A deep copy of the bare manifests, for mutation. */
function copy(manifests: SourcedManifest[]): Manifest[] {
  return JSON.parse(JSON.stringify(manifests.map((m) => m.manifest)));
}

function policy(ms: Manifest[], ns: string, name: string): any {
  const p = ms.find((m) => m.kind === 'NetworkPolicy' && m.metadata.namespace === ns && m.metadata.name === name);
  if (!p) throw new Error(`no NetworkPolicy ${ns}/${name}`);
  return p;
}

interface PeerRef { list: any[]; index: number; policy: string }

/** Every peer element with both selectors whose namespace is not managed by the app. */
function andPeers(ms: Manifest[], model: ZeroTrustModel): PeerRef[] {
  const out: PeerRef[] = [];
  for (const m of ms.filter((x) => x.kind === 'NetworkPolicy')) {
    for (const [rules, key] of [[m.spec.ingress ?? [], 'from'], [m.spec.egress ?? [], 'to']] as const) {
      for (const r of rules) {
        (r[key] ?? []).forEach((peer: any, index: number) => {
          const ns = peer.namespaceSelector?.matchLabels?.[NAME];
          if (peer.podSelector && ns && !model.namespaces.some((n) => n.name === ns)) out.push({ list: r[key], index, policy: `${m.metadata.namespace}/${m.metadata.name}` });
        });
      }
    }
  }
  return out;
}

function split(ref: PeerRef): void {
  const { namespaceSelector, podSelector } = ref.list[ref.index];
  ref.list.splice(ref.index, 1, { namespaceSelector }, { podSelector });
}

describe('widened manifests are caught', () => {
  const { manifests, model } = synth(FIXED);

  test('the unmodified output agrees with the intent', () => {
    expect(mismatchesOf(manifests, model)).toEqual([]);
  });

  test('splitting {namespaceSelector, podSelector} into two elements over-permits and is detected', () => {
    const ms = copy(manifests);
    const rule = policy(ms, 'ns-a', 'api-ingress').spec.ingress.find((r: any) => r.from.some((p: any) => p.namespaceSelector && p.podSelector));
    const i = rule.from.findIndex((p: any) => p.namespaceSelector && p.podSelector);
    split({ list: rule.from, index: i, policy: 'ns-a/api-ingress' });
    const found = mismatchesOf(ms, model);
    expect(found.length).toBeGreaterThan(0);
    expect(found.every((m) => m.actual.allowed && !m.expected.allowed)).toBe(true);
    expect(found.map((m) => describeQuery(m.query))).toContain('ext-b/* -> ns-a/api 9090/TCP');
  });

  test('dropping the podSelector of an egress peer is detected', () => {
    const ms = copy(manifests);
    for (const r of policy(ms, 'ns-a', 'api-egress').spec.egress) for (const p of r.to) if (p.namespaceSelector) delete p.podSelector;
    expect(mismatchesOf(ms, model).map((m) => describeQuery(m.query))).toContain('ns-a/api -> ext-a/* 443/TCP');
  });

  test('dropping the namespaceSelector of a cross-namespace peer is detected (it now under-permits)', () => {
    const ms = copy(manifests);
    for (const r of policy(ms, 'ns-a', 'api-ingress').spec.ingress) for (const p of r.from) if (p.namespaceSelector && p.podSelector) delete p.namespaceSelector;
    const found = mismatchesOf(ms, model);
    expect(found.map((m) => describeQuery(m.query))).toContain('ext-b/{role=scraper} -> ns-a/api 9090/TCP');
    expect(found.every((m) => !m.actual.allowed && m.expected.allowed)).toBe(true);
  });

  test('dropping an ipBlock except is missed by output-only probes, caught with intent probes', () => {
    const ms = copy(manifests);
    for (const r of policy(ms, 'ns-a', 'api-ingress').spec.ingress) for (const p of r.from) if (p.ipBlock) delete p.ipBlock.except;
    expect(compareWithIntent(new NetworkPolicyEvaluator(ms), model, probeUniverse(ms))).toEqual([]);
    expect(mismatchesOf(ms, model).length).toBeGreaterThan(0);
  });

  test('dropping ipBlock except, ports, or default deny is detected', () => {
    let ms = copy(manifests);
    for (const r of policy(ms, 'ns-a', 'api-ingress').spec.ingress) for (const p of r.from) if (p.ipBlock) delete p.ipBlock.except;
    expect(mismatchesOf(ms, model).map((m) => describeQuery(m.query))).toContain('ip:10.1.0.0 -> ns-a/api 8080/TCP');

    ms = copy(manifests);
    for (const r of policy(ms, 'ns-a', 'api-ingress').spec.ingress) if (r.from.some((p: any) => p.ipBlock)) delete r.ports;
    expect(mismatchesOf(ms, model).map((m) => describeQuery(m.query))).toContain('ip:10.0.0.1 -> ns-a/api 1/TCP');

    // Dropping the port list of db-ingress has no effect: both its sources are closed for egress
    // by their own policies. Effective connectivity is what is compared, so this is not a mismatch.
    ms = copy(manifests);
    for (const r of policy(ms, 'ns-a', 'db-ingress').spec.ingress) delete r.ports;
    expect(mismatchesOf(ms, model)).toEqual([]);

    ms = copy(manifests).filter((m) => !(m.kind === 'NetworkPolicy' && m.metadata.namespace === 'ns-b' && m.metadata.name === 'default-deny'));
    expect(mismatchesOf(ms, model).map((m) => describeQuery(m.query))).toContain('ip:192.0.2.1 -> ns-b/zt-intruder 1/TCP') // allow-dns still closes its egress;
  });

  test('property: splitting any AND peer towards an unmanaged namespace is detected', () => {
    // Peer.namespace() flows would already admit the whole namespace and hide the widening; leave them out.
    const arb = fc.tuple(topologyArb(8).map((t) => ({ ...t, flows: t.flows.filter((f) => f.kind !== 'namespace') })), fc.nat());
    fc.assert(
      fc.property(arb, ([spec, pick]) => {
        const { manifests: out, model: m } = synth(spec);
        const ms = copy(out);
        const refs = andPeers(ms, m);
        fc.pre(refs.length > 0); // the DNS peer, unless the chart uses NodeLocal DNS
        const ref = refs[pick % refs.length];
        split(ref);
        const found = compareWithIntent(new NetworkPolicyEvaluator(ms), m, probeUniverse(ms), { limit: 1 });
        if (found.length === 0) throw new Error(`splitting a peer of ${ref.policy} went unnoticed`);
      }),
      { numRuns: 20, seed: 7 },
    );
  });
});
