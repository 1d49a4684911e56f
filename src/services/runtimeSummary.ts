/**
 * Dreadnode's runtime summary (`GET /api/v1/org/{org}/sandboxes/usage`,
 * `Query.sandboxUsageSummary`): the calling key's user, in the key's own org only.
 */
import { type Principal, requireScope } from "../auth/principal.js";
import type { AppDeps } from "../deps.js";
import { notFound } from "../errors.js";
import { buildRuntimeSummaryPipeline, type RuntimeSummaryRow } from "../pipelines/runtime.js";
import { utcMonthStart } from "../time.js";

const NONE: RuntimeSummaryRow = { current_month_seconds: 0, sessions_count: 0, total_runtime_seconds: 0 };

export async function getRuntimeSummary(deps: AppDeps, principal: Principal, org: string): Promise<RuntimeSummaryRow> {
  // Another org's usage (or one that does not exist) is simply not there for this key.
  if (principal.orgId === null || principal.orgId !== org) throw notFound(`Organization '${org}' not found`);
  requireScope(principal, "read");
  const now = deps.clock.now();
  const pipeline = buildRuntimeSummaryPipeline({
    orgId: principal.orgId,
    userId: principal.userId,
    externalUserId: principal.onBehalfOf,
    monthStart: utcMonthStart(now),
    now,
  });
  const [row] = await deps.cols.sessions.aggregate<RuntimeSummaryRow>(pipeline).toArray();
  return row ?? NONE;
}
