/**
 * The explicit synth step of an app: the one place where intent is resolved, every backend
 * layer's checks run (and all their problems are collected), and the objects are rendered into
 * the charts. It runs once per app, whichever asks first — a chart's validation (cdk8s validates
 * before it collects objects in `app.synth()`, `app.synthYaml()` and `Testing.synth()`), a
 * chart's `toJson()`, `ZeroTrustReview.intentJson()`, or `ZeroTrustSynthesis.prepare(app)`
 * — so the output does not depend on the order in which cdk8s calls them.
 */
import { ApiObject, Chart, JsonPatch } from 'cdk8s';
import { IConstruct } from 'constructs';
import { DnsSpec } from './dns';
import { ZeroTrustError, ZeroTrustErrorDetails, formatProblems } from './errors';
import { FlowModel, NamespaceModel, WorkloadModel, ZeroTrustModel, samePort } from './model';
import { Port } from './port';
import { reservedKey } from './names';
import { clusterNetworkProblems } from './networks';
import { IntentRegistry } from './registry';
import { Weaken, applyWeakenings, declaredFlow, describeWeakening } from './weaken';
import {
  MeshBinding, MeshRenderer, MetadataAdditions, PodSpecAdditions, RenderContext, RenderedObject, SelfCheck, SelfCheckChart,
} from './render';

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
  /** Whether synthesis reads this chart's output back (the self-check). @internal */
  readonly _selfCheck: boolean;
  /** Whether the chart emits its Namespace object. @internal */
  readonly _emitsNamespace: boolean;
  /** The cluster's pod and Service ranges (empty: unknown). @internal */
  readonly _clusterNetworks?: readonly string[];
  /** Whether the chart emits the identity guard's admission policies. @internal */
  readonly _identityGuard?: boolean;
  /** The chart's documents, computed as cdk8s's own `Chart.toJson()` does. @internal */
  _renderDocuments(): any[];
  /** Keeps documents the self-check read, for the chart's next `toJson()`. @internal */
  _keepDocuments(docs: any[] | undefined): void;
}

/** What the synth step needs of a workload. */
export interface ChartWorkload {
  _toModel(): WorkloadModel;
  _render(pod: MetadataAdditions, podSpec: PodSpecAdditions, service: MetadataAdditions): void;
  /** The labels and annotations the user gave its pods (podLabels, or an adopted workload's pod metadata). */
  _declaredPodMetadata?(): MetadataAdditions;
  /** Problems only the whole app shows (another object of the app clashes with what it would emit). */
  _appProblems?(): ZeroTrustError[];
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
    const synthesis = ZeroTrustSynthesis._of(app);
    synthesis._assertOk();
    // The app may change before cdk8s collects it: charts compute their documents again then.
    for (const chart of synthesis.charts) chart._keepDocuments(undefined);
  }
  /**
   * The problems a failed synth reported, as fields (code, backend, namespace, workload, rule,
   * message), for languages and tools that cannot match on the error's class. Empty for an error
   * that is not a zero-trust problem.
   * @param error what a synth threw
   */
  public static problemsOf(error: any): ZeroTrustErrorDetails[] {
    if (!(error instanceof ZeroTrustError)) return [];
    return (error.problems.length > 0 ? error.problems : [error]).map((p) => p.details);
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
  /** Set while the self-check computes the documents (cdk8s validates the app again meanwhile). */
  private provisional?: SynthesisOutcome;

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
    if (this.provisional) return this.provisional;
    if (!this.outcome) this.outcome = this.synthesize();
    return this.outcome;
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
    const resolved = IntentRegistry.of(this.root).resolve();
    const errors = resolved.errors;
    let model = resolved.model;
    if (errors.length > 0) {
      return { problems: errors.map((e) => e.within({ backend: this.backendOf(e.namespace) })) };
    }
    const plans = this.charts.map((chart) => {
      const namespace = model.namespaces.find((n) => n.name === chart.namespaceName) as NamespaceModel;
      const ctx: RenderContext = { model, namespace, dns: chart._dns, createsNamespace: chart._emitsNamespace, clusterNetworks: chart._clusterNetworks ?? [] };
      const guard = chart._identityGuard ? chart._binding.guardLayer?.() : undefined;
      return { chart, ctx, layers: [...chart._binding.layers(), ...(guard ? [guard] : [])] };
    });
    const problems: ZeroTrustError[] = [];
    for (const plan of plans) {
      const context = { backend: plan.chart._binding.backend, namespace: plan.chart.namespaceName };
      problems.push(...reservedMetadataProblems(plan.chart));
      problems.push(...clusterNetworkProblems(model, plan.chart.namespaceName, plan.chart._clusterNetworks ?? []).map((p) => p.within(context)));
      for (const w of plan.chart._workloadsToRender()) problems.push(...(w._appProblems?.() ?? []).map((p) => p.within(context)));
    }
    const checked = checkWithWeakenings(model, plans);
    problems.push(...checked.problems);
    if (problems.length > 0) return { model, problems: dedupe(problems) };
    // From here on every layer, the self-check and the intent file see the flows as enforced.
    model = checked.model;
    for (const plan of plans) (plan as { ctx: RenderContext }).ctx = { ...plan.ctx, model };
    const namespaceMetadata = new Map<SynthesizedChart, MetadataAdditions>();
    const clusterObjects = new Map<string, { json: string; chart: SynthesizedChart }>();
    for (const plan of plans) {
      try {
        namespaceMetadata.set(plan.chart, renderChart(plan.chart, plan.ctx, plan.layers, clusterObjects));
      } catch (e) {
        // A layer that refuses only while rendering: a problem like any other (the app is not emitted).
        if (!(e instanceof ZeroTrustError)) throw e;
        return { model, problems: [e.within({ backend: plan.chart._binding.backend, namespace: plan.chart.namespaceName })] };
      }
    }
    return { model, problems: this.selfCheck(model, namespaceMetadata) };
  }

  /**
   * Reads the rendered documents back with each backend's reader (`MeshBinding.selfCheck`) and
   * returns what they allow beyond the intent, or deny of it. The documents are computed once,
   * here, and handed to each chart's next `toJson()`, so what is checked is what is emitted.
   */
  private selfCheck(model: ZeroTrustModel, namespaceMetadata: Map<SynthesizedChart, MetadataAdditions>): ZeroTrustError[] {
    const groups = new Map<string, { check: SelfCheck; charts: SelfCheckChart[] }>();
    const groupOf = new Map<string, string>();
    const dns = new Map<string, DnsSpec>(this.charts.map((c) => [c.namespaceName, c._dns]));
    for (const chart of this.charts) {
      const check = chart._binding.selfCheck;
      if (!check) continue;
      groupOf.set(chart.namespaceName, check.group);
      if (!chart._selfCheck) continue;
      const g = groups.get(check.group) ?? { check, charts: [] };
      g.charts.push({
        namespace: chart.namespaceName, dns: chart._dns, binding: chart._binding,
        namespaceMetadata: namespaceMetadata.get(chart) ?? {}, emitsNamespace: chart._emitsNamespace,
      });
      groups.set(check.group, g);
    }
    if (groups.size === 0) return [];
    this.provisional = { model, problems: [] };
    const documents: RenderedObject[] = [];
    try {
      for (const chart of this.root.node.findAll().filter((c): c is Chart => Chart.isChart(c))) {
        const own = this.charts.find((c) => c === (chart as unknown));
        const docs = own ? own._renderDocuments() : chart.toJson();
        if (own) own._keepDocuments(docs);
        documents.push(...docs);
      }
    } catch (e) {
      if (e instanceof ZeroTrustError) return [e];
      const [first] = [...groups.values()][0].charts;
      return [new ZeroTrustError({
        code: 'SELF_CHECK_ERROR', backend: first.binding.backend, namespace: first.namespace,
        message: `the self-check could not collect the app's documents: ${(e as Error)?.message ?? String(e)}; turn it off with selfCheck: false on the chart to synthesize anyway`,
      })];
    } finally {
      this.provisional = undefined;
    }
    const problems: ZeroTrustError[] = [];
    for (const [group, { check, charts }] of groups) {
      try {
        problems.push(...check.run({ model, charts, groups: groupOf, dns, documents }));
      } catch (e) {
        if (e instanceof ZeroTrustError) { problems.push(e); continue; }
        problems.push(new ZeroTrustError({
          code: 'SELF_CHECK_ERROR', backend: charts[0].binding.backend, namespace: charts[0].namespace,
          message: `the self-check of ${group} could not read the output back: ${(e as Error)?.message ?? String(e)}; turn it off with selfCheck: false on the chart to synthesize anyway`,
        }));
      }
    }
    if (problems.length > 0) for (const chart of this.charts) chart._keepDocuments(undefined);
    return problems;
  }

  private backendOf(namespace: string | undefined): string | undefined {
    return this.charts.find((c) => c.namespaceName === namespace)?._binding.backend;
  }
}

/** What the checks of every chart's layers found, with the flows as they will be enforced. */
interface CheckOutcome {
  /** The model with the accepted weakenings applied. */
  readonly model: ZeroTrustModel;
  /** Every refusal left: those with no weaker form, and those whose `Weaken` member the chart did not accept. */
  readonly problems: ZeroTrustError[];
}

/**
 * Runs every chart's layer checks, and answers each refusal that names a `Weaken` member by
 * applying that member to the refused flow (lib/intent/weaken.ts) and checking again, until no
 * new refusal shows. A member the chart accepted is rendered; one it did not is a problem (with
 * the member named), and is applied anyway while checking, so the next refusal of the same flow
 * shows in the same synth. A refusal that the weakening does not answer stays a problem.
 */
function checkWithWeakenings(declared: ZeroTrustModel, plans: ReadonlyArray<{ chart: SynthesizedChart; ctx: RenderContext; layers: MeshRenderer[] }>): CheckOutcome {
  const weakenings = new Map<FlowModel, Map<Weaken, Port[] | undefined>>();
  const hostNetworks = new Map<FlowModel, readonly string[]>();
  const refused: ZeroTrustError[] = [];
  // A rule refused for one member is one problem per chart, whichever of the chart's layers refused it (the first, outermost, names it).
  const refusedOnce = new Map<FlowModel, Set<string>>();
  let model = declared;
  let last: ZeroTrustError[] = [];
  // Each round weakens more of some flow (a member, or more of its ports), so the rounds end; the cap is a guard.
  for (let round = 0; round < 64; round++) {
    model = applyWeakenings(declared, weakenings, hostNetworks);
    last = [];
    let grew = false;
    for (const plan of plans) {
      const context = { backend: plan.chart._binding.backend, namespace: plan.chart.namespaceName };
      const accepted = new Set(plan.chart._binding.weaken ?? []);
      const ctx = { ...plan.ctx, model };
      for (const layer of plan.layers) {
        for (const found of checkLayer(layer, ctx)) {
          const p = found.problem.within(context);
          const member = p.weaken;
          const form = found.flow;
          // A refusal of a member already applied to this form is one the weakening did not answer.
          if (!member || !form || form.weakened?.includes(member)) { last.push(p); continue; }
          const flow = declaredFlow(form);
          // Only the part of the flow the refusal names is weakened (the UDP ports of a flow, not its TCP ones).
          const ports = refusedPorts(layer, ctx, form, member);
          // Every chart that refuses the flow must accept the member (a flow between two charts is checked by both).
          if (!accepted.has(member)) {
            const seen = refusedOnce.get(flow) ?? new Set<string>();
            if (!seen.has(`${context.namespace}|${member}`)) refused.push(withWeakenHint(p, member, ports && ports.length < flow.ports.length ? ports : undefined));
            refusedOnce.set(flow, seen.add(`${context.namespace}|${member}`));
          }
          const applied = weakenings.get(flow) ?? new Map<Weaken, Port[] | undefined>();
          const next = widenedPart(flow, applied, member, ports);
          if (next === false) continue;
          applied.set(member, next);
          weakenings.set(flow, applied);
          // A host name is weakened by the chart of its source (the only chart it touches): that chart's networks stay closed.
          if (member === Weaken.HOST_TO_PORT) hostNetworks.set(flow, plan.chart._clusterNetworks ?? []);
          grew = true;
        }
      }
    }
    if (!grew) break;
  }
  return { model, problems: [...refused, ...last] };
}

/**
 * The declared ports of a refused form that the refusal names: each port checked alone, those
 * refused for the same member; all of the form's declared ports when the refusal is of the ports
 * together (a subset of a connection) or names no port alone.
 */
function refusedPorts(layer: MeshRenderer, ctx: RenderContext, form: FlowModel, member: Weaken): Port[] {
  const ports = [...(form.part ?? declaredFlow(form).ports)];
  if (ports.length <= 1) return ports;
  const alone = ports.filter((p) => problemOf(() => layer.check({ ...ctx, model: { ...ctx.model, flows: [{ ...form, ports: [p] }] } }))?.weaken === member);
  return alone.length > 0 ? alone : ports;
}

/** The part of the flow `member` weakens once `ports` are refused too (undefined: all of it), or false when it already does. */
function widenedPart(flow: FlowModel, applied: ReadonlyMap<Weaken, Port[] | undefined>, member: Weaken, ports: readonly Port[]): Port[] | undefined | false {
  if (applied.has(member) && applied.get(member) === undefined) return false;
  const before = applied.get(member) ?? [];
  const after = flow.ports.filter((p) => before.some((q) => samePort(p, q)) || ports.some((q) => samePort(p, q)));
  if (applied.has(member) && after.length === before.length) return false;
  return after.length === flow.ports.length || flow.ports.length === 0 ? undefined : after;
}

/** The refusal, telling which `Weaken` member would accept it (unless its message already does). */
function withWeakenHint(p: ZeroTrustError, member: Weaken, part?: readonly Port[]): ZeroTrustError {
  const on = part ? ` on ${part.map((x) => x.toString()).join(', ')}` : '';
  if (p.text.includes(`Weaken.${member}`)) return on ? new ZeroTrustError({ ...p.details, message: `${p.text} (Weaken.${member} applies${on} only)` }) : p;
  return new ZeroTrustError({ ...p.details, message: `${p.text}; or accept it weaker with weaken: [Weaken.${member}] on the chart's Mesh (${describeWeakening(member).replace(/ \(Weaken\.[A-Z_]+\)$/, '')}${on})` });
}

/** A problem a layer found, and the flow it refused (absent: a problem of the namespace or of several flows). */
interface LayerProblem {
  readonly problem: ZeroTrustError;
  readonly flow?: FlowModel;
}

/**
 * Every problem a layer finds in a namespace. Checks stop at their first problem, so when the
 * whole model fails, each flow is checked alone to name the problem of every rule; a problem only
 * the whole model shows (two rules that conflict) is kept too.
 */
function checkLayer(layer: MeshRenderer, ctx: RenderContext): LayerProblem[] {
  const first = problemOf(() => layer.check(ctx));
  if (!first) return [];
  // A problem of the namespace itself (a chart in a mesh's root namespace) shows with no flows at
  // all: it is the namespace's one problem, not any rule's, and it must be fixed first.
  const ofNamespace = problemOf(() => layer.check({ ...ctx, model: { ...ctx.model, flows: [] } }));
  if (ofNamespace) return [{ problem: ofNamespace }];
  const ns = ctx.namespace.name;
  const found: LayerProblem[] = [];
  for (const flow of ctx.model.flows) {
    if (!touches(flow, ns)) continue;
    const p = problemOf(() => layer.check({ ...ctx, model: { ...ctx.model, flows: [flow] } }));
    if (p) found.push({ problem: p.within({ rule: flow.declaredAt, workload: flow.declaredBy }), flow });
  }
  if (!found.some((p) => p.problem.message === first.message)) found.unshift({ problem: first });
  return found;
}

/** True when a workload of the namespace is at either end of the flow. */
function touches(flow: FlowModel, namespace: string): boolean {
  return [flow.source, flow.destination].some((e) => e.type === 'workload' && e.workload.namespace === namespace);
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

/**
 * Labels and annotations the user gave a chart's pods that its mesh reserves (an opt-out of
 * injection, a port excluded from the proxy): refused, as the mesh would silently stop
 * enforcing the workload's identity and L7 rules.
 */
function reservedMetadataProblems(chart: SynthesizedChart): ZeroTrustError[] {
  const reserved = chart._binding.reserved;
  if (!reserved) return [];
  const out: ZeroTrustError[] = [];
  for (const w of chart._workloadsToRender()) {
    const meta = w._declaredPodMetadata?.() ?? {};
    const model = w._toModel();
    for (const [what, entries] of [['label', meta.labels], ['annotation', meta.annotations]] as const) {
      for (const key of Object.keys(entries ?? {}).sort()) {
        const hit = reservedKey(key, reserved);
        if (!hit) continue;
        out.push(new ZeroTrustError({
          code: 'RESERVED_POD_METADATA', backend: chart._binding.backend, namespace: model.namespace, workload: `${model.namespace}/${model.name}`,
          message: `SecureWorkload ${model.namespace}/${model.name}: the pod ${what} "${key}" is reserved by the ${chart._binding.backend} backend${hit !== key ? ` (${hit}*)` : ''}: it could take the pods out of the mesh or past its proxy, and their identity and L7 rules would silently not be enforced; remove it`,
        }));
      }
    }
    // A port the mesh's proxy listens on: the app would not get its traffic, or (a port the proxy
    // does not capture) would get it past the mesh's authorization, opened to any source in AUDIT.
    for (const p of model.ports) {
      const hit = (reserved.ports ?? []).find((r) => r >= p.number && r <= (p.endPort ?? p.number));
      if (hit === undefined) continue;
      out.push(new ZeroTrustError({
        code: 'PORT_RESERVED_BY_MESH', backend: chart._binding.backend, namespace: model.namespace, workload: `${model.namespace}/${model.name}`,
        message: `SecureWorkload ${model.namespace}/${model.name}: port ${hit} (declared as ${p.name ?? p.number}) is used by the ${chart._binding.backend} backend's proxy in every pod (${(reserved.ports ?? []).join(', ')}); the mesh would not authorize it as declared; move the app to another port`,
      }));
    }
  }
  return out;
}

/**
 * Emits one chart: namespace metadata, each workload with its pod and Service metadata, then every
 * layer's objects. A cluster-scoped object (Kuma's `Mesh`) is emitted once per app, by the first
 * chart that renders it: GitOps tools build an app's folder as one set (kustomize refuses "an
 * already registered id"), and the API server has one such object. Two charts that render
 * different objects under one cluster-scoped name are refused.
 */
function renderChart(chart: SynthesizedChart, ctx: RenderContext, layers: MeshRenderer[], clusterObjects: Map<string, { json: string; chart: SynthesizedChart }>): MetadataAdditions {
  const namespaceMetadata = mergeMetadata(layers.map((l) => l.namespaceMetadata?.(ctx)));
  chart._decorateNamespace(namespaceMetadata);
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
    for (const obj of layer.render(ctx)) {
      if (obj.metadata.namespace === undefined) {
        const [group] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : [''];
        if (!CLUSTER_SCOPED_KINDS.has(`${group}/${obj.kind}`)) {
          // A namespaced object without a namespace would land in whatever namespace kubectl is pointed at.
          throw new ZeroTrustError({
            code: 'RENDERED_WITHOUT_NAMESPACE', backend: chart._binding.backend, namespace: ctx.namespace.name,
            message: `the ${chart._binding.backend} renderer emitted ${obj.kind} "${obj.metadata.name}" (${obj.apiVersion}) without a namespace, and it is not a cluster-scoped kind this library emits; this is a bug of the renderer, please report it`,
          });
        }
        const key = `${group}/${obj.kind}/${obj.metadata.name}`;
        const json = JSON.stringify(obj);
        const first = clusterObjects.get(key);
        if (first && first.json !== json) {
          throw new ZeroTrustError({
            code: 'CLUSTER_OBJECT_CONFLICT', backend: chart._binding.backend, namespace: ctx.namespace.name,
            message: `the cluster-scoped ${obj.kind} "${obj.metadata.name}" (${obj.apiVersion}) is rendered differently by the charts of namespaces ${first.chart.namespaceName} and ${ctx.namespace.name}, and the cluster holds one; give both charts the same mesh settings, or let only one of them create it`,
          });
        }
        if (first) continue;
        clusterObjects.set(key, { json, chart });
      }
      emit(chart, ctx.namespace.name, obj);
    }
  }
  return namespaceMetadata;
}

/** The cluster-scoped kinds renderers emit (`group/Kind`); any other object must name its namespace. */
const CLUSTER_SCOPED_KINDS = new Set([
  'kuma.io/Mesh',
  'spire.spiffe.io/ClusterSPIFFEID',
  'cilium.io/CiliumClusterwideNetworkPolicy',
  'admissionregistration.k8s.io/ValidatingAdmissionPolicy',
  'admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding',
]);

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
