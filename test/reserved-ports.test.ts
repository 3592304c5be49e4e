/**
 * Ports a mesh's proxy takes in every pod cannot be app ports: a workload declaring one is refused
 * at synth (PORT_RESERVED_BY_MESH) naming workload, port and backend, under ENFORCE and AUDIT;
 * backends without an in-pod proxy accept the same port.
 */
import { App } from 'cdk8s';
import { Enforcement, IstioMode, Mesh, Port, SecureWorkload, ZeroTrustChart } from '../lib';
import { ISTIO_AMBIENT_RESERVED, ISTIO_RESERVED, KUMA_RESERVED, LINKERD_RESERVED } from '../lib/meshes/reserved';
import { ZeroTrustError } from '../lib/intent/errors';
import { expectSynthError, synthApp } from './support/synth';

function appWith(mesh: Mesh, port: Port, enforcement = Enforcement.ENFORCE): App {
  const app = new App();
  const c = new ZeroTrustChart(app, 'p', { namespace: 'p', mesh, ...(enforcement === Enforcement.AUDIT ? { enforcement } : {}) });
  const web = new SecureWorkload(c, 'web', { image: 'x', ports: [Port.http(8080), port] });
  web.allowFrom(new SecureWorkload(c, 'client', { image: 'x', ports: [Port.http(8081)] }));
  return app;
}

function problemsOf(error: ZeroTrustError): ZeroTrustError[] {
  return error.problems.length > 0 ? [...error.problems] : [error];
}

const CASES: Array<[string, () => Mesh, readonly number[], Enforcement[]]> = [
  ['istio', () => Mesh.istio(), [15000, 15001, 15004, 15006, 15008, 15009, 15020, 15021, 15053, 15090], [Enforcement.ENFORCE, Enforcement.AUDIT]],
  ['istio-ambient', () => Mesh.istio({ mode: IstioMode.AMBIENT }), [15001, 15006, 15008, 15053], [Enforcement.ENFORCE]],
  ['linkerd', () => Mesh.linkerd(), [4140, 4143, 4190, 4191], [Enforcement.ENFORCE, Enforcement.AUDIT]],
  ['kuma', () => Mesh.kuma(), [5670, 9001, 9901, 15001, 15006, 15053], [Enforcement.ENFORCE, Enforcement.AUDIT]],
];

describe.each(CASES)('%s', (backend, mesh, ports, stages) => {
  test.each(ports.flatMap((p) => stages.map((s) => [p, s] as const)))('port %d (%s) is refused', (port, stage) => {
    const error = expectSynthError(appWith(mesh(), Port.tcp(port), stage), 'p/web', `port ${port}`, `${backend} backend`);
    const problem = problemsOf(error).find((p) => p.code === 'PORT_RESERVED_BY_MESH')!;
    expect(problem).toBeDefined();
    expect(problem.workload).toBe('p/web');
    expect(problem.backend).toBe(backend);
  });

  test('a named HTTP port on a reserved number is refused too', () => {
    const error = expectSynthError(appWith(mesh(), Port.http(ports[0], 'metrics')), 'p/web', `port ${ports[0]} (declared as metrics)`);
    expect(problemsOf(error).map((p) => p.code)).toContain('PORT_RESERVED_BY_MESH');
  });
});

test('the lists are the ones the bindings carry', () => {
  expect(ISTIO_RESERVED.ports).toEqual(CASES[0][2]);
  expect(ISTIO_AMBIENT_RESERVED.ports).toEqual(CASES[1][2]);
  expect(LINKERD_RESERVED.ports).toEqual(CASES[2][2]);
  expect(KUMA_RESERVED.ports).toEqual(CASES[3][2]);
});

test.each([['networkpolicy', () => Mesh.networkPolicy()], ['cilium', () => Mesh.cilium()]])('%s has no in-pod proxy: 4191 and 15020 are app ports', (_id, mesh) => {
  for (const port of [4191, 15020]) {
    const objects = synthApp(appWith(mesh(), Port.tcp(port)));
    expect(objects.some((o) => JSON.stringify(o).includes(`"containerPort":${port}`))).toBe(true);
  }
});
