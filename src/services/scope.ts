/**
 * Which usage a caller may see: the org scope of a read (its own org, or what a cluster admin asks
 * for) and, under X-On-Behalf-Of, the sessions of that external user. One place for every endpoint.
 */
import type { Principal } from "../auth/principal.js";
import type { Collections } from "../db/collections.js";
import { forbidden } from "../errors.js";
import type { OperationScope } from "../pipelines/sandboxUsage.js";

export interface OrgScopeRequest {
  allOrgs?: boolean;
  orgIds?: string[] | null;
}

/** null = every org. Cross-org reads (all_orgs, org_ids) need a cluster admin. */
export function resolveOrgScope(p: Principal, req: OrgScopeRequest): string[] | null | "no-org" {
  const crossOrg = req.allOrgs === true || (req.orgIds !== undefined && req.orgIds !== null && req.orgIds.length > 0);
  if (crossOrg && !p.clusterAdmin) throw forbidden("all_orgs and org_ids are for cluster admins only");
  if (req.orgIds && req.orgIds.length > 0) return [...new Set(req.orgIds)];
  if (req.allOrgs) return null;
  return p.orgId === null ? "no-org" : [p.orgId];
}

/**
 * The sessions of the X-On-Behalf-Of user within the org scope, per org (session ids are unique
 * only within an org), or null when the caller is not acting on behalf of anyone. Served by
 * sessions_org_external_user ({org_id, external_user_id}).
 */
export async function onBehalfSessions(cols: Collections, p: Principal, orgIds: string[] | null): Promise<Map<string, string[]> | null> {
  if (p.onBehalfOf === null) return null;
  const filter = orgIds ? { org_id: orgIds.length === 1 ? orgIds[0]! : { $in: orgIds }, external_user_id: p.onBehalfOf } : { external_user_id: p.onBehalfOf };
  const sessions = await cols.sessions.find(filter, { projection: { _id: 0, org_id: 1, session_id: 1 } }).toArray();
  const byOrg = new Map<string, string[]>();
  for (const s of sessions) {
    const ids = byOrg.get(s.org_id);
    if (ids) ids.push(s.session_id);
    else byOrg.set(s.org_id, [s.session_id]);
  }
  return byOrg;
}

export async function operationScope(cols: Collections, p: Principal, orgIds: string[] | null): Promise<OperationScope> {
  return { orgIds, sessions: await onBehalfSessions(cols, p, orgIds) };
}
