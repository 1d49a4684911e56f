/**
 * A budget's calendar periods: local days or local months in its IANA zone (luxon does the zone
 * arithmetic, DST included — a local day may be 23 or 25 hours long). Periods are [start, end).
 */
import { DateTime, IANAZone } from "luxon";

export type BudgetPeriod = "day" | "month";

export interface PeriodWindow {
  from: Date;
  to: Date;
}

export const isValidTimeZone = (zone: string): boolean => IANAZone.isValidZone(zone);

/** The period of `period` kind in `zone` that contains `t`. */
export function periodContaining(t: Date, period: BudgetPeriod, zone: string): PeriodWindow {
  const local = DateTime.fromJSDate(t, { zone }).startOf(period);
  return { from: local.toJSDate(), to: local.plus({ [`${period}s`]: 1 }).toJSDate() };
}

/** `t` as RFC 3339 with the zone's offset at that instant: 2026-03-08T00:00:00-05:00. */
export function zonedIso(t: Date, zone: string): string {
  return DateTime.fromJSDate(t, { zone }).toISO({ suppressMilliseconds: true })!;
}

/**
 * The periods overlapping [from, to], oldest first, at most `max` of them (the newest ones: a
 * threshold in the current period matters most, and an event that late is capped, see docs).
 */
export function periodsCovering(from: Date, to: Date, period: BudgetPeriod, zone: string, max: number): PeriodWindow[] {
  const out: PeriodWindow[] = [];
  let p = periodContaining(to, period, zone);
  while (out.length < max) {
    out.push(p);
    if (p.from.getTime() <= from.getTime()) break;
    p = periodContaining(new Date(p.from.getTime() - 1), period, zone);
  }
  return out.reverse();
}
