/**
 * Renderings of a flow matrix: a Markdown table (also readable in a terminal), JSON, a Mermaid
 * flowchart (renders on GitHub and GitLab), Graphviz DOT, and the FLOWS.md page. All
 * deterministic: same rows, same bytes.
 */
import { FlowMatrix, FlowRow } from './matrix';
import { compareText } from '../intent/collation';

/** `|`-safe table cell, code-formatted. */
function code(text: string): string {
  return `\`${text.replace(/\|/g, '\\|')}\``;
}

/** Pads a Markdown table so it also reads well as plain text. */
export function markdownTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, 3, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

/** Column values of a row: source, destination, port, protocol, L7, mTLS. */
export function rowCells(r: FlowRow): string[] {
  return [code(r.source), code(r.destination), r.port, r.protocol, r.l7 ? code(r.l7) : '—', r.mtls ? 'required' : 'no'];
}

/** Header of the flow table. */
export const TABLE_HEADER = ['Source', 'Destination', 'Port', 'Protocol', 'L7 rule', 'mTLS'];

/** The Markdown flow table (`_No flows are allowed._` when empty). */
export function formatTable(matrix: FlowMatrix): string {
  if (matrix.rows.length === 0) return '_No flows are allowed._';
  return markdownTable(TABLE_HEADER, matrix.rows.map(rowCells));
}

/** The matrix as JSON text (rows with their reasons). */
export function formatJson(matrix: FlowMatrix): string {
  return `${JSON.stringify({ backend: matrix.backend, flows: matrix.rows }, null, 2)}\n`;
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
export function graphOf(matrix: FlowMatrix): { nodes: GraphNode[]; edges: GraphEdge[] } {
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
    label: name,
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

function mermaidText(text: string): string {
  return text.replace(/"/g, '#quot;');
}

/** A Mermaid `flowchart LR` of the matrix: namespaces of workloads as subgraphs, one edge per pair. */
export function formatMermaid(matrix: FlowMatrix): string {
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

function dotText(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A Graphviz digraph of the matrix (left to right, namespaces of workloads as clusters). */
export function formatDot(matrix: FlowMatrix): string {
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

/** The FLOWS.md page of a synthesized folder. */
export function formatFlowsMarkdown(matrix: FlowMatrix, title: string): string {
  return [
    `# Allowed flows: ${title}`,
    '',
    `<!-- Generated by cdk8s-zero-trust from the manifests in this folder (backend: ${matrix.backend}). Do not edit; regenerate with synth or \`npx cdk8s-zero-trust flows <dir> --format markdown\`. -->`,
    '',
    `Read from the YAML beside this file with the **${matrix.backend}** reader: every connection it allows from or to a workload defined here.`,
    '`ns:X` is any pod of namespace X, `ns:*` a pod of any other namespace, `cidr:` an address range, `world` an address outside every range the policies name.',
    '`any` port: every port probed was allowed. L7 rule: the HTTP requests allowed (— when any request passes). mTLS: required when both ends must authenticate.',
    '',
    formatTable(matrix),
    '',
    '```mermaid',
    formatMermaid(matrix).trimEnd(),
    '```',
    '',
  ].join('\n');
}

/** `flows` output formats. */
export const FLOW_FORMATS = ['table', 'json', 'mermaid', 'dot', 'svg', 'markdown'] as const;

/** Renders the matrix in a text format (not svg). */
export function formatMatrix(matrix: FlowMatrix, format: string, title = ''): string {
  switch (format) {
    case 'table': return `${formatTable(matrix)}\n`;
    case 'json': return formatJson(matrix);
    case 'mermaid': return formatMermaid(matrix);
    case 'dot': return formatDot(matrix);
    case 'markdown': return formatFlowsMarkdown(matrix, title || matrix.backend);
    default: throw new Error(`unknown format "${format}"`);
  }
}

/** The matrix as an SVG picture (Graphviz compiled to WebAssembly: no browser, no network). */
export async function formatSvg(matrix: FlowMatrix): Promise<string> {
  const viz = await (require('@viz-js/viz') as typeof import('@viz-js/viz')).instance();
  return viz.renderString(formatDot(matrix), { format: 'svg' });
}
