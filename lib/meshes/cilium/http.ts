/**
 * HTTP conditions as Cilium expects them: `rules.http[].method` and `.path` are extended POSIX
 * regular expressions that Envoy matches against the whole value. User input is escaped, so a
 * path like `/v1.0/items` matches only itself; a trailing `*` (the model's prefix form) becomes
 * `.*` on purpose.
 */
import { HttpRuleModel } from '../../intent/model';

/** Locale-independent string order, so output bytes never depend on the machine. */
export function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One entry of `toPorts[].rules.http`. */
export interface CiliumHttpRule {
  readonly method?: string;
  readonly path?: string;
}

/** Characters with a meaning in extended POSIX regular expressions. */
const ERE_SPECIAL = /[.[\]{}()\\*+?^$|]/g;

/** Escapes every ERE metacharacter of `text`. */
export function escapeEre(text: string): string {
  return text.replace(ERE_SPECIAL, (c) => `\\${c}`);
}

/** `/healthz` -> `^/healthz$`; `/api/*` -> `^/api/.*$`. */
export function pathRegex(path: string): string {
  return path.endsWith('*') ? `^${escapeEre(path.slice(0, -1))}.*$` : `^${escapeEre(path)}$`;
}

/** `[GET]` -> `^GET$`; `[GET, HEAD]` -> `^(GET|HEAD)$`. */
export function methodRegex(methods: string[]): string {
  const alternatives = methods.map(escapeEre);
  return alternatives.length === 1 ? `^${alternatives[0]}$` : `^(${alternatives.join('|')})$`;
}

/**
 * The Cilium HTTP rules of the model's rules: one entry per path (methods folded into one
 * alternation), or one method-only entry. A model rule with neither methods nor paths becomes `{}`,
 * which Cilium reads as "any request" (still parsed by the proxy).
 */
export function ciliumHttpRules(rules: HttpRuleModel[]): CiliumHttpRule[] {
  const out = new Map<string, CiliumHttpRule>();
  for (const r of rules) {
    const method = r.methods.length ? { method: methodRegex(r.methods) } : {};
    const paths = r.paths.length ? r.paths : [undefined];
    for (const p of paths) {
      const rule: CiliumHttpRule = { ...method, ...(p !== undefined ? { path: pathRegex(p) } : {}) };
      out.set(JSON.stringify(rule), rule);
    }
  }
  return [...out.entries()].sort(([a], [b]) => byteOrder(a, b)).map(([, r]) => r);
}
