/**
 * Renderings of a flow matrix: a Markdown table (also readable in a terminal), JSON, a Mermaid
 * flowchart (renders on GitHub and GitLab), Graphviz DOT, and the FLOWS.md page. All
 * deterministic: same rows, same bytes.
 */
import { FlowMatrix, FlowRow } from './matrix';
import { ReviewNote, notesOf } from './notes';
import { compareText } from '../intent/collation';
import { stageMarkdown } from './audit';

/** A matrix with the notes of its report (assumed parties, hostNetwork pods): see `reviewNotes`. */
export interface NotedMatrix extends FlowMatrix {
  readonly notes?: readonly ReviewNote[];
}

/** Characters a name may hold and still be shown as is in a Markdown code span. */
const CODE_SAFE = /^[A-Za-z0-9 ._:/*{}=,;+()\-]*$/;

/**
 * Markdown text that shows `text` literally and cannot leave its table cell or the comment: the
 * characters Markdown, HTML or GitHub read (`|`, backticks, `<`, `&`, `@`, `#`, brackets,
 * emphasis, backslashes), line breaks and every character outside printable ASCII become
 * numeric character references.
 */
export function escapeMarkdown(text: string): string {
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    out += (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || ' .,:;/=+-(){}'.includes(ch) ? ch : `&#${c};`;
  }
  return out;
}

/**
 * A table cell showing `text` as code: a code span when the text holds only harmless characters
 * (every name the readers make from well-formed manifests), else `<code>` with every other
 * character escaped (`escapeMarkdown`), so that no name breaks out of the cell, the table or the
 * pull-request comment.
 */
export function code(text: string): string {
  if (CODE_SAFE.test(text) && text.trim() === text && text.length > 0) return `\`${text}\``;
  return `<code>${escapeMarkdown(text)}</code>`;
}

/** Pads a Markdown table so it also reads well as plain text. */
export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h) => Math.max(h.length, 3));
  for (const r of rows) for (let i = 0; i < widths.length; i++) if (r[i].length > widths[i]) widths[i] = r[i].length;
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

/** A party's cell: the name as code, then the marks of its notes (`(assumed)`, `(hostNetwork)`). */
export function partyCell(name: string, notes?: readonly ReviewNote[]): string {
  const marks = [...new Set(notesOf(notes, name).map((n) => n.mark))];
  return `${code(name)}${marks.map((m) => ` (${m})`).join('')}`;
}

/** Column values of a row: source, destination, port, protocol, L7, mTLS. */
export function rowCells(r: FlowRow, notes?: readonly ReviewNote[]): string[] {
  return [partyCell(r.source, notes), partyCell(r.destination, notes), r.port, r.protocol, r.l7 ? code(r.l7) : '—', r.mtls ? 'required' : 'no'];
}

/** Header of the flow table. */
export const TABLE_HEADER = ['Source', 'Destination', 'Port', 'Protocol', 'L7 rule', 'mTLS'];

/** The Markdown flow table (`_No flows are allowed._` when empty). */
export function formatTable(matrix: NotedMatrix): string {
  if (matrix.rows.length === 0) return '_No flows are allowed._';
  // A party's cell once per name: a large app's table names each party in hundreds of rows.
  const cells = new Map<string, string>();
  const cell = (name: string) => {
    let c = cells.get(name);
    if (c === undefined) { c = partyCell(name, matrix.notes); cells.set(name, c); }
    return c;
  };
  return markdownTable(TABLE_HEADER, matrix.rows.map((r) => [cell(r.source), cell(r.destination), r.port, r.protocol, r.l7 ? code(r.l7) : '—', r.mtls ? 'required' : 'no']));
}

/**
 * The notes of a matrix that concern its rows, as a Markdown list (`''` when none): one line per
 * note, the party as code, its mark, the sentence.
 */
export function formatNotes(notes: readonly ReviewNote[] | undefined, rows: readonly FlowRow[], heading = '### Assumptions and warnings'): string {
  const parties = new Set(rows.flatMap((r) => [r.source, r.destination]));
  const shown = (notes ?? []).filter((n) => [...parties].some((p) => notesOf([n], p).length > 0));
  if (shown.length === 0) return '';
  return [heading, '', ...shown.map((n) => `- ${partyCell(n.party)} (${n.mark}): ${n.text}.`)].join('\n');
}

/** The matrix as JSON text (rows with their reasons, and the notes of the report). */
export function formatJson(matrix: NotedMatrix): string {
  return `${JSON.stringify({ backend: matrix.backend, ...(matrix.stages?.length ? { stages: matrix.stages } : {}), flows: matrix.rows, notes: matrix.notes ?? [] }, null, 2)}\n`;
}

/** A node of the diagrams. */
interface GraphNode { readonly id: string; readonly label: string; readonly group?: string; readonly workload: boolean }
/** An edge of the diagrams: every row between two nodes, folded. */
interface GraphEdge { readonly from: string; readonly to: string; readonly label: string }

/** `port/protocol [L7] (mTLS)` of a row. */
export function edgeText(r: FlowRow): string {
  return `${r.port === 'any' ? 'any port' : r.port}/${r.protocol}${r.l7 ? ` ${r.l7}` : ''}${r.mtls ? ' mTLS' : ''}`;
}

/** Nodes and edges of a matrix, with ids derived from names (stable when other nodes come and go). */
export function graphOf(matrix: NotedMatrix): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const names = [...new Set(matrix.rows.flatMap((r) => [r.source, r.destination]))].sort(compareText);
  const ids = new Map<string, string>();
  const used = new Set<string>();
  for (const name of names) {
    const base = `n_${name.replace(/[^A-Za-z0-9]+/g, '_').replace(/_+$/, '')}`;
    let id = base;
    for (let i = 2; used.has(id); i++) id = `${base}_${i}`;
    used.add(id);
    ids.set(name, id);
  }
  const isWorkload = (n: string) => /^[a-z0-9-]+\/[^{*]/.test(n) && !n.includes(':');
  const nodes = names.map((name) => ({
    id: ids.get(name)!,
    label: `${name}${[...new Set(notesOf(matrix.notes, name).map((n) => n.mark))].map((m) => ` (${m})`).join('')}`,
    workload: isWorkload(name),
    ...(isWorkload(name) ? { group: name.split('/')[0] } : {}),
  }));
  const edges = new Map<string, { from: string; to: string; labels: string[] }>();
  for (const r of matrix.rows) {
    const key = `${r.source}\u0000${r.destination}`;
    let e = edges.get(key);
    if (!e) { e = { from: ids.get(r.source)!, to: ids.get(r.destination)!, labels: [] }; edges.set(key, e); }
    e.labels.push(edgeText(r));
  }
  return { nodes, edges: [...edges.values()].map((e) => ({ from: e.from, to: e.to, label: e.labels.join(', ') })) };
}

/**
 * Text inside a quoted Mermaid label: `"` as `#quot;`, and every character that could end the
 * label, the diagram or the Markdown fence around it (backticks, `#`, `<`, line breaks, anything
 * outside printable ASCII) as a Mermaid entity code `#<decimal>;`.
 */
export function mermaidText(text: string): string {
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '#quot;';
    else if (c < 0x20 || c > 0x7e || '`#<>&|\\'.includes(ch)) out += `#${c};`;
    else out += ch;
  }
  return out;
}

/** A Mermaid `flowchart LR` of the matrix: namespaces of workloads as subgraphs, one edge per pair. */
export function formatMermaid(matrix: NotedMatrix): string {
  const { nodes, edges } = graphOf(matrix);
  const lines = ['flowchart LR'];
  const groups = [...new Set(nodes.filter((n) => n.group).map((n) => n.group!))].sort(compareText);
  for (const g of groups) {
    lines.push(`  subgraph ns_${g.replace(/[^A-Za-z0-9]+/g, '_')}["namespace ${mermaidText(g)}"]`);
    for (const n of nodes.filter((x) => x.group === g)) lines.push(`    ${n.id}["${mermaidText(n.label)}"]`);
    lines.push('  end');
  }
  for (const n of nodes.filter((x) => !x.group)) lines.push(`  ${n.id}(["${mermaidText(n.label)}"])`);
  for (const e of edges) lines.push(`  ${e.from} -->|"${mermaidText(e.label)}"| ${e.to}`);
  if (edges.length === 0) lines.push('  none["no flows are allowed"]');
  return `${lines.join('\n')}\n`;
}

/** A quoted DOT string: backslashes and quotes escaped, line breaks and other control characters as `\\n` or dropped to a space. */
export function dotText(text: string): string {
  const body = text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r\n|\r|\n/g, '\\n').replace(/[\u0000-\u001f\u007f]/g, ' ');
  return `"${body}"`;
}

/** A Graphviz digraph of the matrix (left to right, namespaces of workloads as clusters). */
export function formatDot(matrix: NotedMatrix): string {
  const { nodes, edges } = graphOf(matrix);
  const lines = [
    'digraph flows {',
    '  rankdir=LR;',
    `  label=${dotText(`Allowed flows (${matrix.backend})`)}; labelloc=t; fontname="Helvetica";`,
    '  node [fontname="Helvetica", fontsize=11];',
    '  edge [fontname="Helvetica", fontsize=10];',
  ];
  const groups = [...new Set(nodes.filter((n) => n.group).map((n) => n.group!))].sort(compareText);
  for (const g of groups) {
    lines.push(`  subgraph ${dotText(`cluster_${g}`)} {`, `    label=${dotText(`namespace ${g}`)}; style=rounded; color=gray50;`);
    for (const n of nodes.filter((x) => x.group === g)) lines.push(`    ${n.id} [label=${dotText(n.label)}, shape=box, style="rounded,filled", fillcolor="#e8f0fe"];`);
    lines.push('  }');
  }
  for (const n of nodes.filter((x) => !x.group)) lines.push(`  ${n.id} [label=${dotText(n.label)}, shape=ellipse, style=filled, fillcolor="#f1f3f4"];`);
  for (const e of edges) lines.push(`  ${e.from} -> ${e.to} [label=${dotText(e.label)}];`);
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/**
 * The FLOWS.md page of a synthesized folder, titled with the mesh (backend) the manifests are
 * read as, or with `title` when one is given.
 */
export function formatFlowsMarkdown(matrix: NotedMatrix, title?: string): string {
  const notes = formatNotes(matrix.notes, matrix.rows, '## Assumptions and warnings');
  return [
    `# Allowed flows: ${escapeMarkdown(title ?? matrix.backend)}`,
    '',
    `<!-- Generated by cdk8s-zero-trust from the manifests in this folder (backend: ${escapeMarkdown(matrix.backend)}). Do not edit; regenerate with synth or \`npx cdk8s-zero-trust flows <dir> --format markdown\`. -->`,
    '',
    `Read from the YAML beside this file with the **${escapeMarkdown(matrix.backend)}** reader: every connection it allows from or to a workload defined here.`,
    '`ns:X` is any pod of namespace X, `ns:*` a pod of any other namespace, `cidr:` an address range (`except` the ranges inside it that are named on their own), `world` an address outside every range the policies name.',
    '`any` port: every port probed was allowed. L7 rule: the HTTP requests allowed (— when any request passes). mTLS: required when both ends must authenticate.',
    ...(notes ? ['A mark after a party, (assumed), (assumed in mesh) or (hostNetwork), points to the notes below the table: what this page takes for granted about it.'] : []),
    ...(matrix.stages?.length ? ['', stageMarkdown(matrix.stages)] : []),
    '',
    formatTable(matrix),
    '',
    ...(notes ? [notes, ''] : []),
    '```mermaid',
    formatMermaid(matrix).trimEnd(),
    '```',
    '',
  ].join('\n');
}

/** `flows` output formats. */
export const FLOW_FORMATS = ['table', 'json', 'mermaid', 'dot', 'svg', 'markdown'] as const;

/** Renders the matrix in a text format (not svg); `title` is FLOWS.md's (default: the backend). */
export function formatMatrix(matrix: NotedMatrix, format: string, title = ''): string {
  switch (format) {
    case 'table': {
      const notes = formatNotes(matrix.notes, matrix.rows);
      const stage = stageMarkdown(matrix.stages ?? []);
      return `${stage ? `${stage}\n\n` : ''}${formatTable(matrix)}\n${notes ? `\n${notes}\n` : ''}`;
    }
    case 'json': return formatJson(matrix);
    case 'mermaid': return formatMermaid(matrix);
    case 'dot': return formatDot(matrix);
    case 'markdown': return formatFlowsMarkdown(matrix, title || matrix.backend);
    default: throw new Error(`unknown format "${format}"`);
  }
}

/** The matrix as an SVG picture (Graphviz compiled to WebAssembly: no browser, no network). */
export async function formatSvg(matrix: NotedMatrix): Promise<string> {
  const viz = await (require('@viz-js/viz') as typeof import('@viz-js/viz')).instance();
  return viz.renderString(formatDot(matrix), { format: 'svg' });
}
