/** IP and CIDR arithmetic for ipBlock peers (internal: bigint is not part of the public API). */
import { ZeroTrustError } from './errors';

/** A parsed CIDR. */
export interface ParsedCidr {
  readonly family: 4 | 6;
  /** The address as a big integer. */
  readonly address: bigint;
  readonly prefix: number;
}

/** Parses `a.b.c.d/n` or an IPv6 CIDR; throws a `ZeroTrustError` naming `what` when malformed. */
export function parseCidr(cidr: string, what: string): ParsedCidr {
  const shownValue = typeof cidr === 'string' ? `"${cidr}"` : `${cidr === null ? 'null' : typeof cidr} (expected a string)`;
  const fail = (why: string) => new ZeroTrustError({ code: 'INVALID_CIDR', message: `${what}: ${shownValue} ${why}` });
  if (typeof cidr !== 'string') throw fail('is not a CIDR (address/prefix)');
  // Written as Go's net.ParseCIDR (which Kubernetes and the meshes use) accepts it: no leading zeros.
  const m = /^([^/]+)\/(0|[1-9]\d{0,2})$/.exec(cidr);
  if (!m) throw fail('is not a CIDR (address/prefix, the prefix without leading zeros)');
  const address = parseIp(m[1]);
  if (address === undefined) throw fail('has an invalid address (IPv4 octets 0-255 without leading zeros, or IPv6 with at most one "::" standing for at least one group)');
  const prefix = Number(m[2]);
  const bits = address.family === 4 ? 32 : 128;
  if (prefix > bits) throw fail(`has a prefix longer than ${bits}`);
  return { family: address.family, address: address.value, prefix };
}

/** Parses an IPv4 or IPv6 address. */
export function parseIp(text: string): { family: 4 | 6; value: bigint } | undefined {
  if (typeof text !== 'string') return undefined;
  // No leading zeros: `010.0.0.0` is octal to some parsers and decimal to others (Go rejects it).
  const v4 = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.exec(text);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    return { family: 4, value: parts.reduce((acc, p) => (acc << 8n) + BigInt(p), 0n) };
  }
  if (!text.includes(':') || !/^[0-9a-fA-F:]+$/.test(text)) return undefined;
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  // `::` stands for one or more zero groups: `1:2:3:4:5:6:7:8::` has nine.
  if ((halves.length === 1 && missing !== 0) || (halves.length === 2 && missing < 1)) return undefined;
  const groups = [...head, ...Array(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (groups.some((g) => g.length === 0 || g.length > 4)) return undefined;
  return { family: 6, value: groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g, 16)), 0n) };
}

/** True when `address` (same family) lies inside `cidr`. */
export function cidrContains(cidr: ParsedCidr, address: bigint): boolean {
  const bits = cidr.family === 4 ? 32 : 128;
  const shift = BigInt(bits - cidr.prefix);
  return address >> shift === cidr.address >> shift;
}

/** Prints a CIDR with its host bits cleared, so equal ranges compare equal. */
export function normalizeCidr(cidr: ParsedCidr): string {
  const bits = cidr.family === 4 ? 32 : 128;
  const shift = BigInt(bits - cidr.prefix);
  const network = (cidr.address >> shift) << shift;
  return `${formatIp(cidr.family, network)}/${cidr.prefix}`;
}

/** Formats an address (IPv6 in full, lowercase, without zero compression). */
export function formatIp(family: 4 | 6, value: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => ((value >> s) & 255n).toString()).join('.');
  }
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((value >> BigInt(i * 16)) & 0xffffn).toString(16));
  return compressIpv6(groups);
}

function compressIpv6(groups: string[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLen).join(':')}`;
}
