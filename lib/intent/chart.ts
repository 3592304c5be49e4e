import { ApiObject, Chart, JsonPatch } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import { Dns, DnsSpec } from './dns';
import { ZeroTrustError } from './errors';
import { MANAGED_BY, MANAGED_BY_LABEL, NAME_LABEL } from './model';
import { checkDnsLabel, checkLabels, reservedKey, shown } from './names';
import { parseClusterNetworks } from './networks';
import { IPeer } from './peer';
import { Port } from './port';
import { IntentRegistry } from './registry';
import { IMesh, MeshBinding, MetadataAdditions, meshBinding } from './render';
import { Enforcement, MtlsMode, StageModel, chartStage } from './stage';
import { ChartWorkload, ZeroTrustSynthesis } from './synthesis';
import { ChartDocuments } from '../output/written';
import type { SecureWorkload } from './workload';

import { brand, isBranded, isBrandedHere } from './brand';

const CHART_BRAND = Symbol.for('cdk8s-zero-trust.ZeroTrustChart');

/** Properties of a `ZeroTrustChart`. */
export interface ZeroTrustChartProps {
  /** The namespace every object of the chart lives in. */
  readonly namespace: string;
  /** The mesh to render the intent for: one of the `Mesh.*()` factories. */
  readonly mesh: IMesh;
  /**
   * Cluster DNS that workloads may always reach.
   * @default Dns.kubeDns()
   */
  readonly dns?: Dns;
  /**
   * Whether the chart emits the Namespace object (with the mesh's labels).
   * @default true
   */
  readonly createNamespace?: boolean;
  /**
   * Labels applied to every object of the chart (the Namespace too). They must be valid label
   * keys and values, and may not set the labels this library selects by or the labels the mesh
   * reserves (its enrolment labels, such as `istio-injection`).
   * @default - none
   */
  readonly labels?: { [key: string]: string };
  /**
   * Whether synth reads this chart's output back with the backend's reader and fails when the
   * objects allow a probed connection the intent does not declare, or deny one it declares.
   * Every workload is probed against every other party (workloads, peers, an intruder per
   * namespace, an outsider, addresses, hosts, ports, HTTP requests); beyond about 250,000
   * probed connections per mesh, each workload is probed against its declared peers and a fixed
   * set of others instead. It adds roughly 0.5-2x the synth time of the chart (see the README,
   * "Fail closed"); turn it off for very large charts whose output is verified otherwise.
   * @default true
   */
  readonly selfCheck?: boolean;
  /**
   * The cluster's pod and Service address ranges (CIDRs). When given, a `Peer.ipBlock()` that
   * overlaps one of them, as source or destination of a rule of this chart's workloads, is a
   * synth error (`IP_BLOCK_OVERLAPS_CLUSTER`): NetworkPolicy would admit every pod in the overlap
   * on the rule's ports, whatever its labels or identity. The ranges are also cut out of the
   * every-address egress that the NetworkPolicy layer opens below a mesh for host names (Istio
   * sidecar, Kuma), so that egress reaches no pod or Service address directly.
   * @default - unknown: ip-blocks are not checked against the cluster's ranges
   */
  readonly clusterNetworks?: string[];
  /**
   * Emit the identity guard: a `ValidatingAdmissionPolicy` and binding
   * (admissionregistration.k8s.io/v1, Kubernetes 1.30+) for this namespace that refuse a pod
   * carrying a workload's selector labels unless it runs as that workload's ServiceAccount, and a
   * pod running as a workload's ServiceAccount without its selector labels. With Network Service
   * Mesh it also refuses endpoint containers naming another workload's NetworkService (in this
   * namespace and, by a second, cluster-wide policy, in any other). The objects are
   * cluster-scoped, named `zero-trust-identity.<namespace>` (and `zero-trust-nsm-services.<namespace>`),
   * and emitted once per app. See the README, "Identity guard".
   * @default false
   */
  readonly identityGuard?: boolean;
  /**
   * The rollout stage: `Enforcement.AUDIT` admits every connection that reaches a workload of the
   * chart and has the mesh record the ones the intent does not declare ("would be denied"), so a
   * team can fix its intent before it enforces. Istio (sidecar) and Linkerd honour it; every other
   * backend refuses it (`STAGE_NOT_SUPPORTED`, naming the alternatives). What the workloads may
   * send stays enforced. See the README, "Rolling out".
   * @default Enforcement.ENFORCE
   */
  readonly enforcement?: Enforcement;
  /**
   * The mTLS stage: `MtlsMode.PERMISSIVE` accepts plaintext from clients without a proxy while
   * they are being enrolled (Istio sidecar: PeerAuthentication `PERMISSIVE`). The authorization
   * still decides; pair it with `Enforcement.AUDIT` to admit such clients and see them. Other
   * backends refuse it (`MTLS_MODE_NOT_SUPPORTED`).
   * @default MtlsMode.STRICT
   */
  readonly mtls?: MtlsMode;
}

/** Options of `ZeroTrustChart.allowMetricsScraping`. */
export interface MetricsScrapingOptions {
  /**
   * The workloads' own metrics port (each scraped workload must declare it among its ports).
   * @default - none: only the mesh proxy's metrics ports
   */
  readonly appPort?: Port;
  /**
   * The workloads to scrape (of this chart).
   * @default - every SecureWorkload of the chart, declared before or after the call
   */
  readonly workloads?: SecureWorkload[];
  /**
   * Whether to open the metrics ports of the mesh's proxy in each pod: Istio sidecar 15020
   * (merged) and 15090 (Envoy), Linkerd 4191 (proxy admin, with a Server and an authorization for
   * the scraper), Kuma 5670. Ambient Istio, Cilium, NSM and plain NetworkPolicy have no proxy in
   * the pod and open none.
   * @default true
   */
  readonly proxyMetrics?: boolean;
}

/** Labels of every object that this library sets itself: a chart's `labels` may not override them. */
const OWN_LABELS = [NAME_LABEL, MANAGED_BY_LABEL, 'kubernetes.io/metadata.name'];

/**
 * One namespace in zero trust: everything is closed except what its `SecureWorkload`s allow.
 * Several charts in one app are several namespaces; flows may cross them.
 */
export class ZeroTrustChart extends Chart {
  /**
   * True when `x` is a `ZeroTrustChart` (of any copy of this library). Use it instead of
   * `instanceof`, which cdk8s's `Chart` answers true for every chart.
   */
  public static isZeroTrustChart(x: any): x is ZeroTrustChart {
    return isBranded(x, CHART_BRAND);
  }

  /** The chart a construct belongs to; throws if its nearest chart is not a `ZeroTrustChart`. */
  public static ofConstruct(c: IConstruct): ZeroTrustChart {
    let scope: IConstruct | undefined = c;
    while (scope) {
      if (ZeroTrustChart.isZeroTrustChart(scope)) {
        if (!isBrandedHere(scope, CHART_BRAND)) {
          throw new ZeroTrustError({ code: 'FOREIGN_LIBRARY_COPY', message: `${c.node.path}: its ZeroTrustChart ${scope.node.path} comes from another copy of cdk8s-zero-trust, which records intent of its own; install one copy (npm ls cdk8s-zero-trust)` });
        }
        return scope;
      }
      if (Chart.isChart(scope)) {
        throw new ZeroTrustError({ code: 'NOT_IN_ZERO_TRUST_CHART', message: `${c.node.path}: a SecureWorkload must be defined inside a ZeroTrustChart, not in the plain Chart ${scope.node.path}` });
      }
      scope = scope.node.scope;
    }
    throw new ZeroTrustError({ code: 'NOT_IN_ZERO_TRUST_CHART', message: `${c.node.path}: a SecureWorkload must be defined inside a ZeroTrustChart` });
  }

  /** The namespace name. */
  public readonly namespaceName: string;
  /** The mesh this chart renders for. */
  public readonly mesh: IMesh;
  /** Cluster DNS workloads may reach. */
  public readonly dns: Dns;
  /** The chart's rollout stage: `ENFORCE`, or `AUDIT` (see `ZeroTrustChartProps.enforcement`). */
  public readonly enforcement: Enforcement;
  /** The chart's mTLS stage: `STRICT`, or `PERMISSIVE` (see `ZeroTrustChartProps.mtls`). */
  public readonly mtls: MtlsMode;

  /** @internal */
  public readonly _binding: MeshBinding;
  /** @internal */
  public readonly _selfCheck: boolean;
  /** @internal */
  public readonly _emitsNamespace: boolean;
  /** The cluster's pod and Service ranges, normalized and sorted (empty: unknown). @internal */
  public readonly _clusterNetworks: string[];
  /** @internal */
  public readonly _identityGuard: boolean;
  /** The chart's rollout stage. @internal */
  public readonly _stage: StageModel;
  private readonly namespaceObject?: ApiObject;
  private readonly declaredWorkloads: SecureWorkload[] = [];
  private keptDocuments?: any[];

  public constructor(scope: Construct, id: string, props: ZeroTrustChartProps) {
    super(scope, id, { namespace: props?.namespace, labels: props?.labels, disableResourceNameHashes: true });
    brand(this, CHART_BRAND);
    if (typeof props !== 'object' || props === null) {
      throw new ZeroTrustError({ code: 'INVALID_ARGUMENT', message: `ZeroTrustChart "${id}": expected props { namespace, mesh, ... }, got ${shown(props)}` });
    }
    checkDnsLabel(props.namespace, `ZeroTrustChart "${id}": namespace`);
    const binding = meshBinding(props.mesh);
    if (!binding) {
      throw new ZeroTrustError({ code: 'INVALID_MESH', message: `ZeroTrustChart "${id}": "mesh" must be one of the Mesh.*() factories` });
    }
    if (props.labels !== undefined) checkChartLabels(props.labels, `ZeroTrustChart "${id}" (namespace ${props.namespace})`, binding);
    if (props.selfCheck !== undefined && typeof props.selfCheck !== 'boolean') {
      throw new ZeroTrustError({ code: 'INVALID_ARGUMENT', message: `ZeroTrustChart "${id}": selfCheck must be true or false, got ${shown(props.selfCheck)}` });
    }
    this._selfCheck = props.selfCheck ?? true;
    if (props.identityGuard !== undefined && typeof props.identityGuard !== 'boolean') {
      throw new ZeroTrustError({ code: 'INVALID_ARGUMENT', message: `ZeroTrustChart "${id}": identityGuard must be true or false, got ${shown(props.identityGuard)}` });
    }
    this._identityGuard = props.identityGuard ?? false;
    this._emitsNamespace = props.createNamespace ?? true;
    this._clusterNetworks = props.clusterNetworks === undefined ? [] : parseClusterNetworks(props.clusterNetworks, `ZeroTrustChart "${id}"`);
    this._stage = chartStage(props.enforcement, props.mtls, binding.backend, `ZeroTrustChart "${id}" (namespace ${props.namespace})`, props.namespace);
    this.enforcement = this._stage.enforcement === 'audit' ? Enforcement.AUDIT : Enforcement.ENFORCE;
    this.mtls = this._stage.mtls === 'permissive' ? MtlsMode.PERMISSIVE : MtlsMode.STRICT;
    this._binding = binding;
    this.namespaceName = props.namespace;
    this.mesh = props.mesh;
    this.dns = props.dns ?? Dns.kubeDns();
    if (props.createNamespace ?? true) {
      // Created now so it comes first in the output; the mesh's labels are added at synth.
      this.namespaceObject = clusterScoped(new ApiObject(this, 'Namespace', {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: this.namespaceName, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
      }));
    }
    IntentRegistry.of(this).addNamespace({ name: this.namespaceName, backend: binding.backend, ...(binding.meshKey ? { mesh: binding.meshKey } : {}), ...this._stage });
    const synthesis = ZeroTrustSynthesis._of(this);
    synthesis._addChart(this);
    // cdk8s validates every construct before it collects the charts' objects; the synth step runs
    // at the first of these calls (or earlier, see ZeroTrustSynthesis). A failed synth throws its
    // ZeroTrustError (every problem of the app, with codes) rather than cdk8s's plain Error.
    this.node.addValidation({ validate: () => { synthesis._assertOk(); return []; } });
  }

  /**
   * Lets a metrics scraper (Prometheus, an OpenTelemetry collector) reach the chart's workloads:
   * their own metrics port (`appPort`) and the metrics ports of the mesh's proxy in each pod, and
   * nothing else. Recorded as intent like `allowFrom` (the flows show in `zero-trust.intent.json`,
   * `flows` and `verify`), rendered by each backend for the ports it sees: the NetworkPolicy layer
   * for all of them, Linkerd's policy for its admin port; Istio's 15020/15090 and Kuma's 5670 are
   * not under the mesh's authorization, which therefore cannot tell the scraper's identity there.
   * @param scraper the scraper's pods (`Peer.workload({ namespace, labels, serviceAccount })`, or a SecureWorkload)
   */
  public allowMetricsScraping(scraper: IPeer, options: MetricsScrapingOptions = {}): void {
    const where = `ZeroTrustChart ${this.namespaceName}: allowMetricsScraping`;
    if (typeof (scraper as any)?.toPeerSpec !== 'function') {
      throw new ZeroTrustError({ code: 'INVALID_PEER', namespace: this.namespaceName, message: `${where}: the scraper must be a SecureWorkload or a Peer.*() value, got ${shown(scraper)}` });
    }
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw new ZeroTrustError({ code: 'INVALID_ARGUMENT', namespace: this.namespaceName, message: `${where}: expected options { appPort?, workloads?, proxyMetrics? }, got ${shown(options)}` });
    }
    if (options.appPort !== undefined && !(options.appPort instanceof Port)) {
      throw new ZeroTrustError({ code: 'INVALID_ARGUMENT', namespace: this.namespaceName, message: `${where}: appPort must be a Port (Port.http(9090)), got ${shown(options.appPort)}` });
    }
    if (options.workloads !== undefined && !Array.isArray(options.workloads)) {
      throw new ZeroTrustError({ code: 'INVALID_ARGUMENT', namespace: this.namespaceName, message: `${where}: workloads must be an array of SecureWorkloads of this chart, got ${shown(options.workloads)}` });
    }
    if (options.proxyMetrics !== undefined && typeof options.proxyMetrics !== 'boolean') {
      throw new ZeroTrustError({ code: 'INVALID_ARGUMENT', namespace: this.namespaceName, message: `${where}: proxyMetrics must be true or false, got ${shown(options.proxyMetrics)}` });
    }
    for (const w of options.workloads ?? []) {
      if (!(w as any)?._toModel || w.namespace !== this.namespaceName) {
        throw new ZeroTrustError({ code: 'INVALID_ARGUMENT', namespace: this.namespaceName, message: `${where}: workloads must be SecureWorkloads of this chart (namespace ${this.namespaceName}), got ${(w as any)?.namespace !== undefined ? `${(w as any).namespace}/${(w as any).name}` : shown(w)}` });
      }
    }
    const proxyPorts = options.proxyMetrics === false ? [] : this._binding.proxyMetricsPorts?.() ?? [];
    if (!options.appPort && proxyPorts.length === 0) {
      throw new ZeroTrustError({
        code: 'NOTHING_TO_SCRAPE', backend: this._binding.backend, namespace: this.namespaceName,
        message: `${where}: the ${this._binding.backend} backend has no proxy metrics port in the pods${options.proxyMetrics === false ? ' (or proxyMetrics is false)' : ''}, and no appPort is given; give the workloads' metrics port as appPort`,
      });
    }
    IntentRegistry.of(this).addScrape({ namespace: this.namespaceName, peer: scraper, appPort: options.appPort, proxyPorts, workloads: options.workloads && [...options.workloads] });
  }

  /** The SecureWorkloads of this chart, in the order they were declared. */
  public get workloads(): SecureWorkload[] {
    return [...this.declaredWorkloads];
  }

  /**
   * Renders the app's intent (once) before the chart's objects are collected. The first call
   * after synthesis returns the documents the self-check read.
   */
  public toJson(): any[] {
    ZeroTrustSynthesis._of(this)._assertOk();
    const kept = this.keptDocuments;
    this.keptDocuments = undefined;
    const docs = kept ?? super.toJson();
    // For ZeroTrustReview.write after app.synth(): the file's documents without parsing it back.
    ChartDocuments.record(this, docs);
    return docs;
  }

  /** @internal */
  public _renderDocuments(): any[] {
    return super.toJson();
  }

  /** @internal */
  public _keepDocuments(docs: any[] | undefined): void {
    this.keptDocuments = docs;
  }

  /**
   * Called by each SecureWorkload once it is fully constructed.
   * @internal
   */
  public _addWorkload(workload: SecureWorkload): void {
    this.declaredWorkloads.push(workload);
  }

  /** @internal */
  public get _dns(): DnsSpec {
    return this.dns.spec;
  }

  /** @internal */
  public _workloadsToRender(): ChartWorkload[] {
    return this.declaredWorkloads;
  }

  /** @internal */
  public _decorateNamespace(meta: MetadataAdditions): void {
    if (!this.namespaceObject) return;
    for (const [k, v] of Object.entries(meta.labels ?? {})) this.namespaceObject.metadata.addLabel(k, v);
    for (const [k, v] of Object.entries(meta.annotations ?? {})) this.namespaceObject.metadata.addAnnotation(k, v);
  }
}

function checkChartLabels(labels: { [key: string]: string }, where: string, binding: MeshBinding): void {
  checkLabels(labels, `${where}: labels`);
  for (const key of Object.keys(labels)) {
    if (OWN_LABELS.includes(key)) {
      throw new ZeroTrustError({ code: 'RESERVED_LABEL', message: `${where}: labels must not set "${key}"; this library sets it on the objects that need it (and cdk8s would stamp it on every object)` });
    }
    const hit = reservedKey(key, binding.reserved);
    if (hit) {
      throw new ZeroTrustError({ code: 'RESERVED_LABEL', backend: binding.backend, message: `${where}: labels must not set "${key}", which the ${binding.backend} backend reserves${hit !== key ? ` (${hit}*)` : ''}: on the Namespace it would change how the mesh enrols the pods; the chart sets what the mesh needs` });
    }
  }
}

/**
 * Marks an object as cluster-scoped: cdk8s would otherwise stamp the chart's namespace on it.
 * Use it for Namespace, Mesh, ClusterSPIFFEID and other cluster-wide kinds.
 */
export function clusterScoped<T extends ApiObject>(obj: T): T {
  obj.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
  return obj;
}
