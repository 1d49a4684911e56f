/**
 * valuesAtPath (src/embedded/engine/paths.ts) reads a dotted path the way an index does; index
 * keys, $sort, the range operators and $merge's `on` fields rest on it. Its fast path (a top-level
 * field holding no array) is checked here against the general walk it skips, kept below as the
 * reference, on random documents and paths (fast-check, fixed seed).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Doc, isPlainObject, valuesAtPath } from "../../src/embedded/engine/paths.js";

function reference(doc: unknown, path: string, flattenLeaf = true): { values: unknown[]; multikey: boolean } {
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

const key = fc.constantFrom("a", "b", "0", "1", "");
const { value } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small" }, fc.integer({ min: 0, max: 3 }), fc.constantFrom(null, "s", new Date(0)), tie("array"), tie("object")),
  array: fc.array(tie("value"), { maxLength: 3 }),
  object: fc.dictionary(key, tie("value"), { maxKeys: 3, noNullPrototype: true }),
}));
const path = fc.array(key, { minLength: 1, maxLength: 3 }).map((parts) => parts.join("."));

describe("valuesAtPath", () => {
  it("reads every path of random documents as the general walk does", () => {
    fc.assert(
      fc.property(fc.oneof(value, fc.dictionary(key, value, { noNullPrototype: true })), path, fc.boolean(), (doc, p, flatten) => {
        expect(valuesAtPath(doc, p, flatten)).toEqual(reference(doc, p, flatten));
      }),
      { seed: 20260601, numRuns: 3000 },
    );
  });

  it("reads a top-level field: its value, missing as undefined, an array element by element", () => {
    const doc: Doc = { a: 1, b: [1, 2], c: [] };
    expect(valuesAtPath(doc, "a")).toEqual({ values: [1], multikey: false });
    expect(valuesAtPath(doc, "x")).toEqual({ values: [undefined], multikey: false });
    expect(valuesAtPath(doc, "b")).toEqual({ values: [1, 2], multikey: true });
    expect(valuesAtPath(doc, "b", false)).toEqual({ values: [[1, 2]], multikey: false });
    expect(valuesAtPath(doc, "c")).toEqual({ values: [undefined], multikey: true });
  });
});
