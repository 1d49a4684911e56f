/** A budget's calendar periods in its zone, and the signature scheme a receiver verifies. */
import { describe, expect, it } from "vitest";
import { periodContaining, periodsCovering, zonedIso } from "../../src/budgets/periods.js";
import { signatureHeader, verifySignature } from "../../src/budgets/signature.js";
import { openSecret, sealSecret } from "../../src/budgets/secrets.js";
import { backoffMs } from "../../src/budgets/delivery.js";

const iso = (p: { from: Date; to: Date }, zone: string) => [zonedIso(p.from, zone), zonedIso(p.to, zone)];

describe("budget periods", () => {
  it("a local day on a DST change is 23 or 25 hours", () => {
    const spring = periodContaining(new Date("2026-03-08T12:00:00Z"), "day", "America/New_York");
    expect(iso(spring, "America/New_York")).toEqual(["2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00"]);
    expect(spring.to.getTime() - spring.from.getTime()).toBe(23 * 3_600_000);
    const autumn = periodContaining(new Date("2026-11-01T12:00:00Z"), "day", "America/New_York");
    expect(autumn.to.getTime() - autumn.from.getTime()).toBe(25 * 3_600_000);
  });

  it("months start at the local 1st; Kathmandu's offset is +05:45", () => {
    expect(iso(periodContaining(new Date("2026-02-28T20:00:00Z"), "month", "Asia/Kathmandu"), "Asia/Kathmandu")).toEqual(["2026-03-01T00:00:00+05:45", "2026-04-01T00:00:00+05:45"]);
    expect(iso(periodContaining(new Date("2026-02-28T20:00:00Z"), "month", "UTC"), "UTC")).toEqual(["2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"]);
  });

  it("covers every period from the earliest event to now, capped to the newest ones", () => {
    const ps = periodsCovering(new Date("2026-03-15T00:00:00Z"), new Date("2026-05-20T00:00:00Z"), "month", "UTC", 100);
    expect(ps.map((p) => zonedIso(p.from, "UTC"))).toEqual(["2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z"]);
    const capped = periodsCovering(new Date("2026-01-01T00:00:00Z"), new Date("2026-05-20T00:00:00Z"), "day", "UTC", 3);
    expect(capped.map((p) => zonedIso(p.from, "UTC"))).toEqual(["2026-05-18T00:00:00Z", "2026-05-19T00:00:00Z", "2026-05-20T00:00:00Z"]);
  });
});

describe("Usage-Signature", () => {
  const secret = "whsec_0123456789abcdef";
  const body = '{"id":"evt_1","threshold":10}';
  const at = new Date("2026-05-20T12:00:00Z");

  it("is t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t.body)> and verifies", () => {
    const header = signatureHeader(secret, body, at);
    // Computed independently: printf '1779278400.{"id":"evt_1","threshold":10}' | openssl dgst -sha256 -hmac whsec_0123456789abcdef
    expect(header).toBe("t=1779278400,v1=744a031e0371d61f533bdf0b07c96e39e8c45035ca9d21db509e5554fb2ba771");
    expect(verifySignature(secret, body, header, at)).toBe(true);
  });

  it("fails on another body, another secret, a stale time or a malformed header", () => {
    const header = signatureHeader(secret, body, at);
    expect(verifySignature(secret, body.replace("10", "11"), header, at)).toBe(false);
    expect(verifySignature("another-secret-value", body, header, at)).toBe(false);
    expect(verifySignature(secret, body, header, new Date(at.getTime() + 301_000))).toBe(false);
    expect(verifySignature(secret, body, "t=abc,v1=00", at)).toBe(false);
  });
});

describe("webhook secrets at rest", () => {
  it("are sealed with the configured key and opened only with it", () => {
    const key = "k".repeat(32);
    const sealed = sealSecret("whsec_secret_value_1", key);
    expect(sealed).toMatch(/^aesgcm:/);
    expect(sealed).not.toContain("whsec_secret_value_1");
    expect(sealSecret("whsec_secret_value_1", key)).not.toBe(sealed); // a fresh nonce each time
    expect(openSecret(sealed, key)).toBe("whsec_secret_value_1");
    expect(() => openSecret(sealed, "j".repeat(32))).toThrow();
    expect(() => openSecret(sealed, undefined)).toThrow("WEBHOOK_SECRET_KEY");
    expect(openSecret(sealSecret("plain-secret-value", undefined), undefined)).toBe("plain-secret-value");
  });
});

describe("backoff", () => {
  it("doubles from 30 s, caps at an hour, jitters within ±20 %", () => {
    expect([1, 2, 3, 4, 8, 9, 20].map((n) => backoffMs(n, () => 0.5))).toEqual([30_000, 60_000, 120_000, 240_000, 3_600_000, 3_600_000, 3_600_000]);
    expect(backoffMs(1, () => 0)).toBe(24_000);
    expect(backoffMs(1, () => 1)).toBe(36_000);
  });
});
