import { describe, expect, it } from "vitest";
import { truncateDate } from "../../src/embedded/engine/operators/dateTrunc.js";

const t = (iso: string, unit: string, binSize = 1, tz = "UTC", startOfWeek = "sunday") => truncateDate(new Date(iso), unit, binSize, tz, startOfWeek).toISOString();

describe("$dateTrunc (embedded engine)", () => {
  it("truncates in UTC for every unit", () => {
    expect(t("2026-05-27T10:37:42.123Z", "second")).toBe("2026-05-27T10:37:42.000Z");
    expect(t("2026-05-27T10:37:42.123Z", "minute")).toBe("2026-05-27T10:37:00.000Z");
    expect(t("2026-05-27T10:37:42.123Z", "hour")).toBe("2026-05-27T10:00:00.000Z");
    expect(t("2026-05-27T10:37:42.123Z", "day")).toBe("2026-05-27T00:00:00.000Z");
    expect(t("2026-05-27T10:37:42.123Z", "month")).toBe("2026-05-01T00:00:00.000Z");
    expect(t("2026-05-27T10:37:42.123Z", "quarter")).toBe("2026-04-01T00:00:00.000Z");
    expect(t("2026-05-27T10:37:42.123Z", "year")).toBe("2026-01-01T00:00:00.000Z");
    // 2026-05-27 is a Wednesday: the week starting Sunday began on the 24th, Monday on the 25th.
    expect(t("2026-05-27T10:37:42.123Z", "week")).toBe("2026-05-24T00:00:00.000Z");
    expect(t("2026-05-27T10:37:42.123Z", "week", 1, "UTC", "monday")).toBe("2026-05-25T00:00:00.000Z");
  });

  it("bins from MongoDB's reference instant, 2000-01-01", () => {
    // 15-minute bins: 10:37 falls in the 10:30 bin.
    expect(t("2026-05-27T10:37:00Z", "minute", 15)).toBe("2026-05-27T10:30:00.000Z");
    // 7-hour bins count from 2000-01-01T00:00Z: 9,643 days + 10 h = 231,442 hours have passed by
    // 2026-05-27T10:00Z; 231,442 mod 7 = 1, so the bin containing 10:37 started at 09:00.
    expect(t("2026-05-27T10:37:00Z", "hour", 7)).toBe("2026-05-27T09:00:00.000Z");
    // 2-month bins from January 2000: May sits in the May-June bin.
    expect(t("2026-05-27T10:37:00Z", "month", 2)).toBe("2026-05-01T00:00:00.000Z");
  });

  it("truncates on the local wall clock of a time zone, across DST", () => {
    // New York is UTC-5 in winter: local midnight is 05:00Z; 03:00Z is still the previous local day.
    expect(t("2024-01-15T03:00:00Z", "day", 1, "America/New_York")).toBe("2024-01-14T05:00:00.000Z");
    // 2024-03-10 is the spring-forward day: its midnight is still EST (05:00Z), the next one EDT (04:00Z).
    expect(t("2024-03-10T12:00:00Z", "day", 1, "America/New_York")).toBe("2024-03-10T05:00:00.000Z");
    expect(t("2024-03-11T12:00:00Z", "day", 1, "America/New_York")).toBe("2024-03-11T04:00:00.000Z");
    // Fixed offsets, including half hours.
    expect(t("2026-05-27T10:10:00Z", "hour", 1, "+05:30")).toBe("2026-05-27T09:30:00.000Z");
    expect(t("2026-05-27T02:00:00Z", "day", 1, "-0500")).toBe("2026-05-26T05:00:00.000Z");
  });

  it("rejects an unknown time zone", () => {
    expect(() => t("2026-05-27T10:10:00Z", "day", 1, "Mars/Olympus")).toThrow(/time zone/);
  });
});
