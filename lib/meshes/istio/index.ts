import { WeakenProps } from '../../intent/weaken';
import { ZeroTrustError } from '../../intent/errors';
import { WorkloadModel, flowIndex } from '../../intent/model';
import { checkDnsLabel, checkDnsSubdomain, checkLabels } from '../../intent/names';
import { MetadataAdditions, MeshRenderer, RenderBackend, RenderContext, RenderedObject } from '../../intent/render';
import { withoutProxyContext } from '../metrics';
import { NetworkPolicyLayer } from '../networkpolicy';
import { stagedIstioObjects } from './stage';
import { checkAuditSources } from '../stage';
import {
  IstioEgress, IstioEgressGatewaySettings, IstioMode, IstioSettings, USE_WAYPOINT_LABEL, WAYPOINT_NAME, checkIstio, istioObjects, namespaceLabels, needsWaypoint, podEnrolmentLabels,
  networkPolicyOptions,
} from './policies';

export { IstioEgress, IstioMode } from './policies';

/** The egress gateway of `IstioEgress.GATEWAY` (Istio's `istio-egressgateway` chart by default). */
export interface IstioEgressGatewayOptions {
  /**
   * Namespace of the egress gateway's pods and Service.
   * @default 'istio-system'
   */
  readonly namespace?: string;
  /**
   * Labels of the egress gateway's pods (the `Gateway` selector and the NetworkPolicy peer).
   * @default { istio: 'egressgateway' }
   */
  readonly labels?: { [key: string]: string };
  /**
   * Name of the egress gateway's Service.
   * @default 'istio-egressgateway'
   */
  readonly serviceName?: string;
  /**
   * Each Service port of the gateway (as a string) and the pod port behind it, which is what
   * NetworkPolicy sees. A host's port must be listed.
   * @default { '80': 8080, '443': 8443 } (the istio-egressgateway chart)
   */
  readonly targetPorts?: { [servicePort: string]: number };
}

/** Options of `Mesh.istio()`. */
export interface IstioMeshProps extends WeakenProps {
  /**
   * The data plane the namespaces are enrolled in.
   * @default IstioMode.SIDECAR
   */
  readonly mode?: IstioMode;
  /**
   * The mesh's trust domain (`meshConfig.trustDomain`), the first segment of every principal
   * (`<trustDomain>/ns/<namespace>/sa/<serviceAccount>`).
   * @default 'cluster.local'
   */
  readonly trustDomain?: string;
  /**
   * The istiod revision to enrol namespaces with. Sidecar mode then labels namespaces
   * `istio.io/rev: <revision>` instead of `istio-injection: enabled`; ambient mode adds the label
   * beside `istio.io/dataplane-mode: ambient`.
   * @default - the default revision
   */
  readonly revision?: string;
  /**
   * Istio's root namespace, where istiod runs and where a mesh-wide PeerAuthentication lives.
   * @default 'istio-system'
   */
  readonly rootNamespace?: string;
  /**
   * Also emit the mesh-wide `PeerAuthentication` `default` (STRICT) in the root namespace. It is
   * emitted once, by the first (alphabetical) namespace that uses this mesh.
   * @default false
   */
  readonly meshWideStrictMtls?: boolean;
  /**
   * The cluster's DNS domain, used for Service host names in Sidecar egress hosts.
   * @default 'cluster.local'
   */
  readonly clusterDomain?: string;
  /**
   * How sidecar-mode workloads reach external hosts (`Peer.fqdn`). `IstioEgress.GATEWAY` routes
   * them through an egress gateway and opens the NetworkPolicy layer to the gateway's pods only;
   * ambient mode refuses it (`EGRESS_GATEWAY_NOT_SUPPORTED`).
   * @default IstioEgress.SIDECAR
   */
  readonly egress?: IstioEgress;
  /**
   * The egress gateway, with `egress: IstioEgress.GATEWAY`.
   * @default - namespace istio-system, labels istio: egressgateway, Service istio-egressgateway, ports 80->8080 and 443->8443
   */
  readonly egressGateway?: IstioEgressGatewayOptions;
}

/** Resolves and validates the egress gateway options. */
function egressGatewaySettings(o: IstioEgressGatewayOptions): IstioEgressGatewaySettings {
  const namespace = o.namespace ?? 'istio-system';
  checkDnsLabel(namespace, 'Mesh.istio egressGateway.namespace');
  const labels = o.labels ?? { istio: 'egressgateway' };
  if (typeof labels !== 'object' || labels === null || Object.keys(labels).length === 0) {
    throw new ZeroTrustError({ code: 'INVALID_MESH_PROPS', message: 'Mesh.istio egressGateway.labels must name at least one label of the gateway\'s pods' });
  }
  checkLabels(labels, 'Mesh.istio egressGateway.labels');
  const serviceName = o.serviceName ?? 'istio-egressgateway';
  checkDnsLabel(serviceName, 'Mesh.istio egressGateway.serviceName');
  const targetPorts = o.targetPorts ?? { 80: 8080, 443: 8443 };
  for (const [port, target] of Object.entries(targetPorts)) {
    const valid = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;
    if (!/^\d+$/.test(port) || !valid(Number(port)) || typeof target !== 'number' || !valid(target)) {
      throw new ZeroTrustError({ code: 'INVALID_MESH_PROPS', message: `Mesh.istio egressGateway.targetPorts: "${port}" -> ${String(target)} must map a port number to a port number (1-65535)` });
    }
  }
  return { namespace, labels: { ...labels }, serviceName, targetPorts: Object.fromEntries(Object.entries(targetPorts).map(([k, v]) => [String(Number(k)), v])) };
}

/** Resolves and validates the props of `Mesh.istio()`. */
function istioSettings(props: IstioMeshProps = {}): IstioSettings {
  const mode = props.mode ?? IstioMode.SIDECAR;
  if (!Object.values(IstioMode).includes(mode)) {
    throw new ZeroTrustError({ code: 'INVALID_MESH_PROPS', message: `Mesh.istio: mode "${mode}" is not one of ${Object.values(IstioMode).join(', ')}` });
  }
  const egress = props.egress ?? IstioEgress.SIDECAR;
  if (!Object.values(IstioEgress).includes(egress)) {
    throw new ZeroTrustError({ code: 'INVALID_MESH_PROPS', message: `Mesh.istio: egress "${egress}" is not one of ${Object.values(IstioEgress).join(', ')}` });
  }
  if (egress === IstioEgress.GATEWAY && mode === IstioMode.AMBIENT) {
    throw new ZeroTrustError({
      code: 'EGRESS_GATEWAY_NOT_SUPPORTED', backend: 'istio-ambient',
      message: 'Mesh.istio: egress IstioEgress.GATEWAY is for sidecar mode; ambient mode routes egress through waypoints, which this library does not generate, and refuses host-name egress; use IstioMode.SIDECAR',
    });
  }
  if (props.egressGateway !== undefined && egress !== IstioEgress.GATEWAY) {
    throw new ZeroTrustError({ code: 'INVALID_MESH_PROPS', message: 'Mesh.istio: egressGateway is given but egress is not IstioEgress.GATEWAY; set egress: IstioEgress.GATEWAY or drop egressGateway' });
  }
  const gateway: Pick<IstioSettings, 'egress' | 'egressGateway'> = egress === IstioEgress.GATEWAY ? { egress, egressGateway: egressGatewaySettings(props.egressGateway ?? {}) } : {};
  const settings: IstioSettings = {
    backend: mode === IstioMode.AMBIENT ? 'istio-ambient' : 'istio',
    mode,
    trustDomain: props.trustDomain ?? 'cluster.local',
    revision: props.revision,
    rootNamespace: props.rootNamespace ?? 'istio-system',
    meshWideStrictMtls: props.meshWideStrictMtls ?? false,
    clusterDomain: props.clusterDomain ?? 'cluster.local',
    ...gateway,
  };
  checkDnsSubdomain(settings.trustDomain, 'Mesh.istio trustDomain');
  checkDnsSubdomain(settings.clusterDomain, 'Mesh.istio clusterDomain');
  checkDnsLabel(settings.rootNamespace, 'Mesh.istio rootNamespace');
  if (settings.revision !== undefined) checkDnsLabel(settings.revision, 'Mesh.istio revision');
  return settings;
}

/**
 * Istio in sidecar or ambient mode: namespace enrolment, STRICT mTLS, an allow-nothing policy and
 * one ALLOW policy per destination workload naming its sources by SPIFFE principal; Sidecar and
 * ServiceEntry objects for egress (sidecar mode), a waypoint for L7 rules (ambient mode).
 */
class IstioRenderer implements MeshRenderer {
  public readonly backend: 'istio' | 'istio-ambient';
  /** Given the proxy flows (metrics) to refuse a scraper behind a sidecar; renders without them (no AuthorizationPolicy applies there). */
  public readonly rendersProxyFlows = true;

  public constructor(private readonly settings: IstioSettings) {
    this.backend = settings.backend;
  }

  public check(full: RenderContext): void {
    checkScrapers(full, this.settings);
    const ctx = withoutProxyContext(full);
    const ns = ctx.namespace.name;
    if (ns === this.settings.rootNamespace) {
      throw new ZeroTrustError({
        code: 'CHART_IN_MESH_ROOT_NAMESPACE', backend: this.backend, namespace: ns,
        message: `namespace ${ns} is Istio's root namespace (rootNamespace): policies there apply to every workload of the mesh (its allow-nothing AuthorizationPolicy would deny all traffic mesh-wide, its workload policies would select pods in every namespace); put the workloads in a namespace of their own`,
      });
    }
    checkIstio(ctx.model, ns, this.settings);
    checkAuditSources(ctx, this.backend, 'Istio');
    if (this.settings.mode === IstioMode.SIDECAR) {
      for (const f of ctx.model.flows) {
        const src = f.source;
        const dst = f.destination;
        if (src.type !== 'workload' || src.workload.namespace !== ns || dst.type !== 'workload' || dst.workload.service !== false) continue;
        throw new ZeroTrustError({
          code: 'DESTINATION_NEEDS_SERVICE', backend: this.backend, namespace: ns, workload: f.declaredBy, rule: f.declaredAt,
          message: `${f.declaredAt}: ${src.workload.namespace}/${src.workload.name}'s sidecar forwards only to registered Services (outboundTrafficPolicy REGISTRY_ONLY), and ${dst.workload.namespace}/${dst.workload.name} has none (service: false), so this flow could never be used; give the destination its Service`,
        });
      }
    }
    for (const w of ctx.model.workloads) {
      if (w.namespace === ns && w.service === false && this.settings.mode === IstioMode.SIDECAR
        && (flowIndex(ctx.model).inbound.get(w) ?? []).some((f) => f.http.length > 0)) {
        throw new ZeroTrustError({
          code: 'HTTP_RULES_NEED_SERVICE', backend: this.backend, namespace: w.namespace, workload: `${w.namespace}/${w.name}`,
          message: `${w.namespace}/${w.name}: its HTTP rules need the sidecar to treat its ports as HTTP, which Istio learns from the workload's Service (port name or appProtocol); without one the traffic is TCP and an ALLOW rule with HTTP fields denies it all. Do not set service: false`,
        });
      }
      if (w.namespace === ctx.namespace.name && w.service === false && needsWaypoint(ctx.model, w, this.settings)) {
        throw new ZeroTrustError({
          code: 'WAYPOINT_NEEDS_SERVICE', backend: this.backend, namespace: w.namespace, workload: `${w.namespace}/${w.name}`,
          message: `${w.namespace}/${w.name}: its HTTP rules need a waypoint, which attaches to the workload's Service; do not set service: false`,
        });
      }
    }
  }

  public namespaceMetadata(): MetadataAdditions {
    return { labels: namespaceLabels(this.settings) };
  }

  /**
   * A namespace managed elsewhere (`createNamespace: false`) carries no enrolment label, so the
   * pods enrol themselves: `sidecar.istio.io/inject: "true"` (the injector's object selector) or
   * `istio.io/dataplane-mode: ambient`, with `istio.io/rev` when a revision is set.
   */
  public podMetadata(ctx: RenderContext): MetadataAdditions {
    return ctx.createsNamespace === false ? { labels: podEnrolmentLabels(this.settings) } : {};
  }

  /** Only the Services whose workloads have L7 rules go through the waypoint. */
  public serviceMetadata(ctx: RenderContext, w: WorkloadModel): MetadataAdditions {
    return needsWaypoint(withoutProxyContext(ctx).model, w, this.settings) ? { labels: { [USE_WAYPOINT_LABEL]: WAYPOINT_NAME } } : {};
  }

  public render(ctx: RenderContext): RenderedObject[] {
    return stagedIstioObjects(ctx, istioObjects(withoutProxyContext(ctx).model, ctx.namespace.name, this.settings, ctx.dns));
  }
}

/**
 * A scraper with an Istio sidecar cannot reach the proxy metrics ports: its REGISTRY_ONLY sidecar
 * drops connections to pod addresses that no Service registers (Istio's own Prometheus runs
 * without interception for this reason).
 */
function checkScrapers(ctx: RenderContext, s: IstioSettings): void {
  if (s.mode !== IstioMode.SIDECAR) return;
  for (const f of ctx.model.flows) {
    const src = f.source;
    if (!f.proxy || src.type !== 'workload' || src.workload.namespace !== ctx.namespace.name) continue;
    throw new ZeroTrustError({
      code: 'SCRAPER_BEHIND_SIDECAR', backend: s.backend, namespace: ctx.namespace.name, workload: f.declaredBy, rule: f.declaredAt,
      message: `${f.declaredAt}: the scraper ${src.workload.namespace}/${src.workload.name} runs with an Istio sidecar (REGISTRY_ONLY), which drops its connections to pod addresses on the proxy metrics ports ${f.ports.map((p) => p.number).join(', ')}; run the scraper outside the mesh and name it with Peer.workload(), as Istio's Prometheus integration does`,
    });
  }
}

/** Istio: the mesh, and the NetworkPolicy layer opened for istiod, HBONE and ambient probes. */
export const istioBackend: RenderBackend<IstioMeshProps, IstioSettings> = {
  settings: istioSettings,
  id: (settings) => settings.backend,
  layers: (settings) => [
    new IstioRenderer(settings),
    new NetworkPolicyLayer(settings.backend, (ctx) => ({ options: networkPolicyOptions(ctx.model, ctx.namespace.name, settings) })),
  ],
};
