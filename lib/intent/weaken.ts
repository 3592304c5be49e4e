/**
 * The one vocabulary for accepting weaker enforcement than declared. Every backend refuses intent
 * it cannot enforce (fail closed); a refusal that has a sensible weaker form names the member of
 * `Weaken` that would accept it, and a `Mesh.*()` factory given that member (`weaken: [...]`)
 * renders the weaker form instead, says so in the allows annotation, and records it in
 * `zero-trust.intent.json` so `verify` checks exactly the weaker form.
 *
 * A weakening is a small pure function from a declared flow to the flows that are enforced: the
 * renderers and readers see an ordinary model, and the declared flow travels with the weaker ones
 * (`FlowModel.declared`) for annotations, reports and the intent file.
 */
import { compareText } from './collation';
import { ZeroTrustError } from './errors';
import { EndpointModel, FlowModel, WEAKENING_PHRASES, ZeroTrustModel, samePort } from './model';
import { Port } from './port';
import { shown } from './names';

/**
 * What a backend may give up when the user accepts it, by name. Nothing is weakened unless its
 * member is listed in the `weaken` prop of the chart's `Mesh.*()` factory; a refusal whose member
 * is not listed stays a synth error (and the error names the member that would accept it).
 */
export enum Weaken {
  /**
   * HTTP methods and paths are not checked: the flow is allowed on its ports for every request.
   * Backends: NetworkPolicy, Kuma (MeshTrafficPermission has no L7), Network Service Mesh,
   * Cilium with ztunnel, Istio and Linkerd for rules on egress to destinations outside the mesh
   * and Istio ambient where the waypoint is bypassed.
   */
  HTTP_TO_PORT = 'HTTP_TO_PORT',
  /**
   * The ServiceAccount of a `Peer.workload()` outside the app is not checked: its pods are
   * matched by namespace and labels only. Backends: NetworkPolicy (and the NetworkPolicy layer of
   * NSM for UDP and off-mesh flows), Kuma (tags only).
   */
  IDENTITY_TO_LABELS = 'IDENTITY_TO_LABELS',
  /**
   * A `Peer.workload()` source without a ServiceAccount is admitted as its whole namespace
   * (backends that authorize by identity: Istio, Linkerd).
   */
  WORKLOAD_TO_NAMESPACE = 'WORKLOAD_TO_NAMESPACE',
  /**
   * Egress to a host name is allowed to any address on the flow's ports (`0.0.0.0/0` and `::/0`).
   * Backends that cannot match host names: NetworkPolicy, Linkerd, Istio ambient, NSM.
   */
  HOST_TO_PORT = 'HOST_TO_PORT',
  /**
   * A rule on some of a workload's ports opens every port of the destination (an NSM connection
   * is L3; Cilium with ztunnel sees only HBONE between enrolled pods).
   */
  PORTS_TO_CONNECTION = 'PORTS_TO_CONNECTION',
}

/** Every member, in the order they are applied and described. */
export const WEAKEN_MEMBERS: readonly Weaken[] = [
  Weaken.HTTP_TO_PORT, Weaken.IDENTITY_TO_LABELS, Weaken.WORKLOAD_TO_NAMESPACE, Weaken.HOST_TO_PORT, Weaken.PORTS_TO_CONNECTION,
];

/** The `weaken` prop every `Mesh.*()` factory accepts. */
export interface WeakenProps {
  /**
   * Weaker enforcement accepted for this chart's flows, by name. A flow this backend cannot
   * enforce as declared is rendered in the weaker form of the listed member that applies, and the
   * allows annotation, `zero-trust.intent.json`, `flows` and FLOWS.md say so; without the member
   * it stays a synth error.
   * @default - nothing is weakened: every such flow is a synth error
   */
  readonly weaken?: Weaken[];
}

/** `enforced as the whole port (Weaken.HTTP_TO_PORT)`. */
export function describeWeakening(m: Weaken): string {
  return `${WEAKENING_PHRASES[m]} (Weaken.${m})`;
}

/** The members of a list, de-duplicated, in `WEAKEN_MEMBERS` order; throws for a value that is no member. */
export function normalizeWeaken(list: readonly Weaken[] | undefined, where: string): Weaken[] {
  if (list !== undefined && !Array.isArray(list)) {
    throw new ZeroTrustError({ code: 'INVALID_MESH_PROPS', message: `${where}: weaken must be an array of Weaken members (${WEAKEN_MEMBERS.join(', ')}), got ${shown(list)}` });
  }
  const given = new Set<string>(list ?? []);
  for (const v of given) {
    if (!(WEAKEN_MEMBERS as readonly string[]).includes(v)) {
      throw new ZeroTrustError({ code: 'INVALID_MESH_PROPS', message: `${where}: weaken: ${JSON.stringify(v)} is not a Weaken member (${WEAKEN_MEMBERS.join(', ')})` });
    }
  }
  return WEAKEN_MEMBERS.filter((m) => given.has(m));
}

/** Every IPv4 and IPv6 address, as `HOST_TO_PORT` renders a host name. */
const ANY_ADDRESS = ['0.0.0.0/0', '::/0'];

/**
 * The members applied to a declared flow, each with the part of it that was refused: some of its
 * declared ports, or (undefined) the whole flow.
 */
export type WeakenParts = ReadonlyMap<Weaken, readonly Port[] | undefined>;

/** Members given as a list weaken the whole flow. */
function partsOf(members: WeakenParts | ReadonlySet<Weaken> | readonly Weaken[]): WeakenParts {
  if (members instanceof Map) return members;
  return new Map([...(members as Iterable<Weaken>)].map((m) => [m, undefined]));
}

/**
 * The flows enforced for a declared flow when `members` are applied to it. A member applies to
 * the part of the flow its refusal named (`WeakenParts`: some ports, or all of it); the declared
 * ports are split into parts by the members that weaken them, and each part is one flow (two for
 * `HOST_TO_PORT`: every IPv4 and every IPv6 address, each except the `clusterNetworks` of its
 * family). A part no member weakens keeps the declaration as it is.
 */
export function weakenFlow(declared: FlowModel, members: WeakenParts | ReadonlySet<Weaken> | readonly Weaken[], clusterNetworks: readonly string[] = []): FlowModel[] {
  const parts = partsOf(members);
  const applied = WEAKEN_MEMBERS.filter((m) => parts.has(m));
  if (applied.length === 0) return [declared];
  if (declared.ports.length === 0 || applied.every((m) => parts.get(m) === undefined)) return weakenPart(declared, undefined, applied, clusterNetworks);
  const groups: Array<{ members: Weaken[]; ports: Port[] }> = [];
  for (const p of declared.ports) {
    const ms = applied.filter((m) => parts.get(m)?.some((q) => samePort(q, p)) ?? true);
    const g = groups.find((x) => x.members.join() === ms.join());
    if (g) g.ports.push(p);
    else groups.push({ members: ms, ports: [p] });
  }
  if (groups.length === 1) return weakenPart(declared, undefined, groups[0].members, clusterNetworks);
  return groups.flatMap((g) => weakenPart(declared, g.ports, g.members, clusterNetworks));
}

/** One part of a declared flow (`part`: its ports, undefined: all of it) with `members` applied. */
function weakenPart(declared: FlowModel, part: Port[] | undefined, members: readonly Weaken[], clusterNetworks: readonly string[]): FlowModel[] {
  const ofPart = part ? { ports: part, part } : {};
  if (members.length === 0) return [{ ...declared, ...ofPart, declared }];
  const set = new Set(members);
  let f: FlowModel = { ...declared, ...ofPart };
  if (set.has(Weaken.HTTP_TO_PORT)) f = { ...f, http: [] };
  if (set.has(Weaken.IDENTITY_TO_LABELS)) f = { ...f, source: withoutServiceAccount(f.source), destination: withoutServiceAccount(f.destination) };
  if (set.has(Weaken.WORKLOAD_TO_NAMESPACE) && f.source.type === 'external-workload' && !f.source.serviceAccount) {
    f = { ...f, source: { type: 'namespace', namespace: f.source.namespace } };
  }
  if (set.has(Weaken.PORTS_TO_CONNECTION) && f.destination.type === 'workload') {
    const dest = f.destination.workload;
    // Every port of the destination, the declared ones first (in their order), then the rest.
    f = { ...f, ports: [...f.ports, ...dest.ports.filter((d) => !declared.ports.some((p) => samePort(p, d)))] };
  }
  const base: FlowModel = { ...f, declared, weakened: [...members] };
  if (set.has(Weaken.HOST_TO_PORT) && f.destination.type === 'fqdn') {
    return ANY_ADDRESS.map((cidr) => {
      const except = clusterNetworks.filter((c) => c.includes(':') === cidr.includes(':') && c !== cidr);
      return { ...base, destination: { type: 'ip-block', cidr, except } };
    });
  }
  return [base];
}

function withoutServiceAccount(e: EndpointModel): EndpointModel {
  if (e.type !== 'external-workload' || e.serviceAccount === undefined) return e;
  return { type: 'external-workload', namespace: e.namespace, labels: e.labels };
}

/** The flow as the user declared it (a weakened flow carries its declaration). */
export function declaredFlow(f: FlowModel): FlowModel {
  return f.declared ?? f;
}

/**
 * The model with each declared flow replaced by its weakened forms, in the model's order.
 * `weakenings` and `clusterNetworks` (of the chart that weakened a host name) are keyed by the declared flow.
 */
export function applyWeakenings(model: ZeroTrustModel, weakenings: ReadonlyMap<FlowModel, WeakenParts>,
  clusterNetworks: ReadonlyMap<FlowModel, readonly string[]> = new Map()): ZeroTrustModel {
  if (weakenings.size === 0) return model;
  return { ...model, flows: model.flows.flatMap((f) => weakenFlow(f, weakenings.get(f) ?? [], clusterNetworks.get(f))) };
}

/**
 * The members that weaken a declared flow, in `WEAKEN_MEMBERS` order, each with the declared
 * ports it weakens when that is only some of them (undefined: the whole flow), from its enforced forms.
 */
export function weakeningsOf(declared: FlowModel, forms: readonly FlowModel[]): Map<Weaken, Port[] | undefined> {
  const out = new Map<Weaken, Port[] | undefined>();
  for (const m of WEAKEN_MEMBERS) {
    const with_ = forms.filter((f) => f.weakened?.includes(m));
    if (with_.length === 0) continue;
    if (with_.some((f) => f.part === undefined)) { out.set(m, undefined); continue; }
    const ports = declared.ports.filter((p) => with_.some((f) => f.part!.some((q) => samePort(p, q))));
    out.set(m, ports.length === declared.ports.length ? undefined : ports);
  }
  return out;
}

/** The ranges a weakened host name's flows leave out (their destinations' excepts), sorted. */
export function hostExceptOf(enforced: readonly FlowModel[]): string[] {
  const out = new Set<string>();
  for (const f of enforced) if (f.weakened?.includes(Weaken.HOST_TO_PORT) && f.destination.type === 'ip-block') for (const e of f.destination.except) out.add(e);
  return [...out].sort(compareText);
}

/** How one backend enforces the flows of its charts. */
export interface EnforcementSummary {
  readonly backend: string;
  /** Declared flows enforced as declared. */
  readonly declared: number;
  /** Declared flows enforced in a weaker form. */
  readonly weakened: number;
  /** How many of the weakened flows each member weakened. */
  readonly byMember: { readonly [member: string]: number };
}

/**
 * Per backend, how many declared flows are enforced as declared and how many weakened, and how:
 * a flow counts for the backend of each namespace of the app at one of its ends.
 */
export function enforcementSummary(model: ZeroTrustModel): EnforcementSummary[] {
  const forms = new Map<FlowModel, FlowModel[]>();
  for (const f of model.flows) forms.set(declaredFlow(f), [...(forms.get(declaredFlow(f)) ?? []), f]);
  const out = new Map<string, { declared: number; weakened: number; byMember: { [m: string]: number } }>();
  for (const n of model.namespaces) if (!out.has(n.backend)) out.set(n.backend, { declared: 0, weakened: 0, byMember: {} });
  for (const [d, enforced] of forms) {
    const members = [...weakeningsOf(d, enforced).keys()];
    const backends = new Set<string>();
    for (const e of [d.source, d.destination]) if (e.type === 'workload') backends.add(e.workload.backend);
    for (const b of backends) {
      const s = out.get(b) ?? { declared: 0, weakened: 0, byMember: {} };
      if (members.length) {
        s.weakened++;
        for (const m of members) s.byMember[m] = (s.byMember[m] ?? 0) + 1;
      } else {
        s.declared++;
      }
      out.set(b, s);
    }
  }
  return [...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([backend, s]) => ({ backend, ...s }));
}

/** The summary as lines: `istio: 12 flows enforced as declared, 2 weakened (Weaken.HTTP_TO_PORT: 2)`. */
export function formatEnforcementSummary(summary: readonly EnforcementSummary[]): string[] {
  return summary.map((s) => {
    const how = WEAKEN_MEMBERS.filter((m) => s.byMember[m]).map((m) => `Weaken.${m}: ${s.byMember[m]}`).join(', ');
    return `${s.backend}: ${s.declared} flow${s.declared === 1 ? '' : 's'} enforced as declared, ${s.weakened} weakened${how ? ` (${how})` : ''}`;
  });
}
