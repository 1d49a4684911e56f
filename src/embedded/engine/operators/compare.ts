/**
 * Aggregation comparison expressions (`$eq`, `$ne`, `$gt`, `$gte`, `$lt`, `$lte`, `$cmp`) with
 * MongoDB's semantics, replacing mingo's (which answers false for any comparison across types, so
 * `{$gt: [<date>, null]}` was false). MongoDB compares values of different types by BSON type
 * order, and in expressions a missing value sorts below null: `{$eq: ["$missing", null]}` is false.
 */
import { evalExpr } from "mingo/core";
import type { Options } from "mingo/types";
import { compareValues } from "../compare.js";
import { valueOperator } from "../expressions.js";

function compareExpr(a: unknown, b: unknown): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? -1 : 1;
  return Math.sign(compareValues(a, b));
}

function comparison(name: string, test: (c: number) => boolean) {
  const apply = (args: unknown): boolean => {
    if (!Array.isArray(args) || args.length !== 2) throw new Error(`Expression ${name} takes exactly 2 arguments.`);
    return test(compareExpr(args[0], args[1]));
  };
  return valueOperator((obj: unknown, expr: unknown, options: Options): boolean => apply(evalExpr(obj, expr, options)), apply);
}

export const $eq = comparison("$eq", (c) => c === 0);
export const $ne = comparison("$ne", (c) => c !== 0);
export const $gt = comparison("$gt", (c) => c > 0);
export const $gte = comparison("$gte", (c) => c >= 0);
export const $lt = comparison("$lt", (c) => c < 0);
export const $lte = comparison("$lte", (c) => c <= 0);

function cmpOf(args: unknown): number {
  if (!Array.isArray(args) || args.length !== 2) throw new Error("Expression $cmp takes exactly 2 arguments.");
  return compareExpr(args[0], args[1]);
}

export const $cmp = valueOperator((obj: unknown, expr: unknown, options: Options): number => cmpOf(evalExpr(obj, expr, options)), cmpOf);
