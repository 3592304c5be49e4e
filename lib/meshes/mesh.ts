import { MeshRenderer } from './renderer';
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
   * @param id backend id, also the output folder name
   * @param factory creates the renderer
   */
  private constructor(public readonly id: string, private readonly factory: () => MeshRenderer) {}

  /** @internal */
  public _renderer(): MeshRenderer {
    return this.factory();
  }
}
