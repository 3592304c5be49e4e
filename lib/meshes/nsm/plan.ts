/**
 * Pure functions from the model to Network Service Mesh's pieces: which flows ride an NSM
 * connection, the NetworkService of each destination, the prefix its endpoint hands out, the
 * endpoint container and the client annotation.
 */
import { ZeroTrustError } from '../../intent/errors';
import { Weaken } from '../../intent/weaken';
import {
  FlowModel, NAME_LABEL, WorkloadModel, ZeroTrustModel, describeFlow, managedMetadata, samePort,
} from '../../intent/model';
import { formatIp, normalizeCidr, parseCidr } from '../../intent/cidr';

/** Pod annotation the NSM admission webhook reads: the client's network services. */
export const NSM_CLIENT_ANNOTATION = 'networkservicemesh.io';
/** The endpoint image of the NSM release this backend targets (v1.18.0). */
export const DEFAULT_ENDPOINT_IMAGE = 'ghcr.io/networkservicemesh/cmd-nse-icmp-responder:v1.18.0';
/** Default pool the endpoints' prefixes are cut from. */
export const DEFAULT_CIDR_POOL = '172.16.0.0/16';
/** Default prefix length of each endpoint's prefix: 128 point-to-point connections per endpoint pod. */
export const DEFAULT_PREFIX_LENGTH = 24;
/** Name of the endpoint container added to a destination's pods. */
const ENDPOINT_CONTAINER = 'nse';
/** Volume with the SPIRE agent socket (SPIFFE CSI driver). */
const SPIRE_SOCKET_VOLUME = 'nsm-spire-agent-socket';
/** Volume with the NSM manager socket (NSM CSI driver). */
const NSM_SOCKET_VOLUME = 'nsm-socket';
/** CSI driver of the SPIFFE workload API socket. */
const SPIFFE_CSI_DRIVER = 'csi.spiffe.io';
/** CSI driver of the NSM API socket. */
const NSM_CSI_DRIVER = 'csi.networkservicemesh.io';
/** Where the SPIRE agent socket is mounted. */
const SPIRE_SOCKET_DIR = '/run/spire/sockets';
/** Where the NSM manager socket is mounted. */
const NSM_SOCKET_DIR = '/var/lib/networkservicemesh';

/** The resolved settings of the NSM backend. */
export interface NsmSettings {
  readonly endpointImage: string;
  readonly cidrPool: string;
  readonly prefixLength: number;
  readonly trustDomain: string;
  readonly spireClassName?: string;
  readonly allowPortsOverConnection: boolean;
  readonly allowHttpRulesOverConnection: boolean;
}

/**
 * True when the flow rides an NSM connection: both ends are SecureWorkloads of this app in NSM
 * namespaces (flows between charts of different meshes are refused earlier, so the destination's
 * mesh decides; workloads of other meshes in the same app are not NSM clients).
 */
function isNsmFlow(f: FlowModel): f is FlowModel & { source: { type: 'workload'; workload: WorkloadModel }; destination: { type: 'workload'; workload: WorkloadModel } } {
  return f.source.type === 'workload' && f.destination.type === 'workload' && f.destination.workload.backend === 'nsm';
}

/** The model with only the flows that stay on the primary pod network (external peers). */
export function primaryNetworkModel(model: ZeroTrustModel): ZeroTrustModel {
  return { ...model, flows: model.flows.filter((f) => !isNsmFlow(f)) };
}

/**
 * Name of the NetworkService of a destination workload: `<workload>.<namespace>`. NSM's registry
 * looks services up by name across all namespaces, so the name carries the namespace; the dot
 * cannot occur in either part, so two workloads never share a name.
 */
function networkServiceName(w: WorkloadModel): string {
  return `${w.name}.${w.namespace}`;
}

/** One NSM connection a client requests: `kernel://<service>/<interface>`. */
export interface NsmConnectionPlan {
  readonly client: WorkloadModel;
  readonly endpoint: WorkloadModel;
  readonly service: string;
  /** `nsm-1`, `nsm-2`, ... in service-name order, per client. */
  readonly interfaceName: string;
  /** The flows this connection carries. */
  readonly flows: FlowModel[];
}

const CONNECTIONS = new WeakMap<ZeroTrustModel, NsmConnectionPlan[]>();
const BY_CLIENT = new WeakMap<NsmConnectionPlan[], Map<WorkloadModel, NsmConnectionPlan[]>>();
const BY_ENDPOINT = new WeakMap<NsmConnectionPlan[], Map<WorkloadModel, NsmConnectionPlan[]>>();
const PREFIXES = new WeakMap<ZeroTrustModel, Map<string, Map<WorkloadModel, string>>>();

/** Connections grouped by one end, computed once per connection list (renderers ask per workload). */
function grouped(cache: WeakMap<NsmConnectionPlan[], Map<WorkloadModel, NsmConnectionPlan[]>>, connections: NsmConnectionPlan[], end: 'client' | 'endpoint'): Map<WorkloadModel, NsmConnectionPlan[]> {
  let m = cache.get(connections);
  if (!m) {
    m = new Map();
    for (const c of connections) {
      const list = m.get(c[end]);
      if (list) list.push(c);
      else m.set(c[end], [c]);
    }
    cache.set(connections, m);
  }
  return m;
}

/** Every NSM connection of the app, sorted by client, then service (computed once per model). */
export function nsmConnections(model: ZeroTrustModel): NsmConnectionPlan[] {
  let cached = CONNECTIONS.get(model);
  if (!cached) {
    cached = computeConnections(model);
    CONNECTIONS.set(model, cached);
  }
  return cached;
}

function computeConnections(model: ZeroTrustModel): NsmConnectionPlan[] {
  const byPair = new Map<string, { client: WorkloadModel; endpoint: WorkloadModel; flows: FlowModel[] }>();
  for (const f of model.flows) {
    if (!isNsmFlow(f)) continue;
    const client = f.source.workload;
    const endpoint = f.destination.workload;
    if (client === endpoint) continue; // a pod reaches itself without any network
    const key = `${client.namespace}/${client.name} > ${networkServiceName(endpoint)}`;
    const entry = byPair.get(key) ?? { client, endpoint, flows: [] };
    entry.flows.push(f);
    byPair.set(key, entry);
  }
  const sorted = [...byPair.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
  const counters = new Map<WorkloadModel, number>();
  return sorted.map((e) => {
    const n = (counters.get(e.client) ?? 0) + 1;
    counters.set(e.client, n);
    return { ...e, service: networkServiceName(e.endpoint), interfaceName: `nsm-${n}` };
  });
}

/** The `networkservicemesh.io` annotation value of a client: `kernel://a/nsm-1,kernel://b/nsm-2`. */
export function clientAnnotation(connections: NsmConnectionPlan[], client: WorkloadModel): string | undefined {
  const mine = grouped(BY_CLIENT, connections, 'client').get(client) ?? [];
  if (mine.length === 0) return undefined;
  return mine.map((c) => `kernel://${c.service}/${c.interfaceName}`).join(',');
}

/** Destination workloads (those with NSM clients), in the model's stable order. */
export function nsmDestinations(model: ZeroTrustModel): WorkloadModel[] {
  const dest = new Set(nsmConnections(model).map((c) => c.endpoint));
  return model.workloads.filter((w) => dest.has(w));
}

/** Workloads that take part in NSM (client or endpoint), in the model's stable order. */
export function nsmParticipants(model: ZeroTrustModel): WorkloadModel[] {
  const set = new Set(nsmConnections(model).flatMap((c) => [c.client, c.endpoint]));
  return model.workloads.filter((w) => set.has(w));
}

/** Checks the pool settings; throws a `ZeroTrustError` naming the setting. */
export function checkPool(cidrPool: string, prefixLength: number): void {
  const pool = parseCidr(cidrPool, 'Mesh.networkServiceMesh cidrPool');
  const bits = pool.family === 4 ? 32 : 128;
  if (!Number.isInteger(prefixLength) || prefixLength < pool.prefix || prefixLength > bits - 1) {
    throw new ZeroTrustError({ code: 'INVALID_MESH_PROPS', backend: 'nsm', message: `prefixLength ${prefixLength} must be a whole number between the pool's /${pool.prefix} and /${bits - 1} (each connection takes a /${bits - 1} pair)` });
  }
  if (normalizeCidr(pool) !== cidrPool) {
    throw new ZeroTrustError({ code: 'INVALID_MESH_PROPS', backend: 'nsm', message: `cidrPool "${cidrPool}" has host bits set; use ${normalizeCidr(pool)}` });
  }
}

/**
 * The prefix (`NSM_CIDR_PREFIX`) of every destination: the i-th destination in the model's sorted
 * order gets the i-th `/prefixLength` block of the pool, so prefixes never overlap and the same
 * intent always gets the same prefixes. Throws when the pool is too small.
 */
export function allocatePrefixes(model: ZeroTrustModel, cidrPool: string, prefixLength: number): Map<WorkloadModel, string> {
  // Asked once per workload at synth: compute once per model and settings.
  const key = `${cidrPool}/${prefixLength}`;
  let byKey = PREFIXES.get(model);
  const hit = byKey?.get(key);
  if (hit) return hit;
  const out = computePrefixes(model, cidrPool, prefixLength);
  if (!byKey) { byKey = new Map(); PREFIXES.set(model, byKey); }
  byKey.set(key, out);
  return out;
}

function computePrefixes(model: ZeroTrustModel, cidrPool: string, prefixLength: number): Map<WorkloadModel, string> {
  checkPool(cidrPool, prefixLength);
  const pool = parseCidr(cidrPool, 'Mesh.networkServiceMesh cidrPool');
  const bits = pool.family === 4 ? 32 : 128;
  const capacity = 1n << BigInt(prefixLength - pool.prefix);
  const destinations = nsmDestinations(model);
  if (BigInt(destinations.length) > capacity) {
    throw new ZeroTrustError({ code: 'NSM_POOL_EXHAUSTED', backend: 'nsm', message: `cidrPool ${cidrPool} holds ${capacity} /${prefixLength} prefixes but ${destinations.length} workloads have NSM clients; use a larger cidrPool or a longer prefixLength` });
  }
  const out = new Map<WorkloadModel, string>();
  destinations.forEach((w, i) => {
    const network = pool.address + (BigInt(i) << BigInt(bits - prefixLength));
    out.set(w, `${formatIp(pool.family, network)}/${prefixLength}`);
  });
  return out;
}

/**
 * Intent NSM cannot carry: an L3 connection opens every port of the destination and passes any
 * request, so port subsets and HTTP rules are refused unless the user accepted the wider form.
 */
export function checkNsmFlows(model: ZeroTrustModel, namespace: string, settings: NsmSettings): void {
  for (const f of model.flows) {
    if (!isNsmFlow(f)) continue;
    if (f.source.workload.namespace !== namespace && f.destination.workload.namespace !== namespace) continue;
    const dest = f.destination.workload;
    if (f.source.workload.namespace === dest.namespace && f.source.workload.name === dest.name) {
      throw new ZeroTrustError({
        code: 'NSM_SELF_CONNECTION', backend: 'nsm', namespace, workload: f.declaredBy, rule: f.declaredAt,
        message: `${f.declaredAt}: Network Service Mesh connects a client pod to an endpoint pod over an interface; a workload cannot be its own client, so this flow could never be carried; drop it (a pod reaches itself on localhost)`,
      });
    }
    if (f.http.length > 0 && !settings.allowHttpRulesOverConnection) {
      throw new ZeroTrustError({ code: 'HTTP_RULES_NOT_ENFORCEABLE', weaken: Weaken.HTTP_TO_PORT, backend: 'nsm', rule: f.declaredAt, workload: f.declaredBy, message: `${f.declaredAt}: Network Service Mesh connects workloads at L3 and cannot match HTTP methods or paths; drop the http rule, or accept any request with Weaken.HTTP_TO_PORT (formerly allowHttpRulesOverConnection)` });
    }
    const all = dest.ports.every((d) => f.ports.some((p) => samePort(p, d)));
    if (!all && !settings.allowPortsOverConnection) {
      const missing = dest.ports.filter((d) => !f.ports.some((p) => samePort(p, d))).map((p) => p.toString());
      throw new ZeroTrustError({ code: 'PORTS_NOT_ENFORCEABLE', weaken: Weaken.PORTS_TO_CONNECTION, backend: 'nsm', rule: f.declaredAt, workload: f.declaredBy, message: `${f.declaredAt}: Network Service Mesh connects workloads at L3, so a connection opens every port of ${dest.namespace}/${dest.name}, including ${missing.join(', ')}; allow all its ports (omit "ports"), or accept the whole connection with Weaken.PORTS_TO_CONNECTION (formerly allowPortsOverConnection)` });
    }
  }
  for (const w of nsmParticipants(model).filter((x) => x.namespace === namespace)) {
    if (w.name === ENDPOINT_CONTAINER) {
      throw new ZeroTrustError({ code: 'RESERVED_WORKLOAD_NAME', backend: 'nsm', message: `SecureWorkload ${w.namespace}/${w.name}: the name "${ENDPOINT_CONTAINER}" is the NSM endpoint container's; rename the workload` });
    }
  }
}

/** Words for the allows annotation of a connection: what NSM really opens. */
function describeConnection(c: NsmConnectionPlan): string[] {
  return [
    ...c.flows.map((f) => `declared: ${describeFlow(f)}`),
    `opened: ${c.client.namespace}/${c.client.name} <-> ${c.endpoint.namespace}/${c.endpoint.name} at L3 over NSM interface ${c.interfaceName} (every port, both directions once connected)`,
    `address: ${c.client.namespace}/${c.client.name} gets no stable address or DNS name for ${c.endpoint.namespace}/${c.endpoint.name} on ${c.interfaceName} `
      + '(the endpoint hands out a new point-to-point pair per connection); it must use the peer of the interface, not the Service name (primary network, closed)',
  ];
}

/** The NetworkService object of a destination (plain JSON). */
export function networkServiceObject(endpoint: WorkloadModel, connections: NsmConnectionPlan[]): any {
  const mine = grouped(BY_ENDPOINT, connections, 'endpoint').get(endpoint) ?? [];
  return {
    apiVersion: 'networkservicemesh.io/v1',
    kind: 'NetworkService',
    metadata: managedMetadata(networkServiceName(endpoint), endpoint.namespace, mine.flatMap(describeConnection), { [NAME_LABEL]: endpoint.name }),
    // IP payload: forwarders carry it over WireGuard (or IPsec), encrypted between nodes.
    spec: { payload: 'IP' },
  };
}

/**
 * User the endpoint runs as: the `cmd-nse-icmp-responder` image sets no `USER` (alpine, root), so
 * `runAsNonRoot` alone would stop the kubelet from starting it; 65534 is `nobody` in alpine.
 */
const ENDPOINT_RUN_AS_USER = 65534;

/**
 * The endpoint container's securityContext, the Kubernetes "restricted" Pod Security Standard: the
 * endpoint only speaks gRPC over the two unix sockets (world-writable, from the CSI drivers) and
 * listens on a socket in its own temporary directory; the forwarder, not the endpoint, creates the
 * kernel interfaces in the pod. So it needs no capability at all, not even NET_ADMIN.
 */
function endpointSecurityContext(): any {
  return {
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    privileged: false,
    runAsNonRoot: true,
    runAsUser: ENDPOINT_RUN_AS_USER,
    runAsGroup: ENDPOINT_RUN_AS_USER,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** The endpoint container advertising the destination's NetworkService. */
export function endpointContainer(endpoint: WorkloadModel, prefix: string, image: string): any {
  return {
    name: ENDPOINT_CONTAINER,
    image,
    env: [
      { name: 'SPIFFE_ENDPOINT_SOCKET', value: `unix://${SPIRE_SOCKET_DIR}/agent.sock` },
      { name: 'NSM_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'NSM_CONNECT_TO', value: `unix://${NSM_SOCKET_DIR}/nsm.io.sock` },
      { name: 'NSM_SERVICE_NAMES', value: networkServiceName(endpoint) },
      { name: 'NSM_PAYLOAD', value: 'IP' },
      { name: 'NSM_CIDR_PREFIX', value: prefix },
      // The NetworkService object is emitted here; the endpoint must not define its own.
      { name: 'NSM_REGISTER_SERVICE', value: 'false' },
    ],
    volumeMounts: [
      { name: SPIRE_SOCKET_VOLUME, mountPath: SPIRE_SOCKET_DIR, readOnly: true },
      { name: NSM_SOCKET_VOLUME, mountPath: NSM_SOCKET_DIR, readOnly: true },
    ],
    securityContext: endpointSecurityContext(),
  };
}

/** The CSI volumes that bring the SPIRE agent and NSM manager sockets into the endpoint's pods. */
export function endpointVolumes(): any[] {
  return [
    { name: SPIRE_SOCKET_VOLUME, csi: { driver: SPIFFE_CSI_DRIVER, readOnly: true } },
    { name: NSM_SOCKET_VOLUME, csi: { driver: NSM_CSI_DRIVER, readOnly: true } },
  ];
}
