import { ApiObject, Chart, JsonPatch } from 'cdk8s';
import { Construct } from 'constructs';
import { IAdoptableWorkload } from './adopt';
import { ZeroTrustError } from './errors';
import { MANAGED_BY, MANAGED_BY_LABEL, NAME_LABEL, WorkloadModel } from './model';
import { checkDnsLabel, checkDnsSubdomain, checkLabels } from './names';
import { IPeer, PeerKind, PeerSpec } from './peer';
import { Port, PortKind } from './port';
import { IntentRegistry } from './registry';
import { AllowOptions, checkAllowOptionsShape } from './rules';
import { ZeroTrustChart } from './chart';
import { checkAdoption, checkWorkloadProps } from './adoption';
import { MetadataAdditions, PodSpecAdditions } from './render';
import { compareText } from './collation';
import { Probe, ProbeModel, probesOfPodSpec } from './probe';

import { brand, isBranded } from './brand';

const WORKLOAD_BRAND = Symbol.for('cdk8s-zero-trust.SecureWorkload');

/** The controller that runs a workload's pods. */
export enum WorkloadKind {
  /** A `Deployment`. */
  DEPLOYMENT = 'Deployment',
  /** A `StatefulSet` (databases such as Lil DeeBee). */
  STATEFUL_SET = 'StatefulSet',
}

/** Properties of a `SecureWorkload`. */
export interface SecureWorkloadProps {
  /**
   * Container image; the workload creates its own Deployment or StatefulSet. Give either
   * `image` or `workload`.
   * @default - none
   */
  readonly image?: string;
  /**
   * Ports the workload listens on. With `workload`, defaults to its containers' ports.
   * @default - none (nothing can be allowed to it)
   */
  readonly ports?: Port[];
  /**
   * Controller to create with `image`.
   * @default WorkloadKind.DEPLOYMENT
   */
  readonly kind?: WorkloadKind;
  /**
   * Replicas of a created workload.
   * @default 1
   */
  readonly replicas?: number;
  /**
   * Name of the workload, its ServiceAccount, Service and policies.
   * @default - the construct id
   */
  readonly name?: string;
  /**
   * Name of the ServiceAccount (the workload's identity) created for it.
   * @default - the workload name
   */
  readonly serviceAccountName?: string;
  /**
   * Extra labels for the pods (the selector label `app.kubernetes.io/name` is always set).
   * @default - none
   */
  readonly podLabels?: { [key: string]: string };
  /**
   * An existing cdk8s-plus Deployment, StatefulSet or DaemonSet (any line, cdk8s-plus-27 to
   * cdk8s-plus-33) to secure instead of creating one. It must run as its own ServiceAccount, not
   * `default`.
   * @default - create one from `image`
   */
  readonly workload?: IAdoptableWorkload;
  /**
   * Readiness probe of a created workload's container (cdk8s-plus style:
   * `Probe.fromHttpGet('/ready')`). With `workload`, set probes on the adopted containers instead:
   * they are read from its pod template.
   * @default - none
   */
  readonly readiness?: Probe;
  /**
   * Liveness probe of a created workload's container.
   * @default - none
   */
  readonly liveness?: Probe;
  /**
   * Startup probe of a created workload's container.
   * @default - none
   */
  readonly startup?: Probe;
  /**
   * Whether to create a Service for the ports: a ClusterIP Service, or for a created StatefulSet
   * its governing headless Service (`clusterIP: None`, named as the workload, the StatefulSet's
   * `serviceName`), which gives the pods their stable DNS names.
   * @default true when the workload has ports
   */
  readonly service?: boolean;
}

/**
 * A workload with its own identity (ServiceAccount), stable selector labels and a Service, whose
 * traffic is closed except for what `allowFrom`/`allowTo` declare.
 */
export class SecureWorkload extends Construct implements IPeer {
  /** True when `x` is a `SecureWorkload` (of any copy of this library); use it instead of `instanceof`. */
  public static isSecureWorkload(x: any): x is SecureWorkload {
    return isBranded(x, WORKLOAD_BRAND);
  }

  /** Workload name. */
  public readonly name: string;
  /** Namespace (the chart's). */
  public readonly namespace: string;
  /** ServiceAccount the pods run as: the workload's identity. */
  public readonly serviceAccountName: string;
  /** Labels that select exactly this workload's pods. */
  public readonly selector: { [key: string]: string };
  /** Declared ports. */
  public readonly ports: Port[];

  private readonly chart: ZeroTrustChart;
  private readonly props: SecureWorkloadProps;
  private model?: WorkloadModel;

  public constructor(scope: Construct, id: string, props: SecureWorkloadProps) {
    super(scope, id);
    brand(this, WORKLOAD_BRAND);
    this.chart = ZeroTrustChart.ofConstruct(this);
    checkWorkloadProps(props, `SecureWorkload ${this.chart.namespaceName}/${props?.name ?? id}`, `${this.chart.namespaceName}/${props?.name ?? id}`);
    this.props = props;
    this.name = props.name ?? id;
    this.namespace = this.chart.namespaceName;
    checkDnsLabel(this.name, `SecureWorkload "${this.name}" in namespace "${this.namespace}": name`);
    const where = `SecureWorkload ${this.namespace}/${this.name}`;
    if (props.workload !== undefined) checkAdoption(this, props.workload, this.namespace, where, `${this.namespace}/${this.name}`);

    if ((props.image === undefined) === (props.workload === undefined)) {
      throw new ZeroTrustError({ code: 'INVALID_ARGUMENT', message: `${where}: give exactly one of "image" (create a workload) or "workload" (adopt a cdk8s-plus one)` });
    }
    if (props.workload) {
      if (props.kind !== undefined || props.replicas !== undefined || props.serviceAccountName !== undefined
        || props.readiness !== undefined || props.liveness !== undefined || props.startup !== undefined) {
        throw new ZeroTrustError({ code: 'INVALID_ARGUMENT', message: `${where}: "kind", "replicas", "serviceAccountName" and the probes apply only to created workloads; set them on the adopted one` });
      }
      const sa = props.workload.serviceAccount?.name;
      if (!sa || sa === 'default') {
        throw new ZeroTrustError({ code: 'DEFAULT_SERVICE_ACCOUNT', message: `${where}: the adopted workload runs as the "default" ServiceAccount; give it its own ServiceAccount, which is its identity` });
      }
      this.serviceAccountName = sa;
      this.ports = props.ports ?? portsOfContainers(props.workload, where);
    } else {
      this.serviceAccountName = props.serviceAccountName ?? this.name;
      checkDnsSubdomain(this.serviceAccountName, `${where}: serviceAccountName`);
      if (this.serviceAccountName === 'default') {
        throw new ZeroTrustError({ code: 'DEFAULT_SERVICE_ACCOUNT', message: `${where}: the "default" ServiceAccount is shared by every pod of the namespace and cannot be an identity` });
      }
      this.ports = [...(props.ports ?? [])];
      if (props.replicas !== undefined && (!Number.isInteger(props.replicas) || props.replicas < 0)) {
        throw new ZeroTrustError({ code: 'INVALID_ARGUMENT', message: `${where}: replicas must be a whole number >= 0` });
      }
    }
    checkUniquePorts(this.ports, where);
    for (const [key, probe] of [['readiness', props.readiness], ['liveness', props.liveness], ['startup', props.startup]] as const) {
      if (probe === undefined) continue;
      if (!(probe instanceof Probe)) throw new ZeroTrustError({ code: 'INVALID_ARGUMENT', message: `${where}: ${key} must be a Probe (Probe.fromHttpGet())` });
      const port = probe.port ?? this.ports[0]?.number;
      if (port === undefined || !this.ports.some((p) => p.number === port && p.protocol === 'TCP')) {
        throw new ZeroTrustError({ code: 'INVALID_PROBE', workload: `${this.namespace}/${this.name}`, message: `${where}: the ${key} probe's port ${port ?? '(none: the workload declares no ports)'} is not a declared TCP port of the workload` });
      }
    }
    if (props.service === true && this.ports.length === 0) {
      throw new ZeroTrustError({ code: 'SERVICE_WITHOUT_PORTS', workload: `${this.namespace}/${this.name}`, message: `${where}: service is requested but no ports are declared` });
    }
    if (props.podLabels) {
      checkLabels(props.podLabels, `${where}: podLabels`);
      if (NAME_LABEL in props.podLabels) {
        throw new ZeroTrustError({ code: 'RESERVED_POD_METADATA', message: `${where}: podLabels must not set ${NAME_LABEL}; it is the workload's selector` });
      }
    }
    this.selector = { [NAME_LABEL]: this.name };
    IntentRegistry.of(this).addWorkload(this.namespace, this.name, this);
    this.chart._addWorkload(this);
  }

  /** Allows `peer` to open connections to this workload. */
  public allowFrom(peer: IPeer, options: AllowOptions = {}): void {
    this.checkRule('allowFrom', peer, options);
    IntentRegistry.of(this).addRule({ owner: this, direction: 'from', peer, options });
  }

  /** Allows this workload to open connections to `peer`. */
  public allowTo(peer: IPeer, options: AllowOptions = {}): void {
    this.checkRule('allowTo', peer, options);
    IntentRegistry.of(this).addRule({ owner: this, direction: 'to', peer, options });
  }

  /** @internal */
  public _declaredPodMetadata(): MetadataAdditions {
    const adopted = this.props.workload;
    if (!adopted) return { labels: { ...(this.props.podLabels ?? {}) } };
    const meta = adopted.podMetadata.toJson() as { labels?: { [key: string]: string }; annotations?: { [key: string]: string } };
    return { labels: { ...(meta.labels ?? {}), ...(this.props.podLabels ?? {}) }, annotations: { ...(meta.annotations ?? {}) } };
  }

  /**
   * An adopted workload that already has a Service of the workload's name (a cdk8s-plus
   * `exposeViaService()`, or any other object of the app) would get a second Service of that
   * name from this library: the API server keeps one, kustomize refuses the folder. Refused with
   * the way out; the library does not reuse the other Service, whose port names, protocols and
   * selector it does not control (the meshes read them).
   * @internal
   */
  public _appProblems(): ZeroTrustError[] {
    if (!this.props.workload || !this.hasService()) return [];
    const clash = this.node.root.node.findAll().find((c) => {
      if (!ApiObject.isApiObject(c) || c.kind !== 'Service' || c.apiVersion !== 'v1') return false;
      if (c.node.scope === this) return false;
      let ns = c.metadata.namespace;
      if (ns === undefined) {
        try { ns = Chart.of(c).namespace; } catch { ns = undefined; }
      }
      return c.name === this.name && (ns ?? 'default') === this.namespace;
    });
    if (!clash) return [];
    return [new ZeroTrustError({
      code: 'SERVICE_ALREADY_EXISTS', namespace: this.namespace, workload: `${this.namespace}/${this.name}`,
      message: `SecureWorkload ${this.namespace}/${this.name}: the app already has a Service "${this.name}" in namespace ${this.namespace} (${clash.node.path}), and this workload would create a second one of that name; pass service: false to keep yours (it must select the pods and name the ports as the mesh needs), or remove it (or give it another name) and let the SecureWorkload create the Service`,
    })];
  }

  /** Shapes of a rule's arguments, checked where it is declared (plain JavaScript callers). */
  private checkRule(call: string, peer: IPeer, options: AllowOptions | undefined): void {
    const where = `${this.namespace}/${this.name}.${call}(${typeof (peer as any)?.toPeerSpec === 'function' ? '...' : '?'})`;
    if (typeof (peer as any)?.toPeerSpec !== 'function') {
      throw new ZeroTrustError({ code: 'INVALID_PEER', namespace: this.namespace, workload: `${this.namespace}/${this.name}`, rule: where, message: `${where}: the peer must be a SecureWorkload or a Peer.*() value, got ${peer === undefined ? 'undefined' : peer === null ? 'null' : typeof peer}` });
    }
    try {
      checkAllowOptionsShape(options, where);
    } catch (e) {
      throw (e as ZeroTrustError).within({ namespace: this.namespace, workload: `${this.namespace}/${this.name}`, rule: where });
    }
  }

  /** This workload as a peer of other workloads' rules. */
  public toPeerSpec(): PeerSpec {
    return { kind: PeerKind.APP_WORKLOAD, workload: this };
  }

  /** @internal */
  public _toModel(): WorkloadModel {
    if (!this.model) {
      this.model = {
        name: this.name,
        namespace: this.namespace,
        serviceAccount: this.serviceAccountName,
        selector: { ...this.selector },
        ports: [...this.ports],
        backend: this.chart._binding.backend,
        service: this.hasService(),
        ...(this.hasService() && this.isStatefulSet() ? { headless: true } : {}),
        probes: this.probes(),
      };
    }
    return this.model;
  }

  /**
   * Emits the ServiceAccount, Service and workload (or decorates the adopted one) with the
   * mesh's pod metadata. Called once at synth by the chart.
   * @internal
   */
  public _render(pod: MetadataAdditions, podSpec: PodSpecAdditions, service: MetadataAdditions = {}): void {
    const managed = { [MANAGED_BY_LABEL]: MANAGED_BY };
    const podLabels = sortKeys({ ...(this.props.podLabels ?? {}), ...(pod.labels ?? {}), ...this.selector });
    const podAnnotations = pod.annotations && Object.keys(pod.annotations).length ? sortKeys(pod.annotations) : undefined;
    const metadata = (name: string) => ({ name, namespace: this.namespace, labels: { ...this.selector, ...managed } });

    if (!this.props.workload) {
      new ApiObject(this, 'ServiceAccount', {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: metadata(this.serviceAccountName),
        // Mesh proxies mount their own projected tokens; the app needs no API token.
        automountServiceAccountToken: false,
      });
    }
    if (this.hasService()) {
      const serviceMetadata = metadata(this.name);
      new ApiObject(this, 'Service', {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { ...serviceMetadata, labels: { ...serviceMetadata.labels, ...(service.labels ?? {}) }, ...(service.annotations ? { annotations: { ...service.annotations } } : {}) },
        spec: {
          // A created StatefulSet's governing Service (`serviceName`) must be headless: Kubernetes
          // gives the pods their stable DNS names (`<pod>.<service>.<ns>.svc`) only through one.
          ...(this.isStatefulSet() ? { clusterIP: 'None' } : {}),
          selector: { ...this.selector },
          ports: this.ports.map((p) => ({
            name: p.name,
            port: p.number,
            targetPort: p.number,
            protocol: p.protocol,
            ...(appProtocolOf(p.kind) ? { appProtocol: appProtocolOf(p.kind) } : {}),
          })),
        },
      });
    }

    const adopted = this.props.workload;
    if (adopted) {
      for (const [k, v] of Object.entries(podLabels)) adopted.podMetadata.addLabel(k, v);
      for (const [k, v] of Object.entries(podAnnotations ?? {})) adopted.podMetadata.addAnnotation(k, v);
      if ((podSpec.containers ?? []).length > 0 || (podSpec.volumes ?? []).length > 0) {
        // cdk8s-plus has no raw-container API; patch the pod spec of the synthesized object.
        const api = ApiObject.of(adopted);
        for (const c of podSpec.containers ?? []) api.addJsonPatch(JsonPatch.add('/spec/template/spec/containers/-', c));
        const volumes = podSpec.volumes ?? [];
        if (volumes.length > 0) {
          // cdk8s-plus omits `volumes` when the pod has none; JSON patch cannot append to a missing array.
          if (adopted.volumes.length === 0) api.addJsonPatch(JsonPatch.add('/spec/template/spec/volumes', volumes));
          else for (const v of volumes) api.addJsonPatch(JsonPatch.add('/spec/template/spec/volumes/-', v));
        }
      }
      return;
    }

    const kind = this.props.kind ?? WorkloadKind.DEPLOYMENT;
    const container = this.container();
    const spec: any = {
      replicas: this.props.replicas ?? 1,
      selector: { matchLabels: { ...this.selector } },
      ...(kind === WorkloadKind.STATEFUL_SET ? { serviceName: this.name } : {}),
      template: {
        metadata: { labels: podLabels, ...(podAnnotations ? { annotations: podAnnotations } : {}) },
        spec: {
          serviceAccountName: this.serviceAccountName,
          automountServiceAccountToken: false,
          containers: [container, ...(podSpec.containers ?? [])],
          ...((podSpec.volumes ?? []).length ? { volumes: podSpec.volumes } : {}),
        },
      },
    };
    new ApiObject(this, kind, { apiVersion: 'apps/v1', kind, metadata: metadata(this.name), spec });
  }

  /** The httpGet probes of the pod template: the props of a created workload, or the adopted one's containers. */
  private probes(): ProbeModel[] {
    if (!this.props.workload) return probesOfPodSpec({ containers: [this.container()] });
    try {
      return probesOfPodSpec(ApiObject.of(this.props.workload).toJson()?.spec?.template?.spec);
    } catch {
      return [];
    }
  }

  /** The container of a created workload. */
  private container(): any {
    const p = this.props;
    const defaultPort = this.ports[0]?.number ?? 0;
    return {
      name: this.name,
      image: p.image,
      ...(this.ports.length ? {
        ports: this.ports.map((x) => ({ name: x.name, containerPort: x.number, protocol: x.protocol })),
      } : {}),
      ...(p.readiness ? { readinessProbe: p.readiness._toKube(defaultPort) } : {}),
      ...(p.liveness ? { livenessProbe: p.liveness._toKube(defaultPort) } : {}),
      ...(p.startup ? { startupProbe: p.startup._toKube(defaultPort) } : {}),
      securityContext: { allowPrivilegeEscalation: false },
    };
  }

  private isStatefulSet(): boolean {
    return !this.props.workload && (this.props.kind ?? WorkloadKind.DEPLOYMENT) === WorkloadKind.STATEFUL_SET;
  }

  private hasService(): boolean {
    return this.props.service ?? this.ports.length > 0;
  }
}

function appProtocolOf(kind: PortKind): string | undefined {
  switch (kind) {
    case PortKind.HTTP: return 'http';
    case PortKind.HTTP2: return 'http2';
    case PortKind.GRPC: return 'grpc';
    case PortKind.TCP: return 'tcp';
    default: return undefined;
  }
}

function portsOfContainers(workload: IAdoptableWorkload, where: string): Port[] {
  const out: Port[] = [];
  for (const c of workload.containers) {
    for (const p of c.ports ?? []) {
      const name = p.name;
      const udp = (p.protocol as string | undefined) === 'UDP';
      const kind = udp ? PortKind.UDP
        : name?.startsWith('grpc') ? PortKind.GRPC
          : name?.startsWith('http2') || name?.startsWith('h2c') ? PortKind.HTTP2
            : name?.startsWith('http') ? PortKind.HTTP : PortKind.TCP;
      if ((p.protocol as string | undefined) === 'SCTP') {
        throw new ZeroTrustError({ code: 'SCTP_NOT_SUPPORTED', message: `${where}: container ${c.name} port ${p.number} is SCTP, which no backend here secures` });
      }
      out.push(new Port({ number: p.number, kind, name }));
    }
  }
  return out;
}

function checkUniquePorts(ports: Port[], where: string): void {
  const names = new Set<string>();
  const numbers = new Set<string>();
  for (const p of ports) {
    if (p.endPort !== undefined) throw new ZeroTrustError({ code: 'INVALID_PORT', message: `${where}: a workload port cannot be a range (${p.toString()})` });
    if (names.has(p.name)) throw new ZeroTrustError({ code: 'DUPLICATE_PORT', message: `${where}: port name "${p.name}" is declared twice` });
    const key = `${p.number}/${p.protocol}`;
    if (numbers.has(key)) throw new ZeroTrustError({ code: 'DUPLICATE_PORT', message: `${where}: port ${key} is declared twice` });
    names.add(p.name);
    numbers.add(key);
  }
}

/** Returns a copy with keys in sorted order, so output is stable whatever the insertion order. */
export function sortKeys<T>(o: { [key: string]: T }): { [key: string]: T } {
  const out: { [key: string]: T } = {};
  for (const k of Object.keys(o).sort(compareText)) out[k] = o[k];
  return out;
}
