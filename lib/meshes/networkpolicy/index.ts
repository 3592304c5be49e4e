import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { MetadataAdditions, MeshRenderer, RenderContext } from '../renderer';
import { NetworkPolicyLayerOptions, checkExpressible, networkPolicies } from './policies';

export { checkExpressible, foldPeers, NetworkPolicyLayerOptions, NamespaceRule, NetworkPolicyPeer, NetworkPolicySelector, NetworkPolicyPort, NetworkPolicyRule, networkPolicies, peerOf, NAMESPACE_NAME_LABEL } from './policies';

/** Options of `Mesh.networkPolicy()`. */
export interface NetworkPolicyMeshProps {}

/** Emits the NetworkPolicy objects of a namespace into `scope`. Meshes call it for their L3/L4 layer. */
export function emitNetworkPolicies(scope: Construct, ctx: RenderContext, options: NetworkPolicyLayerOptions): void {
  for (const obj of networkPolicies(ctx.model, ctx.namespace.name, ctx.dns, options)) {
    new ApiObject(scope, `NetworkPolicy-${obj.metadata.name}`, obj);
  }
}

/** Plain Kubernetes NetworkPolicy: L3/L4 only, no identity, no encryption. */
export class NetworkPolicyRenderer implements MeshRenderer {
  public readonly backend = 'networkpolicy';

  public check(ctx: RenderContext): void {
    // The same check networkPolicies() runs, here so errors surface before any object is emitted.
    checkExpressible(ctx.model, ctx.namespace.name, { backend: this.backend });
  }

  public namespaceMetadata(): MetadataAdditions {
    return {};
  }

  public podMetadata(): MetadataAdditions {
    return {};
  }

  public render(scope: Construct, ctx: RenderContext): void {
    emitNetworkPolicies(scope, ctx, { backend: this.backend });
  }
}
