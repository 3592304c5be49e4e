/**
 * What runs where, read from manifests: the namespaces (with their labels) and the pods each
 * workload object would create, as `Endpoint`s.
 */
import { AnyManifest, manifestOf } from './manifests';
import { WORKLOAD_KIND_NAMES, podTemplateOf } from './shapes';
import { Endpoint, EndpointPort, Manifest } from './types';

/** The label Kubernetes sets on every namespace to its own name. */
export const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/**
 * Workload kinds whose pods the inventory lists (of their own API groups: a CRD named `Job`
 * elsewhere makes no pod).
 */
export const WORKLOAD_KINDS: string[] = [...WORKLOAD_KIND_NAMES];

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
  /**
   * One pod endpoint per workload object, sorted by id: `ns/name`, or `ns/Kind/name` when
   * objects of several kinds share the namespace and name (a Deployment and a StatefulSet `db`
   * are two workloads, `prod/Deployment/db` and `prod/StatefulSet/db`). Of two objects of the
   * same kind, namespace and name, the last one read is the one the cluster keeps.
   */
  readonly workloads: Endpoint[];
}

/** A workload object and the id of its pods in the inventory. */
export interface WorkloadObject {
  readonly id: string;
  readonly manifest: Manifest;
  /** Its pod template. */
  readonly template: { metadata?: any; spec?: any };
}

/** The workload objects of a set of manifests, each with its inventory id, sorted by id. */
export function workloadObjects(manifests: readonly AnyManifest[]): WorkloadObject[] {
  const byKey = new Map<string, { ns: string; manifest: Manifest; template: { metadata?: any; spec?: any } }>();
  for (const src of manifests) {
    const m = manifestOf(src);
    const template = podTemplateOf(m);
    if (!template) continue;
    const ns = namespaceOfObject(m) ?? 'default';
    const key = `${ns}/${m.kind}/${m.metadata.name}`;
    byKey.delete(key); // the last one read wins, as it does in the cluster
    byKey.set(key, { ns, manifest: m, template });
  }
  const kinds = new Map<string, Set<string>>();
  for (const w of byKey.values()) {
    const short = `${w.ns}/${w.manifest.metadata.name}`;
    kinds.set(short, (kinds.get(short) ?? new Set()).add(w.manifest.kind));
  }
  const out = [...byKey.values()].map((w) => {
    const short = `${w.ns}/${w.manifest.metadata.name}`;
    const id = kinds.get(short)!.size > 1 ? `${w.ns}/${w.manifest.kind}/${w.manifest.metadata.name}` : short;
    return { id, manifest: w.manifest, template: w.template };
  });
  return out.sort((a, b) => compareStrings(a.id, b.id));
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
  const workloads = workloadObjects(objects).map((w) => ({
    ...podEndpoint(namespaces.get(namespaceOfObject(w.manifest)!)!, w.manifest.metadata.name, w.template.metadata ?? {}, w.template.spec ?? {}),
    id: w.id,
  }));
  return { namespaces: [...namespaces.values()].sort((a, b) => compareStrings(a.name, b.name)), workloads };
}

/** A namespace nobody declared: only the implicit name label. */
export function implicitNamespace(name: string): NamespaceInfo {
  return { name, labels: { [NAMESPACE_NAME_LABEL]: name }, annotations: {}, declared: false };
}

/** The namespace of a namespaced object (`default` when unset); undefined for cluster-scoped kinds. */
export function namespaceOfObject(m: Manifest): string | undefined {
  if (CLUSTER_SCOPED.has(m.kind)) return undefined;
  return m.metadata.namespace || 'default';
}

const CLUSTER_SCOPED = new Set([
  'Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PersistentVolume',
  'StorageClass', 'PriorityClass', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration',
  'ClusterSPIFFEID', 'Mesh', 'MeshTrafficPermission', 'CiliumClusterwideNetworkPolicy', 'GlobalNetworkPolicy', 'Node',
]);

/** The endpoint of a pod with the given metadata and spec. */
export function podEndpoint(ns: NamespaceInfo, workload: string, metadata: { labels?: any; annotations?: any }, spec: any): Endpoint {
  const ports: EndpointPort[] = [];
  const containers = [...(spec.containers ?? []), ...(spec.initContainers ?? []).filter((c: any) => c?.restartPolicy === 'Always')];
  for (const c of containers) {
    for (const p of c?.ports ?? []) {
      if (typeof p?.containerPort !== 'number') continue;
      const protocol = p.protocol ?? 'TCP';
      if (protocol !== 'TCP' && protocol !== 'UDP') continue; // SCTP: refused at load unless ignored there
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
