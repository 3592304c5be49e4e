import { WeakenProps } from '../../intent/weaken';
import { ZeroTrustError } from '../../intent/errors';
import { checkDnsLabel, checkDnsSubdomain } from '../../intent/names';
import { normalizeCidr, parseCidr } from '../../intent/cidr';
import { checkAuditSources } from '../stage';
import { linkerdDefaultPolicy, stagedLinkerdObjects } from './stage';
import { NetworkPolicyLayer } from '../networkpolicy';
import { NAMESPACE_NAME_LABEL, NetworkPolicyLayerOptions } from '../networkpolicy/policies';
import { MetadataAdditions, MeshRenderer, RenderBackend, RenderContext, RenderedObject } from '../../intent/render';
import {
  LINKERD_CONTROL_PLANE_PORTS, LINKERD_INBOUND_PORT, LinkerdSettings, checkLinkerd, linkerdObjects,
} from './policies';


/** Namespace annotation that makes Linkerd inject its proxy. */
const LINKERD_INJECT_ANNOTATION = 'linkerd.io/inject';
/** Namespace/pod annotation with the default inbound policy (read when a pod starts). */
const LINKERD_DEFAULT_POLICY_ANNOTATION = 'config.linkerd.io/default-inbound-policy';
/** Label every Linkerd control-plane pod carries, with the control-plane namespace as value. */
const LINKERD_CONTROL_PLANE_NS_LABEL = 'linkerd.io/control-plane-ns';

/** Which HTTPRoute kind the Linkerd backend emits for HTTP rules. */
export enum LinkerdHttpRoutes {
  /**
   * `policy.linkerd.io/v1beta3` HTTPRoute, installed by linkerd-crds with every Linkerd (the
   * default). One route rule holds at most 8 matches; larger rule sets are split into rules.
   */
  LINKERD = 'policy.linkerd.io',
  /**
   * `gateway.networking.k8s.io/v1` HTTPRoute, which Linkerd's docs prefer. Needs the Gateway API
   * CRDs (v1.x standard channel) in the cluster: Linkerd 2.18+ installs them only with
   * `installGatewayAPI: true`, and 2.20 defaults to false.
   */
  GATEWAY_API = 'gateway.networking.k8s.io',
}

/** Options of `Mesh.linkerd()`. */
export interface LinkerdMeshProps extends WeakenProps {
  /**
   * The cluster's identity trust domain (Helm value `identityTrustDomain`). Used to spell the
   * identities in the `zero-trust.cdk8s.io/allows` annotations and by the verifier; the objects
   * themselves name ServiceAccounts and namespaces, which Linkerd resolves with its own setting.
   * @default 'cluster.local'
   */
  readonly identityDomain?: string;
  /**
   * Namespace of the Linkerd control plane; meshed pods may reach its destination (8086),
   * identity (8080) and policy (8090) ports there.
   * @default 'linkerd'
   */
  readonly controlPlaneNamespace?: string;
  /**
   * Networks kubelet probes come from (the node addresses). Once a Server has HTTP routes Linkerd
   * stops authorizing probes itself, so the httpGet probe paths the pod template declares on that
   * port stay open on a probe route, for requests from these networks carrying kubelet's
   * `User-Agent: kube-probe/...`. Linkerd's own default is every address.
   * @default ['0.0.0.0/0', '::/0']
   */
  readonly probeNetworks?: string[];
  /**
   * Which HTTPRoute kind HTTP rules are written as.
   * @default LinkerdHttpRoutes.LINKERD
   */
  readonly httpRoutes?: LinkerdHttpRoutes;
}

/** Resolves props to settings, validating them. */
function linkerdSettings(props: LinkerdMeshProps = {}): LinkerdSettings {
  const identityDomain = props.identityDomain ?? 'cluster.local';
  checkDnsSubdomain(identityDomain, 'Mesh.linkerd identityDomain');
  const controlPlaneNamespace = props.controlPlaneNamespace ?? 'linkerd';
  checkDnsLabel(controlPlaneNamespace, 'Mesh.linkerd controlPlaneNamespace');
  if ((props as any).probePaths !== undefined) {
    throw new ZeroTrustError({ code: 'INVALID_MESH_PROPS', backend: 'linkerd', message: 'Mesh.linkerd: probePaths is gone: the probe routes now authorize exactly the httpGet probe paths of each pod template (SecureWorkload readiness/liveness/startup, or the adopted containers\' probes); remove it' });
  }
  const routeGroup = props.httpRoutes ?? LinkerdHttpRoutes.LINKERD;
  if (!Object.values(LinkerdHttpRoutes).includes(routeGroup)) {
    throw new ZeroTrustError({ code: 'INVALID_MESH_PROPS', backend: 'linkerd', message: `Mesh.linkerd httpRoutes "${routeGroup}" is not one of ${Object.values(LinkerdHttpRoutes).join(', ')}` });
  }
  const probeNetworks = (props.probeNetworks ?? ['0.0.0.0/0', '::/0']).map((c) => normalizeCidr(parseCidr(c, 'Mesh.linkerd probeNetworks')));
  if (probeNetworks.length === 0) {
    throw new ZeroTrustError({ code: 'INVALID_MESH_PROPS', backend: 'linkerd', message: 'Mesh.linkerd: probeNetworks is empty, so probe routes would authorize nothing and pods with probes and HTTP rules would never become ready; give the node networks' });
  }
  return { backend: 'linkerd', identityDomain, controlPlaneNamespace, probeNetworks, routeGroup: routeGroup as LinkerdSettings['routeGroup'] };
}

/** The NetworkPolicy layer under Linkerd: declared flows plus the proxy port and the control plane. */
function linkerdLayerOptions(s: LinkerdSettings): NetworkPolicyLayerOptions {
  return {
    backend: s.backend,
    // Between meshed pods the client proxy dials the server proxy's inbound port instead of the
    // app port; Linkerd's own policy then decides on the app port.
    meshPorts: [{ port: LINKERD_INBOUND_PORT, protocol: 'TCP' }],
    namespaceRules: [{
      name: 'allow-linkerd-control-plane',
      egress: [{
        peers: [{
          namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: s.controlPlaneNamespace } },
          podSelector: { matchLabels: { [LINKERD_CONTROL_PLANE_NS_LABEL]: s.controlPlaneNamespace } },
        }],
        ports: LINKERD_CONTROL_PLANE_PORTS.map((p) => ({ port: p.port, protocol: 'TCP' as const })),
      }],
      reason: `every pod's Linkerd proxy -> control plane in ${s.controlPlaneNamespace} on ${LINKERD_CONTROL_PLANE_PORTS.map((p) => `${p.port}/TCP (${p.what})`).join(', ')}`,
    }],
    l7EnforcedAbove: true,
    identityEnforcedAbove: true,
    proxyIdentityEnforcedAbove: true,
    fqdnEgress: 'error',
  };
}

/**
 * Linkerd 2.x with its current policy API: every pod meshed, default inbound policy `deny`, one
 * `Server` per workload port, identities as `MeshTLSAuthentication`, `AuthorizationPolicy` per
 * Server or HTTPRoute, HTTP rules as Gateway API `HTTPRoute`s.
 */
class LinkerdRenderer implements MeshRenderer {
  public readonly backend = 'linkerd';
  /** Linkerd's policy covers the proxy's admin port (metrics): it renders those flows too. */
  public readonly rendersProxyFlows = true;

  public constructor(private readonly settings: LinkerdSettings) {}

  public check(ctx: RenderContext): void {
    checkLinkerd(ctx.model, ctx.namespace.name, this.settings);
    checkAuditSources(ctx, this.backend, 'Linkerd');
  }

  public namespaceMetadata(ctx?: RenderContext): MetadataAdditions {
    return { annotations: { [LINKERD_INJECT_ANNOTATION]: 'enabled', [LINKERD_DEFAULT_POLICY_ANNOTATION]: linkerdDefaultPolicy(ctx) } };
  }

  public podMetadata(ctx?: RenderContext): MetadataAdditions {
    // Also on the pods, so a chart with createNamespace: false is still meshed and default-deny (or audit).
    return { annotations: { [LINKERD_INJECT_ANNOTATION]: 'enabled', [LINKERD_DEFAULT_POLICY_ANNOTATION]: linkerdDefaultPolicy(ctx) } };
  }

  public render(ctx: RenderContext): RenderedObject[] {
    return stagedLinkerdObjects(ctx, linkerdObjects(ctx.model, ctx.namespace.name, this.settings));
  }
}

/** Linkerd: the mesh, and the NetworkPolicy layer opened for the proxy and the control plane. */
export const linkerdBackend: RenderBackend<LinkerdMeshProps, LinkerdSettings> = {
  settings: linkerdSettings,
  id: () => 'linkerd',
  layers: (settings) => {
    const layer = linkerdLayerOptions(settings);
    return [new LinkerdRenderer(settings), new NetworkPolicyLayer('linkerd', () => ({ options: layer }))];
  },
};
