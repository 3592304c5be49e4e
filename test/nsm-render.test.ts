import { App, Testing } from 'cdk8s';
import * as plus from 'cdk8s-plus-27';
import { Mesh, Peer, Port, SecureWorkload, WorkloadKind, ZeroTrustChart } from '../lib';
import { heroAndLilDeeBee } from '../apps/story';
import { allocatePrefixes, nsmConnections } from '../lib/meshes/nsm/plan';
import { IntentRegistry } from '../lib/intent/registry';
import { NsmEvaluator, parseClientAnnotation } from '../lib/verify/nsm';
import { Endpoint, decision } from '../lib/verify/types';
import { expectValid, validateObject } from './support/schema';
import { expectSynthError, find, synthApp, storyYaml } from './support/synth';
import { expectError } from './support/errors';
import { reviewNotes } from '../lib/report/notes';
import { notedMatrix } from '../lib/report/flows-file';
import { formatFlowsMarkdown } from '../lib/report/format';

const NSM = 'networkservicemesh.io';

function story(mesh: Mesh = Mesh.networkServiceMesh()): any[] {
  const app = Testing.app();
  heroAndLilDeeBee(app, mesh);
  return synthApp(app);
}

function containerOf(o: any, name: string): any {
  return o.spec.template.spec.containers.find((c: any) => c.name === name);
}

function envOf(container: any): { [k: string]: any } {
  return Object.fromEntries(container.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
}

describe('the story on Network Service Mesh', () => {
  const objects = story();

  test('every object validates strictly against its upstream schema (NSM NetworkService, SPIRE ClusterSPIFFEID, core kinds)', () => {
    expectValid(objects);
    const ns = find(objects, 'NetworkService', 'lil-deebee.production', 'production');
    // The NSM CRD keeps `spec` open; the API's NetworkService has name, payload and matches only.
    expect(Object.keys(ns.spec)).toEqual(['payload']);
  });

  test('one NetworkService, payload IP, for the one destination with allowed sources', () => {
    const services = objects.filter((o) => o.kind === 'NetworkService');
    expect(services.map((s) => `${s.metadata.namespace}/${s.metadata.name}`)).toEqual(['production/lil-deebee.production']);
    const ns = services[0];
    expect(ns.apiVersion).toBe('networkservicemesh.io/v1');
    expect(ns.spec).toEqual({ payload: 'IP' });
    expect(ns.metadata.labels).toEqual({ 'app.kubernetes.io/managed-by': 'cdk8s-zero-trust', 'app.kubernetes.io/name': 'lil-deebee' });
    expect(ns.metadata.annotations['zero-trust.cdk8s.io/allows']).toBe([
      // The annotation's lines are sorted.
      'address: production/hero gets no stable address or DNS name for production/lil-deebee on nsm-1 (the endpoint hands out a new point-to-point pair per connection); '
        + 'it must use the peer of the interface, not the Service name (primary network, closed)',
      'declared: production/hero -> production/lil-deebee on 5432/TCP',
      'opened: production/hero <-> production/lil-deebee at L3 over NSM interface nsm-1 (every port, both directions once connected)',
    ].join('\n'));
  });

  test('no DNS configuration is emitted for the endpoint: upstream offers none that holds for several clients (docs/backends/nsm.md)', () => {
    const nse = containerOf(find(objects, 'StatefulSet', 'lil-deebee', 'production'), 'nse');
    expect(Object.keys(envOf(nse))).not.toContain('NSM_DNS_CONFIGS');
    const hero = find(objects, 'Deployment', 'hero', 'production');
    expect(hero.spec.template.spec.containers.map((c: any) => c.name)).toEqual(['hero']);
    expect(JSON.stringify(objects)).not.toContain('NSM_DNS_CONFIGS');
  });

  test('the reader notes, for hero, that the endpoint has no stable address or name, and FLOWS.md shows it beside hero', () => {
    const reader = new NsmEvaluator(objects);
    const notes = reader.addressNotes();
    expect(notes.map((n) => [n.party, n.mark])).toEqual([['production/hero', 'no NSM endpoint name']]);
    expect(notes[0].text).toContain('`lil-deebee.production` on `nsm-1`');
    expect(notes[0].text).toContain('point2pointipam');
    const review = reviewNotes(objects, 'nsm');
    expect(review.filter((n) => n.kind === 'backend')).toEqual(notes.map((n) => ({ kind: 'backend', ...n })));
    const page = formatFlowsMarkdown(notedMatrix(objects.map((manifest, index) => ({ manifest, file: 'production.k8s.yaml', index })), 'nsm'));
    expect(page).toContain('`production/hero` (no NSM endpoint name): reaches `lil-deebee.production` on `nsm-1` over NSM');
    expect(page).toMatch(/`production\/hero` \(no NSM endpoint name\) \| `production\/lil-deebee`/);
  });

  test('other backends add no backend note', () => {
    const app = Testing.app();
    heroAndLilDeeBee(app, Mesh.networkPolicy());
    const np = synthApp(app);
    expect(reviewNotes(np, 'networkpolicy').filter((n) => n.kind === 'backend')).toEqual([]);
  });

  test('Lil DeeBee runs the endpoint advertising its service, with the NSM and SPIFFE sockets from their CSI drivers', () => {
    const sts = find(objects, 'StatefulSet', 'lil-deebee', 'production');
    const names = sts.spec.template.spec.containers.map((c: any) => c.name);
    expect(names).toEqual(['lil-deebee', 'nse']);
    const nse = containerOf(sts, 'nse');
    expect(nse.image).toBe('ghcr.io/networkservicemesh/cmd-nse-icmp-responder:v1.18.0');
    expect(envOf(nse)).toEqual({
      SPIFFE_ENDPOINT_SOCKET: 'unix:///run/spire/sockets/agent.sock',
      NSM_NAME: { fieldRef: { fieldPath: 'metadata.name' } },
      NSM_CONNECT_TO: 'unix:///var/lib/networkservicemesh/nsm.io.sock',
      NSM_SERVICE_NAMES: 'lil-deebee.production',
      NSM_PAYLOAD: 'IP',
      NSM_CIDR_PREFIX: '172.16.0.0/24',
      NSM_REGISTER_SERVICE: 'false',
    });
    expect(nse.volumeMounts).toEqual([
      { name: 'nsm-spire-agent-socket', mountPath: '/run/spire/sockets', readOnly: true },
      { name: 'nsm-socket', mountPath: '/var/lib/networkservicemesh', readOnly: true },
    ]);
    expect(sts.spec.template.spec.volumes).toEqual([
      { name: 'nsm-spire-agent-socket', csi: { driver: 'csi.spiffe.io', readOnly: true } },
      { name: 'nsm-socket', csi: { driver: 'csi.networkservicemesh.io', readOnly: true } },
    ]);
    // Lil DeeBee reaches nobody, so it is no client.
    expect(sts.spec.template.metadata.annotations).toBeUndefined();
  });

  test('the endpoint container meets the restricted Pod Security Standard: non-root by number, no capability, no escalation, RuntimeDefault seccomp', () => {
    const nse = containerOf(find(objects, 'StatefulSet', 'lil-deebee', 'production'), 'nse');
    expect(nse.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      privileged: false,
      runAsNonRoot: true,
      // The image sets no USER: without a number the kubelet could not check runAsNonRoot and would refuse to start it.
      runAsUser: 65534,
      runAsGroup: 65534,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(nse.securityContext.capabilities.add).toBeUndefined();
  });

  test('Hero is the only client, asking for exactly Lil DeeBee\'s service on one interface; Hero runs no endpoint', () => {
    const hero = find(objects, 'Deployment', 'hero', 'production');
    expect(hero.spec.template.metadata.annotations).toEqual({ [NSM]: 'kernel://lil-deebee.production/nsm-1' });
    expect(hero.spec.template.spec.containers.map((c: any) => c.name)).toEqual(['hero']);
    expect(hero.spec.template.spec.volumes).toBeUndefined();
  });

  test('both workloads get a per-pod SPIFFE identity in NSM\'s format', () => {
    const ids = objects.filter((o) => o.kind === 'ClusterSPIFFEID');
    expect(ids.map((i) => i.metadata.name)).toEqual(['production-hero', 'production-lil-deebee']);
    for (const id of ids) {
      expect(id.apiVersion).toBe('spire.spiffe.io/v1alpha1');
      expect(id.metadata.namespace).toBeUndefined();
      expect(id.spec.spiffeIDTemplate).toBe('spiffe://k8s.nsm/ns/{{.PodMeta.Namespace}}/pod/{{.PodMeta.Name}}');
      expect(id.spec.namespaceSelector).toEqual({ matchLabels: { 'kubernetes.io/metadata.name': 'production' } });
    }
    expect(find(ids, 'ClusterSPIFFEID', 'production-hero').spec.podSelector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'hero' } });
  });

  test('the primary network stays in default deny: only DNS and the external flows, never hero -> lil-deebee', () => {
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
    expect(policies.map((p) => p.metadata.name).sort()).toEqual(['allow-dns', 'default-deny', 'hero-egress', 'hero-ingress']);
    expect(find(policies, 'NetworkPolicy', 'default-deny').spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
    expect(find(policies, 'NetworkPolicy', 'hero-ingress').spec.ingress).toEqual([{
      from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }],
      ports: [{ port: 8080 }],
    }]);
    expect(find(policies, 'NetworkPolicy', 'hero-egress').spec.egress).toEqual([
      { to: [{ ipBlock: { cidr: '203.0.113.0/24' } }], ports: [{ port: 443 }] },
    ]);
    expect(JSON.stringify(policies)).not.toContain('lil-deebee');
  });

  test('the reader finds exactly the one connection of the intent', () => {
    const reader = new NsmEvaluator(objects);
    expect(reader.connections()).toEqual([
      { client: 'production/hero', endpoint: 'production/lil-deebee', service: 'lil-deebee.production', interfaceName: 'nsm-1', payload: 'IP' },
    ]);
    expect(reader.endpoints.map((e) => [e.workload, e.wired, e.cidrPrefix])).toEqual([['lil-deebee', true, '172.16.0.0/24']]);
  });

  test('snapshot, for review', () => {
    expect(objects).toMatchSnapshot();
  });

  test('two synths give identical bytes', () => {
    expect(storyYaml(Mesh.networkServiceMesh())).toBe(storyYaml(Mesh.networkServiceMesh()));
  });
});

describe('what NSM cannot enforce is a synth error unless the wider form is accepted', () => {
  function app(mesh: Mesh, declare: (a: SecureWorkload, b: SecureWorkload) => void): App {
    const a = Testing.app();
    const chart = new ZeroTrustChart(a, 'shop', { namespace: 'shop', mesh });
    const web = new SecureWorkload(chart, 'web', { image: 'web:1', ports: [Port.http(8080)] });
    const api = new SecureWorkload(chart, 'api', { image: 'api:1', ports: [Port.http(8080), Port.grpc(9090)] });
    declare(web, api);
    return a;
  }

  test('a subset of the destination\'s ports names workload, rule, the ports it would open and the opt-in', () => {
    expectSynthError(app(Mesh.networkServiceMesh(), (web, api) => api.allowFrom(web, { ports: [Port.http(8080)] })),
      '[nsm] shop/api.allowFrom(shop/web)', 'every port of shop/api, including 9090/TCP', 'Weaken.PORTS_TO_CONNECTION');
  });

  test('HTTP rules name the rule and the opt-in', () => {
    expectSynthError(app(Mesh.networkServiceMesh(), (web, api) => api.allowFrom(web, { http: [{ methods: ['GET'] }] })),
      '[nsm] shop/api.allowFrom(shop/web)', 'cannot match HTTP methods or paths', 'Weaken.HTTP_TO_PORT');
  });

  test('with the opt-ins the rules become a whole connection, and the annotation says so', () => {
    const objects = synthApp(app(Mesh.networkServiceMesh({ allowPortsOverConnection: true, allowHttpRulesOverConnection: true }), (web, api) => {
      api.allowFrom(web, { ports: [Port.http(8080)], http: [{ methods: ['GET'], paths: ['/api/*'] }] });
    }));
    expectValid(objects);
    expect(find(objects, 'Deployment', 'web').spec.template.metadata.annotations[NSM]).toBe('kernel://api.shop/nsm-1');
    const allows = find(objects, 'NetworkService', 'api.shop').metadata.annotations['zero-trust.cdk8s.io/allows'];
    expect(allows).toContain('declared: shop/web -> shop/api on 8080/TCP [GET /api/*]');
    expect(allows).toContain('every port, both directions');
  });

  test('all declared ports (ports given explicitly) need no opt-in', () => {
    const objects = synthApp(app(Mesh.networkServiceMesh(), (web, api) => api.allowFrom(web, { ports: [Port.http(8080), Port.grpc(9090)] })));
    expect(find(objects, 'Deployment', 'web').spec.template.metadata.annotations[NSM]).toBe('kernel://api.shop/nsm-1');
  });

  test('host names have no NSM connection and no NetworkPolicy peer', () => {
    expectSynthError(app(Mesh.networkServiceMesh(), (web) => web.allowTo(Peer.fqdn('api.example.com'), { ports: [Port.tcp(443)] })),
      '[nsm] shop/web.allowTo(fqdn:api.example.com)', 'cannot match host names');
  });

  test('HTTP rules towards an external peer are a NetworkPolicy error, unless Weaken.HTTP_TO_PORT (which the old opt-in maps onto) is accepted', () => {
    const declare = (web: SecureWorkload) => web.allowFrom(Peer.namespace('ingress-nginx'), { http: [{ methods: ['GET'] }] });
    expectSynthError(app(Mesh.networkServiceMesh({ allowPortsOverConnection: true }), declare),
      '[nsm] shop/web.allowFrom(ns:ingress-nginx)', 'NetworkPolicy cannot match HTTP', 'Weaken.HTTP_TO_PORT');
    const objects = synthApp(app(Mesh.networkServiceMesh({ allowHttpRulesOverConnection: true }), declare));
    const ingress = find(objects, 'NetworkPolicy', 'web-ingress');
    expect(ingress.spec.ingress).toEqual([{ from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }], ports: [{ port: 8080 }] }]);
    expect(ingress.metadata.annotations['zero-trust.cdk8s.io/allows']).toBe('ns:ingress-nginx -> shop/web on 8080/TCP [GET any path] — enforced as the whole port (Weaken.HTTP_TO_PORT)');
  });

  test('bad pools and trust domains fail where the mesh is created', () => {
    expectError(() => Mesh.networkServiceMesh({ cidrPool: '172.16.0.1/16' }), 'INVALID_MESH_PROPS', /host bits set; use 172.16.0.0\/16/);
    expectError(() => Mesh.networkServiceMesh({ cidrPool: '172.16.0.0/24', prefixLength: 16 }), 'INVALID_MESH_PROPS', /prefixLength 16/);
    expectError(() => Mesh.networkServiceMesh({ prefixLength: 32 }), 'INVALID_MESH_PROPS', /prefixLength 32/);
    expectError(() => Mesh.networkServiceMesh({ trustDomain: 'K8S NSM' }), 'INVALID_TRUST_DOMAIN', /trust domain/);
  });

  test('a pool too small for the destinations is a synth error', () => {
    expectSynthError(app(Mesh.networkServiceMesh({ cidrPool: '10.99.0.0/24', prefixLength: 24 }), (web, api) => {
      api.allowFrom(web);
      web.allowFrom(api);
    }), 'holds 1 /24 prefixes but 2 workloads have NSM clients');
  });
});

describe('several destinations, clients and namespaces', () => {
  function shop(mesh: Mesh): any[] {
    const a = Testing.app();
    const front = new ZeroTrustChart(a, 'front', { namespace: 'front', mesh });
    const back = new ZeroTrustChart(a, 'back', { namespace: 'back', mesh });
    const web = new SecureWorkload(front, 'web', { image: 'web:1', ports: [Port.http(8080)] });
    const api = new SecureWorkload(back, 'api', { image: 'api:1', ports: [Port.grpc(9090)] });
    const db = new SecureWorkload(back, 'db', { image: 'db:1', ports: [Port.tcp(5432)], kind: WorkloadKind.STATEFUL_SET });
    const cache = new SecureWorkload(back, 'cache', { image: 'cache:1', ports: [Port.tcp(6379)] });
    api.allowFrom(web);
    db.allowFrom(api);
    cache.allowFrom(api);
    web.allowTo(db);
    return synthApp(a);
  }

  const objects = shop(Mesh.networkServiceMesh({ cidrPool: '10.200.0.0/16', prefixLength: 26 }));

  test('each client lists exactly its services, one interface each, in service-name order', () => {
    expect(find(objects, 'Deployment', 'web', 'front').spec.template.metadata.annotations[NSM]).toBe('kernel://api.back/nsm-1,kernel://db.back/nsm-2');
    expect(find(objects, 'Deployment', 'api', 'back').spec.template.metadata.annotations[NSM]).toBe('kernel://cache.back/nsm-1,kernel://db.back/nsm-2');
    expect(find(objects, 'StatefulSet', 'db', 'back').spec.template.metadata.annotations).toBeUndefined();
  });

  test('prefixes are cut from the pool in workload order and never overlap', () => {
    const prefix = (kind: string, name: string) => envOf(containerOf(find(objects, kind, name), 'nse')).NSM_CIDR_PREFIX;
    expect([prefix('Deployment', 'api'), prefix('Deployment', 'cache'), prefix('StatefulSet', 'db')]).toEqual(['10.200.0.0/26', '10.200.0.64/26', '10.200.0.128/26']);
    expect(containerOf(find(objects, 'Deployment', 'web'), 'nse')).toBeUndefined();
  });

  test('NetworkServices live in their destination\'s namespace, ClusterSPIFFEIDs cover every participant', () => {
    expect(objects.filter((o) => o.kind === 'NetworkService').map((o) => `${o.metadata.namespace}/${o.metadata.name}`).sort())
      .toEqual(['back/api.back', 'back/cache.back', 'back/db.back']);
    expect(objects.filter((o) => o.kind === 'ClusterSPIFFEID').map((o) => o.metadata.name).sort())
      .toEqual(['back-api', 'back-cache', 'back-db', 'front-web']);
    expectValid(objects);
  });

  test('no app-to-app flow is open on the primary network', () => {
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
    expect(policies.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).sort())
      .toEqual(['back/allow-dns', 'back/default-deny', 'front/allow-dns', 'front/default-deny']);
  });

  test('the reader recovers the connection set', () => {
    expect(new NsmEvaluator(objects).connections().map((c) => `${c.client} -> ${c.endpoint} via ${c.service} on ${c.interfaceName}`)).toEqual([
      'back/api -> back/cache via cache.back on nsm-1',
      'back/api -> back/db via db.back on nsm-2',
      'front/web -> back/api via api.back on nsm-1',
      'front/web -> back/db via db.back on nsm-2',
    ]);
  });

  test('allocation is a pure function of the model: same intent, same prefixes, whatever the declaration order', () => {
    const prefixes = (order: string[]) => {
      const a = Testing.app();
      const chart = new ZeroTrustChart(a, 'x', { namespace: 'x', mesh: Mesh.networkServiceMesh() });
      const ws = Object.fromEntries(order.map((n) => [n, new SecureWorkload(chart, n, { image: n, ports: [Port.tcp(1)] })]));
      ws.b.allowFrom(ws.a);
      ws.a.allowFrom(ws.b);
      const { model } = IntentRegistry.of(chart).resolve();
      expect(nsmConnections(model).map((c) => `${c.client.name}>${c.service}/${c.interfaceName}`)).toEqual(['a>b.x/nsm-1', 'b>a.x/nsm-1']);
      return [...allocatePrefixes(model, '172.16.0.0/16', 24).entries()].map(([w, p]) => `${w.name}=${p}`);
    };
    expect(prefixes(['b', 'a'])).toEqual(['a=172.16.0.0/24', 'b=172.16.1.0/24']);
    expect(prefixes(['a', 'b'])).toEqual(['a=172.16.0.0/24', 'b=172.16.1.0/24']);
  });
});

describe('adopted cdk8s-plus workloads', () => {
  test('the endpoint container and its CSI volumes are patched into an adopted Deployment, with or without volumes of its own', () => {
    const a = Testing.app();
    const chart = new ZeroTrustChart(a, 'x', { namespace: 'x', mesh: Mesh.networkServiceMesh() });
    const mk = (name: string) => {
      const sa = new plus.ServiceAccount(chart, `${name}-sa`, { metadata: { name } });
      return new plus.Deployment(chart, `${name}-deploy`, { metadata: { name }, serviceAccount: sa, containers: [{ name, image: name, portNumber: 5432 }] });
    };
    const bare = mk('bare');
    const withVolume = mk('vol');
    withVolume.addVolume(plus.Volume.fromEmptyDir(chart, 'scratch', 'scratch'));
    const web = new SecureWorkload(chart, 'web', { image: 'web', ports: [Port.http(80)] });
    new SecureWorkload(chart, 'bare', { workload: bare }).allowFrom(web);
    new SecureWorkload(chart, 'vol', { workload: withVolume }).allowFrom(web);
    const objects = synthApp(a);
    for (const [name, volumes] of [['bare', []], ['vol', ['scratch']]] as const) {
      const spec = find(objects, 'Deployment', name, 'x').spec.template.spec;
      expect(spec.containers.map((c: any) => c.name)).toEqual([name, 'nse']);
      expect(spec.volumes.map((v: any) => v.name)).toEqual([...volumes, 'nsm-spire-agent-socket', 'nsm-socket']);
    }
    expect(find(objects, 'Deployment', 'web', 'x').spec.template.metadata.annotations[NSM]).toBe('kernel://bare.x/nsm-1,kernel://vol.x/nsm-2');
    expect(new NsmEvaluator(objects).connections().map((c) => c.endpoint)).toEqual(['x/bare', 'x/vol']);
  });
});

describe('the reader', () => {
  const objects = story();
  const pod = (id: string, annotations: { [k: string]: string } = {}, workload?: string): Endpoint => {
    const [namespace] = id.split('/');
    return { id, kind: 'pod', namespace, namespaceLabels: { 'kubernetes.io/metadata.name': namespace }, labels: {}, annotations, ...(workload ? { workload } : {}) };
  };
  const hero = pod('production/hero', { [NSM]: 'kernel://lil-deebee.production/nsm-1' }, 'hero');
  const deebee = pod('production/lil-deebee', {}, 'lil-deebee');
  const intruder = pod('production/zt-intruder');

  test('parses client annotations', () => {
    expect(parseClientAnnotation('kernel://a.b/nsm-1, kernel://c/nsm-2?app=x,garbage')).toEqual([
      { mechanism: 'kernel', service: 'a.b', interfaceName: 'nsm-1' },
      { mechanism: 'kernel', service: 'c', interfaceName: 'nsm-2' },
    ]);
    expect(parseClientAnnotation(undefined)).toEqual([]);
  });

  test('hero reaches lil-deebee on every port over NSM; the reverse path is reported, not hidden', () => {
    const reader = new NsmEvaluator(objects);
    for (const port of [5432, 1]) {
      const d = reader.evaluate({ source: hero, destination: deebee, port, protocol: 'TCP' });
      expect(d.allowed).toBe(true);
      expect(d.reasons[0]).toContain('NSM connection production/hero -> production/lil-deebee over NetworkService lil-deebee.production (payload IP');
    }
    const back = reader.evaluate({ source: deebee, destination: hero, port: 8080, protocol: 'TCP' });
    expect(back.allowed).toBe(true);
    expect(back.reasons[0]).toMatch(/^reverse path of NSM connection/);
  });

  test('a pod without the annotation has no connection; one that adds it gets one (NSM does not check who asks)', () => {
    const reader = new NsmEvaluator(objects);
    expect(reader.evaluate({ source: intruder, destination: deebee, port: 5432, protocol: 'TCP' }).allowed).toBe(false);
    const bold = pod('production/bold', { [NSM]: 'kernel://lil-deebee.production/nsm-1' });
    expect(reader.evaluate({ source: bold, destination: deebee, port: 5432, protocol: 'TCP' }).allowed).toBe(true);
  });

  test('other traffic goes to the primary network evaluator', () => {
    const x = { kind: 'NetworkPolicy', namespace: 'production', name: 'x' };
    const primary = { backend: 'fake', evaluate: () => decision(true, [{ layer: 'networkpolicy', verdict: 'allow', objects: [x], detail: 'NetworkPolicy production/x' }]) };
    const d = new NsmEvaluator(objects, primary).evaluate({ source: intruder, destination: deebee, port: 5432, protocol: 'TCP' });
    expect(d).toEqual(decision(true, [{ layer: 'networkpolicy', verdict: 'allow', objects: [x], detail: 'primary network: NetworkPolicy production/x' }]));
    expect(d.reasons).toEqual(['primary network: NetworkPolicy production/x']);
  });

  test('edits are caught: a second endpoint advertising the service, an unwired endpoint, a missing NetworkService', () => {
    const clone = (): any[] => JSON.parse(JSON.stringify(objects));
    const widened = clone();
    const api = JSON.parse(JSON.stringify(find(widened, 'StatefulSet', 'lil-deebee')));
    api.metadata.name = 'other';
    containerOf(api, 'nse').env.find((e: any) => e.name === 'NSM_SERVICE_NAMES').value = 'lil-deebee.production,other.production';
    widened.push(api);
    expect(new NsmEvaluator(widened).connections().map((c) => c.endpoint)).toEqual(['production/lil-deebee', 'production/other']);

    const unwired = clone();
    find(unwired, 'StatefulSet', 'lil-deebee').spec.template.spec.volumes = [];
    const r = new NsmEvaluator(unwired);
    expect(r.connections()).toEqual([]);
    expect(r.endpoints[0].problems).toEqual(['the NSM manager socket is not mounted at /var/lib/networkservicemesh', 'the SPIFFE workload API socket is not mounted at /run/spire/sockets']);

    const noService = clone().filter((o) => o.kind !== 'NetworkService');
    expect(new NsmEvaluator(noService).connections()).toEqual([]);
    // ...unless the endpoint registers the service itself.
    const selfRegistering = clone().filter((o) => o.kind !== 'NetworkService');
    containerOf(find(selfRegistering, 'StatefulSet', 'lil-deebee'), 'nse').env.find((e: any) => e.name === 'NSM_REGISTER_SERVICE').value = 'true';
    expect(new NsmEvaluator(selfRegistering).connections()).toHaveLength(1);
  });

  test('documented over-permit: a pod of another namespace that mounts the NSM CSI driver and names the service is an endpoint Hero may be connected to', () => {
    // Nothing in NSM ties a service name to the pods allowed to serve it (docs/backends/nsm.md, "Who may serve").
    const rogue = JSON.parse(JSON.stringify(find(objects, 'StatefulSet', 'lil-deebee', 'production')));
    rogue.metadata = { name: 'rogue', namespace: 'elsewhere' };
    rogue.spec.template.spec.containers = [containerOf(rogue, 'nse')];
    expect(envOf(containerOf(rogue, 'nse')).NSM_SERVICE_NAMES).toBe('lil-deebee.production');
    const reader = new NsmEvaluator([...objects, rogue]);
    expect(reader.connections().map((c) => `${c.client} -> ${c.endpoint} (${c.service})`).sort()).toEqual([
      'production/hero -> elsewhere/rogue (lil-deebee.production)',
      'production/hero -> production/lil-deebee (lil-deebee.production)',
    ]);
    // Without the NSM socket (no csi.networkservicemesh.io volume) it cannot register: what an admission policy must keep from untrusted pods.
    const unmounted = JSON.parse(JSON.stringify(rogue));
    unmounted.spec.template.spec.volumes = unmounted.spec.template.spec.volumes.filter((v: any) => v.csi?.driver !== 'csi.networkservicemesh.io');
    expect(new NsmEvaluator([...objects, unmounted]).connections().map((c) => c.endpoint)).toEqual(['production/lil-deebee']);
  });

  test('the schema check catches a misspelt endpoint field', () => {
    const bad = JSON.parse(JSON.stringify(find(objects, 'StatefulSet', 'lil-deebee')));
    containerOf(bad, 'nse').volumeMount = containerOf(bad, 'nse').volumeMounts;
    expect(validateObject(bad).join('\n')).toMatch(/volumeMount/);
  });
});
