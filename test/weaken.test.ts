/**
 * Issue 19: one vocabulary for weaker enforcement (`Weaken`) on every mesh, every refusal of an
 * app in one synth, and every weakening visible (annotation, intent file, verify, summary).
 */
import * as fs from 'fs';
import * as path from 'path';
import { App, Testing } from 'cdk8s';
import { IstioMode, KumaHttpRules, Mesh, Peer, Port, SecureWorkload, Weaken, ZeroTrustChart, ZeroTrustReview, ZeroTrustSynthesis } from '../lib';
import { main } from '../lib/cli';
import { parseIntentDocument } from '../lib/intent/document';
import { expectError } from './support/errors';
import { find, synthApp } from './support/synth';
import { shopApp } from './support/shop';
import { tempDir } from './support/stories';

const ALL = [Weaken.HTTP_TO_PORT, Weaken.IDENTITY_TO_LABELS, Weaken.WORKLOAD_TO_NAMESPACE, Weaken.HOST_TO_PORT, Weaken.PORTS_TO_CONNECTION];

/** Every backend, by id, with the weakenings given. */
const MESHES: { [id: string]: (weaken?: Weaken[]) => Mesh } = {
  'networkpolicy': (weaken) => Mesh.networkPolicy({ weaken }),
  'istio': (weaken) => Mesh.istio({ weaken }),
  'istio-ambient': (weaken) => Mesh.istio({ mode: IstioMode.AMBIENT, weaken }),
  'linkerd': (weaken) => Mesh.linkerd({ weaken }),
  'cilium': (weaken) => Mesh.cilium({ weaken }),
  'kuma': (weaken) => Mesh.kuma({ weaken }),
  'nsm': (weaken) => Mesh.networkServiceMesh({ weaken }),
};
const CLUSTER = ['10.0.0.0/8', 'fd00::/8'];

const PROMETHEUS = 'monitoring/{app.kubernetes.io/name=prometheus}@prometheus';
/** What each backend refuses of the shop without weakenings: `code member rule`, in the order reported. */
const REFUSALS: { [id: string]: string[] } = {
  'networkpolicy': [
    `SERVICE_ACCOUNT_NOT_ENFORCEABLE IDENTITY_TO_LABELS shop/api.allowFrom(${PROMETHEUS})`,
    `SERVICE_ACCOUNT_NOT_ENFORCEABLE IDENTITY_TO_LABELS shop/postgres.allowFrom(${PROMETHEUS})`,
    `SERVICE_ACCOUNT_NOT_ENFORCEABLE IDENTITY_TO_LABELS shop/web.allowFrom(${PROMETHEUS})`,
    'FQDN_NOT_ENFORCEABLE HOST_TO_PORT shop/api.allowTo(fqdn:api.stripe.com)',
    'HTTP_RULES_NOT_ENFORCEABLE HTTP_TO_PORT shop/api.allowFrom(shop/web)',
    `SERVICE_ACCOUNT_NOT_ENFORCEABLE IDENTITY_TO_LABELS payments/payments.allowFrom(${PROMETHEUS})`,
  ],
  'istio': [],
  'istio-ambient': ['ISTIO_NOT_ENFORCEABLE HOST_TO_PORT shop/api.allowTo(fqdn:api.stripe.com)'],
  'linkerd': ['LINKERD_NOT_ENFORCEABLE HOST_TO_PORT shop/api.allowTo(fqdn:api.stripe.com)'],
  'cilium': [],
  'kuma': [
    `KUMA_NOT_ENFORCEABLE IDENTITY_TO_LABELS shop/api.allowFrom(${PROMETHEUS})`,
    `KUMA_NOT_ENFORCEABLE IDENTITY_TO_LABELS shop/postgres.allowFrom(${PROMETHEUS})`,
    `KUMA_NOT_ENFORCEABLE IDENTITY_TO_LABELS shop/web.allowFrom(${PROMETHEUS})`,
    'KUMA_NOT_ENFORCEABLE HTTP_TO_PORT shop/api.allowFrom(shop/web)',
    `KUMA_NOT_ENFORCEABLE IDENTITY_TO_LABELS payments/payments.allowFrom(${PROMETHEUS})`,
  ],
  'nsm': [
    'PORTS_NOT_ENFORCEABLE PORTS_TO_CONNECTION payments/payments.allowFrom(shop/api)',
    'PORTS_NOT_ENFORCEABLE PORTS_TO_CONNECTION shop/postgres.allowFrom(shop/api)',
    'HTTP_RULES_NOT_ENFORCEABLE HTTP_TO_PORT shop/api.allowFrom(shop/web)',
    `SERVICE_ACCOUNT_NOT_ENFORCEABLE IDENTITY_TO_LABELS shop/api.allowFrom(${PROMETHEUS})`,
    `SERVICE_ACCOUNT_NOT_ENFORCEABLE IDENTITY_TO_LABELS shop/postgres.allowFrom(${PROMETHEUS})`,
    `SERVICE_ACCOUNT_NOT_ENFORCEABLE IDENTITY_TO_LABELS shop/web.allowFrom(${PROMETHEUS})`,
    'FQDN_NOT_ENFORCEABLE HOST_TO_PORT shop/api.allowTo(fqdn:api.stripe.com)',
    `SERVICE_ACCOUNT_NOT_ENFORCEABLE IDENTITY_TO_LABELS payments/payments.allowFrom(${PROMETHEUS})`,
    // Found in the same synth: the rule's next refusal once its HTTP rules are set aside.
    'PORTS_NOT_ENFORCEABLE PORTS_TO_CONNECTION shop/api.allowFrom(shop/web)',
  ],
};

function refusals(build: (app: App) => void): string[] {
  const app = Testing.app();
  build(app);
  try {
    app.synthYaml();
  } catch (e) {
    const problems = ZeroTrustSynthesis.problemsOf(e);
    if (problems.length === 0) throw e;
    return problems.map((p) => `${p.code} ${p.weaken ?? '-'} ${p.rule}`);
  }
  return [];
}

const temps: string[] = [];
afterAll(() => { for (const d of temps) fs.rmSync(d, { recursive: true, force: true }); });

/** The app synthesized into a temporary folder with its intent file. */
function synthesize(build: (app: App) => void): string {
  const outdir = tempDir('weaken');
  temps.push(outdir);
  const app = new App({ outdir });
  build(app);
  app.synth();
  ZeroTrustReview.write(app, { flowsMarkdown: false, printSummary: false });
  return outdir;
}

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; } });
  return { code, stdout, stderr };
}

describe.each(Object.keys(MESHES))('the shop on %s, with no mesh-specific code', (id) => {
  test('without weakenings, every refusal of the app in one synth, each naming the Weaken member that would accept it', () => {
    expect(refusals((app) => shopApp(app, () => MESHES[id]()))).toEqual(REFUSALS[id]);
  });

  test('with every Weaken member accepted it synthesizes, and verify checks the weaker form exactly', async () => {
    const dir = synthesize((app) => shopApp(app, () => MESHES[id](ALL)));
    const r = await cli('verify', dir);
    expect(r.stdout).toMatch(/^OK: /);
    expect(r.code).toBe(0);
    const doc = JSON.parse(fs.readFileSync(path.join(dir, 'zero-trust.intent.json'), 'utf-8'));
    const weakened = doc.flows.filter((f: any) => f.weakened).map((f: any) => `${f.declaredAt} ${f.weakened.join(',')}`);
    // Exactly the refused rules are weakened, each by the member its refusal named.
    const expected = new Map<string, Set<string>>();
    for (const line of REFUSALS[id]) {
      const [, member, rule] = line.split(' ');
      expected.set(rule, new Set([...(expected.get(rule) ?? []), member]));
    }
    const order = ALL as string[];
    expect(weakened.sort()).toEqual([...expected].map(([rule, ms]) => `${rule} ${[...ms].sort((a, b) => order.indexOf(a) - order.indexOf(b)).join(',')}`).sort());
  });

  test('with the chart\'s clusterNetworks given, a host name weakened to its port leaves them closed (and is not refused as overlapping them), and verify agrees', async () => {
    const dir = synthesize((app) => shopApp(app, () => MESHES[id](ALL), { clusterNetworks: CLUSTER }));
    const r = await cli('verify', dir);
    expect(r.stdout).toMatch(/^OK: /);
    const doc = JSON.parse(fs.readFileSync(path.join(dir, 'zero-trust.intent.json'), 'utf-8'));
    const stripe = doc.flows.find((f: any) => f.destination.type === 'fqdn');
    if (REFUSALS[id].some((line) => line.includes(' HOST_TO_PORT '))) {
      expect(stripe).toEqual(expect.objectContaining({ weakened: ['HOST_TO_PORT'], hostExcept: CLUSTER }));
      // Read back: 0.0.0.0/0 except the IPv4 range, ::/0 except the IPv6 one.
      const enforced = parseIntentDocument(doc).model.flows.filter((f) => f.declaredAt === stripe.declaredAt).map((f) => f.destination);
      expect(enforced).toEqual([{ type: 'ip-block', cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] }, { type: 'ip-block', cidr: '::/0', except: ['fd00::/8'] }]);
    } else {
      expect(stripe.weakened).toBeUndefined();
    }
  });
});

describe('a weakened flow is visible', () => {
  const build = (app: App) => shopApp(app, () => Mesh.networkPolicy({ weaken: ALL }));

  test('the allows annotation says what was given up, and the objects are the weaker form', () => {
    const app = Testing.app();
    build(app);
    const objects = synthApp(app);
    const api = find(objects, 'NetworkPolicy', 'api-ingress', 'shop');
    const allows = api.metadata.annotations['zero-trust.cdk8s.io/allows'].split('\n');
    expect(allows).toContain('shop/web -> shop/api on 8080/TCP [GET /products*, POST /orders] — enforced as the whole port (Weaken.HTTP_TO_PORT)'
      .replace('[GET /products*, POST /orders]', '[GET /products* | POST /orders]'));
    expect(allows).toContain(`${PROMETHEUS} -> shop/api on 9090/TCP — enforced by labels and namespace, the ServiceAccount not checked (Weaken.IDENTITY_TO_LABELS)`);
    const egress = find(objects, 'NetworkPolicy', 'api-egress', 'shop');
    expect(egress.metadata.annotations['zero-trust.cdk8s.io/allows']).toContain('shop/api -> fqdn:api.stripe.com on 443/TCP — enforced as any address on its ports (Weaken.HOST_TO_PORT)');
    expect(egress.spec.egress).toContainEqual({ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }], ports: [{ port: 443 }] });
  });

  test('the intent file records the declared flow and its weakenings; read back, it is the weaker form', () => {
    const app = Testing.app();
    build(app);
    const doc = JSON.parse(ZeroTrustReview.intentJson(app));
    const stripe = doc.flows.find((f: any) => f.destination.type === 'fqdn');
    expect(stripe).toEqual(expect.objectContaining({ destination: { type: 'fqdn', host: 'api.stripe.com' }, weakened: ['HOST_TO_PORT'] }));
    const model = parseIntentDocument(doc).model;
    const enforced = model.flows.filter((f) => f.declaredAt === 'shop/api.allowTo(fqdn:api.stripe.com)');
    expect(enforced.map((f) => f.destination)).toEqual([{ type: 'ip-block', cidr: '0.0.0.0/0', except: [] }, { type: 'ip-block', cidr: '::/0', except: [] }]);
    expect(() => parseIntentDocument({ ...doc, flows: [{ ...stripe, weakened: ['EVERYTHING'] }] })).toThrow(/flows\[0\]\.weakened\[0\]: unknown Weaken member "EVERYTHING"/);
  });

  test('the synth summary counts, per backend, flows enforced as declared and weakened, and how', () => {
    const app = Testing.app();
    build(app);
    expect(ZeroTrustReview.summary(app)).toBe([
      'zero-trust enforcement:',
      '  networkpolicy: 3 flows enforced as declared, 6 weakened (Weaken.HTTP_TO_PORT: 1, Weaken.IDENTITY_TO_LABELS: 4, Weaken.HOST_TO_PORT: 1)',
    ].join('\n'));
  });

  test('cdk8s-zero-trust flows prints the summary of the intent file beside the manifests', async () => {
    const dir = synthesize(build);
    const r = await cli('flows', dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('### Enforcement (zero-trust.intent.json)\n\n- networkpolicy: 3 flows enforced as declared, 6 weakened');
  });

  test('flows, FLOWS.md and diff mark the rows only a weakened flow allows', async () => {
    const dir = synthesize(build);
    const table = (await cli('flows', dir)).stdout;
    expect(table).toMatch(/^\| `shop\/web` +\| `shop\/api` +\| 8080 +\| TCP +\| `weakened \(Weaken\.HTTP_TO_PORT\)` +\| no +\|$/m);
    expect(table).toMatch(/^\| `shop\/api` +\| `cidr:0\.0\.0\.0\/0` +\| 443 +\| TCP +\| `weakened \(Weaken\.HOST_TO_PORT\)` +\|/m);
    expect(table).toMatch(/^\| `monitoring\/\{app\.kubernetes\.io\/name=prometheus\}` +\| `shop\/api` +\| 9090 +\| TCP +\| `weakened \(Weaken\.IDENTITY_TO_LABELS\)` +\|/m);
    // Flows enforced as declared are not marked.
    expect(table).toMatch(/^\| `shop\/api` +\| `shop\/postgres` +\| 5432 +\| TCP +\| — +\| no +\|$/m);
    const mermaid = (await cli('flows', dir, '--format', 'mermaid')).stdout;
    expect(mermaid).toContain('8080/TCP weakened (Weaken.HTTP_TO_PORT)');
    const svg = (await cli('flows', dir, '--format', 'svg')).stdout;
    expect(svg).toMatch(/8080\/TCP weakened \(Weaken\.HTTP_TO_PORT\)/);

    const written = tempDir('weaken-review');
    temps.push(written);
    const app = new App({ outdir: written });
    build(app);
    app.synth();
    ZeroTrustReview.write(app, { printSummary: false });
    const flowsMd = fs.readFileSync(path.join(written, 'FLOWS.md'), 'utf-8');
    expect(flowsMd).toMatch(/\| `shop\/web` +\| `shop\/api` +\| 8080 +\| TCP +\| `weakened \(Weaken\.HTTP_TO_PORT\)` +\|/);
    expect(flowsMd).toContain('### Enforcement (zero-trust.intent.json)\n\n- networkpolicy: 3 flows enforced as declared, 6 weakened');

    // The same objects, once declared as a plain port and once as HTTP rules enforced as the port: the strength changed.
    const plain = synthesize((a) => shopApp(a, () => Mesh.networkPolicy({ weaken: [Weaken.IDENTITY_TO_LABELS, Weaken.HOST_TO_PORT] }), { http: false }));
    const d = await cli('diff', plain, dir);
    expect(d.code).toBe(1);
    expect(d.stdout).toContain('1 flow added, 1 removed');
    expect(d.stdout).toMatch(/### Added \(1\)\n\n.*\n.*\n\| `shop\/web` +\| `shop\/api` +\| 8080 +\| TCP +\| `weakened \(Weaken\.HTTP_TO_PORT\)` +\| no +\|/);
    expect(d.stdout).toMatch(/### Removed \(1\)\n\n.*\n.*\n\| `shop\/web` +\| `shop\/api` +\| 8080 +\| TCP +\| — +\| no +\|/);
  });

  test('verify fails when the intent file does not record the weakenings the manifests enforce', async () => {
    const dir = synthesize(build);
    const doc = JSON.parse(fs.readFileSync(path.join(dir, 'zero-trust.intent.json'), 'utf-8'));
    const other = tempDir('weaken-intent');
    temps.push(other);
    const stripped = path.join(other, 'declared-only.json');
    fs.writeFileSync(stripped, JSON.stringify({ ...doc, flows: doc.flows.map(({ weakened, ...f }: any) => f) }));
    const r = await cli('verify', dir, '--intent', stripped);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAILED: .* differs from .*declared-only\.json/);
    // The ServiceAccount the labels stand in for, and addresses the host name stands in for.
    expect(r.stdout).toContain('monitoring/{app.kubernetes.io/name=prometheus}@zt-other-sa -> shop/api 9090/TCP: networkpolicy ALLOWS, intent DENIES');
    expect(r.stdout).toContain('shop/api -> ip:0.0.0.1 443/TCP: networkpolicy ALLOWS, intent DENIES');
  });
});

describe('the vocabulary', () => {
  function kumaHttp(mesh: Mesh): App {
    const app = Testing.app();
    const chart = new ZeroTrustChart(app, 'prod', { namespace: 'production', mesh });
    const api = new SecureWorkload(chart, 'api', { image: 'x', ports: [Port.http(8080)] });
    const web = new SecureWorkload(chart, 'web', { image: 'x', ports: [Port.http(80)] });
    api.allowFrom(web, { http: [{ methods: ['GET'] }] });
    return app;
  }

  test('the deprecated Kuma and NSM opt-ins map onto the members: the same output', () => {
    expect(kumaHttp(Mesh.kuma({ httpRules: KumaHttpRules.ENFORCE_AT_L4 })).synthYaml()).toBe(kumaHttp(Mesh.kuma({ weaken: [Weaken.HTTP_TO_PORT] })).synthYaml());
    const nsm = (mesh: Mesh) => {
      const app = Testing.app();
      const chart = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh });
      const api = new SecureWorkload(chart, 'api', { image: 'x', ports: [Port.http(8080), Port.grpc(9090)] });
      api.allowFrom(new SecureWorkload(chart, 'web', { image: 'x', ports: [Port.http(80)] }), { ports: [Port.http(8080)], http: [{ methods: ['GET'] }] });
      return app.synthYaml();
    };
    expect(nsm(Mesh.networkServiceMesh({ allowHttpRulesOverConnection: true, allowPortsOverConnection: true })))
      .toBe(nsm(Mesh.networkServiceMesh({ weaken: [Weaken.PORTS_TO_CONNECTION, Weaken.HTTP_TO_PORT] })));
  });

  test('a member that is not accepted leaves the refusal, naming it; one that does not apply changes nothing', () => {
    const problems = (() => {
      try { kumaHttp(Mesh.kuma({ weaken: [Weaken.HOST_TO_PORT] })).synthYaml(); } catch (e) { return ZeroTrustSynthesis.problemsOf(e); }
      return [];
    })();
    expect(problems.map((p) => [p.code, p.weaken])).toEqual([['KUMA_NOT_ENFORCEABLE', 'HTTP_TO_PORT']]);
    expect(problems[0].message).toContain('Weaken.HTTP_TO_PORT');
    // Istio enforces HTTP rules: accepting HTTP_TO_PORT there weakens nothing.
    const istio = (weaken?: Weaken[]) => {
      const app = Testing.app();
      shopApp(app, () => Mesh.istio({ weaken }));
      return app.synthYaml();
    };
    expect(istio(ALL)).toBe(istio());
  });

  test('a value that is no member is refused where the mesh is made; the cluster\'s ranges are the chart\'s clusterNetworks only', () => {
    expectError(() => Mesh.linkerd({ weaken: ['EVERYTHING' as Weaken] }), 'INVALID_MESH_PROPS', /weaken: "EVERYTHING" is not a Weaken member/);
    // One fact, one prop: no factory takes the ranges (jsii props are checked by TypeScript; plain JavaScript gets the misspelt-prop error).
    expectError(() => Mesh.networkPolicy({ clusterCidrs: ['10.0.0.0/8'] } as any), 'INVALID_MESH_PROPS', /clusterCidrs is not a mesh prop; .*clusterNetworks/);
  });

  test('a member is accepted per chart: a flow is weakened only when every chart it touches accepts it', () => {
    const app = Testing.app();
    const front = new ZeroTrustChart(app, 'front', { namespace: 'front', mesh: Mesh.networkPolicy({ weaken: [Weaken.HTTP_TO_PORT, Weaken.HOST_TO_PORT] }) });
    const back = new ZeroTrustChart(app, 'back', { namespace: 'back', mesh: Mesh.networkPolicy() });
    const web = new SecureWorkload(front, 'web', { image: 'x', ports: [Port.http(8080)] });
    const api = new SecureWorkload(back, 'api', { image: 'x', ports: [Port.http(8080)] });
    api.allowFrom(web, { http: [{ methods: ['GET'] }] });
    web.allowTo(Peer.fqdn('api.example.com'), { ports: [Port.tcp(443)] });
    api.allowTo(Peer.fqdn('api.example.com'), { ports: [Port.tcp(443)] });
    let problems: ReturnType<typeof ZeroTrustSynthesis.problemsOf> = [];
    try { app.synthYaml(); } catch (e) { problems = ZeroTrustSynthesis.problemsOf(e); }
    // front accepts both, so only back's refusals remain: the shared flow (back does not accept) and back's own host name.
    expect(problems.map((p) => `${p.namespace} ${p.code} ${p.rule}`)).toEqual([
      'back FQDN_NOT_ENFORCEABLE back/api.allowTo(fqdn:api.example.com)',
      'back HTTP_RULES_NOT_ENFORCEABLE back/api.allowFrom(front/web)',
    ]);
    // Accepted by back too, the shared flow is weakened in both charts' objects.
    const both = Testing.app();
    const f2 = new ZeroTrustChart(both, 'front', { namespace: 'front', mesh: Mesh.networkPolicy({ weaken: [Weaken.HTTP_TO_PORT] }) });
    const b2 = new ZeroTrustChart(both, 'back', { namespace: 'back', mesh: Mesh.networkPolicy({ weaken: [Weaken.HTTP_TO_PORT] }) });
    new SecureWorkload(b2, 'api', { image: 'x', ports: [Port.http(8080)] }).allowFrom(new SecureWorkload(f2, 'web', { image: 'x', ports: [Port.http(8080)] }), { http: [{ methods: ['GET'] }] });
    const objects = synthApp(both);
    for (const [name, ns] of [['web-egress', 'front'], ['api-ingress', 'back']]) {
      expect(find(objects, 'NetworkPolicy', name, ns).metadata.annotations['zero-trust.cdk8s.io/allows']).toBe('front/web -> back/api on 8080/TCP [GET any path] — enforced as the whole port (Weaken.HTTP_TO_PORT)');
    }
  });

  test('a refusal with no weaker form stays a refusal whatever is accepted', () => {
    const app = Testing.app();
    const chart = new ZeroTrustChart(app, 'prod', { namespace: 'production', mesh: Mesh.kuma({ weaken: ALL }) });
    new SecureWorkload(chart, 'api', { image: 'x', ports: [Port.http(8080)] }).allowFrom(Peer.ipBlock('10.0.0.0/8'));
    expect(() => app.synthYaml()).toThrow(/cannot name an address range/);
  });
});

describe('a weakening applies to exactly the part of the flow its refusal named', () => {
  /** Prometheus by ServiceAccount to a DNS-like workload on TCP and UDP 5353. */
  function mixed(app: App, mesh: Mesh): void {
    const chart = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh });
    const dns = new SecureWorkload(chart, 'dns', { image: 'x', ports: [Port.tcp(5353, 'dns-tcp'), Port.udp(5353, 'dns-udp')] });
    dns.allowFrom(Peer.workload({ namespace: 'monitoring', labels: { app: 'prometheus' }, serviceAccount: 'prometheus' }));
  }
  const RULE = 'shop/dns.allowFrom(monitoring/{app=prometheus}@prometheus)';

  test.each([['istio', () => Mesh.istio({ weaken: [Weaken.IDENTITY_TO_LABELS] })], ['linkerd', () => Mesh.linkerd({ weaken: [Weaken.IDENTITY_TO_LABELS] })]])(
    '%s: IDENTITY_TO_LABELS drops the ServiceAccount on the UDP port only; TCP keeps it, and verify checks both exactly', async (id, mesh) => {
      const dir = synthesize((app) => mixed(app, mesh()));
      const doc = JSON.parse(fs.readFileSync(path.join(dir, 'zero-trust.intent.json'), 'utf-8'));
      expect(doc.flows).toHaveLength(1);
      expect(doc.flows[0]).toEqual(expect.objectContaining({
        declaredAt: RULE, weakened: ['IDENTITY_TO_LABELS'],
        weakenedPorts: { IDENTITY_TO_LABELS: [{ number: 5353, protocol: 'UDP', kind: 'udp', name: 'dns-udp' }] },
      }));
      // Read back: the TCP part keeps the ServiceAccount, the UDP part is by labels; nothing is widened to the namespace.
      const forms = parseIntentDocument(doc).model.flows;
      expect(forms.map((f) => `${f.source.type === 'external-workload' ? f.source.serviceAccount ?? '-' : f.source.type} ${f.ports.map(String).join(',')} ${f.weakened?.join(',') ?? ''}`))
        .toEqual(['prometheus 5353/TCP ', '- 5353/UDP IDENTITY_TO_LABELS']);
      const r = await cli('verify', dir);
      expect(r.stdout).toMatch(/^OK: /);
      // flows marks the row only the weakened part allows (any ServiceAccount with the labels, on UDP); TCP keeps the account. The summary counts the rule once.
      const rows = (await cli('flows', dir)).stdout.split('\n');
      const row = (source: RegExp, proto: string) => rows.filter((l) => source.test(l) && l.includes('`shop/dns`') && new RegExp(`\\| 5353 +\\| ${proto} `).test(l));
      expect(row(/^\| `monitoring\/\{app=prometheus\}` /, 'UDP')).toEqual([expect.stringContaining('`weakened (Weaken.IDENTITY_TO_LABELS)`')]);
      expect(row(/^\| `monitoring\/\{app=prometheus\}` /, 'TCP')).toEqual([]);
      expect(row(/^\| <code>monitoring\/\{app=prometheus\}&#64;prometheus<\/code> /, 'TCP')).toEqual([expect.stringMatching(/\| — +\| required +\|$/)]);
      expect(rows).toContain(`- ${id}: 0 flows enforced as declared, 1 weakened (Weaken.IDENTITY_TO_LABELS: 1)`);
      // Recorded as weakening the whole flow, the file is wider than the manifests: verify fails on TCP from another ServiceAccount.
      const other = tempDir('weaken-part');
      temps.push(other);
      const whole = path.join(other, 'whole.json');
      fs.writeFileSync(whole, JSON.stringify({ ...doc, flows: doc.flows.map(({ weakenedPorts, ...f }: any) => f) }));
      const w = await cli('verify', dir, '--intent', whole);
      expect(w.code).toBe(1);
      expect(w.stdout).toMatch(/monitoring\/\{app=prometheus\}\S* -> shop\/dns 5353\/TCP: \S+ DENIES, intent ALLOWS/);
    });

  test('the NetworkPolicy annotation names the weakened part; the refusal names its port when the member is not accepted', () => {
    const app = Testing.app();
    mixed(app, Mesh.istio({ weaken: [Weaken.IDENTITY_TO_LABELS] }));
    const np = find(synthApp(app), 'NetworkPolicy', 'dns-ingress', 'shop');
    expect(np.metadata.annotations['zero-trust.cdk8s.io/allows'].split('\n')).toEqual([
      'monitoring/{app=prometheus}@prometheus -> shop/dns on 5353/TCP',
      'monitoring/{app=prometheus}@prometheus -> shop/dns on 5353/UDP — enforced by labels and namespace, the ServiceAccount not checked (Weaken.IDENTITY_TO_LABELS)',
    ]);
    const problems = (() => {
      const a = Testing.app();
      mixed(a, Mesh.istio());
      try { a.synthYaml(); } catch (e) { return ZeroTrustSynthesis.problemsOf(e); }
      return [];
    })();
    expect(problems.map((p) => `${p.code} ${p.weaken} ${p.rule}`)).toEqual([`UDP_IDENTITY_NOT_ENFORCEABLE IDENTITY_TO_LABELS ${RULE}`]);
    expect(problems[0].message).toMatch(/\(Weaken\.IDENTITY_TO_LABELS applies on 5353\/UDP only\)|the ServiceAccount not checked on 5353\/UDP\)$/);
  });

  test('an intent file whose weakenedPorts name a member it does not list, or a port the flow does not have, is refused', () => {
    const app = Testing.app();
    mixed(app, Mesh.istio({ weaken: [Weaken.IDENTITY_TO_LABELS] }));
    const doc = JSON.parse(ZeroTrustReview.intentJson(app));
    const f = doc.flows[0];
    expect(() => parseIntentDocument({ ...doc, flows: [{ ...f, weakenedPorts: { HTTP_TO_PORT: [] } }] })).toThrow(/flows\[0\]\.weakenedPorts\.HTTP_TO_PORT: "HTTP_TO_PORT" is not in weakened/);
    const bad = { number: 53, protocol: 'UDP', kind: 'udp', name: 'dns' };
    expect(() => parseIntentDocument({ ...doc, flows: [{ ...f, weakenedPorts: { IDENTITY_TO_LABELS: [bad] } }] })).toThrow(/weakenedPorts\.IDENTITY_TO_LABELS\[0\]: 53\/UDP is not one of the flow's ports/);
  });
});
