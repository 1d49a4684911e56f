import { describe, expect, it } from "vitest";
import { PageTokens } from "../../src/paging.js";

const now = new Date("2026-05-27T10:00:00Z");

describe("page tokens", () => {
  const tokens = new PageTokens("a-secret-of-sixteen-chars");

  it("round-trip their state for the query they were issued for", () => {
    const t = tokens.issue("q1", { k: 7, e: 123 }, now);
    expect(tokens.read(t, "q1", now)).toEqual({ ok: true, value: { k: 7, e: 123 } });
  });

  it("refuse another query's token as stale, and an old one", () => {
    const t = tokens.issue("q1", { k: 7 }, now);
    expect(tokens.read(t, "q2", now)).toEqual({ ok: false, reason: "stale" });
    expect(tokens.read(t, "q1", new Date(now.getTime() + 25 * 3600_000))).toEqual({ ok: false, reason: "stale" });
  });

  it("refuse tampered, truncated and foreign-key tokens as forged", () => {
    const t = tokens.issue("q1", { k: 7 }, now);
    const [body, sig] = t.split(".") as [string, string];
    const edited = Buffer.from(Buffer.from(body, "base64url").toString().replace('"k":7', '"k":8')).toString("base64url");
    expect(tokens.read(`${edited}.${sig}`, "q1", now)).toEqual({ ok: false, reason: "forged" });
    expect(tokens.read(body, "q1", now)).toEqual({ ok: false, reason: "forged" });
    expect(tokens.read("garbage", "q1", now)).toEqual({ ok: false, reason: "forged" });
    expect(new PageTokens("another-secret-value").read(t, "q1", now)).toEqual({ ok: false, reason: "forged" });
  });
});
