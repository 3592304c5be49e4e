/**
 * Hostile input, on all seven backends: intents drawn from a grammar of edge values — every class
 * of issue 15 (HTTP rules on egress, adopted workloads elsewhere or twice, explicit empty lists,
 * reserved pod labels, mesh root namespaces, chart labels, DNS-1035 names, HTTPRoute paths,
 * shared ServiceAccounts, long ServiceAccount names, lenient CIDRs, host names and images,
 * unknown port kinds, cross-mesh flows, self-flows, plain-JavaScript shapes, wrong-typed values
 * of the mesh, chart and metrics-scraping options) mixed with ordinary values. For each intent,
 * exactly one of (and a wrong-typed option value is never accepted, unless valid for it or null):
 *
 * - synth throws a ZeroTrustError (never a TypeError or any other class) with a code; problems
 *   found at synth name their backend and the workload or namespace, and problems of a rule name
 *   the workload and the rule as declared; and a renderer refused it by name: an intent only the
 *   self-check catches (SELF_CHECK_*) fails this test, as it is a refusal some renderer lacks;
 * - or synth succeeds, the backend's reader proves the YAML (parsed back from text) equal to the
 *   intent on the whole probe universe, L7 requests and egress included, under the backend's
 *   documented deviations, and every object passes the strict schema check.
 */
import { App, Chart, Testing } from 'cdk8s';
import * as plus from 'cdk8s-plus-27';
import * as fc from 'fast-check';
import { stringify } from 'yaml';
import { CiliumMutualAuth, IPeer, IstioEgress, IstioMode, KumaIdentity, Mesh, Peer, Port, PortKind, SecureWorkload, ZeroTrustChart, ZeroTrustSynthesis } from '../lib';
import { ZeroTrustError } from '../lib/intent/errors';
import { IntentRegistry } from '../lib/intent/registry';
import {
  backendIntentOptions, compareWithIntent, describeMismatch, intentProbes, parseManifests, probeUniverse, readerFor,
} from '../lib/verify';
import { validateAll } from './support/schema';

const RUNS = Number(process.env.ZT_HOSTILE_RUNS ?? 150);
const SEED = Number(process.env.ZT_PROPERTY_SEED ?? 20251215);
const ENROLLED = ['ext-a'];

/** A backend with two variants of its settings (a second trust domain or mesh, where it has one). */
interface Backend {
  readonly id: string;
  readonly mesh: (variant: number) => Mesh;
  /** Reader settings of a variant. */
  readonly settings?: (variant: number) => any;
  /** The variant-0 mesh with extra (plain-JavaScript, possibly wrong-typed) props. */
  readonly make: (extra: any) => Mesh;
  /** The backend's own props a hostile intent may give a wrong-typed value ([prop, base props]). */
  readonly props: Array<[string, any?]>;
}

const BACKENDS: Backend[] = [
  { id: 'networkpolicy', mesh: () => Mesh.networkPolicy(), make: (p) => Mesh.networkPolicy(p), props: [] },
  {
    id: 'istio', mesh: (v) => Mesh.istio({ mode: IstioMode.SIDECAR, ...(v ? { trustDomain: 'corp.example' } : {}) }),
    make: (p) => Mesh.istio({ mode: IstioMode.SIDECAR, ...p }), props: [['egress'], ['egressGateway', { egress: IstioEgress.GATEWAY }]],
    settings: (v) => ({ istio: { trustDomain: v ? 'corp.example' : 'cluster.local' } }),
  },
  {
    id: 'istio-ambient', mesh: (v) => Mesh.istio({ mode: IstioMode.AMBIENT, ...(v ? { trustDomain: 'corp.example' } : {}) }),
    make: (p) => Mesh.istio({ mode: IstioMode.AMBIENT, ...p }), props: [['egress']],
    settings: (v) => ({ istio: { trustDomain: v ? 'corp.example' : 'cluster.local' } }),
  },
  {
    id: 'linkerd', mesh: (v) => Mesh.linkerd(v ? { identityDomain: 'corp.example' } : {}), make: (p) => Mesh.linkerd(p), props: [],
    settings: (v) => ({ linkerd: { identityDomain: v ? 'corp.example' : 'cluster.local' } }),
  },
  { id: 'cilium', mesh: (v) => Mesh.cilium(v ? { mutualAuth: CiliumMutualAuth.NONE } : {}), make: (p) => Mesh.cilium(p), props: [['mutualAuth']] },
  { id: 'kuma', mesh: (v) => Mesh.kuma(v ? { meshName: 'other' } : {}), make: (p) => Mesh.kuma(p), props: [['identity'], ['trustDomain', { identity: KumaIdentity.SPIFFE }], ['httpRules']] },
  {
    id: 'nsm', mesh: (v) => Mesh.networkServiceMesh(v ? { allowPortsOverConnection: true, allowHttpRulesOverConnection: true } : {}),
    make: (p) => Mesh.networkServiceMesh(p), props: [['allowPortsOverConnection'], ['allowHttpRulesOverConnection']],
  },
];

// ------------------------------------------------------------------ the grammar of edge values

/**
 * A value is ordinary or an edge value. `draw(ordinary, edge)` draws an edge value about once in
 * `rarity` draws, so most intents hold one or two edge values (and must fail for that reason, or
 * be enforced exactly) and some hold none (and must synthesize exactly).
 */
interface Pick { readonly edge: boolean; readonly index: number }
const draw = (ordinary: number, edge: number, rarity = 40): fc.Arbitrary<Pick> => fc.oneof(
  { weight: rarity - 1, arbitrary: fc.nat(ordinary - 1).map((index) => ({ edge: false, index })) },
  { weight: edge > 0 ? 1 : 0, arbitrary: fc.nat(Math.max(0, edge - 1)).map((index) => ({ edge: true, index })) },
);
const of = <T>(ordinary: readonly T[], edge: readonly T[], p: Pick): T => (p.edge ? edge[p.index % edge.length] : ordinary[p.index % ordinary.length]);

const CHART_NAMESPACES = ['ns-a', 'ns-b'];
const EDGE_NAMESPACES = ['istio-system', 'kuma-system', 'linkerd', '9ns', 'ns-a'];
const CHART_LABELS: Array<{ [k: string]: string } | undefined> = [undefined, undefined, { team: 'shop' }];
const EDGE_CHART_LABELS: Array<{ [k: string]: string }> = [{ 'istio-injection': 'disabled' }, { 'kuma.io/sidecar-injection': 'disabled' }, { 'io.cilium/mtls-enabled': 'false' }, { 'app.kubernetes.io/name': 'x' }, { 'bad key': 'x' }, { team: 'x'.repeat(64) }];
const NAMES = ['web', 'api', 'db', 'cache'];
const EDGE_NAMES = ['9lives', 'x'.repeat(64), 'web', 'default-deny'];
const IMAGES = ['nginx:1', 'ghcr.io/example/api@sha256:0123'];
const EDGE_IMAGES = ['', 'bad image', 'nginx:1\nkind: Secret', ' nginx:1'];
const PORTS: Array<() => Port> = [() => Port.http(8080), () => Port.tcp(5432, 'pg'), () => Port.grpc(9090), () => Port.http2(8443), () => Port.udp(5353, 'mdns'), () => Port.http(80)];
const EDGE_PORTS: Array<() => Port> = [() => new Port({ number: 9999, kind: 'sctp' as PortKind }), () => Port.http(8080, 'http-8080')];
const POD_LABELS: Array<{ [k: string]: string } | undefined> = [undefined, undefined, { tier: 'front' }];
const EDGE_POD_LABELS: Array<{ [k: string]: string }> = [
  { 'sidecar.istio.io/inject': 'false' }, { 'istio.io/dataplane-mode': 'none' }, { 'istio.io/rev': 'old' }, { 'linkerd.io/inject': 'disabled' },
  { 'kuma.io/sidecar-injection': 'disabled' }, { 'kuma.io/mesh': 'other' }, { 'io.cilium.k8s.policy.serviceaccount': 'admin' }, { 'spiffe.io/spiffe-id': 'true' },
  { 'app.kubernetes.io/name': 'x' },
];
/** `runner` becomes `runner-<index>`: one account per workload. */
const SERVICE_ACCOUNTS: Array<string | undefined> = [undefined, undefined, 'runner'];
const EDGE_SERVICE_ACCOUNTS = ['shared', `${'a'.repeat(40)}.${'b'.repeat(40)}`, 'default'];
const HTTP: unknown[] = [[{ methods: ['GET'], paths: ['/api/*'] }], [{ paths: ['/healthz'] }], [{ methods: ['POST'] }], [{ methods: ['GET', 'HEAD'], paths: ['/static/*'] }, { methods: ['DELETE'], paths: ['/orders'] }]];
const EDGE_HTTP: unknown[] = [
  [], [{ methods: [] }], [{ paths: [] }], [{ methods: ['GET'], paths: [] }], { methods: ['GET'] }, [{ method: 'GET' }], [{ methods: 'GET' }], [{ methods: ['get'] }],
  [{ paths: ['/a//b'] }], [{ paths: ['/a/../b'] }], [{ paths: ['/a%2Fb'] }], [{ paths: ['/a?x=1'] }], [{ paths: ['/#'] }], [{ paths: ['/caf\u00e9'] }], [{ paths: [`/${'x'.repeat(1100)}`] }],
];
const CIDRS: Array<[string, string[] | undefined]> = [['10.0.0.0/8', ['10.1.0.0/16']], ['203.0.113.7/32', undefined], ['2001:db8::/32', ['2001:db8:1::/48']], ['192.168.1.0/24', undefined]];
const EDGE_CIDRS: Array<[string, string[] | undefined]> = [['010.0.0.0/8', undefined], ['1:2:3:4:5:6:7:8::/64', undefined], ['10.0.0.0/8', ['10.1.0.0/16', '10.1.0.0/16']], ['10.0.0.0/08', undefined], ['10.0.0.0/8', ['11.0.0.0/16']]];
const HOSTS = ['api.example.com', '*.example.org'];
const EDGE_HOSTS = ['1.2.3.4', `${'a'.repeat(64)}.example.com`, 'API.example.com', 'localhost'];
/** Options of a rule to a workload of the app: default, its first port; edge: [], an undeclared port, not an array, a number. */
const WORKLOAD_PORTS = ['default', 'first'] as const;
const EDGE_WORKLOAD_PORTS = ['empty', 'undeclared', 'not-array', 'number'] as const;
/** Options of a rule to a peer outside the app: every port, 443, 80 (HTTP), a range. */
const EXTERNAL_PORTS = ['default', 'tls', 'http', 'range'] as const;

/**
 * Plain-JavaScript values of the wrong type for the options added with weakening, rollout and
 * metrics scraping. One that is valid for a prop (an empty list, `true` for a flag, a string that
 * is a fine trust domain) or `null` (read as unset, the default) may be accepted; every other must
 * be refused with a ZeroTrustError, since a truthy misreading would widen the output.
 */
const WRONG_VALUES: unknown[] = [{}, 5, 'bogus', 'false', 0, [], true, null, [5], [{}], 'HTTP_TO_PORT', -1];
const HOSTILE_COMMON: Array<[string, string]> = [
  ['mesh', 'weaken'], ['chart', 'clusterNetworks'], ['chart', 'enforcement'], ['chart', 'mtls'], ['chart', 'identityGuard'],
  ['scrape', 'proxyMetrics'], ['scrape', 'workloads'], ['scrape', 'appPort'], ['scrape', 'options'], ['scrape', 'scraper'],
];
const ARRAY_PROPS = new Set(['weaken', 'clusterNetworks', 'workloads']);
const FLAG_PROPS = new Set(['identityGuard', 'proxyMetrics', 'allowPortsOverConnection', 'allowHttpRulesOverConnection']);

/** Whether a wrong-typed `value` for `prop` may be accepted (it is valid there, or null for unset). */
function mayAccept(prop: string, value: unknown): boolean {
  if (value === null) return !['weaken', 'clusterNetworks', 'workloads', 'httpRules', 'options', 'scraper', 'egressGateway'].includes(prop) && !FLAG_PROPS.has(prop);
  if (ARRAY_PROPS.has(prop) && Array.isArray(value) && value.length === 0) return true;
  if (FLAG_PROPS.has(prop) && value === true) return true;
  if (prop === 'options' && typeof value === 'object' && !Array.isArray(value)) return true; // {}: no options
  if (prop === 'egressGateway' && typeof value === 'object' && !Array.isArray(value)) return true; // {}: the defaults
  if (prop === 'trustDomain' && (value === 'bogus' || value === 'false')) return true; // DNS names
  return false;
}

interface HostileSpec {
  readonly target: number;
  readonly value: number;
}

type PeerSpec =
  | { kind: 'workload'; index: number }
  | { kind: 'self' }
  | { kind: 'namespace'; ns: string }
  | { kind: 'external'; ns: string; sa: boolean }
  | { kind: 'ip'; cidr: Pick }
  | { kind: 'fqdn'; host: Pick }
  | { kind: 'garbage'; value: number };

interface RuleSpec {
  readonly owner: number;
  readonly dir: 'from' | 'to';
  readonly peer: PeerSpec;
  readonly ports: Pick;
  /** HTTP rules (applied where every allowed port speaks HTTP, or always when edge). */
  readonly http?: Pick;
}

interface WorkloadSpec {
  readonly chart: number;
  readonly name: Pick;
  readonly image: Pick;
  readonly ports: Pick[];
  readonly podLabels: Pick;
  readonly sa: Pick;
  readonly service: boolean | undefined;
  /** 0 create from image; 1 adopt a cdk8s-plus Deployment of the chart; edge: 2 one in another namespace, 3 the previous one again. */
  readonly adopt: number;
}

interface AppSpec {
  readonly charts: Array<{ ns: Pick; labels: Pick; variant: number; createNamespace: boolean }>;
  readonly workloads: WorkloadSpec[];
  readonly rules: RuleSpec[];
  /** A wrong-typed value for one of the new props (of HOSTILE_COMMON, then the backend's own). */
  readonly hostile?: HostileSpec;
}

const peerArb: fc.Arbitrary<PeerSpec> = fc.oneof(
  { weight: 40, arbitrary: fc.record({ kind: fc.constant('workload' as const), index: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'self' as const }) },
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('namespace' as const), ns: fc.oneof({ weight: 30, arbitrary: fc.constantFrom('ext-a', 'ext-b') }, { weight: 1, arbitrary: fc.constant('ns-a') }) }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('external' as const), ns: fc.constantFrom('ext-a', 'ext-b'), sa: fc.boolean() }) },
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('ip' as const), cidr: draw(CIDRS.length, EDGE_CIDRS.length, 20) }) },
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('fqdn' as const), host: draw(HOSTS.length, EDGE_HOSTS.length, 20) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('garbage' as const), value: fc.nat(2) }) },
);
const appArb: fc.Arbitrary<AppSpec> = fc.record({
  charts: fc.array(fc.record({
    ns: draw(1, EDGE_NAMESPACES.length), labels: draw(CHART_LABELS.length, EDGE_CHART_LABELS.length),
    variant: fc.nat(5).map((v) => (v === 5 ? 1 : 0)), createNamespace: fc.nat(5).map((c) => c > 0),
  }), { minLength: 1, maxLength: 2 }),
  workloads: fc.array(fc.record({
    chart: fc.nat(1), name: draw(1, EDGE_NAMES.length), image: draw(IMAGES.length, EDGE_IMAGES.length),
    ports: fc.array(draw(PORTS.length, EDGE_PORTS.length, 60), { minLength: 1, maxLength: 2 }),
    podLabels: draw(POD_LABELS.length, EDGE_POD_LABELS.length), sa: draw(SERVICE_ACCOUNTS.length, EDGE_SERVICE_ACCOUNTS.length),
    service: fc.constantFrom(undefined, undefined, undefined, undefined, false),
    adopt: fc.oneof({ weight: 30, arbitrary: fc.constant(0) }, { weight: 8, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: 2, max: 3 }) }),
  }), { minLength: 2, maxLength: 4 }),
  rules: fc.array(fc.record({
    owner: fc.nat(3), dir: fc.constantFrom<'from' | 'to'>('from', 'to'), peer: peerArb,
    ports: draw(2, EDGE_WORKLOAD_PORTS.length, 30),
    http: fc.option(draw(HTTP.length, EDGE_HTTP.length, 12), { nil: undefined, freq: 2 }),
  }), { maxLength: 6 }),
  // One intent in six gets a wrong-typed option, so the other edges keep reaching synth.
  hostile: fc.oneof(
    { weight: 5, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.record({ target: fc.nat(20), value: fc.nat(WRONG_VALUES.length - 1) }) },
  ),
});

/** The hostile prop of a spec on a backend: where it goes, its name, base props, and the value. */
function hostileOf(b: Backend, spec: AppSpec): { where: string; prop: string; base?: any; value: unknown } | undefined {
  if (!spec.hostile) return undefined;
  const targets: Array<[string, string, any?]> = [...HOSTILE_COMMON, ...b.props.map(([prop, base]) => ['mesh', prop, base] as [string, string, any?])];
  const [where, prop, base] = targets[spec.hostile.target % targets.length];
  return { where, prop, base, value: WRONG_VALUES[spec.hostile.value] };
}

// ------------------------------------------------------------------ building and judging

/** Codes of problems that belong to one rule: they must name its workload and the rule. */
const RULE_CODES = new Set([
  'HTTP_RULES_ON_EGRESS_NOT_ENFORCED', 'EMPTY_HTTP_LIST', 'INVALID_HTTP_PATH', 'INVALID_HTTP_METHOD', 'INVALID_HTTPROUTE_PATH',
  'HTTPROUTE_TOO_LARGE', 'CROSS_MESH_FLOW', 'NSM_SELF_CONNECTION', 'CILIUM_LABEL_VALUE_TOO_LONG', 'EMPTY_PORTS',
  'HTTP_RULES_NEED_PORTS', 'HTTP_RULES_ON_NON_HTTP_PORT', 'INVALID_PEER', 'FQDN_SOURCE', 'AMBIENT_L7_HEADLESS',
]);

type Outcome = { error: unknown; phase: 'construct' | 'rule' | 'scrape' | 'synth' } | { app: App; variant: number };

function build(b: Backend, spec: AppSpec): Outcome {
  const app = Testing.app();
  // 'scrape': a chart-wide call (allowMetricsScraping), whose problems name no single rule.
  let phase: 'construct' | 'rule' | 'scrape' | 'synth' = 'construct';
  const hostile = hostileOf(b, spec);
  try {
    const charts = spec.charts.map((c, i) => new ZeroTrustChart(app, `c${i}`, {
      namespace: c.ns.edge ? EDGE_NAMESPACES[c.ns.index] : CHART_NAMESPACES[i], createNamespace: c.createNamespace,
      mesh: hostile?.where === 'mesh' && i === 0 ? b.make({ ...hostile.base, [hostile.prop]: hostile.value }) : b.mesh(c.variant),
      ...(of(CHART_LABELS, EDGE_CHART_LABELS, c.labels) ? { labels: of(CHART_LABELS, EDGE_CHART_LABELS, c.labels) } : {}),
      ...(hostile?.where === 'chart' && i === 0 ? { [hostile.prop]: hostile.value } : {}),
    } as any));
    const workloads: SecureWorkload[] = [];
    const adopted: plus.Deployment[] = [];
    spec.workloads.forEach((w, i) => {
      const chart = charts[w.chart % charts.length];
      const ports = w.ports.map((p) => of(PORTS, EDGE_PORTS, p)());
      const podLabels = of(POD_LABELS, EDGE_POD_LABELS, w.podLabels);
      const sa = w.sa.edge ? EDGE_SERVICE_ACCOUNTS[w.sa.index] : SERVICE_ACCOUNTS[w.sa.index] && `${SERVICE_ACCOUNTS[w.sa.index]}-${i}`;
      const common = { name: w.name.edge ? EDGE_NAMES[w.name.index] : NAMES[i], ...(podLabels ? { podLabels } : {}), ...(w.service !== undefined ? { service: w.service } : {}) };
      if (w.adopt === 0) {
        workloads.push(new SecureWorkload(chart, `w${i}`, { ...common, image: of(IMAGES, EDGE_IMAGES, w.image), ports, ...(sa ? { serviceAccountName: sa } : {}) }));
        return;
      }
      let d: plus.Deployment;
      if (w.adopt === 3 && adopted.length > 0) {
        d = adopted[adopted.length - 1];
      } else {
        const scope = w.adopt === 2 ? new Chart(app, `plain${i}`, { namespace: 'legacy' }) : chart;
        const account = new plus.ServiceAccount(scope, `sa${i}`, { metadata: { name: sa && sa !== 'default' ? sa : `adopted-${i}` } });
        d = new plus.Deployment(scope, `deployment${i}`, { containers: [{ image: 'legacy:1', portNumber: 8080 }], serviceAccount: account });
        adopted.push(d);
      }
      workloads.push(new SecureWorkload(chart, `w${i}`, { ...common, workload: d }));
    });
    phase = 'rule';
    for (const r of spec.rules) {
      const owner = workloads[r.owner % workloads.length];
      const fqdnFrom = r.peer.kind === 'fqdn' && r.dir === 'from' && !r.ports.edge;
      const dir = fqdnFrom ? 'to' : r.dir; // a host name as a source stays an edge case
      const peer = peerOf(r.peer, owner, workloads);
      const destination = dir === 'from' ? owner : peer;
      let ports: unknown;
      if (SecureWorkload.isSecureWorkload(destination)) {
        const choice = of(WORKLOAD_PORTS as readonly string[], EDGE_WORKLOAD_PORTS, r.ports);
        ports = { default: undefined, first: destination.ports.length ? [destination.ports[0]] : undefined, empty: [], undeclared: [Port.tcp(65000)], 'not-array': Port.http(80), number: [8080] }[choice];
      } else {
        const choice = r.ports.edge ? EDGE_WORKLOAD_PORTS[r.ports.index] : EXTERNAL_PORTS[r.owner % EXTERNAL_PORTS.length];
        ports = { default: undefined, tls: [Port.tcp(443)], http: [Port.http(80)], range: [Port.tcpRange(8000, 8010)], empty: [], undeclared: [Port.tcp(65000)], 'not-array': Port.http(80), number: [8080] }[choice];
      }
      const allowed = Array.isArray(ports) ? ports : SecureWorkload.isSecureWorkload(destination) ? destination.ports : [];
      const speaksHttp = allowed.length > 0 && allowed.every((p: any) => p?.speaksHttp);
      const http = r.http && (r.http.edge || speaksHttp) ? of(HTTP, EDGE_HTTP, r.http) : undefined;
      const options: any = { ...(ports !== undefined ? { ports } : {}), ...(http !== undefined ? { http } : {}) };
      if (dir === 'from') owner.allowFrom(peer as IPeer, options);
      else owner.allowTo(peer as IPeer, options);
    }
    if (hostile?.where === 'scrape') {
      phase = 'scrape';
      const scraper = hostile.prop === 'scraper' ? hostile.value : Peer.namespace('ext-a');
      const options = hostile.prop === 'options' ? hostile.value : hostile.prop === 'scraper' ? {} : { [hostile.prop]: hostile.value };
      charts[0].allowMetricsScraping(scraper as IPeer, options as any);
    }
    phase = 'synth';
    ZeroTrustSynthesis.prepare(app);
    app.synthYaml();
  } catch (error) {
    return { error, phase };
  }
  const variants = new Set(spec.charts.map((c) => c.variant));
  return { app, variant: variants.size === 1 ? spec.charts[0].variant : -1 };
}

function peerOf(p: PeerSpec, owner: SecureWorkload, workloads: SecureWorkload[]): unknown {
  switch (p.kind) {
    // Another workload (one of an app of one workload is itself); `self` is the edge case.
    case 'workload': {
      const others = workloads.filter((w) => w !== owner);
      return others.length ? others[p.index % others.length] : owner;
    }
    case 'self': return owner;
    case 'namespace': return Peer.namespace(p.ns);
    case 'external': return Peer.workload({ namespace: p.ns, labels: { app: 'client' }, ...(p.sa ? { serviceAccount: 'client' } : {}) });
    case 'ip': {
      const [cidr, except] = of(CIDRS, EDGE_CIDRS, p.cidr);
      return Peer.ipBlock(cidr, except);
    }
    case 'fqdn': return Peer.fqdn(of(HOSTS, EDGE_HOSTS, p.host));
    case 'garbage': return [undefined, {}, 'web'][p.value];
  }
}

/** The error is a ZeroTrustError with a code, whose problems say what they concern. */
function judgeError(b: Backend, error: unknown, phase: string): string[] {
  if (!(error instanceof ZeroTrustError)) {
    throw new Error(`${phase}: not a ZeroTrustError but ${(error as Error)?.constructor?.name}: ${(error as Error)?.stack ?? String(error)}`);
  }
  const problems = error.code === 'SYNTH_FAILED' ? error.problems : [error];
  expect(problems.length).toBeGreaterThan(0);
  for (const p of problems) {
    const where = `${p.code}: ${p.message}`;
    if (!/^[A-Z][A-Z0-9_]+$/.test(p.code)) throw new Error(`no code: ${where}`);
    if (phase === 'synth') {
      if (p.backend !== b.id) throw new Error(`synth problem without backend ${b.id}: ${where} (backend ${p.backend})`);
      if (!p.workload && !p.namespace) throw new Error(`synth problem naming no workload or namespace: ${where}`);
      if (!p.message.startsWith(`[${b.id}] `)) throw new Error(`message without [${b.id}]: ${where}`);
    }
    if ((phase === 'rule' || phase === 'synth') && RULE_CODES.has(p.code)) {
      if (!p.workload || !p.rule) throw new Error(`rule problem without workload and rule: ${where} (workload ${p.workload}, rule ${p.rule})`);
      if (!p.message.includes(p.rule.split(', ')[0])) throw new Error(`rule problem whose message does not name its rule ${p.rule}: ${where}`);
    }
  }
  // The self-check is the net under the renderers: an input it has to catch is one a renderer
  // should have refused by name (with the rule and a reason), so here it fails the test.
  const caught = problems.filter((p) => p.code.startsWith('SELF_CHECK'));
  if (caught.length > 0) throw new Error(`only the self-check refused this intent; the renderer should have:\n  ${caught.map((p) => p.message).join('\n  ')}`);
  return problems.map((p) => p.code);
}

/**
 * The Namespace a chart with `createNamespace: false` expects to exist: the one a twin chart
 * emits (the README asks a namespace created elsewhere to carry the mesh's labels).
 */
function namespaceCreatedElsewhere(b: Backend, variant: number, namespace: string): string {
  const twin = Testing.app();
  new ZeroTrustChart(twin, 'twin', { namespace, mesh: b.mesh(variant) });
  return stringify(twin.charts[0].toJson().find((d: any) => d.kind === 'Namespace'), { version: '1.1' });
}

/** The YAML, read back by the backend's reader, allows exactly the intent, and every object is schema-valid. */
function judgeOutput(b: Backend, app: App, variant: number, elsewhere: string[]): { queries: number } {
  const yaml = app.synthYaml();
  const schemaErrors = validateAll(parseManifests(yaml, 'synth.yaml').map((m) => m.manifest));
  const reprinted = [...parseManifests(yaml, 'synth.yaml').map((m) => stringify(m.manifest, { version: '1.1' })), ...(variant < 0 ? [] : elsewhere.map((ns) => namespaceCreatedElsewhere(b, variant, ns)))].join('---\n');
  const manifests = parseManifests(reprinted, 'synth.yaml');
  if (schemaErrors.length > 0) throw new Error(`schema errors:\n  ${schemaErrors.slice(0, 5).join('\n  ')}`);
  if (variant < 0) return { queries: 0 }; // charts of two meshes: each was read back by the self-check with its own settings
  const model = IntentRegistry.of(app).resolve().model;
  const reader = readerFor(manifests, { backend: b.id, enrolledNamespaces: ENROLLED, settings: b.settings?.(variant) });
  const probes = intentProbes(model);
  const universe = probeUniverse(manifests, probes.endpoints, probes.ports, probes.requests);
  const mismatches = compareWithIntent(reader, model, universe, { limit: 1, ...backendIntentOptions(b.id, { enrolledNamespaces: ENROLLED }) });
  if (mismatches.length > 0) throw new Error(`reader and intent disagree:\n${describeMismatch(mismatches[0], b.id)}`);
  return { queries: universe.endpoints.length };
}

describe.each(BACKENDS.map((b) => [b.id, b] as const))('hostile intents on %s: a ZeroTrustError with a code, or output equal to the intent', (_id, b) => {
  test('fast-check', () => {
    const seen = new Map<string, number>();
    let ok = 0;
    let requests = 0;
    fc.assert(fc.property(appArb, (spec) => {
      const out = build(b, spec);
      const hostile = hostileOf(b, spec);
      if (hostile && !mayAccept(hostile.prop, hostile.value) && !('error' in out)) {
        throw new Error(`${hostile.where} ${hostile.prop}: ${JSON.stringify(hostile.value)} was accepted; a wrong-typed value must be refused`);
      }
      if ('error' in out) {
        for (const code of judgeError(b, out.error, out.phase)) seen.set(code, (seen.get(code) ?? 0) + 1);
        return;
      }
      ok++;
      judgeOutput(b, out.app, out.variant, spec.charts.map((c, i) => (c.createNamespace ? undefined : c.ns.edge ? EDGE_NAMESPACES[c.ns.index] : CHART_NAMESPACES[i])).filter((n): n is string => n !== undefined));
      requests += IntentRegistry.of(out.app).resolve().model.flows.filter((f) => f.http.length > 0).length;
    }), { numRuns: RUNS, seed: SEED, endOnFailure: true });
    if (process.env.ZT_PROPERTY_STATS) console.log(b.id, { ok, requests, codes: Object.fromEntries(seen) });
    // Neither vacuous side: some intents synthesize, and many distinct refusals are met.
    expect(ok).toBeGreaterThan(0);
    expect(seen.size).toBeGreaterThanOrEqual(8);
  });
});
