/**
 * Flows added and removed between two versions of the manifests. A row counts as changed when
 * anything a reviewer reads in it changed: an L7 rule dropped or mTLS no longer required shows
 * as the old row removed and the new one added, so a CI gate on "added" catches widenings.
 */
import { FlowMatrix, FlowRow, compareRows } from './matrix';
import { TABLE_HEADER, markdownTable, rowCells } from './format';

/** The difference of two matrices. */
export interface FlowDiff {
  readonly oldBackend: string;
  readonly newBackend: string;
  readonly added: FlowRow[];
  readonly removed: FlowRow[];
}

function identity(r: FlowRow): string {
  return [r.source, r.destination, r.port, r.protocol, r.l7, r.mtls ? 'mtls' : 'plain'].join('\u0000');
}

/** Rows of `after` not in `before` (added) and of `before` not in `after` (removed), sorted. */
export function diffMatrices(before: FlowMatrix, after: FlowMatrix): FlowDiff {
  const old = new Set(before.rows.map(identity));
  const now = new Set(after.rows.map(identity));
  return {
    oldBackend: before.backend,
    newBackend: after.backend,
    added: after.rows.filter((r) => !old.has(identity(r))).sort(compareRows),
    removed: before.rows.filter((r) => !now.has(identity(r))).sort(compareRows),
  };
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Markdown for a pull-request comment. */
export function formatDiffMarkdown(d: FlowDiff, oldName: string, newName: string): string {
  const backends = d.oldBackend === d.newBackend ? `backend \`${d.newBackend}\`` : `backend \`${d.oldBackend}\` → \`${d.newBackend}\``;
  const lines = ['## Allowed flow changes', '', `\`${oldName}\` → \`${newName}\` (${backends}): ${plural(d.added.length, 'flow')} added, ${d.removed.length} removed.`];
  if (d.added.length === 0 && d.removed.length === 0) {
    lines.push('', 'No allowed flow changed.');
  }
  if (d.added.length > 0) lines.push('', `### Added (${d.added.length})`, '', markdownTable(TABLE_HEADER, d.added.map(rowCells)));
  if (d.removed.length > 0) lines.push('', `### Removed (${d.removed.length})`, '', markdownTable(TABLE_HEADER, d.removed.map(rowCells)));
  return `${lines.join('\n')}\n`;
}

/** JSON of the difference (rows with their reasons). */
export function formatDiffJson(d: FlowDiff): string {
  return `${JSON.stringify({ oldBackend: d.oldBackend, newBackend: d.newBackend, added: d.added, removed: d.removed }, null, 2)}\n`;
}
