import { Decimal128, Long } from "mongodb";
import { describe, expect, it } from "vitest";
import { memoryGbSeconds, runtimeMetrics } from "../../src/cost.js";
import { add, divideToInteger, divideToNumber, multiply, toDecimal } from "../../src/decimal.js";
import { AppError } from "../../src/errors.js";

const dec = (s: string) => toDecimal(Decimal128.fromString(s));
const PRICES = { sandbox_vcpu_hour_cents: 5, computer_vcpu_hour_cents: 10, storage_gb_hour_cents: 0.014 };

describe("exact decimals", () => {
  it("read Decimal128 in every spelling MongoDB answers, doubles as the decimal they print as, Longs and bigints", () => {
    expect(dec("2.50000000000000")).toEqual({ coef: 250000000000000n, exp: -14 });
    expect(dec("1.2E+10")).toEqual({ coef: 12n, exp: 9 });
    expect(dec("-3E-7")).toEqual({ coef: -3n, exp: -7 });
    expect(toDecimal(0.014)).toEqual({ coef: 14n, exp: -3 });
    expect(toDecimal(1e-7)).toEqual({ coef: 1n, exp: -7 });
    expect(toDecimal(Long.fromString("9223372036854775807"))).toEqual({ coef: 9223372036854775807n, exp: 0 });
    expect(toDecimal(null)).toEqual({ coef: 0n, exp: 0 });
    expect(() => toDecimal(Decimal128.fromString("NaN"))).toThrow(RangeError);
    expect(() => toDecimal(Number.POSITIVE_INFINITY)).toThrow(RangeError);
  });

  it("add and multiply exactly across exponents", () => {
    expect(add(dec("0.1"), dec("1E+20"))).toEqual({ coef: 1000000000000000000001n, exp: -1 });
    expect(multiply(toDecimal(0.1), toDecimal(0.2))).toEqual({ coef: 2n, exp: -2 });
  });

  it("round a quotient once: half up for cents, half to even for seconds, also past 2^53", () => {
    expect(divideToInteger({ coef: 5n, exp: -1 }, 1n, "half-up")).toBe(1);
    expect(divideToInteger({ coef: 25n, exp: -1 }, 1n, "half-even")).toBe(2);
    expect(divideToInteger({ coef: 35n, exp: -1 }, 1n, "half-even")).toBe(4);
    expect(divideToInteger({ coef: 18014398509481985n, exp: 0 }, 2n, "half-up")).toBe(9007199254740993n);
    expect(divideToNumber({ coef: 12345n, exp: 0 }, 10000n, 3, "half-even")).toBe(1.234);
    expect(divideToNumber({ coef: 12355n, exp: 0 }, 10000n, 3, "half-even")).toBe(1.236);
  });
});

describe("cost from exact sums", () => {
  it("prices vCPU- and GiB-milliseconds as DESIGN §3 says", () => {
    const hour = 3_600_000;
    const m = runtimeMetrics({ sandbox_vcpu_ms: Decimal128.fromString(String(2 * hour)), computer_vcpu_ms: 0, storage_gb_ms: Decimal128.fromString(`${10 * hour}.0`) }, PRICES);
    // 2 vCPU-hours × 5 + 10 GiB-hours × 0.014 = 10.14 → 10.
    expect(m).toEqual({ sandbox_seconds: 7200, computer_seconds: 0, storage_gb_hours: 10, credit_cents: 10 });
    expect(memoryGbSeconds({ memory_mb_ms: Decimal128.fromString(String(1024 * 1000 * 3)) })).toBe(3);
  });

  it("refuse a sum past 10^28 rather than answer it rounded", () => {
    const tooBig = Decimal128.fromString("1E+28");
    expect(() => runtimeMetrics({ storage_gb_ms: tooBig }, PRICES)).toThrow(AppError);
    expect(() => runtimeMetrics({ storage_gb_ms: Decimal128.fromString("9999999999999999999999999999.999999") }, PRICES)).not.toThrow();
  });
});
