/**
 * Naming the document behind a reader's crash. The load-time shape check (lib/verify/shapes.ts)
 * covers the fields of Kubernetes' own kinds; a field of a mesh's object with a type its reader
 * does not expect can still make it fail with a bare `TypeError` ("x.map is not a function"). When
 * that happens, the command is run again over the same manifests wrapped in proxies that record
 * the last field read: the field and the document it belongs to are what the error message then
 * names. Only on that error path: the proxies cost nothing otherwise.
 */
import { SourcedManifest } from '../verify/types';

/** The field read last before a failure. */
export interface LastRead {
  /** `dist/x.yaml document #3`. */
  readonly where: string;
  /** `Kind ns/name`. */
  readonly subject: string;
  /** `spec.rules[0].from`. */
  readonly path: string;
  readonly value: unknown;
  /** The member the reader looked for on it, when it is not a field of the manifest (`map`). */
  readonly member?: string;
}

/**
 * Runs `run` over proxied copies of the manifests and returns the field read last if it throws
 * (undefined if it does not throw again, or throws before reading any field).
 */
export function lastReadBeforeFailure(manifests: readonly SourcedManifest[], run: (manifests: SourcedManifest[]) => unknown): { error: unknown; last?: LastRead } | undefined {
  let last: LastRead | undefined;
  const cache = new WeakMap<object, object>();
  const wrap = (target: object, where: string, subject: string, path: string): object => {
    const seen = cache.get(target);
    if (seen) return seen;
    const proxy = new Proxy(target, {
      get(t, key, receiver) {
        const value = Reflect.get(t, key, receiver);
        if (typeof key !== 'string') return value;
        const own = Object.prototype.hasOwnProperty.call(t, key);
        const child = Array.isArray(t) && /^\d+$/.test(key) ? `${path}[${key}]` : path ? `${path}.${key}` : key;
        if (own) last = { where, subject, path: child, value };
        else if (typeof value === 'function' || value === undefined) last = { where, subject, path, value: t, member: key };
        return own && value !== null && typeof value === 'object' ? wrap(value, where, subject, child) : value;
      },
    });
    cache.set(target, proxy);
    return proxy;
  };
  const proxied = manifests.map((m) => {
    const md = m.manifest.metadata ?? {};
    const subject = `${m.manifest.kind} ${typeof md.namespace === 'string' && md.namespace ? `${md.namespace}/` : ''}${md.name}`;
    return { ...m, manifest: wrap(m.manifest, `${m.file} document #${m.index}`, subject, '') as SourcedManifest['manifest'] };
  });
  try {
    run(proxied);
    return undefined;
  } catch (error) {
    return { error, last };
  }
}

export { describeValue } from '../verify/shapes';
