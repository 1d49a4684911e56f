/**
 * `$replaceRoot`/`$replaceWith` and `$match`'s `$expr` with their expressions compiled once
 * (expressions.ts) instead of evaluated through mingo's generic machinery for every document.
 * - The replacement must be a document, else MongoDB's error 40228 (mingo raised a plain error).
 * - `$expr` keeps a document when its expression is true by MongoDB's truthiness (NaN is true, a
 *   Long or Decimal128 zero false; mingo's truthy differs there). Its variables are those of the
 *   query's options, as mingo reads them.
 * Other shapes (`$replaceRoot` without exactly `newRoot`) are mingo's.
 */
import type { Iterator } from "mingo/lazy";
import { $expr as mingoExpr } from "mingo/operators/query";
import { $replaceRoot as mingoReplaceRoot } from "mingo/operators/pipeline";
import type { Options } from "mingo/types";
import { ExpressionCompiler, isComputeOptions } from "../expressions.js";
import { type Doc, isPlainObject } from "../paths.js";
import { describeValue, exprError, isTruthy, typeName } from "./support.js";

/** MongoDB's check of a replacement document (ReplaceRootTransformation). */
export function checkReplacement(out: unknown, what: "'newRoot' expression" | "'replacement document'", input: unknown): Doc {
  if (isPlainObject(out)) return out;
  throw exprError(
    40228,
    `${what} must evaluate to an object, but resulting value was: ${out === undefined ? "MISSING" : describeValue(out)}. Type of resulting value: '${typeName(out)}'. Input document: ${describeValue(input)}`,
  );
}

function replace(collection: Iterator, expr: unknown, what: "'newRoot' expression" | "'replacement document'", options: Options): Iterator {
  const value = new ExpressionCompiler(options).compile(expr);
  return collection.map((doc) => checkReplacement(value(doc as Doc), what, doc));
}

export function $replaceRoot(collection: Iterator, spec: unknown, options: Options): Iterator {
  if (!isPlainObject(spec) || Object.keys(spec).length !== 1 || !("newRoot" in spec)) return mingoReplaceRoot(collection, spec as never, options);
  return replace(collection, spec.newRoot, "'newRoot' expression", options);
}

export function $replaceWith(collection: Iterator, spec: unknown, options: Options): Iterator {
  return replace(collection, spec, "'replacement document'", options);
}

/** The query operator `$expr`: a predicate of the document. */
export function $expr(selector: string, expr: unknown, options: Options): (doc: Doc) => boolean {
  if (!isComputeOptions(options)) return mingoExpr(selector, expr, options) as (doc: Doc) => boolean;
  const value = new ExpressionCompiler(options).compile(expr);
  return (doc) => isTruthy(value(doc));
}
