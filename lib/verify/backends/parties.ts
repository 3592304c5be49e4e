/**
 * Parties a backend's objects name by who they are: a namespace, pod labels, a ServiceAccount.
 * Each descriptor lists those of its own objects (`ReaderBackend.parties`); the probe universe
 * (lib/verify/universe.ts) makes a representative pod of each, whatever backend reads the
 * manifests, so that a peer a mesh policy admits by identity is asked about like any other.
 */
import { Manifest } from '../types';

/** A party named by a policy object. An absent field is not constrained by the object. */
export interface NamedParty {
  /** The party's namespace; absent: any namespace (a cluster-wide selector). */
  readonly namespace?: string;
  /** Labels the party's pods carry. */
  readonly labels?: { readonly [key: string]: string };
  /** The ServiceAccount the party's pods run as. */
  readonly serviceAccount?: string;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
/** `<trust domain>/ns/<ns>/sa/<sa>` (Istio principals, SPIFFE ids). */
const PRINCIPAL = /(?:^|\/)ns\/([^/]+)\/sa\/([^/]+)$/;
/** `<sa>.<ns>.serviceaccount.identity.<...>` (Linkerd identities). */
const LINKERD_IDENTITY = /^([^.]+)\.([^.]+)\.serviceaccount\.identity\./;

/** The identity a principal or Linkerd identity string names, if it names one exactly (no wildcard). */
function identityParty(text: unknown): NamedParty | undefined {
  if (typeof text !== 'string') return undefined;
  const p = PRINCIPAL.exec(text);
  const l = p ? undefined : LINKERD_IDENTITY.exec(text);
  const namespace = p ? p[1] : l?.[2];
  const serviceAccount = p ? p[2] : l?.[1];
  if (namespace === undefined || serviceAccount === undefined || !DNS_LABEL.test(namespace) || !DNS_SUBDOMAIN.test(serviceAccount)) return undefined;
  return { namespace, serviceAccount };
}

/** Every string of a value, with the key it is found under. */
function eachString(value: unknown, visit: (text: string, key: string | undefined) => void, key?: string): void {
  if (typeof value === 'string') visit(value, key);
  else if (Array.isArray(value)) for (const v of value) eachString(v, visit, key);
  else if (typeof value === 'object' && value !== null) for (const [k, v] of Object.entries(value)) eachString(v, visit, k);
}

/** Every object (not array) inside a value, the value itself first. */
export function eachObject(value: unknown, visit: (o: { [key: string]: any }) => void): void {
  if (Array.isArray(value)) for (const v of value) eachObject(v, visit);
  else if (typeof value === 'object' && value !== null) {
    visit(value);
    for (const v of Object.values(value)) eachObject(v, visit);
  }
}

/** The identities every string of the objects' specs names (principals, SPIFFE ids, Linkerd identities). */
export function identitiesOf(objects: readonly Manifest[], accept: (m: Manifest) => boolean): NamedParty[] {
  const out: NamedParty[] = [];
  for (const m of objects) {
    if (!accept(m)) continue;
    eachString(m.spec, (text) => {
      const party = identityParty(text);
      if (party) out.push(party);
    });
  }
  return out;
}

/** Labels of a selector a pod with them satisfies: `matchLabels`, each `In` at its first value, `Exists` keys. */
export function selectorLabels(sel: any): { [key: string]: string } {
  const labels: { [key: string]: string } = {};
  if (typeof sel !== 'object' || sel === null) return labels;
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (typeof v === 'string') labels[k] = v;
  for (const e of Array.isArray(sel.matchExpressions) ? sel.matchExpressions : []) {
    if (typeof e?.key !== 'string' || e.key in labels) continue;
    if (e.operator === 'In' && Array.isArray(e.values) && typeof e.values[0] === 'string') labels[e.key] = e.values[0];
    if (e.operator === 'Exists') labels[e.key] = 'zt-probe';
  }
  return labels;
}
