import { ZeroTrustError } from '../../intent/errors';
import { WorkloadModel } from '../../intent/model';
import { NetworkPolicyLayer } from '../networkpolicy';
import { NetworkServiceMeshProps } from './props';
import { MetadataAdditions, MeshRenderer, PodSpecAdditions, RenderBackend, RenderContext, RenderedObject } from '../../intent/render';
import { NSM_TRUST_DOMAIN, clusterSpiffeId, nsmPodIdTemplate } from '../spire';
import {
  DEFAULT_CIDR_POOL, DEFAULT_ENDPOINT_IMAGE, DEFAULT_PREFIX_LENGTH, NSM_CLIENT_ANNOTATION, NsmSettings,
  allocatePrefixes, checkNsmFlows, checkPool, clientAnnotation, endpointContainer,
  endpointVolumes, networkServiceObject, nsmConnections, nsmDestinations, nsmParticipants, primaryNetworkModel,
} from './plan';

export { NetworkServiceMeshProps } from './props';

/** Resolves and validates the props (eagerly, so a bad pool fails where the mesh is created). */
function nsmSettings(props: NetworkServiceMeshProps): NsmSettings {
  const settings: NsmSettings = {
    endpointImage: props.endpointImage ?? DEFAULT_ENDPOINT_IMAGE,
    cidrPool: props.cidrPool ?? DEFAULT_CIDR_POOL,
    prefixLength: props.prefixLength ?? DEFAULT_PREFIX_LENGTH,
    trustDomain: props.trustDomain ?? NSM_TRUST_DOMAIN,
    spireClassName: props.spireClassName,
    allowPortsOverConnection: props.allowPortsOverConnection ?? false,
    allowHttpRulesOverConnection: props.allowHttpRulesOverConnection ?? false,
  };
  checkPool(settings.cidrPool, settings.prefixLength);
  nsmPodIdTemplate(settings.trustDomain);
  if (!settings.endpointImage.trim()) throw new ZeroTrustError({ code: 'INVALID_MESH_PROPS', backend: 'nsm', message: 'endpointImage is empty' });
  return settings;
}

/**
 * Network Service Mesh: every allowed flow between two SecureWorkloads rides an NSM connection
 * (a NetworkService per destination, an endpoint container in its pods, the client annotation on
 * its sources); the primary pod network stays in default deny and carries only flows with
 * external peers (namespaces, IP blocks, workloads outside the app) and DNS.
 */
class NetworkServiceMeshRenderer implements MeshRenderer {
  public readonly backend = 'nsm';

  public constructor(private readonly settings: NsmSettings) {}

  public check(ctx: RenderContext): void {
    checkNsmFlows(ctx.model, ctx.namespace.name, this.settings);
    allocatePrefixes(ctx.model, this.settings.cidrPool, this.settings.prefixLength);
  }

  public podMetadata(ctx: RenderContext, workload: WorkloadModel): MetadataAdditions {
    const value = clientAnnotation(nsmConnections(ctx.model), workload);
    return value ? { annotations: { [NSM_CLIENT_ANNOTATION]: value } } : {};
  }

  public podSpecAdditions(ctx: RenderContext, workload: WorkloadModel): PodSpecAdditions {
    const prefix = allocatePrefixes(ctx.model, this.settings.cidrPool, this.settings.prefixLength).get(workload);
    if (!prefix) return {};
    return { containers: [endpointContainer(workload, prefix, this.settings.endpointImage)], volumes: endpointVolumes() };
  }

  public render(ctx: RenderContext): RenderedObject[] {
    const ns = ctx.namespace.name;
    const connections = nsmConnections(ctx.model);
    const out: RenderedObject[] = nsmDestinations(ctx.model).filter((x) => x.namespace === ns).map((w) => networkServiceObject(w, connections));
    const template = nsmPodIdTemplate(this.settings.trustDomain);
    for (const w of nsmParticipants(ctx.model).filter((x) => x.namespace === ns)) {
      out.push(clusterSpiffeId(w, { spiffeIdTemplate: template, className: this.settings.spireClassName }));
    }
    return out;
  }
}

/**
 * NSM's layers: the network services, and the primary network's NetworkPolicies: default deny,
 * DNS, and only the flows with peers outside the app. NSM's own traffic needs nothing there: the
 * endpoint and the injected client talk to the NSM manager and the SPIRE agent over unix
 * sockets, and the forwarders carry the connections.
 */
export const nsmBackend: RenderBackend<NetworkServiceMeshProps, NsmSettings> = {
  settings: nsmSettings,
  id: () => 'nsm',
  layers: (settings) => [
    new NetworkServiceMeshRenderer(settings),
    new NetworkPolicyLayer('nsm', (ctx) => ({ options: { backend: 'nsm' }, model: primaryNetworkModel(ctx.model) })),
  ],
};
