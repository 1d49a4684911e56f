/**
 * Per-org price tables (DESIGN §3): cents per sandbox vCPU-hour, computer vCPU-hour and storage
 * GiB-hour, fractional allowed. An org that never set one pays the documented defaults below —
 * the single place they are written down (the README quotes them).
 */
import { z } from "zod";
import { type Principal, requireOrgAccess, requireScope } from "../auth/principal.js";
import type { Collections } from "../db/collections.js";
import type { AppDeps } from "../deps.js";
import { badInput, type InputIssue } from "../errors.js";
import type { Prices } from "../cost.js";
import { toInputIssues } from "../zod-issues.js";
import { requireExistingOrg } from "./orgs.js";

export const DEFAULT_PRICES: Readonly<Prices> = Object.freeze({
  sandbox_vcpu_hour_cents: 5,
  computer_vcpu_hour_cents: 10,
  storage_gb_hour_cents: 0.014,
});

const cents = z.number().min(0).max(1_000_000, "at most 1,000,000 cents (10,000 currency units) per hour");

export const PriceTableInput = z.strictObject({
  sandbox_vcpu_hour_cents: cents,
  computer_vcpu_hour_cents: cents,
  storage_gb_hour_cents: cents,
});

const tableOf = (doc: Prices | null): Prices =>
  doc
    ? { sandbox_vcpu_hour_cents: doc.sandbox_vcpu_hour_cents, computer_vcpu_hour_cents: doc.computer_vcpu_hour_cents, storage_gb_hour_cents: doc.storage_gb_hour_cents }
    : { ...DEFAULT_PRICES };

/** The table an org pays (its own, else the defaults). Served by the _id index. */
export async function pricesFor(cols: Collections, orgId: string): Promise<Prices> {
  return tableOf(await cols.prices.findOne({ _id: orgId }));
}

/** The tables several orgs pay, by org (one read, by `_id`). */
export async function pricesOf(cols: Collections, orgIds: readonly string[]): Promise<Map<string, Prices>> {
  const docs = await cols.prices.find({ _id: { $in: [...orgIds] } }).toArray();
  const own = new Map(docs.map((d) => [d._id, d]));
  return new Map(orgIds.map((org) => [org, tableOf(own.get(org) ?? null)]));
}

async function authorizeAdmin(deps: AppDeps, principal: Principal, orgId: string, orgLoc: Array<string | number>): Promise<void> {
  requireScope(principal, "admin");
  // Access before existence, so a foreign key cannot probe which orgs exist.
  requireOrgAccess(principal, orgId);
  await requireExistingOrg(deps.cols, orgId, orgLoc);
}

/** `GET /api/v1/orgs/{org}/prices`: an admin of the org, or a cluster admin. */
export async function getPrices(deps: AppDeps, principal: Principal, orgId: string, orgLoc: Array<string | number>): Promise<Prices> {
  await authorizeAdmin(deps, principal, orgId, orgLoc);
  return pricesFor(deps.cols, orgId);
}

/** `PUT /api/v1/orgs/{org}/prices`: replaces the whole table; answers the table now in force. */
export async function setPrices(
  deps: AppDeps,
  principal: Principal,
  orgId: string,
  raw: unknown,
  locs: { org: Array<string | number>; body: Array<string | number> },
): Promise<Prices> {
  await authorizeAdmin(deps, principal, orgId, locs.org);
  const parsed = PriceTableInput.safeParse(raw);
  if (!parsed.success) {
    const issues: InputIssue[] = toInputIssues(parsed.error, locs.body);
    throw badInput("Invalid price table", issues);
  }
  const table = parsed.data;
  await deps.cols.prices.replaceOne(
    { _id: orgId },
    { ...table, updated_at: deps.clock.now(), updated_by: principal.keyId },
    { upsert: true },
  );
  return table;
}
