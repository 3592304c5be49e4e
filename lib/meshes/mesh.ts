import { MeshRenderer } from './renderer';
import { KumaMeshProps, KumaRenderer, kumaOptions } from './kuma';
import { NetworkPolicyMeshProps, NetworkPolicyRenderer } from './networkpolicy';
import { NetworkServiceMeshProps, NetworkServiceMeshRenderer, nsmSettings } from './nsm';

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
   * Network Service Mesh (v1.18): connects workloads at L3 instead of authorizing requests. Each
   * SecureWorkload that others may reach gets a `NetworkService` (payload IP, WireGuard-encrypted
   * between forwarders) and an endpoint container in its pods; each allowed source gets the
   * `networkservicemesh.io` annotation listing exactly the services it may reach; every
   * participant gets a SPIFFE identity (`ClusterSPIFFEID`, NSM's per-pod ID format). The primary
   * pod network stays in default deny and carries only flows with peers outside the app.
   *
   * An NSM connection opens every port in both directions: rules on a subset of ports or with HTTP
   * conditions are synth errors unless `allowPortsOverConnection` / `allowHttpRulesOverConnection`
   * accept the wider connection. NSM does not itself refuse a pod that adds the annotation on its
   * own; see docs/backends/nsm.md for what is and is not enforced.
   */
  public static networkServiceMesh(props: NetworkServiceMeshProps = {}): Mesh {
    const settings = nsmSettings(props);
    return new Mesh('nsm', () => new NetworkServiceMeshRenderer(settings));
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
