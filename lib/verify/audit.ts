/**
 * Audit as the readers model it: a reader admits a connection that an audited policy (Istio
 * dry-run, Linkerd `audit`) would deny, and marks the effect `audited`. `EnforcedView` answers as
 * the same objects would if every audited policy were enforced: what the chart's ENFORCE stage
 * allows. The self-check and `verify` compare that view with the intent (so a chart in AUDIT is
 * checked exactly: what is allowed without a mark is what the intent declares), and the review
 * lists the marked connections as "would be denied".
 */
import { FlowPrefilter, PrefilterScope, prefilterOf } from './prefilter';
import { Decision, DecisionEffect, PolicyEvaluator, Query, decision } from './types';

/** True when the decision allows the connection only because a policy is audited. */
export function isAudited(d: Decision): boolean {
  if (!d.allowed) return false;
  for (const e of d.effects) if (e.audited) return true;
  return false;
}

/** A reader's decisions with every audited policy enforced. */
export class EnforcedView implements PolicyEvaluator {
  public readonly backend: string;

  public constructor(private readonly inner: PolicyEvaluator) {
    this.backend = inner.backend;
  }

  public evaluate(q: Query): Decision {
    const d = this.inner.evaluate(q);
    if (!isAudited(d)) return d;
    const effects: DecisionEffect[] = d.effects.map((e) => (e.audited ? { ...e, verdict: 'deny' as const, detail: e.detail.replace(/: would be denied.*$/, ': denied once enforced') } : e));
    return decision(false, effects);
  }

  /**
   * The inner reader's prefilter, without its exact ports: the view allows a subset of what the
   * inner reader allows, so where that may allow is still a bound, but no longer exact. Its uniform
   * ports stay uniform: the view's decision is a function of the inner one alone.
   */
  public prefilter(scope: PrefilterScope): FlowPrefilter | undefined {
    const inner = prefilterOf(this.inner, scope);
    if (!inner) return undefined;
    const uniform = inner.uniform;
    return {
      sources: (d) => inner.sources(d),
      ports: (s, d) => inner.ports(s, d),
      ...(uniform ? { uniform: (s: number, d: number) => uniform.call(inner, s, d), reasonsNamePort: inner.reasonsNamePort === true } : {}),
    };
  }
}

/** The reader to compare with the intent: its enforced view when a namespace of the intent is in AUDIT. */
export function enforcedWhenAudited(reader: PolicyEvaluator, namespaces: ReadonlyArray<{ readonly enforcement?: 'audit' }>): PolicyEvaluator {
  return namespaces.some((n) => n.enforcement === 'audit') ? new EnforcedView(reader) : reader;
}
