import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { ZeroTrustError } from '../../intent/errors';
import { checkDnsLabel, checkDnsSubdomain } from '../../intent/names';
import { checkExpressible, emitNetworkPolicies } from '../networkpolicy';
import { MetadataAdditions, MeshRenderer, RenderContext } from '../renderer';
import {
  IstioMode, IstioSettings, USE_WAYPOINT_LABEL, WAYPOINT_NAME, checkIstio, istioObjects, namespaceLabels, needsWaypoint,
  networkPolicyOptions, workloadsOf,
} from './policies';

export { IstioMode } from './policies';

/** Options of `Mesh.istio()`. */
export interface IstioMeshProps {
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
}

/** Resolves and validates the props of `Mesh.istio()`. */
export function istioSettings(props: IstioMeshProps = {}): IstioSettings {
  const mode = props.mode ?? IstioMode.SIDECAR;
  if (!Object.values(IstioMode).includes(mode)) {
    throw new ZeroTrustError(`Mesh.istio: mode "${mode}" is not one of ${Object.values(IstioMode).join(', ')}`);
  }
  const settings: IstioSettings = {
    backend: mode === IstioMode.AMBIENT ? 'istio-ambient' : 'istio',
    mode,
    trustDomain: props.trustDomain ?? 'cluster.local',
    revision: props.revision,
    rootNamespace: props.rootNamespace ?? 'istio-system',
    meshWideStrictMtls: props.meshWideStrictMtls ?? false,
    clusterDomain: props.clusterDomain ?? 'cluster.local',
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
 * ServiceEntry objects for egress (sidecar mode), a waypoint for L7 rules (ambient mode); and the
 * NetworkPolicy layer underneath, opened for what the mesh itself needs.
 */
export class IstioRenderer implements MeshRenderer {
  public readonly backend: string;

  public constructor(private readonly settings: IstioSettings) {
    this.backend = settings.backend;
  }

  public check(ctx: RenderContext): void {
    checkIstio(ctx.model, ctx.namespace.name, this.settings);
    checkExpressible(ctx.model, ctx.namespace.name, networkPolicyOptions(ctx.model, ctx.namespace.name, this.settings));
  }

  public namespaceMetadata(): MetadataAdditions {
    return { labels: namespaceLabels(this.settings) };
  }

  public podMetadata(): MetadataAdditions {
    return {};
  }

  public render(scope: Construct, ctx: RenderContext): void {
    const ns = ctx.namespace.name;
    for (const obj of istioObjects(ctx.model, ns, this.settings, ctx.dns)) {
      const id = `${obj.kind}-${obj.metadata.namespace === ns ? '' : `${obj.metadata.namespace}-`}${obj.metadata.name}`;
      new ApiObject(scope, id, obj);
    }
    // Only the Services whose workloads have L7 rules go through the waypoint.
    const viaWaypoint = workloadsOf(ctx.model, ns).filter((x) => needsWaypoint(ctx.model, x, this.settings));
    // One walk of the chart, not one per workload: a namespace can have thousands.
    const services = new Map<string, ApiObject>();
    if (viaWaypoint.length > 0) {
      for (const c of scope.node.findAll()) {
        if (c instanceof ApiObject && c.kind === 'Service' && !services.has(c.name)) services.set(c.name, c);
      }
    }
    for (const w of viaWaypoint) {
      const svc = services.get(w.name);
      if (!svc) {
        throw new ZeroTrustError(`[${this.backend}] ${ns}/${w.name}: its HTTP rules need a waypoint, which attaches to the workload's Service; do not set service: false`);
      }
      svc.metadata.addLabel(USE_WAYPOINT_LABEL, WAYPOINT_NAME);
    }
    emitNetworkPolicies(scope, ctx, networkPolicyOptions(ctx.model, ns, this.settings));
  }
}
