import { WeakenProps } from '../../intent/weaken';
import { ZeroTrustError } from '../../intent/errors';
import { MetadataAdditions, MeshRenderer, RenderBackend, RenderContext, RenderedObject } from '../../intent/render';
import { SpiffeIdRegistration, registerWorkloads } from '../spire';
import { AuthMode, checkCilium, ciliumPolicies, ZTUNNEL_NAMESPACE_LABEL } from './policies';


/** How Cilium authenticates (and with ztunnel, encrypts) traffic between pods. */
export enum CiliumMutualAuth {
  /**
   * Cilium mutual authentication with SPIRE: every allow rule between pods says
   * `authentication: { mode: required }`. Needs Cilium 1.14+ with Helm values
   * `authentication.mutual.spire.enabled=true` (and `.install.enabled=true` for the bundled SPIRE).
   * It authenticates but does not encrypt: add WireGuard or IPsec (`encryption.enabled=true`).
   * Deprecated in Cilium 1.20 (cilium/cilium#47132), removal planned for a later release (likely
   * 1.21), together with its Helm values; ZTUNNEL is its successor. Choose it explicitly, and only
   * where you need HTTP rules, UDP or port subsets between workloads with peer authentication.
   */
  SPIRE = 'spire',
  /**
   * Cilium's ztunnel transparent encryption (beta, Cilium 1.20+; Helm `encryption.enabled=true`,
   * `encryption.type=ztunnel`): namespaces are enrolled with the label
   * `io.cilium/mtls-enabled: "true"`. TCP only; between enrolled pods Cilium sees only the HBONE
   * port 15008, so HTTP rules and partial port sets between workloads are rejected at synth, and an
   * allowed peer reaches every port of the destination pod through HBONE (wider than declared).
   */
  ZTUNNEL = 'ztunnel',
  /**
   * Policies only: peers are Cilium's label identities, ports exactly as declared. The default:
   * encrypt the pod traffic with Cilium's transparent encryption (Helm `encryption.enabled=true`,
   * `encryption.type=wireguard` or `ipsec`, stable), which needs nothing in the policies.
   */
  NONE = 'none',
}

/** Options of `Mesh.cilium()`. */
export interface CiliumMeshProps extends WeakenProps {
  /**
   * How traffic between pods is authenticated.
   * @default CiliumMutualAuth.NONE (it was SPIRE, which Cilium 1.20 deprecated; see docs/backends/cilium.md)
   */
  readonly mutualAuth?: CiliumMutualAuth;
  /**
   * Also register every workload with SPIRE (one `ClusterSPIFFEID` each, ID from namespace and
   * ServiceAccount), for applications that fetch SVIDs from the SPIRE workload API. Cilium's own
   * mutual authentication does not need these: it registers identity-based IDs itself.
   * @default - no ClusterSPIFFEID objects
   */
  readonly spiffeIds?: SpiffeIdRegistration;
}

/** Cilium: CiliumNetworkPolicy per workload, enforced by Cilium at L3/L4 and L7. */
class CiliumRenderer implements MeshRenderer {
  public readonly backend = 'cilium';
  private readonly auth: AuthMode;
  private readonly spiffeIds?: SpiffeIdRegistration;

  public constructor(settings: CiliumSettings) {
    this.auth = settings.auth;
    this.spiffeIds = settings.spiffeIds;
  }

  public check(ctx: RenderContext): void {
    if (this.auth === 'ztunnel' && ctx.createsNamespace === false) {
      throw new ZeroTrustError({
        code: 'NAMESPACE_ENROLMENT_NEEDED', backend: this.backend, namespace: ctx.namespace.name,
        message: `namespace ${ctx.namespace.name} is managed elsewhere (createNamespace: false), and Cilium's ztunnel enrols pods only by the namespace label ${ZTUNNEL_NAMESPACE_LABEL}: "true", so its pods would talk unencrypted; let the chart create the namespace, or use CiliumMutualAuth.SPIRE or NONE`,
      });
    }
    checkCilium(ctx.model, ctx.namespace.name, ctx.dns, { backend: this.backend, auth: this.auth });
  }

  public namespaceMetadata(): MetadataAdditions {
    return this.auth === 'ztunnel' ? { labels: { [ZTUNNEL_NAMESPACE_LABEL]: 'true' } } : {};
  }

  public render(ctx: RenderContext): RenderedObject[] {
    const policies: RenderedObject[] = ciliumPolicies(ctx.model, ctx.namespace.name, ctx.dns, { backend: this.backend, auth: this.auth });
    return this.spiffeIds ? [...policies, ...registerWorkloads(ctx.model.workloads, ctx.namespace.name, this.spiffeIds)] : policies;
  }
}

/** Resolved settings of the Cilium backend. */
export interface CiliumSettings {
  readonly auth: AuthMode;
  readonly spiffeIds?: SpiffeIdRegistration;
}

/** Resolves and validates the props of `Mesh.cilium()`. */
function ciliumSettings(props: CiliumMeshProps = {}): CiliumSettings {
  const mode = props.mutualAuth ?? CiliumMutualAuth.NONE;
  if (!Object.values(CiliumMutualAuth).includes(mode)) {
    throw new ZeroTrustError({ code: 'INVALID_MESH_PROPS', backend: 'cilium', message: `mutualAuth "${mode}" is not one of ${Object.values(CiliumMutualAuth).join(', ')}` });
  }
  return { auth: mode as unknown as AuthMode, spiffeIds: props.spiffeIds };
}

/** Cilium: its own L3/L4 layer, with no NetworkPolicy under it. */
export const ciliumBackend: RenderBackend<CiliumMeshProps, CiliumSettings> = {
  settings: ciliumSettings,
  id: () => 'cilium',
  layers: (settings) => [new CiliumRenderer(settings)],
};

