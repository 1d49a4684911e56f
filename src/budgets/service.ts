/**
 * Budgets as REST and GraphQL both see them (DESIGN §11): validation (zod, every problem listed),
 * authorization (an admin of the org, or a cluster admin) and the stored shape → the public one.
 * The webhook secret goes in and never comes out.
 */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { type Principal, requireOrgAccess, requireScope } from "../auth/principal.js";
import { BUDGET_METRICS, type BudgetDoc, type BudgetScope, type WebhookDeliveryDoc } from "../db/collections.js";
import type { AppDeps } from "../deps.js";
import { badInput, notFound } from "../errors.js";
import type { ExactInt } from "../int64.js";
import { TAG_KEY } from "../ingest/events.js";
import { budgetValues } from "../services/budgetValue.js";
import { requireExistingOrg } from "../services/orgs.js";
import { isoUtc } from "../time.js";
import { toInputIssues } from "../zod-issues.js";
import { isValidTimeZone, periodContaining, zonedIso } from "./periods.js";
import { sealSecret } from "./secrets.js";
import { refusedUrl } from "./ssrf.js";

export const MAX_BUDGETS_PER_ORG = 200;
const BUDGET_ID = /^bud_[0-9a-f]{24}$/;

const ownerId = z.string().min(1).max(256);

/** `{}` (the whole org) or exactly one of these. */
const ScopeInput = z
  .strictObject({
    external_user_id: ownerId.optional(),
    external_project_id: ownerId.optional(),
    workspace_id: ownerId.optional(),
    sandbox_id: z.string().min(1).max(128).optional(),
    tag: z
      .strictObject({
        key: z.string().regex(TAG_KEY, "tag keys are 1-128 characters of [A-Za-z0-9_.:-]"),
        value: z.string().max(256),
      })
      .optional(),
  })
  .refine((s) => Object.values(s).filter((v) => v !== undefined).length <= 1, "scope names at most one of external_user_id, external_project_id, workspace_id, sandbox_id, tag");

function createInput(allowPrivate: boolean) {
  return z.strictObject({
    name: z.string().trim().min(1).max(200),
    metric: z.enum(BUDGET_METRICS),
    scope: ScopeInput.default({}),
    period: z.enum(["day", "month"]),
    time_zone: z.string().refine(isValidTimeZone, "must be an IANA time zone such as UTC, America/New_York or Asia/Kolkata").default("UTC"),
    thresholds: z
      .array(z.number().positive().max(1e15))
      .min(1)
      .max(10)
      .refine((t) => t.every((x, i) => i === 0 || x > t[i - 1]!), "thresholds must be strictly ascending"),
    webhook: z.strictObject({
      url: z
        .string()
        .max(2048)
        .superRefine((url, ctx) => {
          const why = refusedUrl(url, { allowPrivate });
          if (why) ctx.addIssue({ code: "custom", message: `webhook url ${why}` });
        }),
      secret: z.string().min(16, "webhook secret must be at least 16 characters").max(256),
    }),
  });
}

export type CreateBudgetInput = z.input<ReturnType<typeof createInput>>;

/** A budget as answered (never its secret). */
export interface BudgetView {
  id: string;
  org_id: string;
  name: string;
  metric: BudgetDoc["metric"];
  scope: BudgetScope;
  period: BudgetDoc["period"];
  time_zone: string;
  thresholds: number[];
  webhook: { url: string };
  created_at: string;
}

export interface CurrentPeriodView {
  period_start: string;
  period_end: string;
  /** Exact: credit_cents is a bigint past 2^53. */
  value: ExactInt;
}

export const toBudgetView = (b: BudgetDoc): BudgetView => ({
  id: b._id,
  org_id: b.org_id,
  name: b.name,
  metric: b.metric,
  scope: b.scope,
  period: b.period,
  time_zone: b.time_zone,
  thresholds: b.thresholds,
  webhook: { url: b.webhook.url },
  created_at: isoUtc(b.created_at),
});

async function authorize(deps: AppDeps, p: Principal, orgId: string, orgLoc: Array<string | number>): Promise<void> {
  requireScope(p, "admin");
  // Access before existence, so a foreign key cannot probe which orgs exist.
  requireOrgAccess(p, orgId);
  await requireExistingOrg(deps.cols, orgId, orgLoc);
}

/** Drops the undefined members zod leaves, so a stored scope has exactly its one key. */
function cleanScope(s: z.output<typeof ScopeInput>): BudgetScope {
  for (const [k, v] of Object.entries(s)) if (v !== undefined) return { [k]: v } as BudgetScope;
  return {};
}

export async function createBudget(
  deps: AppDeps,
  p: Principal,
  orgId: string,
  raw: unknown,
  locs: { org: Array<string | number>; body: Array<string | number> },
): Promise<BudgetDoc> {
  await authorize(deps, p, orgId, locs.org);
  const parsed = createInput(deps.config.WEBHOOK_ALLOW_PRIVATE).safeParse(raw);
  if (!parsed.success) {
    const issues = toInputIssues(parsed.error, locs.body);
    throw badInput(issues.map((i) => `${i.loc.join(".")}: ${i.msg}`).join("; "), issues);
  }
  const count = await deps.cols.budgets.countDocuments({ org_id: orgId });
  if (count >= MAX_BUDGETS_PER_ORG) {
    throw badInput(`an organization has at most ${MAX_BUDGETS_PER_ORG} budgets`, [{ loc: locs.org, msg: "too many budgets", type: "too_long" }]);
  }
  const input = parsed.data;
  const doc: BudgetDoc = {
    _id: `bud_${randomBytes(12).toString("hex")}`,
    org_id: orgId,
    name: input.name,
    metric: input.metric,
    scope: cleanScope(input.scope),
    period: input.period,
    time_zone: input.time_zone,
    thresholds: input.thresholds,
    webhook: { url: input.webhook.url, secret: sealSecret(input.webhook.secret, deps.config.WEBHOOK_SECRET_KEY) },
    created_at: deps.clock.now(),
    created_by: p.keyId,
  };
  await deps.cols.budgets.insertOne(doc);
  return doc;
}

export async function listBudgets(deps: AppDeps, p: Principal, orgId: string, orgLoc: Array<string | number>): Promise<BudgetDoc[]> {
  await authorize(deps, p, orgId, orgLoc);
  return deps.cols.budgets.find({ org_id: orgId }).sort({ created_at: 1, _id: 1 }).toArray();
}

export async function getBudget(deps: AppDeps, p: Principal, orgId: string, id: string, orgLoc: Array<string | number>): Promise<BudgetDoc> {
  await authorize(deps, p, orgId, orgLoc);
  const doc = BUDGET_ID.test(id) ? await deps.cols.budgets.findOne({ _id: id, org_id: orgId }) : null;
  if (!doc) throw notFound(`Budget '${id}' not found`);
  return doc;
}

/** The budget's value in the calendar period (in its zone) that contains now. */
export async function currentPeriod(deps: AppDeps, b: BudgetDoc): Promise<CurrentPeriodView> {
  const now = deps.clock.now();
  const period = periodContaining(now, b.period, b.time_zone);
  const [values] = await budgetValues(deps, b.org_id, [{ scope: b.scope, window: period }], now);
  return { period_start: zonedIso(period.from, b.time_zone), period_end: zonedIso(period.to, b.time_zone), value: values![b.metric] };
}

/** Deletes the budget; deliveries still waiting are cancelled (their log stays). */
export async function deleteBudget(deps: AppDeps, p: Principal, orgId: string, id: string, orgLoc: Array<string | number>): Promise<void> {
  const doc = await getBudget(deps, p, orgId, id, orgLoc);
  await deps.cols.budgets.deleteOne({ _id: doc._id, org_id: orgId });
  await deps.cols.webhookDeliveries.updateMany({ org_id: orgId, budget_id: doc._id, status: "pending" }, { $set: { status: "cancelled" } });
}

export interface DeliveryView {
  event_id: string;
  threshold: number;
  period_start: string;
  status: WebhookDeliveryDoc["status"];
  created_at: string;
  delivered_at: string | null;
  next_attempt_at: string | null;
  attempts: Array<{ at: string; status_code: number | null; outcome: string; error?: string; duration_ms: number }>;
  event: unknown;
}

export const DELIVERIES_LIMIT = 100;

/** The budget's deliveries log, newest first (at most DELIVERIES_LIMIT). */
export async function listDeliveries(deps: AppDeps, p: Principal, orgId: string, id: string, orgLoc: Array<string | number>): Promise<DeliveryView[]> {
  const b = await getBudget(deps, p, orgId, id, orgLoc);
  const docs = await deps.cols.webhookDeliveries.find({ org_id: orgId, budget_id: b._id }).sort({ created_at: -1, _id: 1 }).limit(DELIVERIES_LIMIT).toArray();
  return docs.map((d) => ({
    event_id: d._id,
    threshold: d.threshold,
    period_start: zonedIso(d.period_start, b.time_zone),
    status: d.status,
    created_at: isoUtc(d.created_at),
    delivered_at: d.delivered_at ? isoUtc(d.delivered_at) : null,
    next_attempt_at: d.status === "pending" ? isoUtc(d.next_attempt_at) : null,
    attempts: d.attempts.map((a) => ({ at: isoUtc(a.at), status_code: a.status_code, outcome: a.outcome, ...(a.error && { error: a.error }), duration_ms: a.duration_ms })),
    event: JSON.parse(d.body),
  }));
}
