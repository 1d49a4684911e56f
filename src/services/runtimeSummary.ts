/**
 * Dreadnode's runtime summary (`GET /api/v1/org/{org}/sandboxes/usage`,
 * `Query.sandboxUsageSummary`): the calling key's user, in the key's own org only.
 */
import { type Principal, requireScope } from "../auth/principal.js";
import { type AppDeps, queryOptions } from "../deps.js";
import { badInput, notFound } from "../errors.js";
import { buildRuntimeSummaryPipeline, type RuntimeSummaryRow, type UserRuntimeSummaryRow } from "../pipelines/runtime.js";
import { DEFAULT_TIME_ZONE, localPeriod, parseTimeZone } from "../zones.js";

const NONE: RuntimeSummaryRow = { current_month_seconds: 0, sessions_count: 0, total_runtime_seconds: 0 };

/**
 * Summaries of several users of one org in one aggregation, in the order given (zeros for a user
 * without sessions). The caller has checked that `principal` may read `orgId`.
 */
export async function runtimeSummaries(
  deps: AppDeps,
  principal: Principal,
  orgId: string,
  userIds: readonly string[],
  timeZone: string = DEFAULT_TIME_ZONE,
): Promise<RuntimeSummaryRow[]> {
  requireScope(principal, "read");
  if (userIds.length === 0) return [];
  const now = deps.clock.now();
  const pipeline = buildRuntimeSummaryPipeline({
    orgId,
    userIds: [...new Set(userIds)],
    externalUserId: principal.onBehalfOf,
    // The current calendar month in the zone (DESIGN: Dreadnode's time_zone), UTC by default.
    monthStart: new Date(localPeriod(now.getTime(), "month", timeZone).start),
    now,
  });
  const rows = await deps.cols.sessions.aggregate<UserRuntimeSummaryRow>(pipeline, queryOptions(deps)).toArray();
  const byUser = new Map(rows.map(({ user_id, ...summary }) => [user_id, summary]));
  return userIds.map((u) => byUser.get(u) ?? NONE);
}

/** `timeZone`: the IANA zone of the "current month" (REST `time_zone`), default UTC; `loc` where it sits. */
export async function getRuntimeSummary(
  deps: AppDeps,
  principal: Principal,
  org: string,
  opts: { timeZone?: string | null; loc?: Array<string | number> } = {},
): Promise<RuntimeSummaryRow> {
  const zone = parseTimeZone(opts.timeZone ?? DEFAULT_TIME_ZONE);
  if (zone === null) {
    const msg = "time_zone must be an IANA time zone name, e.g. Europe/Berlin or UTC";
    throw badInput(msg, [{ loc: [...(opts.loc ?? []), "time_zone"], msg, type: "value_error" }]);
  }
  // Another org's usage (or one that does not exist) is simply not there for this key.
  if (principal.orgId === null || principal.orgId !== org) throw notFound(`Organization '${org}' not found`);
  requireScope(principal, "read");
  const [summary] = await runtimeSummaries(deps, principal, principal.orgId, [principal.userId], zone);
  return summary!;
}
