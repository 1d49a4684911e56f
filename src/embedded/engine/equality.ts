/**
 * MongoDB's equality of values as a string: `equalityKey(a) === equalityKey(b)` exactly when
 * MongoDB's value comparison finds `a` and `b` equal, which is how `$group` tells groups apart and
 * `$addToSet` tells elements apart. So:
 * - numbers are equal by value across BSON types: int 1, double 1.0, Long 1 and Decimal128 "1.0"
 *   are one key (a Decimal128 equals a double only when the double holds exactly its value);
 *   NaN equals NaN, -0 equals 0;
 * - null and missing are one key (`undefined` is missing); inside an object, a field whose value
 *   is missing is no field at all (as in MongoDB's documents), inside an array it is null;
 * - dates are equal by instant, ObjectIds by bytes, binary data by subtype and bytes;
 * - objects are equal field by field in order (so `{a: 1, b: 2}` is not `{b: 2, a: 1}`), arrays
 *   element by element.
 * Every encoding starts with a type tag and is self-delimiting (strings and field names carry their
 * length), so no two different values, nested or not, share an encoding. Values of other classes
 * fall back to `compareValues`, through a registry of the distinct ones seen so far.
 */
import { Binary, Decimal128, Long, MaxKey, MinKey, ObjectId, Timestamp } from "bson";
import { compareValues } from "./compare.js";
import { doubleToDecimal, fromDecimal128, normalizeDecimal } from "./decimal.js";

export class EqualityKeys {
  /** Values no tag covers, each distinct one (by compareValues) once: keyed by position. */
  private readonly others: unknown[] = [];

  key(v: unknown): string {
    switch (typeof v) {
      case "string":
        return "s" + v.length + ":" + v;
      case "number":
        return numberKey(v);
      case "boolean":
        return v ? "T" : "F";
      case "undefined":
        return "z";
      case "bigint":
        return "n" + v.toString() + ";";
      case "object":
        if (v === null) return "z";
        if (v instanceof Date) return "t" + v.getTime() + ";";
        if (Array.isArray(v)) {
          let s = "[";
          for (let i = 0; i < v.length; i++) s += this.key(v[i]);
          return s + "]";
        }
        if (isPlainDocument(v)) {
          let s = "{";
          for (const k in v) {
            const x = (v as Record<string, unknown>)[k];
            if (x !== undefined) s += k.length + ":" + k + this.key(x);
          }
          return s + "}";
        }
        return this.classKey(v);
    }
    return this.otherKey(v);
  }

  private classKey(v: object): string {
    // Timestamp extends Long in the bson package: test it first.
    if (v instanceof Timestamp) return "p" + v.toString() + ";";
    if (v instanceof Long) return longKey(v);
    if (v instanceof ObjectId) return "o" + v.toHexString();
    if (v instanceof Decimal128) return decimalKey(v);
    if (v instanceof Binary) return "b" + v.sub_type + ":" + bytesKey(v.buffer.subarray(0, v.position));
    if (v instanceof Uint8Array) return "b0:" + bytesKey(v);
    if (v instanceof RegExp) return "r" + v.source.length + ":" + v.source + v.flags + ";";
    if (v instanceof MinKey) return "m";
    if (v instanceof MaxKey) return "M";
    return this.otherKey(v);
  }

  private otherKey(v: unknown): string {
    let i = this.others.findIndex((o) => compareValues(o, v) === 0);
    if (i < 0) i = this.others.push(v) - 1;
    return "x" + i + ";";
  }
}

/** A plain document (not an instance of a BSON class or Date). */
function isPlainDocument(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function bytesKey(bytes: Uint8Array): string {
  return bytes.length + ":" + Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("hex");
}

/** Integers by their decimal digits (exact, also beyond 2^53), other doubles by their shortest round-trip form. */
export function numberKey(n: number): string {
  if (Number.isSafeInteger(n)) return "n" + (n === 0 ? 0 : n) + ";";
  if (Number.isInteger(n)) return "n" + BigInt(n).toString() + ";";
  if (Number.isNaN(n)) return "nNaN;";
  if (n === Infinity) return "nInf;";
  if (n === -Infinity) return "n-Inf;";
  return "n" + n + ";";
}

function longKey(v: Long): string {
  const big = v.toBigInt();
  return "n" + big.toString() + ";";
}

function decimalKey(d: Decimal128): string {
  const parsed = fromDecimal128(d);
  if (typeof parsed === "number") return numberKey(parsed);
  const { coef, exp } = normalizeDecimal(parsed);
  if (exp >= 0) return "n" + (coef * 10n ** BigInt(exp)).toString() + ";";
  // A fraction equals a double only when the double holds exactly this value.
  const x = Number(`${coef}e${exp}`);
  if (Number.isFinite(x) && !Number.isInteger(x)) {
    const exact = doubleToDecimal(x);
    if (exact.coef === coef && exact.exp === exp) return numberKey(x);
  }
  return "d" + coef.toString() + "e" + exp + ";";
}
