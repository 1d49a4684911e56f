/**
 * The webhook delivery worker. Deliveries wait in MongoDB (`webhook_deliveries`), never in memory,
 * so a restart loses none. A worker claims a due one by pushing its `next_attempt_at` forward by a
 * lease: two processes never send the same attempt at once, and a send cut off by a crash is
 * simply due again when the lease runs out (at-least-once, with the same `Usage-Event-Id`).
 * Each attempt is appended to the delivery's log; 2xx is delivered, anything else is retried with
 * exponential backoff and jitter until 24 h after the crossing, then the delivery is `failed`.
 */
import { request as httpRequest, type RequestOptions } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import type { DeliveryAttempt, WebhookDeliveryDoc } from "../db/collections.js";
import type { AppDeps } from "../deps.js";
import { openSecret } from "./secrets.js";
import { EVENT_ID_HEADER, SIGNATURE_HEADER, signatureHeader } from "./signature.js";
import { checkedAddress, type GuardOptions, RefusedAddressError, type Resolver, systemResolver } from "./ssrf.js";

export const BACKOFF = { baseMs: 30_000, maxMs: 3_600_000, jitter: 0.2 } as const;

/** The wait after the n-th failed attempt (1-based): 30 s × 2^(n−1), at most an hour, ±20 %. */
export function backoffMs(failedAttempts: number, random: () => number): number {
  const base = Math.min(BACKOFF.baseMs * 2 ** (failedAttempts - 1), BACKOFF.maxMs);
  return Math.round(base * (1 - BACKOFF.jitter + 2 * BACKOFF.jitter * random()));
}

export interface SendResult {
  statusCode: number | null;
  error?: string;
}

export interface PostOptions extends GuardOptions {
  resolve: Resolver;
  timeoutMs: number;
}

/**
 * POSTs `body` to `url`, connecting only to an address the guard allowed: the socket's lookup
 * returns that address, so the name is not resolved a second time. Redirects are not followed (a
 * 3xx is a failed attempt) — following one would reach an address nobody checked.
 */
export async function postWebhook(url: URL, body: string, headers: Record<string, string>, opts: PostOptions): Promise<SendResult> {
  let target: { address: string; family: 4 | 6 };
  try {
    target = await checkedAddress(url, opts, opts.resolve);
  } catch (err) {
    return { statusCode: null, error: err instanceof RefusedAddressError ? `refused: ${err.message}` : `dns: ${(err as Error).message}` };
  }
  const lookup: LookupFunction = (_host, options, callback) => {
    if ((options as { all?: boolean }).all) (callback as (e: null, a: Array<{ address: string; family: number }>) => void)(null, [target]);
    else callback(null, target.address, target.family);
  };
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  const options: RequestOptions = {
    method: "POST",
    headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), "user-agent": "usage-subgraph-webhooks/1", ...headers },
    lookup,
    signal: AbortSignal.timeout(opts.timeoutMs),
    agent: false,
  };
  return new Promise<SendResult>((resolve) => {
    const req = send(url, options, (res) => {
      // The answer's body is not needed; drain it so the socket closes.
      res.resume();
      res.on("end", () => resolve({ statusCode: res.statusCode ?? null }));
      res.on("error", () => resolve({ statusCode: res.statusCode ?? null }));
    });
    req.on("error", (err) => resolve({ statusCode: null, error: err.name === "AbortError" || err.name === "TimeoutError" ? `timeout after ${opts.timeoutMs} ms` : err.message }));
    req.end(body);
  });
}

export interface DeliveryWorkerOptions {
  owner: string;
  /** How long a claimed attempt may take before another worker may take it over. */
  leaseMs?: number;
  resolve?: Resolver;
  random?: () => number;
  /** Told of every attempt (metrics). */
  onAttempt?: (outcome: "delivered" | "retry" | "failed" | "cancelled") => void;
}

export class DeliveryWorker {
  private readonly leaseMs: number;
  private readonly resolve: Resolver;
  private readonly random: () => number;

  constructor(
    private readonly deps: AppDeps,
    private readonly opts: DeliveryWorkerOptions,
  ) {
    this.leaseMs = opts.leaseMs ?? Math.max(60_000, deps.config.WEBHOOK_TIMEOUT_MS * 2);
    this.resolve = opts.resolve ?? systemResolver;
    this.random = opts.random ?? Math.random;
  }

  /** Sends every delivery due now (at most `max`); returns how many attempts were made. */
  async runOnce(max = 100): Promise<number> {
    let n = 0;
    while (n < max) {
      const d = await this.claim();
      if (!d) break;
      await this.attempt(d);
      n++;
    }
    return n;
  }

  private claim(): Promise<WebhookDeliveryDoc | null> {
    const now = this.deps.clock.now();
    return this.deps.cols.webhookDeliveries.findOneAndUpdate(
      { status: "pending", next_attempt_at: { $lte: now } },
      { $set: { next_attempt_at: new Date(now.getTime() + this.leaseMs), lease_owner: this.opts.owner } },
      { sort: { next_attempt_at: 1 }, returnDocument: "after" },
    );
  }

  private async attempt(d: WebhookDeliveryDoc): Promise<void> {
    const { cols, config, clock } = this.deps;
    const mine = { _id: d._id, lease_owner: this.opts.owner, attempt_count: d.attempt_count };
    const budget = await cols.budgets.findOne({ _id: d.budget_id, org_id: d.org_id });
    if (!budget) {
      // Deleted since: nobody is waiting for it any more.
      await cols.webhookDeliveries.updateOne(mine, { $set: { status: "cancelled", lease_owner: null } });
      this.opts.onAttempt?.("cancelled");
      return;
    }
    const started = clock.now();
    let secret: string | null = null;
    try {
      secret = openSecret(budget.webhook.secret, config.WEBHOOK_SECRET_KEY);
    } catch {
      // WEBHOOK_SECRET_KEY changed or was unset: an attempt that fails (and says why) until it is fixed.
    }
    const result: SendResult =
      secret === null
        ? { statusCode: null, error: "cannot open the webhook secret: WEBHOOK_SECRET_KEY is not the key it was sealed with" }
        : await postWebhook(
            new URL(budget.webhook.url),
            d.body,
            { [SIGNATURE_HEADER]: signatureHeader(secret, d.body, started), [EVENT_ID_HEADER]: d._id },
            { allowPrivate: config.WEBHOOK_ALLOW_PRIVATE, resolve: this.resolve, timeoutMs: config.WEBHOOK_TIMEOUT_MS },
          );
    const ended = clock.now();
    const ok = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
    const entry: DeliveryAttempt = { at: started, status_code: result.statusCode, outcome: ok ? "delivered" : "failed", duration_ms: Math.max(0, ended.getTime() - started.getTime()) };
    if (result.error) entry.error = result.error.slice(0, 500);
    let set: Partial<WebhookDeliveryDoc>;
    let outcome: "delivered" | "retry" | "failed";
    if (ok) {
      set = { status: "delivered", delivered_at: ended, lease_owner: null };
      outcome = "delivered";
    } else {
      const next = new Date(ended.getTime() + backoffMs(d.attempt_count + 1, this.random));
      const giveUp = next.getTime() > d.give_up_at.getTime();
      set = giveUp ? { status: "failed", lease_owner: null } : { next_attempt_at: next, lease_owner: null };
      outcome = giveUp ? "failed" : "retry";
    }
    // Only if the lease is still ours (it may have run out during a very slow send and been retaken).
    await cols.webhookDeliveries.updateOne(mine, { $push: { attempts: entry }, $inc: { attempt_count: 1 }, $set: set });
    this.opts.onAttempt?.(outcome);
  }
}
