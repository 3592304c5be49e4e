/**
 * The identity guard (`ZeroTrustChart` prop `identityGuard`): Kubernetes-native admission
 * policies (`admissionregistration.k8s.io/v1` ValidatingAdmissionPolicy and binding, core since
 * Kubernetes 1.30) that keep a workload's identity to its own pods. NetworkPolicy, Kuma tags,
 * Cilium and NSM select pods by labels, and Istio and Linkerd name them by ServiceAccount; anyone
 * who may create pods in the namespace could otherwise borrow either. Per namespace, the guard
 * refuses a pod (created or updated) that
 *
 * - carries a workload's selector labels but runs as another ServiceAccount;
 * - runs as a workload's ServiceAccount but carries none of its workloads' selector labels;
 * - (Network Service Mesh) has a container naming, in `NSM_SERVICE_NAMES`, a NetworkService
 *   another workload owns, or naming it indirectly (`valueFrom`); and, cluster-wide, a pod of
 *   another namespace naming one of the namespace's NetworkServices.
 *
 * The rules are built as a small expression tree, printed as CEL for the API server; the same
 * tree is what the tests evaluate against generated pods, so the logic is tested, not only the text.
 */
import { NAME_LABEL, WorkloadModel, compareText, managedMetadata } from '../../intent/model';
import { MeshRenderer, RenderContext, RenderedObject } from '../../intent/render';
import { nsmConnections } from '../nsm/plan';

/** The NSM endpoint's environment variable naming the services it registers. */
const NSM_SERVICE_NAMES = 'NSM_SERVICE_NAMES';

/** A condition on a pod under admission. */
export type GuardExpr =
  | { readonly op: 'label'; readonly key: string; readonly value: string }
  | { readonly op: 'serviceAccount'; readonly name: string }
  | { readonly op: 'namespace'; readonly name: string }
  /** Some container (or init container) names the NetworkService in NSM_SERVICE_NAMES. */
  | { readonly op: 'namesService'; readonly service: string }
  /** Some container sets NSM_SERVICE_NAMES without a literal value (valueFrom). */
  | { readonly op: 'servicesIndirect' }
  | { readonly op: 'not'; readonly arg: GuardExpr }
  | { readonly op: 'and' | 'or'; readonly args: readonly GuardExpr[] };

/** One validation: the pod is admitted only when `expr` holds. */
export interface GuardRule {
  readonly expr: GuardExpr;
  readonly message: string;
}

/** What a guard rule sees of a pod: enough of the admission request to decide. */
export interface GuardPod {
  /** The namespace of the request. */
  readonly namespace: string;
  readonly labels: { [key: string]: string };
  /** `spec.serviceAccountName`; absent: `default` (the ServiceAccount admission plugin sets it before validation). */
  readonly serviceAccount?: string;
  /** Containers and init containers, with their environment. */
  readonly containers: Array<{ readonly env?: Array<{ readonly name: string; readonly value?: string }> }>;
}

const not = (arg: GuardExpr): GuardExpr => ({ op: 'not', arg });
const and = (...args: GuardExpr[]): GuardExpr => (args.length === 1 ? args[0] : { op: 'and', args });
const or = (...args: GuardExpr[]): GuardExpr => (args.length === 1 ? args[0] : { op: 'or', args });
const selects = (w: WorkloadModel): GuardExpr => and(...Object.entries(w.selector).sort(([a], [b]) => compareText(a, b)).map(([key, value]) => ({ op: 'label' as const, key, value })));
const selectorText = (w: WorkloadModel) => Object.entries(w.selector).sort(([a], [b]) => compareText(a, b)).map(([k, v]) => `${k}=${v}`).join(',');

/** A CEL string literal (single-quoted, with backslashes and quotes escaped). */
function literal(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The RE2 pattern of one entry of NSM_SERVICE_NAMES naming `service` (NSM allows `{labels}` and `?params` after it). */
function servicePattern(service: string): string {
  return `^${service.replace(/[.]/g, '[.]')}([{?].*)?$`;
}

/** Whether a container list (CEL expression) has a container whose env matches `envTest` (CEL, over `e`). */
function someEnv(envTest: string): string {
  const inList = (list: string) => `${list}.exists(c, has(c.env) && c.env.exists(e, ${envTest}))`;
  return `(${inList('object.spec.containers')} || (has(object.spec.initContainers) && ${inList('object.spec.initContainers')}))`;
}

/**
 * The CEL text of an expression (Kubernetes CEL: the standard library, `matches`, and its strings
 * library for `split`/`trim`). Every atom is printed in parentheses, so `!` (which binds tighter
 * than `==` in CEL) always negates the whole atom.
 */
export function celOf(e: GuardExpr): string {
  switch (e.op) {
    case 'label': return `(has(object.metadata.labels) && ${literal(e.key)} in object.metadata.labels && object.metadata.labels[${literal(e.key)}] == ${literal(e.value)})`;
    case 'serviceAccount': return `(variables.serviceAccount == ${literal(e.name)})`;
    case 'namespace': return `(request.namespace == ${literal(e.name)})`;
    case 'namesService': return someEnv(`e.name == '${NSM_SERVICE_NAMES}' && has(e.value) && e.value.split(',').exists(n, n.trim().matches(${literal(servicePattern(e.service))}))`);
    case 'servicesIndirect': return someEnv(`e.name == '${NSM_SERVICE_NAMES}' && !has(e.value)`);
    case 'not': return `!${celOf(e.arg)}`;
    case 'and': return `(${e.args.map(celOf).join(' && ')})`;
    case 'or': return `(${e.args.map(celOf).join(' || ')})`;
  }
}

/** Evaluates an expression for a pod, as the API server would evaluate its CEL text. */
export function evaluateGuard(e: GuardExpr, pod: GuardPod): boolean {
  switch (e.op) {
    case 'label': return Object.prototype.hasOwnProperty.call(pod.labels, e.key) && pod.labels[e.key] === e.value;
    case 'serviceAccount': return (pod.serviceAccount || 'default') === e.name;
    case 'namespace': return pod.namespace === e.name;
    case 'namesService': {
      const pattern = new RegExp(servicePattern(e.service));
      return pod.containers.some((c) => (c.env ?? []).some((v) => v.name === NSM_SERVICE_NAMES && v.value !== undefined && v.value.split(',').some((n) => pattern.test(n.trim()))));
    }
    case 'servicesIndirect': return pod.containers.some((c) => (c.env ?? []).some((v) => v.name === NSM_SERVICE_NAMES && v.value === undefined));
    case 'not': return !evaluateGuard(e.arg, pod);
    case 'and': return e.args.every((a) => evaluateGuard(a, pod));
    case 'or': return e.args.some((a) => evaluateGuard(a, pod));
  }
}

/** The rules of the namespace's policy: its pods' labels, ServiceAccounts and NSM services. */
export function namespaceGuardRules(ctx: RenderContext): GuardRule[] {
  const ns = ctx.namespace.name;
  const workloads = ctx.model.workloads.filter((w) => w.namespace === ns);
  const rules: GuardRule[] = [];
  for (const w of workloads) {
    rules.push({
      expr: or(not(selects(w)), { op: 'serviceAccount', name: w.serviceAccount }),
      message: `a pod with the selector labels of SecureWorkload ${ns}/${w.name} (${selectorText(w)}) must run as its ServiceAccount ${w.serviceAccount}`,
    });
  }
  const byAccount = new Map<string, WorkloadModel[]>();
  for (const w of workloads) byAccount.set(w.serviceAccount, [...(byAccount.get(w.serviceAccount) ?? []), w]);
  for (const [sa, owners] of [...byAccount.entries()].sort(([a], [b]) => compareText(a, b))) {
    rules.push({
      expr: or(not({ op: 'serviceAccount', name: sa }), ...owners.map(selects)),
      message: `a pod running as ServiceAccount ${sa} (the identity of ${owners.map((w) => `${ns}/${w.name}`).join(', ')}) must carry the selector labels of ${owners.length > 1 ? 'one of them' : 'it'}`,
    });
  }
  if (ctx.namespace.backend === 'nsm') {
    const services = ownedServices(ctx);
    if (services.length > 0) rules.push({ expr: not({ op: 'servicesIndirect' }), message: `${NSM_SERVICE_NAMES} must be a literal value in namespace ${ns}, so the NetworkServices it names can be checked` });
    for (const { service, owner } of services) {
      rules.push({
        expr: or(not({ op: 'namesService', service }), and(selects(owner), { op: 'serviceAccount', name: owner.serviceAccount })),
        message: `only the pods of SecureWorkload ${ns}/${owner.name} (${selectorText(owner)}, ServiceAccount ${owner.serviceAccount}) may serve the NetworkService ${service}`,
      });
    }
  }
  return rules;
}

/** The rules of the cluster-wide NSM policy: no pod of another namespace serves this namespace's NetworkServices. */
export function clusterGuardRules(ctx: RenderContext): GuardRule[] {
  if (ctx.namespace.backend !== 'nsm') return [];
  const ns = ctx.namespace.name;
  return ownedServices(ctx).map(({ service, owner }) => ({
    expr: or(not({ op: 'namesService', service }), { op: 'namespace', name: ns }),
    message: `the NetworkService ${service} is served only by SecureWorkload ${ns}/${owner.name}, in namespace ${ns}`,
  }));
}

/** The NetworkServices this namespace's workloads serve, by name. */
function ownedServices(ctx: RenderContext): Array<{ service: string; owner: WorkloadModel }> {
  const byService = new Map<string, WorkloadModel>();
  for (const c of nsmConnections(ctx.model)) if (c.endpoint.namespace === ctx.namespace.name) byService.set(c.service, c.endpoint);
  return [...byService.entries()].sort(([a], [b]) => compareText(a, b)).map(([service, owner]) => ({ service, owner }));
}

/** Names of the guard's objects for a namespace. */
function guardNames(namespace: string): { readonly pods: string; readonly services: string } {
  return { pods: `zero-trust-identity.${namespace}`, services: `zero-trust-nsm-services.${namespace}` };
}

function admissionPolicy(name: string, rules: GuardRule[], what: string): RenderedObject {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: managedMetadata(name, undefined, [what]),
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: { resourceRules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'] }] },
      variables: [{ name: 'serviceAccount', expression: "has(object.spec.serviceAccountName) ? object.spec.serviceAccountName : 'default'" }],
      validations: rules.map((r) => ({ expression: celOf(r.expr), message: r.message, reason: 'Forbidden' })),
    },
  };
}

function binding(name: string, namespace: string | undefined, what: string): RenderedObject {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: managedMetadata(name, undefined, [what]),
    spec: {
      policyName: name,
      validationActions: ['Deny'],
      ...(namespace !== undefined ? { matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } } } } : {}),
    },
  };
}

/**
 * The guard as a layer of the chart's backend: cluster-scoped objects, named per namespace, so
 * the synth step emits each once per app.
 */
export class IdentityGuardLayer implements MeshRenderer {
  public constructor(public readonly backend: RenderContext['namespace']['backend']) {}

  public check(): void {}

  public render(ctx: RenderContext): RenderedObject[] {
    const ns = ctx.namespace.name;
    const names = guardNames(ns);
    const podWhat = `pods of namespace ${ns} keep each workload's selector labels (${NAME_LABEL}, ...) and ServiceAccount together`;
    const rules = namespaceGuardRules(ctx);
    // A policy needs at least one validation: a namespace without workloads has nothing to guard.
    const out = rules.length > 0 ? [admissionPolicy(names.pods, rules, podWhat), binding(names.pods, ns, podWhat)] : [];
    const cluster = clusterGuardRules(ctx);
    if (cluster.length > 0) {
      const what = `no pod outside namespace ${ns} serves its NetworkServices`;
      out.push(admissionPolicy(names.services, cluster, what), binding(names.services, undefined, what));
    }
    return out;
  }
}
