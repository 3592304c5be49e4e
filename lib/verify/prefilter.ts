/**
 * Prefilters: what a reader can say about a whole set of endpoints at once, so that the report,
 * `verify` and the self-check ask it only the connections it might allow instead of every
 * (source, destination, port) triple.
 *
 * A reader's prefilter answers two questions over a fixed list of endpoints (a universe):
 * `sources(d)`, the endpoints that may reach endpoint `d` on some port, and `ports(s, d)`, the
 * destination ports on which they may. Both are supersets: a connection outside them is surely
 * denied by the reader (any request on it too), a connection inside them is then asked of the
 * reader as before. The reader stays the one source of truth; the prefilter only says where its
 * answer cannot be "allowed", from the same objects (selectors matched through label indexes,
 * ports carried as intervals), in time linear in the policies and in the pairs they admit.
 *
 * The idea is np-guard's connectivity analysis (connections as sets per pair of peers), used to
 * prune rather than to answer.
 */
import { LabelSelector, selectorMatches } from './networkpolicy';
import { Endpoint, PolicyEvaluator, Query } from './types';

/** A set of destination ports, as disjoint sorted intervals per protocol. */
export class PortSet {
  /** No port. */
  public static readonly NONE = new PortSet([], []);
  /** Every TCP and UDP port. */
  public static readonly ALL = new PortSet([1, 65535], [1, 65535]);
  /** Every TCP port. */
  public static readonly ALL_TCP = new PortSet([1, 65535], []);
  /** Every UDP port. */
  public static readonly ALL_UDP = new PortSet([], [1, 65535]);

  /** The ports of a list of ranges (`hi` defaults to `lo`). */
  public static of(ranges: ReadonlyArray<{ protocol: string; lo: number; hi?: number }>): PortSet {
    const tcp: number[][] = [];
    const udp: number[][] = [];
    for (const r of ranges) {
      const hi = r.hi ?? r.lo;
      if (!(hi >= r.lo)) continue;
      if (r.protocol === 'TCP') tcp.push([r.lo, hi]);
      else if (r.protocol === 'UDP') udp.push([r.lo, hi]);
    }
    return new PortSet(normalize(tcp), normalize(udp));
  }

  /** One port. */
  public static single(protocol: 'TCP' | 'UDP', port: number): PortSet {
    return protocol === 'TCP' ? new PortSet([port, port], []) : new PortSet([], [port, port]);
  }

  /** Flattened `[lo, hi, lo, hi, ...]`, sorted and disjoint. */
  private constructor(public readonly tcp: readonly number[], public readonly udp: readonly number[]) {}

  public get empty(): boolean {
    return this.tcp.length === 0 && this.udp.length === 0;
  }

  /** The intervals of one protocol. */
  public of(protocol: 'TCP' | 'UDP'): readonly number[] {
    return protocol === 'TCP' ? this.tcp : this.udp;
  }

  /** Only the ports of one protocol. */
  public only(protocol: 'TCP' | 'UDP'): PortSet {
    if (protocol === 'TCP') return this.udp.length === 0 ? this : this.tcp.length === 0 ? PortSet.NONE : new PortSet(this.tcp, []);
    return this.tcp.length === 0 ? this : this.udp.length === 0 ? PortSet.NONE : new PortSet([], this.udp);
  }

  public has(protocol: 'TCP' | 'UDP', port: number): boolean {
    const list = this.of(protocol);
    for (let i = 0; i < list.length; i += 2) {
      if (port < list[i]) return false;
      if (port <= list[i + 1]) return true;
    }
    return false;
  }

  public union(o: PortSet): PortSet {
    if (o.empty || o === this) return this;
    if (this.empty) return o;
    if (this === PortSet.ALL || o === PortSet.ALL) return PortSet.ALL;
    return new PortSet(unionOf(this.tcp, o.tcp), unionOf(this.udp, o.udp));
  }

  /** The ports of this set that are not in `o`. */
  public minus(o: PortSet): PortSet {
    if (o.empty || this.empty) return this;
    if (o === PortSet.ALL || o === this) return PortSet.NONE;
    const tcp = differenceOf(this.tcp, o.tcp);
    const udp = differenceOf(this.udp, o.udp);
    return tcp.length === 0 && udp.length === 0 ? PortSet.NONE : new PortSet(tcp, udp);
  }

  public intersect(o: PortSet): PortSet {
    if (o === PortSet.ALL || o === this) return this;
    if (this === PortSet.ALL) return o;
    if (this.empty || o.empty) return PortSet.NONE;
    const tcp = intersectionOf(this.tcp, o.tcp);
    const udp = intersectionOf(this.udp, o.udp);
    return tcp.length === 0 && udp.length === 0 ? PortSet.NONE : new PortSet(tcp, udp);
  }
}

function normalize(ranges: number[][]): number[] {
  ranges.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [lo, hi] of ranges) {
    const n = out.length;
    if (n > 0 && lo <= out[n - 1] + 1) out[n - 1] = Math.max(out[n - 1], hi);
    else out.push(lo, hi);
  }
  return out;
}

function unionOf(a: readonly number[], b: readonly number[]): readonly number[] {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const ranges: number[][] = [];
  for (let i = 0; i < a.length; i += 2) ranges.push([a[i], a[i + 1]]);
  for (let i = 0; i < b.length; i += 2) ranges.push([b[i], b[i + 1]]);
  return normalize(ranges);
}

function differenceOf(a: readonly number[], b: readonly number[]): readonly number[] {
  if (b.length === 0) return a;
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < a.length; i += 2) {
    let lo = a[i];
    const hi = a[i + 1];
    while (j < b.length && b[j + 1] < lo) j += 2;
    let k = j;
    while (k < b.length && b[k] <= hi) {
      if (b[k] > lo) out.push(lo, b[k] - 1);
      lo = Math.max(lo, b[k + 1] + 1);
      k += 2;
    }
    if (lo <= hi) out.push(lo, hi);
  }
  return out;
}

function intersectionOf(a: readonly number[], b: readonly number[]): readonly number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const lo = Math.max(a[i], b[j]);
    const hi = Math.min(a[i + 1], b[j + 1]);
    if (lo <= hi) out.push(lo, hi);
    if (a[i + 1] < b[j + 1]) i += 2;
    else j += 2;
  }
  return out;
}

/** Ports of a rule: numbers and ranges, plus named ports resolved on each destination pod. */
export interface RulePorts {
  readonly set: PortSet;
  /** Named container ports (`http`), resolved against the destination's ports. */
  readonly named?: ReadonlyArray<{ readonly name: string; readonly protocol: 'TCP' | 'UDP' | 'ANY' }>;
}

/** The ports a rule admits on a given destination. */
function resolvePorts(p: RulePorts, destination: Endpoint): PortSet {
  if (!p.named || p.named.length === 0) return p.set;
  const extra: Array<{ protocol: string; lo: number }> = [];
  for (const n of p.named) {
    for (const cp of destination.ports ?? []) {
      if (cp.name !== n.name) continue;
      // Any protocol: a reader may match the container port's number whatever the query's protocol.
      if (n.protocol === 'ANY') extra.push({ protocol: 'TCP', lo: cp.number }, { protocol: 'UDP', lo: cp.number });
      else if (cp.protocol === n.protocol) extra.push({ protocol: cp.protocol, lo: cp.number });
    }
  }
  return extra.length === 0 ? p.set : p.set.union(PortSet.of(extra));
}

/** What a reader may allow over a list of endpoints (indices into it); both answers are supersets. */
export interface FlowPrefilter {
  /**
   * The endpoints that may reach endpoint `d` on some port, in any order, possibly repeated. Only
   * pairs with a focused end (`PrefilterScope.focus`) need be listed.
   */
  sources(d: number): Iterable<number>;
  /** The destination ports on which `s` may reach `d` (`PortSet.NONE` when it surely may not). */
  ports(s: number, d: number): PortSet;
  /**
   * Ports on which the reader's decision on `s` to `d` does not depend on the port: every query
   * on them, with a request or without, gets the same decision (allowed, effects and reasons
   * alike) as the same query on any other of them (an NSM connection, every TCP port Cilium sees
   * as HBONE). Asking one of them answers for all. @default none
   */
  uniform?(s: number, d: number): PortSet;
  /**
   * True when, on the `uniform` ports, only the decision's sentences differ from port to port (they
   * name the port: Linkerd's default inbound policy): allowed, effects' verdicts and objects, and
   * the mTLS column are still alike, and a caller that shows the reasons asks each port for them
   * when they are read. @default false
   */
  readonly reasonsNamePort?: boolean;
  /**
   * Ports on which `ports(s, d)` is exact, not a superset: on them the reader allows every query
   * (with a request or without) on exactly the ports of `ports(s, d)` (the NetworkPolicy layer,
   * whose sets are its rules). @default none
   */
  exact?(s: number, d: number): PortSet;
}

/** The endpoints a prefilter is about. */
export interface PrefilterScope {
  /** The endpoints; indices into this list name them. */
  readonly endpoints: readonly Endpoint[];
  /** Pairs where neither end is focused are not asked about. @default every endpoint is focused */
  readonly focus?: Uint8Array;
  /**
   * The caller asks about one destination after the other, each once (sources, then their ports),
   * so a prefilter need keep only what it knows of the current one. @default false
   */
  readonly destinationOrder?: boolean;
}

/** A reader that can prefilter. */
export interface Prefiltering {
  /** Its prefilter over a scope, or undefined when it cannot say anything (every pair, every port). */
  prefilter(scope: PrefilterScope): FlowPrefilter | undefined;
}

/** True when the reader offers a prefilter. */
function isPrefiltering(x: unknown): x is Prefiltering {
  return typeof (x as Prefiltering | undefined)?.prefilter === 'function';
}

/** The prefilter of a reader over a scope, if it has one. */
export function prefilterOf(reader: unknown, scope: PrefilterScope): FlowPrefilter | undefined {
  return isPrefiltering(reader) ? reader.prefilter(scope) : undefined;
}

/** A reader that can say whether it allows a query without saying why (cheaper than `evaluate`). */
export interface Verdicts {
  allows(q: Query): boolean;
}

/** The reader's verdicts: its `allows` when it has one, else `evaluate(q).allowed`. */
export function verdictsOf(reader: PolicyEvaluator): (q: Query) => boolean {
  const fast = (reader as Partial<Verdicts>).allows;
  return typeof fast === 'function' ? (q) => fast.call(reader, q) : (q) => reader.evaluate(q).allowed;
}

/** Every endpoint (or every focused one) reaches every endpoint on every port: no pruning. */
export class OpenPrefilter implements FlowPrefilter {
  private readonly all: number[];
  private readonly focused: number[];

  public constructor(private readonly scope: PrefilterScope) {
    this.all = scope.endpoints.map((_, i) => i);
    this.focused = scope.focus ? this.all.filter((i) => scope.focus![i]) : this.all;
  }

  public sources(d: number): Iterable<number> {
    return this.scope.focus && !this.scope.focus[d] ? this.focused : this.all;
  }

  public ports(): PortSet {
    return PortSet.ALL;
  }
}

/**
 * Label indexes over the pods of a list of endpoints: which pods carry `key=value`, by namespace.
 * Selectors are matched through the smallest posting list, then checked in full.
 */
export class EndpointIndex {
  /** Indices of pod endpoints, ascending. */
  public readonly pods: number[] = [];
  /** Indices of `ip` endpoints, ascending. */
  public readonly ips: number[] = [];
  /** Indices of `fqdn` endpoints, ascending. */
  public readonly fqdns: number[] = [];
  /** Pods by namespace. */
  public readonly byNamespace = new Map<string, number[]>();
  private readonly byLabel = new Map<string, number[]>();
  private readonly byNamespaceLabel = new Map<string, number[]>();

  public constructor(public readonly endpoints: readonly Endpoint[]) {
    endpoints.forEach((e, i) => {
      if (e.kind === 'ip') { this.ips.push(i); return; }
      if (e.kind === 'fqdn') { this.fqdns.push(i); return; }
      this.pods.push(i);
      push(this.byNamespace, e.namespace ?? 'default', i);
      for (const [k, v] of Object.entries(e.labels ?? {})) {
        push(this.byLabel, `${k}\0${v}`, i);
        push(this.byNamespaceLabel, `${e.namespace ?? 'default'}\0${k}\0${v}`, i);
      }
    });
  }

  /** Pods (ascending) whose labels may satisfy the selector: a superset, from its matchLabels or `In` expressions. */
  public candidates(sel: LabelSelector | null | undefined, namespace?: string): readonly number[] {
    const ns = namespace === undefined ? '' : `${namespace}\0`;
    const list = namespace === undefined ? this.byLabel : this.byNamespaceLabel;
    const all = namespace === undefined ? this.pods : this.byNamespace.get(namespace) ?? [];
    let best: readonly number[] | undefined;
    for (const [k, v] of Object.entries(sel?.matchLabels ?? {})) {
      const hit = list.get(`${ns}${k}\0${v}`) ?? [];
      if (!best || hit.length < best.length) best = hit;
    }
    for (const e of sel?.matchExpressions ?? []) {
      if (e.operator !== 'In') continue;
      const values = [...new Set(e.values ?? [])];
      let size = 0;
      const lists = values.map((v) => { const l = list.get(`${ns}${e.key}\0${v}`) ?? []; size += l.length; return l; });
      if (best && size >= best.length) continue;
      best = lists.length === 1 ? lists[0] : mergeSorted(lists);
    }
    return best ?? all;
  }

  /** Pods (ascending) of `namespace` (every namespace when undefined) whose labels satisfy the selector. */
  public select(sel: LabelSelector | null | undefined, namespace?: string): number[] {
    return this.candidates(sel, namespace).filter((i) => selectorMatches(sel, this.endpoints[i].labels));
  }
}

function push<K>(m: Map<K, number[]>, k: K, v: number): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

/** Union of ascending lists, ascending, without repeats. */
function mergeSorted(lists: ReadonlyArray<readonly number[]>): number[] {
  const out = lists.flatMap((l) => l as number[]).sort((a, b) => a - b);
  let n = 0;
  for (let i = 0; i < out.length; i++) if (i === 0 || out[i] !== out[i - 1]) out[n++] = out[i];
  out.length = n;
  return out;
}

/** A rule of one direction: the peers it names (undefined: every peer) and the destination ports it admits. */
export interface SideRule {
  readonly peers?: ReadonlySet<number>;
  readonly ports: RulePorts;
}

/**
 * A layer where each endpoint is either open in a direction or closed but for the rules of the
 * policies that select it (NetworkPolicy, Cilium).
 */
export interface SidedLayer {
  /** The rules that open a direction of endpoint `i`; undefined when nothing closes it. */
  side(i: number, direction: 'ingress' | 'egress'): readonly SideRule[] | undefined;
  /** Every policy with egress rules: the endpoints it closes for egress and its rules (for the reverse index). */
  egressPolicies(): Iterable<{ readonly subjects: readonly number[]; readonly rules: readonly SideRule[] }>;
  /** True when the reader decides by exactly these rules (no deny rules, no name resolution, nothing else). */
  readonly exact?: boolean;
}

/** What a destination's ingress admits: ports of every source, and ports of the sources its rules name. */
interface IngressSide {
  readonly all: PortSet;
  readonly some: Map<number, PortSet>;
}

const OPEN_INGRESS: IngressSide = { all: PortSet.ALL, some: new Map() };

/**
 * The prefilter of a `SidedLayer`: a destination's ingress names its sources (or every source,
 * when it is open or a rule names no peer), each source's egress is checked per pair, and the
 * destinations open to everyone find the closed sources that reach them through a reverse index
 * of egress rules. Work is linear in the rules' peers plus the pairs they admit.
 */
export class SidedPrefilter implements FlowPrefilter {
  private readonly endpoints: readonly Endpoint[];
  /** Sources open for egress. */
  private readonly open: number[] = [];
  private last?: { d: number; side: IngressSide };
  /** Sides kept for callers that come back to a destination (those that go in destination order need only the last). */
  private readonly sides = new Map<number, IngressSide>();
  private readonly destinationOrder: boolean;
  private reverse?: { byDestination: Map<number, Array<readonly number[]>>; everywhere: Array<readonly number[]> };

  public constructor(private readonly layer: SidedLayer, scope: PrefilterScope) {
    this.endpoints = scope.endpoints;
    this.destinationOrder = scope.destinationOrder === true;
    for (let i = 0; i < scope.endpoints.length; i++) if (!layer.side(i, 'egress')) this.open.push(i);
  }

  public sources(d: number): Iterable<number> {
    const side = this.ingress(d);
    if (side.all.empty) return side.some.keys();
    const out: number[] = [...this.open, ...side.some.keys()];
    const reverse = this.reverseIndex();
    for (const subjects of reverse.everywhere) for (const s of subjects) out.push(s);
    for (const subjects of reverse.byDestination.get(d) ?? []) for (const s of subjects) out.push(s);
    return out;
  }

  public ports(s: number, d: number): PortSet {
    const ingress = this.ingressPorts(s, d);
    return ingress.empty ? ingress : ingress.intersect(this.egressPorts(s, d));
  }

  public exact(): PortSet {
    return this.layer.exact ? PortSet.ALL : PortSet.NONE;
  }

  /** The ports `d`'s ingress admits from `s`. */
  public ingressPorts(s: number, d: number): PortSet {
    const side = this.ingress(d);
    return side.all.union(side.some.get(s) ?? PortSet.NONE);
  }

  /** The ports `s`'s egress admits to `d`. */
  public egressPorts(s: number, d: number): PortSet {
    const rules = this.layer.side(s, 'egress');
    if (!rules) return PortSet.ALL;
    let out = PortSet.NONE;
    for (const r of rules) {
      if (r.peers && !r.peers.has(d)) continue;
      out = out.union(resolvePorts(r.ports, this.endpoints[d]));
    }
    return out;
  }

  /** What `d`'s ingress admits (kept: callers ask about each destination's sources in turn). */
  private ingress(d: number): IngressSide {
    if (this.last?.d === d) return this.last.side;
    const known = this.sides.get(d);
    if (known) { this.last = { d, side: known }; return known; }
    const rules = this.layer.side(d, 'ingress');
    let side = OPEN_INGRESS;
    if (rules) {
      let all = PortSet.NONE;
      const some = new Map<number, PortSet>();
      for (const r of rules) {
        const ports = resolvePorts(r.ports, this.endpoints[d]);
        if (ports.empty) continue;
        if (!r.peers) { all = all.union(ports); continue; }
        for (const s of r.peers) some.set(s, (some.get(s) ?? PortSet.NONE).union(ports));
      }
      side = { all, some };
    }
    this.last = { d, side };
    if (!this.destinationOrder) this.sides.set(d, side);
    return side;
  }

  private reverseIndex(): { byDestination: Map<number, Array<readonly number[]>>; everywhere: Array<readonly number[]> } {
    if (!this.reverse) {
      const byDestination = new Map<number, Array<readonly number[]>>();
      const everywhere: Array<readonly number[]> = [];
      for (const p of this.layer.egressPolicies()) {
        if (p.subjects.length === 0) continue;
        if (p.rules.some((r) => !r.peers)) { everywhere.push(p.subjects); continue; }
        const seen = new Set<number>();
        for (const r of p.rules) {
          for (const d of r.peers!) {
            if (seen.has(d)) continue;
            seen.add(d);
            const l = byDestination.get(d);
            if (l) l.push(p.subjects);
            else byDestination.set(d, [p.subjects]);
          }
        }
      }
      this.reverse = { byDestination, everywhere };
    }
    return this.reverse;
  }
}

/**
 * Objects that select pods by a label map (an AuthorizationPolicy's `selector.matchLabels`, a
 * Service's `selector`), indexed by namespace and by the first entry of their map, so a reader
 * finds the candidates for a pod without scanning every object of the manifests.
 */
export class SelectorIndex<T> {
  private readonly order = new Map<T, number>();
  private readonly everyPod = new Map<string, T[]>();
  private readonly byEntry = new Map<string, T[]>();

  /**
   * @param items the objects, in the order the reader considers them
   * @param namespaceOf the namespace an object applies in
   * @param selectorOf its label map; undefined or `{}` when it selects every pod of its namespace, null when it selects none
   */
  public constructor(items: readonly T[], namespaceOf: (t: T) => string | undefined, selectorOf: (t: T) => { [key: string]: string } | undefined | null) {
    items.forEach((t, i) => {
      this.order.set(t, i);
      const sel = selectorOf(t);
      if (sel === null) return;
      const ns = namespaceOf(t) ?? '';
      const first = sel ? Object.entries(sel)[0] : undefined;
      if (!first) push2(this.everyPod, ns, t);
      else push2(this.byEntry, `${ns}\0${first[0]}\0${first[1]}`, t);
    });
  }

  /** Objects of these namespaces that may select a pod with these labels (a superset: check the selector), in item order. */
  public candidates(namespaces: ReadonlyArray<string | undefined>, labels: { [key: string]: string } | undefined): T[] {
    const out: T[] = [];
    let lists = 0;
    const add = (l: readonly T[] | undefined) => { if (l && l.length) { out.push(...l); lists++; } };
    const seen = new Set<string>();
    for (const namespace of namespaces) {
      const ns = namespace ?? '';
      if (seen.has(ns)) continue;
      seen.add(ns);
      add(this.everyPod.get(ns));
      for (const [k, v] of Object.entries(labels ?? {})) add(this.byEntry.get(`${ns}\0${k}\0${v}`));
    }
    return lists > 1 ? out.sort((a, b) => this.order.get(a)! - this.order.get(b)!) : out;
  }
}

function push2<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}
