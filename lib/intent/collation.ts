/**
 * The one collation every sorted list of the output and the review uses: UTF-16 code units, as
 * `Array.prototype.sort()` orders strings. It depends on no locale and never ties two different
 * strings, so the order of emitted YAML is the same on every machine.
 */

/** Compares two strings in the library's collation. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Compares `[key, value]` entries by key in the library's collation. */
export function compareEntries(a: readonly [string, unknown], b: readonly [string, unknown]): number {
  return compareText(a[0], b[0]);
}
