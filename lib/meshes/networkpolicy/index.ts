import { WeakenProps } from '../../intent/weaken';
import { BackendId } from '../../intent/backend';
import { ZeroTrustModel } from '../../intent/model';
import { MeshRenderer, RenderBackend, RenderContext, RenderedObject } from '../../intent/render';
import { NetworkPolicyLayerOptions, checkExpressible, networkPolicies } from './policies';

export { NetworkPolicyLayerOptions, NAMESPACE_NAME_LABEL } from './policies';

/** Options of `Mesh.networkPolicy()`. */
export interface NetworkPolicyMeshProps extends WeakenProps {}

/** What the NetworkPolicy layer renders for one namespace: its options and, where it differs, the model it sees. */
export interface NetworkPolicyLayerPlan {
  readonly options: NetworkPolicyLayerOptions;
  /** The flows this layer carries, when not every flow of the app (NSM keeps only flows with peers outside the app). */
  readonly model?: ZeroTrustModel;
}

/**
 * The NetworkPolicy layer: default deny, DNS, per-workload allows. It is the whole of
 * `Mesh.networkPolicy()` and the L3/L4 layer under every mesh that keeps one; each mesh says how
 * the layer is opened for it (`plan`), and the synth step runs the layer once.
 */
export class NetworkPolicyLayer implements MeshRenderer {
  /** The layer opens the proxy's own ports (metrics) too. */
  public readonly rendersProxyFlows = true;
  private readonly plans = new WeakMap<RenderContext, NetworkPolicyLayerPlan>();

  /** @param plan the layer's options for a namespace (computed once per namespace) */
  public constructor(public readonly backend: BackendId, private readonly plan: (ctx: RenderContext) => NetworkPolicyLayerPlan) {}

  public check(ctx: RenderContext): void {
    const { options, model } = this.planOf(ctx);
    checkExpressible(model ?? ctx.model, ctx.namespace.name, options);
  }

  public render(ctx: RenderContext): RenderedObject[] {
    const { options, model } = this.planOf(ctx);
    const clusterNetworks = options.clusterNetworks ?? ctx.clusterNetworks;
    return networkPolicies(model ?? ctx.model, ctx.namespace.name, ctx.dns, clusterNetworks ? { ...options, clusterNetworks } : options);
  }

  private planOf(ctx: RenderContext): NetworkPolicyLayerPlan {
    let plan = this.plans.get(ctx);
    if (!plan) {
      plan = this.plan(ctx);
      this.plans.set(ctx, plan);
    }
    return plan;
  }
}

/** Plain Kubernetes NetworkPolicy: L3/L4 only, no identity, no encryption. */
export const networkPolicyBackend: RenderBackend<NetworkPolicyMeshProps, {}> = {
  settings: () => ({}),
  id: () => 'networkpolicy',
  layers: () => [new NetworkPolicyLayer('networkpolicy', () => ({ options: { backend: 'networkpolicy' } }))],
};
