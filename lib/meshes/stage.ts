/**
 * What every mesh that honours `Enforcement.AUDIT` adds below itself: the NetworkPolicy layer must
 * not drop what the mesh only audits, or the audit would see nothing. In AUDIT each workload of
 * the chart gets one more NetworkPolicy, `<workload>-audit-ingress`, that admits ingress from any
 * source on the ports the mesh's proxy receives it on (the workload's TCP ports, or the proxy's
 * inbound port); NetworkPolicies add up, so every other policy is left exactly as in ENFORCE.
 * Egress, UDP and the ports the proxy does not capture stay enforced by the layer.
 */
import { ZeroTrustError } from '../intent/errors';
import { RenderContext, RenderedObject } from '../intent/render';
import { WorkloadModel, endpointKey, managedMetadata } from '../intent/model';

/** Annotation naming the rollout stage on the objects a stage changes (for reviewers). */
export const STAGE_ANNOTATION = 'zero-trust.cdk8s.io/stage';

/** True when the chart of `ctx` is in `Enforcement.AUDIT`. */
export function auditing(ctx: RenderContext): boolean {
  return ctx.namespace.enforcement === 'audit';
}

/** True when the chart of `ctx` is in `MtlsMode.PERMISSIVE`. */
export function permissive(ctx: RenderContext): boolean {
  return ctx.namespace.mtls === 'permissive';
}

/**
 * The `<workload>-audit-ingress` NetworkPolicies of a chart in AUDIT: for each workload, ingress
 * from anywhere on `ports(workload)` (TCP), so that the mesh sees, and records, every connection.
 */
export function auditIngressPolicies(ctx: RenderContext, mesh: string, ports: (w: WorkloadModel) => number[]): RenderedObject[] {
  if (!auditing(ctx)) return [];
  const out: RenderedObject[] = [];
  for (const w of ctx.model.workloads) {
    if (w.namespace !== ctx.namespace.name) continue;
    const numbers = [...new Set(ports(w))].sort((a, b) => a - b);
    if (numbers.length === 0) continue;
    const meta = managedMetadata(`${w.name}-audit-ingress`, w.namespace,
      [`AUDIT: any source -> ${w.namespace}/${w.name} on ${numbers.map((n) => `${n}/TCP`).join(', ')}, so that ${mesh} sees every connection and records those its policy would deny`]);
    out.push({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { ...meta, annotations: { ...meta.annotations, [STAGE_ANNOTATION]: 'audit' } },
      spec: {
        podSelector: { matchLabels: { ...w.selector } },
        policyTypes: ['Ingress'],
        ingress: [{ ports: numbers.map((port) => ({ port })) }],
      },
    });
  }
  return out;
}

/**
 * In AUDIT the NetworkPolicy layer no longer narrows a source by its pod labels, and a mesh that
 * names sources by identity (namespace and ServiceAccount) would then admit a pod of the source's
 * namespace without those labels *as allowed*, recording nothing: an opening the audit does not
 * show. Such a rule is refused (`AUDIT_NOT_RECORDED`) rather than audited.
 */
export function checkAuditSources(ctx: RenderContext, backend: string, mesh: string): void {
  if (!auditing(ctx)) return;
  const ns = ctx.namespace.name;
  for (const f of ctx.model.flows) {
    const src = f.source;
    const dst = f.destination;
    if (dst.type !== 'workload' || dst.workload.namespace !== ns || src.type !== 'external-workload' || Object.keys(src.labels).length === 0) continue;
    throw new ZeroTrustError({
      code: 'AUDIT_NOT_RECORDED', backend, namespace: ns, workload: f.declaredBy, rule: f.declaredAt,
      message: `${f.declaredAt}: in Enforcement.AUDIT the NetworkPolicy layer admits every source on ${dst.workload.name}'s ports, and ${mesh} names ${endpointKey(src)} `
        + `by namespace and ServiceAccount only: a pod of ${src.namespace} without its labels would be admitted as allowed, and not recorded as a would-be denial; keep this chart in ENFORCE`,
    });
  }
}
