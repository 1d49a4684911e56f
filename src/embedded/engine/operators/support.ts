/**
 * What the engine's expression operators share: MongoDB's errors (codes and messages), argument
 * counts, BSON type names and truthiness (Value::coerceToBool).
 */
import { Decimal128, Long, Timestamp } from "bson";
import { MongoCommandError } from "../errors.js";
import { bsonType } from "./query.js";

const CODE_NAMES: Record<number, string> = {
  2: "BadValue",
  14: "TypeMismatch",
  15: "Overflow",
  146: "ExceededMemoryLimit",
  241: "ConversionFailure",
};

/** A failed expression, as mongod reports it (`Location<code>` unless the code has a name). */
export function exprError(code: number, message: string): MongoCommandError {
  return new MongoCommandError(code, CODE_NAMES[code] ?? `Location${code}`, message);
}

export function typeMismatch(message: string): MongoCommandError {
  return exprError(14, message);
}

/** MongoDB's name for a value's type in messages ("double", "int", "string", "missing", ...). */
export function typeName(v: unknown): string {
  return bsonType(v);
}

/** An operator's argument as the list of its operands: `{$op: x}` is one operand, `{$op: [x, y]}` two. */
export function operands(args: unknown): unknown[] {
  return Array.isArray(args) ? args : [args];
}

/** Exactly `n` operands (ExpressionFixedArity), else MongoDB's parse error 16020. */
export function fixedArity(name: string, args: unknown, n: number): unknown[] {
  const list = operands(args);
  if (list.length !== n) throw exprError(16020, `Expression ${name} takes exactly ${n} arguments. ${list.length} were passed in.`);
  return list;
}

/** Between `min` and `max` operands (ExpressionRangedArity), else MongoDB's parse error 28667. */
export function rangedArity(name: string, args: unknown, min: number, max: number): unknown[] {
  const list = operands(args);
  if (list.length < min || list.length > max) {
    throw exprError(28667, `Expression ${name} takes at least ${min} arguments, and at most ${max}, but ${list.length} were passed in.`);
  }
  return list;
}

export const isNullish = (v: unknown): v is null | undefined => v === null || v === undefined;

/** Long, Decimal128 (and BigInt) numbers: the numbers that are not JS numbers (a Timestamp is not one). */
export function isWideNumber(v: unknown): boolean {
  return (v instanceof Long && !(v instanceof Timestamp)) || v instanceof Decimal128 || typeof v === "bigint";
}

/**
 * MongoDB's truthiness (Value::coerceToBool): false, null, missing and numeric zeros are false;
 * everything else is true, including "" and NaN (mingo's truthy counts NaN as false and a Long or
 * Decimal128 zero as true).
 */
export function isTruthy(v: unknown): boolean {
  if (v === true) return true;
  if (v === false || v === null || v === undefined) return false;
  if (typeof v === "number") return v !== 0;
  // A Timestamp (a Long in the bson package) is not a number: true, as any non-numeric value.
  if (v instanceof Long) return v instanceof Timestamp || !v.isZero();
  if (v instanceof Decimal128) return Number(v.toString()) !== 0;
  if (typeof v === "bigint") return v !== 0n;
  return true;
}

/**
 * A name a `$let`, `$map` or `$filter` may bind (variableValidation::validateNameForUserWrite):
 * a lowercase ASCII letter or a non-ASCII character first, then letters, digits, `_` or non-ASCII.
 */
export function validateVariableName(name: unknown): string {
  if (typeof name !== "string" || name === "") throw exprError(16866, "empty variable names are not allowed");
  const first = name.charCodeAt(0);
  if (!((first >= 97 && first <= 122) || first > 127)) {
    throw exprError(16867, `'${name}' starts with an invalid character for a user variable name`);
  }
  for (const ch of name) {
    const c = ch.charCodeAt(0);
    const ok = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c > 127;
    if (!ok) throw exprError(16868, `'${name}' contains an invalid character for a variable name: '${ch}'`);
  }
  return name;
}

/** A value as MongoDB shows it in a message (roughly Value::toString). */
export function describeValue(v: unknown): string {
  if (v === undefined) return "missing";
  if (typeof v === "string") return JSON.stringify(v);
  if (v instanceof Date) return v.toISOString();
  if (typeof v === "bigint") return v.toString();
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** `x` rounded to the nearest integer, halves away from zero (C's llround). */
export function llround(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

export { isInt32 } from "../numeric.js";
