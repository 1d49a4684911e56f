/**
 * `$addFields` / `$set` with each expression compiled once (expressions.ts) instead of evaluated
 * through mingo's generic machinery (which also builds new options for every document). Each
 * output document is a shallow copy of the input with the fields set in the specification's order,
 * every expression evaluated against the input document; a field whose value is missing
 * (`"$nope"`, `"$$REMOVE"`) is removed. Specifications that write into nested fields (`"a.b"`) are
 * mingo's, as before.
 */
import type { Iterator } from "mingo/lazy";
import { $addFields as mingoAddFields } from "mingo/operators/pipeline";
import type { Options } from "mingo/types";
import { ExpressionCompiler } from "../expressions.js";
import { type Doc, isPlainObject } from "../paths.js";

const PROTOTYPE_NAMES = new Set([...Object.getOwnPropertyNames(Object.prototype), "__proto__"]);

/** A top-level field name that a plain property assignment sets exactly as mingo's `setValue` does. */
const isPlainName = (name: string) => name !== "" && !name.includes(".") && !name.startsWith("$") && !PROTOTYPE_NAMES.has(name);

export function $addFields(collection: Iterator, spec: unknown, options: Options): Iterator {
  if (!isPlainObject(spec) || !Object.keys(spec).every(isPlainName)) return mingoAddFields(collection, spec as Doc, options);
  const names = Object.keys(spec);
  if (names.length === 0) return collection;
  const compiler = new ExpressionCompiler(options);
  const values = names.map((name) => compiler.compile(spec[name]));
  const n = names.length;
  return collection.map((input) => {
    const doc = input as Doc;
    const out: Doc = { ...doc };
    for (let i = 0; i < n; i++) {
      const v = values[i]!(doc);
      if (v !== undefined) out[names[i]!] = v;
      else delete out[names[i]!];
    }
    return out;
  });
}
