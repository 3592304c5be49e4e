/**
 * Pure functions from the model to Kuma 2.x objects (kuma.io/v1alpha1): the Mesh, one
 * MeshTrafficPermission per destination workload (or per port where ports differ), and
 * MeshPassthrough for egress that leaves the mesh. Nothing here touches constructs.
 */
import { ZeroTrustError } from '../../intent/errors';
import { Weaken } from '../../intent/weaken';
import {
  EndpointModel, FlowModel, WorkloadModel, ZeroTrustModel, comparePorts, describeFlow, endpointKey, flowIndex, managedMetadata, samePort,
} from '../../intent/model';
import { Port, PortKind } from '../../intent/port';
import { compareEntries, compareText } from '../../intent/collation';
import { checkIdentityPairing } from '../pairing';

/** Tag Kuma puts on every Kubernetes data plane proxy: the pod's namespace. */
const KUMA_NAMESPACE_TAG = 'k8s.kuma.io/namespace';
/** Label naming the mesh of a namespace, pod or policy. */
export const KUMA_MESH_LABEL = 'kuma.io/mesh';
/** Namespace (or pod) label that makes the injector add the sidecar. */
export const KUMA_INJECTION_LABEL = 'kuma.io/sidecar-injection';
/** Pod annotation naming the volume that holds the sidecar's ServiceAccount token. */
export const KUMA_TOKEN_VOLUME_ANNOTATION = 'kuma.io/service-account-token-volume';
/** Name of the projected token volume this backend adds to every pod. */
export const KUMA_TOKEN_VOLUME = 'kuma-sidecar-token';
/** Name of the builtin CA backend of an emitted Mesh. */
const KUMA_CA_BACKEND = 'ca-1';

/** Resolved options of the Kuma renderer. */
export interface KumaOptions {
  readonly meshName: string;
  readonly createMesh: boolean;
  readonly controlPlaneNamespace: string;
  /** Set with `KumaIdentity.SPIFFE`: permissions match SPIFFE IDs in this trust domain (`rules[]`). */
  readonly spiffe?: { readonly trustDomain: string };
}

/** A Kuma object as plain JSON. */
export interface KumaObject {
  readonly apiVersion: 'kuma.io/v1alpha1';
  readonly kind: 'Mesh' | 'MeshTrafficPermission' | 'MeshPassthrough' | 'MeshIdentity' | 'MeshTLS';
  readonly metadata: { name: string; namespace?: string; labels: { [key: string]: string }; annotations: { [key: string]: string } };
  readonly spec: any;
}

const inNamespace = (e: EndpointModel, ns: string) => e.type === 'workload' && e.workload.namespace === ns;

/** Flows this namespace's Kuma objects are responsible for: inbound to, or outbound from, its workloads. */
function flowsOf(model: ZeroTrustModel, ns: string): FlowModel[] {
  return model.flows.filter((f) => inNamespace(f.source, ns) || inNamespace(f.destination, ns));
}

/** Throws a `ZeroTrustError` for the first flow of the namespace that Kuma cannot enforce as declared. */
export function checkKuma(model: ZeroTrustModel, ns: string, o: KumaOptions): void {
  // The MeshPassthrough of each workload refuses what it cannot express; ask it now, not at render.
  for (const w of model.workloads) if (w.namespace === ns) passthroughMatches(model, w);
  for (const f of flowsOf(model, ns)) {
    const fail = (what: string, weaken?: Weaken) => {
      throw new ZeroTrustError({ code: 'KUMA_NOT_ENFORCEABLE', backend: 'kuma', rule: f.declaredAt, workload: f.declaredBy, weaken, message: `${f.declaredAt}: ${what}` });
    };
    if (inNamespace(f.destination, ns)) {
      const tcp = f.ports.filter((p) => p.kind !== PortKind.UDP);
      if (f.http.length > 0) {
        fail('Kuma\'s MeshTrafficPermission cannot match HTTP methods or paths (kumahq/kuma#3250); drop the http rule, or accept every request on the port with Weaken.HTTP_TO_PORT (formerly KumaHttpRules.ENFORCE_AT_L4)', Weaken.HTTP_TO_PORT);
      }
      if (tcp.length > 0) {
        const s = f.source;
        if (s.type === 'ip-block') {
          fail(`with mTLS STRICT Kuma rejects plaintext from outside the mesh, and a MeshTrafficPermission cannot name an address range (${s.cidr}); let the client join the mesh and name it with Peer.workload()/Peer.namespace(), or front the workload with a meshed gateway`);
        }
        if (s.type === 'external-workload' && o.spiffe) {
          if (s.serviceAccount === undefined) {
            fail(`with KumaIdentity.SPIFFE a client's identity is its ServiceAccount (spiffe://${o.spiffe.trustDomain}/ns/${s.namespace}/sa/<serviceAccount>), and pod labels are not in its certificate; give the peer its serviceAccount, or use Peer.namespace()`);
          }
        } else if (s.type === 'external-workload') {
          if (s.serviceAccount !== undefined) {
            fail(`Kuma's MeshTrafficPermission matches clients by their tags (pod labels and namespace), not by ServiceAccount "${s.serviceAccount}"; drop serviceAccount and give labels that only those pods carry`, Weaken.IDENTITY_TO_LABELS);
          }
          const internal = Object.keys(s.labels).filter((k) => k.includes('kuma.io/'));
          if (internal.length > 0) {
            fail(`Kuma does not turn pod labels containing "kuma.io/" into tags (${internal.join(', ')}), so they cannot identify a client; select the pods by other labels`);
          }
        }
      }
    }
    if (inNamespace(f.source, ns)) {
      const d = f.destination;
      if (d.type === 'external-workload' || d.type === 'namespace') {
        fail(`Kuma authorizes a connection at the destination's sidecar, and ${endpointKey(d)} is not managed by this app, so its MeshTrafficPermission cannot be written here; manage that namespace with a ZeroTrustChart on Mesh.kuma(), or have its owner allow this workload`);
      }
      if (d.type === 'fqdn') {
        if (f.ports.length === 0) {
          fail(`Kuma's MeshPassthrough matches a host name by TLS SNI or HTTP Host on a given port; name the ports (for example Port.tcp(443) for TLS)`);
        }
        const udp = f.ports.filter((p) => p.kind === PortKind.UDP || p.endPort !== undefined);
        if (udp.length > 0) {
          fail(`Kuma's MeshPassthrough matches a host name only on single TCP ports (TLS SNI or HTTP Host), not ${udp.map((p) => p.toString()).join(', ')}; use Peer.ipBlock() for that traffic`);
        }
      }
    }
  }
  // With SPIFFE IDs the sidecar checks the account and the NetworkPolicy layer the labels, as on Istio.
  if (o.spiffe) checkIdentityPairing(model, ns, 'kuma', false);
}

/** Metadata of a Kuma object: managed, and labelled with its mesh when namespaced. */
export function metadata(name: string, namespace: string | undefined, meshName: string, allows: string[]): KumaObject['metadata'] {
  return managedMetadata(name, namespace, allows, namespace !== undefined ? { [KUMA_MESH_LABEL]: meshName } : {});
}

/** The cluster-scoped Mesh: builtin CA, mTLS STRICT, no default policies. */
function kumaMesh(o: KumaOptions): KumaObject {
  return {
    apiVersion: 'kuma.io/v1alpha1',
    kind: 'Mesh',
    metadata: metadata(o.meshName, undefined, o.meshName, [o.spiffe
      ? 'nothing by itself: mTLS is STRICT (identities from the MeshIdentity), so traffic that no MeshTrafficPermission allows is denied'
      : 'nothing by itself: mTLS is STRICT with the builtin CA, so traffic that no MeshTrafficPermission allows is denied',
    ]),
    spec: {
      mtls: {
        enabledBackend: KUMA_CA_BACKEND,
        backends: [{ name: KUMA_CA_BACKEND, type: 'builtin', mode: 'STRICT' }],
      },
      // No default MeshTimeout/MeshRetry/MeshCircuitBreaker (nor, on old versions, an allow-all permission).
      skipCreatingInitialPolicies: ['*'],
      // MeshIdentity needs MeshServices; Exclusive: services are MeshService objects only.
      ...(o.spiffe ? { meshServices: { mode: 'Exclusive' } } : {}),
    },
  };
}

/** Path template of the workloads' SPIFFE IDs (Kuma's default on Kubernetes). */
const SPIFFE_PATH = '/ns/{{ .Namespace }}/sa/{{ .ServiceAccount }}';

/**
 * The mesh's MeshIdentity (system namespace, once per app): every data plane proxy of the mesh
 * gets `spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount>` from a CA the control plane
 * generates, and the control plane creates the MeshTrust of that CA (`meshTrustCreation`), so the
 * trust bundle never passes through the manifests. The trust domain is written out, not templated
 * on the zone, so the permissions can name exact IDs.
 */
function kumaMeshIdentity(o: KumaOptions, trustDomain: string): KumaObject {
  return {
    apiVersion: 'kuma.io/v1alpha1',
    kind: 'MeshIdentity',
    metadata: metadata(`${o.meshName}-identity`, o.controlPlaneNamespace, o.meshName, [
      `nothing by itself: every data plane proxy of mesh ${o.meshName} is identified as spiffe://${trustDomain}/ns/<namespace>/sa/<serviceAccount>`,
    ]),
    spec: {
      selector: { dataplane: { matchLabels: {} } },
      spiffeID: { trustDomain, path: SPIFFE_PATH },
      provider: {
        type: 'Bundled',
        bundled: { meshTrustCreation: 'Enabled', insecureAllowSelfSigned: true, autogenerate: { enabled: true } },
      },
    },
  };
}

/** The `rules[]` matcher of a client: its ServiceAccount's ID, or every ServiceAccount of a namespace. */
function spiffeMatcher(e: EndpointModel, trustDomain: string): { spiffeID: { type: 'Exact' | 'Prefix'; value: string } } {
  switch (e.type) {
    case 'workload': return { spiffeID: { type: 'Exact', value: `spiffe://${trustDomain}/ns/${e.workload.namespace}/sa/${e.workload.serviceAccount}` } };
    case 'external-workload':
      if (e.serviceAccount === undefined) break;
      return { spiffeID: { type: 'Exact', value: `spiffe://${trustDomain}/ns/${e.namespace}/sa/${e.serviceAccount}` } };
    // The trailing "/sa/" keeps namespace "prod" from matching "production".
    case 'namespace': return { spiffeID: { type: 'Prefix', value: `spiffe://${trustDomain}/ns/${e.namespace}/sa/` } };
    default: break;
  }
  throw new ZeroTrustError({ code: 'KUMA_NOT_ENFORCEABLE', message: `${endpointKey(e)} has no SPIFFE ID` });
}

/** Denies every client: pins a port nobody may reach against an allow written elsewhere (deny wins in `rules[]`). */
const DENY_EVERY_SPIFFE_ID = { spiffeID: { type: 'Prefix', value: 'spiffe://' } };

/** The tags that identify a source's data plane proxies (a subset of the tags Kuma derives from the pod). */
function sourceTags(e: EndpointModel): { [key: string]: string } {
  switch (e.type) {
    case 'workload': return sortKeys({ ...e.workload.selector, [KUMA_NAMESPACE_TAG]: e.workload.namespace });
    case 'external-workload': return sortKeys({ ...e.labels, [KUMA_NAMESPACE_TAG]: e.namespace });
    case 'namespace': return { [KUMA_NAMESPACE_TAG]: e.namespace };
    case 'ip-block':
    case 'fqdn':
      throw new ZeroTrustError({ code: 'KUMA_NOT_ENFORCEABLE', message: `${endpointKey(e)} cannot be matched by Kuma tags` });
  }
}

/** The entry that pins a destination's default: every client denied unless a later, more specific entry allows it. */
const DENY_FROM_MESH = { targetRef: { kind: 'Mesh' }, default: { action: 'Deny' } };

/**
 * MeshTrafficPermissions of one destination workload. One policy (`<workload>`) on the whole
 * Dataplane when every TCP port admits the same sources; otherwise one per port
 * (`<workload>-<port name>`, `sectionName` = the container port name = the inbound name).
 *
 * MeshTrafficPermissions are allow-only by default, and a mesh-wide `from: Mesh, Allow` (which
 * Kuma itself creates for a mesh made without `skipCreatingInitialPolicies`, or an operator adds
 * in kuma-system) would admit every client. So every workload with TCP ports pins its default:
 * the `<workload>` policy (targetRef Dataplane, more specific than any mesh-wide policy, whose
 * entries Kuma applies after those of less specific policies) starts with `from: Mesh, Deny`, and
 * the allows come after it (in the same policy, or in per-port policies, which are more specific
 * still). A workload nobody may reach gets the Deny alone.
 */
function meshTrafficPermissions(model: ZeroTrustModel, w: WorkloadModel, o: KumaOptions): KumaObject[] {
  if (o.spiffe) return spiffePermissions(model, w, o, o.spiffe.trustDomain);
  const inbound = [...(flowIndex(model).inbound.get(w) ?? [])];
  const tcpPorts = [...w.ports].filter((p) => p.kind !== PortKind.UDP).sort(comparePorts);
  const perPort = tcpPorts.map((port) => {
    const flows = inbound.filter((f) => f.ports.some((p) => samePort(p, port)));
    const sources = new Map<string, { [key: string]: string }>();
    for (const f of flows) {
      const tags = sourceTags(f.source);
      sources.set(JSON.stringify(tags), tags);
    }
    const key = [...sources.keys()].sort(compareText).join('|');
    return { port, flows, sources, key };
  }).filter((x) => x.flows.length > 0);
  if (tcpPorts.length === 0) return [];
  const denyOnly = (why: string): KumaObject => ({
    apiVersion: 'kuma.io/v1alpha1',
    kind: 'MeshTrafficPermission',
    metadata: metadata(w.name, w.namespace, o.meshName, [`nothing by itself: every client of ${w.namespace}/${w.name} is denied ${why} (pins the default against a mesh-wide Allow)`]),
    spec: { targetRef: { kind: 'Dataplane', labels: { ...w.selector } }, from: [DENY_FROM_MESH] },
  });
  if (perPort.length === 0) return [denyOnly('on every port')];

  const policy = (name: string, port: Port | undefined, entries: typeof perPort, pin: boolean): KumaObject => {
    const sources = new Map<string, { [key: string]: string }>();
    for (const e of entries) for (const [k, v] of e.sources) sources.set(k, v);
    const flows = [...new Set(entries.flatMap((e) => e.flows))];
    const downgraded = flows.some((f) => f.http.length > 0) ? ['HTTP rules are enforced at L4: every request on the port is allowed'] : [];
    return {
      apiVersion: 'kuma.io/v1alpha1',
      kind: 'MeshTrafficPermission',
      metadata: metadata(name, w.namespace, o.meshName, [...flows.map(describeFlow), ...downgraded]),
      spec: {
        targetRef: { kind: 'Dataplane', labels: { ...w.selector }, ...(port ? { sectionName: port.name } : {}) },
        from: [...(pin ? [DENY_FROM_MESH] : []), ...[...sources.entries()].sort(compareEntries).map(([, tags]) => ({
          targetRef: { kind: 'MeshSubset', tags },
          default: { action: 'Allow' },
        }))],
      },
    };
  };

  const whole = perPort.length === tcpPorts.length && perPort.every((x) => x.key === perPort[0].key);
  if (whole) return [policy(w.name, undefined, perPort, true)];
  return [denyOnly('unless a per-port policy allows it'), ...perPort.map((x) => policy(`${w.name}-${x.port.name}`, x.port, [x], false))];
}

/**
 * MeshTrafficPermissions of one destination with `KumaIdentity.SPIFFE` (`rules[]`). Kuma joins
 * the `deny`, `allow` and `allowWithShadowDeny` lists of every policy that targets an inbound; a
 * deny match wins, then an allow, and no match is denied. One policy (`<workload>`) on the whole
 * Dataplane when every TCP port admits the same clients, else one per port (`<workload>-<port>`,
 * `sectionName`). A port nobody may reach gets a deny of every SPIFFE ID, so an allow written
 * elsewhere (a mesh-wide one in the system namespace) cannot open it; ports some client may reach
 * cannot be pinned that way (the deny would win over their allows too): docs/backends/kuma.md.
 */
function spiffePermissions(model: ZeroTrustModel, w: WorkloadModel, o: KumaOptions, trustDomain: string): KumaObject[] {
  const inbound = [...(flowIndex(model).inbound.get(w) ?? [])];
  const tcpPorts = [...w.ports].filter((p) => p.kind !== PortKind.UDP).sort(comparePorts);
  if (tcpPorts.length === 0) return [];
  const perPort = tcpPorts.map((port) => {
    const flows = inbound.filter((f) => f.ports.some((p) => samePort(p, port)));
    const matchers = new Map<string, ReturnType<typeof spiffeMatcher>>();
    for (const f of flows) {
      const m = spiffeMatcher(f.source, trustDomain);
      matchers.set(`${m.spiffeID.value} ${m.spiffeID.type}`, m);
    }
    return { port, flows, matchers, key: [...matchers.keys()].sort(compareText).join('|') };
  });
  const policy = (name: string, port: Port | undefined, entries: typeof perPort): KumaObject => {
    const matchers = new Map<string, ReturnType<typeof spiffeMatcher>>();
    for (const e of entries) for (const [k, v] of e.matchers) matchers.set(k, v);
    const flows = [...new Set(entries.flatMap((e) => e.flows))];
    const downgraded = flows.some((f) => f.http.length > 0) ? ['HTTP rules are enforced at L4: every request on the port is allowed'] : [];
    const where = port ? `port ${port.name}` : 'every port';
    const allows = flows.length > 0 ? [...flows.map(describeFlow), ...downgraded] : [`nothing: every client of ${w.namespace}/${w.name} is denied on ${where}, whatever else allows it`];
    return {
      apiVersion: 'kuma.io/v1alpha1',
      kind: 'MeshTrafficPermission',
      metadata: metadata(name, w.namespace, o.meshName, allows),
      spec: {
        targetRef: { kind: 'Dataplane', labels: { ...w.selector }, ...(port ? { sectionName: port.name } : {}) },
        rules: [{
          default: flows.length > 0
            ? { allow: [...matchers.entries()].sort(compareEntries).map(([, m]) => m) }
            : { deny: [DENY_EVERY_SPIFFE_ID] },
        }],
      },
    };
  };
  if (perPort.every((x) => x.key === perPort[0].key)) return [policy(w.name, undefined, perPort)];
  return perPort.map((x) => policy(`${w.name}-${x.port.name}`, x.port, [x]));
}

/** `tls` for opaque TCP (the client must send SNI), else the L7 protocol Kuma can read a Host from. */
function passthroughProtocol(p: Port): string {
  switch (p.kind) {
    case PortKind.HTTP: return 'http';
    case PortKind.HTTP2: return 'http2';
    case PortKind.GRPC: return 'grpc';
    default: return 'tls';
  }
}

/** Widest port range listed port by port in a MeshPassthrough (see passthroughMatches). */
const MAX_LISTED_RANGE = 64;

/** The MeshPassthrough matches of one source workload's egress to addresses and host names. */
function passthroughMatches(model: ZeroTrustModel, w: WorkloadModel): { matches: any[]; flows: FlowModel[] } {
  const flows = (flowIndex(model).outbound.get(w) ?? []).filter((f) => (f.destination.type === 'fqdn' || f.destination.type === 'ip-block'));
  const matches = new Map<string, any>();
  const add = (m: any) => matches.set(JSON.stringify([m.type, m.value, String(m.port ?? '').padStart(5, '0'), m.protocol]), m);
  const used: FlowModel[] = [];
  for (const f of flows) {
    const d = f.destination;
    if (d.type === 'ip-block') {
      const tcp = f.ports.filter((p) => p.kind !== PortKind.UDP);
      // UDP is not intercepted by the sidecar; the NetworkPolicy layer alone decides it.
      if (f.ports.length > 0 && tcp.length === 0) continue;
      used.push(f);
      const hostFlowPorts = flows.filter((g) => g.destination.type === 'fqdn').flatMap((g) => g.ports);
      const overlaps = f.ports.length === 0 || tcp.some((p) => hostFlowPorts.some((h) => h.number >= p.number && h.number <= (p.endPort ?? p.number)));
      if (d.except.length > 0 && overlaps && hostFlowPorts.length > 0) {
        throw new ZeroTrustError({
          code: 'KUMA_PASSTHROUGH_EXCEPT', backend: 'kuma', namespace: w.namespace, workload: f.declaredBy, rule: f.declaredAt,
          message: `${f.declaredAt}: ${w.namespace}/${w.name} also reaches host names on ${[...new Set(hostFlowPorts.map((p) => p.toString()))].join(', ')}, which opens the NetworkPolicy layer to every address on those ports, and MeshPassthrough cannot express the except of ${d.cidr}, so ${d.except.join(', ')} would be reachable; split the range into ranges without except, or use other ports`,
        });
      }
      const ranges = tcp.filter((p) => p.endPort !== undefined);
      // Host-name egress opens the NetworkPolicy layer to every address on its ports, so a range
      // entry without a port would let this address through on those ports too: list the range.
      const hostPorts = flows.some((g) => g.destination.type === 'fqdn');
      if (f.ports.length > 0 && ranges.length > 0 && hostPorts) {
        const width = ranges.reduce((n, p) => n + p.endPort! - p.number + 1, 0);
        if (width > MAX_LISTED_RANGE) {
          throw new ZeroTrustError({ code: 'KUMA_PASSTHROUGH_CONFLICT', backend: 'kuma', rule: f.declaredAt, workload: f.declaredBy, message: `${f.declaredAt}: ${w.namespace}/${w.name} also reaches host names, which opens the NetworkPolicy layer to every address on their ports, so MeshPassthrough must list the ports of ${d.cidr}; the range ${ranges.map((p) => p.toString()).join(', ')} has more than ${MAX_LISTED_RANGE} ports; narrow it` });
        }
        for (const p of tcp) {
          for (let n = p.number; n <= (p.endPort ?? p.number); n++) add({ type: 'CIDR', value: d.cidr, port: n, protocol: 'tcp' });
        }
        continue;
      }
      const anyPort = f.ports.length === 0 || ranges.length > 0;
      if (anyPort) {
        // A range (or every port): the sidecar lets the range's address through on any port and the
        // NetworkPolicy layer below restricts the ports; both must allow.
        add({ type: 'CIDR', value: d.cidr, protocol: 'tcp' });
      } else {
        for (const p of tcp) add({ type: 'CIDR', value: d.cidr, port: p.number, protocol: 'tcp' });
      }
    } else if (d.type === 'fqdn') {
      used.push(f);
      for (const p of f.ports) add({ type: 'Domain', value: d.host, port: p.number, protocol: passthroughProtocol(p) });
    }
  }
  return { matches: [...matches.entries()].sort(compareEntries).map(([, m]) => m), flows: used };
}

/** MeshPassthrough objects of one namespace: `None` for every proxy, `Matched` for workloads with external egress. */
function meshPassthroughs(model: ZeroTrustModel, ns: string, o: KumaOptions): KumaObject[] {
  const out: KumaObject[] = [{
    apiVersion: 'kuma.io/v1alpha1',
    kind: 'MeshPassthrough',
    metadata: metadata('no-passthrough', ns, o.meshName, ['nothing: traffic to destinations outside the mesh is dropped by the sidecars of this namespace']),
    spec: { targetRef: { kind: 'Mesh' }, default: { passthroughMode: 'None' } },
  }];
  for (const w of model.workloads.filter((x) => x.namespace === ns)) {
    const { matches, flows } = passthroughMatches(model, w);
    if (matches.length === 0) continue;
    out.push({
      apiVersion: 'kuma.io/v1alpha1',
      kind: 'MeshPassthrough',
      metadata: metadata(`${w.name}-passthrough`, ns, o.meshName, flows.map(describeFlow)),
      spec: {
        targetRef: { kind: 'Dataplane', labels: { ...w.selector } },
        default: { passthroughMode: 'Matched', appendMatch: matches },
      },
    });
  }
  return out;
}

/** Every Kuma object of one namespace, in a stable order (the Mesh first, when created). */
export function kumaObjects(model: ZeroTrustModel, ns: string, o: KumaOptions): KumaObject[] {
  checkKuma(model, ns, o);
  return [
    ...(o.createMesh ? [kumaMesh(o)] : []),
    // Namespaced (the system namespace), so emitted by one chart of the mesh: the first by name.
    ...(o.createMesh && o.spiffe && firstNamespaceOfMesh(model, o) === ns ? [kumaMeshIdentity(o, o.spiffe.trustDomain)] : []),
    ...model.workloads.filter((w) => w.namespace === ns).flatMap((w) => meshTrafficPermissions(model, w, o)),
    ...meshPassthroughs(model, ns, o),
  ];
}

/** The first namespace (by name) of the app on this Kuma mesh. */
function firstNamespaceOfMesh(model: ZeroTrustModel, o: KumaOptions): string | undefined {
  return model.namespaces.filter((n) => n.backend === 'kuma' && n.mesh === `kuma:${o.meshName}`).map((n) => n.name).sort(compareText)[0];
}

/** The projected volume that carries the sidecar's ServiceAccount token (the app containers get none). */
export function tokenVolume(): any {
  return {
    name: KUMA_TOKEN_VOLUME,
    projected: {
      sources: [
        { serviceAccountToken: { path: 'token', expirationSeconds: 3607 } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
      ],
    },
  };
}

function sortKeys(o: { [key: string]: string }): { [key: string]: string } {
  const out: { [key: string]: string } = {};
  for (const k of Object.keys(o).sort(compareText)) out[k] = o[k];
  return out;
}
