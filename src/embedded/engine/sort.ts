/**
 * Sorting by MongoDB's rules: the BSON type order of compare.ts (so Long and Decimal128 sort with
 * numbers and ObjectIds before booleans), missing as null, and an array field sorting by its
 * smallest element ascending or its largest descending. Used by `find` and by `$sort`.
 */
import { Lazy } from "mingo/lazy";
import { compareValues } from "./compare.js";
import { type Doc, valuesAtPath } from "./paths.js";

export type SortSpec = Record<string, unknown>;

function sortKey(doc: Doc, path: string, direction: number): unknown {
  // A top-level field that is not an array is its own key (valuesAtPath would allocate for it).
  if (path.indexOf(".") < 0) {
    const v = doc[path];
    if (!Array.isArray(v)) return v === undefined ? null : v;
  }
  const { values } = valuesAtPath(doc, path);
  let best: unknown = values[0] === undefined ? null : values[0];
  for (let i = 1; i < values.length; i++) {
    const v = values[i] === undefined ? null : values[i];
    const c = compareValues(v, best);
    if ((direction === 1 && c < 0) || (direction === -1 && c > 0)) best = v;
  }
  return best;
}

export function docComparator(spec: SortSpec): (a: Doc, b: Doc) => number {
  const fields = Object.entries(spec).map(([path, dir]) => {
    const direction = Number(dir) === -1 ? -1 : 1;
    if (Number(dir) !== 1 && Number(dir) !== -1) throw new Error(`$sort key ordering must be 1 (for ascending) or -1 (for descending): ${path}`);
    return { path, direction };
  });
  return (a, b) => {
    for (const { path, direction } of fields) {
      const c = compareValues(sortKey(a, path, direction), sortKey(b, path, direction));
      if (c !== 0) return c * direction;
    }
    return 0;
  };
}

/** Sorts in place (stable, so equal keys keep their input order) and returns the array. */
export function sortDocs(docs: Doc[], spec: SortSpec): Doc[] {
  return docs.sort(docComparator(spec));
}

/** The `$sort` pipeline stage for mingo's Context. */
export function $sort(collection: { transform(fn: (items: unknown[]) => unknown): unknown }, spec: SortSpec): unknown {
  if (spec === null || typeof spec !== "object" || Object.keys(spec).length === 0) throw new Error("$sort specification is invalid");
  const cmp = docComparator(spec);
  return collection.transform((items) => Lazy((items as Doc[]).sort(cmp)));
}
