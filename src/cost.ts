/**
 * DESIGN §3's arithmetic on exact sums: vCPU-seconds, GiB-hours, GiB-seconds and cents from the
 * vCPU-, GiB- and MiB-milliseconds a pipeline summed as Decimal128 (pipelines/runtime.ts,
 * `decimalTimes`). Every figure is rounded once, from the exact value: seconds to the millisecond
 * and GiB-hours to the millionth, half to even (as `$round` did); cents half up.
 *
 * Exactness: ingest takes vcpus, memory_mb and storage_gb to at most 6 decimal places, so every
 * product is a multiple of 10^-6 and a Decimal128 sum of them is exact while it stays below 10^28
 * (34 significant digits). A sum at or past that (some 3 × 10^17 vCPU-years in one row) is
 * refused rather than answered rounded.
 */
import { type Decimal, add, divideToInteger, divideToNumber, magnitude, multiply, toDecimal } from "./decimal.js";
import { badInput } from "./errors.js";
import type { ExactInt } from "./int64.js";

export interface Prices {
  sandbox_vcpu_hour_cents: number;
  computer_vcpu_hour_cents: number;
  storage_gb_hour_cents: number;
}

/** The sums of one row, in milli-units, as the pipeline returned them (Decimal128, numbers, or nothing). */
export interface RuntimeSums {
  sandbox_vcpu_ms?: unknown;
  computer_vcpu_ms?: unknown;
  storage_gb_ms?: unknown;
  memory_mb_ms?: unknown;
}

/** Decimal places ingest allows in vcpus, memory_mb and storage_gb (a millionth of a vCPU, a byte of MiB, a KiB-ish of GiB). */
export const RESOURCE_DECIMALS = 6;
/** Integer digits a sum may have and still be exact in Decimal128 (34 digits, 6 of them decimals). */
const EXACT_INTEGER_DIGITS = 34 - RESOURCE_DECIMALS;

const MS_PER_SECOND = 1000n;
const MS_PER_HOUR = 3_600_000n;
/** MiB × ms per GiB-second. */
const MIB_MS_PER_GIB_SECOND = 1024n * 1000n;

function exact(v: unknown): Decimal {
  const d = toDecimal(v);
  if (magnitude(d) > EXACT_INTEGER_DIGITS) {
    throw badInput("The usage in this period is too large to compute exactly (a sum past 10^28 unit-milliseconds); ask for a shorter period or a finer group");
  }
  return d;
}

export interface RuntimeMetrics {
  sandbox_seconds: number;
  computer_seconds: number;
  storage_gb_hours: number;
  credit_cents: ExactInt;
}

/** MIOSA's four figures of one row at `prices`. */
export function runtimeMetrics(sums: RuntimeSums, prices: Prices): RuntimeMetrics {
  const sandbox = exact(sums.sandbox_vcpu_ms);
  const computer = exact(sums.computer_vcpu_ms);
  const storage = exact(sums.storage_gb_ms);
  const centMs = add(
    add(multiply(sandbox, toDecimal(prices.sandbox_vcpu_hour_cents)), multiply(computer, toDecimal(prices.computer_vcpu_hour_cents))),
    multiply(storage, toDecimal(prices.storage_gb_hour_cents)),
  );
  return {
    sandbox_seconds: divideToNumber(sandbox, MS_PER_SECOND, 3, "half-even"),
    computer_seconds: divideToNumber(computer, MS_PER_SECOND, 3, "half-even"),
    storage_gb_hours: divideToNumber(storage, MS_PER_HOUR, 6, "half-even"),
    credit_cents: divideToInteger(centMs, MS_PER_HOUR, "half-up"),
  };
}

/** OpenComputer's allocated memory in GiB-seconds, to the millisecond. */
export function memoryGbSeconds(sums: RuntimeSums): number {
  return divideToNumber(exact(sums.memory_mb_ms), MIB_MS_PER_GIB_SECOND, 3, "half-even");
}

/** Cents, larger first (exact past 2^53). */
export function compareCentsDescending(a: ExactInt, b: ExactInt): number {
  return a < b ? 1 : a > b ? -1 : 0;
}
