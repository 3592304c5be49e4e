/**
 * Flows added and removed between two versions of the manifests. A row counts as changed when
 * anything a reviewer reads in it changed: an L7 rule dropped or mTLS no longer required shows
 * as the old row removed and the new one added, so a CI gate on "added" catches widenings.
 *
 * A port opened to every port is shown as what it is: the new `any` row is added (a widening,
 * which the gate catches) and the specific rows it replaces (same source, destination and
 * protocol) are not listed as removed, since their ports are still open; the `any` row says
 * which ports it replaces (`widened`). The other way round, a row narrowed from `any` to some of
 * its ports is removed, and the specific rows that remain are not listed as added when the old
 * `any` row already allowed them with the same L7 rule (or none) and no weaker mTLS (`narrowed`).
 */
import { FlowMatrix, FlowRow, compareRows } from './matrix';
import { TABLE_HEADER, code, formatNotes, markdownTable, rowCells } from './format';
import { ReviewNote } from './notes';
import { AUDIT_MARK, NamespaceStage } from './audit';

/** An `any` row and the specific ports it replaces or keeps (`5432`, `8080`). */
export interface PortChange {
  readonly row: FlowRow;
  readonly ports: string[];
}

/** The difference of two matrices. */
export interface FlowDiff {
  readonly oldBackend: string;
  readonly newBackend: string;
  /** Rows of the new version not in the old one: every widening. */
  readonly added: FlowRow[];
  /** Rows of the old version not in the new one, except those a new `any` row keeps open (see `widened`). */
  readonly removed: FlowRow[];
  /** Added `any` rows, each with the specific ports of the old version it replaces (not listed as removed). */
  readonly widened: PortChange[];
  /** Removed `any` rows, each with the specific ports of the new version it still allowed (not listed as added). */
  readonly narrowed: PortChange[];
  /** The rollout stages of the old and the new version, when either is not ENFORCE and STRICT. */
  readonly stages?: { readonly old: NamespaceStage[]; readonly new: NamespaceStage[] };
}

function identity(r: FlowRow): string {
  return [r.source, r.destination, r.port, r.protocol, r.l7, r.mtls ? 'mtls' : 'plain'].join('\u0000');
}

function pair(r: FlowRow): string {
  return [r.source, r.destination, r.protocol].join('\u0000');
}

/** True when `wide` (an `any` row) allowed everything `row` allows: the same L7 rule or none, and mTLS required only if `row` requires it. */
function covers(wide: FlowRow, row: FlowRow): boolean {
  return (wide.l7 === '' || wide.l7 === row.l7) && (!wide.mtls || row.mtls);
}

/** Rows of `after` not in `before` (added) and of `before` not in `after` (removed), sorted; see the module's note on `any` rows. */
export function diffMatrices(before: FlowMatrix, after: FlowMatrix): FlowDiff {
  const old = new Set(before.rows.map(identity));
  const now = new Set(after.rows.map(identity));
  let added = after.rows.filter((r) => !old.has(identity(r))).sort(compareRows);
  let removed = before.rows.filter((r) => !now.has(identity(r))).sort(compareRows);

  const widenedBy = new Map<string, FlowRow>();
  for (const r of added) if (r.port === 'any') widenedBy.set(pair(r), r);
  const widened = new Map<FlowRow, string[]>();
  removed = removed.filter((r) => {
    const wide = r.port === 'any' ? undefined : widenedBy.get(pair(r));
    if (!wide) return true;
    widened.set(wide, [...(widened.get(wide) ?? []), r.port]);
    return false;
  });

  const narrowedFrom = new Map<string, FlowRow>();
  for (const r of removed) if (r.port === 'any') narrowedFrom.set(pair(r), r);
  const narrowed = new Map<FlowRow, string[]>();
  added = added.filter((r) => {
    const wide = r.port === 'any' ? undefined : narrowedFrom.get(pair(r));
    if (!wide || !covers(wide, r)) return true;
    narrowed.set(wide, [...(narrowed.get(wide) ?? []), r.port]);
    return false;
  });

  const changes = (m: Map<FlowRow, string[]>) => [...m.entries()].map(([row, ports]) => ({ row, ports: [...new Set(ports)] })).sort((a, b) => compareRows(a.row, b.row));
  const stages = before.stages?.length || after.stages?.length ? { stages: { old: before.stages ?? [], new: after.stages ?? [] } } : {};
  return { oldBackend: before.backend, newBackend: after.backend, added, removed, widened: changes(widened), narrowed: changes(narrowed), ...stages };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * Markdown for a pull-request comment. Every cell is escaped (`code`), so no name can leave the
 * table; `notes` (see `reviewNotes`) mark the assumed parties and hostNetwork pods of the rows.
 */
export function formatDiffMarkdown(d: FlowDiff, oldName: string, newName: string, notes?: readonly ReviewNote[]): string {
  const backends = d.oldBackend === d.newBackend ? `backend ${code(d.newBackend)}` : `backend ${code(d.oldBackend)} → ${code(d.newBackend)}`;
  const widened = d.widened ?? [];
  const narrowed = d.narrowed ?? [];
  const summary = [`${plural(d.added.length, 'flow')} added`, `${d.removed.length} removed`];
  if (widened.length > 0) summary.push(`${widened.length} opened to any port (the ports they replace are still open, not removed)`);
  if (narrowed.length > 0) summary.push(`${narrowed.length} narrowed from any port (the ports kept are not listed as added)`);
  const lines = ['## Allowed flow changes', '', `${code(oldName)} → ${code(newName)} (${backends}): ${summary.join(', ')}.`];
  if (d.stages) {
    const stage = (list: readonly NamespaceStage[]) => (list.length ? list.map((x) => `${code(x.namespace)} ${x.enforcement}${x.mtls === 'PERMISSIVE' ? ' (mTLS PERMISSIVE)' : ''}`).join(', ') : 'ENFORCE, STRICT');
    lines.push('', `Rollout stage: ${stage(d.stages.old)} → ${stage(d.stages.new)}. Rows marked \`${AUDIT_MARK}\` are open only because the mesh audits the policy.`);
  }
  if (d.added.length === 0 && d.removed.length === 0) {
    lines.push('', 'No allowed flow changed.');
  }
  const cells = (r: FlowRow, changes: PortChange[], word: string) => {
    const c = rowCells(r, notes);
    const change = changes.find((x) => x.row === r);
    if (change) c[2] = `${c[2]} (${word} ${change.ports.join(', ')})`;
    return c;
  };
  if (d.added.length > 0) lines.push('', `### Added (${d.added.length})`, '', markdownTable(TABLE_HEADER, d.added.map((r) => cells(r, widened, 'was'))));
  if (d.removed.length > 0) lines.push('', `### Removed (${d.removed.length})`, '', markdownTable(TABLE_HEADER, d.removed.map((r) => cells(r, narrowed, 'now only'))));
  const noted = formatNotes(notes, [...d.added, ...d.removed]);
  if (noted) lines.push('', noted);
  return `${lines.join('\n')}\n`;
}

/** JSON of the difference (rows with their reasons, the `any` rows' port changes, the notes). */
export function formatDiffJson(d: FlowDiff, notes?: readonly ReviewNote[]): string {
  return `${JSON.stringify({
    oldBackend: d.oldBackend, newBackend: d.newBackend, ...(d.stages ? { stages: d.stages } : {}),
    added: d.added, removed: d.removed, widened: d.widened ?? [], narrowed: d.narrowed ?? [], notes: notes ?? [],
  }, null, 2)}\n`;
}
