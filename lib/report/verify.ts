/**
 * Manifests against the intent file synth wrote beside them: the backend's reader and the
 * intent's semantics must agree on every probe (the manifests' own parties, the parties the
 * intent draws its lines at, and the ports of both).
 */
import { DnsSpec } from '../intent/dns';
import { ParsedIntent } from '../intent/document';
import { IntentEvaluator, Mismatch, describeMismatch, intentProbes } from '../verify/expected';
import { backendIntentOptions } from '../verify/readers';
import { queries } from '../verify/universe';
import { Endpoint, PolicyEvaluator, SourcedManifest } from '../verify/types';
import { reportUniverse } from './universe';

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
 */
export function verifyAgainstIntent(
  manifests: readonly SourcedManifest[], backend: string, evaluator: PolicyEvaluator, intent: ParsedIntent,
  enrolledNamespaces: readonly string[] = [], limit = 50,
): Verification {
  const extra = intentProbes(intent.model);
  const universe = reportUniverse(manifests, extra.endpoints, extra.ports, extra.requests);
  const dns = (ns: string): DnsSpec => intent.dns[ns] ?? { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } };
  const expected = new IntentEvaluator(intent.model, { dns, ...backendIntentOptions(backend, { enrolledNamespaces }) });
  // The intent speaks for its namespaces: traffic between two parties outside them is not its business.
  const managed = new Set(intent.model.namespaces.map((n) => n.name));
  const inScope = (e: Endpoint) => e.kind === 'pod' && managed.has(e.namespace ?? '');
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
