/**
 * The flow matrix: the allowed connections of a set of manifests, as a reviewer reads them.
 * Probe results are grouped into rows: app workloads by `ns/name`, other parties as
 * `ns:ingress-nginx` (any pod of a namespace), `ns:*` (a pod of any other namespace),
 * `cidr:203.0.113.0/24`, `world` (an address outside every range the policies name),
 * `fqdn:api.example.com`. A row whose every probed port is allowed says `any`.
 */
import { ParsedCidr, cidrContains, parseCidr } from '../intent/cidr';
import { NAMESPACE_NAME_LABEL, compareStrings, inventory } from '../verify/inventory';
import { endpointIp } from '../verify/networkpolicy';
import { OpenPrefilter, prefilterOf } from '../verify/prefilter';
import { OUTSIDER_NAMESPACE, Universe, UniversePorts, portsFor } from '../verify/universe';
import { DecisionEffect, Endpoint, PolicyEvaluator, Query, SourcedManifest } from '../verify/types';
import { readerOf } from './backend';
import { L7Answer, l7Of } from './l7';
import { MtlsOf, mtlsOf } from './mtls';
import { mentions, reportUniverse } from './universe';

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
}

/** Options of `flowMatrix`. */
export interface FlowMatrixOptions {
  /** Backend id; detected from the objects when absent. */
  readonly backend?: string;
  /** A ready reader (tests); `backend` then only names it. */
  readonly evaluator?: PolicyEvaluator;
  /** Extra endpoints to probe (for example `intentProbes(model).endpoints`). */
  readonly extraEndpoints?: Endpoint[];
}

/** Names endpoints for rows. */
export class EndpointNamer {
  private readonly workloads: Set<string>;
  private readonly cidrs: Array<{ text: string; parsed: ParsedCidr }>;

  public constructor(manifests: readonly SourcedManifest[]) {
    this.workloads = new Set(inventory(manifests).workloads.map((w) => w.id));
    this.cidrs = mentions(manifests).cidrs.map((text) => ({ text, parsed: parseCidr(text, 'cidr') }));
  }

  /** True for a workload object of the manifests (not a probe). */
  public isWorkload(e: Endpoint): boolean {
    return this.workloads.has(e.id);
  }

  /** The row name of an endpoint. */
  public name(e: Endpoint): string {
    if (e.kind === 'fqdn') return `fqdn:${e.host ?? e.id.replace(/^fqdn:/, '')}`;
    if (e.kind === 'ip') {
      const ip = endpointIp(e);
      const containing = this.cidrs
        .filter((c) => ip && c.parsed.family === ip.family && cidrContains(c.parsed, ip.value))
        .sort((a, b) => b.parsed.prefix - a.parsed.prefix);
      return containing.length > 0 ? `cidr:${containing[0].text}` : 'world';
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
  const chosen = options.evaluator
    ? { backend: options.backend ?? options.evaluator.backend, evaluator: options.evaluator }
    : readerOf(manifests, options.backend);
  const universe = reportUniverse(manifests, options.extraEndpoints ?? []);
  return { backend: chosen.backend, rows: matrixRows(manifests, chosen.backend, chosen.evaluator, universe) };
}

/** One allowed port of a row being built. */
interface Hit {
  query: Query;
  reasons: string[];
  effects: DecisionEffect[];
  rule: string;
}

/** The allowed ports of one (source name, destination name, protocol), in the order they were found. */
interface Cell {
  readonly source: string;
  readonly destination: string;
  readonly protocol: 'TCP' | 'UDP';
  readonly allowed: Map<number, Hit>;
}

/**
 * Rows of the matrix over a universe. The reader is asked only the connections its prefilter
 * (`lib/verify/prefilter.ts`) says it may allow, destination by destination, sources and ports in
 * universe order: exactly the allowed queries the former all-pairs probing met, in the same order,
 * so the rows (reasons and effects merged in that order) are the same. A reader without a
 * prefilter is asked every pair.
 */
export function matrixRows(manifests: readonly SourcedManifest[], backend: string, evaluator: PolicyEvaluator, universe: Universe): FlowRow[] {
  const namer = new EndpointNamer(manifests);
  const endpoints = universe.endpoints;
  const focus = new Uint8Array(endpoints.length);
  endpoints.forEach((e, i) => { focus[i] = namer.isWorkload(e) ? 1 : 0; });
  const scope = { endpoints, focus };
  const prefilter = prefilterOf(evaluator, scope) ?? new OpenPrefilter(scope);
  const names: string[] = endpoints.map((e) => namer.name(e));
  const ports = new UniversePorts(universe);
  const l7 = l7Of(backend, manifests, evaluator);
  const cells = new Map<string, Cell>();
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
    for (const s of sources) {
      const set = prefilter.ports(s, d);
      if (set.empty) continue;
      const source = endpoints[s];
      for (const p of ports.within(destination, set)) {
        const query: Query = { source, destination, port: p.number, protocol: p.protocol };
        const answer = l7(query, evaluator.evaluate(query));
        if (!answer.allowed) continue;
        const key = `${names[s]}\u0000${dName}\u0000${p.protocol}`;
        let cell = cells.get(key);
        if (!cell) { cell = { source: names[s], destination: dName, protocol: p.protocol, allowed: new Map() }; cells.set(key, cell); }
        const seen = cell.allowed.get(p.number);
        if (seen) merge(seen, answer);
        else cell.allowed.set(p.number, { query, reasons: [...answer.reasons], effects: [...answer.effects], rule: answer.rule });
      }
    }
  }
  // A cell is `any` when every port asked of its destinations (every pair with a workload end was) is allowed.
  const byName = new Map<string, Endpoint[]>();
  endpoints.forEach((e, i) => { const l = byName.get(names[i]); if (l) l.push(e); else byName.set(names[i], [e]); });
  const mtls = mtlsOf(backend, manifests);
  const rows: FlowRow[] = [];
  for (const cell of cells.values()) {
    const asked = ports.count(byName.get(cell.destination)!, cell.protocol);
    rows.push(...cellRows(cell, asked.size, asked.hasOne, mtls));
  }
  return rows.sort(compareRows);
}

function merge(seen: Hit, answer: L7Answer): void {
  seen.reasons.push(...answer.reasons.filter((r) => !seen.reasons.includes(r)));
  seen.effects.push(...answer.effects);
  if (answer.rule !== seen.rule) seen.rule = [seen.rule, answer.rule].includes('') ? '' : [...new Set([...seen.rule.split('; '), ...answer.rule.split('; ')])].sort().join('; ');
}

/** The rows of a cell: one `any` row when every asked port is allowed under one L7 rule, else one per port. */
function cellRows(cell: Cell, askedSize: number, askedOne: boolean, mtls: MtlsOf): FlowRow[] {
  const row = (port: string, hit: Hit): FlowRow => ({
    source: cell.source,
    destination: cell.destination,
    port,
    protocol: cell.protocol,
    l7: hit.rule,
    mtls: mtls(hit.query, hit.effects),
    reasons: hit.reasons,
  });
  const allowed = [...cell.allowed.entries()].sort(([a], [b]) => a - b);
  const rules = new Set(allowed.map(([, h]) => h.rule));
  if (cell.allowed.size === askedSize && askedOne && rules.size === 1) {
    return [row('any', { query: allowed[0][1].query, reasons: [...new Set(allowed.flatMap(([, h]) => h.reasons))], effects: allowed.flatMap(([, h]) => h.effects), rule: allowed[0][1].rule })];
  }
  return allowed.map(([port, hit]) => row(String(port), hit));
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
        else g.allowed.set(p.number, { query, reasons: [...answer.reasons], effects: [...answer.effects], rule: answer.rule });
      }
    }
  }
  const rows: FlowRow[] = [];
  const mtls = mtlsOf(backend, manifests);
  for (const g of groups.values()) {
    if (g.allowed.size === 0) continue;
    rows.push(...cellRows(g, g.asked.size, g.asked.has(1), mtls));
  }
  return rows.sort(compareRows);
}

/** Order of rows: source, destination, port (numeric, `any` first), protocol. */
export function compareRows(a: FlowRow, b: FlowRow): number {
  const port = (p: string) => (p === 'any' ? 0 : Number(p));
  return compareStrings(a.source, b.source) || compareStrings(a.destination, b.destination) || port(a.port) - port(b.port) || compareStrings(a.protocol, b.protocol);
}

/** `production/hero -> production/lil-deebee 5432/TCP`. */
export function rowKey(r: FlowRow): string {
  return `${r.source} -> ${r.destination} ${r.port}/${r.protocol}`;
}
