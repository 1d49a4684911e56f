/**
 * Time zones (IANA names, luxon over the runtime's tz database): validation, and the local bucket
 * boundaries every zoned answer uses, in one place (see LocalBuckets).
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

/**
 * Local bucket boundaries of one width. Minutes are 60 s steps; hours start where the local clock
 * shows :00 (a repeated hour at a DST change is two buckets; where the offset moves by half an
 * hour, one bucket is 30 or 90 minutes); days start at local midnights (23 or 25 hours at DST).
 */
export class LocalBuckets {
  /** Start of the bucket holding `originMs`. */
  readonly first: number;
  constructor(
    originMs: number,
    private readonly unit: BucketUnit,
    readonly zone: string,
  ) {
    this.first = unit === "minute" ? Math.floor(originMs / 60_000) * 60_000 : DateTime.fromMillis(originMs, { zone }).startOf(unit).toMillis();
  }

  /** The start of the bucket after the one starting at `startMs`. */
  next(startMs: number): number {
    if (this.unit === "minute") return startMs + 60_000;
    if (this.unit === "day") return DateTime.fromMillis(startMs, { zone: this.zone }).plus({ days: 1 }).startOf("day").toMillis();
    const aligned = DateTime.fromMillis(startMs + 3_600_000, { zone: this.zone }).startOf("hour").toMillis();
    return aligned > startMs ? aligned : startMs + 3_600_000;
  }

  /** The k-th boundary from the first (tests and small k). */
  at(k: number): number {
    let t = this.first;
    for (let i = 0; i < k; i++) t = this.next(t);
    return t;
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
