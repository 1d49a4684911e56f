/**
 * `$dateTrunc` with MongoDB's semantics, replacing mingo's (which ignores `timezone`). Truncation
 * happens on the local wall clock of the timezone, binned from MongoDB's reference instant
 * 2000-01-01T00:00:00 local (for weeks, the first `startOfWeek` on or after it).
 */
import { evalExpr } from "mingo/core";
import type { Options } from "mingo/types";
import { valueOperator } from "../expressions.js";

const MS = { millisecond: 1, second: 1_000, minute: 60_000, hour: 3_600_000, day: 86_400_000, week: 7 * 86_400_000 } as const;
const MONTHS = { month: 1, quarter: 3, year: 12 } as const;
const REFERENCE = Date.UTC(2000, 0, 1);
const WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

const mod = (a: number, n: number) => ((a % n) + n) % n;

interface Zone {
  /** Offset of local time from UTC at the instant, in ms. */
  offsetAt(utcMs: number): number;
}

const zones = new Map<string, Zone>();

function fixedZone(offsetMs: number): Zone {
  return { offsetAt: () => offsetMs };
}

/** A timezone by Olson name or UTC offset ("+05:30", "-0500", "+03"), as MongoDB accepts them. */
export function zone(name: string): Zone {
  const cached = zones.get(name);
  if (cached) return cached;
  let z: Zone;
  const m = /^([+-])(\d{2}):?(\d{2})?$/.exec(name);
  if (m) {
    const ms = (Number(m[2]) * 60 + Number(m[3] ?? 0)) * 60_000;
    z = fixedZone(m[1] === "-" ? -ms : ms);
  } else if (name === "UTC" || name === "GMT" || name === "Etc/UTC" || name === "Z") {
    z = fixedZone(0);
  } else {
    let fmt: Intl.DateTimeFormat;
    try {
      fmt = new Intl.DateTimeFormat("en-US", {
        timeZone: name, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric",
      });
    } catch {
      throw new Error(`unrecognized time zone identifier: "${name}"`);
    }
    // Offsets only change on quarter-hour boundaries, so memoize per quarter hour.
    const memo = new Map<number, number>();
    z = {
      offsetAt(utcMs: number) {
        const key = Math.floor(utcMs / 900_000);
        const hit = memo.get(key);
        if (hit !== undefined) return hit;
        const at = key * 900_000;
        const p = Object.fromEntries(fmt.formatToParts(new Date(at)).map((x) => [x.type, x.value]));
        const local = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second));
        const offset = local - at;
        if (memo.size > 100_000) memo.clear();
        memo.set(key, offset);
        return offset;
      },
    };
  }
  zones.set(name, z);
  return z;
}

/** Local wall-clock ms (as if UTC) → the UTC instant; in a DST gap, the instant after it. */
function localToUtc(z: Zone, local: number): number {
  const guess = local - z.offsetAt(local);
  const offset = z.offsetAt(guess);
  return local - offset;
}

export function truncateDate(date: Date, unit: string, binSize: number, timezone: string, startOfWeek: string): Date {
  const z = zone(timezone);
  const utc = date.getTime();
  const local = utc + z.offsetAt(utc);
  let truncated: number;
  if (unit in MONTHS) {
    const d = new Date(local);
    const months = (d.getUTCFullYear() - 2000) * 12 + d.getUTCMonth();
    const per = binSize * MONTHS[unit as keyof typeof MONTHS];
    const start = months - mod(months, per);
    truncated = Date.UTC(2000 + Math.floor(start / 12), mod(start, 12), 1);
  } else {
    let ref = REFERENCE;
    if (unit === "week") {
      const first = WEEKDAYS.indexOf(startOfWeek.toLowerCase().slice(0, 3));
      if (first < 0) throw new Error(`$dateTrunc: unknown startOfWeek '${startOfWeek}'`);
      ref += mod(first - new Date(REFERENCE).getUTCDay(), 7) * MS.day;
    }
    const size = binSize * MS[unit as keyof typeof MS];
    truncated = local - mod(local - ref, size);
  }
  return new Date(localToUtc(z, truncated));
}

/** `$dateTrunc` of its evaluated arguments. */
function dateTruncOf(values: unknown): Date | null {
  const args = values as { date?: unknown; unit?: unknown; binSize?: unknown; timezone?: unknown; startOfWeek?: unknown };
  if (args.date === null || args.date === undefined || args.unit === null || args.unit === undefined) return null;
  if (!(args.date instanceof Date)) throw new Error("$dateTrunc requires 'date' to be a date");
  const unit = String(args.unit);
  if (!(unit in MS) && !(unit in MONTHS)) throw new Error(`$dateTrunc: unknown unit '${unit}'`);
  const binSize = args.binSize === undefined || args.binSize === null ? 1 : Number(args.binSize);
  if (!Number.isInteger(binSize) || binSize <= 0) throw new Error("$dateTrunc requires 'binSize' to be a positive integer");
  const timezone = args.timezone === undefined || args.timezone === null ? "UTC" : String(args.timezone);
  return truncateDate(args.date, unit, binSize, timezone, String(args.startOfWeek ?? "sunday"));
}

export const $dateTrunc = valueOperator((obj: unknown, expr: unknown, options: Options) => dateTruncOf(evalExpr(obj, expr, options)), dateTruncOf);
