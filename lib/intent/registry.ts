import { IConstruct } from 'constructs';
import { ZeroTrustError } from './errors';
import {
  EndpointModel, FlowModel, HttpRuleModel, NamespaceModel, WorkloadModel, ZeroTrustModel,
  compareText, comparePorts, endpointKey, samePort,
} from './model';
import { checkDns1035Label } from './names';
import { IPeer, PeerKind } from './peer';
import { Port } from './port';
import { AllowOptions, normalizeHttpRule } from './rules';

/** A rule as the user declared it, before resolution. */
export interface RecordedRule {
  /** The workload whose method was called. */
  readonly owner: WorkloadHandle;
  /** `from`: owner.allowFrom(peer); `to`: owner.allowTo(peer). */
  readonly direction: 'from' | 'to';
  readonly peer: IPeer;
  readonly options: AllowOptions;
  /** The method named in messages (`allowMetricsScraping`). @default allowFrom or allowTo */
  readonly call?: string;
  /** The mesh proxy's ports (metrics) instead of the workload's: a `proxy` flow. */
  readonly proxyPorts?: Port[];
}

/** A chart's `allowMetricsScraping` call, expanded at resolution into one rule per workload. */
export interface RecordedScrape {
  readonly namespace: string;
  readonly peer: IPeer;
  /** The workloads' own metrics port, if any. */
  readonly appPort?: Port;
  /** The mesh proxy's metrics ports (none where the mesh has no proxy in the pod). */
  readonly proxyPorts: Port[];
  /** The workloads to scrape; absent: every workload of the namespace. */
  readonly workloads?: WorkloadHandle[];
}

/** What the registry needs of a workload construct. */
export interface WorkloadHandle {
  /** Resolved model of the workload (name, namespace, identity, ports). */
  _toModel(): WorkloadModel;
}

const REGISTRIES = new WeakMap<IConstruct, IntentRegistry>();

/**
 * Intent of one cdk8s app: every namespace, workload and rule, recorded as declared and
 * resolved once, at synth, into a `ZeroTrustModel`.
 */
export class IntentRegistry {
  /** The registry of the app that `scope` belongs to. */
  public static of(scope: IConstruct): IntentRegistry {
    const root = scope.node.root;
    let registry = REGISTRIES.get(root);
    if (!registry) {
      registry = new IntentRegistry();
      REGISTRIES.set(root, registry);
    }
    return registry;
  }

  private readonly namespaces = new Map<string, NamespaceModel>();
  private readonly workloads = new Map<string, WorkloadHandle>();
  private readonly rules: RecordedRule[] = [];
  private readonly scrapes: RecordedScrape[] = [];
  private resolved?: { model: ZeroTrustModel; errors: ZeroTrustError[] };

  /** Records a namespace; each namespace belongs to one chart. */
  public addNamespace(ns: NamespaceModel): void {
    this.assertOpen(`namespace ${ns.name}`);
    if (this.namespaces.has(ns.name)) {
      throw new ZeroTrustError({ code: 'DUPLICATE_NAMESPACE', namespace: ns.name, message: `namespace "${ns.name}" is declared by two ZeroTrustCharts; use one chart per namespace` });
    }
    this.namespaces.set(ns.name, ns);
  }

  /** Records a workload under `namespace/name`. */
  public addWorkload(namespace: string, name: string, handle: WorkloadHandle): void {
    this.assertOpen(`workload ${namespace}/${name}`);
    const key = `${namespace}/${name}`;
    if (this.workloads.has(key)) {
      throw new ZeroTrustError({ code: 'DUPLICATE_WORKLOAD', namespace, workload: key, message: `workload "${name}" is declared twice in namespace "${namespace}"` });
    }
    this.workloads.set(key, handle);
  }

  /** Records one allowFrom/allowTo call. */
  public addRule(rule: RecordedRule): void {
    this.assertOpen('a rule');
    this.rules.push(rule);
  }

  /** Records one `allowMetricsScraping` call. */
  public addScrape(scrape: RecordedScrape): void {
    this.assertOpen('a metrics scrape');
    this.scrapes.push(scrape);
  }

  /** Resolves the recorded intent once; later changes are refused. */
  public resolve(): { model: ZeroTrustModel; errors: ZeroTrustError[] } {
    if (!this.resolved) {
      const handles = [...this.workloads.values()];
      this.resolved = resolveIntent([...this.namespaces.values()], handles, [...this.rules, ...scrapeRules(this.scrapes, handles)]);
    }
    return this.resolved;
  }

  private assertOpen(what: string): void {
    if (this.resolved) {
      throw new ZeroTrustError({ code: 'APP_ALREADY_SYNTHESIZED', message: `cannot add ${what}: the app was already synthesized; declare all intent before synth` });
    }
  }
}

/** Resolves recorded rules into flows: checks ports, peers and meshes, merges duplicates, sorts. */
function resolveIntent(namespaces: NamespaceModel[], handles: WorkloadHandle[], rules: RecordedRule[]): { model: ZeroTrustModel; errors: ZeroTrustError[] } {
  const byHandle = new Map<WorkloadHandle, WorkloadModel>(handles.map((h) => [h, h._toModel()]));
  const workloads = [...byHandle.values()].sort((a, b) => compareText(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`));
  const errors: ZeroTrustError[] = [...checkWorkloads(workloads)];
  const flows = new Map<string, FlowModel>();
  const meshOf = new Map(namespaces.map((n) => [n.name, n.mesh ?? n.backend]));

  for (const rule of rules) {
    const owner = rule.owner._toModel();
    const call = rule.call ?? `${rule.direction === 'from' ? 'allowFrom' : 'allowTo'}`;
    let where = `${owner.namespace}/${owner.name}.${call}(?)`;
    try {
      const peer = toEndpoint(rule.peer, byHandle);
      where = `${owner.namespace}/${owner.name}.${call}(${endpointKey(peer)})`;
      const self: EndpointModel = { type: 'workload', workload: owner };
      const source = rule.direction === 'from' ? peer : self;
      const destination = rule.direction === 'from' ? self : peer;
      if (source.type === 'fqdn') {
        throw new ZeroTrustError({ code: 'FQDN_SOURCE', message: `${where}: a host name cannot be a source; FQDN peers are for egress (allowTo) only` });
      }
      if (source.type === 'workload' && destination.type === 'workload' && source.workload.backend !== destination.workload.backend) {
        throw new ZeroTrustError({ code: 'CROSS_MESH_FLOW', message: `${where}: ${source.workload.namespace} uses mesh "${source.workload.backend}" and ${destination.workload.namespace} uses "${destination.workload.backend}"; flows between charts of different meshes cannot be secured end to end` });
      }
      if (source.type === 'workload' && destination.type === 'workload') {
        const a = meshOf.get(source.workload.namespace) ?? source.workload.backend;
        const b = meshOf.get(destination.workload.namespace) ?? destination.workload.backend;
        if (a !== b) {
          throw new ZeroTrustError({ code: 'CROSS_MESH_FLOW', message: `${where}: ${source.workload.namespace} is in ${describeMesh(a)} and ${destination.workload.namespace} in ${describeMesh(b)}; their identities are not trusted across (the flow could never be authorized), so use the same ${a.startsWith('kuma') ? 'meshName' : 'trust domain'} for both charts or drop the flow` });
        }
      }
      for (const e of [source, destination]) {
        if ((e.type === 'namespace' || e.type === 'external-workload') && namespaces.some((n) => n.name === e.namespace)) {
          throw new ZeroTrustError({ code: 'PEER_IN_MANAGED_NAMESPACE', message: `${where}: namespace "${e.namespace}" is managed by this app, so its pods are closed by default deny; name its SecureWorkloads instead of ${e.type === 'namespace' ? 'Peer.namespace()' : 'Peer.workload()'}` });
        }
      }
      if (rule.proxyPorts) {
        addFlow(flows, { source, destination, ports: [...rule.proxyPorts].sort(comparePorts), http: [], declaredAt: where, declaredBy: `${owner.namespace}/${owner.name}`, proxy: true });
        continue;
      }
      const ports = resolvePorts(destination, rule.options.ports, where);
      if (rule.options.http !== undefined && Array.isArray(rule.options.http) && rule.options.http.length === 0) {
        throw new ZeroTrustError({ code: 'EMPTY_HTTP_LIST', message: `${where}: http is an empty list, which would allow any request; leave it out to mean any request, or list the rules` });
      }
      const http = (rule.options.http ?? []).map((r, i) => normalizeHttpRule(r, `${where} http[${i}]`));
      if (http.length > 0) {
        if (ports.length === 0) {
          throw new ZeroTrustError({ code: 'HTTP_RULES_NEED_PORTS', message: `${where}: HTTP rules need explicit HTTP ports on an external destination` });
        }
        const notHttp = ports.filter((p) => !p.speaksHttp);
        if (notHttp.length > 0) {
          throw new ZeroTrustError({ code: 'HTTP_RULES_ON_NON_HTTP_PORT', message: `${where}: HTTP rules apply only to HTTP, HTTP/2 or gRPC ports, but ${notHttp.map((p) => `${p.name} (${p.toString()}, ${p.kind})`).join(', ')} is not; split the rule or declare the port with Port.http()/Port.grpc()` });
        }
      }
      addFlow(flows, { source, destination, ports, http, declaredAt: where, declaredBy: `${owner.namespace}/${owner.name}` });
    } catch (e) {
      if (!(e instanceof ZeroTrustError)) throw e;
      const located = e.text.startsWith(where) ? e : new ZeroTrustError({ ...e.details, message: `${where}: ${e.text}` });
      errors.push(located.within({ namespace: owner.namespace, workload: `${owner.namespace}/${owner.name}`, rule: where }));
    }
  }

  const sorted = [...flows.entries()].sort(([a], [b]) => compareText(a, b)).map(([, f]) => f);
  return {
    model: { namespaces: [...namespaces].sort((a, b) => compareText(a.name, b.name)), workloads, flows: sorted },
    errors,
  };
}

/**
 * The rules of the charts' `allowMetricsScraping` calls: per scraped workload, the scraper to its
 * metrics port (an ordinary rule) and to the mesh proxy's metrics ports (a proxy rule).
 */
function scrapeRules(scrapes: RecordedScrape[], handles: WorkloadHandle[]): RecordedRule[] {
  const out: RecordedRule[] = [];
  for (const s of scrapes) {
    const targets = s.workloads ?? handles.filter((h) => h._toModel().namespace === s.namespace);
    for (const owner of targets) {
      const base = { owner, direction: 'from' as const, peer: s.peer, call: 'allowMetricsScraping' };
      if (s.appPort) out.push({ ...base, options: { ports: [s.appPort] } });
      if (s.proxyPorts.length > 0) out.push({ ...base, options: {}, proxyPorts: s.proxyPorts });
    }
  }
  return out;
}

/** `mesh "kuma:payments"` for messages. */
function describeMesh(key: string): string {
  return `mesh "${key}"`;
}

/**
 * Problems of the workloads themselves: a Service name Kubernetes would reject, two workloads
 * of one namespace running as one ServiceAccount (one identity for two sets of rules).
 */
function checkWorkloads(workloads: WorkloadModel[]): ZeroTrustError[] {
  const out: ZeroTrustError[] = [];
  const accounts = new Map<string, WorkloadModel>();
  for (const w of workloads) {
    const key = `${w.namespace}/${w.name}`;
    if (w.service !== false) {
      try {
        checkDns1035Label(w.name, `SecureWorkload ${key}: its Service name`);
      } catch (e) {
        out.push((e as ZeroTrustError).within({ namespace: w.namespace, workload: key }));
      }
    }
    const sa = `${w.namespace}/${w.serviceAccount}`;
    const first = accounts.get(sa);
    if (first) {
      out.push(new ZeroTrustError({
        code: 'SHARED_SERVICE_ACCOUNT', namespace: w.namespace, workload: key,
        message: `SecureWorkload ${key} runs as ServiceAccount "${w.serviceAccount}", which ${first.namespace}/${first.name} runs as too; a ServiceAccount is a workload's identity, so two workloads sharing one could use each other's flows on identity meshes (and the account would be emitted twice). Give each workload its own serviceAccountName`,
      }));
    } else {
      accounts.set(sa, w);
    }
  }
  return out;
}

function toEndpoint(peer: IPeer, byHandle: Map<WorkloadHandle, WorkloadModel>): EndpointModel {
  if (!peer || typeof (peer as IPeer).toPeerSpec !== 'function') {
    throw new ZeroTrustError({ code: 'INVALID_PEER', message: 'the peer is empty; pass a SecureWorkload or a Peer.*() value' });
  }
  const spec = peer.toPeerSpec();
  switch (spec.kind) {
    case PeerKind.APP_WORKLOAD: {
      const handle = spec.workload as unknown as WorkloadHandle;
      const model = byHandle.get(handle);
      if (!model) throw new ZeroTrustError({ code: 'PEER_IN_OTHER_APP', message: 'the peer workload belongs to another cdk8s App' });
      return { type: 'workload', workload: model };
    }
    case PeerKind.EXTERNAL_WORKLOAD:
      return { type: 'external-workload', namespace: spec.namespace!, labels: { ...spec.labels! }, serviceAccount: spec.serviceAccount };
    case PeerKind.NAMESPACE:
      return { type: 'namespace', namespace: spec.namespace! };
    case PeerKind.IP_BLOCK:
      return { type: 'ip-block', cidr: spec.cidr!, except: [...(spec.except ?? [])] };
    case PeerKind.FQDN:
      return { type: 'fqdn', host: spec.host! };
    default: {
      // A new PeerKind must be resolved above: the compiler rejects this line until it is.
      const unknown: never = spec.kind;
      throw new ZeroTrustError({ code: 'UNKNOWN_PEER_KIND', message: `unknown peer kind "${unknown}"` });
    }
  }
}

function resolvePorts(destination: EndpointModel, requested: Port[] | undefined, where: string): Port[] {
  if (requested !== undefined && requested.length === 0) {
    throw new ZeroTrustError({ code: 'EMPTY_PORTS', message: `${where}: "ports" is empty; omit it to mean every declared port` });
  }
  if (destination.type === 'workload') {
    const declared = destination.workload.ports;
    if (declared.length === 0) {
      throw new ZeroTrustError({ code: 'DESTINATION_WITHOUT_PORTS', message: `${where}: ${destination.workload.namespace}/${destination.workload.name} declares no ports, so nothing can be allowed to it` });
    }
    if (requested === undefined) return [...declared].sort(comparePorts);
    const out: Port[] = [];
    for (const p of requested) {
      const match = declared.find((d) => samePort(d, p));
      if (!match) {
        throw new ZeroTrustError({ code: 'UNDECLARED_PORT', message: `${where}: port ${p.toString()} is not declared by ${destination.workload.namespace}/${destination.workload.name} (it declares ${declared.map((d) => `${d.name}=${d.toString()}`).join(', ')})` });
      }
      if (!out.some((o) => samePort(o, match))) out.push(match);
    }
    return out.sort(comparePorts);
  }
  const out: Port[] = [];
  for (const p of requested ?? []) {
    if (!out.some((o) => samePort(o, p))) out.push(p);
  }
  return out.sort(comparePorts);
}

function addFlow(flows: Map<string, FlowModel>, flow: FlowModel): void {
  const key = `${endpointKey(flow.source)} > ${endpointKey(flow.destination)} @ ${flow.ports.map((p) => p.toString()).join(',')} # ${JSON.stringify(flow.http)}${flow.proxy ? ' proxy' : ''}`;
  const existing = flows.get(key);
  if (existing) {
    // Same flow declared from both sides (hero.allowTo(db) and db.allowFrom(hero)) or twice: keep one.
    return;
  }
  flows.set(key, { ...flow, http: sortHttp(flow.http) });
}

function sortHttp(rules: HttpRuleModel[]): HttpRuleModel[] {
  const seen = new Map<string, HttpRuleModel>();
  for (const r of rules) seen.set(JSON.stringify(r), r);
  return [...seen.entries()].sort(([a], [b]) => compareText(a, b)).map(([, r]) => r);
}
