/**
 * MIOSA's usage rollup (`GET /api/v1/usage`, `Query.usageRollup`): vCPU-seconds, storage
 * GiB-hours and cost per external user, project or workspace over a period. Parameters are
 * validated here once; errors carry MIOSA's codes as their issue `type`.
 */
import { type Principal, requireScope } from "../auth/principal.js";
import { type AppDeps, queryOptions } from "../deps.js";
import { AppError, badInput, forbidden, type InputIssue } from "../errors.js";
import { compareCentsDescending, type RuntimeMetrics, runtimeMetrics } from "../cost.js";
import { compareGroupValues } from "../order.js";
import { buildUsageRollupPipeline, ROLLUP_GROUP_KEYS, type RollupGroupKey, type UsageRollupSumsRow, type Window } from "../pipelines/runtime.js";
import { parseIsoInstant } from "../time.js";
import { DEFAULT_TIME_ZONE, localMidnightAfter, localPeriod, parseTimeZone } from "../zones.js";
import { pricesOf } from "./prices.js";

export const ROLLUP_PERIODS = ["7d", "30d", "mtd", "month-to-date", "custom"] as const;
type Period = "7d" | "30d" | "mtd" | "custom";

/** MIOSA's error codes (its 422 `error.code`). */
export const ROLLUP_ERROR = { groupBy: "invalid group_by", period: "invalid period", customRange: "invalid_custom_range", timeZone: "invalid time_zone" } as const;

export interface UsageRollupRequest {
  group_by?: string;
  period?: string;
  start?: string;
  end?: string;
  /** IANA zone of the periods' midnights and month start, and of the reported offsets; default UTC. */
  time_zone?: string | null;
}

/** One group of MIOSA's rollup: its key (null for usage without one) and its figures. */
export interface UsageRollupRow extends RuntimeMetrics {
  key: string | null;
}

export interface UsageRollupReport {
  groupBy: RollupGroupKey;
  periodStart: Date;
  periodEnd: Date;
  timeZone: string;
  rows: UsageRollupRow[];
}

export interface Validated {
  groupBy: RollupGroupKey;
  period: Period;
  start: Date | null;
  end: Date | null;
  timeZone: string;
}

function validate(r: UsageRollupRequest, loc: Array<string | number>): Validated {
  const issues: InputIssue[] = [];
  const groupBy = r.group_by ?? "external_user_id";
  if (!(ROLLUP_GROUP_KEYS as readonly string[]).includes(groupBy)) {
    issues.push({ loc: [...loc, "group_by"], msg: `group_by must be one of ${ROLLUP_GROUP_KEYS.join(", ")}`, type: ROLLUP_ERROR.groupBy });
  }
  const rawPeriod = r.period ?? "30d";
  const period = rawPeriod === "month-to-date" ? "mtd" : rawPeriod;
  if (!(ROLLUP_PERIODS as readonly string[]).includes(period)) {
    issues.push({ loc: [...loc, "period"], msg: `period must be one of ${ROLLUP_PERIODS.join(", ")}`, type: ROLLUP_ERROR.period });
  }
  let start: Date | null = null;
  let end: Date | null = null;
  const range = (field: "start" | "end", msg: string) => issues.push({ loc: [...loc, field], msg, type: ROLLUP_ERROR.customRange });
  if (period === "custom") {
    for (const field of ["start", "end"] as const) {
      const text = r[field];
      const at = text === undefined ? null : parseIsoInstant(text);
      if (text === undefined) range(field, `${field} is required when period=custom`);
      else if (!at) range(field, `${field} must be an ISO 8601 date or date-time, e.g. 2026-05-01 or 2026-05-01T00:00:00Z`);
      if (field === "start") start = at;
      else end = at;
    }
    if (start && end && start.getTime() >= end.getTime()) range("end", "end must be after start");
  } else if (r.start !== undefined || r.end !== undefined) {
    range(r.start !== undefined ? "start" : "end", "start and end are only accepted with period=custom");
  }
  const timeZone = parseTimeZone(r.time_zone ?? DEFAULT_TIME_ZONE);
  if (timeZone === null) issues.push({ loc: [...loc, "time_zone"], msg: "time_zone must be an IANA time zone name, e.g. America/New_York or UTC", type: ROLLUP_ERROR.timeZone });
  if (issues.length > 0) throw badInput(issues.map((i) => i.msg).join("; "), issues);
  return { groupBy: groupBy as RollupGroupKey, period: period as Period, start, end, timeZone: timeZone! };
}

/** 7d/30d end at the next local midnight after now; mtd starts on the 1st of this local month (zone: default UTC). */
export function periodWindow(v: Pick<Validated, "period" | "start" | "end"> & { timeZone?: string }, now: Date): Window {
  const zone = v.timeZone ?? DEFAULT_TIME_ZONE;
  const to = new Date(localMidnightAfter(now.getTime(), zone));
  switch (v.period) {
    case "7d":
      return { from: new Date(localMidnightAfter(now.getTime(), zone, -6)), to };
    case "30d":
      return { from: new Date(localMidnightAfter(now.getTime(), zone, -29)), to };
    case "mtd":
      return { from: new Date(localPeriod(now.getTime(), "month", zone).start), to };
    case "custom":
      return { from: v.start!, to: v.end! };
  }
}

/** Validates a rollup request (every problem listed, with MIOSA's codes as issue types). */
export function validateRollupRequest(request: UsageRollupRequest, loc: Array<string | number> = []): Validated {
  return validate(request, loc);
}

/**
 * Rollups of several orgs in one aggregation (each at its own price table), in the order given;
 * an org whose usage cannot be priced exactly (src/cost.ts) is its error instead. The caller has
 * checked that `principal` may read every one of `orgIds`.
 */
export async function usageRollups(deps: AppDeps, principal: Principal, orgIds: readonly string[], v: Validated): Promise<Array<UsageRollupReport | AppError>> {
  requireScope(principal, "read");
  if (orgIds.length === 0) return [];
  const now = deps.clock.now();
  const window = periodWindow(v, now);
  const orgs = [...new Set(orgIds)];
  const pipeline = buildUsageRollupPipeline({ orgIds: orgs, groupBy: v.groupBy, window, now, externalUserId: principal.onBehalfOf });
  const [sums, prices] = await Promise.all([deps.cols.sessions.aggregate<UsageRollupSumsRow>(pipeline, queryOptions(deps)).toArray(), pricesOf(deps.cols, orgs)]);
  const byOrg = new Map<string, UsageRollupRow[]>();
  // An org whose sums cannot be priced exactly gets its error, and only it: the others still answer.
  const failed = new Map<string, AppError>();
  for (const { org_id, key, ...row } of sums) {
    if (failed.has(org_id)) continue;
    let priced: UsageRollupRow;
    try {
      priced = { key, ...runtimeMetrics(row, prices.get(org_id)!) };
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      failed.set(org_id, err);
      continue;
    }
    const list = byOrg.get(org_id);
    if (list) list.push(priced);
    else byOrg.set(org_id, [priced]);
  }
  // MIOSA's order: cost, larger first, then the key (as MongoDB orders it).
  for (const rows of byOrg.values()) rows.sort((a, b) => compareCentsDescending(a.credit_cents, b.credit_cents) || compareGroupValues(a.key, b.key));
  return orgIds.map(
    (org) => failed.get(org) ?? { groupBy: v.groupBy, periodStart: window.from, periodEnd: window.to, timeZone: v.timeZone, rows: byOrg.get(org) ?? [] },
  );
}

export async function getUsageRollup(
  deps: AppDeps,
  principal: Principal,
  request: UsageRollupRequest,
  opts: { loc?: Array<string | number> } = {},
): Promise<UsageRollupReport> {
  const v = validate(request, opts.loc ?? []);
  requireScope(principal, "read");
  if (principal.orgId === null) throw forbidden("This key belongs to no organization; the usage rollup is per organization");
  const [report] = await usageRollups(deps, principal, [principal.orgId], v);
  if (report instanceof AppError) throw report;
  return report!;
}
