/**
 * The rollout stage on Kuma: in AUDIT the entry that pins each destination's default
 * (`from: Mesh, Deny`) becomes `from: Mesh, AllowWithShadowDeny`: a client no other entry allows
 * is admitted, and Kuma logs it as if it were denied. The declared `Allow` entries, which come
 * after it, are unchanged. The NetworkPolicy layer admits ingress on the workloads' TCP ports
 * (Kuma's sidecar receives connections on the application port). `KumaIdentity.SPIFFE`
 * (`rules[]`, where a deny always wins) is refused.
 *
 * In PERMISSIVE the chart gets one `MeshTLS` (`permissive-mtls`, `targetRef: Mesh` in the chart's
 * namespace, so every sidecar of that namespace and no other) with `rules[].default.mode:
 * Permissive`: the sidecars accept plaintext beside mTLS. Kuma puts its RBAC filter (the
 * MeshTrafficPermissions) only on the mTLS filter chain (kumahq/kuma#8152, fixed by #8171 in 2023, long before the pinned 2.14), so a
 * plaintext connection is checked by no permission: the NetworkPolicy layer, which admits the
 * declared sources by labels, is then the only check. With `KumaIdentity.SPIFFE` that layer leaves
 * a workload source's ServiceAccount to the sidecar, so a plaintext pod of the source's namespace
 * would be admitted unchecked: PERMISSIVE is refused there. PERMISSIVE with AUDIT is refused too:
 * the audit NetworkPolicies admit any source, and plaintext meets no permission that could record it.
 */
import { ZeroTrustError } from '../../intent/errors';
import { RenderContext, RenderedObject } from '../../intent/render';
import { STAGE_ANNOTATION, auditIngressPolicies, auditing, permissive } from '../stage';
import { metadata } from './policies';

/** Name of the chart's MeshTLS in PERMISSIVE. */
const PERMISSIVE_MESH_TLS = 'permissive-mtls';

/** Refuses the stages the Kuma renderer cannot express. */
export function checkKumaStage(ctx: RenderContext, spiffe: boolean): void {
  const ns = ctx.namespace.name;
  if (auditing(ctx) && permissive(ctx)) {
    throw new ZeroTrustError({
      code: 'MTLS_MODE_NOT_SUPPORTED', backend: 'kuma', namespace: ns,
      message: `ZeroTrustChart ${ns}: MtlsMode.PERMISSIVE with Enforcement.AUDIT cannot be honoured on Kuma: the audit NetworkPolicies admit every source on the workloads' ports, and Kuma checks no MeshTrafficPermission on plaintext, so an undeclared client outside the mesh would be admitted and recorded nowhere; audit in STRICT first, then move the enforced chart to PERMISSIVE`,
    });
  }
  if (!spiffe) return;
  if (auditing(ctx)) {
    throw new ZeroTrustError({
      code: 'STAGE_NOT_SUPPORTED', backend: 'kuma', namespace: ns,
      message: `ZeroTrustChart ${ns}: Enforcement.AUDIT with KumaIdentity.SPIFFE cannot be rendered: its MeshTrafficPermission rules[] have no default entry to audit (no match is denied, and an allowWithShadowDeny of every client would be joined with every other policy's lists); use the default KumaIdentity.TAGS for the audit`,
    });
  }
  if (permissive(ctx)) {
    throw new ZeroTrustError({
      code: 'MTLS_MODE_NOT_SUPPORTED', backend: 'kuma', namespace: ns,
      message: `ZeroTrustChart ${ns}: MtlsMode.PERMISSIVE with KumaIdentity.SPIFFE cannot be honoured: Kuma checks no MeshTrafficPermission on plaintext, and the NetworkPolicy layer leaves a workload source's ServiceAccount to the sidecar, so any plaintext pod of a source's namespace would be admitted; use the default KumaIdentity.TAGS for the migration (its NetworkPolicy layer admits the declared sources by labels)`,
    });
  }
}

/** The chart's Kuma objects in its stage. */
export function stagedKumaObjects(ctx: RenderContext, objects: RenderedObject[], meshName: string): RenderedObject[] {
  const audit = auditing(ctx);
  const plain = permissive(ctx);
  if (!audit && !plain) return objects;
  const ns = ctx.namespace.name;
  const staged = !audit ? objects : objects.map((o) => {
    if (o.kind !== 'MeshTrafficPermission' || o.metadata.namespace !== ns || !Array.isArray(o.spec?.from)) return o;
    const from = o.spec.from.map((e: any) => (e?.targetRef?.kind === 'Mesh' && e?.default?.action === 'Deny' ? { ...e, default: { ...e.default, action: 'AllowWithShadowDeny' } } : e));
    return { ...o, metadata: { ...o.metadata, annotations: { ...o.metadata.annotations, [STAGE_ANNOTATION]: 'audit' } }, spec: { ...o.spec, from } };
  });
  const out = [...staged];
  if (plain) {
    const meta = metadata(PERMISSIVE_MESH_TLS, ns, meshName,
      [`PERMISSIVE mTLS: the sidecars of ${ns} accept plaintext beside mTLS; Kuma checks no MeshTrafficPermission on plaintext, the NetworkPolicy layer alone admits it`]);
    out.push({
      apiVersion: 'kuma.io/v1alpha1',
      kind: 'MeshTLS',
      metadata: { ...meta, annotations: { ...meta.annotations, [STAGE_ANNOTATION]: 'permissive' } },
      spec: { targetRef: { kind: 'Mesh' }, rules: [{ default: { mode: 'Permissive' } }] },
    });
  }
  const ports = (w: { ports: Array<{ protocol: string; number: number; endPort?: number }> }) => w.ports.filter((p) => p.protocol === 'TCP' && p.endPort === undefined).map((p) => p.number);
  return [...out, ...auditIngressPolicies(ctx, 'the Kuma sidecar', ports)];
}
