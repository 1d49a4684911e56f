/** UTC calendar arithmetic and ISO 8601 parsing, shared by every surface that takes a window. */

export const MS_PER_MINUTE = 60_000;
export const MS_PER_DAY = 86_400_000;

/** The UTC midnight at or before `t`. */
export function utcMidnight(t: Date): Date {
  return new Date(Math.floor(t.getTime() / MS_PER_DAY) * MS_PER_DAY);
}

/** The first UTC midnight strictly after `t`. */
export function nextUtcMidnight(t: Date): Date {
  return new Date(utcMidnight(t).getTime() + MS_PER_DAY);
}

/** 00:00 UTC on the 1st of `t`'s UTC month. */
export function utcMonthStart(t: Date): Date {
  return new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), 1));
}

export function addDays(t: Date, days: number): Date {
  return new Date(t.getTime() + days * MS_PER_DAY);
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})?$/;

/**
 * An ISO 8601 date (`2026-05-01`, UTC midnight) or date-time (`2026-05-01T10:00:00Z`, an offset,
 * or none = UTC) as an instant; null when it is not one, or names a day that does not exist.
 */
export function parseIsoInstant(text: string): Date | null {
  const s = text.trim();
  const date = ISO_DATE.exec(s);
  const m = date ?? ISO_DATE_TIME.exec(s);
  if (!m) return null;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [hour, minute, second] = date ? [0, 0, 0] : [Number(m[4]), Number(m[5]), Number(m[6] ?? 0)];
  const ms = date || !m[7] ? 0 : Math.floor(Number(`0${m[7]}`) * 1000);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return null;
  let t = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  // Date.UTC rolls 2026-02-31 over into March; ISO 8601 has no such day.
  if (new Date(t).getUTCDate() !== day) return null;
  const zone = date ? undefined : m[8];
  if (zone && zone.toUpperCase() !== "Z") {
    const [, sign, hh, mm] = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!;
    if (Number(hh) > 23 || Number(mm) > 59) return null;
    t -= (sign === "-" ? -1 : 1) * (Number(hh) * 60 + Number(mm)) * MS_PER_MINUTE;
  }
  return year < 1970 || year > 9999 ? null : new Date(t);
}

/** ISO 8601 in UTC without a zero millisecond part: `2026-05-26T00:00:00Z`. */
export function isoUtc(t: Date): string {
  return t.toISOString().replace(/\.000Z$/, "Z");
}
