/**
 * MKA1's sandbox usage (`GET /api/v1/sandbox/usage`, `Query.sandboxUsage`): time buckets × group-by
 * over operation events, paged over buckets. Validation, scoping, paging and the pipeline live here
 * once; the REST adapter and the resolver only translate parameters and field names.
 */
import { type ExactInt, exactInt } from "../int64.js";
import type { Principal } from "../auth/principal.js";
import { requireScope } from "../auth/principal.js";
import { OrgId } from "../auth/keys.js";
import { type AppDeps, runPlanned } from "../deps.js";
import { badInput, type InputIssue } from "../errors.js";
import { compareGroupValues } from "../order.js";
import {
  BUCKET_WIDTHS,
  type BucketRow,
  type BucketWidth,
  GROUP_BY_DIMENSIONS,
  type GroupByDimension,
  planSandboxUsage,
} from "../pipelines/sandboxUsage.js";
import { DEFAULT_TIME_ZONE, LocalBuckets, parseTimeZone } from "../zones.js";
import { totalsReady } from "../store/meta.js";
import { operationScope, resolveOrgScope } from "./scope.js";

/** Buckets per page: MKA1's defaults and maxima. */
export const PAGE_LIMITS: Record<BucketWidth, { default: number; max: number }> = {
  "1m": { default: 60, max: 1440 },
  "1h": { default: 24, max: 168 },
  "1d": { default: 7, max: 31 },
};
/** Unix seconds of 9999-12-31T23:59:59Z: the largest time accepted. */
const MAX_UNIX_SECONDS = 253_402_300_799;

/** The request in the vendor's own parameter names, already typed (REST parses strings first). */
export interface SandboxUsageRequest {
  start_time?: number;
  end_time?: number | null;
  bucket_width?: string;
  group_by?: string[];
  all_orgs?: boolean;
  org_ids?: string[] | null;
  limit?: number | null;
  page?: string | null;
  /** IANA zone the buckets align in (DESIGN: local midnights / hours); default UTC. */
  time_zone?: string | null;
}

export interface SandboxUsageResultJson {
  object: "organization.usage.sandbox.result";
  num_operations: ExactInt;
  num_sessions: ExactInt;
  request_count: ExactInt;
  duration_ms: ExactInt;
  workspace_bytes_in: ExactInt;
  workspace_bytes_out: ExactInt;
  files_changed_count: ExactInt;
  oom_killed_count: ExactInt;
  peak_memory_mib: number | null;
  reserved_memory_mib: number | null;
  user_id: string | null;
  api_key_id: string | null;
  org_id: string | null;
  operation: string | null;
  provider: string | null;
  session_kind: string | null;
}

export interface SandboxUsageBucketJson {
  object: "bucket";
  start_time: number;
  end_time: number;
  results: SandboxUsageResultJson[];
}

export interface SandboxUsagePageJson {
  object: "page";
  data: SandboxUsageBucketJson[];
  has_more: boolean;
  next_page: string | null;
}

interface PageState {
  /** Start (ms) of the first bucket of the page. */
  b: number;
  /** The resolved end_time (it defaults to "now" on the first page only). */
  e: number;
}

interface Validated {
  start: number;
  end: number | null;
  width: BucketWidth;
  groupBy: GroupByDimension[];
  allOrgs: boolean;
  orgIds: string[] | null;
  limit: number;
  page: string | null;
  timeZone: string;
}

const quoteList = (xs: readonly string[]) => xs.map((x) => `'${x}'`).join(", ").replace(/, ([^,]*)$/, " or $1");

function validate(r: SandboxUsageRequest, issues: InputIssue[], loc: Array<string | number>, failed: ReadonlySet<string>): Validated | null {
  const at = (param: string, ...rest: Array<string | number>) => [...loc, param, ...rest];
  const time = (param: "start_time" | "end_time", v: number | null | undefined) => {
    if (v === undefined || v === null) return;
    if (v < 0) issues.push({ loc: at(param), msg: "Input should be greater than or equal to 0", type: "greater_than_equal" });
    else if (v > MAX_UNIX_SECONDS) issues.push({ loc: at(param), msg: `Input should be less than or equal to ${MAX_UNIX_SECONDS}`, type: "less_than_equal" });
  };
  if (r.start_time === undefined && !failed.has("start_time")) issues.push({ loc: at("start_time"), msg: "Field required", type: "missing" });
  time("start_time", r.start_time);
  time("end_time", r.end_time);
  if (r.start_time !== undefined && r.end_time !== undefined && r.end_time !== null && r.end_time <= r.start_time) {
    issues.push({ loc: at("end_time"), msg: "end_time must be greater than start_time", type: "value_error" });
  }
  const widthName = r.bucket_width ?? "1d";
  const width = widthName in BUCKET_WIDTHS ? (widthName as BucketWidth) : null;
  if (!width && !failed.has("bucket_width")) issues.push({ loc: at("bucket_width"), msg: `Input should be ${quoteList(Object.keys(BUCKET_WIDTHS))}`, type: "enum" });
  const groupBy: GroupByDimension[] = [];
  (r.group_by ?? []).forEach((dim, i) => {
    if ((GROUP_BY_DIMENSIONS as readonly string[]).includes(dim)) {
      if (!groupBy.includes(dim as GroupByDimension)) groupBy.push(dim as GroupByDimension);
    } else issues.push({ loc: at("group_by", i), msg: `Input should be ${quoteList(GROUP_BY_DIMENSIONS)}`, type: "enum" });
  });
  (r.org_ids ?? []).forEach((org, i) => {
    if (!OrgId.safeParse(org).success) issues.push({ loc: at("org_ids", i), msg: "Input should be an organization id", type: "value_error" });
  });
  const limit = r.limit ?? (width ? PAGE_LIMITS[width].default : 1);
  if (limit < 1) issues.push({ loc: at("limit"), msg: "Input should be greater than or equal to 1", type: "greater_than_equal" });
  else if (width && limit > PAGE_LIMITS[width].max) {
    issues.push({ loc: at("limit"), msg: `Input should be less than or equal to ${PAGE_LIMITS[width].max} for bucket_width ${width}`, type: "less_than_equal" });
  }
  const timeZone = parseTimeZone(r.time_zone ?? DEFAULT_TIME_ZONE);
  if (timeZone === null) issues.push({ loc: at("time_zone"), msg: "Input should be a valid IANA time zone name (e.g. 'America/New_York', 'UTC')", type: "value_error" });
  if (issues.length > 0 || !width || r.start_time === undefined || timeZone === null) return null;
  return {
    start: r.start_time,
    end: r.end_time ?? null,
    width,
    // A canonical order, so `a,b` and `b,a` are the same query (and page tokens carry over).
    groupBy: GROUP_BY_DIMENSIONS.filter((d) => groupBy.includes(d)),
    allOrgs: r.all_orgs ?? false,
    orgIds: r.org_ids && r.org_ids.length > 0 ? [...new Set(r.org_ids)].sort() : null,
    limit,
    page: r.page ?? null,
    timeZone,
  };
}

/**
 * @param loc where the parameters sit in the request (["query"] for REST, [] for GraphQL)
 * @param earlier problems the caller already found while parsing (listed together with these)
 * @param failed parameters that failed parsing (not reported again as missing)
 */
export async function getSandboxUsage(
  deps: AppDeps,
  principal: Principal,
  request: SandboxUsageRequest,
  opts: { loc?: Array<string | number>; earlier?: InputIssue[]; failed?: ReadonlySet<string> } = {},
): Promise<SandboxUsagePageJson> {
  const loc = opts.loc ?? [];
  const issues = [...(opts.earlier ?? [])];
  const v = validate(request, issues, loc, opts.failed ?? new Set());
  const now = deps.clock.now();
  const nowSeconds = Math.floor(now.getTime() / 1000);
  if (v && v.end === null && !v.page && nowSeconds <= v.start) {
    issues.push({ loc: [...loc, "end_time"], msg: "end_time (default: now) must be greater than start_time", type: "value_error" });
  }
  // The token names the query it continues: every parameter but the page itself.
  const identity = v ? JSON.stringify([principal.keyId, principal.onBehalfOf, v.start, v.end, v.width, v.groupBy, v.allOrgs, v.orgIds, v.limit, v.timeZone]) : "";
  let state: PageState | null = null;
  if (v?.page) {
    const read = deps.pageTokens.read<PageState>(v.page, identity, now);
    if (!read.ok) {
      issues.push({
        loc: [...loc, "page"],
        msg: read.reason === "forged" ? "Invalid page token" : "Page token does not belong to this query (or has expired); start again without page",
        type: "value_error",
      });
    } else state = read.value;
  }
  if (issues.length > 0 || !v) throw badInput("Invalid sandbox usage request", issues);

  requireScope(principal, "read");
  const orgs = resolveOrgScope(principal, { allOrgs: v.allOrgs, orgIds: v.orgIds });
  if (orgs === "no-org") {
    throw badInput("This key belongs to no organization", [{ loc: [...loc, "all_orgs"], msg: "This key belongs to no organization: pass all_orgs or org_ids", type: "value_error" }]);
  }

  const unit = v.width === "1m" ? "minute" : v.width === "1h" ? "hour" : "day";
  const local = new LocalBuckets(v.start * 1000, unit, v.timeZone);
  const page = state ?? { b: local.first, e: v.end ?? nowSeconds };
  const endMs = page.e * 1000;
  // The page's buckets: from its first, `limit` of them or up to the end, whichever comes first.
  const boundaries: number[] = [page.b];
  while (boundaries.length <= v.limit && boundaries[boundaries.length - 1]! < endMs) boundaries.push(local.next(boundaries[boundaries.length - 1]!));
  const query = {
    scope: await operationScope(principal, orgs),
    width: v.width,
    groupBy: v.groupBy,
    from: new Date(Math.max(v.start * 1000, boundaries[0]!)),
    to: new Date(Math.min(endMs, boundaries[boundaries.length - 1]!)),
    boundaries,
    timeZone: v.timeZone,
  };
  const rows = await pageRows(deps, query);
  const data: SandboxUsageBucketJson[] = [];
  for (let i = 0; i + 1 < boundaries.length; i++) {
    const start = boundaries[i]!;
    const results = (rows.get(start) ?? []).sort(compareResults);
    data.push({ object: "bucket", start_time: Math.round(start / 1000), end_time: Math.round(boundaries[i + 1]! / 1000), results });
  }
  const last = boundaries[boundaries.length - 1]!;
  const hasMore = last < endMs;
  return {
    object: "page",
    data,
    has_more: hasMore,
    next_page: hasMore ? deps.pageTokens.issue<PageState>(identity, { b: last, e: page.e }, now) : null,
  };
}

const groupKeyOf = (row: BucketRow) => JSON.stringify(GROUP_BY_DIMENSIONS.map((d) => row._id[d] ?? null));

/** The page's results per bucket start, from the raw events or the rollups (measures and sessions). */
async function pageRows(deps: AppDeps, q: Parameters<typeof planSandboxUsage>[0]): Promise<Map<number, SandboxUsageResultJson[]>> {
  const planned = planSandboxUsage(q, deps.config.USAGE_SOURCE, await totalsReady(deps.cols));
  let rows: BucketRow[];
  if ("raw" in planned) rows = await runPlanned<BucketRow>(deps, planned.raw);
  else {
    const [measures, sessions] = await Promise.all([
      planned.measures ? runPlanned<BucketRow>(deps, planned.measures) : [],
      planned.sessions ? runPlanned<BucketRow>(deps, planned.sessions) : [],
    ]);
    const single = new Set(planned.plan.buckets.filter((b) => b.single).map((b) => b.start));
    const counted = new Map(sessions.map((r) => [`${r._id.bucket.getTime()}|${groupKeyOf(r)}`, r.num_sessions ?? 0]));
    for (const r of measures) {
      const start = r._id.bucket.getTime();
      const fromPresence = counted.get(`${start}|${groupKeyOf(r)}`) ?? 0;
      r.num_sessions = single.has(start) ? r[planned.counter]! + fromPresence : fromPresence;
    }
    rows = measures;
  }
  const out = new Map<number, SandboxUsageResultJson[]>();
  for (const r of rows) {
    const start = r._id.bucket.getTime();
    const list = out.get(start) ?? [];
    list.push({
      object: "organization.usage.sandbox.result",
      // Sums past 2^53 arrive as int64 (Long) and are answered exactly (see int64.ts).
      num_operations: exactInt(r.num_operations),
      num_sessions: exactInt(r.num_sessions),
      request_count: exactInt(r.request_count),
      duration_ms: exactInt(r.duration_ms),
      workspace_bytes_in: exactInt(r.workspace_bytes_in),
      workspace_bytes_out: exactInt(r.workspace_bytes_out),
      files_changed_count: exactInt(r.files_changed_count),
      oom_killed_count: exactInt(r.oom_killed_count),
      peak_memory_mib: r.peak_memory_mib ?? null,
      reserved_memory_mib: r.reserved_memory_mib ?? null,
      user_id: r._id.user_id ?? null,
      api_key_id: r._id.api_key_id ?? null,
      org_id: r._id.org_id ?? null,
      operation: r._id.operation ?? null,
      provider: r._id.provider ?? null,
      session_kind: r._id.session_kind ?? null,
    });
    out.set(start, list);
  }
  return out;
}

function compareResults(x: SandboxUsageResultJson, y: SandboxUsageResultJson): number {
  for (const d of GROUP_BY_DIMENSIONS) {
    const c = compareGroupValues(x[d], y[d]);
    if (c !== 0) return c;
  }
  return 0;
}
