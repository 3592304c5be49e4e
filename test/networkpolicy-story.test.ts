import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Testing } from 'cdk8s';
import { Mesh } from '../lib';
import { heroAndLilDeeBee } from '../apps/story';
import { expectValid } from './support/schema';
import { find, synthApp, storyYaml } from './support/synth';

function story(): any[] {
  const app = Testing.app();
  heroAndLilDeeBee(app, Mesh.networkPolicy());
  return synthApp(app);
}

describe('the story on plain NetworkPolicy', () => {
  const objects = story();
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy');

  test('every object validates strictly against its upstream schema', () => {
    expectValid(objects);
  });

  test('objects grow with workloads: default-deny, allow-dns, one ingress and one egress policy per workload at most', () => {
    expect(policies.map((p) => p.metadata.name).sort()).toEqual(['allow-dns', 'default-deny', 'hero-egress', 'hero-ingress', 'lil-deebee-ingress']);
    for (const p of policies) {
      expect(p.metadata.namespace).toBe('production');
      expect(p.metadata.labels['app.kubernetes.io/managed-by']).toBe('cdk8s-zero-trust');
      expect(p.metadata.annotations['zero-trust.cdk8s.io/allows']).toBeTruthy();
    }
  });

  test('default deny covers every pod in both directions', () => {
    expect(find(policies, 'NetworkPolicy', 'default-deny').spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
  });

  test('DNS stays open to kube-dns on UDP and TCP 53, as one peer element', () => {
    const dns = find(policies, 'NetworkPolicy', 'allow-dns').spec;
    expect(dns.policyTypes).toEqual(['Egress']);
    expect(dns.egress).toEqual([{
      to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } }, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
      ports: [{ port: 53, protocol: 'UDP' }, { port: 53 }],
    }]);
  });

  test('Lil DeeBee hears only from Hero, only on 5432', () => {
    const p = find(policies, 'NetworkPolicy', 'lil-deebee-ingress');
    expect(p.spec.podSelector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'lil-deebee' } });
    expect(p.spec.policyTypes).toEqual(['Ingress']);
    expect(p.spec.ingress).toEqual([{ from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'hero' } } }], ports: [{ port: 5432 }] }]);
    expect(p.metadata.annotations['zero-trust.cdk8s.io/allows']).toBe('production/hero -> production/lil-deebee on 5432/TCP');
  });

  test('Hero hears from ingress-nginx on 8080 and may reach Lil DeeBee and the partner range only', () => {
    expect(find(policies, 'NetworkPolicy', 'hero-ingress').spec.ingress).toEqual([{
      from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }],
      ports: [{ port: 8080 }],
    }]);
    const egress = find(policies, 'NetworkPolicy', 'hero-egress').spec;
    expect(egress.policyTypes).toEqual(['Egress']);
    expect(egress.egress).toEqual([
      { to: [{ ipBlock: { cidr: '203.0.113.0/24' } }], ports: [{ port: 443 }] },
      { to: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'lil-deebee' } } }], ports: [{ port: 5432 }] },
    ]);
  });

  test('workloads have their own identity and stable selectors without hashed labels', () => {
    const sa = find(objects, 'ServiceAccount', 'hero');
    expect(sa.automountServiceAccountToken).toBe(false);
    const sts = find(objects, 'StatefulSet', 'lil-deebee');
    expect(sts.spec.selector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'lil-deebee' } });
    expect(sts.spec.template.spec.serviceAccountName).toBe('lil-deebee');
    expect(JSON.stringify(objects)).not.toMatch(/cdk8s\.io\/metadata\.addr/);
    const svc = find(objects, 'Service', 'hero');
    expect(svc.spec.ports).toEqual([{ name: 'http-8080', port: 8080, targetPort: 8080, protocol: 'TCP', appProtocol: 'http' }]);
    const ns = find(objects, 'Namespace', 'production');
    expect(ns.metadata.namespace).toBeUndefined();
  });

  test('snapshot, for review', () => {
    expect(objects).toMatchSnapshot();
  });

  test('two synths give identical bytes', () => {
    expect(storyYaml(Mesh.networkPolicy())).toBe(storyYaml(Mesh.networkPolicy()));
  });
});

describe('committed dist/ is current', () => {
  test('npm run synth would not change dist/', () => {
    const { synthStory } = require('../apps/main') as typeof import('../apps/main');
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'zt-dist-'));
    synthStory(tmp);
    const dist = path.join(__dirname, '..', 'dist');
    const list = (root: string): string[] => fs.readdirSync(root, { recursive: true, withFileTypes: false } as any)
      .map(String).filter((f) => fs.statSync(path.join(root, f)).isFile()).sort();
    const fresh = list(tmp);
    expect(fresh.length).toBeGreaterThan(0);
    expect(list(dist)).toEqual(fresh);
    for (const f of fresh) {
      const committed = fs.readFileSync(path.join(dist, f), 'utf8');
      if (committed !== fs.readFileSync(path.join(tmp, f), 'utf8')) {
        throw new Error(`dist/${f} is stale: run "npm run synth" and commit dist/`);
      }
    }
    fs.rmSync(tmp, { recursive: true, force: true });
  });
});
