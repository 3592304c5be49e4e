import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  Endpoint, ManifestError, NetworkPolicyEvaluator, Query, inventory, loadManifests, parseManifests, probeUniverse, queries,
} from '../lib/verify';

/** Namespaces prod (label team=core) and ext; pods: prod/db, prod/client, prod/web, ext/client, ext/other. */
const BASE = `
apiVersion: v1
kind: Namespace
metadata: { name: prod, labels: { team: core } }
---
apiVersion: v1
kind: Namespace
metadata: { name: ext }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: db, namespace: prod }
spec:
  template:
    metadata: { labels: { app: db, tier: data } }
    spec:
      serviceAccountName: db
      containers:
        - name: db
          ports:
            - { name: pg, containerPort: 5432 }
            - { name: metrics, containerPort: 9090, protocol: TCP }
            - { name: dns, containerPort: 53, protocol: UDP }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: web, namespace: prod }
spec:
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - name: web
          ports: [{ name: pg, containerPort: 6432 }]
---
apiVersion: v1
kind: Pod
metadata: { name: client, namespace: prod, labels: { role: client } }
spec: { containers: [{ name: c }] }
---
apiVersion: apps/v1
kind: StatefulSet
metadata: { name: client, namespace: ext }
spec:
  template:
    metadata: { labels: { role: client } }
    spec: { containers: [{ name: c }] }
---
apiVersion: apps/v1
kind: DaemonSet
metadata: { name: other, namespace: ext }
spec:
  template:
    metadata: { labels: { role: other } }
    spec: { containers: [{ name: c }] }
`;

function setup(policies: string) {
  const manifests = parseManifests(`${BASE}\n---\n${policies}`, 'test.yaml');
  const evaluator = new NetworkPolicyEvaluator(manifests);
  const pods = new Map(inventory(manifests).workloads.map((w) => [w.id, w]));
  const ep = (id: string): Endpoint => {
    if (id.startsWith('ip:')) return { id, kind: 'ip', ip: id.slice(3) };
    if (id.startsWith('fqdn:')) return { id, kind: 'fqdn', host: id.slice(5) };
    const e = pods.get(id);
    if (!e) throw new Error(`no pod ${id}`);
    return e;
  };
  const q = (src: string, dst: string, port: number, protocol: 'TCP' | 'UDP' = 'TCP'): Query => ({ source: ep(src), destination: ep(dst), port, protocol });
  const allowed = (src: string, dst: string, port: number, protocol: 'TCP' | 'UDP' = 'TCP') => evaluator.evaluate(q(src, dst, port, protocol)).allowed;
  const reasons = (src: string, dst: string, port: number, protocol: 'TCP' | 'UDP' = 'TCP') => evaluator.evaluate(q(src, dst, port, protocol)).reasons;
  return { manifests, evaluator, allowed, reasons };
}

const ingressPolicy = (name: string, podSelector: string, rules: string, extra = '') => `
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: ${name}, namespace: prod }
spec:
  podSelector: ${podSelector}
  ${extra}
  ingress: ${rules}
`;

describe('peers', () => {
  test('namespaceSelector AND podSelector in one element admits only pods matching both', () => {
    const { allowed } = setup(ingressPolicy('db-in', '{ matchLabels: { app: db } }', `
    - from:
        - namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: ext } }
          podSelector: { matchLabels: { role: client } }`));
    expect(allowed('ext/client', 'prod/db', 5432)).toBe(true);
    expect(allowed('ext/other', 'prod/db', 5432)).toBe(false);
    expect(allowed('prod/client', 'prod/db', 5432)).toBe(false);
  });

  test('the same selectors as two elements are OR and over-permit', () => {
    const { allowed } = setup(ingressPolicy('db-in', '{ matchLabels: { app: db } }', `
    - from:
        - namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: ext } }
        - podSelector: { matchLabels: { role: client } }`));
    expect(allowed('ext/client', 'prod/db', 5432)).toBe(true);
    expect(allowed('ext/other', 'prod/db', 5432)).toBe(true);
    expect(allowed('prod/client', 'prod/db', 5432)).toBe(true);
    expect(allowed('prod/web', 'prod/db', 5432)).toBe(false);
  });

  test('podSelector alone means the policy namespace; {} selectors match everything', () => {
    const pol = (peers: string) => setup(ingressPolicy('db-in', '{ matchLabels: { app: db } }', `[{ from: ${peers} }]`));
    let { allowed } = pol('[{ podSelector: { matchLabels: { role: client } } }]');
    expect(allowed('prod/client', 'prod/db', 5432)).toBe(true);
    expect(allowed('ext/client', 'prod/db', 5432)).toBe(false);
    ({ allowed } = pol('[{ podSelector: {} }]'));
    expect(allowed('prod/web', 'prod/db', 5432)).toBe(true);
    expect(allowed('ext/client', 'prod/db', 5432)).toBe(false);
    expect(allowed('ip:10.0.0.1', 'prod/db', 5432)).toBe(false);
    ({ allowed } = pol('[{ namespaceSelector: {} }]'));
    expect(allowed('ext/other', 'prod/db', 5432)).toBe(true);
    expect(allowed('prod/web', 'prod/db', 5432)).toBe(true);
    expect(allowed('ip:10.0.0.1', 'prod/db', 5432)).toBe(false);
    ({ allowed } = pol('[{ namespaceSelector: { matchLabels: { team: core } } }]'));
    expect(allowed('prod/web', 'prod/db', 5432)).toBe(true);
    expect(allowed('ext/client', 'prod/db', 5432)).toBe(false);
  });

  test('matchExpressions: In, NotIn, Exists, DoesNotExist, AND with matchLabels', () => {
    const pol = (expr: string) => setup(ingressPolicy('db-in', '{ matchLabels: { app: db } }', `[{ from: [{ namespaceSelector: {}, podSelector: ${expr} }] }]`));
    let { allowed } = pol('{ matchExpressions: [{ key: role, operator: In, values: [client, nobody] }] }');
    expect([allowed('ext/client', 'prod/db', 5432), allowed('ext/other', 'prod/db', 5432), allowed('prod/web', 'prod/db', 5432)]).toEqual([true, false, false]);
    ({ allowed } = pol('{ matchExpressions: [{ key: role, operator: NotIn, values: [client] }] }'));
    expect([allowed('ext/client', 'prod/db', 5432), allowed('ext/other', 'prod/db', 5432), allowed('prod/web', 'prod/db', 5432)]).toEqual([false, true, true]);
    ({ allowed } = pol('{ matchExpressions: [{ key: role, operator: Exists }] }'));
    expect([allowed('ext/client', 'prod/db', 5432), allowed('ext/other', 'prod/db', 5432), allowed('prod/web', 'prod/db', 5432)]).toEqual([true, true, false]);
    ({ allowed } = pol('{ matchExpressions: [{ key: role, operator: DoesNotExist }] }'));
    expect([allowed('ext/client', 'prod/db', 5432), allowed('ext/other', 'prod/db', 5432), allowed('prod/web', 'prod/db', 5432)]).toEqual([false, false, true]);
    ({ allowed } = pol('{ matchLabels: { role: other }, matchExpressions: [{ key: role, operator: In, values: [client] }] }'));
    expect([allowed('ext/client', 'prod/db', 5432), allowed('ext/other', 'prod/db', 5432)]).toEqual([false, false]);
  });

  test('ipBlock matches IPs in the CIDR minus except (IPv4 and IPv6), never pods', () => {
    const { allowed } = setup(ingressPolicy('db-in', '{ matchLabels: { app: db } }', `
    - from:
        - ipBlock: { cidr: 10.0.0.0/8, except: [10.1.0.0/16] }
        - ipBlock: { cidr: "2001:db8::/32", except: ["2001:db8:ff::/48"] }`));
    expect(allowed('ip:10.2.3.4', 'prod/db', 5432)).toBe(true);
    expect(allowed('ip:10.1.2.3', 'prod/db', 5432)).toBe(false);
    expect(allowed('ip:11.0.0.1', 'prod/db', 5432)).toBe(false);
    expect(allowed('ip:2001:db8:1::5', 'prod/db', 5432)).toBe(true);
    expect(allowed('ip:2001:db8:ff::5', 'prod/db', 5432)).toBe(false);
    expect(allowed('ip:2001:db9::1', 'prod/db', 5432)).toBe(false);
    expect(allowed('ext/client', 'prod/db', 5432)).toBe(false);
  });
});

describe('policyTypes and isolation', () => {
  test('without policyTypes, a policy with only ingress isolates ingress only', () => {
    const { allowed } = setup(ingressPolicy('db-in', '{ matchLabels: { app: db } }', '[]'));
    expect(allowed('prod/web', 'prod/db', 5432)).toBe(false); // ingress: [] admits nothing
    expect(allowed('prod/db', 'ip:8.8.8.8', 443)).toBe(true); // egress not isolated
  });

  test('without policyTypes, egress rules make it Ingress AND Egress', () => {
    const { allowed, reasons } = setup(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: db-out, namespace: prod }
spec:
  podSelector: { matchLabels: { app: db } }
  egress: [{ to: [{ ipBlock: { cidr: 8.8.8.0/24 } }] }]`);
    expect(allowed('prod/db', 'ip:8.8.8.8', 443)).toBe(true);
    expect(allowed('prod/db', 'ip:9.9.9.9', 443)).toBe(false);
    expect(allowed('prod/web', 'prod/db', 5432)).toBe(false); // Ingress defaulted in, with no rules
    expect(reasons('prod/web', 'prod/db', 5432)[0]).toBe('NetworkPolicy prod/db-out isolates prod/db for ingress and nothing allows it (prod/web -> prod/db on 5432/TCP)');
  });

  test('egress-only isolation leaves ingress open', () => {
    const { allowed } = setup(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: deny-egress, namespace: prod }
spec:
  podSelector: {}
  policyTypes: [Egress]`);
    expect(allowed('prod/web', 'prod/db', 5432)).toBe(false); // web may not send
    expect(allowed('ext/client', 'prod/db', 5432)).toBe(true); // db may receive
    expect(allowed('ip:1.2.3.4', 'prod/web', 1)).toBe(true);
    expect(allowed('prod/db', 'fqdn:api.example.com', 443)).toBe(false);
    expect(allowed('ext/client', 'fqdn:api.example.com', 443)).toBe(true);
  });

  test('an empty ingress rule {} admits every source on every port', () => {
    const { allowed } = setup(ingressPolicy('db-all', '{ matchLabels: { app: db } }', '[{}]', 'policyTypes: [Ingress, Egress]'));
    expect(allowed('ip:203.0.113.9', 'prod/db', 1)).toBe(true);
    expect(allowed('ext/other', 'prod/db', 65535, 'UDP')).toBe(true);
    expect(allowed('prod/db', 'prod/web', 6432)).toBe(false); // Egress in policyTypes, no egress rules
  });

  test('an empty egress rule {} admits every destination, host names included', () => {
    const { allowed } = setup(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: out, namespace: prod }
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{ ports: [{ port: 443 }] }]`);
    expect(allowed('prod/db', 'fqdn:api.example.com', 443)).toBe(true);
    expect(allowed('prod/db', 'ip:1.1.1.1', 443)).toBe(true);
    expect(allowed('prod/db', 'ip:1.1.1.1', 80)).toBe(false);
  });

  test('an unmanaged namespace is unaffected by policies elsewhere', () => {
    const { allowed, reasons } = setup(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: default-deny, namespace: prod }
spec: { podSelector: {}, policyTypes: [Ingress, Egress] }`);
    expect(allowed('ext/client', 'ext/other', 1)).toBe(true);
    expect(allowed('ip:1.2.3.4', 'ext/other', 80)).toBe(true);
    expect(allowed('ext/client', 'prod/db', 5432)).toBe(false);
    expect(reasons('ext/client', 'ext/other', 1)).toEqual(['no NetworkPolicy selects ext/client for egress', 'no NetworkPolicy selects ext/other for ingress']);
  });
});

describe('ports', () => {
  test('named ports resolve against the destination pod, by name and protocol', () => {
    const { allowed } = setup(ingressPolicy('pg', '{}', '[{ ports: [{ port: pg }, { port: dns, protocol: UDP }] }]'));
    expect(allowed('ext/client', 'prod/db', 5432)).toBe(true);
    expect(allowed('ext/client', 'prod/db', 5432, 'UDP')).toBe(false);
    expect(allowed('ext/client', 'prod/db', 6432)).toBe(false);
    expect(allowed('ext/client', 'prod/web', 6432)).toBe(true); // web names 6432 "pg"
    expect(allowed('ext/client', 'prod/web', 5432)).toBe(false);
    expect(allowed('ext/client', 'prod/db', 53, 'UDP')).toBe(true);
    expect(allowed('ext/client', 'prod/db', 53, 'TCP')).toBe(false);
    expect(allowed('ext/client', 'prod/client', 5432)).toBe(false); // no such port name
  });

  test('named egress ports resolve against the destination, and never match an IP', () => {
    const { allowed } = setup(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: web-out, namespace: prod }
spec:
  podSelector: { matchLabels: { app: web } }
  policyTypes: [Egress]
  egress: [{ ports: [{ port: pg }] }]`);
    expect(allowed('prod/web', 'prod/db', 5432)).toBe(true);
    expect(allowed('prod/web', 'prod/db', 6432)).toBe(false);
    expect(allowed('prod/web', 'ip:1.1.1.1', 5432)).toBe(false);
  });

  test('endPort ranges are inclusive; protocol defaults to TCP; protocol-only entries match every port', () => {
    const { allowed } = setup(ingressPolicy('range', '{}', '[{ ports: [{ port: 8000, endPort: 8010 }, { protocol: UDP }] }]'));
    expect([7999, 8000, 8005, 8010, 8011].map((p) => allowed('ext/client', 'prod/db', p))).toEqual([false, true, true, true, false]);
    expect(allowed('ext/client', 'prod/db', 8005, 'UDP')).toBe(true);
    expect(allowed('ext/client', 'prod/db', 1, 'UDP')).toBe(true);
    expect(allowed('ext/client', 'prod/db', 1, 'TCP')).toBe(false);
  });
});

describe('reasons', () => {
  test('name the objects that allowed or isolated', () => {
    const { reasons, allowed } = setup(`
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: default-deny, namespace: prod }
spec: { podSelector: {}, policyTypes: [Ingress, Egress] }
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: { name: web-egress, namespace: prod }
spec:
  podSelector: { matchLabels: { app: web } }
  policyTypes: [Egress]
  egress: [{ to: [{ podSelector: { matchLabels: { app: db } } }], ports: [{ port: 5432 }] }]`);
    expect(allowed('prod/web', 'prod/db', 5432)).toBe(false);
    expect(reasons('prod/web', 'prod/db', 5432)).toEqual([
      'NetworkPolicy prod/default-deny isolates prod/db for ingress and nothing allows it (prod/web -> prod/db on 5432/TCP)',
      'NetworkPolicy prod/web-egress allows egress (prod/web -> prod/db on 5432/TCP)',
    ]);
    expect(reasons('prod/web', 'prod/db', 9090)[0]).toBe('NetworkPolicy prod/default-deny and NetworkPolicy prod/web-egress isolate prod/web for egress and nothing allows it (prod/web -> prod/db on 9090/TCP)');
  });
});

describe('manifests', () => {
  test('parseManifests skips empty documents and keeps document indexes', () => {
    const m = parseManifests('---\n# nothing\n---\napiVersion: v1\nkind: Namespace\nmetadata: { name: a }\n---\n', 'x.yaml');
    expect(m).toHaveLength(1);
    expect(m[0]).toMatchObject({ file: 'x.yaml', index: 1, manifest: { kind: 'Namespace' } });
  });

  test('malformed YAML and incomplete objects name the file and document', () => {
    expect(() => parseManifests('apiVersion: v1\nkind: Namespace\nmetadata: { name: a }\n---\nkind: [\n', 'dist/x.yaml')).toThrow(/^dist\/x\.yaml document #1: malformed YAML/);
    expect(() => parseManifests('apiVersion: v1\nkind: Namespace\nmetadata: { name: a }\n---\napiVersion: v1\nkind: Pod\nmetadata: {}\n', 'dist/x.yaml')).toThrow(new ManifestError('dist/x.yaml document #1: Pod object has no metadata.name'));
    expect(() => parseManifests('- a\n- b\n', 'l.yaml')).toThrow(/l\.yaml document #0: expected a mapping/);
    expect(() => parseManifests('metadata: { name: a }\n', 'k.yaml')).toThrow(/k\.yaml document #0: object has no apiVersion, kind/);
  });

  test('loadManifests reads the yaml files of a folder in sorted order, as kubectl apply -f; its subfolders with recursive, as -R', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zt-verify-'));
    try {
      fs.mkdirSync(path.join(dir, 'b'));
      fs.writeFileSync(path.join(dir, 'b', 'one.yml'), 'apiVersion: v1\nkind: Namespace\nmetadata: { name: b1 }\n');
      fs.writeFileSync(path.join(dir, 'a.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata: { name: a1 }\n---\napiVersion: v1\nkind: Namespace\nmetadata: { name: a2 }\n');
      fs.writeFileSync(path.join(dir, 'notes.txt'), 'not yaml: [');
      const names = (m: ReturnType<typeof loadManifests>) => m.map((x) => `${path.relative(dir, x.file)}#${x.index}:${x.manifest.metadata.name}`);
      expect(names(loadManifests(dir))).toEqual(['a.yaml#0:a1', 'a.yaml#1:a2']);
      expect(names(loadManifests(dir, { recursive: true }))).toEqual(['a.yaml#0:a1', 'a.yaml#1:a2', 'b/one.yml#0:b1']);
      expect(loadManifests(path.join(dir, 'a.yaml'))).toHaveLength(2);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('inventory and universe', () => {
  test('inventory: namespaces with implicit name labels, workloads with ports and ServiceAccounts', () => {
    const inv = inventory(parseManifests(BASE, 'base.yaml'));
    expect(inv.namespaces.map((n) => [n.name, n.labels])).toEqual([
      ['ext', { 'kubernetes.io/metadata.name': 'ext' }],
      ['prod', { 'team': 'core', 'kubernetes.io/metadata.name': 'prod' }],
    ]);
    const db = inv.workloads.find((w) => w.id === 'prod/db')!;
    expect(db).toMatchObject({
      kind: 'pod', namespace: 'prod', workload: 'db', serviceAccount: 'db', labels: { app: 'db', tier: 'data' },
      namespaceLabels: { 'team': 'core', 'kubernetes.io/metadata.name': 'prod' },
    });
    expect(db.ports).toEqual([
      { name: 'pg', number: 5432, protocol: 'TCP' },
      { name: 'metrics', number: 9090, protocol: 'TCP' },
      { name: 'dns', number: 53, protocol: 'UDP' },
    ]);
    expect(inv.workloads.find((w) => w.id === 'prod/client')!.serviceAccount).toBe('default');
    expect(inv.workloads.map((w) => w.id)).toEqual(['ext/client', 'ext/other', 'prod/client', 'prod/db', 'prod/web']);
  });

  test('universe: probes for namespaces, selectors, ipBlocks; queries skip self', () => {
    const { manifests } = setup(ingressPolicy('db-in', '{ matchLabels: { app: db } }', `
    - from:
        - namespaceSelector: { matchLabels: { kubernetes.io/metadata.name: monitoring } }
          podSelector: { matchLabels: { app: prometheus } }
        - ipBlock: { cidr: 10.0.0.0/8, except: [10.1.0.0/16] }
      ports: [{ port: 8000, endPort: 8010 }]`));
    const u = probeUniverse(manifests, [{ id: 'fqdn:api.example.com', kind: 'fqdn', host: 'api.example.com' }]);
    const ids = u.endpoints.map((e) => e.id);
    expect(ids).toEqual(expect.arrayContaining([
      'monitoring/*', 'monitoring/{app=prometheus}', 'prod/{app=prometheus}', 'prod/zt-intruder', 'ext/zt-intruder',
      'zt-outsider/zt-outsider', 'kube-system/kube-dns', 'ip:10.0.0.1', 'ip:10.1.0.0', 'ip:192.0.2.1', 'fqdn:api.example.com',
    ]));
    expect(u.ports.map((p) => `${p.number}/${p.protocol}`)).toEqual(['1/TCP', '1/UDP', '7999/TCP', '8000/TCP', '8010/TCP', '8011/TCP']);
    const qs = queries(u);
    expect(qs.some((q) => q.source.id === q.destination.id)).toBe(false);
    expect(qs.filter((q) => q.destination.id === 'prod/db' && q.source.id === 'ip:10.0.0.1').map((q) => `${q.port}/${q.protocol}`))
      .toEqual(['1/TCP', '1/UDP', '53/UDP', '5432/TCP', '7999/TCP', '8000/TCP', '8010/TCP', '8011/TCP', '9090/TCP']);
  });
});
