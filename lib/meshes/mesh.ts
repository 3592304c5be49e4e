import { BackendId } from '../intent/backend';
import { ZeroTrustError } from '../intent/errors';
import { ReservedKeys, shown } from '../intent/names';
import { IMesh, MeshRenderer, RenderBackend, bindMesh } from '../intent/render';
import { CiliumMeshProps, ciliumBackend } from './cilium';
import { IdentityGuardLayer } from './guard';
import { proxyFlowsHidden, proxyMetricsPorts } from './metrics';
import { IstioMeshProps, istioBackend } from './istio';
import { KumaMeshProps, kumaBackend } from './kuma';
import { LinkerdMeshProps, linkerdBackend } from './linkerd';
import { NetworkPolicyMeshProps, networkPolicyBackend } from './networkpolicy';
import { NetworkServiceMeshProps, nsmBackend } from './nsm';
import { CILIUM_RESERVED, ISTIO_AMBIENT_RESERVED, ISTIO_RESERVED, KUMA_RESERVED, LINKERD_RESERVED, NSM_RESERVED } from './reserved';
import { MeshSelfCheck, SelfCheckProfile } from './selfcheck';
import { KumaMtls } from '../verify/kuma';
import { Weaken, WeakenProps, normalizeWeaken } from '../intent/weaken';
import { KumaHttpRules } from './kuma';

// The props and enums of every factory below: the public vocabulary of the backends.
export { NetworkPolicyMeshProps } from './networkpolicy';
export { IstioEgress, IstioEgressGatewayOptions, IstioMode, IstioMeshProps } from './istio';
export { CiliumMeshProps, CiliumMutualAuth } from './cilium';
export { SpiffeIdRegistration } from './spire';
export { KumaHttpRules, KumaIdentity, KumaMeshProps } from './kuma';
export { LinkerdHttpRoutes, LinkerdMeshProps } from './linkerd';
export { NetworkServiceMeshProps } from './nsm';
export { Weaken, WeakenProps } from '../intent/weaken';

/**
 * The render side of every backend id: a backend id without one is a compile error, so a new
 * backend cannot be added without its renderer (Istio renders both of its ids).
 */
const RENDER_BACKENDS = {
  'networkpolicy': networkPolicyBackend,
  'istio': istioBackend,
  'istio-ambient': istioBackend,
  'linkerd': linkerdBackend,
  'cilium': ciliumBackend,
  'kuma': kumaBackend,
  'nsm': nsmBackend,
} satisfies { readonly [id in BackendId]: RenderBackend<any, any> };

/**
 * The mesh a `ZeroTrustChart` renders its intent for. One intent, every mesh: pick one per
 * namespace with the static factories.
 */
export class Mesh implements IMesh {
  /** Plain Kubernetes NetworkPolicy (default deny, DNS, per-workload allows); no identity or encryption. */
  public static networkPolicy(props: NetworkPolicyMeshProps = {}): Mesh {
    return Mesh.of(RENDER_BACKENDS['networkpolicy'], props);
  }

  /**
   * Istio, in sidecar mode (id `istio`) or ambient mode (id `istio-ambient`). Emits namespace
   * enrolment, STRICT `PeerAuthentication`, an allow-nothing `AuthorizationPolicy` and one ALLOW
   * policy per destination workload naming its sources by SPIFFE principal
   * (`<trustDomain>/ns/<namespace>/sa/<serviceAccount>`) and its container ports. HTTP rules need
   * HTTP/gRPC ports; in ambient mode they are enforced by a waypoint that is created only for the
   * Services that need it. Sidecar mode restricts egress with `Sidecar` (REGISTRY_ONLY) and
   * `ServiceEntry`, and with `egress: IstioEgress.GATEWAY` sends host names through an egress
   * gateway; ambient mode rejects host-name egress (ztunnel ignores REGISTRY_ONLY). The
   * NetworkPolicy layer stays on underneath, opened for istiod, HBONE (15008) and ambient probes.
   */
  public static istio(props: IstioMeshProps = {}): Mesh {
    const gateway = meshProps(props, 'Mesh.istio').egressGateway as unknown;
    if (gateway !== undefined && (typeof gateway !== 'object' || gateway === null || Array.isArray(gateway))) {
      throw new ZeroTrustError({ code: 'INVALID_MESH_PROPS', message: `Mesh.istio: egressGateway must be an object ({ namespace?, labels?, serviceName?, targetPorts? }), got ${shown(gateway)}` });
    }
    return Mesh.of(RENDER_BACKENDS['istio'], props, (settings) => ({
      meshKey: `istio:${settings.trustDomain}`, reserved: settings.backend === 'istio-ambient' ? ISTIO_AMBIENT_RESERVED : ISTIO_RESERVED,
      profile: {
        istioRootNamespace: settings.rootNamespace, istioRevision: settings.revision,
        reader: { istio: { trustDomain: settings.trustDomain, rootNamespace: settings.rootNamespace, clusterDomain: settings.clusterDomain } },
      },
    }));
  }

  /**
   * Linkerd 2.x (2.16+; objects checked against the 2.20 CRDs) with its current policy API.
   *
   * Emits the namespace annotations `linkerd.io/inject: enabled` and
   * `config.linkerd.io/default-inbound-policy: deny`; one `Server` (policy.linkerd.io/v1beta3)
   * per TCP workload port with `proxyProtocol` from the port kind; `MeshTLSAuthentication`
   * (ServiceAccount or Namespace identityRefs) or `NetworkAuthentication` (IP blocks,
   * unauthenticated) with an `AuthorizationPolicy` per Server; HTTP rules as `HTTPRoute`s
   * (Linkerd's policy.linkerd.io/v1beta3 by default, see `LinkerdMeshProps.httpRoutes`) with the
   * authorization on the route, plus a catch-all route and a kubelet probe
   * route; and the NetworkPolicy layer admitting the proxy port 4143 from declared sources, the
   * control plane and DNS.
   *
   * Fails at synth for host-name egress (Linkerd's EgressNetwork is namespace-wide), for
   * `Peer.workload()` sources without a ServiceAccount, and for HTTP rules of different sources
   * that overlap on one port.
   */
  public static linkerd(props: LinkerdMeshProps = {}): Mesh {
    return Mesh.of(RENDER_BACKENDS['linkerd'], props, (settings) => ({
      meshKey: `linkerd:${settings.identityDomain}/${settings.controlPlaneNamespace}`, reserved: LINKERD_RESERVED,
      profile: {
        linkerdControlPlaneNamespace: settings.controlPlaneNamespace,
        reader: { linkerd: { identityDomain: settings.identityDomain, controlPlaneNamespace: settings.controlPlaneNamespace } },
      },
    }));
  }

  /**
   * Cilium: one `CiliumNetworkPolicy` per workload (ingress and egress sections) plus a namespace
   * baseline that denies by default and keeps DNS open; peers by labels, namespace and
   * ServiceAccount; HTTP rules enforced by Cilium's proxy; FQDN egress with `toFQDNs` and a DNS rule
   * for every name (connections to host names only by `toFQDNs`). By default peers are Cilium's label
   * identities with exact ports (`CiliumMutualAuth.NONE`; encrypt with Cilium's WireGuard or IPsec);
   * ztunnel mTLS and the deprecated SPIRE mutual authentication only when chosen (`mutualAuth`).
   */
  public static cilium(props: CiliumMeshProps = {}): Mesh {
    return Mesh.of(RENDER_BACKENDS['cilium'], props, () => ({ reserved: CILIUM_RESERVED, profile: {} }));
  }

  /**
   * Kuma 2.x on Kubernetes (tested against the 2.14 CRDs). The namespace joins the mesh
   * (`kuma.io/sidecar-injection: enabled`, `kuma.io/mesh`); the `Mesh` (builtin CA, mTLS STRICT,
   * so Kuma denies what no permission allows) is emitted unless `createMesh` is false; each
   * destination workload gets a `MeshTrafficPermission` whose `from` entries match the allowed
   * clients by their tags (pod labels and `k8s.kuma.io/namespace`), per port (`sectionName`)
   * where ports differ (with `identity: KumaIdentity.SPIFFE`: a `MeshIdentity` and `rules[]`
   * matching SPIFFE IDs by ServiceAccount instead of tags); egress leaving the mesh goes through `MeshPassthrough` (`Matched` for
   * workloads allowed to reach an address or host, `None` for the rest); NetworkPolicy stays on
   * below and admits kuma-cp on 5678 and DNS. HTTP rules and address-range sources are synth
   * errors (see `KumaMeshProps.httpRules` and docs/backends/kuma.md). Output folder: `kuma`.
   */
  public static kuma(props: KumaMeshProps = {}): Mesh {
    // The deprecated httpRules: ENFORCE_AT_L4 is Weaken.HTTP_TO_PORT.
    const { httpRules, ...rest } = meshProps(props, 'Mesh.kuma');
    if (httpRules !== undefined && !(Object.values(KumaHttpRules) as unknown[]).includes(httpRules)) {
      throw new ZeroTrustError({ code: 'INVALID_MESH_PROPS', backend: 'kuma', message: `Mesh.kuma: httpRules must be one of ${Object.keys(KumaHttpRules).join(', ')} (deprecated: use weaken), got ${shown(httpRules)}` });
    }
    const weaken = [...normalizeWeaken(rest.weaken, 'Mesh.kuma'), ...(httpRules === KumaHttpRules.ENFORCE_AT_L4 ? [Weaken.HTTP_TO_PORT] : [])];
    return Mesh.of(KUMA_WITH_SCRAPE_CHECK, { ...rest, weaken }, (options) => ({
      meshKey: `kuma:${options.meshName}`, reserved: KUMA_RESERVED,
      profile: {
        // A Mesh created elsewhere must have mTLS on (Mesh.kuma() says so): read it as STRICT.
        reader: {
          kuma: {
            systemNamespace: options.controlPlaneNamespace,
            ...(options.createMesh ? {} : { meshes: { [options.meshName]: KumaMtls.STRICT } }),
            // The MeshIdentity (emitted in the system namespace, which the self-check does not read,
            // or made elsewhere with createMesh: false) has the trust domain the props name.
            ...(options.spiffe ? { spiffeTrustDomains: { [options.meshName]: options.spiffe.trustDomain } } : {}),
          },
        },
      },
    }));
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
    // The deprecated allowHttpRulesOverConnection and allowPortsOverConnection are Weaken members.
    const { allowHttpRulesOverConnection, allowPortsOverConnection, ...rest } = meshProps(props, 'Mesh.networkServiceMesh');
    for (const [name, value] of [['allowHttpRulesOverConnection', allowHttpRulesOverConnection], ['allowPortsOverConnection', allowPortsOverConnection]] as const) {
      if (value !== undefined && typeof value !== 'boolean') {
        throw new ZeroTrustError({ code: 'INVALID_MESH_PROPS', backend: 'nsm', message: `Mesh.networkServiceMesh: ${name} must be true or false (deprecated: use weaken), got ${shown(value)}` });
      }
    }
    const weaken = [
      ...normalizeWeaken(rest.weaken, 'Mesh.networkServiceMesh'),
      ...(allowHttpRulesOverConnection ? [Weaken.HTTP_TO_PORT] : []),
      ...(allowPortsOverConnection ? [Weaken.PORTS_TO_CONNECTION] : []),
    ];
    return Mesh.of(RENDER_BACKENDS['nsm'], { ...rest, weaken }, (settings) => ({ meshKey: `nsm:${settings.trustDomain}`, reserved: NSM_RESERVED, profile: {} }));
  }

  /** The props are resolved (and validated) now, where the user wrote them; layers are made at synth. */
  private static of<Props extends WeakenProps, Settings>(backend: RenderBackend<Props, Settings>, props: Props, options: (settings: Settings) => MeshOptions = () => ({ profile: {} })): Mesh {
    const settings = backend.settings(meshProps(props, 'Mesh'));
    const id = backend.id(settings);
    const weaken = normalizeWeaken(props.weaken, `Mesh for ${id}`);
    // The cluster's ranges are one fact of the chart (clusterNetworks); a plain-JavaScript caller passing them here would get "any address".
    if ((props as { clusterCidrs?: unknown }).clusterCidrs !== undefined) {
      throw new ZeroTrustError({ code: 'INVALID_MESH_PROPS', message: `Mesh for ${id}: clusterCidrs is not a mesh prop; give the cluster's pod and Service ranges to the chart (ZeroTrustChart clusterNetworks), which Weaken.HOST_TO_PORT leaves closed` });
    }
    return new Mesh(id, () => backend.layers(settings).map(proxyFlowsHidden), { ...options(settings), weaken });
  }

  /** Backend id, also the output folder name (`networkpolicy`, `istio`, `istio-ambient`, ...). */
  public readonly id: string;

  /**
   * @param backend backend id, also the output folder name
   * @param layers creates the backend's layers (the synth step creates them once per synth)
   * @param binding the mesh instance (trust domain, mesh name), reserved pod metadata and the
   *   self-check's view of the backend's settings
   */
  private constructor(backend: BackendId, layers: () => MeshRenderer[], options: MeshOptions) {
    this.id = backend;
    const meshKey = options.meshKey ?? backend;
    bindMesh(this, {
      backend, layers, meshKey, reserved: options.reserved, weaken: options.weaken,
      selfCheck: new MeshSelfCheck(backend, meshKey, options.profile),
      guardLayer: () => new IdentityGuardLayer(backend),
      proxyMetricsPorts: () => proxyMetricsPorts(backend),
    });
  }
}

/** What a factory says of its mesh beside the layers. */
interface MeshOptions {
  readonly meshKey?: string;
  readonly reserved?: ReservedKeys;
  readonly profile: SelfCheckProfile;
  readonly weaken?: readonly Weaken[];
}

/** The props of a `Mesh.*()` factory: an object (plain JavaScript may pass anything). */
function meshProps<P>(props: P, where: string): P {
  if (props === undefined) return {} as P;
  if (typeof props !== 'object' || props === null || Array.isArray(props)) {
    throw new ZeroTrustError({ code: 'INVALID_MESH_PROPS', message: `${where}: the props must be an object, got ${shown(props)}` });
  }
  return props;
}

/**
 * Kuma's metrics port (kuma-dp's own server) is hidden from the Kuma layer, which refuses
 * address-range sources everywhere else: refuse them there too, by the same code, rather than
 * leaving a plaintext scrape from a range only the self-check would catch.
 */
const KUMA_SCRAPE_CHECK: MeshRenderer & { readonly rendersProxyFlows: true } = {
  backend: 'kuma',
  rendersProxyFlows: true,
  check: (ctx) => {
    for (const f of ctx.model.flows) {
      if (!f.proxy || f.source.type !== 'ip-block' || f.destination.type !== 'workload' || f.destination.workload.namespace !== ctx.namespace.name) continue;
      throw new ZeroTrustError({
        code: 'KUMA_NOT_ENFORCEABLE', backend: 'kuma', rule: f.declaredAt, workload: f.declaredBy,
        message: `${f.declaredAt}: Kuma admits no address-range source (${f.source.cidr}), and kuma-dp's metrics port is outside MeshTrafficPermission, so the range would be let in there by NetworkPolicy alone; run the scraper in the mesh and name it with Peer.workload()/Peer.namespace()`,
      });
    }
  },
  render: () => [],
};

const KUMA_WITH_SCRAPE_CHECK: typeof RENDER_BACKENDS['kuma'] = {
  ...RENDER_BACKENDS['kuma'],
  layers: (settings) => [KUMA_SCRAPE_CHECK, ...RENDER_BACKENDS['kuma'].layers(settings)],
};
