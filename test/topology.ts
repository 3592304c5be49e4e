/**
 * Random zero-trust topologies for property tests: 1-3 ZeroTrustCharts (ns-a..ns-c), workloads
 * with 1-3 ports, and flows between workloads, to unmanaged namespaces, to external workloads and
 * to IP blocks, in both directions. `TopologyFeatures` restricts them to what a backend accepts
 * (HTTP rules, host names, ServiceAccounts of external workloads, ...); the defaults are what
 * plain NetworkPolicy accepts.
 */
import { App, Testing } from 'cdk8s';
import * as fc from 'fast-check';
import { Dns, HttpRule, Mesh, Peer, Port, SecureWorkload, ZeroTrustChart, ZeroTrustChartProps } from '../lib';
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
/** HTTP rule sets a flow may carry (index in `FlowSpec.http`). */
export const HTTP_RULE_SETS: HttpRule[][] = [
  [{ methods: ['GET'], paths: ['/api/*'] }],
  [{ methods: ['POST'] }],
  [{ paths: ['/healthz'] }],
  [{ methods: ['GET', 'HEAD'], paths: ['/static/*'] }, { methods: ['DELETE'], paths: ['/orders'] }],
];
/** Host names of `fqdn` flows. */
export const HOSTS = ['api.example.com', '*.example.org'];

/** What a backend accepts; every feature defaults to what plain NetworkPolicy accepts. */
export interface TopologyFeatures {
  /** Workloads per topology. @default 30 */
  readonly maxWorkloads?: number;
  /** HTTP rules on flows whose ports all speak HTTP. @default false */
  readonly http?: boolean;
  /** Egress to host names (`Peer.fqdn`) on single TCP ports. @default false */
  readonly fqdn?: boolean;
  /** Host names with a `*.` wildcard. @default true (when fqdn) */
  readonly wildcardHosts?: boolean;
  /** External workloads carry a ServiceAccount (identity meshes need one). 'always' | 'never' | 'sometimes'. @default 'never' */
  readonly serviceAccounts?: 'always' | 'never' | 'sometimes';
  /** ServiceAccounts also on egress to external workloads (only Cilium enforces them there). @default false */
  readonly egressServiceAccounts?: boolean;
  /** UDP ports. @default true */
  readonly udp?: boolean;
  /** Indices into IP_BLOCKS that ingress flows may use. @default all */
  readonly ipSourceBlocks?: number[];
  /** Ingress from IP blocks. @default true */
  readonly ipSources?: boolean;
  /** Egress to external peers without ports (every port). @default true */
  readonly externalAnyPort?: boolean;
  /** Port ranges on egress to external peers. @default true */
  readonly portRanges?: boolean;
  /** Egress to pods of unmanaged namespaces (`allowTo(Peer.namespace/workload)`). @default true */
  readonly egressToExternalPods?: boolean;
  /** Indices into DNS_CHOICES a chart may use. @default all */
  readonly dnsChoices?: number[];
  /** HTTP rules also on flows from namespaces, external workloads and IP blocks (else only between workloads). @default true */
  readonly httpFromPeers?: boolean;
  /** Flows between workloads only on all of the destination's ports. @default false */
  readonly allPortsOnly?: boolean;
  /** Flows from a workload to itself (Network Service Mesh refuses them). @default true */
  readonly selfFlows?: boolean;
}
export interface WorkloadSpec { readonly ns: number; readonly name: string; readonly ports: PortSpec[] }
export type PortsChoice = { all: true } | { subset: boolean[] };
export type ExternalPorts = { any: true } | { ports: Array<PortSpec | { range: [number, number] }> };
export type FlowSpec =
  | { kind: 'w2w'; from: number; to: number; declaredBy: 'source' | 'destination'; ports: PortsChoice; http?: number }
  | { kind: 'namespace'; w: number; dir: 'from' | 'to'; ns: string; ports: PortsChoice; external: ExternalPorts; http?: number }
  | { kind: 'external'; w: number; dir: 'from' | 'to'; ns: string; labels: { [key: string]: string }; ports: PortsChoice; external: ExternalPorts; http?: number; serviceAccount?: string }
  | { kind: 'ip'; w: number; dir: 'from' | 'to'; block: number; withExcept: boolean; ports: PortsChoice; external: ExternalPorts; http?: number }
  | { kind: 'fqdn'; w: number; host: number; ports: number[] };
/** Cluster DNS choices of a chart: kube-dns (default), NodeLocal DNSCache, CoreDNS pods in ext-b. */
export const DNS_CHOICES: Array<() => Dns> = [() => Dns.kubeDns(), () => Dns.nodeLocal(), () => Dns.pods('ext-b', { 'k8s-app': 'coredns' })];
export interface TopologySpec {
  readonly namespaces: number;
  readonly workloads: WorkloadSpec[];
  readonly flows: FlowSpec[];
  /** Index into DNS_CHOICES per namespace; absent: the default. */
  readonly dns?: number[];
}

const labelsArb = fc.dictionary(fc.constantFrom('role', 'tier', 'team'), fc.constantFrom('client', 'scraper', 'batch'), { minKeys: 1, maxKeys: 2 });

/** Arbitrary topology with up to `maxWorkloads` workloads (or the given features). */
export function topologyArb(maxWorkloadsOrFeatures: number | TopologyFeatures = 30): fc.Arbitrary<TopologySpec> {
  const o: TopologyFeatures = typeof maxWorkloadsOrFeatures === 'number' ? { maxWorkloads: maxWorkloadsOrFeatures } : maxWorkloadsOrFeatures;
  const kinds: Array<'tcp' | 'udp' | 'http'> = ['tcp', ...(o.udp === false ? [] : ['udp' as const]), 'http'];
  const portArb = fc.record({ kind: fc.constantFrom(...kinds), number: fc.constantFrom(...PORT_POOL) });
  const tcpPortArb = fc.record({ kind: fc.constantFrom<'tcp' | 'http'>('tcp', 'http'), number: fc.constantFrom(...PORT_POOL) });
  const portsChoiceArb: fc.Arbitrary<PortsChoice> = o.allPortsOnly ? fc.constant({ all: true as const })
    : fc.oneof(fc.constant({ all: true as const }), fc.record({ subset: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }) }));
  const listed = fc.record({
    ports: fc.array(o.portRanges === false ? portArb
      : fc.oneof(portArb, fc.tuple(fc.constantFrom(...PORT_POOL), fc.integer({ min: 0, max: 20 })).map(([a, n]) => ({ range: [a, a + n] as [number, number] }))), { minLength: 1, maxLength: 2 }),
  });
  const externalPortsArb: fc.Arbitrary<ExternalPorts> = o.externalAnyPort === false ? listed : fc.oneof(fc.constant({ any: true as const }), listed);
  const peerHttpArb = o.http && o.httpFromPeers !== false ? fc.option(fc.integer({ min: 0, max: HTTP_RULE_SETS.length - 1 }), { nil: undefined, freq: 2 }) : fc.constant(undefined);
  const httpArb = o.http ? fc.option(fc.integer({ min: 0, max: HTTP_RULE_SETS.length - 1 }), { nil: undefined, freq: 2 }) : fc.constant(undefined);
  const saArb = o.serviceAccounts === 'always' ? fc.constantFrom('client', 'scraper').map((x): string | undefined => x)
    : o.serviceAccounts === 'sometimes' ? fc.option(fc.constantFrom('client', 'scraper'), { nil: undefined }) : fc.constant(undefined);
  const dnsChoices = o.dnsChoices ?? DNS_CHOICES.map((_, i) => i);
  return fc.integer({ min: 1, max: 3 }).chain((namespaces) =>
    fc.uniqueArray(
      fc.record({
        ns: fc.integer({ min: 0, max: namespaces - 1 }),
        name: fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/),
        ports: fc.uniqueArray(portArb, { minLength: 1, maxLength: 3, selector: (p) => p.number }),
      }),
      { minLength: 1, maxLength: o.maxWorkloads ?? 30, size: 'medium', selector: (w) => `${w.ns}/${w.name}` },
    ).chain((workloads) => {
      const w = fc.integer({ min: 0, max: workloads.length - 1 });
      const dir = o.egressToExternalPods === false ? fc.constant<'from' | 'to'>('from') : fc.constantFrom<'from' | 'to'>('from', 'to');
      const ipDir = o.ipSources === false ? fc.constant<'from' | 'to'>('to') : fc.constantFrom<'from' | 'to'>('from', 'to');
      const arms: Array<fc.WeightedArbitrary<FlowSpec>> = [
        { weight: 4, arbitrary: fc.record({ kind: fc.constant('w2w' as const), from: w, to: w, declaredBy: fc.constantFrom<'source' | 'destination'>('source', 'destination'), ports: portsChoiceArb, http: httpArb }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('namespace' as const), w, dir, ns: fc.constantFrom(...UNMANAGED), ports: portsChoiceArb, external: externalPortsArb, http: peerHttpArb }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('external' as const), w, dir, ns: fc.constantFrom(...UNMANAGED), labels: labelsArb, ports: portsChoiceArb, external: externalPortsArb, http: peerHttpArb, serviceAccount: saArb }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant('ip' as const), w, dir: ipDir, block: fc.integer({ min: 0, max: IP_BLOCKS.length - 1 }), withExcept: fc.boolean(), ports: portsChoiceArb, external: externalPortsArb, http: peerHttpArb }) },
      ];
      if (o.fqdn) {
        const hosts = o.wildcardHosts === false ? [0] : HOSTS.map((_, i) => i);
        arms.push({ weight: 1, arbitrary: fc.record({ kind: fc.constant('fqdn' as const), w, host: fc.constantFrom(...hosts), ports: fc.uniqueArray(tcpPortArb.map((p) => p.number), { minLength: 1, maxLength: 2 }) }) });
      }
      const sourceBlocks = o.ipSourceBlocks;
      return fc.record({
        namespaces: fc.constant(namespaces),
        workloads: fc.constant(workloads),
        dns: fc.array(fc.constantFrom(...dnsChoices), { minLength: 3, maxLength: 3 }),
        flows: fc.array(fc.oneof(...arms), { maxLength: Math.min(40, workloads.length * 2 + 2), size: 'medium' })
          .map((flows) => (sourceBlocks ? flows.filter((f) => f.kind !== 'ip' || f.dir === 'to' || sourceBlocks.includes(f.block)) : flows))
          .map((flows) => (o.selfFlows === false ? flows.filter((f) => f.kind !== 'w2w' || f.from !== f.to) : flows)),
      });
    }),
  );
}

function toPort(p: PortSpec): Port {
  return p.kind === 'tcp' ? Port.tcp(p.number) : p.kind === 'udp' ? Port.udp(p.number) : Port.http(p.number);
}

/**
 * Builds the app of a topology; `app` defaults to a fresh `Testing.app()`, `mesh` to
 * `Mesh.networkPolicy()` (one Mesh per chart). HTTP rules are applied only where every port of
 * the flow speaks HTTP and the flow is an ingress one. `chartProps` gives each chart more props (by namespace).
 */
export function buildApp(spec: TopologySpec, app: App = Testing.app(), mesh: () => Mesh = () => Mesh.networkPolicy(), egressServiceAccounts = false,
  chartProps: (namespace: string) => Partial<ZeroTrustChartProps> = () => ({})): { app: App; model: () => ZeroTrustModel; dns: (namespace: string) => DnsSpec } {
  const charts = NAMESPACES.slice(0, spec.namespaces).map((ns, i) => new ZeroTrustChart(app, ns, {
    ...chartProps(ns),
    namespace: ns,
    mesh: mesh(),
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
  const httpOf = (i: number, ports: Port[] | undefined, rules: number | undefined): { http?: HttpRule[] } => {
    if (rules === undefined) return {};
    return (ports ?? ws[i].ports).every((p) => p.speaksHttp) ? { http: HTTP_RULE_SETS[rules] } : {};
  };
  for (const f of spec.flows) {
    if (f.kind === 'w2w') {
      const ports = declaredPorts(f.to, f.ports);
      const options = { ports, ...httpOf(f.to, ports, f.http) };
      if (f.declaredBy === 'source') ws[f.from].allowTo(ws[f.to], options);
      else ws[f.to].allowFrom(ws[f.from], options);
      continue;
    }
    if (f.kind === 'fqdn') {
      ws[f.w].allowTo(Peer.fqdn(HOSTS[f.host]), { ports: f.ports.map((n) => Port.tcp(n)) });
      continue;
    }
    const peer = f.kind === 'namespace' ? Peer.namespace(f.ns)
      : f.kind === 'external' ? Peer.workload({ namespace: f.ns, labels: f.labels, ...(f.serviceAccount && (f.dir === 'from' || egressServiceAccounts) ? { serviceAccount: f.serviceAccount } : {}) })
        : Peer.ipBlock(IP_BLOCKS[f.block].cidr, f.withExcept ? IP_BLOCKS[f.block].except : undefined);
    if (f.dir === 'from') {
      const ports = declaredPorts(f.w, f.ports);
      ws[f.w].allowFrom(peer, { ports, ...httpOf(f.w, ports, f.http) });
    } else {
      ws[f.w].allowTo(peer, { ports: externalPorts(f.external) });
    }
  }
  return { app, model: () => IntentRegistry.of(app).resolve().model, dns: (ns) => dnsOf.get(ns) ?? Dns.kubeDns().spec };
}
