/**
 * Brands instead of `instanceof` (cdk8s's `Chart` answers `instanceof` true for every chart): a
 * `Symbol.for` key any copy of the library can read, whose value says which copy made the object.
 * Intent is recorded per copy, so objects of two copies of the library cannot be mixed.
 */

/** The brand value of objects made by this copy of the library. */
const THIS_COPY = Symbol('cdk8s-zero-trust copy');

/** Brands `target` under `key` as made by this copy. */
export function brand(target: object, key: symbol): void {
  Object.defineProperty(target, key, { value: THIS_COPY });
}

/** True when `x` carries the brand `key`, from any copy of the library. */
export function isBranded(x: unknown, key: symbol): boolean {
  return typeof x === 'object' && x !== null && (x as any)[key] !== undefined;
}

/** True when `x` carries the brand `key` of this copy of the library. */
export function isBrandedHere(x: unknown, key: symbol): boolean {
  return typeof x === 'object' && x !== null && (x as any)[key] === THIS_COPY;
}
