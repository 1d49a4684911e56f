/**
 * Query operators where MongoDB's semantics differ from mingo's: range comparisons across every
 * numeric BSON type (int, double, Long, Decimal128) with type bracketing, and `$type` by BSON type.
 */
import { Decimal128, Long, MaxKey, MinKey, ObjectId, Timestamp, Binary } from "bson";
import { compareValues, typeRank } from "../compare.js";
import { type Doc, isPlainObject, valuesAtPath } from "../paths.js";

type Predicate = (doc: Doc) => boolean;

function range(test: (c: number) => boolean) {
  return (selector: string, arg: unknown): Predicate => {
    const rank = typeRank(arg);
    const parts = selector.split(".");
    return (doc) => {
      // The common case without valuesAtPath's arrays: plain documents down to a value that is not an array.
      let one: unknown = doc;
      for (let i = 0; i < parts.length; i++) {
        if (isPlainObject(one)) one = one[parts[i]!];
        else if (Array.isArray(one)) break;
        else {
          one = undefined;
          break;
        }
      }
      if (!Array.isArray(one)) {
        const v = one === undefined ? null : one;
        return typeRank(v) === rank && test(compareValues(v, arg));
      }
      const { values } = valuesAtPath(doc, selector);
      for (const raw of values) {
        // Missing compares as null, so {$gte: null} matches it as in MongoDB.
        const v = raw === undefined ? null : raw;
        if (typeRank(v) === rank && test(compareValues(v, arg))) return true;
      }
      return false;
    };
  };
}

export const $gt = range((c) => c > 0);
export const $gte = range((c) => c >= 0);
export const $lt = range((c) => c < 0);
export const $lte = range((c) => c <= 0);

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

export function bsonType(v: unknown): string {
  if (v === undefined) return "missing";
  if (v === null) return "null";
  switch (typeof v) {
    case "number":
      return Number.isInteger(v) && v >= INT32_MIN && v <= INT32_MAX && !Object.is(v, -0) ? "int" : "double";
    case "string":
      return "string";
    case "boolean":
      return "bool";
    case "bigint":
      return "long";
  }
  // Timestamp extends Long in the bson package: test it first.
  if (v instanceof Timestamp) return "timestamp";
  if (v instanceof Long) return "long";
  if (v instanceof Decimal128) return "decimal";
  if (v instanceof Date) return "date";
  if (v instanceof ObjectId) return "objectId";
  if (v instanceof RegExp) return "regex";
  if (v instanceof MinKey) return "minKey";
  if (v instanceof MaxKey) return "maxKey";
  if (v instanceof Binary || v instanceof Uint8Array) return "binData";
  if (Array.isArray(v)) return "array";
  return isPlainObject(v) ? "object" : "object";
}

const TYPE_CODES: Record<number, string> = {
  1: "double", 2: "string", 3: "object", 4: "array", 5: "binData", 7: "objectId", 8: "bool", 9: "date",
  10: "null", 11: "regex", 16: "int", 17: "timestamp", 18: "long", 19: "decimal", [-1]: "minKey", 127: "maxKey",
};
const NUMBER_TYPES = new Set(["int", "long", "double", "decimal"]);

function typeMatches(actual: string, wanted: unknown): boolean {
  const name = typeof wanted === "number" ? TYPE_CODES[wanted] : String(wanted);
  if (name === undefined) throw new Error(`Invalid numerical type code: ${String(wanted)}`);
  return name === "number" ? NUMBER_TYPES.has(actual) : actual === name;
}

export function $type(selector: string, arg: unknown): Predicate {
  const wanted = Array.isArray(arg) ? arg : [arg];
  return (doc) => {
    // An array field matches "array" itself, and any type one of its elements has.
    const whole = valuesAtPath(doc, selector, false).values;
    const elements = valuesAtPath(doc, selector).values;
    for (const v of [...whole, ...elements]) {
      if (v === undefined) continue;
      const actual = bsonType(v);
      if (wanted.some((w) => typeMatches(actual, w))) return true;
    }
    return false;
  };
}
