/** Orders the service applies itself, the same as MongoDB would have sorted. */

/** MongoDB's order of group values: null first, then strings by their UTF-8 bytes (code points). */
export function compareGroupValues(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}
