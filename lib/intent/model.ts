/**
 * The resolved, mesh-neutral model that renderers read. It is computed once per synth from the
 * intent recorded on `SecureWorkload`s, validated, de-duplicated and sorted, so every renderer
 * is a pure function of it.
 */
import { BackendId } from './backend';
import { Port } from './port';
import { ProbeModel } from './probe';
import { compareEntries, compareText } from './collation';
import type { Weaken } from './weaken';

/** What each `Weaken` member gives up, in words (keyed by the member's value, so this module needs no value import). */
export const WEAKENING_PHRASES: { readonly [member: string]: string } = {
  HTTP_TO_PORT: 'enforced as the whole port',
  IDENTITY_TO_LABELS: 'enforced by labels and namespace, the ServiceAccount not checked',
  WORKLOAD_TO_NAMESPACE: 'enforced as the whole namespace of the source',
  HOST_TO_PORT: 'enforced as any address on its ports',
  PORTS_TO_CONNECTION: 'enforced as every port of the destination',
};

/** Label every workload is selected by; stable, never hashed. */
export const NAME_LABEL = 'app.kubernetes.io/name';
/** Label on every object this library emits. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'cdk8s-zero-trust';
/** Annotation that says in words which flows an object allows. */
const ALLOWS_ANNOTATION = 'zero-trust.cdk8s.io/allows';

/** A namespace (one `ZeroTrustChart`). */
export interface NamespaceModel {
  readonly name: string;
  /** Backend id of the chart's mesh (`networkpolicy`, `istio`, ...). */
  readonly backend: BackendId;
  /**
   * Which mesh of that backend (trust domain, mesh name): flows between workloads of namespaces
   * whose `mesh` differs cannot be authenticated end to end and are refused.
   * @default - the backend id (one mesh per backend)
   */
  readonly mesh?: string;
  /**
   * `audit` when the chart is in `Enforcement.AUDIT`: undeclared connections to its workloads are
   * admitted and recorded as would-be denials.
   * @default - enforced
   */
  readonly enforcement?: 'audit';
  /**
   * `permissive` when the chart accepts plaintext (`MtlsMode.PERMISSIVE`).
   * @default - strict
   */
  readonly mtls?: 'permissive';
}

/** A `SecureWorkload` of the app. */
export interface WorkloadModel {
  readonly name: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  /** Labels that select exactly this workload's pods. */
  readonly selector: { [key: string]: string };
  readonly ports: Port[];
  readonly backend: BackendId;
  /** Whether the workload has a Service of its own; absent when unknown (a model read from a file). */
  readonly service?: boolean;
  /** Whether its own Service is headless (a created StatefulSet's governing Service); absent: not headless or unknown. */
  readonly headless?: boolean;
  /** The kubelet httpGet probes its pod template declares; absent: none or unknown (a model read from a file). */
  readonly probes?: ProbeModel[];
}

/** One side of a flow. */
export type EndpointModel =
  | { readonly type: 'workload'; readonly workload: WorkloadModel }
  | { readonly type: 'external-workload'; readonly namespace: string; readonly labels: { [key: string]: string }; readonly serviceAccount?: string }
  | { readonly type: 'namespace'; readonly namespace: string }
  | { readonly type: 'ip-block'; readonly cidr: string; readonly except: string[] }
  | { readonly type: 'fqdn'; readonly host: string };

/** The kinds of endpoint. */
export type EndpointType = EndpointModel['type'];

/**
 * What each kind of endpoint is. A new kind of peer must be described here (the compiler asks),
 * and every `switch` on `EndpointModel.type` lists every kind, so the compiler finds each place
 * that must handle it.
 */
const ENDPOINT_KINDS: { readonly [kind in EndpointType]: { readonly pods: boolean } } = {
  'workload': { pods: true },
  'external-workload': { pods: true },
  'namespace': { pods: true },
  'ip-block': { pods: false },
  'fqdn': { pods: false },
};

/** True when the endpoint is one or more pods (as opposed to addresses or host names). */
export function isPodEndpoint(e: EndpointModel): boolean {
  return ENDPOINT_KINDS[e.type].pods;
}

/** A normalized HTTP condition. */
export interface HttpRuleModel {
  readonly methods: string[];
  readonly paths: string[];
}

/** One allowed flow: source may open connections to destination on ports (with optional L7 rules). */
export interface FlowModel {
  readonly source: EndpointModel;
  readonly destination: EndpointModel;
  /** Allowed destination ports; empty means every port (external destinations only). */
  readonly ports: Port[];
  /** L7 conditions; empty means any request. */
  readonly http: HttpRuleModel[];
  /** Where the rule was declared, for messages: `production/hero allowFrom(...)`. */
  readonly declaredAt: string;
  /** `namespace/name` of the workload whose allowFrom/allowTo declared the flow; absent in a model read from a file. */
  readonly declaredBy?: string;
  /**
   * The `Weaken` members this flow is a weaker form of (lib/intent/weaken.ts), in their order;
   * absent: enforced as declared.
   */
  readonly weakened?: readonly Weaken[];
  /** The flow as declared, when this one is its weaker form (or one part of it). */
  readonly declared?: FlowModel;
  /**
   * The declared ports this flow stands for, when a weakening applies to only some of the declared
   * flow's ports (lib/intent/weaken.ts): the declared flow is split into parts; absent: all of them.
   */
  readonly part?: readonly Port[];
  /**
   * True when the ports are the mesh proxy's own (its metrics ports, `allowMetricsScraping`), not
   * the workload's: only the layers that see those ports render them (the NetworkPolicy layer;
   * Linkerd, whose admin server is under its policy); the others leave the flow out.
   */
  readonly proxy?: boolean;
}

/** Everything a renderer needs. */
export interface ZeroTrustModel {
  readonly namespaces: NamespaceModel[];
  readonly workloads: WorkloadModel[];
  readonly flows: FlowModel[];
}

/** Metadata of an object this library emits: name, namespace, managed-by label, and the allows annotation. */
export interface ManagedMetadata {
  readonly name: string;
  readonly namespace?: string;
  readonly labels: { [key: string]: string };
  readonly annotations: { [key: string]: string };
}

/**
 * Builds the metadata every emitted policy carries: the managed-by label (plus `extraLabels`) and
 * the allows annotation listing, one per line, sorted and de-duplicated, what the object allows.
 * `namespace` undefined: a cluster-scoped object.
 */
export function managedMetadata(name: string, namespace: string, allows: string[], extraLabels?: { [key: string]: string }): ManagedMetadata & { readonly namespace: string };
export function managedMetadata(name: string, namespace: string | undefined, allows: string[], extraLabels?: { [key: string]: string }): ManagedMetadata;
export function managedMetadata(name: string, namespace: string | undefined, allows: string[], extraLabels: { [key: string]: string } = {}): ManagedMetadata {
  return {
    name,
    ...(namespace !== undefined ? { namespace } : {}),
    labels: { [MANAGED_BY_LABEL]: MANAGED_BY, ...extraLabels },
    annotations: { [ALLOWS_ANNOTATION]: [...new Set(allows)].sort(compareText).join('\n') },
  };
}

/** `production/hero`, `ns:ingress-nginx`, `cidr:203.0.113.0/24`, `fqdn:api.example.com`. */
export function endpointKey(e: EndpointModel): string {
  switch (e.type) {
    case 'workload': return `${e.workload.namespace}/${e.workload.name}`;
    case 'external-workload': return `${e.namespace}/{${Object.entries(e.labels).sort(compareEntries).map(([k, v]) => `${k}=${v}`).join(',')}}${e.serviceAccount ? `@${e.serviceAccount}` : ''}`;
    case 'namespace': return `ns:${e.namespace}`;
    case 'ip-block': return `cidr:${e.cidr}${e.except.length ? ` except ${e.except.join(',')}` : ''}`;
    case 'fqdn': return `fqdn:${e.host}`;
  }
}

/**
 * A readable description of a flow for annotations and errors. A weakened flow is described as
 * declared, followed by what was given up: `... on 8080/TCP [GET /x] — enforced as the whole port (Weaken.HTTP_TO_PORT)`.
 */
export function describeFlow(f: FlowModel): string {
  if (f.declared && f.weakened?.length) {
    return `${describeFlow(f.part ? { ...f.declared, ports: [...f.part] } : f.declared)} — ${f.weakened.map((m) => `${WEAKENING_PHRASES[m]} (Weaken.${m})`).join('; ')}`;
  }
  const ports = f.ports.length === 0 ? 'any port' : f.ports.map((p) => p.toString()).join(', ');
  const http = f.http.length === 0 ? '' : ` [${f.http.map(describeHttpRule).join(' | ')}]`;
  return `${endpointKey(f.source)} -> ${endpointKey(f.destination)} on ${ports}${http}`;
}

/** `GET,HEAD /api/*`. */
export function describeHttpRule(r: HttpRuleModel): string {
  return `${r.methods.length ? r.methods.join(',') : 'any method'} ${r.paths.length ? r.paths.join(',') : 'any path'}`;
}

/** True when the two ports denote the same destination port. */
export function samePort(a: Port, b: Port): boolean {
  return a.number === b.number && a.protocol === b.protocol && a.endPort === b.endPort;
}

export { compareText } from './collation';

/** Sorts ports by number, then protocol. */
export function comparePorts(a: Port, b: Port): number {
  return a.number - b.number || compareText(a.protocol, b.protocol) || (a.endPort ?? 0) - (b.endPort ?? 0);
}

/** Flows by the workload at either end, in model order. */
export interface FlowIndex {
  /** Flows whose destination is the workload. */
  readonly inbound: Map<WorkloadModel, FlowModel[]>;
  /** Flows whose source is the workload. */
  readonly outbound: Map<WorkloadModel, FlowModel[]>;
}

const FLOW_INDEXES = new WeakMap<ZeroTrustModel, FlowIndex>();

/**
 * The flows of each workload, computed once per model, so renderers stay linear in workloads and
 * flows instead of scanning every flow for every workload.
 */
export function flowIndex(model: ZeroTrustModel): FlowIndex {
  let index = FLOW_INDEXES.get(model);
  if (!index) {
    const inbound = new Map<WorkloadModel, FlowModel[]>();
    const outbound = new Map<WorkloadModel, FlowModel[]>();
    for (const f of model.flows) {
      if (f.destination.type === 'workload') push(inbound, f.destination.workload, f);
      if (f.source.type === 'workload') push(outbound, f.source.workload, f);
    }
    index = { inbound, outbound };
    FLOW_INDEXES.set(model, index);
  }
  return index;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}
