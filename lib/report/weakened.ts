/**
 * Weakened rows (issue 19): the rows of a flows report that only a weakened flow allows are
 * marked, from the intent file beside the manifests (`zero-trust.intent.json` records the
 * `Weaken` members each chart accepted). The mark goes into the row's L7 cell, which every
 * format shows (table, Markdown, Mermaid, DOT, SVG) and `diff` compares, so a change of
 * enforcement strength is a changed row.
 */
import * as fs from 'fs';
import * as path from 'path';
import { INTENT_FILE_NAME, parseIntentDocument } from '../intent/document';
import { FlowModel, ZeroTrustModel, endpointKey } from '../intent/model';
import { WEAKEN_MEMBERS, Weaken, enforcementSummary, formatEnforcementSummary } from '../intent/weaken';
import { FlowMatrix, FlowRow } from './matrix';

/** The intent model recorded beside the manifests of `dir` (a folder), with its weakenings applied; undefined without a readable one. */
export function intentBeside(dir: string): ZeroTrustModel | undefined {
  const file = path.join(dir, INTENT_FILE_NAME);
  try {
    if (!fs.statSync(dir).isDirectory() || !fs.existsSync(file)) return undefined;
    return parseIntentDocument(JSON.parse(fs.readFileSync(file, 'utf-8')), file).model;
  } catch {
    return undefined; // a broken intent file is verify's to report
  }
}

/** True when the flow admits the row's port (a row of every port needs a flow of every port, or of all the destination's). */
function admits(f: FlowModel, row: FlowRow): boolean {
  if (f.ports.length === 0) return true;
  if (!/^\d+$/.test(row.port)) return f.weakened?.includes(Weaken.PORTS_TO_CONNECTION) === true;
  const n = Number(row.port);
  return f.ports.some((p) => p.protocol === row.protocol && n >= p.number && n <= (p.endPort ?? p.number));
}

/**
 * The matrix with every row that only weakened flows allow marked in its L7 cell:
 * `weakened (Weaken.HTTP_TO_PORT)`. Rows no weakened flow allows are returned as they are.
 */
export function markWeakenedRows<M extends FlowMatrix>(matrix: M, model: ZeroTrustModel): M {
  const weakened = model.flows.filter((f) => f.weakened?.length);
  if (weakened.length === 0) return matrix;
  const key = (f: FlowModel) => `${endpointKey(f.source)}\u0000${endpointKey(f.destination)}`;
  const byPair = new Map<string, FlowModel[]>();
  for (const f of model.flows) byPair.set(key(f), [...(byPair.get(key(f)) ?? []), f]);
  const rows = matrix.rows.map((r) => {
    const flows = (byPair.get(`${r.source}\u0000${r.destination}`) ?? []).filter((f) => admits(f, r));
    if (flows.length === 0 || flows.some((f) => !f.weakened?.length)) return r;
    const members = WEAKEN_MEMBERS.filter((m) => flows.some((f) => f.weakened!.includes(m)));
    const mark = `weakened (${members.map((m) => `Weaken.${m}`).join(', ')})`;
    return { ...r, l7: r.l7 ? `${r.l7}; ${mark}` : mark };
  });
  return { ...matrix, rows };
}

/** The synth summary of a model as a Markdown section, for reports beside the manifests. */
export function enforcementMarkdown(model: ZeroTrustModel): string {
  return `\n### Enforcement (${INTENT_FILE_NAME})\n\n${formatEnforcementSummary(enforcementSummary(model)).map((l) => `- ${l}\n`).join('')}`;
}
