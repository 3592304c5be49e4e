import { ApiObject, Chart, JsonPatch } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import { Dns, DnsSpec } from './dns';
import { ZeroTrustError } from './errors';
import { MANAGED_BY, MANAGED_BY_LABEL } from './model';
import { checkDnsLabel } from './names';
import { IntentRegistry } from './registry';
import { IMesh, MeshBinding, MetadataAdditions, meshBinding } from './render';
import { ChartWorkload, ZeroTrustSynthesis } from './synthesis';
import type { SecureWorkload } from './workload';

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
   * Labels applied to every object of the chart.
   * @default - none
   */
  readonly labels?: { [key: string]: string };
}

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
    return typeof x === 'object' && x !== null && (x as any)[CHART_BRAND] === true;
  }

  /** The chart a construct belongs to; throws if its nearest chart is not a `ZeroTrustChart`. */
  public static ofConstruct(c: IConstruct): ZeroTrustChart {
    let scope: IConstruct | undefined = c;
    while (scope) {
      if (ZeroTrustChart.isZeroTrustChart(scope)) return scope;
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

  /** @internal */
  public readonly _binding: MeshBinding;
  private readonly namespaceObject?: ApiObject;
  private readonly declaredWorkloads: SecureWorkload[] = [];

  public constructor(scope: Construct, id: string, props: ZeroTrustChartProps) {
    super(scope, id, { namespace: props.namespace, labels: props.labels, disableResourceNameHashes: true });
    Object.defineProperty(this, CHART_BRAND, { value: true });
    checkDnsLabel(props.namespace, `ZeroTrustChart "${id}": namespace`);
    const binding = meshBinding(props.mesh);
    if (!binding) {
      throw new ZeroTrustError({ code: 'INVALID_MESH', message: `ZeroTrustChart "${id}": "mesh" must be one of the Mesh.*() factories` });
    }
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
    IntentRegistry.of(this).addNamespace({ name: this.namespaceName, backend: binding.backend });
    const synthesis = ZeroTrustSynthesis._of(this);
    synthesis._addChart(this);
    // cdk8s validates every construct before it collects the charts' objects; the synth step runs
    // at the first of these calls (or earlier, see ZeroTrustSynthesis) and reports this chart's problems.
    this.node.addValidation({ validate: () => synthesis._problemsOf(this) });
  }

  /** The SecureWorkloads of this chart, in the order they were declared. */
  public get workloads(): SecureWorkload[] {
    return [...this.declaredWorkloads];
  }

  /** Renders the app's intent (once) before the chart's objects are collected. */
  public toJson(): any[] {
    ZeroTrustSynthesis._of(this)._assertOk();
    return super.toJson();
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

/**
 * Marks an object as cluster-scoped: cdk8s would otherwise stamp the chart's namespace on it.
 * Use it for Namespace, Mesh, ClusterSPIFFEID and other cluster-wide kinds.
 */
export function clusterScoped<T extends ApiObject>(obj: T): T {
  obj.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
  return obj;
}
