/**
 * The L7 column: whether a backend lets any request through an allowed connection, and if not,
 * which HTTP rules do. The reader decides (a canary request that no sane rule allows must be
 * refused); the rules shown are the HTTP conditions written in the destination namespace's
 * objects (Istio AuthorizationPolicy operations, Cilium `rules.http`, Linkerd/Gateway HTTPRoute
 * matches) whose sample request the reader allows for this source.
 */
import { compareStrings } from '../verify/inventory';
import { AnyManifest, manifestOf } from '../verify/manifests';
import { Decision, DecisionEffect, Endpoint, PolicyEvaluator, Query } from '../verify/types';

/** An HTTP condition in the model's words: methods (empty: any) and a path glob (absent: any). */
export interface HttpAtom {
  readonly methods: string[];
  readonly path?: string;
}

const CANARY = { method: 'TRACE', path: '/zero-trust-l7-canary/4f1c' };
const ROOT_NAMESPACES = new Set(['istio-system']);

/** What a backend lets through a connection at L7. */
export interface L7Answer {
  /** True when some request (or any plain connection) is allowed. */
  readonly allowed: boolean;
  /** The HTTP rule that restricts the requests (`GET /api/*`), `''` when any request passes. */
  readonly rule: string;
  /** The reader's reasons for the allowed request(s). */
  readonly reasons: string[];
  /** The effects of the reader's decisions on the allowed request(s). */
  readonly effects: readonly DecisionEffect[];
}

/**
 * A function that gives the L7 answer of a query given the reader's decision on the plain
 * connection. A plain connection that a backend allows and whose canary request it allows too
 * passes any request. A backend that refuses the plain connection because an HTTP rule applies
 * (Istio ALLOW with operations) is asked the sample requests of the destination namespace's HTTP
 * conditions: the flow exists when one is allowed, restricted to those.
 */
/** The L7 answer of a query given the plain decision; `plain(destination)` is true when it is always the plain decision's (no HTTP condition near). */
export type L7Of = ((q: Query, plain: Decision) => L7Answer) & { readonly plain: (destination: Endpoint) => boolean };

export function l7Of(_backend: string, manifests: readonly AnyManifest[], evaluator: PolicyEvaluator): L7Of {
  const atomsByNs = new Map<string, HttpAtom[]>();
  for (const src of manifests) {
    const m = manifestOf(src);
    const ns = m.metadata.namespace ?? 'default';
    const atoms = httpAtoms(m);
    if (atoms.length === 0) continue;
    atomsByNs.set(ns, [...(atomsByNs.get(ns) ?? []), ...atoms]);
  }
  // The HTTP conditions near each destination namespace, gathered once per namespace.
  const near = new Map<string, HttpAtom[]>();
  const candidatesOf = (ns: string): HttpAtom[] => {
    let list = near.get(ns);
    if (!list) {
      list = [...(atomsByNs.get(ns) ?? []), ...[...ROOT_NAMESPACES].flatMap((n) => atomsByNs.get(n) ?? [])];
      near.set(ns, list);
    }
    return list;
  };
  const answer = (q: Query, plain: Decision): L7Answer => {
    const asPlain = (allowed: boolean, rule: string): L7Answer => ({ allowed, rule, reasons: plain.reasons, effects: plain.effects });
    const denied = asPlain(false, '');
    if (q.protocol !== 'TCP') return plain.allowed ? asPlain(true, '') : denied;
    const candidates = candidatesOf(q.destination.namespace ?? '');
    // No HTTP condition anywhere near: a refusal of the canary is not about HTTP (a DNS proxy on 53, say).
    if (candidates.length === 0) return plain.allowed ? asPlain(true, '') : denied;
    if (plain.allowed && evaluator.evaluate({ ...q, http: CANARY }).allowed) return asPlain(true, '');
    const reasons: string[] = [];
    const effects: DecisionEffect[] = [];
    const allowed = candidates.filter((a) => {
      const sample = sampleRequest(a);
      if (!sample) return false;
      const d = evaluator.evaluate({ ...q, http: sample });
      if (d.allowed) {
        reasons.push(...d.reasons.filter((r) => !reasons.includes(r)));
        effects.push(...d.effects);
      }
      return d.allowed;
    });
    if (allowed.length > 0) return { allowed: true, rule: describeAtoms(allowed), reasons, effects };
    return plain.allowed ? asPlain(true, 'restricted') : denied;
  };
  // No HTTP condition near: the answer is the plain decision's, on every port and protocol.
  return Object.assign(answer, { plain: (destination: Endpoint) => candidatesOf(destination.namespace ?? '').length === 0 });
}

/** `GET,HEAD /api/*; POST /orders`: atoms grouped by path, methods merged, sorted. */
export function describeAtoms(atoms: readonly HttpAtom[]): string {
  const byPath = new Map<string, Set<string> | 'any'>();
  for (const a of atoms) {
    const path = a.path ?? '/*';
    const seen = byPath.get(path);
    if (seen === 'any' || a.methods.length === 0) { byPath.set(path, 'any'); continue; }
    const set = seen ?? new Set<string>();
    a.methods.forEach((m) => set.add(m));
    byPath.set(path, set);
  }
  return [...byPath.entries()]
    .sort(([a], [b]) => compareStrings(a, b))
    .map(([path, methods]) => `${methods === 'any' ? 'any method' : [...methods].sort().join(',')} ${path}`)
    .join('; ');
}

/** A request that an atom admits (undefined when the atom's path cannot be sampled). */
export function sampleRequest(a: HttpAtom): { method: string; path: string } | undefined {
  const method = a.methods[0] ?? 'GET';
  const p = a.path ?? '/*';
  if (p === '*' || p === '/*') return { method, path: '/zt-sample' };
  if (p.endsWith('*')) return { method, path: `${p.slice(0, -1)}zt-sample` };
  if (p.startsWith('*')) return { method, path: `/zt-sample${p.slice(1)}` };
  return { method, path: p };
}

/** The HTTP conditions an object writes, in the model's words. */
export function httpAtoms(m: ReturnType<typeof manifestOf>): HttpAtom[] {
  const out: HttpAtom[] = [];
  if (m.kind === 'AuthorizationPolicy' && m.apiVersion.startsWith('security.istio.io/')) {
    for (const rule of m.spec?.rules ?? []) {
      for (const to of rule?.to ?? []) {
        const op = to?.operation ?? {};
        const methods: string[] = Array.isArray(op.methods) ? op.methods.filter((x: unknown) => typeof x === 'string') : [];
        const paths: string[] = Array.isArray(op.paths) ? op.paths.filter((x: unknown) => typeof x === 'string') : [];
        if (methods.length === 0 && paths.length === 0) continue;
        if (paths.length === 0) out.push({ methods });
        for (const path of paths) out.push({ methods, path });
      }
    }
  }
  if ((m.kind === 'CiliumNetworkPolicy' || m.kind === 'CiliumClusterwideNetworkPolicy') && m.apiVersion.startsWith('cilium.io/')) {
    const specs = [m.spec, ...(Array.isArray(m.specs) ? m.specs : [])].filter(Boolean);
    for (const spec of specs) {
      for (const rule of spec.ingress ?? []) {
        for (const tp of rule?.toPorts ?? []) {
          for (const h of tp?.rules?.http ?? []) {
            const methods = h?.method ? methodsOfRegex(String(h.method)) : [];
            const path = h?.path ? globOfRegex(String(h.path)) : undefined;
            if (methods === undefined || path === null) continue;
            out.push({ methods, ...(path !== undefined ? { path } : {}) });
          }
        }
      }
    }
  }
  if (m.kind === 'HTTPRoute') {
    for (const rule of m.spec?.rules ?? []) {
      for (const match of rule?.matches ?? []) {
        const methods = match?.method ? [String(match.method)] : [];
        let path: string | undefined | null;
        const v = match?.path?.value;
        switch (match?.path?.type) {
          case undefined: path = undefined; break;
          case 'Exact': path = String(v); break;
          case 'PathPrefix': path = v === '/' || v === undefined ? undefined : `${String(v).replace(/\/$/, '')}/*`; break;
          case 'RegularExpression': path = globOfRegex(`^${String(v)}$`); break;
          default: path = null;
        }
        if (path === null) continue;
        out.push({ methods, ...(path !== undefined ? { path } : {}) });
      }
    }
  }
  return out;
}

/** `^GET$` -> [GET]; `^(GET|HEAD)$` -> [GET, HEAD]; anything else: undefined. */
function methodsOfRegex(re: string): string[] | undefined {
  const m = /^\^?\(?([A-Z|]+)\)?\$?$/.exec(re);
  return m ? m[1].split('|').filter(Boolean) : undefined;
}

/** `^/api/.*$` -> `/api/*`; `^/v1\.0/x$` -> `/v1.0/x`; `.*` -> undefined (any); else null. */
function globOfRegex(re: string): string | undefined | null {
  let body = re.replace(/^\^/, '').replace(/\$$/, '');
  if (body === '.*' || body === '/.*') return undefined;
  let prefix = false;
  if (body.endsWith('.*')) { prefix = true; body = body.slice(0, -2); }
  if (/(^|[^\\])[.[\]{}()*+?^$|]/.test(body)) return null; // an unescaped metacharacter: not a literal
  const literal = body.replace(/\\(.)/g, '$1');
  return prefix ? `${literal}*` : literal;
}
