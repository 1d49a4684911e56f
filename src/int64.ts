/**
 * Exact integers past 2^53. Counts and byte totals are summed by MongoDB as 64-bit integers, which
 * are exact far beyond what a JavaScript number holds (2^53 − 1), so they are carried exactly from
 * the write to the answer:
 * - writes: a whole number outside int32 goes to MongoDB as an int64 (`Long`), never as a double
 *   (the driver's default for such a number), so `$inc` and `$sum` stay integer arithmetic;
 * - reads: the driver returns an int64 as a number while it is a safe integer and as a `Long`
 *   past that; `exactInt` makes that a bigint;
 * - sums in this process (`addExact`) switch to bigint arithmetic rather than round;
 * - answers: JSON is written with every bigint as its exact digits (`stringifyJson`), for REST
 *   and GraphQL alike (the `Int64` scalar).
 */
import { GraphQLError, GraphQLScalarType, Kind } from "graphql";
import { Long } from "mongodb";
import { configure } from "safe-stable-stringify";

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** An exact integer: a number while it is a safe integer, a bigint past that. */
export type ExactInt = number | bigint;

const normal = (n: bigint): ExactInt => (n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n);

/** What the driver returned for an integer field (a number, a `Long`, a bigint, or nothing: 0) as an exact integer. */
export function exactInt(v: unknown): ExactInt {
  if (v === null || v === undefined) return 0;
  if (typeof v === "number") return v;
  if (typeof v === "bigint") return normal(v);
  if (Long.isLong(v)) return normal(v.toBigInt());
  throw new TypeError(`not an integer: ${String(v)}`);
}

/** a + b exactly: a number while the sum is a safe integer, a bigint past that. */
export function addExact(a: ExactInt, b: ExactInt): ExactInt {
  if (typeof a === "number" && typeof b === "number") {
    const s = a + b;
    if (Number.isSafeInteger(s)) return s;
  }
  return normal(BigInt(a) + BigInt(b));
}

/** An integer as it must be written for MongoDB to keep integer arithmetic: int32 as a number, wider as int64. */
export function toInt64(v: ExactInt): number | Long {
  if (typeof v === "number" && Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX) return v;
  const big = BigInt(v);
  if (big < INT64_MIN || big > INT64_MAX) throw new RangeError(`${big} is outside int64`);
  return Long.fromBigInt(big);
}

/** Every value of `record` as `toInt64` writes it: an `$inc` of exact integers. */
export function int64Values(record: Readonly<Record<string, ExactInt>>): Record<string, number | Long> {
  return Object.fromEntries(Object.entries(record).map(([f, v]) => [f, toInt64(v)]));
}

/** `doc` with the named integer fields written as `toInt64` makes them (a copy; other fields as they are). */
export function withInt64<T extends object>(doc: T, fields: readonly string[]): T {
  const out = { ...doc } as Record<string, unknown>;
  for (const f of fields) {
    const v = out[f];
    if (typeof v === "number" || typeof v === "bigint") out[f] = toInt64(v);
  }
  return out as T;
}

const stable = configure({ bigint: true, deterministic: false, circularValue: Error });

/**
 * JSON as `JSON.stringify` writes it, except that a bigint is written as its digits (an exact
 * JSON number) where `JSON.stringify` throws. The common case, no bigint anywhere, costs one
 * `JSON.stringify`.
 */
export function stringifyJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (err) {
    if (!(err instanceof TypeError) || !/BigInt/i.test(err.message)) throw err;
    return stable(value) as string;
  }
}

function int64Value(v: unknown): ExactInt {
  let n: ExactInt;
  if (typeof v === "number") {
    if (!Number.isInteger(v)) throw new GraphQLError(`Int64 cannot represent a non-integer: ${v}`);
    n = v;
  } else if (typeof v === "bigint" || Long.isLong(v)) n = exactInt(v);
  else if (typeof v === "string" && /^-?\d+$/.test(v)) n = normal(BigInt(v));
  else throw new GraphQLError(`Int64 cannot represent: ${String(v)}`);
  if (typeof n === "bigint" && (n < INT64_MIN || n > INT64_MAX)) throw new GraphQLError(`Int64 cannot represent ${n}: outside ±2^63`);
  return n;
}

/**
 * A signed 64-bit integer, answered as an exact JSON number (digits past 2^53 included, which a
 * client must parse without going through a double to keep them). Sums of counts and bytes use it.
 */
export const Int64Scalar = new GraphQLScalarType<ExactInt, ExactInt>({
  name: "Int64",
  description: "A signed 64-bit integer, written as an exact JSON number (past 2^53 too).",
  serialize: int64Value,
  parseValue: int64Value,
  parseLiteral(ast) {
    if (ast.kind !== Kind.INT) throw new GraphQLError(`Int64 cannot represent a non-integer literal`, { nodes: ast });
    return int64Value(ast.value);
  },
});
