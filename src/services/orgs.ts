/** Organizations exist once a key or an event names them (DESIGN §4); there is no org registry. */
import { OrgId } from "../auth/keys.js";
import type { Collections } from "../db/collections.js";
import { badInput, notFound } from "../errors.js";

/** Served by api_keys_org_user and usage_events_org_event_id_unique (both lead with org_id). */
export async function orgExists(cols: Collections, orgId: string): Promise<boolean> {
  const [key, event] = await Promise.all([
    cols.apiKeys.findOne({ org_id: orgId }, { projection: { _id: 1 } }),
    cols.usageEvents.findOne({ org_id: orgId }, { projection: { _id: 1 } }),
  ]);
  return key !== null || event !== null;
}

/** An org named in a path: malformed → 422 at `loc`, unknown → 404. */
export async function requireExistingOrg(cols: Collections, orgId: string, loc: Array<string | number>): Promise<void> {
  if (!OrgId.safeParse(orgId).success) {
    throw badInput("Invalid organization id", [{ loc, msg: "must be 1-64 characters: letters, digits, '_', '.', '-'", type: "value_error" }]);
  }
  if (!(await orgExists(cols, orgId))) throw notFound(`Organization '${orgId}' not found`);
}
