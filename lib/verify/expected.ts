/**
 * What the declared intent says about a query, under the project's semantics: every pod of a
 * managed namespace (a `ZeroTrustChart`) is closed in both directions except for cluster DNS
 * (UDP/TCP 53) and the declared flows; everything else is unrestricted in its own direction.
 * HTTP rules are ignored (L4 semantics).
 */
import { DnsSpec } from '../intent/dns';
import { EndpointModel, FlowModel, ZeroTrustModel, describeFlow } from '../intent/model';
import { parseCidr } from '../intent/cidr';
import { endpointIp, ipInBlock } from './networkpolicy';
import { NAMESPACE_NAME_LABEL } from './inventory';
import { PROBE_LABEL, Universe, UniversePort, mergePorts, probeIps, queries as allQueries } from './universe';
import { Decision, Endpoint, PolicyEvaluator, Query } from './types';

/** Options of `intentAllows`. */
export interface IntentOptions {
  /**
   * Cluster DNS of a managed namespace (the chart's `dns`).
   * @default Dns.kubeDns() for every namespace
   */
  readonly dns?: DnsSpec | ((namespace: string) => DnsSpec);
}

const KUBE_DNS: DnsSpec = { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } };

function subset(sel: { [key: string]: string }, labels: { [key: string]: string } | undefined): boolean {
  return Object.entries(sel).every(([k, v]) => labels?.[k] === v);
}

const cidrCache = new Map<string, ReturnType<typeof parseCidr>>();
function cidr(text: string) {
  let c = cidrCache.get(text);
  if (!c) { c = parseCidr(text, 'cidr'); cidrCache.set(text, c); }
  return c;
}

/**
 * True when the endpoint model denotes the endpoint. An app workload is a pod of a workload object
 * of the manifests (`workload` set) in its namespace carrying its selector labels; probe pods never
 * are, even with the same labels (so universes must not give probes a workload's selector).
 */
export function endpointMatches(m: EndpointModel, e: Endpoint): boolean {
  switch (m.type) {
    case 'workload':
      return e.kind === 'pod' && e.namespace === m.workload.namespace && e.workload !== undefined && subset(m.workload.selector, e.labels);
    case 'external-workload':
      return e.kind === 'pod' && e.namespace === m.namespace && subset(m.labels, e.labels);
    case 'namespace':
      return e.kind === 'pod' && e.namespace === m.namespace;
    case 'ip-block': {
      const ip = endpointIp(e);
      return ip !== undefined && ipInBlock(ip, cidr(m.cidr), m.except.map(cidr));
    }
    case 'fqdn': {
      if (e.kind !== 'fqdn') return false;
      const host = e.host ?? e.id.replace(/^fqdn:/, '');
      return m.host.startsWith('*.') ? host.endsWith(m.host.slice(1)) && host.length > m.host.length - 1 : host === m.host;
    }
  }
}

/** True when the flow's ports admit the query (empty: every port). */
export function flowPortMatches(f: FlowModel, q: Query): boolean {
  if (f.ports.length === 0) return true;
  return f.ports.some((p) => p.protocol === q.protocol && q.port >= p.number && q.port <= (p.endPort ?? p.number));
}

function dnsMatches(dns: DnsSpec, e: Endpoint): boolean {
  if (dns.cidr) {
    const ip = endpointIp(e);
    return ip !== undefined && ipInBlock(ip, cidr(dns.cidr), []);
  }
  return e.kind === 'pod' && e.namespace === dns.namespace && subset(dns.labels ?? {}, e.labels);
}

/** What the intent says about one query, with the flows (or defaults) that decide it. */
export function intentAllows(model: ZeroTrustModel, q: Query, opts: IntentOptions = {}): Decision {
  return decide(model, q, opts, model.flows.filter((f) => endpointMatches(f.source, q.source) && endpointMatches(f.destination, q.destination)));
}

/**
 * The intent as a `PolicyEvaluator` (backend `intent`), caching the flows between each pair of
 * endpoints: the same answers as `intentAllows`, fast enough for whole universes.
 */
export class IntentEvaluator implements PolicyEvaluator {
  public readonly backend = 'intent';
  private readonly pairs = new WeakMap<Endpoint, WeakMap<Endpoint, FlowModel[]>>();

  public constructor(private readonly model: ZeroTrustModel, private readonly opts: IntentOptions = {}) {}

  public evaluate(q: Query): Decision {
    let bySource = this.pairs.get(q.source);
    if (!bySource) { bySource = new WeakMap(); this.pairs.set(q.source, bySource); }
    let flows = bySource.get(q.destination);
    if (!flows) {
      flows = this.model.flows.filter((f) => endpointMatches(f.source, q.source) && endpointMatches(f.destination, q.destination));
      bySource.set(q.destination, flows);
    }
    return decide(this.model, q, this.opts, flows);
  }
}

/** Decides a query given the flows whose two ends match it (ports not yet checked). */
function decide(model: ZeroTrustModel, q: Query, opts: IntentOptions, candidates: FlowModel[]): Decision {
  const managed = (e: Endpoint) => e.kind === 'pod' && model.namespaces.some((n) => n.name === e.namespace);
  const conn = `${q.source.id} -> ${q.destination.id} on ${q.port}/${q.protocol}`;
  const matching = candidates.filter((f) => flowPortMatches(f, q));
  const flowReason = (dir: string) => matching.map((f) => `flow ${describeFlow(f)} (${f.declaredAt}) allows ${dir}`);

  let egress: { ok: boolean; reasons: string[] };
  if (!managed(q.source)) {
    egress = { ok: true, reasons: [`${q.source.id} is not in a managed namespace; its egress is unrestricted`] };
  } else {
    const ns = q.source.namespace!;
    const dns = typeof opts.dns === 'function' ? opts.dns(ns) : opts.dns ?? KUBE_DNS;
    if (q.port === 53 && dnsMatches(dns, q.destination)) {
      egress = { ok: true, reasons: [`every pod of ${ns} may reach cluster DNS on 53/${q.protocol}`] };
    } else if (matching.length > 0) {
      egress = { ok: true, reasons: flowReason('egress') };
    } else {
      egress = { ok: false, reasons: [`${q.source.id} is in managed namespace ${ns} and no flow from it allows ${conn}`] };
    }
  }
  let ingress: { ok: boolean; reasons: string[] };
  if (!managed(q.destination)) {
    ingress = { ok: true, reasons: [`${q.destination.id} is not in a managed namespace; its ingress is unrestricted`] };
  } else if (matching.length > 0) {
    ingress = { ok: true, reasons: flowReason('ingress') };
  } else {
    ingress = { ok: false, reasons: [`${q.destination.id} is in managed namespace ${q.destination.namespace} and no flow to it allows ${conn}`] };
  }
  const allowed = egress.ok && ingress.ok;
  const sides = [egress, ingress];
  const ordered = allowed ? sides : [...sides.filter((s) => !s.ok), ...sides.filter((s) => s.ok)];
  return { allowed, reasons: [...new Set(ordered.flatMap((s) => s.reasons))] };
}

/**
 * Probes where the intent draws its lines, independent of any backend's output: a pod in every
 * namespace a flow names (`ns/*`), a pod with the labels of every external workload, IPs inside,
 * in the excepts of and outside every IP block, every host name, and every port (and range edge)
 * of the flows. Give them to `probeUniverse` so that output that dropped a selector, an except or
 * a port list is still asked about the parties it wrongly admits.
 */
export function intentProbes(model: ZeroTrustModel): { endpoints: Endpoint[]; ports: UniversePort[] } {
  const endpoints = new Map<string, Endpoint>();
  const pod = (namespace: string, name: string, labels: { [key: string]: string }) => {
    const id = `${namespace}/${name}`;
    if (!endpoints.has(id)) {
      endpoints.set(id, {
        id, kind: 'pod', namespace, namespaceLabels: { [NAMESPACE_NAME_LABEL]: namespace }, namespaceAnnotations: {},
        labels: { [PROBE_LABEL]: 'true', ...labels }, annotations: {}, serviceAccount: 'default', ports: [],
      });
    }
  };
  const blocks: Array<{ cidr: ReturnType<typeof parseCidr>; except: Array<ReturnType<typeof parseCidr>> }> = [];
  const ports: UniversePort[] = [];
  for (const f of model.flows) {
    for (const e of [f.source, f.destination]) {
      if (e.type === 'namespace') pod(e.namespace, '*', {});
      if (e.type === 'external-workload') {
        pod(e.namespace, '*', {});
        pod(e.namespace, `{${Object.entries(e.labels).sort().map(([k, v]) => `${k}=${v}`).join(',')}}`, e.labels);
      }
      if (e.type === 'ip-block') blocks.push({ cidr: cidr(e.cidr), except: e.except.map(cidr) });
      if (e.type === 'fqdn' && !e.host.startsWith('*.')) endpoints.set(`fqdn:${e.host}`, { id: `fqdn:${e.host}`, kind: 'fqdn', host: e.host });
    }
    for (const p of f.ports) {
      for (const n of p.endPort === undefined ? [p.number] : [p.number - 1, p.number, p.endPort, p.endPort + 1]) {
        if (n >= 1 && n <= 65535) ports.push({ number: n, protocol: p.protocol });
      }
    }
  }
  for (const ip of probeIps(blocks)) endpoints.set(`ip:${ip}`, { id: `ip:${ip}`, kind: 'ip', ip });
  return { endpoints: [...endpoints.values()], ports: mergePorts(ports) };
}

/** A query on which a backend and the intent disagree. */
export interface Mismatch {
  readonly query: Query;
  /** What the backend decided. */
  readonly actual: Decision;
  /** What the intent says. */
  readonly expected: Decision;
}

/** `production/hero -> production/lil-deebee 5432/TCP`. */
export function describeQuery(q: Query): string {
  return `${q.source.id} -> ${q.destination.id} ${q.port}/${q.protocol}`;
}

/** A readable account of a mismatch with both explanations. */
export function describeMismatch(m: Mismatch, backend = 'backend'): string {
  return [
    `${describeQuery(m.query)}: ${backend} ${m.actual.allowed ? 'ALLOWS' : 'DENIES'}, intent ${m.expected.allowed ? 'ALLOWS' : 'DENIES'}`,
    `  ${backend}: ${m.actual.reasons.join('; ')}`,
    `  intent: ${m.expected.reasons.join('; ')}`,
  ].join('\n');
}

/** Every query of the universe on which the evaluator and the intent disagree (up to `limit`). */
export function compareWithIntent(evaluator: PolicyEvaluator, model: ZeroTrustModel, universe: Universe, opts: IntentOptions & { limit?: number } = {}): Mismatch[] {
  const out: Mismatch[] = [];
  const intent = new IntentEvaluator(model, opts);
  for (const query of allQueries(universe)) {
    const actual = evaluator.evaluate(query);
    const expected = intent.evaluate(query);
    if (actual.allowed !== expected.allowed) {
      out.push({ query, actual, expected });
      if (opts.limit !== undefined && out.length >= opts.limit) break;
    }
  }
  return out;
}
