/** Row names of addresses, for the flow matrix (lib/report/matrix.ts). */
import { ParsedCidr, cidrContains } from '../intent/cidr';

/** An address range the manifests name, as written and parsed. */
export interface NamedRange {
  readonly text: string;
  readonly parsed: ParsedCidr;
}

/**
 * The row name of an address: `cidr:<range>` for the most specific range the policies name that
 * holds it, followed by `except <range>, ...` for the named ranges inside that one which do not
 * hold it (an ipBlock's `except`, or a narrower range another rule names): so
 * `cidr:10.0.0.0/8 except 10.1.0.0/16` is read as it is meant, not as the whole of 10.0.0.0/8.
 * `world` for an address outside every named range.
 */
export function addressName(ip: { family: 4 | 6; value: bigint } | undefined, ranges: readonly NamedRange[]): string {
  if (!ip) return 'world';
  let best: NamedRange | undefined;
  for (const r of ranges) {
    if (r.parsed.family !== ip.family || !cidrContains(r.parsed, ip.value)) continue;
    if (!best || r.parsed.prefix > best.parsed.prefix) best = r;
  }
  if (!best) return 'world';
  const inside = new Set<string>();
  for (const r of ranges) {
    if (r.parsed.family !== best.parsed.family || r.parsed.prefix <= best.parsed.prefix) continue;
    if (cidrContains(best.parsed, r.parsed.address) && !cidrContains(r.parsed, ip.value)) inside.add(r.text);
  }
  const except = [...inside].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `cidr:${best.text}${except.length > 0 ? ` except ${except.join(', ')}` : ''}`;
}
