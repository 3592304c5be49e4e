import { ZeroTrustError } from './errors';
import { Port } from './port';
import { compareText } from './collation';

/** HTTP methods a rule may name. */
export const HTTP_METHODS = ['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE'];

/**
 * An L7 condition on an allowed flow: the request must match one of `methods` (if given) and
 * one of `paths` (if given). Paths are exact (`/healthz`) or prefixes ending in `*` (`/api/*`).
 */
export interface HttpRule {
  /**
   * Allowed methods, upper case.
   * @default - any method
   */
  readonly methods?: string[];
  /**
   * Allowed paths: exact, or a prefix ending in `*`.
   * @default - any path
   */
  readonly paths?: string[];
}

/** Options of `allowFrom` and `allowTo`. */
export interface AllowOptions {
  /**
   * Ports the rule allows. For a `SecureWorkload` destination each must be one it declares.
   * @default - every port the destination declares (for external destinations: every port)
   */
  readonly ports?: Port[];
  /**
   * L7 conditions; only on HTTP, HTTP/2 or gRPC ports, and only on backends that enforce L7.
   * @default - any request on the allowed ports
   */
  readonly http?: HttpRule[];
}

/** Validates one HTTP rule and returns it with sorted, de-duplicated lists. */
export function normalizeHttpRule(rule: HttpRule, where: string): { methods: string[]; paths: string[] } {
  const methods = [...new Set(rule.methods ?? [])].sort(compareText);
  const paths = [...new Set(rule.paths ?? [])].sort(compareText);
  if (rule.methods && methods.length === 0 && rule.paths && paths.length === 0) {
    throw new ZeroTrustError(`${where}: an HTTP rule with empty methods and paths matches nothing; omit the rule instead`);
  }
  for (const m of methods) {
    if (!HTTP_METHODS.includes(m)) {
      throw new ZeroTrustError(`${where}: HTTP method "${m}" is not one of ${HTTP_METHODS.join(', ')}`);
    }
  }
  for (const p of paths) {
    if (!p.startsWith('/') || /\s/.test(p) || p.slice(0, -1).includes('*')) {
      throw new ZeroTrustError(`${where}: HTTP path "${p}" must start with '/', contain no spaces, and may only end with '*' (prefix match)`);
    }
  }
  return { methods, paths };
}

/** True when a request matches a normalized rule (empty lists match anything). */
export function httpRuleMatches(rule: { methods: string[]; paths: string[] }, method: string, path: string): boolean {
  const methodOk = rule.methods.length === 0 || rule.methods.includes(method);
  const pathOk = rule.paths.length === 0 || rule.paths.some((p) => (p.endsWith('*') ? path.startsWith(p.slice(0, -1)) : path === p));
  return methodOk && pathOk;
}
