/**
 * The rollout stage on Linkerd: in AUDIT the namespace's (and pods') default inbound policy is
 * `audit` instead of `deny`, and every Server's `accessPolicy` is `audit` (Linkerd 2.16+): the
 * policy controller then adds an authorization named `audit` that admits any client, and the proxy
 * logs each connection or request it admits. The NetworkPolicy layer admits ingress on the proxy's
 * inbound port (4143, what it sees between meshed pods) and the workloads' TCP ports (what it sees
 * from clients without a proxy). Linkerd has no mTLS mode: PERMISSIVE is refused in
 * `lib/intent/stage.ts`.
 */
import { RenderContext, RenderedObject } from '../../intent/render';
import { STAGE_ANNOTATION, auditIngressPolicies, auditing } from '../stage';
import { LINKERD_INBOUND_PORT } from './policies';

/** The default inbound policy of the chart's namespace and pods in its stage. */
export function linkerdDefaultPolicy(ctx: RenderContext | undefined): 'deny' | 'audit' {
  return ctx && auditing(ctx) ? 'audit' : 'deny';
}

/** The chart's Linkerd objects in its stage: Servers in `audit`, the audit NetworkPolicies. */
export function stagedLinkerdObjects(ctx: RenderContext, objects: RenderedObject[]): RenderedObject[] {
  if (!auditing(ctx)) return objects;
  const ns = ctx.namespace.name;
  const staged = objects.map((o) => (o.kind === 'Server' && o.metadata.namespace === ns
    ? { ...o, metadata: { ...o.metadata, annotations: { ...o.metadata.annotations, [STAGE_ANNOTATION]: 'audit' } }, spec: { ...o.spec, accessPolicy: 'audit' } }
    : o));
  const ports = (w: { ports: Array<{ protocol: string; number: number; endPort?: number }> }) => [
    LINKERD_INBOUND_PORT, ...w.ports.filter((p) => p.protocol === 'TCP' && p.endPort === undefined).map((p) => p.number),
  ];
  return [...staged, ...auditIngressPolicies(ctx, 'the Linkerd proxy', ports)];
}
