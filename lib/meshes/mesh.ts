import { MeshRenderer } from './renderer';
import { NetworkPolicyMeshProps, NetworkPolicyRenderer } from './networkpolicy';
import { LinkerdMeshProps, LinkerdRenderer, linkerdSettings } from './linkerd';

/**
 * The mesh a `ZeroTrustChart` renders its intent for. One intent, every mesh: pick one per
 * namespace with the static factories.
 */
export class Mesh {
  /** Plain Kubernetes NetworkPolicy (default deny, DNS, per-workload allows); no identity or encryption. */
  public static networkPolicy(_props: NetworkPolicyMeshProps = {}): Mesh {
    return new Mesh('networkpolicy', () => new NetworkPolicyRenderer());
  }

  /**
   * Linkerd 2.x (2.16+; objects checked against the 2.20 CRDs) with its current policy API.
   *
   * Emits the namespace annotations `linkerd.io/inject: enabled` and
   * `config.linkerd.io/default-inbound-policy: deny`; one `Server` (policy.linkerd.io/v1beta3)
   * per TCP workload port with `proxyProtocol` from the port kind; `MeshTLSAuthentication`
   * (ServiceAccount or Namespace identityRefs) or `NetworkAuthentication` (IP blocks,
   * unauthenticated) with an `AuthorizationPolicy` per Server; HTTP rules as Gateway API
   * `HTTPRoute`s with the authorization on the route, plus a catch-all route and a kubelet probe
   * route; and the NetworkPolicy layer admitting the proxy port 4143 from declared sources, the
   * control plane and DNS.
   *
   * Fails at synth for host-name egress (Linkerd's EgressNetwork is namespace-wide), for
   * `Peer.workload()` sources without a ServiceAccount, and for HTTP rules of different sources
   * that overlap on one port.
   */
  public static linkerd(props: LinkerdMeshProps = {}): Mesh {
    linkerdSettings(props); // validate now, where the user wrote it
    return new Mesh('linkerd', () => new LinkerdRenderer(props));
  }

  /**
   * @param id backend id, also the output folder name
   * @param factory creates the renderer
   */
  private constructor(public readonly id: string, private readonly factory: () => MeshRenderer) {}

  /** @internal */
  public _renderer(): MeshRenderer {
    return this.factory();
  }
}
