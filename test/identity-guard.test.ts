/**
 * Issue 18: the identity guard (`identityGuard: true`): admission policies that keep a workload's
 * selector labels, ServiceAccount and (NSM) NetworkService names to its own pods. The rules are
 * an expression tree printed as CEL; the tests evaluate the tree against generated pods and check
 * the CEL text by structure.
 */
import * as fc from 'fast-check';
import { App, Testing } from 'cdk8s';
import { IstioMode, Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { GuardPod, GuardRule, celOf, clusterGuardRules, evaluateGuard, namespaceGuardRules } from '../lib/meshes/guard';
import { ZeroTrustSynthesis } from '../lib/intent/synthesis';
import { expectError } from './support/errors';
import { expectValid } from './support/schema';
import { find, synthApp } from './support/synth';

const MESHES = [
  ['networkpolicy', () => Mesh.networkPolicy()],
  ['istio', () => Mesh.istio()],
  ['istio-ambient', () => Mesh.istio({ mode: IstioMode.AMBIENT })],
  ['linkerd', () => Mesh.linkerd()],
  ['cilium', () => Mesh.cilium()],
  ['kuma', () => Mesh.kuma()],
  ['nsm', () => Mesh.networkServiceMesh()],
] as const;

/** Two charts (shop, payments) with a flow across, the guard on both. */
function build(mesh: () => Mesh, guard = true): App {
  const app = Testing.app();
  const shop = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh: mesh(), identityGuard: guard });
  const payments = new ZeroTrustChart(app, 'payments', { namespace: 'payments', mesh: mesh(), identityGuard: guard });
  const web = new SecureWorkload(shop, 'web', { image: 'web', ports: [Port.http(8080)] });
  const api = new SecureWorkload(shop, 'api', { image: 'api', ports: [Port.http(8080)], serviceAccountName: 'api-runner', podLabels: { tier: 'backend' } });
  const ledger = new SecureWorkload(payments, 'ledger', { image: 'ledger', ports: [Port.tcp(5432)] });
  api.allowFrom(web);
  ledger.allowFrom(api);
  web.allowFrom(Peer.namespace('ingress-nginx'), { ports: [Port.http(8080)] });
  return app;
}

/** The guard rules of a synthesized app's namespace, from the same model the renderers saw. */
function rulesOf(app: App, namespace: string, backend: string): { pods: GuardRule[]; cluster: GuardRule[] } {
  const { model } = ZeroTrustSynthesis._of(app)._run();
  const ctx = { model: model!, namespace: model!.namespaces.find((n) => n.name === namespace)!, dns: {} as any };
  expect(ctx.namespace.backend).toBe(backend);
  return { pods: namespaceGuardRules(ctx), cluster: clusterGuardRules(ctx) };
}

const admitted = (rules: GuardRule[], pod: GuardPod) => rules.filter((r) => !evaluateGuard(r.expr, pod)).map((r) => r.message);
const pod = (namespace: string, labels: { [k: string]: string }, serviceAccount?: string, env: Array<{ name: string; value?: string }> = []): GuardPod => ({
  namespace, labels, serviceAccount, containers: [{ env }],
});

describe('identity guard objects', () => {
  test.each(MESHES)('%s: one policy and binding per namespace, cluster-scoped, emitted once, valid against Kubernetes 1.30', (id, mesh) => {
    const app = build(mesh);
    const objects = synthApp(app);
    expectValid(objects);
    const policies = objects.filter((o) => o.kind === 'ValidatingAdmissionPolicy');
    const bindings = objects.filter((o) => o.kind === 'ValidatingAdmissionPolicyBinding');
    const nsm = id === 'nsm';
    expect(policies.map((p) => p.metadata.name).sort()).toEqual([
      'zero-trust-identity.payments', 'zero-trust-identity.shop', ...(nsm ? ['zero-trust-nsm-services.payments', 'zero-trust-nsm-services.shop'] : []),
    ]);
    expect(bindings.map((b) => b.metadata.name).sort()).toEqual(policies.map((p) => p.metadata.name).sort());
    for (const o of [...policies, ...bindings]) expect(o.metadata.namespace).toBeUndefined();
    const shop = find(objects, 'ValidatingAdmissionPolicyBinding', 'zero-trust-identity.shop');
    expect(shop.spec).toEqual({
      policyName: 'zero-trust-identity.shop', validationActions: ['Deny'],
      matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'shop' } } },
    });
    const policy = find(objects, 'ValidatingAdmissionPolicy', 'zero-trust-identity.shop');
    expect(policy.spec.failurePolicy).toBe('Fail');
    expect(policy.spec.matchConstraints.resourceRules).toEqual([{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['pods'] }]);
    // web, api (labels), api-runner and web (ServiceAccounts); NSM adds two rules for api's service.
    expect(policy.spec.validations).toHaveLength(nsm ? 6 : 4);
    if (nsm) {
      const cluster = find(objects, 'ValidatingAdmissionPolicyBinding', 'zero-trust-nsm-services.payments');
      expect(cluster.spec.matchResources).toBeUndefined();
    }
  });

  test('without identityGuard nothing is emitted; a non-boolean is refused', () => {
    expect(synthApp(build(() => Mesh.istio(), false)).filter((o) => /ValidatingAdmissionPolicy/.test(o.kind))).toEqual([]);
    expectError(() => new ZeroTrustChart(Testing.app(), 'c', { namespace: 'c', mesh: Mesh.istio(), identityGuard: 'yes' as any }), 'INVALID_ARGUMENT', /identityGuard/);
  });

  test('a namespace without workloads emits no policy (a policy needs a validation)', () => {
    const app = Testing.app();
    new ZeroTrustChart(app, 'empty', { namespace: 'empty', mesh: Mesh.istio(), identityGuard: true });
    expect(synthApp(app).filter((o) => /ValidatingAdmissionPolicy/.test(o.kind))).toEqual([]);
  });

  test('the output is byte-for-byte stable', () => {
    expect(build(() => Mesh.kuma()).synthYaml()).toBe(build(() => Mesh.kuma()).synthYaml());
  });
});

describe('identity guard rules (evaluated)', () => {
  test('labels and ServiceAccount go together, both ways', () => {
    const { pods } = rulesOf(build(() => Mesh.kuma()), 'shop', 'kuma');
    const api = { 'app.kubernetes.io/name': 'api', 'tier': 'backend' };
    expect(admitted(pods, pod('shop', api, 'api-runner'))).toEqual([]);
    expect(admitted(pods, pod('shop', { ...api, extra: 'x' }, 'api-runner'))).toEqual([]);
    expect(admitted(pods, pod('shop', { 'app.kubernetes.io/name': 'web' }, 'web'))).toEqual([]);
    expect(admitted(pods, pod('shop', { 'app.kubernetes.io/name': 'other' }, 'other'))).toEqual([]);
    expect(admitted(pods, pod('shop', api, 'web'))).toEqual([
      'a pod with the selector labels of SecureWorkload shop/api (app.kubernetes.io/name=api) must run as its ServiceAccount api-runner',
      'a pod running as ServiceAccount web (the identity of shop/web) must carry the selector labels of it',
    ]);
    expect(admitted(pods, pod('shop', { 'app.kubernetes.io/name': 'web' }))).toHaveLength(1);
    expect(admitted(pods, pod('shop', {}, 'api-runner'))).toEqual(['a pod running as ServiceAccount api-runner (the identity of shop/api) must carry the selector labels of it']);
  });

  test('NSM: only the owner serves its NetworkService, in its namespace and elsewhere', () => {
    const app = build(() => Mesh.networkServiceMesh());
    const shop = rulesOf(app, 'shop', 'nsm');
    const payments = rulesOf(app, 'payments', 'nsm');
    const ledger = { 'app.kubernetes.io/name': 'ledger' };
    const serve = (service: string) => [{ name: 'NSM_SERVICE_NAMES', value: service }];
    expect(admitted(payments.pods, pod('payments', ledger, 'ledger', serve('ledger.payments')))).toEqual([]);
    expect(admitted(payments.pods, pod('payments', { 'app.kubernetes.io/name': 'x' }, 'x', serve('a.b, ledger.payments{color=red}')))).toEqual([
      'only the pods of SecureWorkload payments/ledger (app.kubernetes.io/name=ledger, ServiceAccount ledger) may serve the NetworkService ledger.payments',
    ]);
    expect(admitted(payments.pods, pod('payments', { 'app.kubernetes.io/name': 'x' }, 'x', serve('ledger.paymentsx')))).toEqual([]);
    expect(admitted(payments.pods, pod('payments', { 'app.kubernetes.io/name': 'x' }, 'x', [{ name: 'NSM_SERVICE_NAMES' }]))).toHaveLength(1);
    // Cluster-wide: a pod of shop naming payments' service is refused by payments' cluster policy.
    expect(admitted(payments.cluster, pod('shop', {}, 'x', serve('ledger.payments')))).toHaveLength(1);
    expect(admitted(payments.cluster, pod('payments', ledger, 'ledger', serve('ledger.payments')))).toEqual([]);
    expect(admitted(shop.cluster, pod('payments', ledger, 'ledger', serve('ledger.payments')))).toEqual([]);
  });

  test('property: a pod is admitted exactly when its labels and ServiceAccount belong to the same workload or to none', () => {
    const { pods } = rulesOf(build(() => Mesh.istio()), 'shop', 'istio');
    const owners = [
      { labels: { 'app.kubernetes.io/name': 'web' }, sa: 'web' },
      // podLabels are extra labels, not part of the selector.
      { labels: { 'app.kubernetes.io/name': 'api' }, sa: 'api-runner' },
    ];
    const labelValue = fc.constantFrom('web', 'api', 'other');
    const arb = fc.record({
      name: fc.option(labelValue, { nil: undefined }), tier: fc.option(fc.constantFrom('backend', 'frontend'), { nil: undefined }),
      sa: fc.option(fc.constantFrom('web', 'api-runner', 'default', 'other'), { nil: undefined }),
    });
    fc.assert(fc.property(arb, ({ name, tier, sa }) => {
      const labels: { [k: string]: string } = { ...(name ? { 'app.kubernetes.io/name': name } : {}), ...(tier ? { tier } : {}) };
      const account = sa ?? 'default';
      const matching = owners.filter((o) => Object.entries(o.labels).every(([k, v]) => labels[k] === v));
      const runningAs = owners.filter((o) => o.sa === account);
      const ok = matching.every((o) => o.sa === account) && (runningAs.length === 0 || runningAs.some((o) => matching.includes(o)));
      expect(admitted(pods, pod('shop', labels, sa)).length === 0).toBe(ok);
    }), { numRuns: 300 });
  });
});

describe('identity guard CEL text', () => {
  test('by structure: label tests guard every map access, the ServiceAccount is the variable, literals are quoted', () => {
    const objects = synthApp(build(() => Mesh.networkServiceMesh()));
    const policy = find(objects, 'ValidatingAdmissionPolicy', 'zero-trust-identity.payments');
    expect(policy.spec.variables).toEqual([{ name: 'serviceAccount', expression: "has(object.spec.serviceAccountName) ? object.spec.serviceAccountName : 'default'" }]);
    const [labels, account, indirect, service] = policy.spec.validations.map((v: any) => v.expression);
    const label = "(has(object.metadata.labels) && 'app.kubernetes.io/name' in object.metadata.labels && object.metadata.labels['app.kubernetes.io/name'] == 'ledger')";
    expect(labels).toBe(`(!${label} || (variables.serviceAccount == 'ledger'))`);
    // `!` binds tighter than `==` in CEL: it must negate a parenthesized comparison.
    expect(account).toBe(`(!(variables.serviceAccount == 'ledger') || ${label})`);
    for (const v of policy.spec.validations) expect(v.expression).not.toMatch(/!(?!has\()[a-z]/);
    expect(indirect).toContain("e.name == 'NSM_SERVICE_NAMES' && !has(e.value)");
    expect(service).toContain("e.value.split(',').exists(n, n.trim().matches('^ledger[.]payments([{?].*)?$'))");
    expect(service).toContain('has(object.spec.initContainers) && object.spec.initContainers.exists(');
    for (const v of policy.spec.validations) {
      expect(v.reason).toBe('Forbidden');
      // Balanced parentheses and quotes: the text parses as one expression.
      expect([...v.expression].filter((c) => c === '(').length).toBe([...v.expression].filter((c) => c === ')').length);
      expect(v.expression.replace(/\\'/g, '').split("'").length % 2).toBe(1);
    }
  });

  test('quotes and backslashes in label values are escaped', () => {
    expect(celOf({ op: 'label', key: 'a', value: "it's\\" })).toContain("== 'it\\'s\\\\'");
  });
});
