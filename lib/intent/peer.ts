import { ZeroTrustError } from './errors';
import { cidrContains, normalizeCidr, parseCidr, parseIp } from './cidr';
import { checkDnsLabel, checkDnsSubdomain, checkLabels, shown } from './names';
import type { SecureWorkload } from './workload';
import { compareText } from './collation';

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
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw new ZeroTrustError({ code: 'INVALID_ARGUMENT', message: `Peer.workload: expected { namespace, labels, serviceAccount? }, got ${shown(options)}` });
    }
    checkDnsLabel(options.namespace, 'Peer.workload namespace');
    if (!options.labels || typeof options.labels !== 'object' || Object.keys(options.labels).length === 0) {
      throw new ZeroTrustError({ code: 'EMPTY_SELECTOR', message: `Peer.workload in namespace "${options.namespace}" needs at least one label; use Peer.namespace() to mean every pod of a namespace` });
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
    if (except !== undefined && !Array.isArray(except)) {
      throw new ZeroTrustError({ code: 'INVALID_ARGUMENT', message: `Peer.ipBlock(${cidr}): except must be an array of CIDR strings, got ${shown(except)}` });
    }
    const normalized: string[] = [];
    for (const e of except ?? []) {
      const inner = parseCidr(e, `Peer.ipBlock(${cidr}) except`);
      if (inner.family !== parsed.family || inner.prefix <= parsed.prefix || !cidrContains(parsed, inner.address)) {
        throw new ZeroTrustError({ code: 'INVALID_IP_BLOCK', message: `Peer.ipBlock(${cidr}): except "${e}" must be a smaller range inside ${cidr}` });
      }
      const n = normalizeCidr(inner);
      if (normalized.includes(n)) {
        throw new ZeroTrustError({ code: 'INVALID_IP_BLOCK', message: `Peer.ipBlock(${cidr}): except lists ${n} twice${n !== e ? ` (as "${e}")` : ''}; list each range once` });
      }
      normalized.push(n);
    }
    return new FixedPeer({ kind: PeerKind.IP_BLOCK, cidr: normalizeCidr(parsed), except: normalized.sort(compareText) });
  }

  /** An external host by name, for egress (`api.example.com`, or `*.example.com` where the mesh supports it). */
  public static fqdn(host: string): IPeer {
    if (typeof host !== 'string') {
      throw new ZeroTrustError({ code: 'INVALID_ARGUMENT', message: `Peer.fqdn: expected a host name string, got ${shown(host)}` });
    }
    const bare = host.startsWith('*.') ? host.slice(2) : host;
    if (bare.toLowerCase() !== bare) {
      throw new ZeroTrustError({ code: 'INVALID_FQDN', message: `Peer.fqdn "${host}" must be lowercase` });
    }
    if (parseIp(bare) !== undefined || /^[0-9.]+$/.test(bare)) {
      throw new ZeroTrustError({ code: 'INVALID_FQDN', message: `Peer.fqdn "${host}" is an IP address, not a host name; use Peer.ipBlock("${bare}/32")` });
    }
    try {
      checkDnsSubdomain(bare, 'Peer.fqdn host');
    } catch (e) {
      throw new ZeroTrustError({ code: 'INVALID_FQDN', message: (e as Error).message });
    }
    if (!bare.includes('.')) {
      throw new ZeroTrustError({ code: 'INVALID_FQDN', message: `Peer.fqdn "${host}" must be a fully qualified name with at least one dot` });
    }
    if (/^\d+$/.test(bare.slice(bare.lastIndexOf('.') + 1))) {
      throw new ZeroTrustError({ code: 'INVALID_FQDN', message: `Peer.fqdn "${host}": a top-level domain is never all digits; give a host name, or Peer.ipBlock() for an address` });
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

