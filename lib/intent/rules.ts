import { ZeroTrustError } from './errors';
import { compareText } from './collation';
import { shown } from './names';
import { Port, PortKind } from './port';

/** HTTP methods a rule may name. */
export const HTTP_METHODS = ['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE'];

/**
 * An L7 condition on an allowed flow: the request must match one of `methods` (if given) and
 * one of `paths` (if given). Paths are exact (`/healthz`) or prefixes ending in `*` (`/api/*`).
 * A list that is given must not be empty: leave it out to mean "any".
 */
export interface HttpRule {
  /**
   * Allowed methods, upper case. Not empty when given.
   * @default - any method
   */
  readonly methods?: string[];
  /**
   * Allowed paths: exact, or a prefix ending in `*`. Not empty when given.
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
   * Not empty when given.
   * @default - any request on the allowed ports
   */
  readonly http?: HttpRule[];
}

const ALLOW_OPTION_KEYS = ['ports', 'http'];
const HTTP_RULE_KEYS = ['methods', 'paths'];
const PORT_KINDS = Object.values(PortKind) as string[];

function isPlainObject(x: unknown): x is { [key: string]: unknown } {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * Checks the shape of `allowFrom`/`allowTo` options as a plain JavaScript caller may pass them
 * (an HTTP rule object instead of an array, a misspelt key), so that a mistake is an error that
 * says what was expected instead of a TypeError or a silently ignored (and so wider) option.
 * `where` names the call: `production/hero.allowTo(...)`.
 */
export function checkAllowOptionsShape(options: unknown, where: string): void {
  const fail = (message: string) => new ZeroTrustError({ code: 'INVALID_ARGUMENT', message: `${where}: ${message}` });
  if (options === undefined) return;
  if (!isPlainObject(options)) throw fail(`options must be an object { ports?, http? }, got ${shown(options)}`);
  const unknown = Object.keys(options).filter((k) => !ALLOW_OPTION_KEYS.includes(k));
  if (unknown.length > 0) throw fail(`unknown option ${unknown.map((k) => `"${k}"`).join(', ')}; the options are ${ALLOW_OPTION_KEYS.join(', ')} (an ignored option could allow more than meant)`);
  if (options.ports !== undefined) {
    if (!Array.isArray(options.ports)) throw fail(`ports must be an array of Port (Port.tcp(5432), ...), got ${shown(options.ports)}`);
    options.ports.forEach((p, i) => {
      if (!isPlainObject(p) || !Number.isInteger(p.number) || !PORT_KINDS.includes(p.kind as string) || (p.protocol !== 'TCP' && p.protocol !== 'UDP')) {
        throw fail(`ports[${i}] must be a Port (Port.tcp(5432), Port.http(8080), ...), got ${shown(p)}`);
      }
    });
  }
  if (options.http !== undefined) {
    if (!Array.isArray(options.http)) throw fail(`http must be an array of HTTP rules ([{ methods: ['GET'], paths: ['/api/*'] }]), got ${shown(options.http)}`);
    options.http.forEach((r, i) => checkHttpRuleShape(r, `${where} http[${i}]`));
  }
}

function checkHttpRuleShape(rule: unknown, where: string): void {
  const fail = (message: string) => new ZeroTrustError({ code: 'INVALID_ARGUMENT', message: `${where}: ${message}` });
  if (!isPlainObject(rule)) throw fail(`an HTTP rule must be an object { methods?, paths? }, got ${shown(rule)}`);
  const unknown = Object.keys(rule).filter((k) => !HTTP_RULE_KEYS.includes(k));
  if (unknown.length > 0) throw fail(`unknown field ${unknown.map((k) => `"${k}"`).join(', ')} in an HTTP rule; the fields are methods and paths (an ignored field would allow any request)`);
  for (const k of HTTP_RULE_KEYS) {
    const v = rule[k];
    if (v !== undefined && (!Array.isArray(v) || v.some((x) => typeof x !== 'string'))) {
      throw fail(`${k} must be an array of strings, got ${shown(v)}`);
    }
  }
}

/** Validates one HTTP rule and returns it with sorted, de-duplicated lists. */
export function normalizeHttpRule(rule: HttpRule, where: string): { methods: string[]; paths: string[] } {
  checkHttpRuleShape(rule, where);
  const methods = [...new Set(rule.methods ?? [])].sort(compareText);
  const paths = [...new Set(rule.paths ?? [])].sort(compareText);
  const empty = [rule.methods && methods.length === 0 ? 'methods' : undefined, rule.paths && paths.length === 0 ? 'paths' : undefined].filter((x) => x);
  if (empty.length > 0) {
    // An empty list would read as "any" to every backend: refuse it rather than widen the rule.
    throw new ZeroTrustError({ code: 'EMPTY_HTTP_LIST', message: `${where}: ${empty.join(' and ')} ${empty.length > 1 ? 'are' : 'is'} an empty list, which would match ${empty.length > 1 ? 'any request' : `any ${empty[0] === 'methods' ? 'method' : 'path'}`}; leave ${empty.length > 1 ? 'them' : 'it'} out to mean any, or list what is allowed` });
  }
  for (const m of methods) {
    if (!HTTP_METHODS.includes(m)) {
      throw new ZeroTrustError({ code: 'INVALID_HTTP_METHOD', message: `${where}: HTTP method "${m}" is not one of ${HTTP_METHODS.join(', ')}` });
    }
  }
  for (const p of paths) {
    if (!p.startsWith('/') || /\s/.test(p) || p.slice(0, -1).includes('*')) {
      throw new ZeroTrustError({ code: 'INVALID_HTTP_PATH', message: `${where}: HTTP path "${p}" must start with '/', contain no spaces, and may only end with '*' (prefix match)` });
    }
    if (/[^\x21-\x7e]/.test(p) || /[?#]/.test(p)) {
      // Requests carry a path without query or fragment, percent-encoded ASCII: such a rule would
      // never match on some backends and match differently on others.
      throw new ZeroTrustError({ code: 'INVALID_HTTP_PATH', message: `${where}: HTTP path ${JSON.stringify(p)} contains ${/[?#]/.test(p) ? `'${/[?]/.test(p) ? '?' : '#'}' (a rule matches the path only, never a query or fragment)` : 'a character outside printable ASCII (percent-encode it, as it travels in the request)'}` });
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
