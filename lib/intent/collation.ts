/**
 * The one collation every sorted list of the output and the review uses. Pinned to `en`, so the
 * order of emitted YAML does not depend on the machine's locale.
 */

/** Compares two strings in the library's collation. */
export const compareText: (a: string, b: string) => number = new Intl.Collator('en').compare;

/** Compares `[key, value]` entries by key in the library's collation. */
export function compareEntries(a: readonly [string, unknown], b: readonly [string, unknown]): number {
  return compareText(a[0], b[0]);
}
