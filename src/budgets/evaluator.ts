/**
 * The budget evaluator: claims an org's dirty mark (a lease, so two processes do not evaluate the
 * same org at once — only to save work: correctness does not depend on it), computes every budget's
 * value in every period the mark's time range touches, and records one delivery per threshold
 * reached. The unique index on (org, budget, period_start, threshold) makes the record exactly-once
 * across processes: a second insert of the same crossing is a duplicate key and is ignored.
 *
 * Why evaluate up to "now" and not only the events' own periods: a session_start late into last
 * month adds runtime to every period from then until the session stops (or now, while it is open).
 */
import { MongoBulkWriteError } from "mongodb";
import type { BudgetDoc, BudgetMarkDoc, WebhookDeliveryDoc } from "../db/collections.js";
import type { AppDeps } from "../deps.js";
import { type ExactInt, stringifyJson } from "../int64.js";
import { budgetValues } from "../services/budgetValue.js";
import { thresholdCrossedEvent } from "./events.js";
import { type PeriodWindow, periodsCovering } from "./periods.js";

const DUPLICATE_KEY = 11000;
/** How long retries of a delivery go on (DESIGN §11). */
export const DELIVERY_RETRY_MS = 24 * 3_600_000;

export interface EvaluatorOptions {
  /** Who holds a lease (one per process). */
  owner: string;
  /** A claim not released by then (its process died) is taken over. */
  leaseMs?: number;
  /** An org is evaluated at most this often; ingest in between only widens its mark. */
  minIntervalMs?: number;
  /** Periods looked at per budget and evaluation, newest first (bounds the work a very late event causes). */
  maxPeriods?: number;
}

export interface EvaluationResult {
  orgs: number;
  /** Deliveries this evaluator recorded (a crossing another process recorded first is not counted). */
  created: number;
}

export class BudgetEvaluator {
  private readonly leaseMs: number;
  private readonly minIntervalMs: number;
  private readonly maxPeriods: number;

  constructor(
    private readonly deps: AppDeps,
    private readonly opts: EvaluatorOptions,
  ) {
    this.leaseMs = opts.leaseMs ?? 30_000;
    this.minIntervalMs = opts.minIntervalMs ?? 0;
    this.maxPeriods = opts.maxPeriods ?? 100;
  }

  /** Evaluates every org whose mark is claimable now; returns what it did. */
  async runOnce(): Promise<EvaluationResult> {
    const result: EvaluationResult = { orgs: 0, created: 0 };
    for (;;) {
      const mark = await this.claim();
      if (!mark) return result;
      result.orgs++;
      try {
        result.created += await this.evaluate(mark);
        await this.release(mark, true);
      } catch (err) {
        await this.release(mark, false).catch(() => undefined);
        throw err;
      }
    }
  }

  private claim(): Promise<BudgetMarkDoc | null> {
    const now = this.deps.clock.now();
    return this.deps.cols.budgetMarks.findOneAndUpdate(
      { dirty: true, lease_until: { $lte: now } },
      { $set: { lease_until: new Date(now.getTime() + this.leaseMs), lease_owner: this.opts.owner } },
      { sort: { lease_until: 1 }, returnDocument: "after" },
    );
  }

  /**
   * Done: clear the mark if no ingest bumped it meanwhile; else keep it dirty (its range is a union,
   * so re-evaluating it is merely redundant). Either way not claimable again for minIntervalMs.
   */
  private async release(mark: BudgetMarkDoc, done: boolean): Promise<void> {
    const next = new Date(this.deps.clock.now().getTime() + this.minIntervalMs);
    const marks = this.deps.cols.budgetMarks;
    if (done) {
      const cleared = await marks.updateOne(
        { _id: mark._id, ver: mark.ver, lease_owner: this.opts.owner },
        { $set: { dirty: false, lease_until: next, lease_owner: null }, $unset: { min_ts: "", max_ts: "" } },
      );
      if (cleared.matchedCount === 1) return;
    }
    await marks.updateOne({ _id: mark._id, lease_owner: this.opts.owner }, { $set: { lease_until: next, lease_owner: null } });
  }

  /** One org: returns the number of deliveries recorded. */
  private async evaluate(mark: BudgetMarkDoc): Promise<number> {
    const { cols } = this.deps;
    const budgets = await cols.budgets.find({ org_id: mark._id }).toArray();
    if (budgets.length === 0) return 0;
    const now = this.deps.clock.now();
    const from = mark.min_ts ?? now;
    const to = mark.max_ts && mark.max_ts > now ? mark.max_ts : now;

    // Every budget in every period the mark touches, answered by one aggregation.
    const asked: Array<{ budget: BudgetDoc; period: PeriodWindow }> = [];
    for (const budget of budgets) for (const period of periodsCovering(from, to, budget.period, budget.time_zone, this.maxPeriods)) asked.push({ budget, period });
    const values = await budgetValues(this.deps, mark._id, asked.map((a) => ({ scope: a.budget.scope, window: a.period })), now);
    const crossings: Array<{ budget: BudgetDoc; period: PeriodWindow; threshold: number; value: ExactInt }> = [];
    asked.forEach(({ budget, period }, i) => {
      const value = values[i]![budget.metric];
      for (const threshold of budget.thresholds) if (value >= threshold) crossings.push({ budget, period, threshold, value });
    });
    if (crossings.length === 0) return 0;

    // Skip what is recorded already (the common case once a threshold has fired), then insert the rest.
    const known = await cols.webhookDeliveries
      .find(
        { org_id: mark._id, budget_id: { $in: [...new Set(crossings.map((c) => c.budget._id))] }, period_start: { $in: [...new Set(crossings.map((c) => c.period.from.getTime()))].map((t) => new Date(t)) } },
        { projection: { _id: 1 } },
      )
      .toArray();
    const seen = new Set(known.map((d) => d._id));
    const docs: WebhookDeliveryDoc[] = [];
    for (const c of crossings) {
      const event = thresholdCrossedEvent(c.budget, c.period, c.threshold, c.value, now);
      if (seen.has(event.id)) continue;
      seen.add(event.id);
      docs.push({
        _id: event.id,
        org_id: c.budget.org_id,
        budget_id: c.budget._id,
        period_start: c.period.from,
        threshold: c.threshold,
        body: stringifyJson(event),
        status: "pending",
        attempts: [],
        attempt_count: 0,
        next_attempt_at: now,
        lease_owner: null,
        created_at: now,
        give_up_at: new Date(now.getTime() + DELIVERY_RETRY_MS),
        delivered_at: null,
      });
    }
    if (docs.length === 0) return 0;
    try {
      await cols.webhookDeliveries.insertMany(docs, { ordered: false });
      return docs.length;
    } catch (err) {
      // Another process recorded some of these crossings first: theirs stand, ours are dropped.
      if (!(err instanceof MongoBulkWriteError)) throw err;
      const writeErrors = [err.writeErrors].flat();
      if (writeErrors.length === 0 || writeErrors.some((w) => w.code !== DUPLICATE_KEY)) throw err;
      return err.result.insertedCount;
    }
  }
}
