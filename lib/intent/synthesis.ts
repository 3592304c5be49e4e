/**
 * The explicit synth step of an app: the one place where intent is resolved, every backend
 * layer's checks run (and all their problems are collected), and the objects are rendered into
 * the charts. It runs once per app, whichever asks first — a chart's validation (cdk8s validates
 * before it collects objects in `app.synth()`, `app.synthYaml()` and `Testing.synth()`), a
 * chart's `toJson()`, `FastYaml.synth()`, `ZeroTrustReview`, or `ZeroTrustSynthesis.prepare(app)`
 * — so the output does not depend on the order in which cdk8s calls them.
 */
import { ApiObject, JsonPatch } from 'cdk8s';
import { IConstruct } from 'constructs';
import { DnsSpec } from './dns';
import { ZeroTrustError, formatProblems } from './errors';
import { NamespaceModel, WorkloadModel, ZeroTrustModel } from './model';
import { IntentRegistry } from './registry';
import { MeshBinding, MeshRenderer, MetadataAdditions, PodSpecAdditions, RenderContext, RenderedObject } from './render';

/** What the synth step needs of a chart. */
export interface SynthesizedChart extends IConstruct {
  /** The chart's namespace. */
  readonly namespaceName: string;
  /** @internal */
  readonly _binding: MeshBinding;
  /** @internal */
  readonly _dns: DnsSpec;
  /** @internal */
  _workloadsToRender(): ChartWorkload[];
  /** @internal */
  _decorateNamespace(meta: MetadataAdditions): void;
}

/** What the synth step needs of a workload. */
export interface ChartWorkload {
  _toModel(): WorkloadModel;
  _render(pod: MetadataAdditions, podSpec: PodSpecAdditions, service: MetadataAdditions): void;
}

/** The outcome of the synth step: the resolved model (when it resolved) and every problem found. */
export interface SynthesisOutcome {
  readonly model?: ZeroTrustModel;
  readonly problems: readonly ZeroTrustError[];
}

const SYNTHESES = new WeakMap<IConstruct, ZeroTrustSynthesis>();

/** The synth step of one cdk8s app. */
export class ZeroTrustSynthesis {
  /**
   * Resolves, checks and renders the zero-trust intent of the app now (it would otherwise run
   * when cdk8s validates the app). Idempotent; throws a `ZeroTrustError` listing every problem.
   * @param app the app, or any construct in it
   */
  public static prepare(app: IConstruct): void {
    ZeroTrustSynthesis._of(app)._assertOk();
  }

  /** @internal */
  public static _of(scope: IConstruct): ZeroTrustSynthesis {
    const root = scope.node.root;
    let synthesis = SYNTHESES.get(root);
    if (!synthesis) {
      synthesis = new ZeroTrustSynthesis(root);
      SYNTHESES.set(root, synthesis);
    }
    return synthesis;
  }

  private readonly charts: SynthesizedChart[] = [];
  private outcome?: SynthesisOutcome;

  private constructor(private readonly root: IConstruct) {}

  /** @internal */
  public _addChart(chart: SynthesizedChart): void {
    if (this.outcome) {
      throw new ZeroTrustError({ code: 'APP_ALREADY_SYNTHESIZED', message: `cannot add chart ${chart.node.path}: the app was already synthesized; declare all intent before synth` });
    }
    this.charts.push(chart);
  }

  /**
   * Runs the step once and returns its outcome.
   * @internal
   */
  public _run(): SynthesisOutcome {
    if (!this.outcome) this.outcome = this.synthesize();
    return this.outcome;
  }

  /**
   * The problems of one chart, as messages for its cdk8s validation.
   * @internal
   */
  public _problemsOf(chart: SynthesizedChart): string[] {
    return this._run().problems.filter((p) => p.namespace === chart.namespaceName
      // A problem that names no namespace of the app is reported by the first chart.
      || (chart === this.charts[0] && !this.charts.some((c) => c.namespaceName === p.namespace))).map((p) => p.message);
  }

  /**
   * Throws one error listing every problem of the app, grouped by namespace.
   * @internal
   */
  public _assertOk(): void {
    const { problems } = this._run();
    if (problems.length === 1) throw problems[0];
    if (problems.length > 1) throw new ZeroTrustError({ code: 'SYNTH_FAILED', message: formatProblems(problems) }, problems);
  }

  private synthesize(): SynthesisOutcome {
    const { model, errors } = IntentRegistry.of(this.root).resolve();
    if (errors.length > 0) {
      return { problems: errors.map((e) => e.within({ backend: this.backendOf(e.namespace) })) };
    }
    const plans = this.charts.map((chart) => {
      const namespace = model.namespaces.find((n) => n.name === chart.namespaceName) as NamespaceModel;
      const ctx: RenderContext = { model, namespace, dns: chart._dns };
      return { chart, ctx, layers: chart._binding.layers() };
    });
    const problems: ZeroTrustError[] = [];
    for (const plan of plans) {
      const context = { backend: plan.chart._binding.backend, namespace: plan.chart.namespaceName };
      for (const layer of plan.layers) problems.push(...checkLayer(layer, plan.ctx).map((p) => p.within(context)));
    }
    if (problems.length > 0) return { model, problems: dedupe(problems) };
    for (const plan of plans) renderChart(plan.chart, plan.ctx, plan.layers);
    return { model, problems: [] };
  }

  private backendOf(namespace: string | undefined): string | undefined {
    return this.charts.find((c) => c.namespaceName === namespace)?._binding.backend;
  }
}

/**
 * Every problem a layer finds in a namespace. Checks stop at their first problem, so when the
 * whole model fails, each flow is checked alone to name the problem of every rule; a problem only
 * the whole model shows (two rules that conflict) is kept too.
 */
function checkLayer(layer: MeshRenderer, ctx: RenderContext): ZeroTrustError[] {
  const first = problemOf(() => layer.check(ctx));
  if (!first) return [];
  const found: ZeroTrustError[] = [];
  for (const flow of ctx.model.flows) {
    const p = problemOf(() => layer.check({ ...ctx, model: { ...ctx.model, flows: [flow] } }));
    if (p) found.push(p.within({ rule: flow.declaredAt, workload: flow.declaredBy }));
  }
  if (!found.some((p) => p.message === first.message)) found.unshift(first);
  return found;
}

function problemOf(check: () => void): ZeroTrustError | undefined {
  try {
    check();
    return undefined;
  } catch (e) {
    if (e instanceof ZeroTrustError) return e;
    throw e;
  }
}

function dedupe(problems: ZeroTrustError[]): ZeroTrustError[] {
  const seen = new Set<string>();
  return problems.filter((p) => !seen.has(p.message) && seen.add(p.message) !== undefined);
}

/** Emits one chart: namespace metadata, each workload with its pod and Service metadata, then every layer's objects. */
function renderChart(chart: SynthesizedChart, ctx: RenderContext, layers: MeshRenderer[]): void {
  chart._decorateNamespace(mergeMetadata(layers.map((l) => l.namespaceMetadata?.(ctx))));
  for (const w of chart._workloadsToRender()) {
    const model = w._toModel();
    const podSpec = layers.map((l) => l.podSpecAdditions?.(ctx, model) ?? {});
    w._render(
      mergeMetadata(layers.map((l) => l.podMetadata?.(ctx, model))),
      { containers: podSpec.flatMap((s) => s.containers ?? []), volumes: podSpec.flatMap((s) => s.volumes ?? []) },
      mergeMetadata(layers.map((l) => l.serviceMetadata?.(ctx, model))),
    );
  }
  for (const layer of layers) {
    for (const obj of layer.render(ctx)) emit(chart, ctx.namespace.name, obj);
  }
}

function emit(chart: IConstruct, namespace: string, obj: RenderedObject): void {
  const ns = obj.metadata.namespace;
  const api = new ApiObject(chart, `${obj.kind}-${ns !== undefined && ns !== namespace ? `${ns}-` : ''}${obj.metadata.name}`, obj as any);
  // cdk8s would stamp the chart's namespace on a cluster-scoped object.
  if (ns === undefined) api.addJsonPatch(JsonPatch.remove('/metadata/namespace'));
}

function mergeMetadata(parts: Array<MetadataAdditions | undefined>): MetadataAdditions {
  const labels: { [key: string]: string } = {};
  const annotations: { [key: string]: string } = {};
  for (const p of parts) {
    Object.assign(labels, p?.labels ?? {});
    Object.assign(annotations, p?.annotations ?? {});
  }
  return {
    ...(Object.keys(labels).length ? { labels } : {}),
    ...(Object.keys(annotations).length ? { annotations } : {}),
  };
}
