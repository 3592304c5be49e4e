/**
 * Identity meshes that authorize by ServiceAccount (Istio sidecar and ambient, Linkerd) check a
 * source's account in the destination's proxy and its pod labels in the NetworkPolicy layer, each
 * on its own. Nothing pairs the two: a pod with the labels one peer is admitted by and the account
 * another peer is admitted by passes both, with the rules the proxy grants that account. Where the
 * intent grants such a pod less, the output would be wider than the intent; no request attribute
 * of either mesh carries the source's labels, so the pairing cannot be written: refused
 * (`IDENTITY_PAIRING_NOT_ENFORCEABLE`).
 *
 * Only accounts the app does not run are crossed: an account of one of the app's workloads is the
 * app's own (`SHARED_SERVICE_ACCOUNT` keeps it to one workload), as everywhere else in the model.
 */
import { compareText } from '../intent/collation';
import { ZeroTrustError } from '../intent/errors';
import { EndpointModel, FlowModel, HttpRuleModel, ZeroTrustModel, describeHttpRule, endpointKey, flowIndex } from '../intent/model';

/** A TCP port the proxy authorizes on, and what it grants there: every request (`all`) or some rules. */
interface Grant {
  readonly all: boolean;
  readonly rules: readonly HttpRuleModel[];
}

/** The labels a pod needs for the NetworkPolicy layer to admit it as `e`, or undefined for a non-pod source. */
function labelsOf(e: EndpointModel): { [key: string]: string } | undefined {
  switch (e.type) {
    case 'workload': return e.workload.selector;
    case 'external-workload': return e.labels;
    case 'namespace': return {};
    case 'ip-block':
    case 'fqdn': return undefined;
  }
}

/** The namespace of a pod source. */
function namespaceOf(e: EndpointModel): string | undefined {
  switch (e.type) {
    case 'workload': return e.workload.namespace;
    case 'external-workload':
    case 'namespace': return e.namespace;
    case 'ip-block':
    case 'fqdn': return undefined;
  }
}

/** The account the proxy admits `e` by; undefined: any account of its namespace. */
function accountOf(e: EndpointModel): string | undefined {
  switch (e.type) {
    case 'workload': return e.workload.serviceAccount;
    case 'external-workload': return e.serviceAccount;
    case 'namespace':
    case 'ip-block':
    case 'fqdn': return undefined;
  }
}

const within = (inner: { [key: string]: string }, outer: { [key: string]: string }) => Object.entries(inner).every(([k, v]) => outer[k] === v);

/** True when the TCP port `n` is one of the flow's ports (no ports: every port). */
function covers(f: FlowModel, n: number): boolean {
  return f.ports.length === 0 || f.ports.some((p) => p.protocol === 'TCP' && p.number <= n && n <= (p.endPort ?? p.number));
}

const ruleKey = (r: HttpRuleModel) => `${[...r.methods].sort(compareText).join(',')} ${[...r.paths].sort(compareText).join(',')}`;

/** What the flows grant together on one port. */
function grantOf(flows: readonly FlowModel[]): Grant {
  return { all: flows.some((f) => f.http.length === 0), rules: flows.flatMap((f) => f.http) };
}

/** True when `a` grants nothing `b` does not (rules compared as written; a rule of any method and any path is every request). */
function grantWithin(a: Grant, b: Grant): boolean {
  if (b.all || b.rules.some((r) => r.methods.length === 0 && r.paths.length === 0)) return true;
  if (a.all) return false;
  const keys = new Set(b.rules.map(ruleKey));
  return a.rules.every((r) => keys.has(ruleKey(r)));
}

/**
 * Throws `IDENTITY_PAIRING_NOT_ENFORCEABLE` for the first destination of `namespace` where a pod
 * with one pod source's labels and another source's ServiceAccount would be admitted on a TCP port
 * with more than the intent grants it (UDP is the NetworkPolicy layer's alone: labels only).
 * `tunnel`: between meshed pods the NetworkPolicy layer sees one tunnel port (Istio ambient's HBONE,
 * Linkerd's inbound proxy port) for every app port, so a peer's labels pass it on every port.
 */
export function checkIdentityPairing(model: ZeroTrustModel, namespace: string, backend: string, tunnel: boolean): void {
  const appAccounts = new Set(model.workloads.map((w) => `${w.namespace}\0${w.serviceAccount}`));
  const index = flowIndex(model);
  for (const dst of model.workloads) {
    if (dst.namespace !== namespace) continue;
    const inbound = [...(index.inbound.get(dst) ?? [])].filter((f) => labelsOf(f.source) !== undefined);
    // Peers the app does not run, named with labels and an account: their account is the one crossed.
    const crossing = inbound.filter((f) => f.source.type === 'external-workload' && f.source.serviceAccount !== undefined && Object.keys(f.source.labels).length > 0
      && !appAccounts.has(`${f.source.namespace}\0${f.source.serviceAccount}`));
    if (crossing.length === 0) continue;
    // Grants change only where a port starts or ends.
    const points = [...new Set(inbound.flatMap((f) => f.ports.filter((p) => p.protocol === 'TCP').flatMap((p) => [p.number, (p.endPort ?? p.number) + 1])))].sort((a, b) => a - b);
    for (const y of crossing) {
      const ns = namespaceOf(y.source)!;
      const account = accountOf(y.source)!;
      const peers = inbound.filter((f) => namespaceOf(f.source) === ns);
      for (const n of points.filter((p) => covers(y, p))) {
        const here = peers.filter((f) => covers(f, n));
        // What the proxy grants a pod of ns running as the account, whatever its labels.
        const proxy = here.filter((f) => { const a = accountOf(f.source); return a === undefined || a === account; });
        const tcp = peers.filter((f) => f.ports.length === 0 || f.ports.some((p) => p.protocol === 'TCP'));
        for (const x of tunnel ? tcp : here) {
          const labels = labelsOf(x.source)!;
          // What the intent grants a pod with x's labels (and no more) running as the account.
          const intent = here.filter((f) => within(labelsOf(f.source)!, labels) && (accountOf(f.source) === undefined || accountOf(f.source) === account));
          const wide = grantOf(proxy);
          if (grantWithin(wide, grantOf(intent))) continue;
          const other = proxy.find((f) => !intent.includes(f)) ?? y;
          const grants = grantOf(intent);
          const given = intent.length === 0 ? 'admits no such pod' : grants.all ? 'admits it on the whole port' : `grants it only [${grants.rules.map(describeHttpRule).join(' | ')}]`;
          throw new ZeroTrustError({
            code: 'IDENTITY_PAIRING_NOT_ENFORCEABLE', backend, namespace, workload: other.declaredBy, rule: other.declaredAt,
            message: `${other.declaredAt}: ${endpointKey(other.source)} and ${endpointKey(x.source)} reach ${dst.namespace}/${dst.name} on port ${n}/TCP; `
              + `${backend} checks the ServiceAccount in the proxy and the labels in the NetworkPolicy layer, each on its own, so a pod of ${ns} with the labels of ${endpointKey(x.source)}${covers(x, n) ? '' : ` (which pass it on every port: between meshed pods it sees only the tunnel port)`} `
              + `running as ${account} would be admitted with what ${account} is granted${other.http.length > 0 ? ` [${other.http.map(describeHttpRule).join(' | ')}]` : ' (the whole port)'}, while the intent ${given}; `
              + `no request attribute carries the source's labels. ${intent.length > 0 ? `Give ${endpointKey(other.source)} on this port only rules that ${endpointKey(x.source)} is given too, or admit` : 'Admit'} `
              + `one peer of ${ns} ${tunnel ? 'to' : `on port ${n} of`} ${dst.namespace}/${dst.name} (Peer.namespace('${ns}') if any pod there may send), or use Mesh.cilium(), which matches labels and account together`,
          });
        }
      }
    }
  }
}
