import { MeshRenderer } from './renderer';
import { CiliumMeshProps, CiliumRenderer } from './cilium';
import { KumaMeshProps, KumaRenderer, kumaOptions } from './kuma';
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
