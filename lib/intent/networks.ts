/**
 * The cluster's own address ranges (pod and Service CIDRs), when a chart is told them: an
 * ip-block peer that overlaps them would name pods or Service addresses by address, and
 * NetworkPolicy would then admit every pod in the overlap on the rule's ports, whatever its labels
 * or identity. Such rules are refused; the ranges are also cut out of the any-address egress the
 * NetworkPolicy layer opens for host names.
 */
import { ZeroTrustError } from './errors';
import { EndpointModel, FlowModel, ZeroTrustModel, endpointKey } from './model';
import { ParsedCidr, cidrContains, normalizeCidr, parseCidr } from './cidr';
import { shown } from './names';
import { compareText } from './collation';

/**
 * Annotation of a NetworkPolicy listing the cluster's pod and Service ranges (comma-separated):
 * an every-address block that excepts only these still holds every host outside the cluster,
 * which is what a host name (an `fqdn` endpoint) stands for. Readers may treat such a block as
 * holding every host name; the annotation can only make them say more is allowed, never less.
 */
export const CLUSTER_NETWORKS_ANNOTATION = 'zero-trust.cdk8s.io/cluster-networks';

/** Parses, normalizes and sorts a chart's `clusterNetworks`; throws `INVALID_CIDR` or `INVALID_ARGUMENT`. */
export function parseClusterNetworks(networks: unknown, where: string): string[] {
  if (!Array.isArray(networks)) {
    throw new ZeroTrustError({ code: 'INVALID_ARGUMENT', message: `${where}: clusterNetworks must be an array of CIDR strings (the pod and Service ranges), got ${shown(networks)}` });
  }
  const out: string[] = [];
  for (const n of networks) {
    const parsed = parseCidr(n as string, `${where}: clusterNetworks`);
    const normalized = normalizeCidr(parsed);
    // A whole address family cannot be the cluster's: cut out of the host-name egress it would
    // leave no host reachable, and the renderers (which never except a block from itself) would drop it.
    if (parsed.prefix === 0) {
      throw new ZeroTrustError({ code: 'INVALID_ARGUMENT', message: `${where}: clusterNetworks lists ${normalized}, every IPv${parsed.family} address; list the cluster's pod and Service ranges` });
    }
    if (out.includes(normalized)) {
      throw new ZeroTrustError({ code: 'INVALID_ARGUMENT', message: `${where}: clusterNetworks lists ${normalized} twice; list each range once` });
    }
    out.push(normalized);
  }
  return out.sort(compareText);
}

/** True when `a` and `b` share an address (CIDRs either nest or are disjoint). */
function intersects(a: ParsedCidr, b: ParsedCidr): boolean {
  if (a.family !== b.family) return false;
  return a.prefix <= b.prefix ? cidrContains(a, b.address) : cidrContains(b, a.address);
}

/**
 * The cluster range an ip-block overlaps, or undefined. A range the block contains but lists in
 * `except` (or inside one of its excepts) is no overlap.
 */
export function overlappedNetwork(block: { cidr: string; except: readonly string[] }, networks: readonly string[]): string | undefined {
  const b = parseCidr(block.cidr, 'ip-block');
  const excepts = block.except.map((e) => parseCidr(e, 'ip-block except'));
  for (const n of networks) {
    const net = parseCidr(n, 'clusterNetworks');
    if (!intersects(b, net)) continue;
    const excluded = b.prefix <= net.prefix && excepts.some((e) => e.family === net.family && e.prefix <= net.prefix && cidrContains(e, net.address));
    if (!excluded) return n;
  }
  return undefined;
}

/**
 * A problem for every flow of a workload of `namespace` whose ip-block end (source or
 * destination) overlaps one of the cluster's networks.
 */
export function clusterNetworkProblems(model: ZeroTrustModel, namespace: string, networks: readonly string[]): ZeroTrustError[] {
  if (networks.length === 0) return [];
  const out: ZeroTrustError[] = [];
  const ours = (e: EndpointModel) => e.type === 'workload' && e.workload.namespace === namespace;
  for (const f of model.flows) {
    for (const [block, other, side] of [[f.source, f.destination, 'source'], [f.destination, f.source, 'destination']] as const) {
      if (block.type !== 'ip-block' || !ours(other)) continue;
      const hit = overlappedNetwork(block, networks);
      if (hit) out.push(overlapProblem(f, block, hit, side));
    }
  }
  return out;
}

function overlapProblem(f: FlowModel, block: EndpointModel & { type: 'ip-block' }, network: string, side: 'source' | 'destination'): ZeroTrustError {
  return new ZeroTrustError({
    code: 'IP_BLOCK_OVERLAPS_CLUSTER', workload: f.declaredBy, rule: f.declaredAt,
    message: `${f.declaredAt}: the ${side} ${endpointKey(block)} overlaps the cluster network ${network} (clusterNetworks): NetworkPolicy would admit every pod or Service address in the overlap on these ports, whatever its labels or identity; name pods with a SecureWorkload, Peer.workload() or Peer.namespace(), or list ${network} in the ip-block's except when the block contains it`,
  });
}
