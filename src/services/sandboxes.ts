/**
 * Sandboxes and their tags (OpenComputer's tags API, `Query.sandbox`, `Mutation.setSandboxTags`):
 * which sandboxes a caller can see, reading and replacing a sandbox's tag set, and the org's tag keys.
 */
import { type Principal, requireScope } from "../auth/principal.js";
import { type Collections, type SandboxDoc, sandboxKey } from "../db/collections.js";
import { type AppDeps, queryOptions } from "../deps.js";
import { badInput, forbidden, type InputIssue, notFound } from "../errors.js";
import { MAX_TAGS, RESERVED_TAG_PREFIX, TAG_KEY } from "../ingest/events.js";
import { buildTagKeysPipeline, buildUserTagKeysPipeline } from "../pipelines/sandboxes.js";
import { buildSandboxQuantitiesPipeline, type Quantities } from "../pipelines/usageAggregate.js";
import { AGGREGATE_WINDOW, parseWindow, type WindowRequest } from "./window.js";

export type TagPair = { key: string; value: string };

export interface SandboxTags {
  tags: TagPair[];
  /** Null when the sandbox has no tags (as OpenComputer documents). */
  tagsLastUpdatedAt: Date | null;
}

export interface TagKeyStats {
  key: string;
  sandboxCount: number;
  valueCount: number;
}

const MAX_TAG_VALUE = 256;

/** The org a sandbox request is about: the key's own; the bootstrap key belongs to none. */
export function sandboxOrg(p: Principal): string {
  if (p.orgId === null) throw forbidden("This key belongs to no organization; sandboxes are per organization");
  return p.orgId;
}

/**
 * The caller's sandboxes among `ids`, by id, in one `find` (plus one `distinct` under
 * X-On-Behalf-Of, where only sandboxes that user ran are visible). Another org's sandbox is as
 * unknown as a missing one.
 */
export async function findSandboxesById(cols: Collections, p: Principal, ids: readonly string[]): Promise<Map<string, SandboxDoc>> {
  const orgId = sandboxOrg(p);
  const keys = [...new Set(ids)].map((id) => sandboxKey(orgId, id));
  let docs = await cols.sandboxes.find({ _id: keys.length === 1 ? keys[0]! : { $in: keys } }).toArray();
  if (p.onBehalfOf !== null && docs.length > 0) {
    const ran = new Set(
      await cols.sessions.distinct("sandbox_id", { org_id: orgId, sandbox_id: { $in: docs.map((d) => d.sandbox_id) }, external_user_id: p.onBehalfOf }),
    );
    docs = docs.filter((d) => ran.has(d.sandbox_id));
  }
  return new Map(docs.map((d) => [d.sandbox_id, d]));
}

/** The caller's sandbox, or null when it is unknown in the caller's org. */
export async function findSandbox(cols: Collections, p: Principal, sandboxId: string): Promise<SandboxDoc | null> {
  return (await findSandboxesById(cols, p, [sandboxId])).get(sandboxId) ?? null;
}

/** A sandbox this service has no events for: no alias, no tags, and (so) no usage. */
export const unknownSandbox = (orgId: string, sandboxId: string): SandboxDoc => ({
  _id: sandboxKey(orgId, sandboxId),
  org_id: orgId,
  sandbox_id: sandboxId,
  tags: [],
  tags_updated_at: null,
});

/**
 * Memory and disk-overage GiB-seconds of several sandboxes of one org over a window (the
 * aggregator's window rules), in the order given, in one aggregation.
 */
export async function sandboxQuantities(deps: AppDeps, p: Principal, sandboxes: readonly SandboxDoc[], request: WindowRequest): Promise<Quantities[]> {
  requireScope(p, "read");
  const now = deps.clock.now();
  const window = parseWindow(request, now, AGGREGATE_WINDOW);
  if (sandboxes.length === 0) return [];
  const pipeline = buildSandboxQuantitiesPipeline({
    orgId: sandboxOrg(p),
    sandboxIds: [...new Set(sandboxes.map((s) => s.sandbox_id))],
    window,
    now,
    externalUserId: p.onBehalfOf,
  });
  const rows = await deps.cols.sessions.aggregate<Quantities & { _id: string }>(pipeline, queryOptions(deps)).toArray();
  const byId = new Map(rows.map(({ _id, ...q }) => [_id, q]));
  return sandboxes.map((s) => byId.get(s.sandbox_id) ?? { memoryGbSeconds: 0, diskOverageGbSeconds: 0 });
}

export async function requireSandbox(cols: Collections, p: Principal, sandboxId: string): Promise<SandboxDoc> {
  const doc = await findSandbox(cols, p, sandboxId);
  if (!doc) throw notFound(`sandbox '${sandboxId}' not found`);
  return doc;
}

export function tagsOf(doc: SandboxDoc): SandboxTags {
  const tags = doc.tags ?? [];
  return { tags, tagsLastUpdatedAt: tags.length > 0 ? doc.tags_updated_at : null };
}

export async function getSandboxTags(deps: AppDeps, p: Principal, sandboxId: string): Promise<SandboxTags> {
  requireScope(p, "read");
  return tagsOf(await requireSandbox(deps.cols, p, sandboxId));
}

/** Checks a whole tag set (OpenComputer's rules) and returns it as sorted pairs, or throws listing every problem. */
export function validateTagSet(raw: unknown, loc: Array<string | number>): TagPair[] {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw badInput("tags must be a flat JSON object of string values", [{ loc, msg: "Input should be an object", type: "dict_type" }], 400);
  }
  const issues: InputIssue[] = [];
  const entries = Object.entries(raw);
  if (entries.length > MAX_TAGS) issues.push({ loc, msg: `at most ${MAX_TAGS} tag keys per sandbox, got ${entries.length}`, type: "too_long" });
  for (const [key, value] of entries) {
    const at = [...loc, key];
    if (!TAG_KEY.test(key)) issues.push({ loc: at, msg: `tag key '${key.slice(0, 140)}' must be 1-128 characters of A-Z a-z 0-9 _ . - :`, type: "string_pattern_mismatch" });
    else if (key.startsWith(RESERVED_TAG_PREFIX)) issues.push({ loc: at, msg: `the '${RESERVED_TAG_PREFIX}' tag key prefix is reserved`, type: "value_error" });
    if (typeof value !== "string") issues.push({ loc: at, msg: `tag '${key.slice(0, 140)}' must have a string value (nested objects are rejected)`, type: "string_type" });
    else if ([...value].length > MAX_TAG_VALUE) issues.push({ loc: at, msg: `tag '${key}' value is over ${MAX_TAG_VALUE} characters`, type: "string_too_long" });
  }
  if (issues.length > 0) throw badInput(issues.map((i) => i.msg).join("; "), issues, 400);
  return entries.map(([key, value]) => ({ key, value: value as string })).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/**
 * Replaces a sandbox's tag set (`{}` clears it). Needs the admin or the ingest scope. The new set
 * re-attributes all of the sandbox's usage, past included, because the aggregate reads current tags.
 */
export async function setSandboxTags(deps: AppDeps, p: Principal, sandboxId: string, raw: unknown, loc: Array<string | number>): Promise<SandboxDoc> {
  requireScope(p, ["admin", "ingest"]);
  const tags = validateTagSet(raw, loc);
  const doc = await requireSandbox(deps.cols, p, sandboxId);
  const updated = await deps.cols.sandboxes.findOneAndUpdate(
    { _id: doc._id },
    { $set: { tags, tags_updated_at: deps.clock.now() } },
    { returnDocument: "after" },
  );
  if (!updated) throw notFound(`sandbox '${sandboxId}' not found`);
  return updated;
}

/**
 * Every tag key on the caller's org's sandboxes, with how many sandboxes and distinct values carry
 * it; under X-On-Behalf-Of, only on the sandboxes that user ran.
 */
export async function listTagKeys(deps: AppDeps, p: Principal): Promise<TagKeyStats[]> {
  requireScope(p, "read");
  const orgId = sandboxOrg(p);
  if (p.onBehalfOf !== null) return deps.cols.sessions.aggregate<TagKeyStats>(buildUserTagKeysPipeline(orgId, p.onBehalfOf), queryOptions(deps)).toArray();
  return deps.cols.sandboxes.aggregate<TagKeyStats>(buildTagKeysPipeline(orgId), queryOptions(deps)).toArray();
}

/** Tag pairs as OpenComputer's JSON object (keys in sorted order). */
export const tagObject = (tags: TagPair[]): Record<string, string> => Object.fromEntries(tags.map((t) => [t.key, t.value]));
