import { describe, expect, it } from "vitest";
import { isoUtc, nextUtcMidnight, parseIsoInstant, utcMonthStart } from "../../src/time.js";

describe("parseIsoInstant", () => {
  it.each([
    ["2026-05-01", "2026-05-01T00:00:00.000Z"],
    ["2026-05-01T10:20:30Z", "2026-05-01T10:20:30.000Z"],
    ["2026-05-01T10:20:30.25Z", "2026-05-01T10:20:30.250Z"],
    ["2026-05-01T10:20:30+02:00", "2026-05-01T08:20:30.000Z"],
    ["2026-05-01T10:20:30-0130", "2026-05-01T11:50:30.000Z"],
    ["2026-05-01T10:20", "2026-05-01T10:20:00.000Z"],
    ["2024-02-29", "2024-02-29T00:00:00.000Z"],
  ])("reads %s as %s", (text, iso) => {
    expect(parseIsoInstant(text)?.toISOString()).toBe(iso);
  });

  it.each(["", "yesterday", "2026-5-1", "2026-02-30", "2025-02-29", "2026-13-01", "2026-05-01T24:00:00Z", "2026-05-01T10:61Z", "2026-05-01T10:00:00+25:00", "1969-12-31", "1714521600", "2026-05-01T10:00:00Z junk"])(
    "refuses %j",
    (text) => {
      expect(parseIsoInstant(text)).toBeNull();
    },
  );
});

describe("UTC calendar", () => {
  it("finds the next midnight strictly after a time, and the month's first day", () => {
    expect(nextUtcMidnight(new Date("2026-05-25T12:00:00Z")).toISOString()).toBe("2026-05-26T00:00:00.000Z");
    expect(nextUtcMidnight(new Date("2026-05-25T00:00:00Z")).toISOString()).toBe("2026-05-26T00:00:00.000Z");
    expect(nextUtcMidnight(new Date("2026-12-31T23:59:59.999Z")).toISOString()).toBe("2027-01-01T00:00:00.000Z");
    expect(utcMonthStart(new Date("2026-03-31T23:59:59Z")).toISOString()).toBe("2026-03-01T00:00:00.000Z");
  });

  it("writes ISO 8601 without a zero millisecond part", () => {
    expect(isoUtc(new Date("2026-04-26T00:00:00Z"))).toBe("2026-04-26T00:00:00Z");
    expect(isoUtc(new Date("2026-04-26T00:00:00.5Z"))).toBe("2026-04-26T00:00:00.500Z");
  });
});
