import { ZeroTrustError } from '../../intent/errors';
import { RenderedObject } from '../../intent/render';
import { MANAGED_BY, MANAGED_BY_LABEL, NAME_LABEL, WorkloadModel } from '../../intent/model';
import { NAMESPACE_NAME_LABEL } from '../networkpolicy/policies';
import { compareText } from '../../intent/collation';

/** SPIFFE ID template of the Istio/SPIRE convention: trust domain, namespace, ServiceAccount. */
const SERVICE_ACCOUNT_ID_TEMPLATE = 'spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }}';

/** Trust domain of Network Service Mesh's own SPIRE deployment (deployments-k8s). */
export const NSM_TRUST_DOMAIN = 'k8s.nsm';

/**
 * SPIFFE ID template of Network Service Mesh: one identity per pod, `spiffe://<trust
 * domain>/ns/<namespace>/pod/<pod name>` (NSM's token chains name pods, not ServiceAccounts).
 */
export function nsmPodIdTemplate(trustDomain: string = NSM_TRUST_DOMAIN): string {
  if (!/^[a-z0-9._-]+$/.test(trustDomain)) {
    throw new ZeroTrustError({ code: 'INVALID_TRUST_DOMAIN', message: `SPIFFE trust domain "${trustDomain}" may only contain lowercase letters, digits, '.', '_' and '-'` });
  }
  return `spiffe://${trustDomain}/ns/{{.PodMeta.Namespace}}/pod/{{.PodMeta.Name}}`;
}

/** Options of one ClusterSPIFFEID registration. */
export interface ClusterSpiffeIdOptions {
  /** The SPIFFE ID template (SPIRE controller manager syntax). */
  readonly spiffeIdTemplate: string;
  /** Optional extra pod labels to select on, beside the workload's selector. */
  readonly extraPodLabels?: { [key: string]: string };
  /** Optional `className` of the SPIRE controller manager that should reconcile it. */
  readonly className?: string;
}

/**
 * A `spire.spiffe.io/v1alpha1` ClusterSPIFFEID that registers exactly one workload's pods with
 * SPIRE: selected by namespace name and the workload's selector labels. Cluster-scoped, so its
 * name carries the namespace: `<namespace>-<workload>`.
 */
export function clusterSpiffeId(workload: WorkloadModel, options: ClusterSpiffeIdOptions): RenderedObject {
  return {
    apiVersion: 'spire.spiffe.io/v1alpha1',
    kind: 'ClusterSPIFFEID',
    metadata: {
      name: `${workload.namespace}-${workload.name}`,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [NAME_LABEL]: workload.name },
    },
    spec: {
      ...(options.className ? { className: options.className } : {}),
      spiffeIDTemplate: options.spiffeIdTemplate,
      namespaceSelector: { matchLabels: { [NAMESPACE_NAME_LABEL]: workload.namespace } },
      podSelector: { matchLabels: { ...(options.extraPodLabels ?? {}), ...workload.selector } },
    },
  };
}

/**
 * SPIRE registration of every workload of a namespace: one `ClusterSPIFFEID` per workload, so
 * SPIRE issues it an SVID named after its namespace and ServiceAccount. Backends that can run on
 * SPIRE-issued identities (Cilium, Istio) take it as an option.
 */
export interface SpiffeIdRegistration {
  /**
   * SPIFFE ID template in SPIRE controller manager syntax.
   * @default `spiffe://{{ .TrustDomain }}/ns/{{ .PodMeta.Namespace }}/sa/{{ .PodSpec.ServiceAccountName }}`
   */
  readonly spiffeIdTemplate?: string;
  /**
   * `className` of the SPIRE controller manager that should reconcile the registrations.
   * @default - none (the controller manager's default class)
   */
  readonly className?: string;
}

/** Emits one ClusterSPIFFEID per workload of `namespace`, sorted by workload name. */
export function registerWorkloads(workloads: WorkloadModel[], namespace: string, registration: SpiffeIdRegistration): RenderedObject[] {
  return workloads
    .filter((w) => w.namespace === namespace)
    .sort((a, b) => compareText(a.name, b.name))
    .map((w) => clusterSpiffeId(w, {
      spiffeIdTemplate: registration.spiffeIdTemplate ?? SERVICE_ACCOUNT_ID_TEMPLATE,
      className: registration.className,
    }));
}
