/**
 * `workload:` adopts the Deployment, StatefulSet and DaemonSet of every cdk8s-plus line from 27 to
 * 33 as they are: this file has no cast, and `npm test` type-checks it with tsc before jest runs.
 * Each line is a devDependency of its own (cdk8s-plus-27 ... cdk8s-plus-33).
 */
import { App, Chart, Testing } from 'cdk8s';
import * as plus27 from 'cdk8s-plus-27';
import * as plus28 from 'cdk8s-plus-28';
import * as plus29 from 'cdk8s-plus-29';
import * as plus30 from 'cdk8s-plus-30';
import * as plus31 from 'cdk8s-plus-31';
import * as plus32 from 'cdk8s-plus-32';
import * as plus33 from 'cdk8s-plus-33';
import { Mesh, Peer, SecureWorkload, ZeroTrustChart } from '../lib';
import { find, synthApp } from './support/synth';

// One container each; the port names make web HTTP and the others TCP.
const WEB = { name: 'web', image: 'example/web:1', ports: [{ number: 8080, name: 'http' }] };
const DB = { name: 'db', image: 'postgres:16', ports: [{ number: 5432, name: 'postgres' }] };
const AGENT = { name: 'agent', image: 'example/agent:1', ports: [{ number: 9100, name: 'metrics' }] };

interface Adopted { web: SecureWorkload; db: SecureWorkload; agent: SecureWorkload }

/** Per line: a Deployment, a StatefulSet and a DaemonSet of that line, each with its own ServiceAccount, adopted. */
const LINES: { [line: string]: (c: Chart) => Adopted } = {
  'cdk8s-plus-27': (c) => {
    const sa = (name: string) => new plus27.ServiceAccount(c, `${name}-sa`, { metadata: { name } });
    return {
      web: new SecureWorkload(c, 'web', { workload: new plus27.Deployment(c, 'web-w', { serviceAccount: sa('web'), containers: [WEB] }) }),
      db: new SecureWorkload(c, 'db', { workload: new plus27.StatefulSet(c, 'db-w', { serviceAccount: sa('db'), containers: [DB] }) }),
      agent: new SecureWorkload(c, 'agent', { workload: new plus27.DaemonSet(c, 'agent-w', { serviceAccount: sa('agent'), containers: [AGENT] }) }),
    };
  },
  'cdk8s-plus-28': (c) => {
    const sa = (name: string) => new plus28.ServiceAccount(c, `${name}-sa`, { metadata: { name } });
    return {
      web: new SecureWorkload(c, 'web', { workload: new plus28.Deployment(c, 'web-w', { serviceAccount: sa('web'), containers: [WEB] }) }),
      db: new SecureWorkload(c, 'db', { workload: new plus28.StatefulSet(c, 'db-w', { serviceAccount: sa('db'), containers: [DB] }) }),
      agent: new SecureWorkload(c, 'agent', { workload: new plus28.DaemonSet(c, 'agent-w', { serviceAccount: sa('agent'), containers: [AGENT] }) }),
    };
  },
  'cdk8s-plus-29': (c) => {
    const sa = (name: string) => new plus29.ServiceAccount(c, `${name}-sa`, { metadata: { name } });
    return {
      web: new SecureWorkload(c, 'web', { workload: new plus29.Deployment(c, 'web-w', { serviceAccount: sa('web'), containers: [WEB] }) }),
      db: new SecureWorkload(c, 'db', { workload: new plus29.StatefulSet(c, 'db-w', { serviceAccount: sa('db'), containers: [DB] }) }),
      agent: new SecureWorkload(c, 'agent', { workload: new plus29.DaemonSet(c, 'agent-w', { serviceAccount: sa('agent'), containers: [AGENT] }) }),
    };
  },
  'cdk8s-plus-30': (c) => {
    const sa = (name: string) => new plus30.ServiceAccount(c, `${name}-sa`, { metadata: { name } });
    return {
      web: new SecureWorkload(c, 'web', { workload: new plus30.Deployment(c, 'web-w', { serviceAccount: sa('web'), containers: [WEB] }) }),
      db: new SecureWorkload(c, 'db', { workload: new plus30.StatefulSet(c, 'db-w', { serviceAccount: sa('db'), containers: [DB] }) }),
      agent: new SecureWorkload(c, 'agent', { workload: new plus30.DaemonSet(c, 'agent-w', { serviceAccount: sa('agent'), containers: [AGENT] }) }),
    };
  },
  'cdk8s-plus-31': (c) => {
    const sa = (name: string) => new plus31.ServiceAccount(c, `${name}-sa`, { metadata: { name } });
    return {
      web: new SecureWorkload(c, 'web', { workload: new plus31.Deployment(c, 'web-w', { serviceAccount: sa('web'), containers: [WEB] }) }),
      db: new SecureWorkload(c, 'db', { workload: new plus31.StatefulSet(c, 'db-w', { serviceAccount: sa('db'), containers: [DB] }) }),
      agent: new SecureWorkload(c, 'agent', { workload: new plus31.DaemonSet(c, 'agent-w', { serviceAccount: sa('agent'), containers: [AGENT] }) }),
    };
  },
  'cdk8s-plus-32': (c) => {
    const sa = (name: string) => new plus32.ServiceAccount(c, `${name}-sa`, { metadata: { name } });
    return {
      web: new SecureWorkload(c, 'web', { workload: new plus32.Deployment(c, 'web-w', { serviceAccount: sa('web'), containers: [WEB] }) }),
      db: new SecureWorkload(c, 'db', { workload: new plus32.StatefulSet(c, 'db-w', { serviceAccount: sa('db'), containers: [DB] }) }),
      agent: new SecureWorkload(c, 'agent', { workload: new plus32.DaemonSet(c, 'agent-w', { serviceAccount: sa('agent'), containers: [AGENT] }) }),
    };
  },
  'cdk8s-plus-33': (c) => {
    const sa = (name: string) => new plus33.ServiceAccount(c, `${name}-sa`, { metadata: { name } });
    return {
      web: new SecureWorkload(c, 'web', { workload: new plus33.Deployment(c, 'web-w', { serviceAccount: sa('web'), containers: [WEB] }) }),
      db: new SecureWorkload(c, 'db', { workload: new plus33.StatefulSet(c, 'db-w', { serviceAccount: sa('db'), containers: [DB] }) }),
      agent: new SecureWorkload(c, 'agent', { workload: new plus33.DaemonSet(c, 'agent-w', { serviceAccount: sa('agent'), containers: [AGENT] }) }),
    };
  },
};

const KINDS = { web: 'Deployment', db: 'StatefulSet', agent: 'DaemonSet' } as const;

/** The one adopted object of `kind`: its name is cdk8s-plus's, not the SecureWorkload's. */
function workloadObject(objects: any[], kind: string): any {
  const hits = objects.filter((o) => o.kind === kind);
  expect(hits).toHaveLength(1);
  return hits[0];
}

function build(line: string, mesh: Mesh): { app: App; adopted: Adopted } {
  const app = Testing.app();
  const chart = new ZeroTrustChart(app, 'shop', { namespace: 'shop', mesh });
  const adopted = LINES[line](chart);
  adopted.db.allowFrom(adopted.web);
  adopted.web.allowFrom(Peer.namespace('ingress-nginx'));
  adopted.agent.allowTo(adopted.web);
  return { app, adopted };
}

test('every line from cdk8s-plus-27 to cdk8s-plus-33 is tested', () => {
  expect(Object.keys(LINES)).toEqual([27, 28, 29, 30, 31, 32, 33].map((n) => `cdk8s-plus-${n}`));
});

describe.each(Object.keys(LINES))('%s', (line) => {
  test('Deployment, StatefulSet and DaemonSet are adopted: identity and ports from the object, selector label on the pods, NetworkPolicies', () => {
    const { app, adopted } = build(line, Mesh.networkPolicy());
    expect(adopted.web.serviceAccountName).toBe('web');
    expect(adopted.web.ports.map((p) => `${p.name} ${p.number}/${p.protocol} ${p.kind}`)).toEqual(['http 8080/TCP http']);
    expect(adopted.db.ports.map((p) => `${p.name} ${p.number} ${p.kind}`)).toEqual(['postgres 5432 tcp']);
    expect(adopted.agent.ports.map((p) => `${p.name} ${p.number} ${p.kind}`)).toEqual(['metrics 9100 tcp']);

    const objects = synthApp(app);
    for (const [name, kind] of Object.entries(KINDS)) {
      const pod = workloadObject(objects, kind).spec.template;
      expect(pod.metadata.labels['app.kubernetes.io/name']).toBe(name);
      expect(pod.spec.serviceAccountName).toBe(name);
      // Adopted: no ServiceAccount of the library's own, the app's Service for the ports.
      expect(objects.filter((o) => o.kind === 'ServiceAccount' && o.metadata.name === name)).toHaveLength(1);
      expect(find(objects, 'Service', name, 'shop').spec.selector).toEqual({ 'app.kubernetes.io/name': name });
    }

    const ingress = find(objects, 'NetworkPolicy', 'db-ingress', 'shop').spec;
    expect(ingress.podSelector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'db' } });
    expect(ingress.ingress).toEqual([{
      from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'web' } } }],
      ports: [{ port: 5432 }],
    }]);
    const webIngress = find(objects, 'NetworkPolicy', 'web-ingress', 'shop').spec;
    expect(JSON.stringify(webIngress.ingress)).toContain('"app.kubernetes.io/name":"agent"');
    expect(JSON.stringify(webIngress.ingress)).toContain('"kubernetes.io/metadata.name":"ingress-nginx"');
    const agentEgress = find(objects, 'NetworkPolicy', 'agent-egress', 'shop').spec;
    expect(JSON.stringify(agentEgress.egress)).toContain('"app.kubernetes.io/name":"web"');
  });

  test('a mesh that patches pods reaches the pod template of each kind (labels, annotations, containers, volumes)', () => {
    const { app } = build(line, Mesh.networkServiceMesh());
    const objects = synthApp(app);
    for (const [name, kind] of Object.entries(KINDS)) {
      const pod = workloadObject(objects, kind).spec.template;
      expect(pod.metadata.labels['app.kubernetes.io/name']).toBe(name);
      const containers = pod.spec.containers.map((c: any) => c.name);
      expect(containers[0]).toBe(name);
      // Destinations get the NSM endpoint container and its volumes; clients an annotation.
      if (name !== 'agent') {
        expect(containers).toContain('nse');
        expect(pod.spec.volumes.map((v: any) => v.name)).toEqual(expect.arrayContaining(['nsm-socket']));
      }
      if (name !== 'db') expect(Object.keys(pod.metadata.annotations ?? {})).toContain('networkservicemesh.io');
    }
  });
});
