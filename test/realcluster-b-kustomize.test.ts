/**
 * Issue 18 (part B): the new objects (identity guard, metrics scraping, Istio egress gateway)
 * keep every output folder buildable by kustomize with several charts per app: unique ids, and
 * `kubectl kustomize` accepts the folder where kubectl is installed.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'cdk8s';
import * as YAML from 'yaml';
import { IstioEgress, IstioMode, Mesh, Peer, Port, Probe, SecureWorkload, ZeroTrustChart } from '../lib';

const kubectl = (() => {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

test.each([
  ['networkpolicy', () => Mesh.networkPolicy()], ['istio (egress gateway)', () => Mesh.istio({ egress: IstioEgress.GATEWAY })],
  ['istio-ambient', () => Mesh.istio({ mode: IstioMode.AMBIENT })], ['linkerd', () => Mesh.linkerd()], ['cilium', () => Mesh.cilium()],
  ['kuma', () => Mesh.kuma()], ['nsm', () => Mesh.networkServiceMesh({ allowPortsOverConnection: true })],
] as const)('%s: guard, scraping and egress in three charts build as one folder', (id, mesh) => {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'zt-kustomize-b-'));
  try {
    const app = new App({ outdir });
    const m = mesh();
    const charts = ['shop', 'payments', 'data'].map((ns) => new ZeroTrustChart(app, ns, { namespace: ns, mesh: m, identityGuard: true, clusterNetworks: ['10.244.0.0/16', '10.96.0.0/12'] }));
    const [web, ledger, db] = charts.map((c, i) => new SecureWorkload(c, ['web', 'ledger', 'db'][i], { image: 'x', ports: [Port.http(8080), Port.http(9090, 'metrics')], readiness: Probe.fromHttpGet('/ready') }));
    ledger.allowFrom(web, { ports: [Port.http(8080)] });
    db.allowFrom(ledger, { ports: [Port.http(8080)] });
    if (id.startsWith('istio (')) web.allowTo(Peer.fqdn('api.stripe.com'), { ports: [Port.tcp(443)] });
    const scraper = Peer.workload({ namespace: 'monitoring', labels: { app: 'prometheus' }, ...(id === 'linkerd' || id === 'istio-ambient' ? { serviceAccount: 'prometheus' } : {}) });
    // Istio sidecar: the proxy's 15020 serves the app's metrics too (merging); its app port would need the scraper's identity.
    for (const c of charts) c.allowMetricsScraping(scraper, id.startsWith('istio (') ? {} : { appPort: Port.http(9090, 'metrics') });
    app.synth();
    const files = fs.readdirSync(outdir).filter((f) => f.endsWith('.yaml')).sort();
    const objects = files.flatMap((f) => YAML.parseAllDocuments(fs.readFileSync(path.join(outdir, f), 'utf8')).map((d) => d.toJSON())).filter((o: any) => o);
    const ids = objects.map((o: any) => `${o.apiVersion.split('/').slice(0, -1).join('/')}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    expect(ids.filter((x, i) => ids.indexOf(x) !== i)).toEqual([]);
    expect(objects.filter((o: any) => o.kind === 'ValidatingAdmissionPolicyBinding').length).toBeGreaterThanOrEqual(3);
    if (kubectl) {
      fs.writeFileSync(path.join(outdir, 'kustomization.yaml'), `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n${files.map((f) => `  - ${f}`).join('\n')}\n`);
      const built = execFileSync('kubectl', ['kustomize', outdir], { encoding: 'utf8' });
      expect(YAML.parseAllDocuments(built).length).toBe(ids.length);
    }
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
});
