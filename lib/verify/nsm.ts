/**
 * The Network Service Mesh reader: from manifests alone it learns which NetworkServices are
 * registered, which pods run an endpoint advertising them, and which clients request them, and
 * so which pod can reach which other pod over which network service. Everything else is left to
 * the primary pod network (a NetworkPolicy evaluator given by the caller).
 *
 * Semantics modelled (NSM v1.18):
 * - A client is a pod whose `networkservicemesh.io` annotation lists `kernel://<service>/<if>`;
 *   the NSM admission webhook injects the client that requests each service.
 * - A service is registered by a `NetworkService` object in any namespace (the registry lists
 *   them cluster-wide, by `spec.name` or else `metadata.name`), or by an endpoint that advertises
 *   it without `NSM_REGISTER_SERVICE=false`.
 * - An endpoint is a container with `NSM_SERVICE_NAMES` whose pod mounts the NSM manager socket
 *   (at the `NSM_CONNECT_TO` directory) and the SPIFFE workload API socket; without them it
 *   cannot register and nobody reaches it.
 * - A connection is L3: every port and protocol, any request, and both directions (the endpoint
 *   reaches the client's address on the same interface). NSM itself does not check which pod may
 *   request which service: a pod's annotation is all it takes, so the reader reads the pod's own
 *   annotations, probes included.
 * - Pod traffic over NSM interfaces bypasses NetworkPolicy; all other traffic is decided by the
 *   primary network evaluator (denied when none is given).
 * - Addressing: the `cmd-nse-icmp-responder` endpoint hands out addresses with sdk
 *   `point2pointipam`, a new pair of its `NSM_CIDR_PREFIX` per connection, and no DNS record
 *   names the endpoint. So a client has no stable address or name for the endpoint: the reader
 *   says so per client (`addressNotes`), and never takes the destination's Kubernetes Service
 *   name (on the primary network) to lead over NSM.
 */
import { FlowPrefilter, PortSet, PrefilterScope, prefilterOf } from './prefilter';
import { Decision, DecidingObject, Endpoint, Manifest, PolicyEvaluator, Query, SourcedManifest, decision } from './types';

/** Pod annotation with the client's network services. */
export const NSM_CLIENT_ANNOTATION = 'networkservicemesh.io';

/** One `kernel://service/if` entry of a client annotation. */
export interface NsmClientRequest {
  /** `kernel`, `memif`, ... */
  readonly mechanism: string;
  readonly service: string;
  /** Interface name, if given. */
  readonly interfaceName?: string;
}

/** A registered network service. */
export interface NsmService {
  readonly name: string;
  /** `IP` (encrypted between forwarders) or `ETHERNET`. */
  readonly payload: string;
  /** `NetworkService production/x` or `endpoint production/y`. */
  readonly registeredBy: string;
  /** The NetworkService object that registers it; absent when an endpoint does. */
  readonly networkService?: DecidingObject;
}

/** A pod template that runs a Network Service Endpoint. */
export interface NsmEndpoint {
  readonly namespace: string;
  readonly workload: string;
  readonly services: string[];
  readonly cidrPrefix?: string;
  /** False when the endpoint cannot reach the NSM manager or the SPIRE agent. */
  readonly wired: boolean;
  /** Why it is not wired. */
  readonly problems: string[];
  readonly registersService: boolean;
  readonly payload: string;
}

/** A connection the manifests set up: client workload to endpoint workload over a service. */
export interface NsmConnection {
  /** `namespace/workload`. */
  readonly client: string;
  /** `namespace/workload`. */
  readonly endpoint: string;
  readonly service: string;
  readonly interfaceName?: string;
  readonly payload: string;
}

/** A review note about a client: how (not) it finds the endpoints it reaches over NSM. */
export interface NsmAddressNote {
  /** The client, `namespace/workload`. */
  readonly party: string;
  /** The short mark shown after the party. */
  readonly mark: string;
  /** The sentence. */
  readonly text: string;
}

type AnyManifest = Manifest | SourcedManifest;

const POD_TEMPLATE_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'];

/** Parses a `networkservicemesh.io` annotation; malformed entries are skipped. */
export function parseClientAnnotation(value: string | undefined): NsmClientRequest[] {
  if (!value) return [];
  const out: NsmClientRequest[] = [];
  for (const raw of value.split(',')) {
    const m = /^([a-z0-9-]+):\/\/([^/?]+)(?:\/([^?]*))?(?:\?.*)?$/.exec(raw.trim());
    if (!m) continue;
    out.push({ mechanism: m[1], service: m[2], ...(m[3] ? { interfaceName: m[3] } : {}) });
  }
  return out;
}

/** NSM semantics over a set of manifests, with a primary-network evaluator for the rest. */
export class NsmEvaluator implements PolicyEvaluator {
  public readonly backend = 'nsm';
  /** Registered services by name. */
  public readonly services: Map<string, NsmService>;
  /** Every endpoint pod template, sorted by namespace/workload. */
  public readonly endpoints: NsmEndpoint[];
  private readonly clients: Array<{ namespace: string; workload: string; requests: NsmClientRequest[] }>;

  /**
   * @param manifests the synthesized objects
   * @param primary decides traffic on the primary pod network (for example a NetworkPolicy evaluator)
   */
  private wiredByService?: Map<string, NsmEndpoint[]>;
  private readonly requestCache = new WeakMap<Endpoint, NsmClientRequest[]>();

  public constructor(manifests: readonly AnyManifest[], private readonly primary?: PolicyEvaluator) {
    const objects = manifests.map((m) => ((m as SourcedManifest).manifest ? (m as SourcedManifest).manifest : (m as Manifest)));
    this.endpoints = [];
    this.clients = [];
    for (const m of objects) {
      const pod = m.kind === 'Pod' ? { metadata: m.metadata, spec: (m as any).spec } : POD_TEMPLATE_KINDS.includes(m.kind) ? (m as any).spec?.template : undefined;
      if (!pod) continue;
      const namespace = m.metadata.namespace ?? 'default';
      const requests = parseClientAnnotation(pod.metadata?.annotations?.[NSM_CLIENT_ANNOTATION]);
      if (requests.length) this.clients.push({ namespace, workload: m.metadata.name, requests });
      const e = readEndpoint(namespace, m.metadata.name, pod.spec ?? {});
      if (e) this.endpoints.push(e);
    }
    this.endpoints.sort((a, b) => cmp(`${a.namespace}/${a.workload}`, `${b.namespace}/${b.workload}`));
    this.services = new Map();
    for (const m of objects) {
      if (m.kind !== 'NetworkService' || !m.apiVersion.startsWith('networkservicemesh.io/')) continue;
      const name = (m as any).spec?.name || m.metadata.name;
      const networkService: DecidingObject = { kind: 'NetworkService', namespace: m.metadata.namespace ?? 'default', name: m.metadata.name };
      this.services.set(name, { name, payload: (m as any).spec?.payload ?? 'ETHERNET', registeredBy: `NetworkService ${networkService.namespace}/${networkService.name}`, networkService });
    }
    for (const e of this.endpoints) {
      if (!e.wired || !e.registersService) continue;
      for (const s of e.services) {
        if (!this.services.has(s)) this.services.set(s, { name: s, payload: e.payload, registeredBy: `endpoint ${e.namespace}/${e.workload}` });
      }
    }
  }

  /** Endpoints that serve a registered service, wired to NSM. */
  public endpointsOf(service: string): NsmEndpoint[] {
    return [...this.wiredEndpoints(service)];
  }

  /** The client requests of a pod's annotation, parsed once per pod. */
  private requestsOf(client: Endpoint): NsmClientRequest[] {
    let out = this.requestCache.get(client);
    if (!out) {
      out = parseClientAnnotation(client.annotations?.[NSM_CLIENT_ANNOTATION]);
      this.requestCache.set(client, out);
    }
    return out;
  }

  /** `endpointsOf` without the copy (callers do not change it). */
  private wiredEndpoints(service: string): readonly NsmEndpoint[] {
    if (!this.services.has(service)) return [];
    if (!this.wiredByService) {
      // Built once: every query asks, and scanning every endpoint each time grows with the app squared.
      this.wiredByService = new Map();
      for (const e of this.endpoints) {
        if (!e.wired) continue;
        for (const s of new Set(e.services)) (this.wiredByService.get(s) ?? this.wiredByService.set(s, []).get(s)!).push(e);
      }
    }
    return this.wiredByService.get(service) ?? [];
  }

  /** Every connection between workloads of the manifests, sorted. */
  public connections(): NsmConnection[] {
    const out: NsmConnection[] = [];
    for (const c of this.clients) {
      for (const r of c.requests) {
        for (const e of this.endpointsOf(r.service)) {
          out.push({
            client: `${c.namespace}/${c.workload}`,
            endpoint: `${e.namespace}/${e.workload}`,
            service: r.service,
            ...(r.interfaceName ? { interfaceName: r.interfaceName } : {}),
            payload: this.services.get(r.service)!.payload,
          });
        }
      }
    }
    return out.sort((a, b) => cmp(`${a.client} ${a.service} ${a.endpoint}`, `${b.client} ${b.service} ${b.endpoint}`));
  }

  /**
   * One note per client workload that reaches endpoints over NSM: the endpoint has no stable
   * address or name on the interface (per-connection point-to-point addresses, no DNS record),
   * and the destination's Service name leads over the primary network, not over NSM. Sorted by
   * client.
   */
  public addressNotes(): NsmAddressNote[] {
    const byClient = new Map<string, Set<string>>();
    for (const c of this.connections()) {
      const set = byClient.get(c.client) ?? new Set<string>();
      set.add(`\`${c.service}\`${c.interfaceName ? ` on \`${c.interfaceName}\`` : ''}`);
      byClient.set(c.client, set);
    }
    return [...byClient.entries()].sort(([a], [b]) => cmp(a, b)).map(([client, reached]) => ({
      party: client,
      mark: 'no NSM endpoint name',
      text: `reaches ${[...reached].join(', ')} over NSM, where the endpoint has no stable address and no DNS name: `
        + 'its address is a new point-to-point pair per connection (NSM sdk `point2pointipam`, as `cmd-nse-icmp-responder` uses); '
        + 'the application must take the peer of the NSM interface (its route) and not the Kubernetes Service name, which leads over the primary network',
    }));
  }

  public evaluate(q: Query): Decision {
    const nsm = (allowed: boolean, detail: string, objects: DecidingObject[] = []) => decision(allowed, [{ layer: 'nsm', verdict: allowed ? 'allow' : 'deny', objects, detail }]);
    const forward = this.over(q.source, q.destination);
    if (forward) return nsm(true, `NSM connection ${forward.text}: L3, every port`, forward.objects);
    const reverse = this.over(q.destination, q.source);
    if (reverse) return nsm(true, `reverse path of NSM connection ${reverse.text}: L3, every port`, reverse.objects);
    if (!this.primary) return nsm(false, 'no NSM connection; no primary network evaluator');
    const d = this.primary.evaluate(q);
    return decision(d.allowed, d.effects.map((e) => ({ ...e, detail: `primary network: ${e.detail}` })));
  }

  /**
   * The prefilter of this reader: the pairs an NSM connection joins (either way, every port),
   * and the primary network's prefilter for the rest (nothing without one).
   */
  public prefilter(scope: PrefilterScope): FlowPrefilter | undefined {
    const primary = this.primary ? prefilterOf(this.primary, scope) : undefined;
    if (this.primary && !primary) return undefined;
    const endpoints = scope.endpoints;
    const byWorkload = new Map<string, number[]>();
    endpoints.forEach((e, i) => {
      if (e.kind !== 'pod' || !e.workload) return;
      const key = `${e.namespace}/${e.workload}`;
      (byWorkload.get(key) ?? byWorkload.set(key, []).get(key)!).push(i);
    });
    // Both ends of every connection, each to the other.
    const joined = new Map<number, Set<number>>();
    const join = (a: number, b: number) => (joined.get(a) ?? joined.set(a, new Set()).get(a)!).add(b);
    endpoints.forEach((client, c) => {
      if (client.kind !== 'pod') return;
      for (const r of this.requestsOf(client)) {
        for (const e of this.wiredEndpoints(r.service)) {
          for (const i of byWorkload.get(`${e.namespace}/${e.workload}`) ?? []) { join(i, c); join(c, i); }
        }
      }
    });
    return {
      sources: (d) => {
        const mine = joined.get(d);
        if (!primary) return mine ?? [];
        return mine ? [...primary.sources(d), ...mine] : primary.sources(d);
      },
      ports: (s, d) => (joined.get(d)?.has(s) ? PortSet.ALL : primary ? primary.ports(s, d) : PortSet.NONE),
      // A connection decides every port and request alike, and says so without naming the port.
      uniform: (s, d) => (joined.get(d)?.has(s) ? PortSet.ALL : PortSet.NONE),
    };
  }

  /** The connection `client` opens to `endpoint`, described, with the NetworkService object that registers it; or undefined. */
  private over(client: Endpoint, endpoint: Endpoint): { text: string; objects: DecidingObject[] } | undefined {
    if (client.kind !== 'pod' || endpoint.kind !== 'pod' || !endpoint.workload) return undefined;
    for (const r of this.requestsOf(client)) {
      const e = this.wiredEndpoints(r.service).find((x) => x.namespace === endpoint.namespace && x.workload === endpoint.workload);
      if (!e) continue;
      const svc = this.services.get(r.service)!;
      return {
        text: `${client.id} -> ${endpoint.id} over NetworkService ${svc.name} (payload ${svc.payload}, ${svc.registeredBy})${r.interfaceName ? ` on ${r.interfaceName}` : ''}`,
        objects: svc.networkService ? [svc.networkService] : [],
      };
    }
    return undefined;
  }
}

function readEndpoint(namespace: string, workload: string, spec: any): NsmEndpoint | undefined {
  const containers: any[] = [...(spec.containers ?? []), ...(spec.initContainers ?? []).filter((c: any) => c?.restartPolicy === 'Always')];
  const nse = containers.find((c) => envOf(c, 'NSM_SERVICE_NAMES') !== undefined);
  if (!nse) return undefined;
  const services = envOf(nse, 'NSM_SERVICE_NAMES')!.split(',').map((s) => s.trim().replace(/[{?].*$/, '')).filter((s) => s.length > 0).sort();
  const problems: string[] = [];
  const volumes = new Map<string, any>((spec.volumes ?? []).map((v: any) => [v?.name, v]));
  const socketDir = (url: string | undefined, fallback: string) => {
    const p = (url ?? fallback).replace(/^unix:\/\//, '');
    return p.slice(0, p.lastIndexOf('/')) || '/';
  };
  const mounted = (dir: string, drivers: string[], what: string) => {
    const mount = (nse.volumeMounts ?? []).find((vm: any) => vm?.mountPath?.replace(/\/$/, '') === dir);
    const vol = mount ? volumes.get(mount.name) : undefined;
    if (!vol || !(drivers.includes(vol.csi?.driver) || vol.hostPath)) problems.push(`${what} is not mounted at ${dir}`);
  };
  mounted(socketDir(envOf(nse, 'NSM_CONNECT_TO'), 'unix:///var/lib/networkservicemesh/nsm.io.sock'), ['csi.networkservicemesh.io'], 'the NSM manager socket');
  mounted(socketDir(envOf(nse, 'SPIFFE_ENDPOINT_SOCKET'), ''), ['csi.spiffe.io'], 'the SPIFFE workload API socket');
  if (services.length === 0) problems.push('NSM_SERVICE_NAMES is empty');
  const prefix = envOf(nse, 'NSM_CIDR_PREFIX');
  return {
    namespace,
    workload,
    services,
    ...(prefix !== undefined ? { cidrPrefix: prefix } : {}),
    wired: problems.length === 0,
    problems,
    registersService: (envOf(nse, 'NSM_REGISTER_SERVICE') ?? 'true').toLowerCase() !== 'false',
    payload: envOf(nse, 'NSM_PAYLOAD') ?? 'ETHERNET',
  };
}

function envOf(container: any, name: string): string | undefined {
  const e = (container?.env ?? []).find((x: any) => x?.name === name);
  return e ? String(e.value ?? '') : undefined;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
