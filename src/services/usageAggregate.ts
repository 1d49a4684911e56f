/**
 * OpenComputer's usage aggregator (`GET /api/usage`, `Query.usage`): parameters validated once
 * (every problem a 400), paging by an opaque keyset cursor that pins the window it was issued for.
 */
import { type Principal, requireScope } from "../auth/principal.js";
import { type AppDeps, queryOptions } from "../deps.js";
import { badInput, type InputIssue } from "../errors.js";
import { TAG_KEY } from "../ingest/events.js";
import {
  AGGREGATE_SORTS,
  type AggregateAfter,
  type AggregateGroupBy,
  type AggregateSort,
  buildUsageAggregatePipeline,
  type Quantities,
  type SandboxRow,
  type TagFilter,
  type TagRow,
  type UsageAggregateRow,
} from "../pipelines/usageAggregate.js";
import { AGGREGATE_WINDOW, parseWindow } from "./window.js";
import { sandboxOrg, type TagPair } from "./sandboxes.js";

export const AGGREGATE_LIMIT = { default: 50, max: 500 } as const;

export interface UsageAggregateRequest {
  groupBy?: string | null;
  from?: string | null;
  to?: string | null;
  /** Each tag key at most once; a value "" matches sandboxes without the key. */
  filters?: TagFilter[] | null;
  sort?: string | null;
  limit?: number | null;
  cursor?: string | null;
}

export interface SandboxUsageItem extends Quantities {
  sandboxId: string;
  alias: string | null;
  status: "running" | "stopped";
  tags: TagPair[];
  tagsLastUpdatedAt: Date | null;
}

export interface TagUsageItem extends Quantities {
  tagKey: string;
  tagValue: string;
  /** Distinct sandboxes with usage in the window carrying this value. */
  sandboxCount: number;
}

export interface UntaggedUsage extends Quantities {
  /** Distinct sandboxes with usage in the window without the key. */
  sandboxCount: number;
}

export interface UsageAggregateReport {
  from: Date;
  to: Date;
  /** As requested: "sandbox" or "tag:<key>". */
  groupBy: string;
  total: Quantities;
  items: Array<SandboxUsageItem | TagUsageItem>;
  /** Tag grouping only: usage of sandboxes without the key. */
  untagged?: UntaggedUsage;
  nextCursor: string | null;
}

/**
 * What a cursor remembers: where the page ends, and the window and "now" the first page was
 * computed at (ms), so open sessions do not grow between pages and move rows across the boundary.
 */
interface CursorState extends AggregateAfter {
  from: number;
  to: number;
  now: number;
}

const ZERO: Quantities = { memoryGbSeconds: 0, diskOverageGbSeconds: 0 };

interface Validated {
  groupBy: AggregateGroupBy;
  filters: TagFilter[];
  sort: AggregateSort;
  limit: number;
}

function validate(r: UsageAggregateRequest, loc: Array<string | number>): Validated {
  const issues: InputIssue[] = [];
  const issue = (field: string | Array<string | number>, msg: string, type = "value_error") =>
    issues.push({ loc: [...loc, ...[field].flat()], msg, type });

  let groupBy: AggregateGroupBy = { kind: "sandbox" };
  const g = r.groupBy;
  if (g === undefined || g === null || g === "") issue("groupBy", "groupBy is required: 'sandbox' or 'tag:<key>'", "missing");
  else if (g.startsWith("tag:")) {
    // Everything after the first ':' is the key, so tag:team:payments groups by "team:payments".
    const key = g.slice(4);
    if (!TAG_KEY.test(key)) issue("groupBy", "groupBy tag:<key> needs a key of 1-128 characters of A-Z a-z 0-9 _ . - :");
    groupBy = { kind: "tag", key };
  } else if (g !== "sandbox") issue("groupBy", "groupBy must be 'sandbox' or 'tag:<key>'");

  const filters = r.filters ?? [];
  const seen = new Set<string>();
  for (const f of filters) {
    if (!TAG_KEY.test(f.key)) issue(["filter", `tag:${f.key}`], "filter keys are filter[tag:<key>] with a key of 1-128 characters of A-Z a-z 0-9 _ . - :");
    else if (seen.has(f.key)) issue(["filter", `tag:${f.key}`], `filter[tag:${f.key}] is given more than once; put OR values in one comma-separated value`);
    seen.add(f.key);
    if (f.values.length > 100) issue(["filter", `tag:${f.key}`], "at most 100 values per filter");
    if (f.values.some((v) => v.length > 256)) issue(["filter", `tag:${f.key}`], "tag values are at most 256 characters");
  }

  const rawSort = r.sort ?? `-${AGGREGATE_SORTS[0]}`;
  const sort = rawSort.startsWith("-") ? rawSort.slice(1) : "";
  if (!(AGGREGATE_SORTS as readonly string[]).includes(sort)) issue("sort", `sort must be ${AGGREGATE_SORTS.map((s) => `-${s}`).join(" or ")}`);

  const limit = r.limit ?? AGGREGATE_LIMIT.default;
  if (!Number.isInteger(limit) || limit < 1 || limit > AGGREGATE_LIMIT.max) issue("limit", `limit must be an integer from 1 to ${AGGREGATE_LIMIT.max}`);

  if (issues.length > 0) throw badInput(issues.map((i) => i.msg).join("; "), issues, 400);
  return { groupBy, filters, sort: sort as AggregateSort, limit };
}

/** What a cursor is bound to: the same caller's view and question (the page size may change between pages). */
function cursorQuery(p: Principal, orgId: string, r: UsageAggregateRequest, v: Validated): string {
  const filters = [...v.filters].map((f) => [f.key, [...f.values].sort()]).sort(([a], [b]) => (a! < b! ? -1 : 1));
  return JSON.stringify(["usage", orgId, p.onBehalfOf, r.groupBy, filters, v.sort, r.from ?? null, r.to ?? null]);
}

export async function getUsageAggregate(deps: AppDeps, p: Principal, r: UsageAggregateRequest, loc: Array<string | number> = []): Promise<UsageAggregateReport> {
  requireScope(p, "read");
  const v = validate(r, loc);
  const orgId = sandboxOrg(p);
  let now = deps.clock.now();
  const query = cursorQuery(p, orgId, r, v);
  let window = parseWindow(r, now, AGGREGATE_WINDOW, loc);
  let after: AggregateAfter | null = null;
  if (r.cursor !== undefined && r.cursor !== null) {
    const read = deps.pageTokens.read<CursorState>(r.cursor, query, now);
    const s = read.ok ? read.value : null;
    if (!s || typeof s.v !== "number" || typeof s.k !== "string" || ![s.from, s.to, s.now].every((t) => typeof t === "number")) {
      const msg = read.ok || read.reason === "forged" ? "cursor is not one this API issued for this query" : "cursor has expired or belongs to another query";
      throw badInput(msg, [{ loc: [...loc, "cursor"], msg, type: "value_error" }], 400);
    }
    // Every page answers as of the first: same window (also a default one) and the same "now".
    window = { from: new Date(s.from), to: new Date(s.to) };
    now = new Date(s.now);
    after = { v: s.v, k: s.k };
  }

  const pipeline = buildUsageAggregatePipeline({
    orgId,
    window,
    now,
    externalUserId: p.onBehalfOf,
    groupBy: v.groupBy,
    filters: v.filters,
    sort: v.sort,
    limit: v.limit,
    after,
  });
  const [row] = await deps.cols.sessions.aggregate<UsageAggregateRow<SandboxRow | TagRow>>(pipeline, queryOptions(deps)).toArray();
  const rows = row?.items ?? [];
  const page = rows.slice(0, v.limit);
  const last = page[page.length - 1];
  const nextCursor =
    rows.length > v.limit && last
      ? deps.pageTokens.issue<CursorState>(query, { v: last[v.sort], k: last.key, from: window.from.getTime(), to: window.to.getTime(), now: now.getTime() }, deps.clock.now())
      : null;
  const groupBy = v.groupBy;
  return {
    from: window.from,
    to: window.to,
    groupBy: groupBy.kind === "sandbox" ? "sandbox" : `tag:${groupBy.key}`,
    total: row?.total[0] ?? ZERO,
    items: page.map((x) =>
      groupBy.kind === "sandbox"
        ? {
            sandboxId: x.key,
            alias: (x as SandboxRow).alias,
            status: (x as SandboxRow).status,
            tags: (x as SandboxRow).tags,
            tagsLastUpdatedAt: (x as SandboxRow).tags.length > 0 ? (x as SandboxRow).tagsUpdatedAt : null,
            memoryGbSeconds: x.memoryGbSeconds,
            diskOverageGbSeconds: x.diskOverageGbSeconds,
          }
        : {
            tagKey: groupBy.key,
            tagValue: x.key,
            memoryGbSeconds: x.memoryGbSeconds,
            diskOverageGbSeconds: x.diskOverageGbSeconds,
            sandboxCount: (x as TagRow).sandboxCount,
          },
    ),
    ...(groupBy.kind === "tag" && { untagged: row?.untagged?.[0] ?? { ...ZERO, sandboxCount: 0 } }),
    nextCursor,
  };
}
