/**
 * A light structural check of the fields the readers use, run when manifests are loaded, so that a
 * field of the wrong type (`metadata.namespace: 42`, `matchExpressions: {...}`, a label value
 * `1`) is refused with its file, document and path instead of surfacing later as a reader's
 * "x.map is not a function". Only what Kubernetes itself would refuse is refused here, plus SCTP,
 * which the flow report does not model (unless told to ignore it).
 *
 * Also the one place that knows which objects make pods (`podTemplateOf`).
 */

/** A field of the wrong type; the message starts with the field's path. */
export class ShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ShapeError';
  }
}

/** Options of `checkShape`. */
export interface ShapeOptions {
  /**
   * What to do with an SCTP port: `refuse` (a ShapeError), or `ignore` (reported through
   * `onSctp`, read as if absent: the report then holds no SCTP flow).
   * @default 'refuse'
   */
  readonly sctp?: 'refuse' | 'ignore';
  /** Called with the path of each SCTP port when `sctp` is `ignore`. */
  readonly onSctp?: (path: string) => void;
}

/** The API groups whose kinds of these names make pods (a CRD of the same kind elsewhere does not). */
const WORKLOAD_GROUPS: { [kind: string]: readonly string[] } = {
  Pod: [''],
  ReplicationController: [''],
  Deployment: ['apps', 'extensions'],
  StatefulSet: ['apps'],
  DaemonSet: ['apps', 'extensions'],
  ReplicaSet: ['apps', 'extensions'],
  Job: ['batch'],
  CronJob: ['batch'],
};

/** Kinds of workload objects: those whose pods the inventory lists. */
export const WORKLOAD_KIND_NAMES: readonly string[] = Object.keys(WORKLOAD_GROUPS);

/** The API group of an apiVersion (`''` for the core group, `v1`). */
function groupOf(apiVersion: unknown): string {
  if (typeof apiVersion !== 'string') return '';
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/** True for an object that makes pods: Pod, ReplicationController, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob. */
function isWorkloadObject(m: { apiVersion?: unknown; kind?: unknown }): boolean {
  const groups = typeof m.kind === 'string' ? WORKLOAD_GROUPS[m.kind] : undefined;
  return groups !== undefined && Object.prototype.hasOwnProperty.call(WORKLOAD_GROUPS, m.kind as string) && groups.includes(groupOf(m.apiVersion));
}

/** Path of the pod template of a workload object (`[]` for a Pod itself). */
function templatePath(kind: string): string[] {
  if (kind === 'Pod') return [];
  if (kind === 'CronJob') return ['spec', 'jobTemplate', 'spec', 'template'];
  return ['spec', 'template'];
}

/** The pod template (metadata and spec) of a workload object; undefined for other objects and templates that are absent. */
export function podTemplateOf(m: any): { metadata?: any; spec?: any } | undefined {
  if (!isWorkloadObject(m)) return undefined;
  if (m.kind === 'Pod') return { metadata: m.metadata, spec: m.spec };
  let t: any = m;
  for (const k of templatePath(m.kind)) t = t?.[k];
  return t === null || t === undefined ? undefined : t;
}

const MAX_DEPTH = 200;

/** How a value reads in a message: `a list`, `the number 42`, `true (a boolean)`, ... */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  switch (typeof v) {
    case 'object': return 'a map';
    case 'string': return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
    case 'number': return `the number ${v}`;
    case 'boolean': return `${v} (a boolean)`;
    default: return typeof v;
  }
}

/** Checks one manifest (already known to be a map with apiVersion, kind and metadata.name). */
export function checkShape(m: any, options: ShapeOptions = {}): void {
  new Checker(options).manifest(m);
}

class Checker {
  constructor(private readonly options: ShapeOptions) {}

  private fail(path: string, expected: string, v: unknown, hint = ''): never {
    throw new ShapeError(`${path} must be ${expected}, not ${describeValue(v)}${hint}`);
  }

  private map(v: unknown, path: string): { [key: string]: any } | undefined {
    if (v === null || v === undefined) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(path, 'a map', v);
    return v as { [key: string]: any };
  }

  private list(v: unknown, path: string): any[] {
    if (v === null || v === undefined) return [];
    if (!Array.isArray(v)) this.fail(path, 'a list', v);
    return v;
  }

  private string(v: unknown, path: string) {
    if (v !== null && v !== undefined && typeof v !== 'string') this.fail(path, 'a string', v);
  }

  private item(v: unknown, path: string) {
    if (typeof v !== 'string') this.fail(path, 'a string', v);
  }

  private bool(v: unknown, path: string) {
    if (v !== null && v !== undefined && typeof v !== 'boolean') this.fail(path, 'true or false', v);
  }

  private port(v: unknown, path: string, required = false) {
    if (v === null || v === undefined) {
      if (required) this.fail(path, 'a port number', v);
      return;
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) this.fail(path, 'a port number (1-65535)', v);
  }

  private portOrName(v: unknown, path: string) {
    if (typeof v === 'string' && v.length > 0) return;
    this.port(v, path);
  }

  private protocol(v: unknown, path: string) {
    if (v === null || v === undefined) return;
    if (v !== 'TCP' && v !== 'UDP' && v !== 'SCTP') this.fail(path, 'TCP, UDP or SCTP', v);
  }

  private stringMap(v: unknown, path: string) {
    const m = this.map(v, path);
    if (!m) return;
    for (const [k, x] of Object.entries(m)) {
      if (typeof x !== 'string') this.fail(`${path}.${k}`, 'a string', x, typeof x === 'number' || typeof x === 'boolean' ? ` (quote it: "${String(x)}")` : '');
    }
  }

  private selector(v: unknown, path: string) {
    const s = this.map(v, path);
    if (!s) return;
    this.stringMap(s.matchLabels, `${path}.matchLabels`);
    this.expressions(s.matchExpressions, `${path}.matchExpressions`);
  }

  private expressions(v: unknown, path: string) {
    this.list(v, path).forEach((e, i) => {
      const p = `${path}[${i}]`;
      const x = this.map(e, p);
      if (!x) this.fail(p, 'a map (key, operator, values)', e);
      if (typeof x.key !== 'string') this.fail(`${p}.key`, 'a string', x.key);
      if (typeof x.operator !== 'string') this.fail(`${p}.operator`, 'a string', x.operator);
      this.list(x.values, `${p}.values`).forEach((s, j) => this.item(s, `${p}.values[${j}]`));
    });
  }

  private metadata(v: unknown, path: string) {
    const md = this.map(v, path);
    if (!md) return;
    this.string(md.name, `${path}.name`);
    this.string(md.namespace, `${path}.namespace`);
    this.stringMap(md.labels, `${path}.labels`);
    this.stringMap(md.annotations, `${path}.annotations`);
  }

  public manifest(m: any) {
    this.metadata(m.metadata, 'metadata');
    if (isWorkloadObject(m)) this.workload(m);
    const group = groupOf(m.apiVersion);
    if (m.kind === 'NetworkPolicy' && group === 'networking.k8s.io') this.networkPolicy(m.spec);
    if (m.kind === 'Service' && group === '') this.service(m.spec);
    // A CRD's schema names fields (matchLabels, protocol) without being them.
    if (m.kind === 'CustomResourceDefinition') return;
    for (const [k, v] of Object.entries(m)) {
      if (k === 'metadata' || k === 'apiVersion' || k === 'kind') continue;
      if (k === 'protocol' && typeof v === 'string' && v.toUpperCase() === 'SCTP') this.sctp(k);
      this.walk(v, k, 1);
    }
  }

  /** Everywhere: selectors have their shape, SCTP is refused or reported, nothing is nested past MAX_DEPTH. */
  private walk(v: unknown, path: string, depth: number) {
    if (depth > MAX_DEPTH) throw new ShapeError(`${path}: nested more than ${MAX_DEPTH} levels deep`);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) if (v[i] !== null && typeof v[i] === 'object') this.walk(v[i], `${path}[${i}]`, depth + 1);
      return;
    }
    if (v === null || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      const p = `${path}.${k}`;
      if (k === 'matchLabels') this.stringMap(x, p);
      else if (k === 'matchExpressions') this.expressions(x, p);
      else if (k === 'protocol' && typeof x === 'string' && x.toUpperCase() === 'SCTP') this.sctp(p);
      if (x !== null && typeof x === 'object') this.walk(x, p, depth + 1);
    }
  }

  private sctp(path: string) {
    if (this.options.sctp === 'ignore') {
      this.options.onSctp?.(path);
      return;
    }
    throw new ShapeError(`${path} is SCTP, which the flow report does not model: its SCTP connections would be missing from every table, diff and verification (--ignore-sctp reads the rest and says what it left out)`);
  }

  private workload(m: any) {
    let t: any = m;
    let path = '';
    for (const k of templatePath(m.kind)) {
      path = path ? `${path}.${k}` : k;
      t = this.map(t[k], path);
      if (!t) return;
    }
    const prefix = path ? `${path}.` : '';
    if (m.kind !== 'Pod') this.metadata(t.metadata, `${prefix}metadata`);
    this.podSpec(t.spec, `${prefix}spec`);
  }

  private podSpec(v: unknown, path: string) {
    const spec = this.map(v, path);
    if (!spec) return;
    this.string(spec.serviceAccountName, `${path}.serviceAccountName`);
    this.string(spec.serviceAccount, `${path}.serviceAccount`);
    this.bool(spec.hostNetwork, `${path}.hostNetwork`);
    for (const list of ['containers', 'initContainers']) {
      this.list(spec[list], `${path}.${list}`).forEach((c, i) => {
        const cp = `${path}.${list}[${i}]`;
        const container = this.map(c, cp);
        if (!container) this.fail(cp, 'a map', c);
        this.string(container.name, `${cp}.name`);
        this.string(container.restartPolicy, `${cp}.restartPolicy`);
        this.list(container.ports, `${cp}.ports`).forEach((p, j) => {
          const pp = `${cp}.ports[${j}]`;
          const port = this.map(p, pp);
          if (!port) this.fail(pp, 'a map', p);
          this.port(port.containerPort, `${pp}.containerPort`, true);
          this.string(port.name, `${pp}.name`);
          this.protocol(port.protocol, `${pp}.protocol`);
        });
      });
    }
  }

  private networkPolicy(v: unknown) {
    const spec = this.map(v, 'spec');
    if (!spec) return;
    this.selector(spec.podSelector, 'spec.podSelector');
    this.list(spec.policyTypes, 'spec.policyTypes').forEach((t, i) => this.item(t, `spec.policyTypes[${i}]`));
    for (const [dir, peersKey] of [['ingress', 'from'], ['egress', 'to']]) {
      this.list(spec[dir], `spec.${dir}`).forEach((r, i) => {
        const rp = `spec.${dir}[${i}]`;
        const rule = this.map(r, rp) ?? {};
        this.list(rule[peersKey], `${rp}.${peersKey}`).forEach((x, j) => {
          const pp = `${rp}.${peersKey}[${j}]`;
          const peer = this.map(x, pp);
          if (!peer) this.fail(pp, 'a map (podSelector, namespaceSelector or ipBlock)', x);
          this.selector(peer.podSelector, `${pp}.podSelector`);
          this.selector(peer.namespaceSelector, `${pp}.namespaceSelector`);
          const block = this.map(peer.ipBlock, `${pp}.ipBlock`);
          if (block) {
            if (typeof block.cidr !== 'string') this.fail(`${pp}.ipBlock.cidr`, 'a string', block.cidr);
            this.list(block.except, `${pp}.ipBlock.except`).forEach((e, k) => this.item(e, `${pp}.ipBlock.except[${k}]`));
          }
        });
        this.list(rule.ports, `${rp}.ports`).forEach((x, j) => {
          const pp = `${rp}.ports[${j}]`;
          const port = this.map(x, pp);
          if (!port) this.fail(pp, 'a map (port, endPort, protocol)', x);
          this.portOrName(port.port, `${pp}.port`);
          this.port(port.endPort, `${pp}.endPort`);
          this.protocol(port.protocol, `${pp}.protocol`);
        });
      });
    }
  }

  private service(v: unknown) {
    const spec = this.map(v, 'spec');
    if (!spec) return;
    this.stringMap(spec.selector, 'spec.selector');
    this.list(spec.ports, 'spec.ports').forEach((x, i) => {
      const pp = `spec.ports[${i}]`;
      const port = this.map(x, pp);
      if (!port) this.fail(pp, 'a map', x);
      this.port(port.port, `${pp}.port`, true);
      this.portOrName(port.targetPort, `${pp}.targetPort`);
      this.string(port.name, `${pp}.name`);
      this.protocol(port.protocol, `${pp}.protocol`);
    });
  }
}
