/**
 * The metrics ports of each mesh's proxy in the workload's pod, which `allowMetricsScraping` opens
 * to the scraper beside the app's own metrics port. Upstream facts (versions in
 * `../shared/crds/SOURCES.md`):
 *
 * - Istio sidecar: 15020 (pilot-agent's merged `/stats/prometheus`: Envoy's and, with
 *   `prometheus.io` annotations, the app's) and 15090 (Envoy's own). Neither is captured by the
 *   sidecar's inbound redirection, so no AuthorizationPolicy applies to them and they are plain
 *   HTTP: only the NetworkPolicy layer decides. Ambient pods have no proxy of their own (ztunnel
 *   runs per node): none.
 * - Linkerd: the proxy's admin server, 4191 (`/metrics`, `/live`, `/ready`). The proxy's init
 *   skips it when redirecting, and the admin server is under Linkerd's inbound policy: a Server
 *   for it with an authorization for the scraper (and the kubelet, for the proxy's own probes).
 * - Kuma: the data plane proxy's Prometheus endpoint, 5670 by default (`MeshMetric` backends can
 *   move it), served by kuma-dp outside the inbound listeners, so no MeshTrafficPermission applies.
 * - Cilium, Network Service Mesh, plain NetworkPolicy: no proxy in the pod, none.
 */
import { BackendId } from '../intent/backend';
import { ZeroTrustModel } from '../intent/model';
import { Port } from '../intent/port';
import { MeshRenderer, RenderContext } from '../intent/render';

/** Istio's merged metrics port (pilot-agent). */
const ISTIO_MERGED_METRICS_PORT = 15020;
/** Envoy's own Prometheus port in an Istio sidecar. */
const ISTIO_ENVOY_METRICS_PORT = 15090;
/** Linkerd's proxy admin port. */
export const LINKERD_ADMIN_PORT = 4191;
/** Kuma's default data plane metrics port. */
const KUMA_METRICS_PORT = 5670;

/** The proxy metrics ports of every backend id (a new backend must say its own). */
const PROXY_METRICS_PORTS: { readonly [id in BackendId]: () => Port[] } = {
  'networkpolicy': () => [],
  'istio': () => [Port.http(ISTIO_MERGED_METRICS_PORT, 'istio-metrics'), Port.http(ISTIO_ENVOY_METRICS_PORT, 'envoy-prom')],
  'istio-ambient': () => [],
  'linkerd': () => [Port.http(LINKERD_ADMIN_PORT, 'linkerd-admin')],
  'cilium': () => [],
  'kuma': () => [Port.http(KUMA_METRICS_PORT, 'kuma-metrics')],
  'nsm': () => [],
};

/** The metrics ports of the backend's proxy in the workload's pod. */
export function proxyMetricsPorts(backend: BackendId): Port[] {
  return PROXY_METRICS_PORTS[backend]();
}

const WITHOUT_PROXY = new WeakMap<ZeroTrustModel, ZeroTrustModel>();
const CONTEXTS = new WeakMap<RenderContext, RenderContext>();

/** The model without its proxy flows (computed once per model, so per-model caches stay warm). */
function withoutProxyModel(model: ZeroTrustModel): ZeroTrustModel {
  if (!model.flows.some((f) => f.proxy)) return model;
  let out = WITHOUT_PROXY.get(model);
  if (!out) {
    out = { ...model, flows: model.flows.filter((f) => !f.proxy) };
    WITHOUT_PROXY.set(model, out);
  }
  return out;
}

/** The render context without the proxy flows (for a layer that renders them only in part). */
export function withoutProxyContext(ctx: RenderContext): RenderContext {
  const model = withoutProxyModel(ctx.model);
  if (model === ctx.model) return ctx;
  let out = CONTEXTS.get(ctx);
  if (!out) {
    out = { ...ctx, model };
    CONTEXTS.set(ctx, out);
  }
  return out;
}

/** A layer that renders the proxy's own ports (`FlowModel.proxy`): the others never see those flows. */
export interface ProxyPortsLayer extends MeshRenderer {
  /** True: the layer is given the proxy flows (the NetworkPolicy layer, Linkerd). */
  readonly rendersProxyFlows: true;
}

/**
 * The layer as the synth step runs it: a layer that does not render the proxy's own ports is
 * given the model without the proxy flows, so it neither authorizes nor refuses them.
 */
export function proxyFlowsHidden(layer: MeshRenderer): MeshRenderer {
  if ((layer as Partial<ProxyPortsLayer>).rendersProxyFlows === true) return layer;
  const hidden: MeshRenderer = {
    backend: layer.backend,
    check: (ctx) => layer.check(withoutProxyContext(ctx)),
    render: (ctx) => layer.render(withoutProxyContext(ctx)),
  };
  const optional = ['namespaceMetadata', 'podMetadata', 'serviceMetadata', 'podSpecAdditions'] as const;
  for (const name of optional) {
    const method = layer[name];
    if (method) (hidden as any)[name] = (ctx: RenderContext, ...rest: any[]) => (method as any).call(layer, withoutProxyContext(ctx), ...rest);
  }
  return hidden;
}
