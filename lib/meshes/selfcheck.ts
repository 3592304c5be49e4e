/**
 * The self-check every synth runs: after rendering, the backend's reader (`lib/verify/`) reads
 * the documents the app emits — never the model — and is asked, connection by connection, what
 * they allow; the intent's semantics (with the deviations the backend documents,
 * `backendIntentOptions`) say what they should allow. Any difference fails the synth with the
 * connection, its direction and the objects that decided it.
 *
 * Which connections: while the probe universe is small (up to `EXHAUSTIVE_QUERIES` connections,
 * every test app and the story), all of it: every workload and probe (an intruder in every
 * namespace, an outsider, the peers the intent names, addresses inside, outside and in the
 * excepts of every block, every host) against every other, on every port that matters, with HTTP
 * requests that match and miss every rule. Beyond that, a set linear in workloads and flows:
 * every declared flow (on the destination's ports, an undeclared port and the rules' requests),
 * and per workload an intruder of its namespace and of another, an outsider, another workload
 * of the app, and the addresses and hosts, in both directions.
 *
 * This module is wired in by the mesh factories (`MeshBinding.selfCheck`): the model
 * (`lib/intent/`) does not depend on the readers, and the readers do not depend on the renderers.
 */
import { DnsSpec } from '../intent/dns';
import { ZeroTrustError } from '../intent/errors';
import { EndpointModel, NAME_LABEL, ZeroTrustModel, describeFlow } from '../intent/model';
import { SelfCheck, SelfCheckInput } from '../intent/render';
import { IntentEvaluator, IntentOptions, describeQuery, endpointMatches, flowHttpMatches, flowPortMatches, intentProbes } from '../verify/expected';
import { NAMESPACE_NAME_LABEL, NamespaceInfo, WORKLOAD_KINDS, implicitNamespace, inventory, namespaceOfObject } from '../verify/inventory';
import { ReaderOptions, backendIntentOptions, readerFor } from '../verify/readers';
import { Decision, Endpoint, Manifest, PolicyEvaluator, Query } from '../verify/types';
import { OUTSIDER_NAMESPACE, PROBE_LABEL, UniversePort, UniverseRequest, probeUniverse, queries } from '../verify/universe';
import { PortSet, prefilterOf, verdictsOf } from '../verify/prefilter';
import { enforcedWhenAudited } from '../verify/audit';

/** What a backend's settings change in the semantics the self-check expects. */
export interface SelfCheckProfile {
  /** Istio: istiod's namespace (the ambient waypoint reaches it). */
  readonly istioRootNamespace?: string;
  /** Istio: the revision label istiod's pods carry. */
  readonly istioRevision?: string;
  /** Linkerd: the control plane's namespace. */
  readonly linkerdControlPlaneNamespace?: string;
  /** The backend's settings the reader needs (trust domain, a Kuma mesh created elsewhere, ...). */
  readonly reader?: ReaderOptions['settings'];
}

/** Up to this many probed connections per mesh, the whole probe universe is asked. */
const EXHAUSTIVE_QUERIES = 250_000;
/** At most this many differences are reported per mesh (the first ones, in a stable order). */
const MAX_REPORTED = 10;

const KUBE_DNS: DnsSpec = { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } };

/** The self-check of one mesh: charts of the same backend and mesh key are checked together. */
export class MeshSelfCheck implements SelfCheck {
  public readonly group: string;

  public constructor(public readonly backend: string, meshKey: string, public readonly profile: SelfCheckProfile) {
    this.group = `${backend}|${meshKey}`;
  }

  public run(input: SelfCheckInput): ZeroTrustError[] {
    const started = performance.now();
    const cpu = process.cpuUsage();
    const report = selfCheck(this, input);
    const used = process.cpuUsage(cpu);
    STATS.ms += performance.now() - started;
    STATS.cpuMs += (used.user + used.system) / 1000;
    STATS.runs++;
    STATS.queries += report.queries;
    STATS.last = { group: this.group, mode: report.mode, queries: report.queries, problems: report.problems.length };
    return report.problems;
  }
}

/** Counters of the self-checks run in this process (for tests and the benchmark). */
export interface SelfCheckStats {
  runs: number;
  queries: number;
  /** Wall time of the self-checks' reading back and asking (not the rendering they share with the synth), ms. */
  ms: number;
  /** Their CPU time (user and system), ms: less sensitive to a busy machine. */
  cpuMs: number;
  last?: { group: string; mode: 'exhaustive' | 'focused'; queries: number; problems: number };
}

const STATS: SelfCheckStats = { runs: 0, queries: 0, ms: 0, cpuMs: 0 };

/** What the self-checks of this process did so far. */
export function selfCheckStats(): SelfCheckStats {
  return { ...STATS, ...(STATS.last ? { last: { ...STATS.last } } : {}) };
}

/** What one self-check did, for tests and the benchmark. */
export interface SelfCheckReport {
  readonly problems: ZeroTrustError[];
  /** `exhaustive` (the whole probe universe) or `focused` (linear in workloads and flows). */
  readonly mode: 'exhaustive' | 'focused';
  readonly queries: number;
}

/** Runs the self-check of one group of charts. */
function selfCheck(check: MeshSelfCheck, input: SelfCheckInput): SelfCheckReport {
  const backend = check.backend;
  const mine = new Set(input.charts.map((c) => c.namespace));
  const groupNamespaces = new Set([...input.groups].filter(([, g]) => g === check.group).map(([ns]) => ns));
  const otherManaged = new Set([...input.groups].filter(([, g]) => g !== check.group).map(([ns]) => ns));

  const manifests = selectManifests(input, groupNamespaces, otherManaged);
  const model = input.model;
  const managed = new Set(model.namespaces.map((n) => n.name));
  const enrolled = peerNamespaces(model, new Set([...managed, ...[...input.dns.values()].map((d) => d.namespace ?? '')]));
  // A chart in AUDIT is checked in its enforced view: allowed without an audit mark is exactly what the intent declares.
  const reader = enforcedWhenAudited(readerFor(manifests, { backend, enrolledNamespaces: enrolled, settings: check.profile.reader }), input.model.namespaces);
  const options = intentOptions(backend, check.profile, enrolled, input.dns);
  const intent = new IntentEvaluator(model, options);

  const inv = inventory(manifests);
  const problems = coverageProblems(backend, model, inv.workloads, mine);
  const pods = inv.workloads.filter((w) => !otherManaged.has(w.namespace!));
  const probes = intentProbes(model);
  const estimate = (pods.length + probes.endpoints.length + groupNamespaces.size + 3) ** 2 * (probes.ports.length + 12 + probes.requests.length);
  const mode = estimate <= EXHAUSTIVE_QUERIES ? 'exhaustive' : 'focused';
  const inScope = (q: Query) => isIn(q.source, mine) || isIn(q.destination, mine);
  let asked = 0;
  // Verdicts first, reasons only for a difference.
  const readerAllows = verdictsOf(reader);
  const ask = (q: Query): boolean => {
    asked++;
    if (readerAllows(q) === intent.allows(q)) return true;
    const actual = reader.evaluate(q);
    const expected = intent.evaluate(q);
    if (actual.allowed === expected.allowed) return true;
    problems.push(mismatch(backend, model, intent, mine, q, actual, expected));
    return problems.length < MAX_REPORTED;
  };
  if (mode === 'exhaustive') {
    const universe = probeUniverse(manifests, probes.endpoints, probes.ports, probes.requests);
    const endpoints = universe.endpoints.filter((e) => !(e.kind === 'pod' && otherManaged.has(e.namespace!)));
    const asking = queries({ ...universe, endpoints }).filter(inScope);
    // Where neither the objects nor the intent may allow (their prefilters, lib/verify/prefilter.ts), both deny: nothing
    // to ask. Worth it over the whole universe, where most pairs are; the focused set is mostly pairs either may allow.
    const bothDeny = deniedByBoth(reader, intent, asking);
    for (const q of asking) {
      if (bothDeny(q)) { asked++; continue; }
      if (!ask(q)) break;
    }
  } else {
    for (const q of focusedQueries(model, pods, probes.endpoints, inv.namespaces, mine, groupNamespaces, input.dns)) {
      if (inScope(q) && !ask(q)) break;
    }
  }
  return { problems: problems.slice(0, MAX_REPORTED), mode, queries: asked };
}

/**
 * A test that is true only for queries both the reader and the intent surely deny: neither's
 * prefilter admits the query's port between its two ends. Always false for a reader without one.
 */
function deniedByBoth(reader: PolicyEvaluator, intent: IntentEvaluator, asking: readonly Query[]): (q: Query) => boolean {
  const index = new Map<Endpoint, number>();
  const endpoints: Endpoint[] = [];
  for (const q of asking) {
    for (const e of [q.source, q.destination]) if (!index.has(e)) { index.set(e, endpoints.length); endpoints.push(e); }
  }
  const scope = { endpoints };
  const objects = prefilterOf(reader, scope);
  if (!objects) return () => false;
  const intended = intent.prefilter(scope);
  let last: { s: number; d: number; ports: PortSet } | undefined;
  return (q) => {
    const s = index.get(q.source)!;
    const d = index.get(q.destination)!;
    if (last?.s !== s || last.d !== d) last = { s, d, ports: objects.ports(s, d).union(intended.ports(s, d)) };
    return !last.ports.has(q.protocol, q.port);
  };
}

function isIn(e: Endpoint, namespaces: Set<string>): boolean {
  return e.kind === 'pod' && namespaces.has(e.namespace ?? '');
}

const POD_KINDS = new Set([...WORKLOAD_KINDS, 'ReplicationController']);

/**
 * The documents the reader of a group sees: everything in the group's namespaces and every
 * cluster-scoped object, plus the pods and Namespaces of other namespaces (so pods elsewhere are
 * parties), but not the policies of namespaces the group does not manage (another mesh's, or
 * the user's own in a namespace the intent only names as a peer: the intent speaks for its own
 * namespaces). A chart that does not emit its Namespace is assumed to have one with the labels
 * and annotations its mesh asked for (the README says so).
 */
function selectManifests(input: SelfCheckInput, group: Set<string>, otherManaged: Set<string>): Manifest[] {
  const out: Manifest[] = [];
  const declared = new Set<string>();
  for (const d of input.documents as readonly Manifest[]) {
    if (!d || typeof d !== 'object' || typeof d.kind !== 'string' || typeof d.apiVersion !== 'string' || typeof d.metadata?.name !== 'string') continue;
    if (d.kind === 'Namespace' && d.apiVersion === 'v1') {
      declared.add(d.metadata.name);
      if (!otherManaged.has(d.metadata.name)) out.push(d);
      continue;
    }
    const ns = namespaceOfObject(d);
    if (ns === undefined || group.has(ns) || (POD_KINDS.has(d.kind) && !otherManaged.has(ns))) out.push(d);
  }
  for (const c of input.charts) {
    if (c.emitsNamespace || declared.has(c.namespace)) continue;
    out.push({
      apiVersion: 'v1', kind: 'Namespace',
      metadata: {
        name: c.namespace,
        labels: { ...(c.namespaceMetadata.labels ?? {}), [NAMESPACE_NAME_LABEL]: c.namespace },
        annotations: { ...(c.namespaceMetadata.annotations ?? {}) },
      },
    });
  }
  return out;
}

/**
 * Namespaces outside the app that the intent names as peers: assumed to run in the mesh, as the
 * intent's flows with them need (an unmeshed one is the outsider probe's case). The namespaces
 * of cluster DNS are not: DNS servers run outside the mesh.
 */
function peerNamespaces(model: ZeroTrustModel, excluded: Set<string>): string[] {
  const out = new Set<string>();
  const add = (e: EndpointModel) => {
    if ((e.type === 'namespace' || e.type === 'external-workload') && !excluded.has(e.namespace)) out.add(e.namespace);
  };
  for (const f of model.flows) { add(f.source); add(f.destination); }
  return [...out].sort();
}

/** The semantics the backend promises, for these settings. */
function intentOptions(backend: string, profile: SelfCheckProfile, enrolled: string[], dns: ReadonlyMap<string, DnsSpec>): IntentOptions {
  const base = backendIntentOptions(backend, { enrolledNamespaces: enrolled, linkerdControlPlaneNamespace: profile.linkerdControlPlaneNamespace });
  const root = profile.istioRootNamespace;
  const controlPlane = base.controlPlane && root !== undefined
    ? base.controlPlane.map((c) => (c.namespace === 'istio-system'
      ? { ...c, namespace: root, labels: { ...c.labels, ...(profile.istioRevision ? { 'istio.io/rev': profile.istioRevision } : {}) } }
      : c))
    : base.controlPlane;
  return { ...base, ...(controlPlane ? { controlPlane } : {}), dns: (ns: string) => dns.get(ns) ?? KUBE_DNS };
}

/**
 * Every SecureWorkload of the checked namespaces must have its pods in the output, and be the
 * only pods there with its selector: pods of another object with the same label would share
 * its flows.
 */
function coverageProblems(backend: string, model: ZeroTrustModel, workloads: Endpoint[], mine: Set<string>): ZeroTrustError[] {
  const byNamespace = new Map<string, Endpoint[]>();
  for (const p of workloads) {
    if (!mine.has(p.namespace!)) continue;
    byNamespace.set(p.namespace!, [...(byNamespace.get(p.namespace!) ?? []), p]);
  }
  // Pods of a namespace by the value of the name label, which every workload's selector has.
  const byName = new Map<string, Endpoint[]>();
  for (const [ns, pods] of byNamespace) {
    for (const p of pods) {
      const key = `${ns}\0${p.labels?.[NAME_LABEL] ?? ''}`;
      byName.set(key, [...(byName.get(key) ?? []), p]);
    }
  }
  const out: ZeroTrustError[] = [];
  for (const w of model.workloads) {
    if (!mine.has(w.namespace)) continue;
    const key = `${w.namespace}/${w.name}`;
    const name = w.selector[NAME_LABEL];
    const candidates = name !== undefined ? byName.get(`${w.namespace}\0${name}`) ?? [] : byNamespace.get(w.namespace) ?? [];
    const owners = candidates.filter((p) => Object.entries(w.selector).every(([k, v]) => p.labels?.[k] === v));
    if (owners.length === 1) continue;
    out.push(new ZeroTrustError(owners.length === 0
      ? { code: 'SELF_CHECK_NO_PODS', backend, namespace: w.namespace, workload: key, message: `self-check: no pods of ${key} are in the output (no Deployment, StatefulSet or DaemonSet in namespace ${w.namespace} has the labels ${JSON.stringify(w.selector)}), so its policies protect nothing; if it adopts a cdk8s-plus workload, define that workload in namespace ${w.namespace}` }
      : { code: 'SELF_CHECK_SHARED_SELECTOR', backend, namespace: w.namespace, workload: key, message: `self-check: ${owners.map((p) => p.id).join(', ')} all carry the selector ${JSON.stringify(w.selector)} of ${key}, so they would all get its flows; give each its own labels` }));
  }
  return out;
}

/** The problem of one connection on which the objects and the intent disagree. */
function mismatch(backend: string, model: ZeroTrustModel, intent: IntentEvaluator, mine: Set<string>, q: Query, actual: Decision, expected: Decision): ZeroTrustError {
  const end = isIn(q.destination, mine) ? q.destination : q.source;
  const workloadOf = (e: Endpoint) => {
    if (e.kind !== 'pod' || e.workload === undefined) return undefined;
    const w = model.workloads.find((x) => x.namespace === e.namespace && Object.entries(x.selector).every(([k, v]) => e.labels?.[k] === v));
    return w ? `${w.namespace}/${w.name}` : undefined;
  };
  const workload = workloadOf(end) ?? workloadOf(end === q.source ? q.destination : q.source);
  const between = intent.flowsBetween(q.source, q.destination);
  const deciding = between.filter((f) => flowPortMatches(f, q) && flowHttpMatches(f, q));
  const rules = [...new Set((actual.allowed ? between : deciding.length ? deciding : between).map((f) => f.declaredAt))];
  const connection = describeQuery(q);
  const message = actual.allowed
    ? `self-check: the rendered objects ALLOW ${connection}, which the intent does not declare${between.length ? ` (it declares only ${between.map(describeFlow).join('; ')})` : ''}; allowed by: ${actual.reasons.join('; ')}`
    : `self-check: the rendered objects DENY ${connection}, which ${rules.length ? `${rules.join(', ')} declares` : 'the intent allows'}; denied by: ${actual.reasons.join('; ')}`;
  return new ZeroTrustError({
    code: actual.allowed ? 'SELF_CHECK_WIDER' : 'SELF_CHECK_NARROWER',
    backend, namespace: end.namespace, workload, ...(rules.length ? { rule: rules.join(', ') } : {}),
    message: `${message}. Intent: ${expected.reasons.join('; ')}`,
  });
}

/**
 * Connections linear in workloads and flows, for apps whose whole universe is too large: every
 * declared flow, and per workload of the checked namespaces a fixed set of parties it must not
 * reach or be reached by.
 */
function* focusedQueries(
  model: ZeroTrustModel, pods: Endpoint[], probeEndpoints: Endpoint[], namespaces: NamespaceInfo[],
  mine: Set<string>, group: Set<string>, dns: ReadonlyMap<string, DnsSpec>,
): Generator<Query> {
  const nsInfo = new Map(namespaces.map((n) => [n.name, n]));
  const info = (ns: string) => nsInfo.get(ns) ?? implicitNamespace(ns);
  const probePod = (ns: string, name: string, labels: { [key: string]: string }): Endpoint => ({
    id: `${ns}/${name}`, kind: 'pod', namespace: ns, namespaceLabels: { ...info(ns).labels }, namespaceAnnotations: { ...info(ns).annotations },
    labels: { [PROBE_LABEL]: 'true', ...labels }, annotations: {}, serviceAccount: 'default', ports: [],
  });
  const byName = new Map<string, Endpoint[]>();
  for (const p of pods) {
    const name = p.labels?.[NAME_LABEL];
    if (name === undefined) continue;
    const key = `${p.namespace}\0${name}`;
    byName.set(key, [...(byName.get(key) ?? []), p]);
  }
  const groupSorted = [...group].sort();
  const intruders = new Map(groupSorted.map((ns) => [ns, probePod(ns, 'zt-intruder', { 'zero-trust.cdk8s.io/intruder': 'true' })]));
  let outsiderNs = OUTSIDER_NAMESPACE;
  for (let i = 1; nsInfo.has(outsiderNs) || model.namespaces.some((n) => n.name === outsiderNs); i++) outsiderNs = `${OUTSIDER_NAMESPACE}-${i}`;
  const outsider = probePod(outsiderNs, 'zt-outsider', {});
  const external = probeEndpoints.filter((e) => e.kind !== 'pod');
  const matchCache = new Map<EndpointModel, Endpoint[]>();
  const matching = (m: EndpointModel): Endpoint[] => {
    if (m.type === 'workload') return byName.get(`${m.workload.namespace}\0${m.workload.selector[NAME_LABEL]}`) ?? pods.filter((p) => endpointMatches(m, p));
    let hit = matchCache.get(m);
    if (!hit) {
      hit = probeEndpoints.filter((e) => endpointMatches(m, e));
      matchCache.set(m, hit);
    }
    return hit;
  };

  // Ports and requests worth asking per destination, from the flows to it.
  const flowPorts = new Map<string, UniversePort[]>();
  const requests = new Map<string, UniverseRequest[]>();
  // Declared pairs are asked on an undeclared port too (1/TCP); the others on the destination's own ports.
  const pairs = new Map<string, { source: Endpoint; destination: Endpoint; declared: boolean }>();
  const pair = (source: Endpoint, destination: Endpoint, declared = false) => {
    if (source.id === destination.id) return;
    const key = `${source.id}\0${destination.id}`;
    const known = pairs.get(key);
    if (!known || (declared && !known.declared)) pairs.set(key, { source, destination, declared });
  };
  for (const f of model.flows) {
    const touches = (e: EndpointModel) => e.type === 'workload' && mine.has(e.workload.namespace);
    if (!touches(f.source) && !touches(f.destination)) continue;
    const sources = matching(f.source);
    const destinations = matching(f.destination);
    for (const d of destinations) {
      const ports = flowPorts.get(d.id) ?? [];
      for (const p of f.ports) {
        for (const n of p.endPort === undefined ? [p.number] : [p.number - 1, p.number, p.endPort, p.endPort + 1]) {
          if (n >= 1 && n <= 65535) ports.push({ number: n, protocol: p.protocol });
        }
      }
      flowPorts.set(d.id, ports);
      const reqs = requests.get(d.id) ?? [];
      for (const r of f.http) {
        const path = r.paths.length === 0 ? '/' : r.paths[0].endsWith('*') ? `${r.paths[0].slice(0, -1)}zt` : r.paths[0];
        const method = r.methods[0] ?? 'GET';
        const otherMethod = ['PATCH', 'DELETE', 'GET'].find((m) => !r.methods.includes(m));
        for (const p of f.ports.filter((x) => x.protocol === 'TCP' && x.endPort === undefined && x.number !== 53)) {
          reqs.push({ port: p.number, method, path });
          if (r.methods.length > 0 && otherMethod) reqs.push({ port: p.number, method: otherMethod, path });
          if (r.paths.length > 0) reqs.push({ port: p.number, method, path: '/zt-unmatched' });
        }
      }
      requests.set(d.id, reqs);
      for (const s of sources) pair(s, d, true);
    }
  }
  const checked = pods.filter((p) => mine.has(p.namespace!) && p.workload !== undefined);
  const n = pods.length;
  const index = new Map(pods.map((p, i) => [p.id, i]));
  const few = external.length <= 3 ? external : [external[0], external[Math.floor(external.length / 2)], external[external.length - 1]];
  for (const w of checked) {
    const i = index.get(w.id)!;
    const otherNs = groupSorted.find((ns) => ns !== w.namespace);
    for (const adversary of [intruders.get(w.namespace!)!, outsider, ...(otherNs ? [intruders.get(otherNs)!] : []), pods[(i + 1) % n]]) pair(adversary, w);
    for (const target of [outsider, pods[(i + Math.floor(n / 2)) % n], ...few]) pair(w, target);
  }
  const dnsEndpoints = new Map<string, Endpoint>();
  const dnsOf = (ns: string): Endpoint => {
    const spec = dns.get(ns) ?? KUBE_DNS;
    const key = JSON.stringify(spec);
    let e = dnsEndpoints.get(key);
    if (!e) {
      e = spec.cidr
        ? { id: `ip:${spec.cidr.split('/')[0]}`, kind: 'ip', ip: spec.cidr.split('/')[0] }
        : pods.find((p) => p.namespace === spec.namespace && Object.entries(spec.labels ?? {}).every(([k, v]) => p.labels?.[k] === v))
          ?? { ...probePod(spec.namespace!, `{${Object.entries(spec.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',')}}`, spec.labels ?? {}), ports: [{ number: 53, protocol: 'UDP' }, { number: 53, protocol: 'TCP' }] };
      dnsEndpoints.set(key, e);
    }
    return e;
  };

  const portCache = { true: new Map<Endpoint, UniversePort[]>(), false: new Map<Endpoint, UniversePort[]>() };
  const portsOf = (destination: Endpoint, declared: boolean): UniversePort[] => {
    const cache = declared ? portCache.true : portCache.false;
    let ports = cache.get(destination);
    if (!ports) {
      // Sorted by number then protocol (TCP before UDP), each once: as mergePorts sorts them.
      const keys = new Set<number>();
      for (const p of destination.ports ?? []) keys.add(p.number * 2 + (p.protocol === 'TCP' ? 0 : 1));
      for (const p of flowPorts.get(destination.id) ?? []) keys.add(p.number * 2 + (p.protocol === 'TCP' ? 0 : 1));
      if (declared || keys.size === 0) keys.add(2);
      if (destination.kind !== 'pod') keys.add(443 * 2);
      ports = [...keys].sort((a, b) => a - b).map((k) => ({ number: k >> 1, protocol: k & 1 ? 'UDP' as const : 'TCP' as const }));
      cache.set(destination, ports);
    }
    return ports;
  };
  for (const { source, destination, declared } of pairs.values()) {
    const ports = portsOf(destination, declared);
    const reqs = requests.get(destination.id) ?? [];
    for (const p of ports) {
      yield { source, destination, port: p.number, protocol: p.protocol };
      if (p.protocol !== 'TCP') continue;
      for (const r of reqs) if (r.port === p.number) yield { source, destination, port: p.number, protocol: 'TCP', http: { method: r.method, path: r.path } };
    }
  }
  for (const w of checked) {
    const d = dnsOf(w.namespace!);
    for (const protocol of ['UDP', 'TCP'] as const) yield { source: w, destination: d, port: 53, protocol };
  }
}
