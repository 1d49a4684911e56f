/**
 * Time zones (IANA names, luxon over the runtime's tz database): validation, and the local bucket
 * boundaries every zoned answer uses, in one place. Hours and minutes are consecutive 3,600 s and
 * 60 s from a local hour or minute; days and months follow the local calendar, so a day across a
 * DST change is 23 or 25 hours long.
 */
import { DateTime, IANAZone } from "luxon";

export const DEFAULT_TIME_ZONE = "UTC";

/** The canonical name of a valid IANA zone (or "UTC"), else null. */
export function parseTimeZone(name: string): string | null {
  if (name === "UTC" || name === "Etc/UTC" || name === "Z") return "UTC";
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/.test(name) || !IANAZone.isValidZone(name)) return null;
  return name;
}

export type BucketUnit = "minute" | "hour" | "day";
const FIXED_MS: Partial<Record<BucketUnit, number>> = { minute: 60_000, hour: 3_600_000 };

/** Local bucket boundaries of one width: `at(k)` is the start of the k-th bucket after the one holding `originMs`. */
export class LocalBuckets {
  private readonly first: DateTime;
  constructor(
    originMs: number,
    private readonly unit: BucketUnit,
    readonly zone: string,
  ) {
    this.first = DateTime.fromMillis(originMs, { zone }).startOf(unit);
  }

  at(k: number): number {
    const fixed = FIXED_MS[this.unit];
    if (fixed !== undefined) return this.first.toMillis() + k * fixed;
    return this.first.plus({ days: k }).toMillis();
  }

  /** How many buckets it takes, from the first, to cover up to `endMs`. */
  countTo(endMs: number): number {
    const fixed = FIXED_MS[this.unit];
    if (fixed !== undefined) return Math.max(0, Math.ceil((endMs - this.first.toMillis()) / fixed));
    let k = Math.max(0, Math.floor(DateTime.fromMillis(endMs, { zone: this.zone }).diff(this.first, "days").days) - 1);
    while (this.at(k) < endMs) k++;
    return k;
  }
}

/** Start of the local calendar day or month holding `ms`, and of the next one, in ms. */
export function localPeriod(ms: number, unit: "day" | "month", zone: string): { start: number; end: number } {
  const start = DateTime.fromMillis(ms, { zone }).startOf(unit);
  return { start: start.toMillis(), end: start.plus(unit === "day" ? { days: 1 } : { months: 1 }).toMillis() };
}

/** RFC 3339 with the zone's offset at that instant ("2026-03-08T00:00:00-05:00"; "Z" in UTC). */
export function formatInZone(ms: number, zone: string): string {
  if (zone === "UTC") return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
  return DateTime.fromMillis(ms, { zone }).toISO({ suppressMilliseconds: true, includeOffset: true })!;
}

/** Midnight, local, `days` after the local day holding `ms`. */
export function localMidnightAfter(ms: number, zone: string, days = 1): number {
  return DateTime.fromMillis(ms, { zone }).startOf("day").plus({ days }).toMillis();
}
