import { Testing } from 'cdk8s';
import * as plus from 'cdk8s-plus-27';
import { Mesh, Peer, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { ZeroTrustError } from '../lib/intent/errors';
import { IntentRegistry } from '../lib/intent/registry';
import { expectError } from './support/errors';
import { expectSynthError, find, synthApp } from './support/synth';

function chart(namespace = 'production') {
  const app = Testing.app();
  const c = new ZeroTrustChart(app, namespace, { namespace, mesh: Mesh.networkPolicy() });
  return { app, c };
}

describe('names and labels are checked when declared', () => {
  test('invalid namespace', () => {
    const app = Testing.app();
    expectError(() => new ZeroTrustChart(app, 'x', { namespace: 'Prod_1', mesh: Mesh.networkPolicy() }), 'INVALID_NAME', /namespace "Prod_1" is not a valid DNS-1123 label/);
  });
  test('invalid workload name', () => {
    const { c } = chart();
    expect(() => new SecureWorkload(c, 'Hero!', { image: 'x' })).toThrow(ZeroTrustError);
    expectError(() => new SecureWorkload(c, 'a', { image: 'x', name: '-hero' }), 'INVALID_NAME', /"-hero" is not a valid DNS-1123 label/);
  });
  test('invalid label key and value', () => {
    const { c } = chart();
    expectError(() => new SecureWorkload(c, 'a', { image: 'x', podLabels: { 'bad key': 'v' } }), 'INVALID_LABEL', /label key "bad key"/);
    expectError(() => new SecureWorkload(c, 'b', { image: 'x', podLabels: { tier: '-nope' } }), 'INVALID_LABEL', /label value "-nope"/);
    expectError(() => Peer.workload({ namespace: 'other', labels: { 'example.com/x': 'a'.repeat(64) } }), 'INVALID_LABEL', /label value/);
  });
  test('podLabels cannot override the selector label', () => {
    const { c } = chart();
    expectError(() => new SecureWorkload(c, 'a', { image: 'x', podLabels: { 'app.kubernetes.io/name': 'other' } }), 'RESERVED_POD_METADATA', /must not set app.kubernetes.io\/name/);
  });
  test('ports outside 1-65535 and bad port names', () => {
    expectError(() => Port.tcp(0), 'INVALID_PORT', /port 0 is outside 1-65535/);
    expectError(() => Port.tcp(65536), 'INVALID_PORT', /outside 1-65535/);
    expectError(() => Port.http(80.5), 'INVALID_PORT', /outside/);
    expectError(() => Port.tcp(80, 'this-name-is-too-long'), 'INVALID_PORT', /port name/);
    expect(Port.grpc(50051).name).toBe('grpc-50051');
    expect(Port.udp(53).protocol).toBe('UDP');
  });
  test('duplicate port names and numbers', () => {
    const { c } = chart();
    expectError(() => new SecureWorkload(c, 'a', { image: 'x', ports: [Port.tcp(1, 'db'), Port.tcp(2, 'db')] }), 'DUPLICATE_PORT', /port name "db" is declared twice/);
    expectError(() => new SecureWorkload(c, 'b', { image: 'x', ports: [Port.tcp(1, 'one'), Port.http(1, 'two')] }), 'DUPLICATE_PORT', /port 1\/TCP is declared twice/);
    expect(() => new SecureWorkload(c, 'c', { image: 'x', ports: [Port.tcp(53), Port.udp(53)] })).not.toThrow();
  });
  test('duplicate workload names in a namespace', () => {
    const { c } = chart();
    new SecureWorkload(c, 'hero', { image: 'x' });
    const { Construct } = require('constructs');
    const nested = new Construct(c, 'nested');
    expectError(() => new SecureWorkload(nested, 'hero', { image: 'x' }), 'DUPLICATE_WORKLOAD', /workload "hero" is declared twice in namespace "production"/);
  });
  test('a chart lists the workloads declared in it, nested ones too, and none that failed', () => {
    const { c } = chart();
    const { Construct } = require('constructs');
    const web = new SecureWorkload(c, 'web', { image: 'x' });
    const db = new SecureWorkload(new Construct(c, 'data'), 'db', { image: 'x' });
    expect(() => new SecureWorkload(c, 'bad', { image: 'x', ports: [Port.tcp(1, 'p'), Port.tcp(2, 'p')] })).toThrow();
    expect(c.workloads).toEqual([web, db]);
  });
  test('two charts cannot share a namespace', () => {
    const app = Testing.app();
    new ZeroTrustChart(app, 'a', { namespace: 'shop', mesh: Mesh.networkPolicy() });
    expectError(() => new ZeroTrustChart(app, 'b', { namespace: 'shop', mesh: Mesh.networkPolicy() }), 'DUPLICATE_NAMESPACE', /declared by two ZeroTrustCharts/);
  });
  test('bad peers', () => {
    expectError(() => Peer.ipBlock('10.0.0.0/33'), 'INVALID_CIDR', /prefix longer than 32/);
    expectError(() => Peer.ipBlock('10.0.0/8'), 'INVALID_CIDR', /invalid address/);
    expectError(() => Peer.ipBlock('10.0.0.0/8', ['192.168.0.0/16']), 'INVALID_IP_BLOCK', /must be a smaller range inside/);
    expectError(() => Peer.fqdn('localhost'), 'INVALID_FQDN', /at least one dot/);
    expectError(() => Peer.fqdn('API.example.com'), 'INVALID_FQDN', /lowercase/);
    expectError(() => Peer.workload({ namespace: 'x', labels: {} }), 'EMPTY_SELECTOR', /at least one label/);
    expect(Peer.ipBlock('10.1.2.3/8').toPeerSpec().cidr).toBe('10.0.0.0/8');
    expect(Peer.ipBlock('2001:db8::1/32').toPeerSpec().cidr).toBe('2001:db8::/32');
  });
  test('adopted workloads must not run as the default ServiceAccount', () => {
    const { c } = chart();
    const d = new plus.Deployment(c, 'legacy', { containers: [{ image: 'x', portNumber: 8080 }] });
    expectError(() => new SecureWorkload(c, 'legacy-secure', { workload: d }), 'DEFAULT_SERVICE_ACCOUNT', /runs as the "default" ServiceAccount/);
    expectError(() => new SecureWorkload(c, 'named-default', { image: 'x', serviceAccountName: 'default' }), 'DEFAULT_SERVICE_ACCOUNT', /"default" ServiceAccount/);
    expectError(() => new SecureWorkload(c, 'neither', {}), 'INVALID_ARGUMENT', /exactly one of "image"/);
  });
});

describe('rules are checked at synth, naming workload, rule and backend', () => {
  test('a port the destination does not declare', () => {
    const { app, c } = chart();
    const hero = new SecureWorkload(c, 'hero', { image: 'x', ports: [Port.http(8080)] });
    const db = new SecureWorkload(c, 'db', { image: 'x', ports: [Port.tcp(5432)] });
    db.allowFrom(hero, { ports: [Port.tcp(3306)] });
    expectSynthError(app, '[networkpolicy]', 'production/db.allowFrom(production/hero)', 'port 3306/TCP is not declared by production/db');
  });
  test('a destination without ports', () => {
    const { app, c } = chart();
    const a = new SecureWorkload(c, 'a', { image: 'x' });
    const b = new SecureWorkload(c, 'b', { image: 'x' });
    a.allowTo(b);
    expectSynthError(app, 'production/a.allowTo(production/b)', 'declares no ports');
  });
  test('HTTP rules on a TCP port', () => {
    const { app, c } = chart();
    const a = new SecureWorkload(c, 'a', { image: 'x' });
    const db = new SecureWorkload(c, 'db', { image: 'x', ports: [Port.tcp(5432)] });
    db.allowFrom(a, { http: [{ methods: ['GET'] }] });
    expectSynthError(app, 'production/db.allowFrom(production/a)', 'HTTP rules apply only to HTTP, HTTP/2 or gRPC ports', 'tcp-5432');
  });
  test('HTTP rules are not enforceable by NetworkPolicy', () => {
    const { app, c } = chart();
    const a = new SecureWorkload(c, 'a', { image: 'x' });
    const web = new SecureWorkload(c, 'web', { image: 'x', ports: [Port.http(8080)] });
    web.allowFrom(a, { http: [{ methods: ['GET'], paths: ['/api/*'] }] });
    expectSynthError(app, '[networkpolicy]', 'production/web.allowFrom(production/a)', 'NetworkPolicy cannot match HTTP methods or paths');
  });
  test('bad HTTP methods and paths', () => {
    const { app, c } = chart();
    const a = new SecureWorkload(c, 'a', { image: 'x' });
    const web = new SecureWorkload(c, 'web', { image: 'x', ports: [Port.http(8080)] });
    web.allowFrom(a, { http: [{ methods: ['get'] }] });
    web.allowFrom(a, { http: [{ paths: ['/a*b'] }] });
    expectSynthError(app, 'HTTP method "get"', 'HTTP path "/a*b"');
  });
  test('FQDN egress is not expressible as NetworkPolicy', () => {
    const { app, c } = chart();
    const a = new SecureWorkload(c, 'a', { image: 'x' });
    a.allowTo(Peer.fqdn('api.example.com'), { ports: [Port.tcp(443)] });
    expectSynthError(app, '[networkpolicy]', 'production/a.allowTo(fqdn:api.example.com)', 'cannot match host names');
  });
  test('an FQDN cannot be a source', () => {
    const { app, c } = chart();
    const a = new SecureWorkload(c, 'a', { image: 'x', ports: [Port.tcp(1)] });
    a.allowFrom(Peer.fqdn('api.example.com'));
    expectSynthError(app, 'production/a.allowFrom(fqdn:api.example.com)', 'cannot be a source');
  });
  test('empty peers and empty port lists', () => {
    const { app, c } = chart();
    const a = new SecureWorkload(c, 'a', { image: 'x', ports: [Port.tcp(1)] });
    // A missing peer is a shape error, refused where the rule is declared.
    expect(() => a.allowFrom(undefined as any)).toThrow(expect.objectContaining({ code: 'INVALID_PEER', workload: 'production/a' }));
    a.allowTo(Peer.ipBlock('10.0.0.0/8'), { ports: [] });
    expectSynthError(app, '"ports" is empty');
  });
  test('flows between charts of different meshes', () => {
    const app = Testing.app();
    const a = new ZeroTrustChart(app, 'a', { namespace: 'a', mesh: Mesh.networkPolicy() });
    const b = new ZeroTrustChart(app, 'b', { namespace: 'b', mesh: Mesh.cilium() });
    const x = new SecureWorkload(a, 'x', { image: 'x', ports: [Port.tcp(1)] });
    const y = new SecureWorkload(b, 'y', { image: 'y' });
    x.allowFrom(y);
    expectSynthError(app, 'a/x.allowFrom(b/y)', 'flows between charts of different meshes');
  });
  test('peers that point into a namespace the app manages', () => {
    const app = Testing.app();
    const a = new ZeroTrustChart(app, 'a', { namespace: 'a', mesh: Mesh.networkPolicy() });
    new ZeroTrustChart(app, 'b', { namespace: 'b', mesh: Mesh.networkPolicy() });
    const x = new SecureWorkload(a, 'x', { image: 'x', ports: [Port.tcp(1)] });
    x.allowFrom(Peer.namespace('b'));
    expectSynthError(app, 'a/x.allowFrom(ns:b)', 'namespace "b" is managed by this app');
  });
  test('intent cannot change after synth', () => {
    const { app, c } = chart();
    const a = new SecureWorkload(c, 'a', { image: 'x', ports: [Port.tcp(1)] });
    synthApp(app);
    expectError(() => a.allowFrom(Peer.namespace('x')), 'APP_ALREADY_SYNTHESIZED', /already synthesized/);
  });
});

describe('duplicate rules are merged, not duplicated', () => {
  test('the same flow declared from both sides and twice is one flow and one rule', () => {
    const { app, c } = chart();
    const hero = new SecureWorkload(c, 'hero', { image: 'x', ports: [Port.http(8080)] });
    const db = new SecureWorkload(c, 'db', { image: 'x', ports: [Port.tcp(5432)] });
    db.allowFrom(hero);
    db.allowFrom(hero, { ports: [Port.tcp(5432)] });
    hero.allowTo(db);
    const objects = synthApp(app);
    expect(IntentRegistry.of(app).resolve().model.flows).toHaveLength(1);
    const ingress = find(objects, 'NetworkPolicy', 'db-ingress');
    expect(ingress.spec.ingress).toEqual([
      { from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'hero' } } }], ports: [{ port: 5432 }] },
    ]);
  });
  test('sources with the same ports share one rule; different ports get their own', () => {
    const { app, c } = chart();
    const db = new SecureWorkload(c, 'db', { image: 'x', ports: [Port.tcp(5432), Port.tcp(9187, 'metrics')] });
    const a = new SecureWorkload(c, 'a', { image: 'x' });
    const b = new SecureWorkload(c, 'b', { image: 'x' });
    db.allowFrom(b, { ports: [Port.tcp(5432)] });
    db.allowFrom(a, { ports: [Port.tcp(5432)] });
    db.allowFrom(Peer.namespace('monitoring'), { ports: [Port.tcp(9187)] });
    const ingress = find(synthApp(app), 'NetworkPolicy', 'db-ingress');
    expect(ingress.spec.ingress).toHaveLength(2);
    expect(ingress.spec.ingress[0]).toEqual({
      from: [{ podSelector: { matchExpressions: [{ key: 'app.kubernetes.io/name', operator: 'In', values: ['a', 'b'] }] } }],
      ports: [{ port: 5432 }],
    });
    expect(ingress.spec.ingress[1]).toEqual({
      from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
      ports: [{ port: 9187 }],
    });
  });
});
