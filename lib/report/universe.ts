/**
 * The probe universe of a report: `probeUniverse` (which reads NetworkPolicies) plus the parties
 * that only mesh objects mention: namespaces named in AuthorizationPolicies, Cilium selectors,
 * Linkerd identities or Kuma tags; address ranges of any policy (Cilium `toCIDR`, Istio
 * `ipBlocks`, ...); host names of ServiceEntries, `toFQDNs` and MeshPassthroughs. From the YAML
 * alone, so it works on edited or foreign manifests.
 */
import { ParsedCidr, parseCidr } from '../intent/cidr';
import { NAMESPACE_NAME_LABEL, inventory } from '../verify/inventory';
import { AnyManifest, manifestOf } from '../verify/manifests';
import { PROBE_LABEL, Universe, UniversePort, UniverseRequest, mergePorts, probeIps, probeUniverse } from '../verify/universe';
import { Endpoint } from '../verify/types';
import { compareText } from '../intent/collation';

/** Keys whose string value names a namespace, wherever they appear in a spec. */
const NAMESPACE_KEYS = new Set([
  NAMESPACE_NAME_LABEL,
  'io.kubernetes.pod.namespace',
  'k8s:io.kubernetes.pod.namespace',
  'any:io.kubernetes.pod.namespace',
  'k8s.kuma.io/namespace',
  `io.cilium.k8s.namespace.labels.${NAMESPACE_NAME_LABEL}`,
  `k8s:io.cilium.k8s.namespace.labels.${NAMESPACE_NAME_LABEL}`,
  'namespace',
]);

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** `cluster.local/ns/<ns>/sa/<sa>` (Istio principals, SPIFFE ids). */
const PRINCIPAL = /\/ns\/([a-z0-9-]+)\/sa\//;
/** `<sa>.<ns>.serviceaccount.identity.<...>` (Linkerd identities). */
const LINKERD_IDENTITY = /^[^.]+\.([a-z0-9-]+)\.serviceaccount\.identity\./;
const HOST = /^(\*\.)?([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}$/i;

/** Parties mentioned by the manifests' specs. */
export interface Mentions {
  readonly namespaces: string[];
  readonly cidrs: string[];
  readonly hosts: string[];
  /** Port numbers of policy objects (Cilium `toPorts`, Istio operation ports, Linkerd Servers, ...). */
  readonly ports: UniversePort[];
}

/** Namespaces, CIDRs and host names the specs of the manifests mention, sorted. */
export function mentions(manifests: readonly AnyManifest[]): Mentions {
  if (scope?.manifests !== manifests) return findMentions(manifests);
  scope.mentions ??= findMentions(manifests);
  return scope.mentions;
}

/** The list of manifests one report is about, while it is made, with what was found in it. */
let scope: { readonly manifests: readonly AnyManifest[]; mentions?: Mentions } | undefined;

/**
 * Runs `f` (one report over `manifests`: the universe, the row names, ...) reading the manifests'
 * mentions once, however many of its steps ask. Only for the duration of `f`: a caller may change
 * the list afterwards.
 */
export function onceFor<T>(manifests: readonly AnyManifest[], f: () => T): T {
  const outer = scope;
  scope = outer?.manifests === manifests ? outer : { manifests };
  try {
    return f();
  } finally {
    scope = outer;
  }
}

function findMentions(manifests: readonly AnyManifest[]): Mentions {
  const namespaces = new Set<string>();
  const cidrs = new Set<string>();
  const hosts = new Set<string>();
  const ports: UniversePort[] = [];
  const addPort = (v: unknown, protocol: unknown) => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > 65535) return;
    const p = typeof protocol === 'string' ? protocol.toUpperCase() : 'TCP';
    if (p === 'UDP' || p === 'ANY') ports.push({ number: n, protocol: 'UDP' });
    if (p !== 'UDP') ports.push({ number: n, protocol: 'TCP' });
  };
  const addNs = (v: unknown) => { if (typeof v === 'string' && DNS_LABEL.test(v)) namespaces.add(v); };
  const addHost = (v: unknown) => {
    if (typeof v !== 'string' || !HOST.test(v)) return;
    if (/\.(local|svc|internal)$/i.test(v) || v.endsWith('.svc.cluster.local')) return;
    hosts.add(v.toLowerCase());
  };
  const walk = (v: unknown, key: string | undefined, parent: any) => {
    if (typeof v === 'string') {
      if (key !== undefined && NAMESPACE_KEYS.has(key)) addNs(v);
      const p = PRINCIPAL.exec(v) ?? LINKERD_IDENTITY.exec(v);
      if (p) addNs(p[1]);
      if (v.includes('/') && /^[0-9a-f:.]+\/\d+$/i.test(v)) {
        try { parseCidr(v, 'cidr'); cidrs.add(v); } catch { /* not a CIDR */ }
      }
      if (key === 'matchName' || key === 'matchPattern') addHost(v);
      if (key === 'port' || key === 'endPort') addPort(v, parent?.protocol);
      if (key === 'value' && parent?.type === 'Domain') addHost(v);
      if (key === 'name' && parent?.kind === 'Namespace') addNs(v);
      return;
    }
    if (typeof v === 'number') {
      if (key === 'port' || key === 'number' || key === 'endPort') addPort(v, parent?.protocol);
      return;
    }
    if (Array.isArray(v)) {
      for (const item of v) {
        if (key === 'ports' && (typeof item === 'string' || typeof item === 'number')) addPort(item, undefined);
        if (key === 'namespaces') addNs(item);
        walk(item, key, parent);
      }
      return;
    }
    if (typeof v === 'object' && v !== null) {
      for (const [k, child] of Object.entries(v)) walk(child, k, v);
    }
  };
  for (const src of manifests) {
    const m = manifestOf(src);
    if (m.kind === 'ServiceEntry') {
      for (const h of m.spec?.hosts ?? []) addHost(h);
    }
    // Only specs: metadata (labels, annotations) says nothing about who may talk to whom.
    for (const [k, v] of Object.entries(m)) {
      if (k !== 'metadata' && k !== 'apiVersion' && k !== 'kind') walk(v, k, m);
    }
  }
  const sort = (s: Set<string>) => [...s].sort(compareText);
  return { namespaces: sort(namespaces), cidrs: sort(cidrs), hosts: sort(hosts), ports: mergePorts(ports) };
}

/** The sample host a report probes for a host or wildcard (`*.example.com` -> `zt-probe.example.com`). */
export function sampleHost(host: string): string {
  return host.startsWith('*.') ? `zt-probe.${host.slice(2)}` : host;
}

/**
 * Extra probes for the mentioned parties: `<ns>/*` for every namespace no workload lives in,
 * IPs inside and outside every CIDR, every host name.
 */
export function mentionProbes(manifests: readonly AnyManifest[]): Endpoint[] {
  const inv = inventory(manifests);
  const known = new Map(inv.namespaces.map((n) => [n.name, n]));
  const found = mentions(manifests);
  const out: Endpoint[] = [];
  for (const ns of found.namespaces) {
    const info = known.get(ns);
    out.push({
      id: `${ns}/*`,
      kind: 'pod',
      namespace: ns,
      namespaceLabels: { ...(info?.labels ?? {}), [NAMESPACE_NAME_LABEL]: ns },
      namespaceAnnotations: { ...(info?.annotations ?? {}) },
      labels: { [PROBE_LABEL]: 'true' },
      annotations: {},
      serviceAccount: 'default',
      ports: [],
    });
  }
  const blocks: Array<{ cidr: ParsedCidr; except: ParsedCidr[] }> = found.cidrs.map((c) => ({ cidr: parseCidr(c, 'cidr'), except: [] }));
  for (const ip of probeIps(blocks)) out.push({ id: `ip:${ip}`, kind: 'ip', ip });
  for (const h of found.hosts) {
    const host = sampleHost(h);
    out.push({ id: `fqdn:${host}`, kind: 'fqdn', host });
  }
  return out;
}

/** The universe a report asks about: the manifests' parties and ports, plus `extra`. */
export function reportUniverse(manifests: readonly AnyManifest[], extra: readonly Endpoint[] = [], extraPorts: readonly UniversePort[] = [], extraRequests: readonly UniverseRequest[] = []): Universe {
  return probeUniverse(manifests, [...mentionProbes(manifests), ...extra], [...mentions(manifests).ports, ...extraPorts], extraRequests);
}
