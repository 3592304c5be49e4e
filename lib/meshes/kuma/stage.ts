/**
 * The rollout stage on Kuma: in AUDIT the entry that pins each destination's default
 * (`from: Mesh, Deny`) becomes `from: Mesh, AllowWithShadowDeny`: a client no other entry allows
 * is admitted, and Kuma logs it as if it were denied. The declared `Allow` entries, which come
 * after it, are unchanged. The NetworkPolicy layer admits ingress on the workloads' TCP ports
 * (Kuma's sidecar receives connections on the application port). `KumaIdentity.SPIFFE`
 * (`rules[]`, where a deny always wins) is refused; Kuma's mTLS mode belongs to the Mesh object
 * and PERMISSIVE is refused in `lib/intent/stage.ts`.
 */
import { ZeroTrustError } from '../../intent/errors';
import { RenderContext, RenderedObject } from '../../intent/render';
import { STAGE_ANNOTATION, auditIngressPolicies, auditing } from '../stage';

/** Refuses AUDIT where the Kuma renderer cannot express it. */
export function checkKumaStage(ctx: RenderContext, spiffe: boolean): void {
  if (!auditing(ctx) || !spiffe) return;
  throw new ZeroTrustError({
    code: 'STAGE_NOT_SUPPORTED', backend: 'kuma', namespace: ctx.namespace.name,
    message: `ZeroTrustChart ${ctx.namespace.name}: Enforcement.AUDIT with KumaIdentity.SPIFFE cannot be rendered: its MeshTrafficPermission rules[] have no default entry to audit (no match is denied, and an allowWithShadowDeny of every client would be joined with every other policy's lists); use the default KumaIdentity.TAGS for the audit`,
  });
}

/** The chart's Kuma objects in its stage. */
export function stagedKumaObjects(ctx: RenderContext, objects: RenderedObject[]): RenderedObject[] {
  if (!auditing(ctx)) return objects;
  const ns = ctx.namespace.name;
  const staged = objects.map((o) => {
    if (o.kind !== 'MeshTrafficPermission' || o.metadata.namespace !== ns || !Array.isArray(o.spec?.from)) return o;
    const from = o.spec.from.map((e: any) => (e?.targetRef?.kind === 'Mesh' && e?.default?.action === 'Deny' ? { ...e, default: { ...e.default, action: 'AllowWithShadowDeny' } } : e));
    return { ...o, metadata: { ...o.metadata, annotations: { ...o.metadata.annotations, [STAGE_ANNOTATION]: 'audit' } }, spec: { ...o.spec, from } };
  });
  const ports = (w: { ports: Array<{ protocol: string; number: number; endPort?: number }> }) => w.ports.filter((p) => p.protocol === 'TCP' && p.endPort === undefined).map((p) => p.number);
  return [...staged, ...auditIngressPolicies(ctx, 'the Kuma sidecar', ports)];
}
