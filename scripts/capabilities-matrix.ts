/**
 * The capability matrix of the README, asked of the code: for each intent feature a tiny app is
 * synthesized on every backend, first with nothing weakened, then (when every refusal names a
 * `Weaken` member) with exactly the members its refusals named. A cell says what happened:
 * enforced, weakened with the members, or refused with the codes. mTLS is read back from the
 * synthesized YAML by the backend's reader (the flows report's mTLS column), so no cell is
 * written by hand; only where encryption comes from something the reader does not model
 * (NSM's WireGuard between forwarders, Cilium's cluster-wide encryption) is the fact stated, and
 * the cell says so.
 */
import { App, Testing } from 'cdk8s';
import * as plus from 'cdk8s-plus-27';
import { BACKEND_IDS, BackendId } from '../lib/intent/backend';
import { Peer } from '../lib/intent/peer';
import { Port } from '../lib/intent/port';
import { IstioMode } from '../lib/meshes/istio';
import { Weaken, WEAKEN_MEMBERS } from '../lib/intent/weaken';
import { SecureWorkload } from '../lib/intent/workload';
import { ZeroTrustChart } from '../lib/intent/chart';
import { ZeroTrustSynthesis } from '../lib/intent/synthesis';
import { Mesh } from '../lib/meshes/mesh';
import { parseManifests } from '../lib/verify/manifests';
import { flowMatrix } from '../lib/report/matrix';

/** One row of the matrix: an intent feature and the app that declares it. */
interface Feature {
  readonly name: string;
  /** Declares the feature in chart `app` (namespace `app`): `client` and `server` workloads. */
  readonly build: (chart: ZeroTrustChart) => void;
}

const FEATURES: Feature[] = [
  {
    name: 'L4 ports (some of a workload\'s ports)',
    build: (c) => server(c, [Port.tcp(5432), Port.tcp(9187)]).allowFrom(client(c), { ports: [Port.tcp(5432)] }),
  },
  {
    name: 'ServiceAccount identity (`Peer.workload({ serviceAccount })`)',
    build: (c) => server(c, [Port.http(8080)]).allowFrom(Peer.workload({ namespace: 'monitoring', labels: { app: 'prometheus' }, serviceAccount: 'prometheus' }), { ports: [Port.http(8080)] }),
  },
  {
    name: 'Namespace peers (`Peer.namespace()`)',
    build: (c) => server(c, [Port.http(8080)]).allowFrom(Peer.namespace('ingress-nginx'), { ports: [Port.http(8080)] }),
  },
  {
    name: 'CIDR peers (`Peer.ipBlock()`, ingress and egress)',
    build: (c) => {
      server(c, [Port.http(8080)]).allowFrom(Peer.ipBlock('198.51.100.0/24'), { ports: [Port.http(8080)] });
      client(c).allowTo(Peer.ipBlock('203.0.113.0/24'), { ports: [Port.tcp(443)] });
    },
  },
  {
    name: 'Host names (`Peer.fqdn()`)',
    build: (c) => client(c).allowTo(Peer.fqdn('api.example.com'), { ports: [Port.tcp(443)] }),
  },
  {
    name: 'HTTP methods and paths',
    build: (c) => server(c, [Port.http(8080)]).allowFrom(client(c), { http: [{ methods: ['GET'], paths: ['/products*'] }] }),
  },
  {
    name: 'gRPC methods',
    build: (c) => server(c, [Port.grpc(50051)]).allowFrom(client(c), { http: [{ methods: ['POST'], paths: ['/shop.Payments/Charge'] }] }),
  },
  {
    name: 'UDP',
    build: (c) => server(c, [Port.udp(5353)]).allowFrom(client(c)),
  },
  {
    name: 'SCTP',
    build: (c) => {
      const serviceAccount = new plus.ServiceAccount(c, 'sctp-sa', { metadata: { name: 'sctp' } });
      const deployment = new plus.Deployment(c, 'sctp-deployment', {
        serviceAccount, containers: [{ image: 'example/sctp:1', ports: [{ number: 3868, protocol: plus.Protocol.SCTP }], securityContext: { ensureNonRoot: false } }],
      });
      new SecureWorkload(c, 'sctp', { workload: deployment }).allowFrom(client(c));
    },
  },
];

function server(c: ZeroTrustChart, ports: Port[]): SecureWorkload {
  return new SecureWorkload(c, 'server', { image: 'example/server:1', ports });
}

function client(c: ZeroTrustChart): SecureWorkload {
  return (c.node.tryFindChild('client') as SecureWorkload | undefined) ?? new SecureWorkload(c, 'client', { image: 'example/client:1', ports: [Port.http(8080)] });
}

/** Each backend id's mesh, with the weakenings given. */
const MESHES: { readonly [id in BackendId]: (weaken: Weaken[]) => Mesh } = {
  'networkpolicy': (weaken) => Mesh.networkPolicy({ weaken }),
  'istio': (weaken) => Mesh.istio({ weaken }),
  'istio-ambient': (weaken) => Mesh.istio({ mode: IstioMode.AMBIENT, weaken }),
  'linkerd': (weaken) => Mesh.linkerd({ weaken }),
  'cilium': (weaken) => Mesh.cilium({ weaken }),
  'kuma': (weaken) => Mesh.kuma({ weaken }),
  'nsm': (weaken) => Mesh.networkServiceMesh({ weaken }),
};

/**
 * Encryption the reader does not model, as each backend's docs state it (docs/backends/<id>.md);
 * a backend not listed encrypts exactly where its mTLS is read as required.
 */
const ENCRYPTION_FACTS: { readonly [id: string]: string } = {
  cilium: 'not configured (mutual authentication does not encrypt; WireGuard/IPsec is a cluster setting)',
  nsm: 'enforced (WireGuard between NSM forwarders, stated)',
};

/** The outcome of one app on one backend. */
interface Outcome {
  readonly yaml?: string;
  readonly codes: string[];
  readonly members: Weaken[];
}

function attempt(build: (chart: ZeroTrustChart) => void, mesh: Mesh): Outcome {
  let app: App;
  try {
    app = Testing.app();
    build(new ZeroTrustChart(app, 'app', { namespace: 'app', mesh }));
    return { yaml: app.synthYaml(), codes: [], members: [] };
  } catch (e) {
    const problems = ZeroTrustSynthesis.problemsOf(e);
    if (problems.length === 0) throw e;
    return {
      codes: [...new Set(problems.map((p) => p.code))].sort(),
      members: WEAKEN_MEMBERS.filter((m) => problems.some((p) => p.weaken === m)),
    };
  }
}

/** One cell: what the backend does with a feature. */
function cell(feature: Feature, id: BackendId): string {
  const plain = attempt(feature.build, MESHES[id]([]));
  if (plain.yaml !== undefined) return 'enforced';
  if (plain.members.length > 0) {
    const weakened = attempt(feature.build, MESHES[id](plain.members));
    if (weakened.yaml !== undefined) return `weakened: ${plain.members.map((m) => `\`Weaken.${m}\``).join(', ')}`;
  }
  return `refused (${plain.codes.map((c) => `\`${c}\``).join(', ')})`;
}

/** Whether the reader reads the client -> server connection of a plain TCP flow as mutually authenticated. */
function mtlsRequired(id: BackendId): boolean {
  const { yaml } = attempt((c) => server(c, [Port.tcp(5432)]).allowFrom(client(c)), MESHES[id]([]));
  if (yaml === undefined) return false;
  const matrix = flowMatrix(parseManifests(yaml, 'capabilities.yaml'), { backend: id });
  const row = matrix.rows.find((r) => r.source === 'app/client' && r.destination === 'app/server' && r.port === '5432');
  return row?.mtls === true;
}

/** The capability matrix as rows of cells, one column per backend id (in `BACKEND_IDS` order). */
export function capabilityMatrix(): { readonly backends: readonly BackendId[]; readonly rows: ReadonlyArray<{ readonly feature: string; readonly cells: string[] }> } {
  const rows = FEATURES.map((f) => ({ feature: f.name, cells: BACKEND_IDS.map((id) => cell(f, id)) }));
  const mtls = BACKEND_IDS.map(mtlsRequired);
  rows.push({ feature: 'mTLS (read from the output)', cells: mtls.map((m) => (m ? 'enforced' : 'not provided')) });
  rows.push({ feature: 'Encryption', cells: BACKEND_IDS.map((id, i) => ENCRYPTION_FACTS[id] ?? (mtls[i] ? 'enforced (mTLS)' : 'not provided')) });
  return { backends: BACKEND_IDS, rows };
}

/** The matrix as the README's Markdown table. */
export function capabilityMarkdown(): string {
  const m = capabilityMatrix();
  const lines = [`| Intent | ${m.backends.map((b) => `\`${b}\``).join(' | ')} |`, `|---|${m.backends.map(() => '---').join('|')}|`];
  for (const r of m.rows) lines.push(`| ${r.feature} | ${r.cells.join(' | ')} |`);
  return `${lines.join('\n')}\n`;
}
