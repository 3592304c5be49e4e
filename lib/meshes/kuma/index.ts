import { WeakenProps } from '../../intent/weaken';
import { ZeroTrustError } from '../../intent/errors';
import { checkDnsSubdomain, checkDnsLabel } from '../../intent/names';
import { MetadataAdditions, MeshRenderer, PodSpecAdditions, RenderBackend, RenderContext, RenderedObject } from '../../intent/render';
import { NetworkPolicyLayer } from '../networkpolicy';
import { NAMESPACE_NAME_LABEL, NetworkPolicyLayerOptions } from '../networkpolicy/policies';
import {
  KUMA_INJECTION_LABEL, KUMA_MESH_LABEL, KUMA_TOKEN_VOLUME, KUMA_TOKEN_VOLUME_ANNOTATION, KumaOptions,
  checkKuma, kumaObjects, tokenVolume,
} from './policies';

/** What the Kuma backend does with HTTP rules (methods, paths), which MeshTrafficPermission cannot match. */
export enum KumaHttpRules {
  /** A synth error naming the rule (the default): nothing is silently widened. */
  REJECT = 'reject',
  /**
   * Downgrade: the flow is allowed on its ports for every request, as if it had no HTTP rule.
   * Choose it only when the port-level permission is acceptable; the allows annotation says so.
   */
  ENFORCE_AT_L4 = 'enforce-at-l4',
}

/** Options of `Mesh.kuma()`. */
export interface KumaMeshProps extends WeakenProps {
  /**
   * Name of the Kuma mesh the namespace's pods join (namespace label `kuma.io/mesh`).
   * @default 'default'
   */
  readonly meshName?: string;
  /**
   * Whether to emit the cluster-scoped `Mesh` (builtin CA, mTLS STRICT). When false the mesh is
   * referenced by name and must already exist with mTLS enabled; without mTLS Kuma ignores every
   * MeshTrafficPermission. With several charts on one mesh the Mesh is emitted once per app (by
   * the first chart; the synth step emits every cluster-scoped object once).
   * @default true
   */
  readonly createMesh?: boolean;
  /**
   * What to do with HTTP rules, which Kuma's MeshTrafficPermission cannot match.
   * @default KumaHttpRules.REJECT
   * @deprecated use `weaken: [Weaken.HTTP_TO_PORT]`; `ENFORCE_AT_L4` is mapped onto it.
   */
  readonly httpRules?: KumaHttpRules;
  /**
   * Namespace of the Kuma control plane (kuma-cp), which every sidecar must reach on 5678.
   * @default 'kuma-system'
   */
  readonly controlPlaneNamespace?: string;
}

/** Resolves and validates the props. */
function kumaOptions(props: KumaMeshProps): KumaOptions {
  const meshName = props.meshName ?? 'default';
  checkDnsSubdomain(meshName, 'Mesh.kuma meshName');
  const controlPlaneNamespace = props.controlPlaneNamespace ?? 'kuma-system';
  checkDnsLabel(controlPlaneNamespace, 'Mesh.kuma controlPlaneNamespace');
  return {
    meshName,
    createMesh: props.createMesh ?? true,
    httpRulesAtL4: (props.httpRules ?? KumaHttpRules.REJECT) === KumaHttpRules.ENFORCE_AT_L4,
    controlPlaneNamespace,
  };
}

/** Kuma 2.x on Kubernetes: sidecars with mTLS STRICT, MeshTrafficPermission, MeshPassthrough. */
class KumaRenderer implements MeshRenderer {
  public readonly backend = 'kuma';

  public constructor(private readonly options: KumaOptions) {}

  public check(ctx: RenderContext): void {
    const ns = ctx.namespace.name;
    if (ns === this.options.controlPlaneNamespace) {
      throw new ZeroTrustError({
        code: 'CHART_IN_MESH_ROOT_NAMESPACE', backend: this.backend, namespace: ns,
        message: `namespace ${ns} is Kuma's system namespace (controlPlaneNamespace), where policies apply to the whole mesh and kuma-cp runs; put the workloads in a namespace of their own`,
      });
    }
    checkKuma(ctx.model, ns, this.options);
  }

  public namespaceMetadata(): MetadataAdditions {
    return { labels: { [KUMA_INJECTION_LABEL]: 'enabled', [KUMA_MESH_LABEL]: this.options.meshName } };
  }

  public podMetadata(ctx: RenderContext): MetadataAdditions {
    // Pods do not mount an API token (automountServiceAccountToken: false); the sidecar gets its
    // own from a projected volume, which the injector mounts into kuma-sidecar only.
    const annotations = { [KUMA_TOKEN_VOLUME_ANNOTATION]: KUMA_TOKEN_VOLUME };
    // A namespace managed elsewhere carries no injection label: the pods join the mesh themselves.
    if (ctx.createsNamespace !== false) return { annotations };
    return { annotations, labels: { [KUMA_INJECTION_LABEL]: 'enabled', [KUMA_MESH_LABEL]: this.options.meshName } };
  }

  public podSpecAdditions(): PodSpecAdditions {
    return { volumes: [tokenVolume()] };
  }

  public render(ctx: RenderContext): RenderedObject[] {
    return kumaObjects(ctx.model, ctx.namespace.name, this.options);
  }
}

/** The NetworkPolicy layer under Kuma: declared flows, kuma-cp and DNS. */
function kumaLayerOptions(options: KumaOptions): NetworkPolicyLayerOptions {
  return {
    backend: 'kuma',
    // Sidecar to sidecar traffic keeps the application port as its destination; no extra ports.
    l7EnforcedAbove: options.httpRulesAtL4,
    fqdnEgress: 'any-address',
    namespaceRules: [{
      name: 'allow-kuma-control-plane',
      reason: `every pod -> ${options.controlPlaneNamespace}/kuma-control-plane on 5678/TCP (sidecar bootstrap, xDS and certificates)`,
      egress: [{
        peers: [{
          namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: options.controlPlaneNamespace } },
          podSelector: { matchLabels: { app: 'kuma-control-plane' } },
        }],
        ports: [{ port: 5678, protocol: 'TCP' }],
      }],
    }],
  };
}

/** Kuma: the mesh, and the NetworkPolicy layer under it. */
export const kumaBackend: RenderBackend<KumaMeshProps, KumaOptions> = {
  settings: kumaOptions,
  id: () => 'kuma',
  layers: (options) => {
    const layer = kumaLayerOptions(options);
    return [new KumaRenderer(options), new NetworkPolicyLayer('kuma', () => ({ options: layer }))];
  },
};
