import { ZeroTrustError } from './errors';
import { checkDnsLabel, checkDnsSubdomain, checkLabels } from './names';
import type { SecureWorkload } from './workload';

/** What kind of party a peer is. */
export enum PeerKind {
  /** A `SecureWorkload` declared in this cdk8s app. */
  APP_WORKLOAD = 'app-workload',
  /** Pods outside this app, selected by namespace and labels (and optionally ServiceAccount). */
  EXTERNAL_WORKLOAD = 'external-workload',
  /** Every pod of a namespace. */
  NAMESPACE = 'namespace',
  /** An IP range outside the cluster. */
  IP_BLOCK = 'ip-block',
  /** An external host name (egress only). */
  FQDN = 'fqdn',
}

/** The description of a peer that renderers read. */
export interface PeerSpec {
  /** What kind of peer this is. */
  readonly kind: PeerKind;
  /** The workload, for `APP_WORKLOAD` peers. */
  readonly workload?: SecureWorkload;
  /** Namespace, for `EXTERNAL_WORKLOAD` and `NAMESPACE` peers. */
  readonly namespace?: string;
  /** Pod labels, for `EXTERNAL_WORKLOAD` peers. */
  readonly labels?: { [key: string]: string };
  /** ServiceAccount name, for `EXTERNAL_WORKLOAD` peers (meshes authorize by it). */
  readonly serviceAccount?: string;
  /** CIDR, for `IP_BLOCK` peers. */
  readonly cidr?: string;
  /** CIDRs excluded from `cidr`, for `IP_BLOCK` peers. */
  readonly except?: string[];
  /** Host name, for `FQDN` peers. */
  readonly host?: string;
}

/** Something a workload may be allowed to talk to or hear from. */
export interface IPeer {
  /** Describes the peer for the renderers. */
  toPeerSpec(): PeerSpec;
}

/** Options of `Peer.workload`. */
export interface ExternalWorkloadOptions {
  /** Namespace of the pods. */
  readonly namespace: string;
  /** Labels that select the pods (all must match). */
  readonly labels: { [key: string]: string };
  /**
   * ServiceAccount the pods run as. Meshes that authorize by identity (Istio, Linkerd) require it.
   * @default - unknown; identity-based backends reject the rule
   */
  readonly serviceAccount?: string;
}

/** Factories for peers that are not `SecureWorkload`s of this app. */
export class Peer {
  /** Pods outside this app, by namespace, labels and (for identity-based meshes) ServiceAccount. */
  public static workload(options: ExternalWorkloadOptions): IPeer {
    checkDnsLabel(options.namespace, 'Peer.workload namespace');
    if (!options.labels || Object.keys(options.labels).length === 0) {
      throw new ZeroTrustError(`Peer.workload in namespace "${options.namespace}" needs at least one label; use Peer.namespace() to mean every pod of a namespace`);
    }
    checkLabels(options.labels, `Peer.workload in namespace "${options.namespace}"`);
    if (options.serviceAccount !== undefined) {
      checkDnsSubdomain(options.serviceAccount, 'Peer.workload serviceAccount');
    }
    return new FixedPeer({
      kind: PeerKind.EXTERNAL_WORKLOAD,
      namespace: options.namespace,
      labels: { ...options.labels },
      serviceAccount: options.serviceAccount,
    });
  }

  /** Every pod of a namespace. */
  public static namespace(name: string): IPeer {
    checkDnsLabel(name, 'Peer.namespace');
    return new FixedPeer({ kind: PeerKind.NAMESPACE, namespace: name });
  }

  /** An IPv4 or IPv6 range, optionally minus some sub-ranges. */
  public static ipBlock(cidr: string, except?: string[]): IPeer {
    const parsed = parseCidr(cidr, 'Peer.ipBlock');
    for (const e of except ?? []) {
      const inner = parseCidr(e, `Peer.ipBlock(${cidr}) except`);
      if (inner.family !== parsed.family || inner.prefix <= parsed.prefix || !cidrContains(parsed, inner.address)) {
        throw new ZeroTrustError(`Peer.ipBlock(${cidr}): except "${e}" must be a smaller range inside ${cidr}`);
      }
    }
    return new FixedPeer({ kind: PeerKind.IP_BLOCK, cidr: normalizeCidr(parsed), except: [...(except ?? [])].map((e) => normalizeCidr(parseCidr(e, 'except'))).sort() });
  }

  /** An external host by name, for egress (`api.example.com`, or `*.example.com` where the mesh supports it). */
  public static fqdn(host: string): IPeer {
    const bare = host.startsWith('*.') ? host.slice(2) : host;
    if (bare.toLowerCase() !== bare) {
      throw new ZeroTrustError(`Peer.fqdn "${host}" must be lowercase`);
    }
    checkDnsSubdomain(bare, 'Peer.fqdn host');
    if (!bare.includes('.')) {
      throw new ZeroTrustError(`Peer.fqdn "${host}" must be a fully qualified name with at least one dot`);
    }
    return new FixedPeer({ kind: PeerKind.FQDN, host });
  }

  private constructor() {}
}

class FixedPeer implements IPeer {
  constructor(private readonly spec: PeerSpec) {}
  public toPeerSpec(): PeerSpec {
    return this.spec;
  }
}

/** A parsed CIDR. */
export interface ParsedCidr {
  readonly family: 4 | 6;
  /** The address as a big integer. */
  readonly address: bigint;
  readonly prefix: number;
}

/** Parses `a.b.c.d/n` or an IPv6 CIDR; throws a `ZeroTrustError` naming `what` when malformed. */
export function parseCidr(cidr: string, what: string): ParsedCidr {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr ?? '');
  if (!m) throw new ZeroTrustError(`${what}: "${cidr}" is not a CIDR (address/prefix)`);
  const address = parseIp(m[1]);
  if (address === undefined) throw new ZeroTrustError(`${what}: "${cidr}" has an invalid address`);
  const prefix = Number(m[2]);
  const bits = address.family === 4 ? 32 : 128;
  if (prefix > bits) throw new ZeroTrustError(`${what}: "${cidr}" has a prefix longer than ${bits}`);
  return { family: address.family, address: address.value, prefix };
}

/** Parses an IPv4 or IPv6 address. */
export function parseIp(text: string): { family: 4 | 6; value: bigint } | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
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
  if ((halves.length === 1 && missing !== 0) || missing < 0) return undefined;
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
