/**
 * The rollout stage on Istio (sidecar mode; ambient refuses both stages in `lib/intent/stage.ts`):
 * in AUDIT every AuthorizationPolicy of the chart carries `istio.io/dry-run: "true"` (Envoy
 * evaluates it as a shadow policy and records its result, enforcing nothing), and the
 * NetworkPolicy layer admits ingress on the workloads' ports; in PERMISSIVE the namespace's
 * PeerAuthentication accepts plaintext. ENFORCE and STRICT change nothing.
 */
import { RenderContext, RenderedObject } from '../../intent/render';
import { STAGE_ANNOTATION, auditIngressPolicies, auditing, permissive } from '../stage';

/** Istio's annotation that makes an AuthorizationPolicy a dry run. */
const ISTIO_DRY_RUN_ANNOTATION = 'istio.io/dry-run';

/** The chart's Istio objects in its stage: dry-run AuthorizationPolicies, a PERMISSIVE PeerAuthentication, the audit NetworkPolicies. */
export function stagedIstioObjects(ctx: RenderContext, objects: RenderedObject[]): RenderedObject[] {
  const audit = auditing(ctx);
  const plain = permissive(ctx);
  if (!audit && !plain) return objects;
  const ns = ctx.namespace.name;
  const staged = objects.map((o) => {
    if (audit && o.kind === 'AuthorizationPolicy' && o.metadata.namespace === ns) {
      return { ...o, metadata: { ...o.metadata, annotations: { ...o.metadata.annotations, [ISTIO_DRY_RUN_ANNOTATION]: 'true', [STAGE_ANNOTATION]: 'audit' } } };
    }
    if (plain && o.kind === 'PeerAuthentication' && o.metadata.namespace === ns) {
      return {
        ...o,
        metadata: {
          ...o.metadata,
          annotations: {
            ...o.metadata.annotations,
            // The namespace-wide policy says it in words; a workload's keeps its own (its address-range ports were PERMISSIVE already).
            ...(o.spec?.selector ? {} : { 'zero-trust.cdk8s.io/allows': `PERMISSIVE mTLS: pods of ${ns} accept mesh (mTLS) and plaintext connections` }),
            [STAGE_ANNOTATION]: 'permissive',
          },
        },
        spec: { ...o.spec, mtls: { ...o.spec?.mtls, mode: 'PERMISSIVE' } },
      };
    }
    return o;
  });
  // The sidecar receives inbound connections on the workload's own ports (redirected to 15006).
  const tcpPorts = (w: { ports: Array<{ protocol: string; number: number; endPort?: number }> }) => w.ports.filter((p) => p.protocol === 'TCP' && p.endPort === undefined).map((p) => p.number);
  return [...staged, ...auditIngressPolicies(ctx, 'the sidecar', tcpPorts)];
}
