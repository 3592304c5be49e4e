/**
 * Endpoints for the Istio reader tests, read from synthesized manifests: one pod per Deployment or
 * StatefulSet (labels, ServiceAccount, container ports, namespace labels), plus hand-made pods
 * and addresses outside the app.
 */
import { Endpoint, Manifest } from '../../lib/verify/types';

/** One pod endpoint per workload object of the manifests. */
export function workloadEndpoints(manifests: Manifest[]): Endpoint[] {
  const nsLabels = new Map<string, { [key: string]: string }>();
  for (const m of manifests) if (m.kind === 'Namespace') nsLabels.set(m.metadata.name, { ...(m.metadata.labels ?? {}), 'kubernetes.io/metadata.name': m.metadata.name });
  return manifests.filter((m) => m.kind === 'Deployment' || m.kind === 'StatefulSet').map((m) => {
    const pod = m.spec.template;
    const ns = m.metadata.namespace!;
    return {
      id: `${ns}/${m.metadata.name}`,
      kind: 'pod' as const,
      namespace: ns,
      namespaceLabels: nsLabels.get(ns) ?? { 'kubernetes.io/metadata.name': ns },
      labels: { ...(pod.metadata?.labels ?? {}) },
      annotations: { ...(pod.metadata?.annotations ?? {}) },
      serviceAccount: pod.spec.serviceAccountName,
      ports: (pod.spec.containers ?? []).flatMap((c: any) => (c.ports ?? []).map((p: any) => ({ name: p.name, number: p.containerPort, protocol: p.protocol ?? 'TCP' }))),
      workload: m.metadata.name,
    };
  });
}

/** A pod of a namespace outside the app. */
export function foreignPod(namespace: string, name: string, labels: { [key: string]: string } = { app: name }, serviceAccount = name): Endpoint {
  return {
    id: `${namespace}/${name}`,
    kind: 'pod',
    namespace,
    namespaceLabels: { 'kubernetes.io/metadata.name': namespace },
    labels,
    serviceAccount,
    ports: [],
    workload: name,
  };
}

/** An address outside the cluster. */
export function ipEndpoint(ip: string): Endpoint {
  return { id: `ip:${ip}`, kind: 'ip', ip };
}

/** An external host. */
export function fqdnEndpoint(host: string): Endpoint {
  return { id: `fqdn:${host}`, kind: 'fqdn', host };
}
