/** The `budget.threshold_crossed` event (DESIGN §11): its stable id and its JSON. */
import { createHash } from "node:crypto";
import type { BudgetDoc } from "../db/collections.js";
import type { ExactInt } from "../int64.js";
import { isoUtc } from "../time.js";
import { type PeriodWindow, zonedIso } from "./periods.js";

export const THRESHOLD_CROSSED = "budget.threshold_crossed";

/**
 * Derived from (budget, period start, threshold), so every process that sees the crossing names the
 * same event, and a receiver deduplicating by `Usage-Event-Id` sees each crossing once.
 */
export function thresholdEventId(budgetId: string, periodStart: Date, threshold: number): string {
  return `evt_${createHash("sha256").update(`${budgetId}\0${periodStart.getTime()}\0${threshold}`).digest("hex").slice(0, 32)}`;
}

export interface ThresholdCrossedEvent {
  id: string;
  type: typeof THRESHOLD_CROSSED;
  budget_id: string;
  org_id: string;
  metric: BudgetDoc["metric"];
  scope: BudgetDoc["scope"];
  threshold: number;
  /** Exact: credit_cents is a bigint past 2^53, written with every digit (stringifyJson). */
  value: ExactInt;
  period_start: string;
  period_end: string;
  occurred_at: string;
}

export function thresholdCrossedEvent(budget: BudgetDoc, period: PeriodWindow, threshold: number, value: ExactInt, at: Date): ThresholdCrossedEvent {
  return {
    id: thresholdEventId(budget._id, period.from, threshold),
    type: THRESHOLD_CROSSED,
    budget_id: budget._id,
    org_id: budget.org_id,
    metric: budget.metric,
    scope: budget.scope,
    threshold,
    value,
    period_start: zonedIso(period.from, budget.time_zone),
    period_end: zonedIso(period.to, budget.time_zone),
    occurred_at: isoUtc(at),
  };
}
