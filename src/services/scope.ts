/**
 * Which usage a caller may see: the org scope of a read (its own org, or what a cluster admin asks
 * for) and, under X-On-Behalf-Of, the sessions of that external user. One place for every endpoint.
 */
import type { Principal } from "../auth/principal.js";
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

/** The operations a caller may see: the org scope and, under X-On-Behalf-Of, that user's sessions only. */
export function operationScope(p: Principal, orgIds: string[] | null): OperationScope {
  return { orgIds, externalUserId: p.onBehalfOf };
}
