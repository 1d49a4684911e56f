/** Reading a dotted path from a document the way an index does: through arrays, element-wise. */
export type Doc = Record<string, unknown>;

export function isPlainObject(v: unknown): v is Doc {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Every value the path reaches. A missing path gives `[undefined]`; a path through or ending at an
 * array gives one value per element, with `multikey` set so the caller knows.
 */
export function valuesAtPath(doc: unknown, path: string, flattenLeaf = true): { values: unknown[]; multikey: boolean } {
  // The common case: a top-level field of a document, not an array.
  if (path.indexOf(".") < 0 && isPlainObject(doc)) {
    const v = doc[path];
    if (!Array.isArray(v)) return { values: [v], multikey: false };
  }
  const parts = path.split(".");
  let current: unknown[] = [doc];
  let multikey = false;
  for (const part of parts) {
    const next: unknown[] = [];
    for (const v of current) {
      if (Array.isArray(v)) {
        const idx = /^\d+$/.test(part) ? Number(part) : -1;
        if (idx >= 0) {
          next.push(v[idx]);
          continue;
        }
        multikey = true;
        for (const el of v) next.push(isPlainObject(el) ? el[part] : undefined);
      } else if (isPlainObject(v)) {
        next.push(v[part]);
      } else {
        next.push(undefined);
      }
    }
    current = next;
  }
  const values: unknown[] = [];
  for (const v of current) {
    if (Array.isArray(v) && flattenLeaf) {
      multikey = true;
      if (v.length === 0) values.push(undefined);
      else values.push(...v);
    } else values.push(v);
  }
  return { values, multikey };
}

/** A copy deep enough that updating the copy never changes the original (BSON values are immutable). */
export function cloneDoc<T>(v: T): T {
  if (Array.isArray(v)) return v.map(cloneDoc) as T;
  if (v instanceof Date) return new Date(v.getTime()) as T;
  if (isPlainObject(v)) {
    const out: Doc = {};
    for (const k of Object.keys(v)) out[k] = cloneDoc(v[k]);
    return out as T;
  }
  return v;
}
