/**
 * One connection explained: allowed or denied, the reader's reasons, and the objects (with file
 * and document) its effects name.
 */
import { parseIp } from '../intent/cidr';
import { NAMESPACE_NAME_LABEL, inventory } from '../verify/inventory';
import { ManifestError } from '../verify/manifests';
import { PROBE_LABEL } from '../verify/universe';
import { ReviewNote, notesOf } from './notes';
import { reportUniverse } from './universe';
import { Decision, Endpoint, PolicyEvaluator, Query, SourcedManifest, objectName } from '../verify/types';

/** An explained query. */
export interface Explanation {
  readonly backend: string;
  readonly query: Query;
  readonly decision: Decision;
  /** `NetworkPolicy production/hero-egress (dist/networkpolicy/production.k8s.yaml document #12)`. */
  readonly objects: string[];
  /** The notes of the report (see `reviewNotes`); those about the two ends are printed. */
  readonly notes?: readonly ReviewNote[];
}

/**
 * Resolves `ns/workload` (a workload of the manifests), `ns/*` or `ns:<namespace>` (any pod of a
 * namespace), `ip:<address>` or a bare address, `fqdn:<host>` or a bare host name.
 */
export function resolveEndpoint(manifests: readonly SourcedManifest[], text: string, flag: string): Endpoint {
  const inv = inventory(manifests);
  const fail = (why: string): never => { throw new ManifestError(`${flag} ${text}: ${why}`); };
  const ipText = text.startsWith('ip:') ? text.slice(3) : text;
  if (parseIp(ipText)) return { id: `ip:${ipText}`, kind: 'ip', ip: ipText };
  if (text.startsWith('ip:')) fail('not an IP address');
  if (text.startsWith('fqdn:')) return { id: text, kind: 'fqdn', host: text.slice(5) };
  const nsMatch = /^ns:([a-z0-9-]+)$/.exec(text) ?? /^([a-z0-9-]+)\/\*$/.exec(text);
  if (nsMatch) {
    const ns = inv.namespaces.find((n) => n.name === nsMatch[1]);
    return {
      id: `${nsMatch[1]}/*`, kind: 'pod', namespace: nsMatch[1],
      namespaceLabels: { ...(ns?.labels ?? {}), [NAMESPACE_NAME_LABEL]: nsMatch[1] }, namespaceAnnotations: { ...(ns?.annotations ?? {}) },
      labels: { [PROBE_LABEL]: 'true' }, annotations: {}, serviceAccount: 'default', ports: [],
    };
  }
  // A party the policies name (`ops/{app=backup}@pg-backup`, `ops/*@pg-backup`), as the flow rows name it.
  if (/^[a-z0-9-]+\/[{*]/.test(text) && text !== `${text.split('/')[0]}/*`) {
    const party = reportUniverse(manifests).endpoints.find((e) => e.id === text);
    if (party) return party;
    fail('no party of that name; the flow rows name those the policies name (ns/{labels}, ns/{labels}@serviceaccount, ns/*@serviceaccount)');
  }
  if (/^[a-z0-9-]+\/([A-Z][A-Za-z0-9]*\/)?[a-z0-9.-]+$/.test(text)) {
    const w = inv.workloads.find((e) => e.id === text) ?? reportUniverse(manifests).endpoints.find((e) => e.id === text);
    if (w) return w;
    const kinds = inv.workloads.filter((e) => e.id.startsWith(`${text.split('/')[0]}/`) && e.id.endsWith(`/${text.split('/').pop()}`) && e.id !== text);
    if (kinds.length > 1) return fail(`objects of several kinds have this name; name one: ${kinds.map((e) => e.id).join(', ')}`);
    return fail(`no such workload; the manifests define ${inv.workloads.map((e) => e.id).join(', ') || 'none'}`);
  }
  if (/^([a-z0-9-]+\.)+[a-z]{2,}$/i.test(text)) return { id: `fqdn:${text}`, kind: 'fqdn', host: text };
  return fail('expected ns/workload, ns/* (any pod of a namespace), a party of the flow rows (ns/{labels}@serviceaccount), ip:<address> or fqdn:<host>');
}

/** Splits `ns/workload:8080` into the endpoint text and port. */
export function splitPort(text: string, flag: string): { endpoint: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(text);
  if (!m || m[1].length === 0) {
    throw new ManifestError(`${flag} ${text}: expected <destination>:<port>, for example production/lil-deebee:5432`);
  }
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new ManifestError(`${flag} ${text}: port ${port} is outside 1-65535`);
  return { endpoint: m[1], port };
}

/**
 * Decides the query and lists the objects its effects name, in manifest order. Folded effects
 * are left out as the reasons leave them out: the list names what the reasons name.
 */
export function explain(manifests: readonly SourcedManifest[], backend: string, evaluator: PolicyEvaluator, query: Query): Explanation {
  const decision = evaluator.evaluate(query);
  const named = new Set(decision.effects.filter((e) => !e.folded).flatMap((e) => e.objects.map(objectName)));
  const objects: string[] = [];
  for (const m of manifests) {
    const name = objectName({ kind: m.manifest.kind, namespace: m.manifest.metadata.namespace || undefined, name: m.manifest.metadata.name });
    if (named.has(name)) objects.push(`${name} (${m.file} document #${m.index})`);
  }
  return { backend, query, decision, objects: [...new Set(objects)] };
}

/**
 * A line of plain text that stays one line: control characters (a line break in a name could
 * forge an `ALLOWED:` line) shown as `\n`, `\u001b`, ...
 */
export function plainLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

/** Plain-text explanation. */
export function formatExplanation(e: Explanation): string {
  const q = e.query;
  const http = q.http ? ` ${q.http.method} ${q.http.path}` : '';
  const lines = [
    plainLine(`${e.decision.allowed ? 'ALLOWED' : 'DENIED'}: ${q.source.id} -> ${q.destination.id} ${q.port}/${q.protocol}${http} (${e.backend})`),
    '',
    'Reasons:',
    ...e.decision.reasons.map((r) => `  - ${plainLine(r)}`),
  ];
  if (e.objects.length > 0) lines.push('', 'Objects:', ...e.objects.map((o) => `  - ${plainLine(o)}`));
  const ends = [q.source.id, q.destination.id].flatMap((id) => notesOf(e.notes, id).map((n) => `  - ${plainLine(`${id} (${n.mark}): ${n.text}`)}`));
  if (ends.length > 0) lines.push('', 'Notes:', ...[...new Set(ends)]);
  return `${lines.join('\n')}\n`;
}
