/**
 * The intent file: the resolved model of an app as deterministic JSON, written beside the
 * synthesized manifests (`zero-trust.intent.json`) so that `cdk8s-zero-trust verify` can check,
 * later and from the files alone, that the YAML still allows exactly what was declared.
 */
import { BACKEND_IDS, isBackendId } from './backend';
import { DnsSpec } from './dns';
import { ZeroTrustError } from './errors';
import { EndpointModel, FlowModel, NamespaceModel, WorkloadModel, ZeroTrustModel, samePort } from './model';
import { Port, PortKind } from './port';
import { parseCidr } from './cidr';
import { WEAKEN_MEMBERS, Weaken, declaredFlow, hostExceptOf, weakenFlow, weakeningsOf } from './weaken';

/** File name of the intent file. */
export const INTENT_FILE_NAME = 'zero-trust.intent.json';

/** Format version of the intent file. */
export const INTENT_FORMAT_VERSION = 1;

/** A port as JSON. */
interface PortJson { number: number; endPort?: number; protocol: string; kind: string; name: string }

/** One side of a flow as JSON; workloads are referenced by `namespace/name`. */
type EndpointJson =
  | { type: 'workload'; workload: string }
  | { type: 'external-workload'; namespace: string; labels: { [key: string]: string }; serviceAccount?: string }
  | { type: 'namespace'; namespace: string }
  | { type: 'ip-block'; cidr: string; except: string[] }
  | { type: 'fqdn'; host: string };

/** The JSON document of `zero-trust.intent.json`. */
export interface IntentDocumentJson {
  version: number;
  namespaces: Array<{ name: string; backend: string; dns: DnsSpec; enforcement?: 'audit'; mtls?: 'permissive' }>;
  workloads: Array<{ name: string; namespace: string; serviceAccount: string; selector: { [key: string]: string }; ports: PortJson[] }>;
  /**
   * The flows as declared; `weakened` lists the `Weaken` members the chart accepted for a flow,
   * which is enforced (and verified) in that weaker form.
   */
  flows: Array<{
    source: EndpointJson; destination: EndpointJson; ports: PortJson[]; http: Array<{ methods: string[]; paths: string[] }>; declaredAt: string;
    weakened?: string[];
    /**
     * The declared ports a member of `weakened` applies to, for a member whose refusal named only
     * some of them (UDP ports whose ServiceAccount the mesh cannot check); a member not listed
     * here weakens the whole flow.
     */
    weakenedPorts?: { [member: string]: PortJson[] };
    /** True when the ports are the mesh proxy's own (metrics scraping). */
    proxy?: boolean;
    /** With `HOST_TO_PORT`: the cluster's ranges left out of "any address" (the chart's `clusterNetworks`). */
    hostExcept?: string[];
  }>;
}

const KUBE_DNS: DnsSpec = { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } };

function sortedObject(o: { [key: string]: string }): { [key: string]: string } {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function portJson(p: Port): PortJson {
  return { number: p.number, ...(p.endPort !== undefined ? { endPort: p.endPort } : {}), protocol: p.protocol, kind: p.kind, name: p.name };
}

function endpointJson(e: EndpointModel): EndpointJson {
  switch (e.type) {
    case 'workload': return { type: 'workload', workload: `${e.workload.namespace}/${e.workload.name}` };
    case 'external-workload': return { type: 'external-workload', namespace: e.namespace, labels: sortedObject(e.labels), ...(e.serviceAccount ? { serviceAccount: e.serviceAccount } : {}) };
    case 'namespace': return { type: 'namespace', namespace: e.namespace };
    case 'ip-block': return { type: 'ip-block', cidr: e.cidr, except: [...e.except] };
    case 'fqdn': return { type: 'fqdn', host: e.host };
  }
}

/**
 * The intent document of a resolved model: plain JSON, keys in a fixed order, the model's own
 * (sorted) order for lists. `dns` gives each namespace's cluster DNS (default kube-dns).
 */
export function intentDocument(model: ZeroTrustModel, dns: { [namespace: string]: DnsSpec } = {}): IntentDocumentJson {
  return {
    version: INTENT_FORMAT_VERSION,
    namespaces: model.namespaces.map((n) => ({
      name: n.name, backend: n.backend, dns: dnsJson(dns[n.name] ?? KUBE_DNS),
      // The stage only when it is not the default, so that ENFORCE output is unchanged.
      ...(n.enforcement ? { enforcement: n.enforcement } : {}), ...(n.mtls ? { mtls: n.mtls } : {}),
    })),
    workloads: model.workloads.map((w) => ({ name: w.name, namespace: w.namespace, serviceAccount: w.serviceAccount, selector: sortedObject(w.selector), ports: w.ports.map(portJson) })),
    flows: declaredFlows(model).map(({ flow: f, weakened, weakenedPorts, hostExcept }) => ({
      source: endpointJson(f.source),
      destination: endpointJson(f.destination),
      ports: f.ports.map(portJson),
      http: f.http.map((h) => ({ methods: [...h.methods], paths: [...h.paths] })),
      declaredAt: f.declaredAt,
      ...(weakened.length ? { weakened: [...weakened] } : {}),
      ...(Object.keys(weakenedPorts).length ? { weakenedPorts } : {}),
      ...(hostExcept.length ? { hostExcept } : {}),
      ...(f.proxy ? { proxy: true } : {}),
    })),
  };
}

/** The declared flows of a model, each once (a weakening may enforce one as two), with its weakenings. */
function declaredFlows(model: ZeroTrustModel): Array<{ flow: FlowModel; weakened: readonly Weaken[]; weakenedPorts: { [member: string]: PortJson[] }; hostExcept: string[] }> {
  const enforced = new Map<FlowModel, FlowModel[]>();
  for (const f of model.flows) {
    const d = declaredFlow(f);
    enforced.set(d, [...(enforced.get(d) ?? []), f]);
  }
  return [...enforced].map(([flow, forms]) => {
    const parts = weakeningsOf(flow, forms);
    const weakenedPorts: { [member: string]: PortJson[] } = {};
    for (const [m, ports] of parts) if (ports) weakenedPorts[m] = ports.map(portJson);
    return { flow, weakened: [...parts.keys()], weakenedPorts, hostExcept: hostExceptOf(forms) };
  });
}

function dnsJson(d: DnsSpec): DnsSpec {
  return d.cidr ? { cidr: d.cidr } : { namespace: d.namespace, labels: sortedObject(d.labels ?? {}) };
}

/** The intent document as text (2-space JSON with a final newline). */
export function intentDocumentText(model: ZeroTrustModel, dns: { [namespace: string]: DnsSpec } = {}): string {
  return `${JSON.stringify(intentDocument(model, dns), null, 2)}\n`;
}

/** A model rebuilt from an intent document, with each namespace's DNS. */
export interface ParsedIntent {
  readonly model: ZeroTrustModel;
  readonly dns: { [namespace: string]: DnsSpec };
}

/** Rebuilds the model from an intent document; throws `ZeroTrustError` naming the bad field. */
export function parseIntentDocument(doc: unknown, where = INTENT_FILE_NAME): ParsedIntent {
  const fail = (field: string, what: string): never => { throw new ZeroTrustError({ code: 'INVALID_INTENT_DOCUMENT', message: `${where}: ${field}: ${what}` }); };
  const obj = (v: unknown, field: string): any => (typeof v === 'object' && v !== null && !Array.isArray(v) ? v : fail(field, 'expected an object'));
  const list = (v: unknown, field: string): any[] => (Array.isArray(v) ? v : fail(field, 'expected a list'));
  const str = (v: unknown, field: string): string => (typeof v === 'string' && v.length > 0 ? v : fail(field, 'expected a non-empty string'));
  const strings = (v: unknown, field: string): string[] => list(v, field).map((s, i) => str(s, `${field}[${i}]`));
  const labels = (v: unknown, field: string): { [key: string]: string } => {
    const o = obj(v, field);
    for (const [k, val] of Object.entries(o)) if (typeof val !== 'string') fail(`${field}.${k}`, 'expected a string');
    return o;
  };
  const port = (v: unknown, field: string): Port => {
    const p = obj(v, field);
    const kinds = Object.values(PortKind) as string[];
    if (!kinds.includes(p.kind)) fail(`${field}.kind`, `expected one of ${kinds.join(', ')}`);
    try {
      return new Port({ number: p.number, kind: p.kind as PortKind, name: p.name, endPort: p.endPort });
    } catch (e) {
      return fail(field, (e as Error).message);
    }
  };

  const d = obj(doc, '(document)');
  if (d.version !== INTENT_FORMAT_VERSION) fail('version', `expected ${INTENT_FORMAT_VERSION}, got ${JSON.stringify(d.version)}`);
  const dns: { [namespace: string]: DnsSpec } = {};
  const namespaces: NamespaceModel[] = list(d.namespaces, 'namespaces').map((n, i) => {
    const f = `namespaces[${i}]`;
    const o = obj(n, f);
    const name = str(o.name, `${f}.name`);
    if (o.dns !== undefined) {
      const s = obj(o.dns, `${f}.dns`);
      dns[name] = s.cidr ? { cidr: str(s.cidr, `${f}.dns.cidr`) } : { namespace: str(s.namespace, `${f}.dns.namespace`), labels: labels(s.labels ?? {}, `${f}.dns.labels`) };
    }
    const backend = str(o.backend, `${f}.backend`);
    if (o.enforcement !== undefined && o.enforcement !== 'audit') fail(`${f}.enforcement`, `expected "audit" or nothing, got ${JSON.stringify(o.enforcement)}`);
    if (o.mtls !== undefined && o.mtls !== 'permissive') fail(`${f}.mtls`, `expected "permissive" or nothing, got ${JSON.stringify(o.mtls)}`);
    return {
      name, backend: isBackendId(backend) ? backend : fail(`${f}.backend`, `unknown backend "${backend}" (known: ${BACKEND_IDS.join(', ')})`),
      ...(o.enforcement ? { enforcement: 'audit' as const } : {}), ...(o.mtls ? { mtls: 'permissive' as const } : {}),
    };
  });
  const workloads: WorkloadModel[] = list(d.workloads, 'workloads').map((w, i) => {
    const f = `workloads[${i}]`;
    const o = obj(w, f);
    const namespace = str(o.namespace, `${f}.namespace`);
    return {
      name: str(o.name, `${f}.name`),
      namespace,
      serviceAccount: str(o.serviceAccount, `${f}.serviceAccount`),
      selector: labels(o.selector, `${f}.selector`),
      ports: list(o.ports, `${f}.ports`).map((p, j) => port(p, `${f}.ports[${j}]`)),
      backend: namespaces.find((n) => n.name === namespace)?.backend ?? fail(`${f}.namespace`, `namespace "${namespace}" is not in namespaces`),
    };
  });
  const byKey = new Map(workloads.map((w) => [`${w.namespace}/${w.name}`, w]));
  const endpoint = (v: unknown, field: string): EndpointModel => {
    const e = obj(v, field);
    switch (e.type) {
      case 'workload': {
        const key = str(e.workload, `${field}.workload`);
        return { type: 'workload', workload: byKey.get(key) ?? fail(`${field}.workload`, `no workload "${key}" in workloads`) };
      }
      case 'external-workload':
        return { type: 'external-workload', namespace: str(e.namespace, `${field}.namespace`), labels: labels(e.labels, `${field}.labels`), ...(e.serviceAccount ? { serviceAccount: str(e.serviceAccount, `${field}.serviceAccount`) } : {}) };
      case 'namespace': return { type: 'namespace', namespace: str(e.namespace, `${field}.namespace`) };
      case 'ip-block': return { type: 'ip-block', cidr: str(e.cidr, `${field}.cidr`), except: strings(e.except ?? [], `${field}.except`) };
      case 'fqdn': return { type: 'fqdn', host: str(e.host, `${field}.host`) };
      default: return fail(`${field}.type`, `unknown endpoint type ${JSON.stringify(e.type)}`);
    }
  };
  const flows: FlowModel[] = list(d.flows, 'flows').flatMap((fl, i) => {
    const f = `flows[${i}]`;
    const o = obj(fl, f);
    const weakened = strings(o.weakened ?? [], `${f}.weakened`).map((m, j) => ((WEAKEN_MEMBERS as readonly string[]).includes(m)
      ? m as Weaken : fail(`${f}.weakened[${j}]`, `unknown Weaken member "${m}" (known: ${WEAKEN_MEMBERS.join(', ')})`)));
    const hostExcept = strings(o.hostExcept ?? [], `${f}.hostExcept`);
    hostExcept.forEach((c, j) => {
      try {
        parseCidr(c, 'a CIDR');
      } catch (e) {
        fail(`${f}.hostExcept[${j}]`, (e as Error).message);
      }
    });
    const ports = list(o.ports, `${f}.ports`).map((p, j) => port(p, `${f}.ports[${j}]`));
    const parts = new Map<Weaken, Port[] | undefined>(weakened.map((m) => [m, undefined]));
    for (const [m, on] of Object.entries(o.weakenedPorts === undefined ? {} : obj(o.weakenedPorts, `${f}.weakenedPorts`))) {
      const field = `${f}.weakenedPorts.${m}`;
      if (!weakened.includes(m as Weaken)) fail(field, `"${m}" is not in weakened`);
      parts.set(m as Weaken, list(on, field).map((p, j) => {
        const parsed = port(p, `${field}[${j}]`);
        return ports.find((q) => samePort(q, parsed)) ?? fail(`${field}[${j}]`, `${parsed.toString()} is not one of the flow's ports`);
      }));
    }
    // A weakened flow is checked in its weaker form, exactly as the synth rendered it.
    return weakenFlow({
      source: endpoint(o.source, `${f}.source`),
      destination: endpoint(o.destination, `${f}.destination`),
      ports,
      http: list(o.http ?? [], `${f}.http`).map((h, j) => ({
        methods: strings(obj(h, `${f}.http[${j}]`).methods ?? [], `${f}.http[${j}].methods`),
        paths: strings(h.paths ?? [], `${f}.http[${j}].paths`),
      })),
      declaredAt: typeof o.declaredAt === 'string' ? o.declaredAt : f,
      ...(o.proxy === true ? { proxy: true } : {}),
    }, parts, hostExcept);
  });
  return { model: { namespaces, workloads, flows }, dns };
}
