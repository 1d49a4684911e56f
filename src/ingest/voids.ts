/**
 * Corrections: `POST /api/v1/usage/events/void` and `Mutation.voidUsageEvents`. Validated at the
 * edge (1–5000 ids, a reason), then one transaction (store/voids.ts) moves the events out of every
 * answer and keeps them, with who voided them, when and why, for audit.
 */
import { z } from "zod";
import type { Principal } from "../auth/principal.js";
import { requireScope } from "../auth/principal.js";
import { OrgId } from "../auth/keys.js";
import type { Metrics } from "../metrics.js";
import { noteUsage, rangesByOrg } from "../budgets/marks.js";
import { badInput, forbidden } from "../errors.js";
import { type VoidResult, voidEvents } from "../store/voids.js";
import { inTransaction } from "../store/transaction.js";
import { toInputIssues } from "../zod-issues.js";
import type { IngestDeps } from "./service.js";
import { MAX_EVENTS_PER_REQUEST } from "./events.js";

export const VoidRequest = z.strictObject({
  ids: z.array(z.string().min(1).max(128)).min(1).max(MAX_EVENTS_PER_REQUEST),
  reason: z.string().max(1000).nullish(),
  /** The org whose events these are; a key that is not a cluster admin may only name its own. */
  org_id: OrgId.optional(),
});

export async function voidUsageEvents(deps: IngestDeps & { metrics?: Metrics }, principal: Principal, body: unknown, loc: Array<string | number>): Promise<VoidResult> {
  requireScope(principal, "ingest");
  const parsed = VoidRequest.safeParse(body);
  if (!parsed.success) throw badInput("invalid void request; nothing was voided", toInputIssues(parsed.error, loc));
  const orgId = parsed.data.org_id ?? principal.orgId;
  if (!orgId) throw badInput("org_id is required with a key that belongs to no organization", [{ loc: [...loc, "org_id"], msg: "Field required", type: "missing" }]);
  if (!principal.clusterAdmin && orgId !== principal.orgId) throw forbidden(`this API key may only void usage of organization '${principal.orgId}'`);
  const at = deps.clock.now();
  const { result, voided } = await inTransaction(deps.client, (session) =>
    voidEvents(deps.cols, session, { orgId, ids: parsed.data.ids, reason: parsed.data.reason ?? null, by: principal.keyId, at }),
    [orgId],
  );
  // Budgets re-evaluate the periods it touched: voiding a stop reopens a session, which can cross.
  for (const [org, range] of rangesByOrg(voided)) await noteUsage(deps, org, range);
  deps.metrics?.countVoided(result);
  return result;
}
