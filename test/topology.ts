/**
 * Random zero-trust topologies for property tests: 1-3 ZeroTrustCharts (ns-a..ns-c), workloads
 * with 1-3 ports, and flows between workloads, to unmanaged namespaces, to external workloads and
 * to IP blocks, in both directions.
 */
import { App, Testing } from 'cdk8s';
import * as fc from 'fast-check';
import { Dns, Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { DnsSpec } from '../lib/intent/dns';
import { IntentRegistry } from '../lib/intent/registry';
import { ZeroTrustModel } from '../lib/intent/model';

export const NAMESPACES = ['ns-a', 'ns-b', 'ns-c'];
export const UNMANAGED = ['ext-a', 'ext-b'];
export const PORT_POOL = [53, 80, 443, 5432, 6379, 8080, 9090];
export const IP_BLOCKS: Array<{ cidr: string; except: string[] }> = [
  { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] },
  { cidr: '192.168.1.0/24', except: ['192.168.1.128/25'] },
  { cidr: '203.0.113.7/32', except: [] },
  { cidr: '2001:db8::/32', except: ['2001:db8:1::/48'] },
  { cidr: '0.0.0.0/0', except: ['10.0.0.0/8', '192.168.0.0/16'] },
];

export interface PortSpec { readonly kind: 'tcp' | 'udp' | 'http'; readonly number: number }
export interface WorkloadSpec { readonly ns: number; readonly name: string; readonly ports: PortSpec[] }
export type PortsChoice = { all: true } | { subset: boolean[] };
export type ExternalPorts = { any: true } | { ports: Array<PortSpec | { range: [number, number] }> };
export type FlowSpec =
  | { kind: 'w2w'; from: number; to: number; declaredBy: 'source' | 'destination'; ports: PortsChoice }
  | { kind: 'namespace'; w: number; dir: 'from' | 'to'; ns: string; ports: PortsChoice; external: ExternalPorts }
  | { kind: 'external'; w: number; dir: 'from' | 'to'; ns: string; labels: { [key: string]: string }; ports: PortsChoice; external: ExternalPorts }
  | { kind: 'ip'; w: number; dir: 'from' | 'to'; block: number; withExcept: boolean; ports: PortsChoice; external: ExternalPorts };
/** Cluster DNS choices of a chart: kube-dns (default), NodeLocal DNSCache, CoreDNS pods in ext-b. */
export const DNS_CHOICES: Array<() => Dns> = [() => Dns.kubeDns(), () => Dns.nodeLocal(), () => Dns.pods('ext-b', { 'k8s-app': 'coredns' })];
export interface TopologySpec {
  readonly namespaces: number;
  readonly workloads: WorkloadSpec[];
  readonly flows: FlowSpec[];
  /** Index into DNS_CHOICES per namespace; absent: the default. */
  readonly dns?: number[];
}

const portArb = fc.record({ kind: fc.constantFrom<'tcp' | 'udp' | 'http'>('tcp', 'udp', 'http'), number: fc.constantFrom(...PORT_POOL) });
const portsChoiceArb: fc.Arbitrary<PortsChoice> = fc.oneof(fc.constant({ all: true as const }), fc.record({ subset: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }) }));
const externalPortsArb: fc.Arbitrary<ExternalPorts> = fc.oneof(
  fc.constant({ any: true as const }),
  fc.record({
    ports: fc.array(fc.oneof(portArb, fc.tuple(fc.constantFrom(...PORT_POOL), fc.integer({ min: 0, max: 20 })).map(([a, n]) => ({ range: [a, a + n] as [number, number] }))), { minLength: 1, maxLength: 2 }),
  }),
);
const labelsArb = fc.dictionary(fc.constantFrom('role', 'tier', 'team'), fc.constantFrom('client', 'scraper', 'batch'), { minKeys: 1, maxKeys: 2 });

/** Arbitrary topology with up to `maxWorkloads` workloads. */
export function topologyArb(maxWorkloads = 30): fc.Arbitrary<TopologySpec> {
  return fc.integer({ min: 1, max: 3 }).chain((namespaces) =>
    fc.uniqueArray(
      fc.record({
        ns: fc.integer({ min: 0, max: namespaces - 1 }),
        name: fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/),
        ports: fc.uniqueArray(portArb, { minLength: 1, maxLength: 3, selector: (p) => p.number }),
      }),
      { minLength: 1, maxLength: maxWorkloads, size: 'medium', selector: (w) => `${w.ns}/${w.name}` },
    ).chain((workloads) => {
      const w = fc.integer({ min: 0, max: workloads.length - 1 });
      const dir = fc.constantFrom<'from' | 'to'>('from', 'to');
      const flow: fc.Arbitrary<FlowSpec> = fc.oneof(
        { weight: 4, arbitrary: fc.record({ kind: fc.constant('w2w' as const), from: w, to: w, declaredBy: fc.constantFrom<'source' | 'destination'>('source', 'destination'), ports: portsChoiceArb }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('namespace' as const), w, dir, ns: fc.constantFrom(...UNMANAGED), ports: portsChoiceArb, external: externalPortsArb }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('external' as const), w, dir, ns: fc.constantFrom(...UNMANAGED), labels: labelsArb, ports: portsChoiceArb, external: externalPortsArb }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('ip' as const), w, dir, block: fc.integer({ min: 0, max: IP_BLOCKS.length - 1 }), withExcept: fc.boolean(), ports: portsChoiceArb, external: externalPortsArb }) },
      );
      return fc.record({ namespaces: fc.constant(namespaces), workloads: fc.constant(workloads), dns: fc.array(fc.integer({ min: 0, max: DNS_CHOICES.length - 1 }), { minLength: 3, maxLength: 3 }), flows: fc.array(flow, { maxLength: Math.min(40, workloads.length * 2 + 2), size: 'medium' }) });
    }),
  );
}

function toPort(p: PortSpec): Port {
  return p.kind === 'tcp' ? Port.tcp(p.number) : p.kind === 'udp' ? Port.udp(p.number) : Port.http(p.number);
}

/** Builds the app of a topology; `app` defaults to a fresh `Testing.app()`. */
export function buildApp(spec: TopologySpec, app: App = Testing.app()): { app: App; model: () => ZeroTrustModel; dns: (namespace: string) => DnsSpec } {
  const charts = NAMESPACES.slice(0, spec.namespaces).map((ns, i) => new ZeroTrustChart(app, ns, {
    namespace: ns,
    mesh: Mesh.networkPolicy(),
    ...(spec.dns?.[i] !== undefined ? { dns: DNS_CHOICES[spec.dns[i]]() } : {}),
  }));
  const dnsOf = new Map(charts.map((c) => [c.namespaceName, c.dns.spec]));
  const ws = spec.workloads.map((w) => new SecureWorkload(charts[w.ns], w.name, { image: `example/${w.name}:1`, ports: w.ports.map(toPort) }));
  const declaredPorts = (i: number, choice: PortsChoice): Port[] | undefined => {
    if ('all' in choice) return undefined;
    const picked = ws[i].ports.filter((_, k) => choice.subset[k]);
    return picked.length ? picked : undefined;
  };
  const externalPorts = (e: ExternalPorts): Port[] | undefined =>
    'any' in e ? undefined : e.ports.map((p) => ('range' in p ? Port.tcpRange(p.range[0], p.range[1]) : toPort(p)));
  for (const f of spec.flows) {
    if (f.kind === 'w2w') {
      const ports = declaredPorts(f.to, f.ports);
      if (f.declaredBy === 'source') ws[f.from].allowTo(ws[f.to], { ports });
      else ws[f.to].allowFrom(ws[f.from], { ports });
      continue;
    }
    const peer = f.kind === 'namespace' ? Peer.namespace(f.ns)
      : f.kind === 'external' ? Peer.workload({ namespace: f.ns, labels: f.labels })
        : Peer.ipBlock(IP_BLOCKS[f.block].cidr, f.withExcept ? IP_BLOCKS[f.block].except : undefined);
    if (f.dir === 'from') ws[f.w].allowFrom(peer, { ports: declaredPorts(f.w, f.ports) });
    else ws[f.w].allowTo(peer, { ports: externalPorts(f.external) });
  }
  return { app, model: () => IntentRegistry.of(app).resolve().model, dns: (ns) => dnsOf.get(ns) ?? Dns.kubeDns().spec };
}
