/**
 * The endpoints and ports worth asking about: every workload of the manifests, a probe for every
 * party a policy mentions (and for the parties a too-wide policy would wrongly admit), and the
 * ports that make a difference.
 */
import { ParsedCidr, cidrContains, formatIp } from '../intent/cidr';
import { NAMESPACE_NAME_LABEL, NamespaceInfo, compareStrings, implicitNamespace, inventory } from './inventory';
import { namedParties } from './backends';
import { AnyManifest, manifestOf } from './manifests';
import { CompiledPolicy, LabelSelector, compileNetworkPolicies, ipInBlock, selectorMatches } from './networkpolicy';
import { PortSet } from './prefilter';
import { Endpoint, Query } from './types';
import { compareEntries, compareText } from '../intent/collation';

/** Label on every probe pod. */
export const PROBE_LABEL = 'zero-trust.cdk8s.io/probe';
/** Namespace of the outsider probe (suffixed if some manifest mentions it). */
export const OUTSIDER_NAMESPACE = 'zt-outsider';

/** A destination port to ask about. */
export interface UniversePort {
  readonly number: number;
  readonly protocol: 'TCP' | 'UDP';
}

/** An HTTP request to ask about on a TCP port (beside the plain connection). */
export interface UniverseRequest {
  readonly port: number;
  readonly method: string;
  readonly path: string;
}

/** Endpoints and ports to ask about. */
export interface Universe {
  /** Sorted by id, ids unique. */
  readonly endpoints: Endpoint[];
  /** Ports asked of every destination, beside the destination's own container ports. */
  readonly ports: UniversePort[];
  /** Requests asked on their TCP port of every destination, beside the plain connection. @default [] */
  readonly requests?: UniverseRequest[];
}

/**
 * Builds the universe of a set of manifests. `extra` endpoints (for example `intentProbes(model)`,
 * so that a policy that lost an `except` or a selector is still probed where the intent draws
 * its lines) are added unless their id is already there; `extraPorts` join the asked ports.
 */
export function probeUniverse(manifests: readonly AnyManifest[], extra: readonly Endpoint[] = [], extraPorts: readonly UniversePort[] = [], extraRequests: readonly UniverseRequest[] = []): Universe {
  const inv = inventory(manifests);
  const policies = compileNetworkPolicies(manifests);
  const namespaces = new Map(inv.namespaces.map((n) => [n.name, n]));
  const nsInfo = (name: string): NamespaceInfo => namespaces.get(name) ?? implicitNamespace(name);
  const byId = new Map<string, Endpoint>();
  const add = (e: Endpoint) => { if (!byId.has(e.id)) byId.set(e.id, e); };
  for (const w of inv.workloads) add(w);

  const probe = (ns: NamespaceInfo, name: string, labels: { [key: string]: string }, serviceAccount = 'default'): Endpoint => ({
    id: `${ns.name}/${name}`,
    kind: 'pod',
    namespace: ns.name,
    namespaceLabels: { ...ns.labels },
    namespaceAnnotations: { ...ns.annotations },
    labels: { [PROBE_LABEL]: 'true', ...labels },
    annotations: {},
    serviceAccount,
    ports: [],
  });
  // Cluster DNS, which every default-deny namespace keeps open; a real one in the manifests wins.
  const pods = [...inv.workloads];
  if (!inv.workloads.some((w) => w.namespace === 'kube-system' && w.labels?.['k8s-app'] === 'kube-dns')) {
    const ns = nsInfo('kube-system');
    const dns: Endpoint = {
      id: 'kube-system/kube-dns',
      kind: 'pod',
      namespace: ns.name,
      namespaceLabels: { ...ns.labels },
      namespaceAnnotations: { ...ns.annotations },
      labels: { 'k8s-app': 'kube-dns' },
      annotations: {},
      serviceAccount: 'coredns',
      ports: [{ name: 'dns', number: 53, protocol: 'UDP' }, { name: 'dns-tcp', number: 53, protocol: 'TCP' }],
      workload: 'kube-dns',
    };
    pods.push(dns);
    add(dns);
  }
  // Pods by namespace and by each of their labels: a selector's pods are among those of its first matchLabels entry.
  const podIndex = new Map<string, Endpoint[]>();
  for (const w of pods) {
    for (const key of [`${w.namespace}`, ...Object.entries(w.labels ?? {}).map(([k, v]) => `${w.namespace}\0${k}\0${v}`)]) {
      (podIndex.get(key) ?? podIndex.set(key, []).get(key)!).push(w);
    }
  }
  const realPodMatches = (ns: string, sel: LabelSelector) => {
    const first = Object.entries(sel.matchLabels ?? {})[0];
    const candidates = podIndex.get(first ? `${ns}\0${first[0]}\0${first[1]}` : ns) ?? [];
    return candidates.some((w) => selectorMatches(sel, w.labels));
  };
  // A probe with the selector's labels, unless a real workload there already has them (it would
  // be indistinguishable from it).
  // Each distinct selector's label sets and probe names are worked out once: many policies name the same peer.
  const labelSets = new Map<string, Array<{ labels: { [key: string]: string }; name: string }>>();
  // The label sets of each namespace that no real pod there has (probes of their own), by name.
  const probeLabels = new Map<string, Map<string, { [key: string]: string }>>();
  // Selectors already probed in a namespace: a large app's policies name each peer many times.
  const probed = new Set<string>();
  const selectorProbe = (ns: NamespaceInfo, sel: LabelSelector) => {
    const key = JSON.stringify([sel.matchLabels ?? null, sel.matchExpressions ?? null]);
    const here = `${ns.name}\0${key}`;
    if (probed.has(here)) return;
    probed.add(here);
    let sets = labelSets.get(key);
    if (!sets) {
      sets = labelSetsSatisfying(sel).map((labels) => ({ labels, name: labelSetName(labels) }));
      labelSets.set(key, sets);
    }
    for (const { labels, name } of sets) {
      if (byId.has(`${ns.name}/${name}`) || realPodMatches(ns.name, { matchLabels: labels })) continue;
      add(probe(ns, name, labels));
      (probeLabels.get(ns.name) ?? probeLabels.set(ns.name, new Map()).get(ns.name)!).set(name, labels);
    }
  };

  const blocks: Array<{ cidr: ParsedCidr; except: ParsedCidr[] }> = [];
  const managed = new Set<string>([...policies.map((p) => p.namespace), ...inv.workloads.map((w) => w.namespace!)]);
  const mentioned = new Set<string>([...inv.namespaces.map((n) => n.name)]);
  let synthetic = 0;
  for (const p of policies) {
    for (const rule of [...p.ingress, ...p.egress]) {
      for (const peer of rule.peers ?? []) {
        if (peer.ipBlock) { blocks.push(peer.ipBlock); continue; }
        let peerNamespaces: NamespaceInfo[];
        if (!peer.namespaceSelector) {
          peerNamespaces = [nsInfo(p.namespace)];
        } else {
          const byName = peer.namespaceSelector.matchLabels?.[NAMESPACE_NAME_LABEL];
          let ns: NamespaceInfo | undefined;
          if (byName) {
            mentioned.add(byName);
            const base = nsInfo(byName);
            ns = selectorMatches(peer.namespaceSelector, base.labels) ? base : withLabels(base, labelsSatisfying(peer.namespaceSelector));
          } else {
            const known = inv.namespaces.filter((n) => selectorMatches(peer.namespaceSelector, n.labels));
            if (known.length === 0) {
              const labels = labelsSatisfying(peer.namespaceSelector);
              if (labels) ns = withLabels(implicitNamespace(`zt-probe-ns-${synthetic++}`), labels);
            } else ns = known[0];
          }
          peerNamespaces = ns ? [ns] : [];
          // Every pod of a namespace the selector names: shows whether a podSelector beside it was kept.
          for (const n of peerNamespaces) add(probe(n, '*', {}));
        }
        if (peer.podSelector) {
          for (const n of peerNamespaces) selectorProbe(n, peer.podSelector);
          // The same labels in the policy's namespace: admitted only if the namespaceSelector was dropped.
          if (peer.namespaceSelector) selectorProbe(nsInfo(p.namespace), peer.podSelector);
        }
      }
    }
  }
  for (const ns of [...managed].sort(compareText)) {
    add(probe(nsInfo(ns), 'zt-intruder', { 'zero-trust.cdk8s.io/intruder': 'true' }));
  }
  // Parties the mesh objects name by who they are (principals, identities, Cilium and Kuma selectors).
  const parties = namedParties(manifests.map(manifestOf));
  for (const party of parties) if (party.namespace !== undefined) mentioned.add(party.namespace);
  let outsider = OUTSIDER_NAMESPACE;
  for (let i = 1; mentioned.has(outsider) || managed.has(outsider); i++) outsider = `${OUTSIDER_NAMESPACE}-${i}`;
  add(probe(implicitNamespace(outsider), 'zt-outsider', {}));
  // A named account no pod of its namespace runs as: a pod of each label set probed there runs as it too.
  const accounts = new Map<string, Set<string>>();
  const runsAs = new Set(pods.map((w) => `${w.namespace}\0${w.serviceAccount ?? 'default'}`));
  for (const party of parties) {
    const ns = nsInfo(party.namespace ?? outsider);
    const labels = party.labels ?? {};
    const sa = party.serviceAccount;
    if (Object.keys(labels).length === 0) {
      if (sa === undefined) add(probe(ns, '*', {}));
      else if (!runsAs.has(`${ns.name}\0${sa}`)) (accounts.get(ns.name) ?? accounts.set(ns.name, new Set()).get(ns.name)!).add(sa);
      continue;
    }
    if (sa === undefined) {
      selectorProbe(ns, { matchLabels: { ...labels } });
      continue;
    }
    const name = labelSetName(labels);
    const first = Object.entries(labels)[0];
    if ((podIndex.get(`${ns.name}\0${first[0]}\0${first[1]}`) ?? []).some((w) => w.serviceAccount === sa && selectorMatches({ matchLabels: { ...labels } }, w.labels))) continue;
    add(probe(ns, `${name}@${sa}`, { ...labels }, sa));
  }
  for (const [ns, sas] of [...accounts].sort(([a], [b]) => compareText(a, b))) {
    for (const sa of [...sas].sort(compareText)) {
      add(probe(nsInfo(ns), `*@${sa}`, {}, sa));
      for (const [name, labels] of probeLabels.get(ns) ?? []) add(probe(nsInfo(ns), `${name}@${sa}`, labels, sa));
    }
  }
  for (const ip of probeIps(blocks)) add({ id: `ip:${ip}`, kind: 'ip', ip });
  for (const e of extra) add(e);

  return {
    endpoints: [...byId.values()].sort((a, b) => compareStrings(a.id, b.id)),
    ports: mergePorts([...policyPorts(policies), ...extraPorts, ...extraRequests.map((r) => ({ number: r.port, protocol: 'TCP' as const }))]),
    ...(extraRequests.length > 0 ? { requests: mergeRequests(extraRequests) } : {}),
  };
}

/** `{app=backup,tier=db}`: a probe's name for the pods with these labels. */
function labelSetName(labels: { [key: string]: string }): string {
  return `{${Object.entries(labels).sort(compareEntries).map(([k, v]) => `${k}=${v}`).join(',')}}`;
}

/** De-duplicated and sorted by port, method, path. */
export function mergeRequests(requests: readonly UniverseRequest[]): UniverseRequest[] {
  const out = new Map<string, UniverseRequest>();
  for (const r of requests) out.set(`${r.port} ${r.method} ${r.path}`, r);
  return [...out.values()].sort((a, b) => a.port - b.port || compareStrings(a.method, b.method) || compareStrings(a.path, b.path));
}

/** De-duplicated and sorted. */
export function mergePorts(ports: readonly UniversePort[]): UniversePort[] {
  const out = new Map<string, UniversePort>();
  for (const p of ports) out.set(`${p.number}/${p.protocol}`, p);
  return [...out.values()].sort((a, b) => a.number - b.number || compareStrings(a.protocol, b.protocol));
}

function withLabels(ns: NamespaceInfo, labels: { [key: string]: string } | undefined): NamespaceInfo {
  return { ...ns, labels: { ...ns.labels, ...(labels ?? {}), [NAMESPACE_NAME_LABEL]: ns.name } };
}

/** Some labels that satisfy a selector, or undefined when none do (contradictory expressions). */
export function labelsSatisfying(sel: LabelSelector): { [key: string]: string } | undefined {
  const labels: { [key: string]: string } = { ...(sel.matchLabels ?? {}) };
  for (const e of sel.matchExpressions ?? []) {
    if (e.operator === 'In' && !(e.key in labels)) labels[e.key] = (e.values ?? [])[0] ?? '';
    if (e.operator === 'Exists' && !(e.key in labels)) labels[e.key] = 'zt-probe';
  }
  return selectorMatches(sel, labels) ? labels : undefined;
}

/**
 * Label sets that satisfy a selector: one per value of each `In` expression (the others at their
 * first value), so every value a policy names gets a pod of its own. Empty when none satisfy it.
 */
export function labelSetsSatisfying(sel: LabelSelector): { [key: string]: string }[] {
  const first = labelsSatisfying(sel);
  if (!first) return [];
  const out = new Map<string, { [key: string]: string }>([[JSON.stringify(Object.entries(first).sort(compareEntries)), first]]);
  for (const e of sel.matchExpressions ?? []) {
    if (e.operator !== 'In' || sel.matchLabels?.[e.key] !== undefined) continue;
    for (const v of e.values ?? []) {
      const labels = { ...first, [e.key]: v };
      if (selectorMatches(sel, labels)) out.set(JSON.stringify(Object.entries(labels).sort(compareEntries)), labels);
    }
  }
  return [...out.values()];
}

/** Ports every destination is asked about: 1 (undeclared), 53, and every number and range edge in the policies. */
function policyPorts(policies: CompiledPolicy[]): UniversePort[] {
  const out = new Map<string, UniversePort>();
  const add = (n: number, protocol: string) => {
    if (Number.isInteger(n) && n >= 1 && n <= 65535 && (protocol === 'TCP' || protocol === 'UDP')) out.set(`${n}/${protocol}`, { number: n, protocol });
  };
  for (const proto of ['TCP', 'UDP']) add(1, proto);
  for (const p of policies) {
    for (const r of [...p.ingress, ...p.egress]) {
      for (const port of r.ports ?? []) {
        if (typeof port.port !== 'number') continue;
        add(port.port, port.protocol);
        if (port.endPort !== undefined) {
          add(port.endPort, port.protocol);
          add(port.endPort + 1, port.protocol);
          add(port.port - 1, port.protocol);
        }
      }
    }
  }
  return [...out.values()].sort((a, b) => a.number - b.number || compareStrings(a.protocol, b.protocol));
}

/** IPs inside each block (outside its excepts), inside each except, and outside every block. */
export function probeIps(blocks: Array<{ cidr: ParsedCidr; except: ParsedCidr[] }>): string[] {
  const out = new Set<string>();
  const bitsOf = (f: 4 | 6) => (f === 4 ? 32 : 128);
  const first = (c: ParsedCidr) => (c.address >> BigInt(bitsOf(c.family) - c.prefix)) << BigInt(bitsOf(c.family) - c.prefix);
  const last = (c: ParsedCidr) => first(c) + (1n << BigInt(bitsOf(c.family) - c.prefix)) - 1n;
  const max = (f: 4 | 6) => (1n << BigInt(bitsOf(f))) - 1n;
  for (const b of blocks) {
    const candidates = [first(b.cidr) + 1n, first(b.cidr), last(b.cidr), ...b.except.flatMap((x) => [first(x) - 1n, last(x) + 1n])];
    const inside = candidates.find((a) => a >= 0n && a <= max(b.cidr.family) && ipInBlock({ family: b.cidr.family, value: a }, b.cidr, b.except));
    if (inside !== undefined) out.add(formatIp(b.cidr.family, inside));
    for (const x of b.except) out.add(formatIp(x.family, first(x)));
  }
  // The internet is always a party: an IPv4 address outside every range (IPv6 when some range is IPv6).
  for (const family of [4, 6] as const) {
    const mine = blocks.filter((b) => b.cidr.family === family);
    if (mine.length === 0 && family === 6) continue;
    const fixed = family === 4 ? 0xc0000201n /* 192.0.2.1 */ : 0x20010db8000000000000000000000001n; /* 2001:db8::1 */
    const candidates = [fixed, ...mine.flatMap((b) => [first(b.cidr) - 1n, last(b.cidr) + 1n])];
    const outside = candidates.find((a) => a >= 0n && a <= max(family) && !mine.some((b) => cidrContains(b.cidr, a)));
    if (outside !== undefined) out.add(formatIp(family, outside));
  }
  return [...out].sort(compareText);
}

/** The ports to ask of one destination: its container ports and the universe's ports. */
export function portsFor(universe: Universe, destination: Endpoint): UniversePort[] {
  const out = new Map<string, UniversePort>();
  for (const p of destination.ports ?? []) out.set(`${p.number}/${p.protocol}`, { number: p.number, protocol: p.protocol });
  for (const p of universe.ports) out.set(`${p.number}/${p.protocol}`, p);
  return [...out.values()].sort((a, b) => a.number - b.number || compareStrings(a.protocol, b.protocol));
}

/**
 * Every (source, destination, port, protocol) of the universe with source != destination, each
 * followed by the universe's requests on that port (TCP only).
 */
export function queries(universe: Universe): Query[] {
  const out: Query[] = [];
  const requests = new Map<number, UniverseRequest[]>();
  for (const r of universe.requests ?? []) requests.set(r.port, [...(requests.get(r.port) ?? []), r]);
  for (const destination of universe.endpoints) {
    const ports = portsFor(universe, destination);
    for (const source of universe.endpoints) {
      if (source.id === destination.id) continue;
      for (const p of ports) {
        out.push({ source, destination, port: p.number, protocol: p.protocol });
        if (p.protocol !== 'TCP') continue;
        for (const r of requests.get(p.number) ?? []) {
          out.push({ source, destination, port: p.number, protocol: p.protocol, http: { method: r.method, path: r.path } });
        }
      }
    }
  }
  return out;
}

/**
 * The ports `portsFor` gives each destination, without building the list per destination: the
 * universe's ports once, by protocol, plus each destination's own; `within` gives those inside a
 * port set, in `portsFor` order.
 */
export class UniversePorts {
  private readonly tcp: number[] = [];
  private readonly udp: number[] = [];
  private readonly shared: Set<string>;

  public constructor(universe: Universe) {
    for (const p of universe.ports) (p.protocol === 'TCP' ? this.tcp : this.udp).push(p.number);
    this.tcp.sort((a, b) => a - b);
    this.udp.sort((a, b) => a - b);
    this.shared = new Set(universe.ports.map((p) => `${p.number}/${p.protocol}`));
  }

  /** The ports of `portsFor(universe, destination)` that lie in `set`, in the same order. */
  public within(destination: Endpoint, set: PortSet): UniversePort[] {
    if (set.empty) return [];
    const keys: number[] = [];
    const collect = (list: number[], intervals: readonly number[], protocol: number) => {
      for (let i = 0; i < intervals.length; i += 2) {
        for (let k = lowerBound(list, intervals[i]); k < list.length && list[k] <= intervals[i + 1]; k++) keys.push(list[k] * 2 + protocol);
      }
    };
    collect(this.tcp, set.tcp, 0);
    collect(this.udp, set.udp, 1);
    for (const p of destination.ports ?? []) {
      if (this.shared.has(`${p.number}/${p.protocol}`) || !set.has(p.protocol, p.number)) continue;
      keys.push(p.number * 2 + (p.protocol === 'TCP' ? 0 : 1));
    }
    keys.sort((a, b) => a - b);
    const out: UniversePort[] = [];
    for (let i = 0; i < keys.length; i++) {
      if (i > 0 && keys[i] === keys[i - 1]) continue;
      out.push({ number: keys[i] >> 1, protocol: keys[i] & 1 ? 'UDP' : 'TCP' });
    }
    return out;
  }

  /** The destination's own ports that are not among the universe's (each once): what `portsFor` adds for it. */
  public extra(destination: Endpoint): UniversePort[] {
    const out = new Map<string, UniversePort>();
    for (const p of destination.ports ?? []) {
      const key = `${p.number}/${p.protocol}`;
      if (!this.shared.has(key)) out.set(key, { number: p.number, protocol: p.protocol });
    }
    return [...out.values()];
  }

  /** How many ports of `portsFor(universe, destination)` lie in `set` (one protocol's), and the first of them. */
  public summary(destination: Endpoint, set: PortSet, protocol: 'TCP' | 'UDP'): { count: number; first?: number } {
    const list = protocol === 'TCP' ? this.tcp : this.udp;
    const intervals = set.of(protocol);
    let count = 0;
    let first: number | undefined;
    for (let i = 0; i < intervals.length; i += 2) {
      const lo = lowerBound(list, intervals[i]);
      const hi = lowerBound(list, intervals[i + 1] + 1);
      count += hi - lo;
      if (hi > lo && first === undefined) first = list[lo];
    }
    const extra = new Set<number>();
    for (const p of destination.ports ?? []) {
      if (p.protocol !== protocol || this.shared.has(`${p.number}/${p.protocol}`) || !set.has(protocol, p.number)) continue;
      extra.add(p.number);
    }
    for (const n of extra) if (first === undefined || n < first) first = n;
    return { count: count + extra.size, ...(first !== undefined ? { first } : {}) };
  }

  /** How many ports of `protocol` `portsFor` gives the union of these destinations, and whether port 1 is among them. */
  public count(destinations: readonly Endpoint[], protocol: 'TCP' | 'UDP'): { size: number; hasOne: boolean } {
    const base = protocol === 'TCP' ? this.tcp : this.udp;
    const extra = new Set<number>();
    for (const d of destinations) {
      for (const p of d.ports ?? []) if (p.protocol === protocol && !this.shared.has(`${p.number}/${p.protocol}`)) extra.add(p.number);
    }
    return { size: base.length + extra.size, hasOne: base.includes(1) || extra.has(1) };
  }
}

function lowerBound(list: readonly number[], value: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
