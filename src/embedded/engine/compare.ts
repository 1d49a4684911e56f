/**
 * MongoDB's total order over BSON values, used for index keys (and so for index range scans).
 * Types order as MongoDB documents them: MinKey < null/missing < numbers < strings < objects <
 * arrays < binary < ObjectId < booleans < dates < timestamps < regular expressions < MaxKey.
 */
import { Binary, Decimal128, Long, MaxKey, MinKey, ObjectId, Timestamp } from "bson";
import { compareNumbers } from "./numeric.js";

/** Sentinels that sort below and above every BSON value; used to bound index range scans. */
export const LOWEST = Symbol("lowest");
export const HIGHEST = Symbol("highest");

export function typeRank(v: unknown): number {
  if (v === LOWEST) return -10;
  if (v === HIGHEST) return 100;
  if (v === undefined || v === null) return 1;
  switch (typeof v) {
    case "number":
    case "bigint":
      return 2;
    case "string":
      return 3;
    case "boolean":
      return 8;
    case "symbol":
      return 3;
  }
  // Documents and arrays first: the common objects, without the instanceof chain below.
  if (Array.isArray(v)) return 5;
  const proto = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) return 4;
  if (v instanceof Date) return 9;
  if (v instanceof ObjectId) return 7;
  if (v instanceof MinKey) return -1;
  if (v instanceof MaxKey) return 99;
  // Timestamp extends Long in the bson package: test it first.
  if (v instanceof Timestamp) return 10;
  if (v instanceof Long || v instanceof Decimal128) return 2;
  if (v instanceof RegExp) return 11;
  if (v instanceof Binary || v instanceof Uint8Array) return 6;
  if (Array.isArray(v)) return 5;
  return 4;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  }
  return 0;
}

/** bson's ObjectId keeps its 12 bytes as four 24-bit big-endian numbers (its `id` getter copies them into a new buffer). */
interface ObjectIdWords {
  i0?: unknown;
  i1: number;
  i2: number;
  i3: number;
}

function compareObjectIds(a: ObjectId, b: ObjectId): number {
  const x = a as unknown as ObjectIdWords;
  const y = b as unknown as ObjectIdWords;
  if (typeof x.i0 === "number" && typeof y.i0 === "number") {
    if (x.i0 !== y.i0) return x.i0 < y.i0 ? -1 : 1;
    if (x.i1 !== y.i1) return x.i1 < y.i1 ? -1 : 1;
    if (x.i2 !== y.i2) return x.i2 < y.i2 ? -1 : 1;
    if (x.i3 !== y.i3) return x.i3 < y.i3 ? -1 : 1;
    return 0;
  }
  return compareBytes(a.id, b.id);
}

/**
 * Strings in MongoDB's simple (binary) collation: by their UTF-8 bytes, which is code point order.
 * JavaScript's `<` compares UTF-16 code units, which agrees except where the first difference is a
 * surrogate (a code point above U+FFFF) against a unit in U+E000..U+FFFF: UTF-16 puts the surrogate
 * first, UTF-8 puts it last ("\u{1F600}" > "\uFFFF"). So: find the first differing unit, and lift
 * surrogates above the rest of the BMP before comparing it. Plain text never reaches that branch.
 */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = a.length < b.length ? a.length : b.length;
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === n) return a.length < b.length ? -1 : 1;
  let x = a.charCodeAt(i);
  let y = b.charCodeAt(i);
  if (x >= 0xd800 && y >= 0xd800) {
    if (x <= 0xdfff) x += 0x10000;
    if (y <= 0xdfff) y += 0x10000;
  }
  return x < y ? -1 : 1;
}

export function compareValues(a: unknown, b: unknown): number {
  // The common cases first: two strings, two numbers.
  if (typeof a === "string") {
    if (typeof b === "string") return compareStrings(a, b);
  } else if (typeof a === "number" && typeof b === "number") {
    if (a < b) return -1;
    if (a > b) return 1;
    if (a === b) return 0;
    // NaN sorts below every other number, as in MongoDB.
    return Number.isNaN(a) ? (Number.isNaN(b) ? 0 : -1) : 1;
  }
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 1:
    case -1:
    case 99:
    case -10:
    case 100:
      return 0;
    case 2:
      if (a instanceof Long && b instanceof Long) return a.compare(b);
      // Exactly across types (a long past 2^53 against a double, a decimal against 0.1); NaN,
      // a double's or a Decimal128's, sorts below every other number.
      return compareNumbers(a, b);
    case 3:
      return compareStrings(String(a), String(b));
    case 4:
      return compareObjects(a as Record<string, unknown>, b as Record<string, unknown>);
    case 5:
      return compareArrays(a as unknown[], b as unknown[]);
    case 6: {
      const x = a instanceof Binary ? a.buffer : (a as Uint8Array);
      const y = b instanceof Binary ? b.buffer : (b as Uint8Array);
      return compareBytes(x, y);
    }
    case 7:
      return compareObjectIds(a as ObjectId, b as ObjectId);
    case 8:
      return a === b ? 0 : a ? 1 : -1;
    case 9: {
      const x = (a as Date).getTime();
      const y = (b as Date).getTime();
      return x < y ? -1 : x > y ? 1 : 0;
    }
    case 10:
      return (a as Timestamp).compare(b as Timestamp);
    case 11: {
      const x = String(a);
      const y = String(b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
  }
  return 0;
}

function compareArrays(a: readonly unknown[], b: readonly unknown[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareValues(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function compareObjects(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  const n = Math.min(ka.length, kb.length);
  for (let i = 0; i < n; i++) {
    const c = compareValues(a[ka[i]!], b[kb[i]!]);
    if (c !== 0) return c;
    if (ka[i] !== kb[i]) return compareStrings(ka[i]!, kb[i]!);
  }
  return ka.length === kb.length ? 0 : ka.length < kb.length ? -1 : 1;
}

/** Index keys are tuples; the last element is the record id, which makes every key unique. */
export function compareKeys(a: readonly unknown[], b: readonly unknown[]): number {
  return compareArrays(a, b);
}
