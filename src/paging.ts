/**
 * Opaque, tamper-evident paging tokens: base64url(JSON payload) + "." + HMAC-SHA256. A token
 * carries the query it was issued for, so a token replayed against another query is refused.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** Tokens older than this are refused as stale. */
const MAX_AGE_MS = 24 * 60 * 60 * 1000;

export type TokenCheck<T> = { ok: true; value: T } | { ok: false; reason: "forged" | "stale" };

export class PageTokens {
  private readonly key: Buffer;

  constructor(secret: string | undefined) {
    this.key = secret ? Buffer.from(secret, "utf8") : randomBytes(32);
  }

  private mac(body: string): Buffer {
    return createHmac("sha256", this.key).update(body).digest();
  }

  /** `query` identifies the request the token belongs to; `state` is where the next page starts. */
  issue<T>(query: string, state: T, now: Date): string {
    const body = Buffer.from(JSON.stringify({ q: query, s: state, t: now.getTime() })).toString("base64url");
    return `${body}.${this.mac(body).toString("base64url")}`;
  }

  read<T>(token: string, query: string, now: Date): TokenCheck<T> {
    const [body, sig, extra] = token.split(".");
    if (!body || !sig || extra !== undefined || token.length > 4096) return { ok: false, reason: "forged" };
    const given = Buffer.from(sig, "base64url");
    const expected = this.mac(body);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: "forged" };
    let payload: { q?: unknown; s?: unknown; t?: unknown };
    try {
      payload = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
    } catch {
      return { ok: false, reason: "forged" };
    }
    if (payload.q !== query || typeof payload.t !== "number" || now.getTime() - payload.t > MAX_AGE_MS) {
      return { ok: false, reason: "stale" };
    }
    return { ok: true, value: payload.s as T };
  }
}
