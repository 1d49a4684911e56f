/**
 * Rate limiting by who is calling (DESIGN §13): an authenticated request counts against its key's
 * budget, wherever and however the key arrived; a request without a valid key counts against its
 * client address, whatever headers it carries, so inventing a fresh key per request buys nothing.
 * A key this process has not seen recently costs a database lookup, so an address that has spent
 * its budget gets no lookup at all: it is refused first.
 *
 * Fixed windows per bucket, kept in memory per replica (as @fastify/rate-limit's default store):
 * behind N replicas a caller gets at most N × RATE_LIMIT_MAX per window.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { LRUCache } from "lru-cache";
import { knownIdentity, presentedKey } from "./auth/principal.js";
import type { AppDeps } from "./deps.js";
import { rateLimited } from "./errors.js";
import { identityFor } from "./rest/auth.js";

/** Never limited: probes must see the process as it is. */
const EXEMPT = new Set(["/healthz", "/readyz", "/metrics"]);

interface Window {
  count: number;
  resetAt: number;
}

export class FixedWindowLimiter {
  private readonly windows: LRUCache<string, Window>;

  constructor(
    readonly max: number,
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {
    // Bounded: a flood of distinct addresses evicts the least recent buckets instead of growing memory.
    this.windows = new LRUCache<string, Window>({ max: 100_000 });
  }

  private current(bucket: string): Window {
    const t = this.now();
    let w = this.windows.get(bucket);
    if (!w || w.resetAt <= t) this.windows.set(bucket, (w = { count: 0, resetAt: t + this.windowMs }));
    return w;
  }

  /** Whether `bucket` has no request left in its window (counting nothing). */
  exhausted(bucket: string): boolean {
    return this.current(bucket).count >= this.max;
  }

  /** Counts one request; `allowed` is false once the window's budget is spent. */
  hit(bucket: string): { allowed: boolean; remaining: number; resetMs: number } {
    const w = this.current(bucket);
    w.count++;
    return { allowed: w.count <= this.max, remaining: Math.max(0, this.max - w.count), resetMs: w.resetAt - this.now() };
  }
}

/** Which budget a request spends: `key:<key id>` for a valid key, else `ip:<address>`. */
async function bucketOf(deps: AppDeps, limiter: FixedWindowLimiter, request: FastifyRequest): Promise<string> {
  const address = `ip:${request.ip}`;
  let key: string | null;
  try {
    key = presentedKey(request.headers);
  } catch {
    return address; // two different keys: not authenticated
  }
  if (key === null) return address;
  const known = knownIdentity({ cols: deps.cols, bootstrapKey: deps.config.BOOTSTRAP_ADMIN_KEY }, key);
  if (known) return keyBucket(known.keyId);
  if (limiter.exhausted(address)) return address;
  const found = await identityFor(deps, request, key);
  return found ? keyBucket(found.keyId) : address;
}

/** By key id, never by the secret: the secret never becomes a map key. */
const keyBucket = (keyId: string) => `key:${keyId}`;

/** Installs the limiter as the first onRequest hook of `app`; a refusal is a 429 in the route's envelope. */
export function installRateLimit(app: FastifyInstance, deps: AppDeps): void {
  const { RATE_LIMIT_MAX: max, RATE_LIMIT_WINDOW_MS: windowMs } = deps.config;
  if (max <= 0) return;
  const limiter = new FixedWindowLimiter(max, windowMs);
  app.addHook("onRequest", async (request: FastifyRequest, reply: FastifyReply) => {
    if (EXEMPT.has(request.url.split("?")[0] ?? "")) return;
    const state = limiter.hit(await bucketOf(deps, limiter, request));
    const resetSeconds = Math.max(1, Math.ceil(state.resetMs / 1000));
    reply.header("x-ratelimit-limit", max).header("x-ratelimit-remaining", state.remaining).header("x-ratelimit-reset", resetSeconds);
    if (!state.allowed) {
      reply.header("retry-after", resetSeconds);
      throw rateLimited(`Rate limit exceeded: at most ${max} requests per ${Math.round(windowMs / 1000)} s; retry in ${resetSeconds} s`);
    }
  });
}
