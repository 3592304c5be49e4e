import { MeshRenderer } from './renderer';
import { KumaMeshProps, KumaRenderer, kumaOptions } from './kuma';
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
   * Kuma 2.x on Kubernetes (tested against the 2.14 CRDs). The namespace joins the mesh
   * (`kuma.io/sidecar-injection: enabled`, `kuma.io/mesh`); the `Mesh` (builtin CA, mTLS STRICT,
   * so Kuma denies what no permission allows) is emitted unless `createMesh` is false; each
   * destination workload gets a `MeshTrafficPermission` whose `from` entries match the allowed
   * clients by their tags (pod labels and `k8s.kuma.io/namespace`), per port (`sectionName`)
   * where ports differ; egress leaving the mesh goes through `MeshPassthrough` (`Matched` for
   * workloads allowed to reach an address or host, `None` for the rest); NetworkPolicy stays on
   * below and admits kuma-cp on 5678 and DNS. HTTP rules and address-range sources are synth
   * errors (see `KumaMeshProps.httpRules` and docs/backends/kuma.md). Output folder: `kuma`.
   */
  public static kuma(props: KumaMeshProps = {}): Mesh {
    const options = kumaOptions(props);
    return new Mesh('kuma', () => new KumaRenderer(options));
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
