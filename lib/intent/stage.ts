/**
 * The rollout stage of a chart: whether its mesh enforces the intent or only records what it
 * would deny (`Enforcement`), and whether its workloads still accept plaintext (`MtlsMode`).
 * Which backend honours which stage is decided here, once; the renderers only map a stage they
 * are given onto their own mechanism (see the README, "Rolling out").
 */
import { BackendId } from './backend';
import { ZeroTrustError } from './errors';

/** Whether a chart's mesh enforces its intent or audits it. */
export enum Enforcement {
  /** Undeclared connections to the chart's workloads are denied (the default). */
  ENFORCE = 'ENFORCE',
  /**
   * Undeclared connections that reach a workload of the chart are admitted, and the mesh records
   * that its policy would have denied them (Istio sidecar dry-run, Linkerd `audit`). What the
   * chart's workloads may send stays enforced.
   */
  AUDIT = 'AUDIT',
}

/** Whether a chart's workloads accept plaintext from clients without a proxy. */
export enum MtlsMode {
  /** Only mutual TLS is accepted (the default). */
  STRICT = 'STRICT',
  /**
   * Plaintext is accepted too, for clients not yet in the mesh. On Istio the authorization still
   * decides (a rule naming an identity admits no plaintext client unless the chart is in `AUDIT`);
   * on Kuma no permission applies to plaintext, and the NetworkPolicy layer admits the declared
   * sources by labels.
   */
  PERMISSIVE = 'PERMISSIVE',
}

/** The stage of a namespace as the model records it (absent fields: `ENFORCE`, `STRICT`). */
export interface StageModel {
  /** `audit` when the chart is in `Enforcement.AUDIT`. */
  readonly enforcement?: 'audit';
  /** `permissive` when the chart is in `MtlsMode.PERMISSIVE`. */
  readonly mtls?: 'permissive';
}

/** Per backend: why it cannot honour a stage, or undefined when it can. */
const AUDIT_REFUSALS: Record<BackendId, string | undefined> = {
  'networkpolicy': 'NetworkPolicy has no audit mode: a policy admits or drops, and records neither; use a mesh with one (Mesh.istio() sidecar, Mesh.linkerd()), or your CNI\'s own policy audit (Cilium policy-audit-mode, Calico staged policies) outside this library',
  'istio': undefined,
  'istio-ambient': 'ztunnel in the pinned Istio 1.30 does not record dry-run AuthorizationPolicies (istiod drops them for ztunnel since 1.25, istio/istio#55414; ztunnel\'s own dry-run, ztunnel#1659, logs at debug level only and is new), so the policies would be open with nothing recorded; use IstioMode.SIDECAR for the audit, or Mesh.linkerd()',
  'linkerd': undefined,
  'cilium': 'Cilium\'s audit mode is not a policy field: it is the agent\'s policy-audit-mode (Helm policyAuditMode=true) or a per-endpoint setting (cilium endpoint config <id> PolicyAuditMode=Enabled), which the YAML of a chart cannot carry; set it on the cluster and keep this chart in ENFORCE (Hubble then shows the would-be drops as AUDIT verdicts), or use Mesh.istio() sidecar or Mesh.linkerd()',
  'kuma': undefined,
  'nsm': 'Network Service Mesh has no audit mode: a client either has a connection to a network service or none; use Mesh.istio() sidecar or Mesh.linkerd() for the audit',
};

const PERMISSIVE_REFUSALS: Record<BackendId, string | undefined> = {
  'networkpolicy': 'NetworkPolicy provides no mTLS, so there is none to relax',
  'istio': undefined,
  'istio-ambient': 'the NetworkPolicy layer under ambient admits only HBONE (15008) between meshed pods, so a plaintext client would still be dropped; use IstioMode.SIDECAR for the migration',
  'linkerd': 'Linkerd has no mTLS mode: meshed pods always talk mTLS and the authorization alone decides whether a client without a proxy is admitted; use Enforcement.AUDIT, whose audit policy admits such clients and records them',
  'cilium': 'Cilium\'s mutual authentication (CiliumMutualAuth) is chosen on Mesh.cilium(), not per chart; the default (NONE) has no mTLS to relax',
  'kuma': undefined,
  'nsm': 'Network Service Mesh connections have no plaintext mode to allow',
};

/**
 * The stage of a chart, checked against its backend: a stage the backend cannot honour is a
 * `STAGE_NOT_SUPPORTED` or `MTLS_MODE_NOT_SUPPORTED` error naming the alternatives.
 */
export function chartStage(enforcement: unknown, mtls: unknown, backend: BackendId, where: string, namespace: string): StageModel {
  const e = enforcement ?? Enforcement.ENFORCE;
  const m = mtls ?? MtlsMode.STRICT;
  if (!Object.values(Enforcement).includes(e as Enforcement)) {
    throw new ZeroTrustError({ code: 'INVALID_ARGUMENT', namespace, message: `${where}: enforcement must be one of ${Object.values(Enforcement).join(', ')}, got ${JSON.stringify(e)}` });
  }
  if (!Object.values(MtlsMode).includes(m as MtlsMode)) {
    throw new ZeroTrustError({ code: 'INVALID_ARGUMENT', namespace, message: `${where}: mtls must be one of ${Object.values(MtlsMode).join(', ')}, got ${JSON.stringify(m)}` });
  }
  if (e === Enforcement.AUDIT && AUDIT_REFUSALS[backend]) {
    throw new ZeroTrustError({ code: 'STAGE_NOT_SUPPORTED', backend, namespace, message: `${where}: Enforcement.AUDIT cannot be honoured: ${AUDIT_REFUSALS[backend]}` });
  }
  if (m === MtlsMode.PERMISSIVE && PERMISSIVE_REFUSALS[backend]) {
    throw new ZeroTrustError({ code: 'MTLS_MODE_NOT_SUPPORTED', backend, namespace, message: `${where}: MtlsMode.PERMISSIVE cannot be honoured: ${PERMISSIVE_REFUSALS[backend]}` });
  }
  return { ...(e === Enforcement.AUDIT ? { enforcement: 'audit' as const } : {}), ...(m === MtlsMode.PERMISSIVE ? { mtls: 'permissive' as const } : {}) };
}
