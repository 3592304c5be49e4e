/**
 * Manifests against the intent file synth wrote beside them: the backend's reader and the
 * intent's semantics must agree on every probe (the manifests' own parties, the parties the
 * intent draws its lines at, and the ports of both).
 */
import { DnsSpec } from '../intent/dns';
import { ParsedIntent } from '../intent/document';
import { IntentEvaluator, Mismatch, describeMismatch, intentProbes } from '../verify/expected';
import { backendIntentOptions } from '../verify/readers';
import { FlowPrefilter, OpenPrefilter, PortSet, prefilterOf, verdictsOf } from '../verify/prefilter';
import { UniversePort, UniversePorts, UniverseRequest, queries } from '../verify/universe';
import { Endpoint, PolicyEvaluator, Query, SourcedManifest } from '../verify/types';
import { onceFor, reportUniverse } from './universe';
import { enforcedWhenAudited } from '../verify/audit';

/** The result of a verification. */
export interface Verification {
  readonly backend: string;
  /** Number of queries asked (those with an end in a namespace of the intent). */
  readonly probes: number;
  readonly mismatches: Mismatch[];
}

/** The backend the intent names, when all its namespaces use one. */
export function intentBackend(intent: ParsedIntent): string | undefined {
  const backends = [...new Set(intent.model.namespaces.map((n) => n.backend))];
  return backends.length === 1 ? backends[0] : undefined;
}

/**
 * Compares a reader with the intent, under the semantics the backend promises
 * (`backendIntentOptions`), on the full probe universe: the manifests' parties and the intent's
 * (with its HTTP requests). At most `limit` mismatches.
 *
 * Both sides are asked only where one of them may allow (the union of their prefilters,
 * `lib/verify/prefilter.ts`): elsewhere both deny, so nothing can differ there. The connections
 * probed are counted as if every one had been asked, and the mismatches come in the same order.
 */
export function verifyAgainstIntent(
  manifests: readonly SourcedManifest[], backend: string, evaluator: PolicyEvaluator, intent: ParsedIntent,
  enrolledNamespaces: readonly string[] = [], limit = 50,
): Verification {
  // A chart in AUDIT is verified in its enforced view (lib/verify/audit.ts): unmarked allows must be exactly the intent.
  const reader = enforcedWhenAudited(evaluator, intent.model.namespaces);
  return onceFor(manifests, () => verifyPrefiltered(manifests, backend, reader, intent, enrolledNamespaces, limit));
}

function verifyPrefiltered(
  manifests: readonly SourcedManifest[], backend: string, evaluator: PolicyEvaluator, intent: ParsedIntent,
  enrolledNamespaces: readonly string[], limit: number,
): Verification {
  const { universe, expected, inScope } = verification(manifests, backend, intent, enrolledNamespaces);
  const endpoints = universe.endpoints;
  const focus = new Uint8Array(endpoints.map((e) => (inScope(e) ? 1 : 0)));
  const scope = { endpoints, focus, destinationOrder: true };
  const open = new OpenPrefilter(scope);
  const readerSide: FlowPrefilter = prefilterOf(evaluator, scope) ?? open;
  const intentSide = expected.prefilter(scope);
  const ports = new UniversePorts(universe);
  const readerAllows = verdictsOf(evaluator);
  const requests = new Map<number, UniverseRequest[]>();
  for (const r of universe.requests ?? []) requests.set(r.port, [...(requests.get(r.port) ?? []), r]);
  const requestsOn = (p: UniversePort) => (p.protocol === 'TCP' ? requests.get(p.number) ?? [] : []);
  const sharedQueries = universe.ports.reduce((n, p) => n + 1 + requestsOn(p).length, 0);
  /**
   * True when the reader and the intent agree, on one port of each protocol of `uniform`, on the
   * plain connection and on every request asked on any of its ports: then they agree on all of them.
   */
  const agreeOn = (source: Endpoint, destination: Endpoint, uniform: PortSet): boolean => {
    for (const protocol of ['TCP', 'UDP'] as const) {
      const within = ports.within(destination, uniform.only(protocol));
      if (within.length === 0) continue;
      const kinds = new Map<string, Query['http']>([['', undefined]]);
      for (const p of within) for (const r of requestsOn(p)) kinds.set(`${r.method} ${r.path}`, { method: r.method, path: r.path });
      for (const http of kinds.values()) {
        const query: Query = { source, destination, port: within[0].number, protocol, ...(http ? { http } : {}) };
        if (readerAllows(query) !== expected.allows(query)) return false;
      }
    }
    return true;
  };
  const inScopeCount = endpoints.reduce((n, e) => n + (inScope(e) ? 1 : 0), 0);
  const mismatches: Mismatch[] = [];
  let probes = 0;
  const mark = new Int32Array(endpoints.length).fill(-1);
  for (let d = 0; d < endpoints.length; d++) {
    const destination = endpoints[d];
    // Every query of this destination is counted, asked or not: its ports, and the requests on its TCP ports.
    let perPair = sharedQueries;
    for (const p of ports.extra(destination)) perPair += 1 + requestsOn(p).length;
    probes += perPair * (focus[d] ? endpoints.length - 1 : inScopeCount);
    if (mismatches.length >= limit) continue;
    const sources: number[] = [];
    for (const side of [readerSide, intentSide]) {
      for (const s of side.sources(d)) {
        if (mark[s] === d || s === d) continue;
        mark[s] = d;
        if (focus[s] || focus[d]) sources.push(s);
      }
    }
    sources.sort((a, b) => a - b);
    for (const s of sources) {
      if (mismatches.length >= limit) break;
      let set = readerSide.ports(s, d).union(intentSide.ports(s, d));
      // Ports on which both decide alike whatever the port (an NSM connection): where both agree on one, they agree on all.
      const uniform = set.intersect(readerSide.uniform?.(s, d) ?? PortSet.NONE).intersect(intentSide.uniform?.(s, d) ?? PortSet.NONE);
      if (!uniform.empty && agreeOn(endpoints[s], destination, uniform)) set = set.minus(uniform);
      // Ports where both know their answer exactly: if they agree on all of them, none needs asking.
      const exact = set.intersect(readerSide.exact?.(s, d) ?? PortSet.NONE).intersect(intentSide.exact?.(s, d) ?? PortSet.NONE);
      if (!exact.empty) {
        const r = readerSide.ports(s, d).intersect(exact);
        const i = intentSide.ports(s, d).intersect(exact);
        if (r.minus(i).empty && i.minus(r).empty) set = set.minus(exact);
      }
      for (const p of ports.within(destination, set)) {
        const plain: Query = { source: endpoints[s], destination, port: p.number, protocol: p.protocol };
        for (const query of [plain, ...requestsOn(p).map((r) => ({ ...plain, http: { method: r.method, path: r.path } }))]) {
          // Verdicts first; the reasons of both only where they differ.
          if (readerAllows(query) === expected.allows(query)) continue;
          const actual = evaluator.evaluate(query);
          const want = expected.evaluate(query);
          if (actual.allowed !== want.allowed && mismatches.length < limit) mismatches.push({ query, actual, expected: want });
        }
      }
    }
  }
  return { backend, probes, mismatches };
}

/** The universe, the intent's evaluator and the scope of a verification. */
function verification(manifests: readonly SourcedManifest[], backend: string, intent: ParsedIntent, enrolledNamespaces: readonly string[]) {
  const extra = intentProbes(intent.model);
  const universe = reportUniverse(manifests, extra.endpoints, extra.ports, extra.requests);
  const dns = (ns: string): DnsSpec => intent.dns[ns] ?? { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } };
  const expected = new IntentEvaluator(intent.model, { dns, ...backendIntentOptions(backend, { enrolledNamespaces }) });
  // The intent speaks for its namespaces: traffic between two parties outside them is not its business.
  const managed = new Set(intent.model.namespaces.map((n) => n.name));
  const inScope = (e: Endpoint) => e.kind === 'pod' && managed.has(e.namespace ?? '');
  return { universe, expected, inScope };
}

/** The former way to the same verification: every query of the universe asked of both. Kept for the test that compares the two. */
export function verifyAgainstIntentByProbing(manifests: readonly SourcedManifest[], backend: string, evaluator: PolicyEvaluator, intent: ParsedIntent,
  enrolledNamespaces: readonly string[] = [], limit = 50): Verification {
  const { universe, expected, inScope } = verification(manifests, backend, intent, enrolledNamespaces);
  const mismatches: Mismatch[] = [];
  let probes = 0;
  for (const query of queries(universe)) {
    if (!inScope(query.source) && !inScope(query.destination)) continue;
    probes++;
    const actual = evaluator.evaluate(query);
    const want = expected.evaluate(query);
    if (actual.allowed !== want.allowed && mismatches.length < limit) mismatches.push({ query, actual, expected: want });
  }
  return { backend, probes, mismatches };
}

/** Plain-text report of a verification. */
export function formatVerification(v: Verification, dir: string, intentFile: string): string {
  if (v.mismatches.length === 0) {
    return `OK: ${dir} (${v.backend}) allows exactly what ${intentFile} declares (${v.probes} connections probed).\n`;
  }
  return [
    `FAILED: ${dir} (${v.backend}) differs from ${intentFile} on ${v.mismatches.length}${v.mismatches.length >= 50 ? ' or more' : ''} of ${v.probes} connections probed:`,
    '',
    ...v.mismatches.map((m) => describeMismatch(m, v.backend)),
    '',
  ].join('\n');
}
