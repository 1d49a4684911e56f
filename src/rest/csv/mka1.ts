/**
 * MKA1's sandbox usage as CSV: one row per (bucket, result), `start_time` and `end_time` first, and
 * an empty bucket as one row of zeros with empty dimension columns (DESIGN §10). The export walks
 * the service page by page (its largest page), so only one page of buckets is ever in memory.
 */
import type { Principal } from "../../auth/principal.js";
import type { AppDeps } from "../../deps.js";
import type { InputIssue } from "../../errors.js";
import { BUCKET_WIDTHS, type BucketWidth } from "../../pipelines/sandboxUsage.js";
import {
  getSandboxUsage,
  PAGE_LIMITS,
  type SandboxUsagePageJson,
  type SandboxUsageRequest,
  type SandboxUsageResultJson,
} from "../../services/sandboxUsage.js";
import { type CsvAnswer, type CsvRow, type CsvSurface, tooManyRows } from "../csv.js";

export const MKA1_CSV: CsvSurface = { badInputStatus: 422, formatIssueType: "enum" };

/** The measures of a result, in the JSON's order; `object` (a type tag, the same on every row) is left out. */
const MEASURES = [
  "num_operations",
  "num_sessions",
  "request_count",
  "duration_ms",
  "workspace_bytes_in",
  "workspace_bytes_out",
  "files_changed_count",
  "oom_killed_count",
  "peak_memory_mib",
  "reserved_memory_mib",
] as const satisfies ReadonlyArray<keyof SandboxUsageResultJson>;
const DIMENSIONS = ["user_id", "api_key_id", "org_id", "operation", "provider", "session_kind"] as const satisfies ReadonlyArray<keyof SandboxUsageResultJson>;

export const SANDBOX_USAGE_COLUMNS = ["start_time", "end_time", ...MEASURES, ...DIMENSIONS] as const;

const isWidth = (w: string): w is BucketWidth => w in BUCKET_WIDTHS;

async function* bucketRows(first: SandboxUsagePageJson, next: (page: string) => Promise<SandboxUsagePageJson>): AsyncGenerator<CsvRow> {
  let page: SandboxUsagePageJson | null = first;
  while (page) {
    for (const bucket of page.data) {
      if (bucket.results.length === 0) {
        yield [bucket.start_time, bucket.end_time, ...MEASURES.map(() => 0), ...DIMENSIONS.map(() => null)];
      }
      for (const r of bucket.results) yield [bucket.start_time, bucket.end_time, ...MEASURES.map((m) => r[m]), ...DIMENSIONS.map((d) => r[d])];
    }
    page = page.next_page ? await next(page.next_page) : null;
  }
}

/**
 * Validation, auth and the first page happen before this returns, so every refusal is still a JSON
 * answer in FastAPI's envelope. The client's `limit` and `page` are paging controls and are ignored:
 * a CSV answer is the whole answer.
 */
export async function sandboxUsageCsv(
  deps: AppDeps,
  principal: Principal,
  params: SandboxUsageRequest,
  opts: { earlier: InputIssue[]; failed: ReadonlySet<string> },
): Promise<CsvAnswer> {
  const widthName = params.bucket_width ?? "1d";
  const request: SandboxUsageRequest = { ...params, limit: isWidth(widthName) ? PAGE_LIMITS[widthName].max : null, page: null };
  const first = await getSandboxUsage(deps, principal, request, { loc: ["query"], ...opts });

  // Every bucket is at least one row, and the first page's rows are known: both decide before
  // anything is sent. A group_by that multiplies later pages' rows past the limit is caught while
  // streaming, which cuts the connection (csv.ts).
  const w = BUCKET_WIDTHS[widthName as BucketWidth];
  const start = params.start_time!;
  const end = params.end_time ?? Math.floor(deps.clock.now().getTime() / 1000);
  const buckets = Math.ceil((end - Math.floor(start / w) * w) / w);
  const maxRows = deps.config.CSV_MAX_ROWS;
  const firstRows = first.data.reduce((n, b) => n + Math.max(1, b.results.length), 0);
  const atLeast = Math.max(buckets, firstRows - first.data.length + buckets);
  if (atLeast > maxRows) throw tooManyRows(atLeast, maxRows, MKA1_CSV, "end_time", { atLeast: first.has_more && (request.group_by?.length ?? 0) > 0 });

  return {
    endpoint: "sandbox-usage",
    from: new Date(start * 1000),
    to: new Date(end * 1000),
    columns: SANDBOX_USAGE_COLUMNS,
    rows: bucketRows(first, (page) => getSandboxUsage(deps, principal, { ...request, page }, { loc: ["query"] })),
  };
}
