/**
 * The flow matrix: the allowed connections of a set of manifests, as a reviewer reads them.
 * Probe results are grouped into rows: app workloads by `ns/name`, other parties as
 * `ns:ingress-nginx` (any pod of a namespace), `ns:*` (a pod of any other namespace),
 * `cidr:203.0.113.0/24`, `world` (an address outside every range the policies name),
 * `fqdn:api.example.com`. A row whose every probed port is allowed says `any`.
 *
 * The rows are those of asking the reader every (source, destination, port) of the universe with
 * a workload at one end, but only the connections the reader's prefilter (lib/verify/prefilter.ts)
 * says it may allow are asked: time and memory grow with the policies and the allowed rows, not
 * with the square of the endpoints times the ports. `matrixRowsByProbing` is the former way, kept
 * for the test that compares the two.
 */
import { parseCidr } from '../intent/cidr';
import { NAMESPACE_NAME_LABEL, compareStrings, inventory } from '../verify/inventory';
import { endpointIp } from '../verify/networkpolicy';
import { FlowPrefilter, OpenPrefilter, PortSet, prefilterOf } from '../verify/prefilter';
import { OUTSIDER_NAMESPACE, Universe, UniversePort, UniversePorts, portsFor } from '../verify/universe';
import { DecisionEffect, Endpoint, PolicyEvaluator, Query, SourcedManifest } from '../verify/types';
import { readerOf } from './backend';
import { L7Answer, l7Of } from './l7';
import { MtlsOf, mtlsOf, mtlsReadsEffects } from './mtls';
import { NamedRange, addressName } from './names';
import { mentions, onceFor, reportUniverse } from './universe';
import { compareText } from '../intent/collation';
import { NamespaceStage, auditMarkedRows, namespaceStages } from './audit';

/** One row of the matrix. */
export interface FlowRow {
  readonly source: string;
  readonly destination: string;
  /** `5432`, or `any` when every probed port is allowed. */
  readonly port: string;
  readonly protocol: 'TCP' | 'UDP';
  /** The L7 rule that restricts the requests (`GET /api/*`), or `''` when any request passes. */
  readonly l7: string;
  /** True when the connection must be mutually authenticated (both ends meshed, mTLS required). */
  readonly mtls: boolean;
  /** The objects that allowed it (reader's words). */
  readonly reasons: string[];
}

/** The allowed flows of a set of manifests under one backend. */
export interface FlowMatrix {
  readonly backend: string;
  readonly rows: FlowRow[];
  /** The namespaces in a rollout stage other than ENFORCE and STRICT (absent: none). */
  readonly stages?: NamespaceStage[];
}

/** Options of `flowMatrix`. */
export interface FlowMatrixOptions {
  /** Backend id; detected from the objects when absent. */
  readonly backend?: string;
  /** A ready reader (tests); `backend` then only names it. */
  readonly evaluator?: PolicyEvaluator;
  /** Extra endpoints to probe (for example `intentProbes(model).endpoints`). */
  readonly extraEndpoints?: Endpoint[];
  /**
   * The other version of a diff: the parties its policies name are asked about here too, and its
   * address ranges name addresses here, so that both versions are read over one universe (a
   * range one side drops is still a row of the other, not a removed party).
   */
  readonly comparedWith?: readonly SourcedManifest[];
}

/** Names endpoints for rows. */
export class EndpointNamer {
  private readonly workloads: Set<string>;
  /** The address ranges the manifests mention, for naming addresses (lib/report/names.ts). */
  private readonly ranges: NamedRange[];
  /** Row names of the addresses named so far (rows ask the same few addresses again and again). */
  private readonly addressNames = new Map<string, string>();

  /** `otherRanges`: address ranges of another version of the manifests (a diff's), which name addresses too. */
  public constructor(manifests: readonly SourcedManifest[], otherRanges: readonly string[] = []) {
    this.workloads = new Set(inventory(manifests).workloads.map((w) => w.id));
    const own = mentions(manifests).cidrs;
    this.ranges = [...own, ...otherRanges.filter((c) => !own.includes(c))].sort(compareText).map((text) => ({ text, parsed: parseCidr(text, 'cidr') }));
  }

  /** True for a workload object of the manifests (not a probe). */
  public isWorkload(e: Endpoint): boolean {
    return this.workloads.has(e.id);
  }

  /** The row name of an endpoint. */
  public name(e: Endpoint): string {
    if (e.kind === 'fqdn') return `fqdn:${e.host ?? e.id.replace(/^fqdn:/, '')}`;
    if (e.kind === 'ip') {
      let name = this.addressNames.get(e.id);
      if (name === undefined) {
        name = addressName(endpointIp(e), this.ranges);
        this.addressNames.set(e.id, name);
      }
      return name;
    }
    if (this.workloads.has(e.id)) return e.id;
    const ns = e.namespace ?? 'default';
    const probeName = e.id.slice(ns.length + 1);
    if (ns.startsWith(OUTSIDER_NAMESPACE) && probeName === 'zt-outsider') return 'ns:*';
    if (ns.startsWith('zt-probe-ns-')) {
      const labels = Object.entries(e.namespaceLabels ?? {}).filter(([k]) => k !== NAMESPACE_NAME_LABEL).sort();
      return `ns:{${labels.map(([k, v]) => `${k}=${v}`).join(',')}}`;
    }
    if (probeName === '*' || probeName === 'zt-intruder') return `ns:${ns}`;
    return e.id;
  }
}

/** The matrix of a set of manifests. */
export function flowMatrix(manifests: readonly SourcedManifest[], options: FlowMatrixOptions = {}): FlowMatrix {
  return onceFor(manifests, () => matrixOf(manifests, options));
}

function matrixOf(manifests: readonly SourcedManifest[], options: FlowMatrixOptions): FlowMatrix {
  const chosen = options.evaluator
    ? { backend: options.backend ?? options.evaluator.backend, evaluator: options.evaluator }
    : readerOf(manifests, options.backend);
  const other = options.comparedWith ? partiesOf(options.comparedWith) : { probes: [], ranges: [] };
  const universe = reportUniverse(manifests, [...(options.extraEndpoints ?? []), ...other.probes]);
  const rowsOf = (reader: PolicyEvaluator) => matrixRows(manifests, chosen.backend, reader, universe, other.ranges);
  // In AUDIT, the rows open only because of the audit are marked (lib/report/audit.ts).
  const rows = auditMarkedRows(manifests, chosen.evaluator, rowsOf(chosen.evaluator), rowsOf).sort(compareRows);
  const stages = namespaceStages(manifests);
  return { backend: chosen.backend, rows, ...(stages.length ? { stages } : {}) };
}

/** The parties of a version of the manifests other than its workloads (probes of what its policies name), and its address ranges. */
function partiesOf(manifests: readonly SourcedManifest[]): { probes: Endpoint[]; ranges: string[] } {
  return onceFor(manifests, () => {
    const workloads = new Set(inventory(manifests).workloads.map((w) => w.id));
    return { probes: reportUniverse(manifests).endpoints.filter((e) => !workloads.has(e.id)), ranges: mentions(manifests).cidrs };
  });
}

/** One allowed port of a row being built. */
interface Hit {
  query: Query;
  reasons: readonly string[];
  effects: readonly DecisionEffect[];
  rule: string;
  /** True once `reasons` and `effects` are this hit's own arrays (they are the decision's until a merge). */
  owned?: boolean;
}

/** The allowed ports of one (source name, destination name, protocol), in the order they were found. */
interface Cell {
  readonly source: string;
  readonly destination: string;
  readonly protocol: 'TCP' | 'UDP';
  readonly allowed: Map<number, Hit>;
  /**
   * Ports allowed with one decision, asked once (`FlowPrefilter.uniform`): `count` ports of `set`,
   * the first of them `first`, whose query is the hit's. Only in cells of one source and one
   * destination endpoint, disjoint from `allowed`.
   */
  block?: {
    readonly set: PortSet; readonly first: number; readonly count: number; readonly hit: Hit; readonly destination: Endpoint;
    /** The reasons of one port of the block, asked when read (`FlowPrefilter.reasonsNamePort`); absent: the hit's. */
    readonly reasonsOf?: (port: number) => string[];
  };
}

/**
 * Rows of the matrix over a universe. The reader is asked only the connections its prefilter
 * (`lib/verify/prefilter.ts`) says it may allow, destination by destination, sources and ports in
 * universe order: exactly the allowed queries the former all-pairs probing met, in the same order,
 * so the rows (reasons and effects merged in that order) are the same. A reader without a
 * prefilter is asked every pair.
 */
export function matrixRows(manifests: readonly SourcedManifest[], backend: string, evaluator: PolicyEvaluator, universe: Universe, otherRanges: readonly string[] = []): FlowRow[] {
  const namer = new EndpointNamer(manifests, otherRanges);
  const endpoints = universe.endpoints;
  const focus = new Uint8Array(endpoints.length);
  endpoints.forEach((e, i) => { focus[i] = namer.isWorkload(e) ? 1 : 0; });
  const scope = { endpoints, focus, destinationOrder: true };
  const prefilter: FlowPrefilter = prefilterOf(evaluator, scope) ?? new OpenPrefilter(scope);
  const names: string[] = endpoints.map((e) => namer.name(e));
  const ports = new UniversePorts(universe);
  const l7 = l7Of(backend, manifests, evaluator);
  const cells = new Map<string, Cell>();
  // Destinations by row name: a cell is complete once every destination of its name was asked.
  const byName = new Map<string, number[]>();
  names.forEach((n, i) => { const l = byName.get(n); if (l) l.push(i); else byName.set(n, [i]); });
  const mtls = mtlsOf(backend, manifests);
  const readsEffects = mtlsReadsEffects(backend);
  const rows: FlowRow[] = [];
  const finish = (cell: Cell) => {
    const asked = ports.count(byName.get(cell.destination)!.map((i) => endpoints[i]), cell.protocol);
    rows.push(...cellRows(cell, asked.size, asked.hasOne, mtls, readsEffects, ports));
  };
  const mark = new Int32Array(endpoints.length).fill(-1);
  for (let d = 0; d < endpoints.length; d++) {
    const destination = endpoints[d];
    const dName = names[d];
    const sources: number[] = [];
    for (const s of prefilter.sources(d)) {
      if (mark[s] === d || s === d) continue;
      mark[s] = d;
      if (!focus[s] && !focus[d]) continue;
      if (names[s] === dName || endpoints[s].id === destination.id) continue;
      sources.push(s);
    }
    sources.sort((a, b) => a - b);
    const opened: Cell[] = [];
    for (const s of sources) {
      const set = prefilter.ports(s, d);
      if (set.empty) continue;
      const source = endpoints[s];
      const ask = (port: number, protocol: 'TCP' | 'UDP'): { query: Query; answer: L7Answer } => {
        const query: Query = { source, destination, port, protocol };
        return { query, answer: l7(query, evaluator.evaluate(query)) };
      };
      if (byName.get(names[s])!.length === 1 && byName.get(dName)!.length === 1) {
        // A cell of this pair alone: no other pair's decisions merge into it, so its rows are made now.
        const uniform = prefilter.uniform ? prefilter.uniform(s, d).intersect(set) : PortSet.NONE;
        const namesPort = prefilter.reasonsNamePort === true;
        for (const protocol of ['TCP', 'UDP'] as const) {
          const cell: Cell = { source: names[s], destination: dName, protocol, allowed: new Map() };
          let blockPorts = 0;
          const blockSet = uniform.only(protocol);
          let mine = set.only(protocol);
          const asked = ports.count([destination], protocol);
          if (!blockSet.empty) {
            // Ports with one decision: asked once, for all.
            const { count, first } = ports.summary(destination, blockSet, protocol);
            if (count >= 2 && first !== undefined) {
              mine = mine.minus(blockSet);
              blockPorts = count;
              const { query, answer } = ask(first, protocol);
              const reasonsOf = namesPort ? (port: number) => blockReasons(cell, port, protocol, ask) : undefined;
              const hit: Hit = { query, reasons: answer.reasons, effects: answer.effects, rule: answer.rule };
              if (answer.allowed) cell.block = { set: blockSet, first, count, destination, hit, ...(reasonsOf ? { reasonsOf } : {}) };
            }
          }
          const mineCount = ports.summary(destination, mine, protocol);
          if (mineCount.count === 0 && !cell.block) continue;
          // Every port of `mine` allowed, known without asking (exact sets, no HTTP condition near, the
          // mTLS column reading no effects): the rows now, their reasons when read.
          if (blockPorts === 0 && !readsEffects && l7.plain(destination) && mine.minus(prefilter.exact?.(s, d) ?? PortSet.NONE).empty) {
            if (mineCount.count === asked.size && asked.hasOne) {
              rows.push(lazyAnyRow(cell, () => ports.within(destination, mine), { source, destination, port: mineCount.first!, protocol }, ask, mtls));
            } else {
              for (const p of ports.within(destination, mine)) rows.push(lazyPortRow(cell, { source, destination, port: p.number, protocol }, ask, mtls));
            }
            continue;
          }
          let singles = ports.within(destination, mine);
          if (singles.length + blockPorts === asked.size && asked.hasOne && (blockPorts === 0 || cell.block)) {
            if (cell.block?.reasonsOf && singles.every((p) => ask(p.number, protocol).answer.allowed)) {
              // An `any` row says every port's reasons, which a block whose sentences name the port does not have: every port is asked.
              cell.block = undefined;
              blockPorts = 0;
              singles = ports.within(destination, set.only(protocol));
            }
            const any = cell.block?.reasonsOf ? undefined : anyRow(cell, singles, ask, mtls, readsEffects);
            if (any) { rows.push(any); continue; }
          }
          for (const p of singles) {
            const { query, answer } = ask(p.number, protocol);
            if (answer.allowed) cell.allowed.set(p.number, { query, reasons: answer.reasons, effects: answer.effects, rule: answer.rule });
          }
          if (cell.allowed.size > 0 || cell.block) rows.push(...cellRows(cell, asked.size, asked.hasOne, mtls, readsEffects, ports));
        }
        continue;
      }
      const cellOf = (protocol: 'TCP' | 'UDP'): Cell => {
        const key = `${names[s]}\u0000${dName}\u0000${protocol}`;
        let cell = cells.get(key);
        if (!cell) {
          cell = { source: names[s], destination: dName, protocol, allowed: new Map() };
          cells.set(key, cell);
          opened.push(cell);
        }
        return cell;
      };
      for (const p of ports.within(destination, set)) {
        const { query, answer } = ask(p.number, p.protocol);
        if (!answer.allowed) continue;
        const cell = cellOf(p.protocol);
        const seen = cell.allowed.get(p.number);
        if (seen) merge(seen, answer);
        else cell.allowed.set(p.number, { query, reasons: answer.reasons, effects: answer.effects, rule: answer.rule });
      }
    }
    // The only destination of its name: its cells are complete, their rows can be made and the decisions let go.
    if (byName.get(dName)!.length === 1) {
      for (const cell of opened) { finish(cell); cells.delete(`${cell.source}\u0000${cell.destination}\u0000${cell.protocol}`); }
    }
  }
  // A cell is `any` when every port asked of its destinations (every pair with a workload end was) is allowed.
  for (const cell of cells.values()) finish(cell);
  return rows.sort(compareRows);
}

/**
 * The `any` row of a cell of one pair whose every asked port may be allowed, asking its ports in
 * order and keeping only what the row needs (the reasons of every port, each once, in port order;
 * the effects where the mTLS column reads them); undefined as soon as a port is denied or another
 * L7 rule appears, and the caller asks again port by port. The cell may hold a block of ports
 * already asked, which stands at its first port.
 */
function anyRow(cell: Cell, singles: readonly UniversePort[], ask: (port: number, protocol: 'TCP' | 'UDP') => { query: Query; answer: L7Answer },
  mtls: MtlsOf, readsEffects: boolean): FlowRow | undefined {
  const block = cell.block;
  const reasons = new Set<string>();
  const effects: DecisionEffect[] = [];
  let first: Hit | undefined;
  /** False when the hit's L7 rule is not the first's: then the cell has no `any` row. */
  const add = (hit: Hit): boolean => {
    if (!first) first = hit;
    else if (hit.rule !== first.rule) return false;
    // Flat first (see `flat`): hashing a string still in pieces costs more than making it flat.
    for (const r of hit.reasons) { r.charCodeAt(0); reasons.add(anyPortReason(r, hit.query)); }
    if (readsEffects) effects.push(...hit.effects);
    return true;
  };
  let blockAdded = !block;
  for (const p of singles) {
    if (!blockAdded && block!.first < p.number) {
      blockAdded = true;
      if (!add(block!.hit)) return undefined;
    }
    const { query, answer } = ask(p.number, p.protocol);
    if (!answer.allowed || !add({ query, reasons: answer.reasons, effects: answer.effects, rule: answer.rule })) return undefined;
  }
  if (!blockAdded && !add(block!.hit)) return undefined;
  const hit = first!;
  return {
    source: cell.source,
    destination: cell.destination,
    port: 'any',
    protocol: cell.protocol,
    l7: hit.rule,
    mtls: mtls(hit.query, readsEffects ? effects : hit.effects),
    reasons: flat([...reasons]),
  };
}

/**
 * The `any` row of a cell of one pair whose every asked port the reader allows, as its prefilter
 * knows exactly: made without asking; its reasons (every port's, in port order, each once) are
 * asked for when first read (a JSON output reads them, a table, a diagram or a diff's rows do not).
 */
function lazyAnyRow(cell: Cell, singles: () => readonly UniversePort[], first: Query, ask: (port: number, protocol: 'TCP' | 'UDP') => { query: Query; answer: L7Answer },
  mtls: MtlsOf): FlowRow {
  const row: FlowRow = { source: cell.source, destination: cell.destination, port: 'any', protocol: cell.protocol, l7: '', mtls: mtls(first, []), reasons: [] };
  Object.defineProperty(row, 'reasons', {
    enumerable: true,
    configurable: true,
    get: () => {
      const made = anyRow({ ...cell, allowed: new Map() }, singles(), ask, mtls, false);
      if (!made || made.l7 !== '') throw new Error(`internal error: the prefilter said every port of ${cell.source} -> ${cell.destination} ${cell.protocol} is allowed`);
      Object.defineProperty(row, 'reasons', { value: made.reasons, enumerable: true, writable: true, configurable: true });
      return made.reasons;
    },
  });
  return row;
}

/** The row of one port the reader allows, as its prefilter knows exactly: made without asking, its reasons asked for when read. */
function lazyPortRow(cell: Cell, query: Query, ask: (port: number, protocol: 'TCP' | 'UDP') => { query: Query; answer: L7Answer }, mtls: MtlsOf): FlowRow {
  const row: FlowRow = { source: cell.source, destination: cell.destination, port: String(query.port), protocol: cell.protocol, l7: '', mtls: mtls(query, []), reasons: [] };
  Object.defineProperty(row, 'reasons', {
    enumerable: true,
    configurable: true,
    get: () => {
      const { answer } = ask(query.port, query.protocol);
      if (!answer.allowed || answer.rule !== '') throw new Error(`internal error: the prefilter said ${cell.source} -> ${cell.destination} ${query.port}/${cell.protocol} is allowed`);
      const reasons = flat(answer.reasons);
      Object.defineProperty(row, 'reasons', { value: reasons, enumerable: true, writable: true, configurable: true });
      return reasons;
    },
  });
  return row;
}

/** A row whose reasons are made when first read (then kept). */
function lazyReasons(row: FlowRow, make: () => string[]): FlowRow {
  Object.defineProperty(row, 'reasons', {
    enumerable: true,
    configurable: true,
    get: () => {
      const reasons = make();
      Object.defineProperty(row, 'reasons', { value: reasons, enumerable: true, writable: true, configurable: true });
      return reasons;
    },
  });
  return row;
}

/** The reasons of one port of a block whose sentences name the port, asked of the reader. */
function blockReasons(cell: Cell, port: number, protocol: 'TCP' | 'UDP', ask: (port: number, protocol: 'TCP' | 'UDP') => { query: Query; answer: L7Answer }): string[] {
  const { answer } = ask(port, protocol);
  if (!answer.allowed || answer.rule !== cell.block?.hit.rule) throw new Error(`internal error: the prefilter said ${cell.source} -> ${cell.destination} ${port}/${protocol} is decided as ${cell.block?.first}`);
  return flat(answer.reasons);
}

function merge(seen: Hit, answer: L7Answer): void {
  if (!seen.owned) { seen.reasons = [...seen.reasons]; seen.effects = [...seen.effects]; seen.owned = true; }
  (seen.reasons as string[]).push(...answer.reasons.filter((r) => !seen.reasons.includes(r)));
  (seen.effects as DecisionEffect[]).push(...answer.effects);
  if (answer.rule !== seen.rule) seen.rule = [seen.rule, answer.rule].includes('') ? '' : [...new Set([...seen.rule.split('; '), ...answer.rule.split('; ')])].sort().join('; ');
}

/**
 * The rows of a cell: one `any` row when every asked port is allowed under one L7 rule (reasons of
 * every port, in port order, each once; the effects of all), else one per port. A block of ports
 * with one decision stands at its first port; its ports' effects are the same, given once (the
 * mTLS column reads which objects decided, not how often).
 */
function cellRows(cell: Cell, askedSize: number, askedOne: boolean, mtls: MtlsOf, readsEffects: boolean, ports: UniversePorts): FlowRow[] {
  const row = (port: string, hit: Hit): FlowRow => ({
    source: cell.source,
    destination: cell.destination,
    port,
    protocol: cell.protocol,
    l7: hit.rule,
    mtls: mtls(hit.query, hit.effects),
    reasons: flat(hit.reasons),
  });
  const block = cell.block;
  const entries = [...cell.allowed.entries()];
  if (block) entries.push([block.first, block.hit]);
  entries.sort(([a], [b]) => a - b);
  const rules = new Set(entries.map(([, h]) => h.rule));
  if (cell.allowed.size + (block?.count ?? 0) === askedSize && askedOne && rules.size === 1) {
    const reasons = new Set<string>();
    for (const [, h] of entries) for (const r of h.reasons) reasons.add(anyPortReason(r, h.query));
    // Only the backends whose mTLS column reads the effects get them all.
    const effects = readsEffects ? entries.flatMap(([, h]) => h.effects) : entries[0][1].effects;
    return [row('any', { query: entries[0][1].query, reasons: [...reasons], effects, rule: entries[0][1].rule })];
  }
  if (!block) return entries.map(([port, hit]) => row(String(port), hit));
  const out = [...cell.allowed.entries()].map(([port, hit]) => row(String(port), hit));
  const reasonsOf = block.reasonsOf;
  // Sentences that name the port: one mTLS answer for the block (alike on its ports), each port's reasons asked when read.
  const blockMtls = reasonsOf ? mtls(block.hit.query, block.hit.effects) : false;
  for (const p of ports.within(block.destination, block.set)) {
    if (p.number === block.first) { out.push(row(String(p.number), block.hit)); continue; }
    if (!reasonsOf) { out.push(row(String(p.number), { ...block.hit, query: { ...block.hit.query, port: p.number } })); continue; }
    out.push(lazyReasons({ source: cell.source, destination: cell.destination, port: String(p.number), protocol: cell.protocol, l7: block.hit.rule, mtls: blockMtls, reasons: [] },
      () => reasonsOf(p.number)));
  }
  return out.sort((a, b) => Number(a.port) - Number(b.port));
}

/**
 * A copy of the reasons, each string made flat: readers build their sentences by concatenation,
 * which V8 keeps as a tree of pieces until a character is read; a row keeps its reasons, and an
 * `any` row over a thousand ports keeps a thousand, so each is read once to keep it in a third
 * of the memory.
 */
/**
 * A reason of one port of an `any` row, said of every port: a layer that names the connection it
 * passed (`networkpolicy ip:169.254.7.127 -> prod/web:8080/TCP: allowed`) names it with port
 * `any`, so the row's reasons are one line per layer and object, not one per port (a kubelet
 * probe row of a large app would otherwise carry thousands).
 */
function anyPortReason(reason: string, query: Query): string {
  const named = `${query.destination.id}:${query.port}/${query.protocol}`;
  return reason.includes(named) ? reason.split(named).join(`${query.destination.id}:any/${query.protocol}`) : reason;
}

function flat(reasons: readonly string[]): string[] {
  const out = new Array<string>(reasons.length);
  for (let i = 0; i < reasons.length; i++) {
    const r = reasons[i];
    r.charCodeAt(0);
    out[i] = r;
  }
  return out;
}

/**
 * The former way to the same rows: every (source, destination, port) triple of the universe
 * asked. Quadratic in the endpoints times the ports; kept for the test that compares the two.
 */
export function matrixRowsByProbing(manifests: readonly SourcedManifest[], backend: string, evaluator: PolicyEvaluator, universe: Universe): FlowRow[] {
  const namer = new EndpointNamer(manifests);
  const names = new Map(universe.endpoints.map((e) => [e, namer.name(e)]));
  const groups = new Map<string, Cell & { asked: Set<number> }>();
  const l7 = l7Of(backend, manifests, evaluator);
  for (const destination of universe.endpoints) {
    const ports = portsFor(universe, destination);
    for (const source of universe.endpoints) {
      if (source.id === destination.id) continue;
      if (!namer.isWorkload(source) && !namer.isWorkload(destination)) continue;
      const s = names.get(source)!;
      const d = names.get(destination)!;
      if (s === d) continue;
      for (const p of ports) {
        const key = `${s}\u0000${d}\u0000${p.protocol}`;
        let g = groups.get(key);
        if (!g) { g = { source: s, destination: d, protocol: p.protocol, asked: new Set(), allowed: new Map() }; groups.set(key, g); }
        g.asked.add(p.number);
        const query: Query = { source, destination, port: p.number, protocol: p.protocol };
        const answer = l7(query, evaluator.evaluate(query));
        if (!answer.allowed) continue;
        const seen = g.allowed.get(p.number);
        if (seen) merge(seen, answer);
        else g.allowed.set(p.number, { query, reasons: answer.reasons, effects: answer.effects, rule: answer.rule });
      }
    }
  }
  const rows: FlowRow[] = [];
  const mtls = mtlsOf(backend, manifests);
  for (const g of groups.values()) {
    if (g.allowed.size === 0) continue;
    rows.push(...cellRows(g, g.asked.size, g.asked.has(1), mtls, mtlsReadsEffects(backend), new UniversePorts(universe)));
  }
  return rows.sort(compareRows);
}

/** Order of rows: source, destination, port (numeric, `any` first), protocol. */
export function compareRows(a: FlowRow, b: FlowRow): number {
  // A row of several ports (`1, 53, 8000-8003`: audited rows, lib/report/audit.ts) sorts by its first, then by its text.
  const port = (p: string) => (p === 'any' ? 0 : parseInt(p, 10));
  return compareStrings(a.source, b.source) || compareStrings(a.destination, b.destination) || port(a.port) - port(b.port) || compareStrings(a.protocol, b.protocol)
    || compareStrings(a.port, b.port);
}

/** `production/hero -> production/lil-deebee 5432/TCP`. */
export function rowKey(r: FlowRow): string {
  return `${r.source} -> ${r.destination} ${r.port}/${r.protocol}`;
}
