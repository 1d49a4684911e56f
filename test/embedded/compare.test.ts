/**
 * compareValues (src/embedded/engine/compare.ts) is the engine's one BSON order: index keys,
 * $sort, range operators, $min/$max and equality all rest on it. Its fast paths are checked here
 * against the straightforward implementation they replaced (kept below as the reference), on
 * random BSON values of every type, nested documents and arrays included (fast-check, fixed seed).
 * The reference compares numbers as exact fractions, whatever their types (a Long past 2^53, a
 * Decimal128 with more digits than a double, 0.1 as a decimal below the double 0.1), and sorts a
 * Timestamp as a timestamp (bson's Timestamp extends Long; both once sorted it as a number).
 */
import { Binary, Decimal128, Long, MaxKey, MinKey, ObjectId, Timestamp } from "bson";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareValues, HIGHEST, LOWEST } from "../../src/embedded/engine/compare.js";

/* The reference: compare.ts before its fast paths. */
function refTypeRank(v: unknown): number {
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
  if (v instanceof MinKey) return -1;
  if (v instanceof MaxKey) return 99;
  // Timestamp extends Long in the bson package: it is not a number.
  if (v instanceof Timestamp) return 10;
  if (v instanceof Long || v instanceof Decimal128) return 2;
  if (v instanceof Date) return 9;
  if (v instanceof ObjectId) return 7;
  if (v instanceof RegExp) return 11;
  if (v instanceof Binary || v instanceof Uint8Array) return 6;
  if (Array.isArray(v)) return 5;
  return 4;
}

/** A number's exact value as a fraction num/den (den > 0), or NaN/±Infinity. */
function refExact(v: unknown): { num: bigint; den: bigint } | number {
  if (typeof v === "bigint") return { num: v, den: 1n };
  if (v instanceof Long) return { num: BigInt(v.toString()), den: 1n };
  if (typeof v === "number") {
    if (!Number.isFinite(v)) return v;
    // v = m / 2^k with an integer m.
    let m = v;
    let den = 1n;
    while (!Number.isInteger(m)) {
      m *= 2;
      den *= 2n;
    }
    return { num: BigInt(m), den };
  }
  const s = (v as Decimal128).toString();
  if (s === "NaN") return NaN;
  if (s.endsWith("Infinity")) return s.startsWith("-") ? -Infinity : Infinity;
  const [mantissa, e = "0"] = s.split("E");
  const [whole, frac = ""] = mantissa!.split(".");
  const exp = Number(e) - frac.length;
  const num = BigInt(whole! + frac);
  return exp >= 0 ? { num: num * 10n ** BigInt(exp), den: 1n } : { num, den: 10n ** BigInt(-exp) };
}

function refNumbers(a: unknown, b: unknown): number {
  const x = refExact(a);
  const y = refExact(b);
  if (typeof x === "number" || typeof y === "number") {
    const p = typeof x === "number" ? x : 0;
    const q = typeof y === "number" ? y : 0;
    // NaN below every other number (a NaN once compared equal to any Long, which broke the order:
    // NaN < 0 = Long 0 = NaN, and an index holding all three lost entries).
    if (Number.isNaN(p) || Number.isNaN(q)) return Number.isNaN(p) ? (Number.isNaN(q) ? 0 : -1) : 1;
    return p < q ? -1 : p > q ? 1 : 0;
  }
  const l = x.num * y.den;
  const r = y.num * x.den;
  return l < r ? -1 : l > r ? 1 : 0;
}

function refBytes(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  }
  return 0;
}

function reference(a: unknown, b: unknown): number {
  const ra = refTypeRank(a);
  const rb = refTypeRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 1:
    case -1:
    case 99:
    case -10:
    case 100:
      return 0;
    case 2: {
      if (typeof a === "number" && typeof b === "number") {
        // NaN sorts below every other number, as in MongoDB.
        if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : -1;
        if (Number.isNaN(b)) return 1;
        return a < b ? -1 : a > b ? 1 : 0;
      }
      // Exact across types: an int64 past 2^53, a decimal with more digits than a double.
      return refNumbers(a, b);
    }
    case 3:
      // MongoDB's simple collation: UTF-8 bytes.
      return Buffer.compare(Buffer.from(String(a), "utf8"), Buffer.from(String(b), "utf8"));
    case 4:
      return refObjects(a as Record<string, unknown>, b as Record<string, unknown>);
    case 5:
      return refArrays(a as unknown[], b as unknown[]);
    case 6: {
      const x = a instanceof Binary ? a.buffer : (a as Uint8Array);
      const y = b instanceof Binary ? b.buffer : (b as Uint8Array);
      return refBytes(x, y);
    }
    case 7:
      return refBytes((a as ObjectId).id, (b as ObjectId).id);
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

function refArrays(a: readonly unknown[], b: readonly unknown[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = reference(a[i], b[i]);
    if (c !== 0) return c;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function refObjects(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  const n = Math.min(ka.length, kb.length);
  for (let i = 0; i < n; i++) {
    const c = reference(a[ka[i]!], b[kb[i]!]);
    if (c !== 0) return c;
    if (ka[i] !== kb[i]) return ka[i]! < kb[i]! ? -1 : 1;
  }
  return ka.length === kb.length ? 0 : ka.length < kb.length ? -1 : 1;
}


const leaf = fc.oneof(
  fc.double(),
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 0.5, 2 ** 53, -(2 ** 60)),
  fc.string({ maxLength: 3 }),
  fc.constantFrom("", "a", "b", "ab", "\u00e9", "\ud83d\ude00", "\uffff", "\ue000", "a\ud83d\ude00", "a\uffff"),
  fc.boolean(),
  fc.constantFrom(null, undefined),
  fc.integer({ min: -3, max: 3 }).map((n) => new Date(Date.UTC(2026, 0, 1) + n * 1000)),
  fc.constantFrom(new ObjectId("65a000000000000000000001"), new ObjectId("65a000000000000000000002")),
  fc.integer({ min: -3, max: 3 }).map((n) => Long.fromNumber(n)),
  fc.constantFrom(Long.fromString("9223372036854775807"), Decimal128.fromString("1.5"), Decimal128.fromString("-2")),
  // Where a double's view of the value is not enough: past 2^53, 0.1 as a decimal and a double,
  // 34 digits, decimals beyond the doubles, decimal NaN, infinities and signed zeros.
  fc.constantFrom(0.1, 2 ** 53 + 2, 1e300, 5e-324, Long.fromString("9007199254740993"), Long.fromString("-9223372036854775808")),
  fc.constantFrom(
    Decimal128.fromString("0.1"), Decimal128.fromString("0.1000000000000000055511151231257827"), Decimal128.fromString("9007199254740993"),
    Decimal128.fromString("9007199254740992.5"), Decimal128.fromString("1.000000000000000000000000000000001"), Decimal128.fromString("1.00"),
    Decimal128.fromString("1E+400"), Decimal128.fromString("-1E-400"), Decimal128.fromString("NaN"), Decimal128.fromString("Infinity"),
    Decimal128.fromString("-Infinity"), Decimal128.fromString("-0.00"), Decimal128.fromString("9223372036854775807"),
  ),
  fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }).map((n) => Decimal128.fromString(`${n}E-${Number(n % 7n < 0n ? -n % 7n : n % 7n)}`)),
  fc.constantFrom(new Binary(Buffer.from("ab")), new Binary(Buffer.from("b")), /a/i, /b/, new MinKey(), new MaxKey()),
  fc.constantFrom(new Timestamp({ t: 1, i: 1 }), new Timestamp({ t: 2, i: 0 })),
  // ObjectIds that differ in any byte (bson keeps them as four 24-bit words).
  fc.uint8Array({ minLength: 12, maxLength: 12, max: 3 }).map((bytes) => new ObjectId(bytes)),
);
const { value } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small", withCrossShrink: true }, leaf, tie("array"), tie("object")),
  array: fc.array(tie("value"), { maxLength: 3 }),
  object: fc.dictionary(fc.constantFrom("a", "b", "c"), tie("value"), { maxKeys: 3, noNullPrototype: true }),
}));

describe("compareValues", () => {
  it("orders random BSON values exactly as the reference implementation", () => {
    fc.assert(
      fc.property(value, value, (a, b) => {
        const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);
        expect(sign(compareValues(a, b))).toBe(sign(reference(a, b)));
        expect(sign(compareValues(b, a))).toBe(-sign(compareValues(a, b)) || 0);
      }),
      { seed: 20260529, numRuns: 5000 },
    );
  });

  it("keeps the cases the fast paths take: strings by UTF-8 bytes, NaN lowest, -0 equal to 0, documents before arrays", () => {
    expect(compareValues("a", "b")).toBe(-1);
    expect(compareValues("b", "ab")).toBe(1);
    expect(compareValues(NaN, -Infinity)).toBe(-1);
    expect(compareValues(NaN, NaN)).toBe(0);
    expect(compareValues(NaN, Long.fromNumber(0))).toBe(-1);
    expect(compareValues(Long.fromNumber(-5), NaN)).toBe(1);
    expect(compareValues(Decimal128.fromString("NaN"), Decimal128.fromString("-1"))).toBe(-1);
    expect(compareValues(Decimal128.fromString("NaN"), NaN)).toBe(0);
    expect(compareValues(-0, 0)).toBe(0);
    expect(compareValues(1, "1")).toBe(-1);
    expect(compareValues({ a: 1 }, [1])).toBe(-1);
    expect(compareValues(Object.create(null), {})).toBe(0);
    expect(compareValues({ a: 1, b: 2 }, { b: 2, a: 1 })).not.toBe(0);
    expect(compareValues(LOWEST, null)).toBe(-1);
    expect(compareValues(HIGHEST, new MaxKey())).toBe(1);
  });
});
