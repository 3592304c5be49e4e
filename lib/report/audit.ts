/**
 * The review of a chart in a rollout stage. Its manifests say the stage: objects a stage changes
 * carry `zero-trust.cdk8s.io/stage` (`audit`, `permissive`), and the meshes' own audit settings
 * (Istio `istio.io/dry-run`, Linkerd `audit`) are read wherever they come from. In AUDIT the flow
 * matrix is the enforced view's rows (what stays open once enforced) plus, marked in the L7 cell
 * `audit: would be denied`, every row that is open only because of the audit: the reader's
 * `audited` effects (lib/verify/audit.ts), not its prose, decide. Every format shows the mark, and
 * `diff` from AUDIT to ENFORCE output of the same app lists exactly the marked rows as removed.
 */
import { EnforcedView } from '../verify/audit';
import { PolicyEvaluator, SourcedManifest } from '../verify/types';
import { FlowRow } from './matrix';

/** The mark of a row open only because of the audit, in its L7 cell. */
export const AUDIT_MARK = 'audit: would be denied';

/** The annotation that names the stage on the objects a stage changes. */
const STAGE_ANNOTATION = 'zero-trust.cdk8s.io/stage';
const LINKERD_DEFAULT_POLICY = 'config.linkerd.io/default-inbound-policy';

/** The rollout stage of a namespace, as its manifests show it. */
export interface NamespaceStage {
  readonly namespace: string;
  /** `AUDIT` when some policy of the namespace is audited (dry-run, `audit`). */
  readonly enforcement: 'AUDIT' | 'ENFORCE';
  /** `PERMISSIVE` when the namespace's objects say so. */
  readonly mtls: 'PERMISSIVE' | 'STRICT';
}

/** True when an object audits instead of enforcing (whoever wrote it). */
function audits(m: SourcedManifest['manifest']): boolean {
  const a = m.metadata.annotations ?? {};
  if (a[STAGE_ANNOTATION] === 'audit') return true;
  if (m.kind === 'AuthorizationPolicy' && String(a['istio.io/dry-run'] ?? '').toLowerCase() === 'true') return true;
  if (m.kind === 'Server' && m.spec?.accessPolicy === 'audit') return true;
  return a[LINKERD_DEFAULT_POLICY] === 'audit' || m.spec?.template?.metadata?.annotations?.[LINKERD_DEFAULT_POLICY] === 'audit';
}

/** The namespaces whose manifests show a stage other than ENFORCE and STRICT, by name. */
export function namespaceStages(manifests: readonly SourcedManifest[]): NamespaceStage[] {
  const audit = new Set<string>();
  const permissive = new Set<string>();
  for (const { manifest: m } of manifests) {
    const ns = m.kind === 'Namespace' ? m.metadata.name : m.metadata.namespace;
    if (!ns) continue;
    if (audits(m)) audit.add(ns);
    if (m.metadata.annotations?.[STAGE_ANNOTATION] === 'permissive') permissive.add(ns);
  }
  return [...new Set([...audit, ...permissive])].sort().map((namespace) => ({
    namespace, enforcement: audit.has(namespace) ? 'AUDIT' : 'ENFORCE', mtls: permissive.has(namespace) ? 'PERMISSIVE' : 'STRICT',
  }));
}

function identity(r: FlowRow): string {
  return [r.source, r.destination, r.port, r.protocol, r.l7, r.mtls ? 'mtls' : 'plain'].join('\u0000');
}

/**
 * The rows of a matrix in AUDIT: the enforced view's rows, and the reader's rows that are not
 * among them, marked. `rowsOf` makes the rows of a reader over the matrix's universe. Without an
 * audited object in the manifests, the reader's rows as they are.
 */
export function auditMarkedRows(manifests: readonly SourcedManifest[], evaluator: PolicyEvaluator, rows: FlowRow[], rowsOf: (reader: PolicyEvaluator) => FlowRow[]): FlowRow[] {
  if (!manifests.some((m) => audits(m.manifest))) return rows;
  const enforced = rowsOf(new EnforcedView(evaluator));
  const kept = new Set(enforced.map(identity));
  const marked = rows.filter((r) => !kept.has(identity(r))).map((r) => withReasons(rowWith(r, r.port, r.l7 ? `${r.l7}; ${AUDIT_MARK}` : AUDIT_MARK), () => r.reasons));
  return [...enforced, ...foldPorts(marked)];
}

/**
 * Marked rows of one pair, protocol, L7 cell and mTLS column as one row listing their ports
 * (`1, 53, 8000-8003`): an audited Linkerd Server admits a declared client on every port but the
 * proxy's own, which the matrix cannot call `any`, and a row per port would bury the page.
 */
function foldPorts(rows: FlowRow[]): FlowRow[] {
  const groups = new Map<string, FlowRow[]>();
  const out: FlowRow[] = [];
  for (const r of rows) {
    if (!/^\d+$/.test(r.port)) { out.push(r); continue; }
    const key = [r.source, r.destination, r.protocol, r.l7, r.mtls ? 'mtls' : 'plain'].join('\u0000');
    const g = groups.get(key);
    if (g) g.push(r); else groups.set(key, [r]);
  }
  for (const g of groups.values()) {
    if (g.length === 1) { out.push(g[0]); continue; }
    const ports = [...new Set(g.map((r) => Number(r.port)))].sort((a, b) => a - b);
    const ranges: string[] = [];
    for (let i = 0; i < ports.length;) {
      let j = i;
      while (j + 1 < ports.length && ports[j + 1] === ports[j] + 1) j++;
      ranges.push(j > i ? `${ports[i]}-${ports[j]}` : String(ports[i]));
      i = j + 1;
    }
    out.push(withReasons(rowWith(g[0], ranges.join(', '), g[0].l7), () => [...new Set(g.flatMap((r) => r.reasons))]));
  }
  return out;
}

/** A copy of a row with another port and L7 cell, its reasons not read (a spread would read them), in the row's key order. */
function rowWith(r: FlowRow, port: string, l7: string): FlowRow {
  return { source: r.source, destination: r.destination, port, protocol: r.protocol, l7, mtls: r.mtls, reasons: [] };
}

/**
 * The row with its reasons read from `reasons()` when first read: a row's reasons may be made only
 * when read (lib/report/matrix.ts), and a table or a diff never reads them.
 */
function withReasons(row: FlowRow, reasons: () => string[]): FlowRow {
  let made: string[] | undefined;
  Object.defineProperty(row, 'reasons', {
    enumerable: true,
    configurable: true,
    get: () => (made ??= reasons()),
    set: (v: string[]) => { made = v; },
  });
  return row;
}

/** The stage lines of a report (`''` when every namespace enforces, STRICT). */
export function stageMarkdown(stages: readonly NamespaceStage[]): string {
  if (stages.length === 0) return '';
  return [
    `Rollout stage: ${stages.map((s) => `\`${s.namespace}\` ${s.enforcement}${s.mtls === 'PERMISSIVE' ? ', mTLS PERMISSIVE' : ''}`).join('; ')}.`,
    ...(stages.some((s) => s.enforcement === 'AUDIT')
      ? [`Rows marked \`${AUDIT_MARK}\` are open only because the mesh audits the policy: the mesh records them, and enforcing the chart closes them.`]
      : []),
  ].join('\n');
}
