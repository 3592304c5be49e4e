import { MeshRenderer } from './renderer';
import { IstioMeshProps, IstioRenderer, istioSettings } from './istio';
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
   * Istio, in sidecar mode (id `istio`) or ambient mode (id `istio-ambient`). Emits namespace
   * enrolment, STRICT `PeerAuthentication`, an allow-nothing `AuthorizationPolicy` and one ALLOW
   * policy per destination workload naming its sources by SPIFFE principal
   * (`<trustDomain>/ns/<namespace>/sa/<serviceAccount>`) and its container ports. HTTP rules need
   * HTTP/gRPC ports; in ambient mode they are enforced by a waypoint that is created only for the
   * Services that need it. Sidecar mode restricts egress with `Sidecar` (REGISTRY_ONLY) and
   * `ServiceEntry`; ambient mode rejects host-name egress (ztunnel ignores REGISTRY_ONLY). The
   * NetworkPolicy layer stays on underneath, opened for istiod, HBONE (15008) and ambient probes.
   */
  public static istio(props: IstioMeshProps = {}): Mesh {
    const settings = istioSettings(props);
    return new Mesh(settings.backend, () => new IstioRenderer(settings));
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
