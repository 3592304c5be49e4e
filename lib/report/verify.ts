/**
 * Manifests against the intent file synth wrote beside them: the backend's reader and the
 * intent's semantics must agree on every probe (the manifests' own parties, the parties the
 * intent draws its lines at, and the ports of both).
 */
import { DnsSpec } from '../intent/dns';
import { ParsedIntent } from '../intent/document';
import { Mismatch, compareWithIntent, describeMismatch, intentProbes } from '../verify/expected';
import { queries } from '../verify/universe';
import { PolicyEvaluator, SourcedManifest } from '../verify/types';
import { reportUniverse } from './universe';

/** The result of a verification. */
export interface Verification {
  readonly backend: string;
  /** Number of queries asked. */
  readonly probes: number;
  readonly mismatches: Mismatch[];
}

/** The backend the intent names, when all its namespaces use one. */
export function intentBackend(intent: ParsedIntent): string | undefined {
  const backends = [...new Set(intent.model.namespaces.map((n) => n.backend))];
  return backends.length === 1 ? backends[0] : undefined;
}

/** Compares a reader with the intent on the full probe universe (at most `limit` mismatches). */
export function verifyAgainstIntent(manifests: readonly SourcedManifest[], backend: string, evaluator: PolicyEvaluator, intent: ParsedIntent, limit = 50): Verification {
  const probes = intentProbes(intent.model);
  const universe = reportUniverse(manifests, probes.endpoints, probes.ports);
  const dns = (ns: string): DnsSpec => intent.dns[ns] ?? { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } };
  const mismatches = compareWithIntent(evaluator, intent.model, universe, { dns, limit });
  return { backend, probes: queries(universe).length, mismatches };
}

/** Plain-text report of a verification. */
export function formatVerification(v: Verification, dir: string, intentFile: string): string {
  if (v.mismatches.length === 0) {
    return `OK: ${dir} (${v.backend}) allows exactly what ${intentFile} declares (${v.probes} connections probed).\n`;
  }
  return [
    `FAILED: ${dir} (${v.backend}) differs from ${intentFile} on ${v.mismatches.length}${v.mismatches.length >= 50 ? '+' : ''} connection(s):`,
    '',
    ...v.mismatches.map((m) => describeMismatch(m, v.backend)),
    '',
  ].join('\n');
}
