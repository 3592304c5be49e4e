import { Testing } from 'cdk8s';
import { KumaHttpRules, Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { expectValid, validateObject } from './support/schema';
import { expectSynthError, find, synthApp } from './support/synth';

function setup(props = {}) {
  const app = Testing.app();
  const chart = new ZeroTrustChart(app, 'prod', { namespace: 'production', mesh: Mesh.kuma(props) });
  const api = new SecureWorkload(chart, 'api', { image: 'x', ports: [Port.http(8080), Port.tcp(9090, 'admin')] });
  const web = new SecureWorkload(chart, 'web', { image: 'x', ports: [Port.http(80)] });
  return { app, api, web };
}

describe('Kuma refuses what it cannot enforce, naming workload, rule and backend', () => {
  test('HTTP rules are an error by default', () => {
    const { app, api, web } = setup();
    api.allowFrom(web, { ports: [Port.http(8080)], http: [{ methods: ['GET'] }] });
    expectSynthError(app, '[kuma] production/api.allowFrom(production/web)', 'cannot match HTTP methods or paths', 'KumaHttpRules.ENFORCE_AT_L4');
  });

  test('ENFORCE_AT_L4 downgrades them to the port, and says so', () => {
    const { app, api, web } = setup({ httpRules: KumaHttpRules.ENFORCE_AT_L4 });
    api.allowFrom(web, { ports: [Port.http(8080)], http: [{ methods: ['GET'] }] });
    const objs = synthApp(app);
    const mtp = find(objs, 'MeshTrafficPermission', 'api-http-8080');
    expect(mtp.spec.targetRef).toEqual({ kind: 'Dataplane', labels: { 'app.kubernetes.io/name': 'api' }, sectionName: 'http-8080' });
    expect(mtp.metadata.annotations['zero-trust.cdk8s.io/allows']).toContain('production/web -> production/api on 8080/TCP [GET any path] — enforced as the whole port (Weaken.HTTP_TO_PORT)');
    expect(find(objs, 'NetworkPolicy', 'api-ingress').spec.ingress[0].ports).toEqual([{ port: 8080 }]);
  });

  test('address-range sources cannot be authorized under STRICT mTLS', () => {
    const { app, api } = setup();
    api.allowFrom(Peer.ipBlock('10.0.0.0/8'));
    expectSynthError(app, '[kuma] production/api.allowFrom(cidr:10.0.0.0/8)', 'plaintext from outside the mesh', 'cannot name an address range');
  });

  test('ServiceAccount of an external client cannot be matched by tags', () => {
    const { app, api } = setup();
    api.allowFrom(Peer.workload({ namespace: 'monitoring', labels: { app: 'prometheus' }, serviceAccount: 'prometheus' }));
    expectSynthError(app, '[kuma] production/api.allowFrom(monitoring/{app=prometheus}@prometheus)', 'not by ServiceAccount');
  });

  test('egress to pods this app does not manage is refused (their sidecar authorizes)', () => {
    const { app, web } = setup();
    web.allowTo(Peer.namespace('monitoring'), { ports: [Port.tcp(9090)] });
    expectSynthError(app, '[kuma] production/web.allowTo(ns:monitoring)', 'not managed by this app');
  });

  test('host names need ports, TCP only', () => {
    const a = setup();
    a.web.allowTo(Peer.fqdn('api.example.com'));
    expectSynthError(a.app, '[kuma] production/web.allowTo(fqdn:api.example.com)', 'name the ports');
    const b = setup();
    b.web.allowTo(Peer.fqdn('api.example.com'), { ports: [Port.udp(53)] });
    expectSynthError(b.app, 'only on single TCP ports');
  });
});

describe('Kuma output for ports and hosts', () => {
  test('ports with different sources get one permission each, by inbound (container port) name', () => {
    const { app, api, web } = setup();
    api.allowFrom(web, { ports: [Port.http(8080)] });
    api.allowFrom(Peer.namespace('ops'), { ports: [Port.tcp(9090, 'admin')] });
    const objs = synthApp(app);
    // Per-port allows, after a Dataplane-wide Deny from Mesh that pins each workload's default (web: nobody may reach it).
    expect(objs.filter((o) => o.kind === 'MeshTrafficPermission').map((o) => o.metadata.name).sort()).toEqual(['api', 'api-admin', 'api-http-8080', 'web']);
    expect(find(objs, 'MeshTrafficPermission', 'api').spec).toEqual({
      targetRef: { kind: 'Dataplane', labels: { 'app.kubernetes.io/name': 'api' } },
      from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'Deny' } }],
    });
    expect(find(objs, 'MeshTrafficPermission', 'api-admin').spec).toEqual({
      targetRef: { kind: 'Dataplane', labels: { 'app.kubernetes.io/name': 'api' }, sectionName: 'admin' },
      from: [{ targetRef: { kind: 'MeshSubset', tags: { 'k8s.kuma.io/namespace': 'ops' } }, default: { action: 'Allow' } }],
    });
    const deploy = find(objs, 'Deployment', 'api');
    expect(deploy.spec.template.spec.containers[0].ports.map((p: any) => p.name)).toEqual(['http-8080', 'admin']);
    expectValid(objs);
  });

  test('host names become Domain matches (tls for TCP, http for HTTP); NetworkPolicy admits any address on those ports only', () => {
    const { app, web } = setup();
    web.allowTo(Peer.fqdn('api.example.com'), { ports: [Port.tcp(443)] });
    web.allowTo(Peer.fqdn('*.partner.example'), { ports: [Port.http(80)] });
    const objs = synthApp(app);
    expect(find(objs, 'MeshPassthrough', 'web-passthrough').spec.default).toEqual({
      passthroughMode: 'Matched',
      appendMatch: [
        { type: 'Domain', value: '*.partner.example', port: 80, protocol: 'http' },
        { type: 'Domain', value: 'api.example.com', port: 443, protocol: 'tls' },
      ],
    });
    expect(find(objs, 'NetworkPolicy', 'web-egress').spec.egress).toEqual([
      { to: [{ ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }], ports: [{ port: 443 }] },
      { to: [{ ipBlock: { cidr: '0.0.0.0/0' } }, { ipBlock: { cidr: '::/0' } }], ports: [{ port: 80 }] },
    ].sort((a, b) => a.ports[0].port - b.ports[0].port));
    expectValid(objs);
  });

  test('the schema check is strict: an unknown Mesh spec field and a wrong action are rejected', () => {
    const { app } = setup();
    const objs = synthApp(app);
    const mesh = find(objs, 'Mesh', 'default');
    expect(validateObject({ ...mesh, spec: { ...mesh.spec, mtls: { ...mesh.spec.mtls, strict: true } } }).length).toBeGreaterThan(0);
    const mtp = { apiVersion: 'kuma.io/v1alpha1', kind: 'MeshTrafficPermission', metadata: { name: 'x', namespace: 'production' }, spec: { targetRef: { kind: 'Dataplane' }, from: [{ targetRef: { kind: 'Mesh' }, default: { action: 'ALLOW' } }] } };
    expect(validateObject(mtp).length).toBeGreaterThan(0);
  });
});

describe('regression: a port range to an address beside host-name egress', () => {
  // Found by test/backends-property: host-name egress opens NetworkPolicy to every address on its
  // ports, and a range entry without a port let the range's address through on those ports too.
  test('the range is listed port by port, so the address is not reachable on the host-name port', () => {
    const { Testing } = require('cdk8s');
    const { Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } = require('../lib');
    const { parseManifests, readerFor, inventory } = require('../lib/verify');
    const app = Testing.app();
    const chart = new ZeroTrustChart(app, 'c', { namespace: 'shop', mesh: Mesh.kuma() });
    const w = new SecureWorkload(chart, 'cz', { image: 'x', ports: [Port.tcp(8080)] });
    w.allowTo(Peer.ipBlock('203.0.113.7/32'), { ports: [Port.tcpRange(5432, 5451)] });
    w.allowTo(Peer.fqdn('*.example.org'), { ports: [Port.tcp(53), Port.tcp(5432)] });
    const manifests = parseManifests(app.synthYaml(), 'x.yaml');
    const cz = inventory(manifests).workloads.find((e: any) => e.id === 'shop/cz');
    const reader = readerFor(manifests, { backend: 'kuma' });
    const ip = { id: 'ip:203.0.113.7', kind: 'ip' as const, ip: '203.0.113.7' };
    expect(reader.evaluate({ source: cz, destination: ip, port: 5433, protocol: 'TCP' }).allowed).toBe(true);
    expect(reader.evaluate({ source: cz, destination: ip, port: 53, protocol: 'TCP' }).allowed).toBe(false);
  });
});
