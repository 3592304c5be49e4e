import { ApiObject, Chart, JsonPatch } from 'cdk8s';
import { Construct, IConstruct } from 'constructs';
import { Dns } from './dns';
import { ZeroTrustError } from './errors';
import { MANAGED_BY, MANAGED_BY_LABEL } from './model';
import { checkDnsLabel } from './names';
import { IntentRegistry } from './registry';
import type { SecureWorkload } from './workload';
import type { Mesh } from '../meshes/mesh';
import { RenderContext } from '../meshes/renderer';

/** Properties of a `ZeroTrustChart`. */
export interface ZeroTrustChartProps {
  /** The namespace every object of the chart lives in. */
  readonly namespace: string;
  /** The mesh to render the intent for. */
  readonly mesh: Mesh;
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
  /** The chart a construct belongs to; throws if it is not inside a `ZeroTrustChart`. */
  public static ofConstruct(c: IConstruct): ZeroTrustChart {
    let scope: IConstruct | undefined = c;
    while (scope) {
      if ((scope as unknown) instanceof ZeroTrustChart) return scope as ZeroTrustChart;
      scope = scope.node.scope;
    }
    throw new ZeroTrustError(`${c.node.path}: a SecureWorkload must be defined inside a ZeroTrustChart`);
  }

  /** The namespace name. */
  public readonly namespaceName: string;
  /** The mesh this chart renders for. */
  public readonly mesh: Mesh;
  /** Cluster DNS workloads may reach. */
  public readonly dns: Dns;

  private readonly namespaceObject?: ApiObject;
  private rendered = false;
  private readonly declaredWorkloads: SecureWorkload[] = [];

  public constructor(scope: Construct, id: string, props: ZeroTrustChartProps) {
    super(scope, id, { namespace: props.namespace, labels: props.labels, disableResourceNameHashes: true });
    checkDnsLabel(props.namespace, `ZeroTrustChart "${id}": namespace`);
    if (!props.mesh || typeof (props.mesh as any)._renderer !== 'function') {
      throw new ZeroTrustError(`ZeroTrustChart "${id}": "mesh" must be one of the Mesh.*() factories`);
    }
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
    IntentRegistry.of(this).addNamespace({ name: this.namespaceName, backend: this.mesh.id });
    // Rendering happens late, at synth: cdk8s validates every construct before it collects the
    // charts' objects, so objects added here are part of the output.
    this.node.addValidation({ validate: () => this.renderOnce() });
  }

  /** The SecureWorkloads of this chart, in the order they were declared. */
  public get workloads(): SecureWorkload[] {
    return [...this.declaredWorkloads];
  }

  /**
   * Called by each SecureWorkload once it is fully constructed.
   * @internal
   */
  public _addWorkload(workload: SecureWorkload): void {
    this.declaredWorkloads.push(workload);
  }

  private renderOnce(): string[] {
    if (this.rendered) return [];
    const registry = IntentRegistry.of(this);
    const { model, errors } = registry.resolve();
    const mine = errors.filter((e) => e.namespace === this.namespaceName).map((e) => `[${this.mesh.id}] ${e.message}`);
    if (errors.length > 0) return mine;

    const renderer = this.mesh._renderer();
    const ctx: RenderContext = {
      model,
      namespace: model.namespaces.find((n) => n.name === this.namespaceName)!,
      dns: this.dns.spec,
    };
    try {
      renderer.check(ctx);
      this.rendered = true;
      if (this.namespaceObject) {
        const meta = renderer.namespaceMetadata(ctx);
        for (const [k, v] of Object.entries(meta.labels ?? {})) this.namespaceObject.metadata.addLabel(k, v);
        for (const [k, v] of Object.entries(meta.annotations ?? {})) this.namespaceObject.metadata.addAnnotation(k, v);
      }
      for (const w of this.workloads) {
        const wm = w._toModel();
        w._render(renderer.podMetadata(ctx, wm), renderer.podSpecAdditions?.(ctx, wm) ?? {});
      }
      renderer.render(this, ctx);
    } catch (e) {
      if (e instanceof ZeroTrustError) {
        return [e.message.startsWith(`[${renderer.backend}]`) ? e.message : `[${renderer.backend}] ${e.message}`];
      }
      throw e;
    }
    return [];
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
