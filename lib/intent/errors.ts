import { Weaken } from './weaken';

/** What a `ZeroTrustError` says, as fields. */
export interface ZeroTrustErrorDetails {
  /** A stable code for the kind of problem (`HTTP_RULES_NOT_ENFORCEABLE`); tests and tools match on it. */
  readonly code: string;
  /** What is wrong and what to do, without the `[backend]` prefix. */
  readonly message: string;
  /** The backend that refused (`istio`, ...), when one did. */
  readonly backend?: string;
  /** Namespace of the chart the problem belongs to. */
  readonly namespace?: string;
  /** `namespace/name` of the workload the problem belongs to. */
  readonly workload?: string;
  /** The rule as declared: `production/hero.allowTo(production/lil-deebee)`. */
  readonly rule?: string;
  /**
   * The `Weaken` member that would accept this refusal in a weaker form (`weaken: [...]` on the
   * `Mesh.*()` factory); absent: a refusal with no weaker form.
   */
  readonly weaken?: Weaken;
}

/**
 * An error in declared zero-trust intent. The message always names what is wrong and where
 * (workload, rule, backend), so a failed synth points straight at the line to fix; the same facts
 * are fields, so tools and tests need not parse the message. The `[backend]` prefix of the
 * message is added here and only here.
 */
export class ZeroTrustError extends Error {
  /** Stable code of the kind of problem. */
  public readonly code: string;
  /** The backend that refused, when one did. */
  public readonly backend?: string;
  /** Namespace of the chart the problem belongs to. */
  public readonly namespace?: string;
  /** `namespace/name` of the workload concerned. */
  public readonly workload?: string;
  /** The rule as declared. */
  public readonly rule?: string;
  /** The `Weaken` member that would accept this refusal, when one would. */
  public readonly weaken?: Weaken;
  /** The message without the `[backend]` prefix. */
  public readonly text: string;
  /** The problems an error of a whole synth (`SYNTH_FAILED`) stands for; empty otherwise. */
  public readonly problems: readonly ZeroTrustError[];

  constructor(d: ZeroTrustErrorDetails, problems: readonly ZeroTrustError[] = []) {
    super(d.backend ? `[${d.backend}] ${d.message}` : d.message);
    this.name = 'ZeroTrustError';
    this.code = d.code;
    this.backend = d.backend;
    this.namespace = d.namespace;
    this.workload = d.workload;
    this.rule = d.rule;
    this.weaken = d.weaken;
    this.text = d.message;
    this.problems = problems;
  }

  /** The fields of this error. */
  public get details(): ZeroTrustErrorDetails {
    return { code: this.code, message: this.text, backend: this.backend, namespace: this.namespace, workload: this.workload, rule: this.rule, ...(this.weaken ? { weaken: this.weaken } : {}) };
  }

  /** This error with the fields it lacks taken from `context`. */
  public within(context: Partial<ZeroTrustErrorDetails>): ZeroTrustError {
    const d = this.details;
    if ((d.backend || !context.backend) && (d.namespace || !context.namespace) && (d.workload || !context.workload) && (d.rule || !context.rule)) return this;
    return new ZeroTrustError({
      code: d.code, message: d.message,
      backend: d.backend ?? context.backend, namespace: d.namespace ?? context.namespace,
      workload: d.workload ?? context.workload, rule: d.rule ?? context.rule, weaken: d.weaken,
    });
  }
}

/** Every problem of an app in one message, grouped by namespace. */
export function formatProblems(problems: readonly ZeroTrustError[]): string {
  if (problems.length === 1) return problems[0].message;
  const groups = new Map<string, ZeroTrustError[]>();
  for (const p of problems) {
    const key = p.namespace ?? '';
    groups.set(key, [...(groups.get(key) ?? []), p]);
  }
  const lines = [`${problems.length} problems in the zero-trust intent:`];
  for (const [ns, list] of groups) {
    lines.push(ns ? `namespace ${ns}:` : 'the app:');
    for (const p of list) lines.push(`  - ${p.message}`);
  }
  return lines.join('\n');
}
