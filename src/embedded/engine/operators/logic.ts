/**
 * Boolean, conditional and variable expressions with MongoDB's semantics, compiled (see
 * expressions.ts): `$and`, `$or`, `$not`, `$cond`, `$ifNull`, `$literal`, `$let`.
 * - Truthiness is MongoDB's (Value::coerceToBool, `isTruthy`): NaN is true, "" is true, a Long or
 *   Decimal128 zero is false (mingo: NaN false, Long/Decimal128 zero true).
 * - `$and`/`$or` stop at the first operand that decides (MongoDB evaluates no further, so a later
 *   operand's error is not raised); `$cond` evaluates only the branch taken; `$ifNull` stops at
 *   the first value that is neither null nor missing and otherwise answers the last value as it is.
 * - Argument counts are checked as MongoDB parses them: `$not` takes exactly one (16020), `$cond`
 *   three (16020) or `{if, then, else}` (17080–17083), `$ifNull` at least two (1257300), and
 *   `$let` is `{vars, in}` (16874–16877) binding valid variable names (16866–16868), each var
 *   evaluated outside the `$let`.
 */
import * as mingoExpression from "mingo/operators/expression";
import { type Cell, engineOperator, type OperatorFn, type Evaluate, type Scope } from "../expressions.js";
import { type Doc, isPlainObject } from "../paths.js";
import { exprError, fixedArity, isNullish, isTruthy, operands, validateVariableName } from "./support.js";

/** mingo's own operators, for what the engine leaves to them. */
const mingo = mingoExpression as unknown as { [K in keyof typeof mingoExpression]: OperatorFn };

function compileAll(args: unknown, scope: Scope): Evaluate[] {
  return operands(args).map((e) => scope.compile(e));
}

export const $and = engineOperator((args, scope) => {
  const ops = compileAll(args, scope);
  const n = ops.length;
  if (n === 2) {
    const [a, b] = ops as [Evaluate, Evaluate];
    return (doc) => isTruthy(a(doc)) && isTruthy(b(doc));
  }
  return (doc) => {
    for (let i = 0; i < n; i++) if (!isTruthy(ops[i]!(doc))) return false;
    return true;
  };
}, mingo.$and);

export const $or = engineOperator((args, scope) => {
  const ops = compileAll(args, scope);
  const n = ops.length;
  return (doc) => {
    for (let i = 0; i < n; i++) if (isTruthy(ops[i]!(doc))) return true;
    return false;
  };
}, mingo.$or);

export const $not = engineOperator((args, scope) => {
  const [operand] = fixedArity("$not", args, 1);
  const value = scope.compile(operand);
  return (doc) => !isTruthy(value(doc));
}, mingo.$not);

const COND_FIELDS = ["if", "then", "else"];

export const $cond = engineOperator((args, scope) => {
  let parts: unknown[];
  if (isPlainObject(args)) {
    for (const k of Object.keys(args)) if (!COND_FIELDS.includes(k)) throw exprError(17083, `Unrecognized parameter to $cond: ${k}`);
    if (!("if" in args)) throw exprError(17080, "Missing 'if' parameter to $cond");
    if (!("then" in args)) throw exprError(17081, "Missing 'then' parameter to $cond");
    if (!("else" in args)) throw exprError(17082, "Missing 'else' parameter to $cond");
    parts = [args.if, args.then, args.else];
  } else parts = fixedArity("$cond", args, 3);
  const [test, then, otherwise] = parts.map((e) => scope.compile(e)) as [Evaluate, Evaluate, Evaluate];
  return (doc) => (isTruthy(test(doc)) ? then(doc) : otherwise(doc));
}, mingo.$cond);

export const $ifNull = engineOperator((args, scope) => {
  const ops = compileAll(args, scope);
  if (ops.length < 2) throw exprError(1257300, `$ifNull needs at least two arguments, had: ${ops.length}`);
  const last = ops.length - 1;
  if (last === 1) {
    const [a, b] = ops as [Evaluate, Evaluate];
    return (doc) => {
      const v = a(doc);
      return isNullish(v) ? b(doc) : v;
    };
  }
  return (doc) => {
    for (let i = 0; i < last; i++) {
      const v = ops[i]!(doc);
      if (!isNullish(v)) return v;
    }
    return ops[last]!(doc);
  };
}, mingo.$ifNull);

export const $literal = engineOperator((args) => () => args, mingo.$literal);

export const $let = engineOperator((args, scope) => {
  if (!isPlainObject(args)) throw exprError(16874, "$let only supports an object as its argument");
  for (const k of Object.keys(args)) if (k !== "vars" && k !== "in") throw exprError(16875, `Unrecognized parameter to $let: ${k}`);
  if (!("vars" in args)) throw exprError(16876, "Missing 'vars' parameter to $let");
  if (!("in" in args)) throw exprError(16877, "Missing 'in' parameter to $let");
  const vars = args.vars;
  if (!isPlainObject(vars)) return null;
  const names = Object.keys(vars).map(validateVariableName);
  const values = names.map((n) => scope.compile((vars as Doc)[n]));
  const { scope: inner, cells } = scope.bind(names);
  const body = inner.compile(args.in);
  return (doc) => {
    // Every var is evaluated before any is bound (they cannot see each other).
    const evaluated = values.map((v) => v(doc));
    for (let i = 0; i < cells.length; i++) (cells[i] as Cell).value = evaluated[i];
    return body(doc);
  };
}, mingo.$let);
