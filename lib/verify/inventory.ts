/**
 * What runs where, read from manifests: the namespaces (with their labels) and the pods each
 * workload object would create, as `Endpoint`s.
 */
import { AnyManifest, manifestOf } from './manifests';
import { Endpoint, EndpointPort, Manifest } from './types';

/** The label Kubernetes sets on every namespace to its own name. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** Workload kinds whose pods the inventory lists. */
export const WORKLOAD_KINDS = ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Pod', 'Job', 'CronJob'];

/** A namespace, declared by a Namespace object or only referenced by other objects. */
export interface NamespaceInfo {
  readonly name: string;
  /** Labels, always including `kubernetes.io/metadata.name`. */
  readonly labels: { [key: string]: string };
  readonly annotations: { [key: string]: string };
  /** True when a Namespace object was in the manifests. */
  readonly declared: boolean;
}

/** Namespaces and workload pods of a set of manifests. */
export interface Inventory {
  /** By name, sorted. */
  readonly namespaces: NamespaceInfo[];
  /** One pod endpoint per workload object, sorted by id. */
  readonly workloads: Endpoint[];
}

/** Builds the inventory of a set of manifests. */
export function inventory(manifests: readonly AnyManifest[]): Inventory {
  const objects = manifests.map(manifestOf);
  const namespaces = new Map<string, NamespaceInfo>();
  for (const m of objects) {
    if (m.apiVersion === 'v1' && m.kind === 'Namespace') {
      namespaces.set(m.metadata.name, {
        name: m.metadata.name,
        labels: { ...(m.metadata.labels ?? {}), [NAMESPACE_NAME_LABEL]: m.metadata.name },
        annotations: { ...(m.metadata.annotations ?? {}) },
        declared: true,
      });
    }
  }
  for (const m of objects) {
    if (m.kind === 'Namespace') continue;
    const ns = namespaceOfObject(m);
    if (ns && !namespaces.has(ns)) namespaces.set(ns, implicitNamespace(ns));
  }
  const workloads: Endpoint[] = [];
  for (const m of objects) {
    const pod = podTemplateOf(m);
    if (!pod) continue;
    const ns = namespaces.get(namespaceOfObject(m)!)!;
    workloads.push(podEndpoint(ns, m.metadata.name, pod.metadata ?? {}, pod.spec ?? {}));
  }
  workloads.sort((a, b) => compareStrings(a.id, b.id));
  return { namespaces: [...namespaces.values()].sort((a, b) => compareStrings(a.name, b.name)), workloads };
}

/** A namespace nobody declared: only the implicit name label. */
export function implicitNamespace(name: string): NamespaceInfo {
  return { name, labels: { [NAMESPACE_NAME_LABEL]: name }, annotations: {}, declared: false };
}

/** The namespace of a namespaced object (`default` when unset); undefined for cluster-scoped kinds. */
export function namespaceOfObject(m: Manifest): string | undefined {
  if (CLUSTER_SCOPED.has(m.kind)) return undefined;
  return m.metadata.namespace ?? 'default';
}

const CLUSTER_SCOPED = new Set([
  'Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PersistentVolume',
  'StorageClass', 'PriorityClass', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration',
  'ClusterSPIFFEID', 'Mesh', 'MeshTrafficPermission', 'CiliumClusterwideNetworkPolicy', 'GlobalNetworkPolicy', 'Node',
]);

function podTemplateOf(m: Manifest): { metadata?: any; spec?: any } | undefined {
  if (!WORKLOAD_KINDS.includes(m.kind)) return undefined;
  if (m.kind === 'Pod') return { metadata: m.metadata, spec: m.spec };
  if (m.kind === 'CronJob') return m.spec?.jobTemplate?.spec?.template;
  return m.spec?.template;
}

/** The endpoint of a pod with the given metadata and spec. */
export function podEndpoint(ns: NamespaceInfo, workload: string, metadata: { labels?: any; annotations?: any }, spec: any): Endpoint {
  const ports: EndpointPort[] = [];
  const containers = [...(spec.containers ?? []), ...(spec.initContainers ?? []).filter((c: any) => c?.restartPolicy === 'Always')];
  for (const c of containers) {
    for (const p of c?.ports ?? []) {
      if (typeof p?.containerPort !== 'number') continue;
      const protocol = p.protocol ?? 'TCP';
      if (protocol !== 'TCP' && protocol !== 'UDP') continue; // SCTP: not modelled
      ports.push({ ...(p.name ? { name: String(p.name) } : {}), number: p.containerPort, protocol });
    }
  }
  return {
    id: `${ns.name}/${workload}`,
    kind: 'pod',
    namespace: ns.name,
    namespaceLabels: { ...ns.labels },
    namespaceAnnotations: { ...ns.annotations },
    labels: { ...(metadata.labels ?? {}) },
    annotations: { ...(metadata.annotations ?? {}) },
    serviceAccount: spec.serviceAccountName ?? spec.serviceAccount ?? 'default',
    ports,
    workload,
  };
}

/** Plain code-point comparison, so order does not depend on the locale. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
