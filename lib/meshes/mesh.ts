import { MeshRenderer } from './renderer';
import { CiliumMeshProps, CiliumRenderer } from './cilium';
import { NetworkPolicyMeshProps, NetworkPolicyRenderer } from './networkpolicy';

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
   * Cilium: one `CiliumNetworkPolicy` per workload (ingress and egress sections) plus a namespace
   * baseline that denies by default and keeps DNS open; peers by labels, namespace and
   * ServiceAccount; HTTP rules enforced by Cilium's proxy; FQDN egress with `toFQDNs` and a DNS rule
   * for exactly the allowed names. Peers are authenticated with SPIRE by default.
   */
  public static cilium(props: CiliumMeshProps = {}): Mesh {
    const renderer = new CiliumRenderer(props); // validates props at construction
    return new Mesh('cilium', () => renderer);
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
