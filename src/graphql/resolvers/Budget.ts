import type { BudgetPeriodValueResolvers, BudgetResolvers, BudgetScopeResolvers, CreateBudgetInput } from "../../__generated__/resolvers-types.js";
import { currentPeriod } from "../../budgets/service.js";

/** The GraphQL input as the REST JSON, so both surfaces share one validation (nulls mean "not given"). */
export function toBudgetJson(input: CreateBudgetInput): Record<string, unknown> {
  const scope: Record<string, unknown> = {};
  const s = input.scope ?? {};
  if (s.externalUserId != null) scope.external_user_id = s.externalUserId;
  if (s.externalProjectId != null) scope.external_project_id = s.externalProjectId;
  if (s.workspaceId != null) scope.workspace_id = s.workspaceId;
  if (s.sandboxId != null) scope.sandbox_id = s.sandboxId;
  if (s.tag != null) scope.tag = { key: s.tag.key, value: s.tag.value };
  return {
    name: input.name,
    metric: input.metric,
    scope,
    period: input.period,
    ...(input.timeZone != null && { time_zone: input.timeZone }),
    thresholds: input.thresholds,
    webhook: { url: input.webhook.url, secret: input.webhook.secret },
  };
}

export const Budget: BudgetResolvers = {
  id: (b) => b._id,
  organization: (b) => ({ id: b.org_id }),
  timeZone: (b) => b.time_zone,
  webhookUrl: (b) => b.webhook.url,
  createdAt: (b) => b.created_at,
  currentPeriod: (b, _args, ctx) => currentPeriod(ctx.deps, b),
};

export const BudgetScope: BudgetScopeResolvers = {
  externalUserId: (s) => ("external_user_id" in s ? s.external_user_id : null),
  externalProjectId: (s) => ("external_project_id" in s ? s.external_project_id : null),
  workspaceId: (s) => ("workspace_id" in s ? s.workspace_id : null),
  sandboxId: (s) => ("sandbox_id" in s ? s.sandbox_id : null),
  tag: (s) => ("tag" in s ? s.tag : null),
};

export const BudgetPeriodValue: BudgetPeriodValueResolvers = {
  periodStart: (v) => v.period_start,
  periodEnd: (v) => v.period_end,
  // A GraphQL Float is a double: cents past 2^53 are the nearest one (REST and webhooks carry every digit).
  value: (v) => Number(v.value),
};
