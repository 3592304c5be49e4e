/**
 * What a flow report takes for granted, said next to the rows it concerns: parties the manifests
 * do not define (the cluster DNS the universe makes up, peer namespaces taken to run in the
 * mesh) and workloads whose flows the CNI decides (`hostNetwork: true`).
 */
import { namespaceOfObject, workloadObjects } from '../verify/inventory';
import { AnyManifest, manifestOf } from '../verify/manifests';
import { readerBackend } from '../verify/backends';
import { enrolExternal, isBackend } from '../verify/readers';
import { Endpoint } from '../verify/types';
import { PROBE_LABEL } from '../verify/universe';
import { compareText } from '../intent/collation';

/** One assumption or warning of a report. */
export interface ReviewNote {
  /**
   * `assumed`: a party the manifests do not define; `enrolled`: a namespace taken to run in the mesh;
   * `host-network`: a pod on its node's network; `no-namespace`: objects without `metadata.namespace`,
   * read as in `default` (the party is `ns:default`); `backend`: what the backend says of a party
   * beyond its rows (NSM: no stable name for the endpoint).
   */
  readonly kind: 'assumed' | 'enrolled' | 'host-network' | 'no-namespace' | 'backend';
  /** The row name (`kube-system/kube-dns`, `prod/agent`), or `ns:<namespace>` for every party of a namespace. */
  readonly party: string;
  /** What a table cell adds after the name: `assumed`, `assumed in mesh`, `hostNetwork`. */
  readonly mark: string;
  /** The sentence that says it. */
  readonly text: string;
}

/** The cluster DNS the probe universe adds when the manifests define none (lib/verify/universe.ts). */
export const ASSUMED_DNS = 'kube-system/kube-dns';

/**
 * The notes of a report on the manifests under a backend: the made-up cluster DNS, the peer
 * namespaces taken to be enrolled in the mesh (`enrolledNamespaces` of the reader, where the
 * backend enrols at all), and every `hostNetwork` workload. Sorted by party.
 */
export function reviewNotes(manifests: readonly AnyManifest[], backend: string, enrolledNamespaces: readonly string[] = []): ReviewNote[] {
  const notes: ReviewNote[] = [];
  const workloads = workloadObjects(manifests);
  const dnsDefined = workloads.some((w) => (w.manifest.metadata.namespace || 'default') === 'kube-system' && w.template.metadata?.labels?.['k8s-app'] === 'kube-dns');
  if (!dnsDefined && !workloads.some((w) => w.id === ASSUMED_DNS)) {
    notes.push({
      kind: 'assumed',
      party: ASSUMED_DNS,
      mark: 'assumed',
      text: 'cluster DNS, which these manifests do not define: taken to be pods labelled `k8s-app=kube-dns` in namespace `kube-system`, answering on port 53 over UDP and TCP (as kube-dns and CoreDNS do)',
    });
  }
  if (isBackend(backend)) {
    for (const ns of enrolledNamespaces) {
      const probe: Endpoint = { id: `${ns}/*`, kind: 'pod', namespace: ns, namespaceLabels: {}, namespaceAnnotations: {}, labels: { [PROBE_LABEL]: 'true' }, annotations: {}, serviceAccount: 'default', ports: [] };
      if (enrolExternal(backend, probe, manifests) === probe) continue; // this backend enrols nobody
      notes.push({
        kind: 'enrolled',
        party: `ns:${ns}`,
        mark: 'assumed in mesh',
        text: `namespace \`${ns}\`, which the policies name and these manifests do not define: its pods are taken to run in the ${backend} mesh (a client outside the mesh would be refused where a row says allowed with mTLS required; a row whose mTLS column says no, such as a proxy's own plaintext metrics port, admits it too)`,
      });
    }
  }
  // kubectl puts an object without a namespace into its context's namespace (or --namespace): read as `default`, said so.
  const unset = manifests.map(manifestOf).filter((m) => namespaceOfObject(m) !== undefined && !m.metadata.namespace);
  if (unset.length > 0) {
    const names = unset.slice(0, 5).map((m) => `\`${m.kind} ${m.metadata.name}\``).join(', ') + (unset.length > 5 ? ` and ${unset.length - 5} more` : '');
    notes.push({
      kind: 'no-namespace',
      party: 'ns:default',
      mark: 'namespace assumed',
      text: `${names} set no \`metadata.namespace\`: read as in namespace \`default\`, but \`kubectl apply\` puts them in its current context's namespace `
        + '(or the one `--namespace` names), where these rows then hold instead',
    });
  }
  if (isBackend(backend)) {
    const notesOfBackend = readerBackend(backend).notes;
    if (notesOfBackend) for (const n of notesOfBackend(manifests.map(manifestOf))) notes.push({ kind: 'backend', ...n });
  }
  for (const w of workloads) {
    if (w.template.spec?.hostNetwork !== true) continue;
    notes.push({
      kind: 'host-network',
      party: w.id,
      mark: 'hostNetwork',
      text: 'runs with `hostNetwork: true`: its pods use their node\'s address, and whether NetworkPolicy or the mesh applies to them is up to the CNI (most do not select them); its rows are read as for an ordinary pod and may not hold',
    });
  }
  return notes.sort((a, b) => compareText(a.party, b.party) || compareText(a.kind, b.kind));
}

/** The notes that concern a row party: by name, and for a namespace note every party of the namespace (`ns:X`, `X/...`). */
export function notesOf(notes: readonly ReviewNote[] | undefined, party: string): ReviewNote[] {
  if (!notes || notes.length === 0) return [];
  return notes.filter((n) => {
    if (n.party === party) return true;
    if (n.kind !== 'enrolled' && n.kind !== 'no-namespace') return false;
    const ns = n.party.slice('ns:'.length);
    return party === `ns:${ns}` || party.startsWith(`${ns}/`);
  });
}
