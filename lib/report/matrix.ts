/**
 * The flow matrix: the allowed connections of a set of manifests, as a reviewer reads them.
 * Probe results are grouped into rows: app workloads by `ns/name`, other parties as
 * `ns:ingress-nginx` (any pod of a namespace), `ns:*` (a pod of any other namespace),
 * `cidr:203.0.113.0/24`, `world` (an address outside every range the policies name),
 * `fqdn:api.example.com`. A row whose every probed port is allowed says `any`.
 */
import { ParsedCidr, parseCidr } from '../intent/cidr';
import { NAMESPACE_NAME_LABEL, compareStrings, inventory } from '../verify/inventory';
import { endpointIp } from '../verify/networkpolicy';
import { OUTSIDER_NAMESPACE, Universe, portsFor } from '../verify/universe';
import { DecisionEffect, Endpoint, PolicyEvaluator, Query, SourcedManifest } from '../verify/types';
import { readerOf } from './backend';
import { l7Of } from './l7';
import { mtlsOf } from './mtls';
import { addressName } from './names';
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
    if (e.kind === 'ip') return addressName(endpointIp(e), this.cidrs);
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

/** What allowed one port of a group: the first query, the reasons and effects of every allowing decision, the L7 rule. */
interface Allowed {
  query: Query;
  reasons: string[];
  effects: DecisionEffect[];
  rule: string;
}

interface Group {
  readonly source: string;
  readonly destination: string;
  readonly protocol: 'TCP' | 'UDP';
  readonly asked: Set<number>;
  readonly allowed: Map<number, Allowed>;
}

/** Rows of the matrix over a universe. */
export function matrixRows(manifests: readonly SourcedManifest[], backend: string, evaluator: PolicyEvaluator, universe: Universe): FlowRow[] {
  const namer = new EndpointNamer(manifests);
  const names = new Map(universe.endpoints.map((e) => [e, namer.name(e)]));
  const groups = new Map<string, Group>();
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
        if (seen) {
          seen.reasons.push(...answer.reasons.filter((r) => !seen.reasons.includes(r)));
          seen.effects.push(...answer.effects);
          if (answer.rule !== seen.rule) seen.rule = [seen.rule, answer.rule].includes('') ? '' : [...new Set([...seen.rule.split('; '), ...answer.rule.split('; ')])].sort().join('; ');
        } else {
          g.allowed.set(p.number, { query, reasons: [...answer.reasons], effects: [...answer.effects], rule: answer.rule });
        }
      }
    }
  }
  const rows: FlowRow[] = [];
  const mtls = mtlsOf(backend, manifests);
  for (const g of groups.values()) {
    if (g.allowed.size === 0) continue;
    const row = (port: string, hit: Allowed): FlowRow => ({
      source: g.source,
      destination: g.destination,
      port,
      protocol: g.protocol,
      l7: hit.rule,
      mtls: mtls(hit.query, hit.effects),
      reasons: hit.reasons,
    });
    const allowed = [...g.allowed.entries()].sort(([a], [b]) => a - b);
    const rules = new Set(allowed.map(([, h]) => h.rule));
    if (g.allowed.size === g.asked.size && g.asked.has(1) && rules.size === 1) {
      rows.push(row('any', { query: allowed[0][1].query, reasons: [...new Set(allowed.flatMap(([, h]) => h.reasons))], effects: allowed.flatMap(([, h]) => h.effects), rule: allowed[0][1].rule }));
    } else {
      for (const [port, hit] of allowed) rows.push(row(String(port), hit));
    }
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
