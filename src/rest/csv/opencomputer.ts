/**
 * OpenComputer as CSV. A sandbox's memory usage: one row per minute point, after the sandbox and
 * window it belongs to, with the totals repeated as `totals.<field>` columns. The usage aggregate:
 * one row per item (every cursor page, walked at the largest page size), the window and grouping
 * first, the answer's `total` and `untagged` as dotted columns, and with `groupBy=sandbox` one
 * `tag:<key>` column per tag key of the caller's sandboxes, in key order.
 */
import type { Principal } from "../../auth/principal.js";
import type { AppDeps } from "../../deps.js";
import type { Quantities } from "../../pipelines/usageAggregate.js";
import { getSandboxMemoryUsage, type MemoryPoint, type MemoryTotals, type WindowRequest } from "../../services/memoryUsage.js";
import { listTagKeys } from "../../services/sandboxes.js";
import {
  AGGREGATE_LIMIT,
  getUsageAggregate,
  type SandboxUsageItem,
  type TagUsageItem,
  type UsageAggregateReport,
  type UsageAggregateRequest,
} from "../../services/usageAggregate.js";
import { isoUtc } from "../../time.js";
import { type CsvAnswer, type CsvRow, type CsvSurface, tooManyRows } from "../csv.js";

export const OPENCOMPUTER_CSV: CsvSurface = { badInputStatus: 400, formatIssueType: "value_error" };

const POINT = ["memoryAllocatedGbSeconds", "memoryUsedGbSeconds", "uptimeSeconds", "allocatedMemoryMb", "usedMemoryMbAvg", "usedMemoryMbPeak"] as const satisfies ReadonlyArray<keyof MemoryPoint>;
const TOTALS = ["memoryAllocatedGbSeconds", "memoryUsedGbSeconds", "uptimeSeconds", "memoryAllocatedPeakMb", "memoryUsedPeakMb"] as const satisfies ReadonlyArray<keyof MemoryTotals>;
const QUANTITIES = ["memoryGbSeconds", "diskOverageGbSeconds"] as const satisfies ReadonlyArray<keyof Quantities>;

export const MEMORY_USAGE_COLUMNS = ["sandboxId", "alias", "from", "to", "ts", ...POINT, ...TOTALS.map((t) => `totals.${t}`)];

export async function memoryUsageCsv(deps: AppDeps, principal: Principal, sandboxId: string, window: WindowRequest): Promise<CsvAnswer> {
  const u = await getSandboxMemoryUsage(deps, principal, sandboxId, window, ["query"]);
  const maxRows = deps.config.CSV_MAX_ROWS;
  // At most 43,200 minutes (30 days), so only a lowered CSV_MAX_ROWS can refuse this.
  if (u.points.length > maxRows) throw tooManyRows(u.points.length, maxRows, OPENCOMPUTER_CSV, "to");
  const head = [u.sandboxId, u.alias, isoUtc(u.from), isoUtc(u.to)];
  const totals = TOTALS.map((t) => u.totals[t]);
  function* rows(): Generator<CsvRow> {
    for (const p of u.points) yield [...head, isoUtc(p.ts), ...POINT.map((m) => p[m]), ...totals];
  }
  return { endpoint: `sandbox-${sandboxId}-usage`, from: u.from, to: u.to, columns: MEMORY_USAGE_COLUMNS, rows: rows() };
}

const SANDBOX_ITEM = ["sandboxId", "alias", "status", "tagsLastUpdatedAt", ...QUANTITIES] as const;
const TAG_ITEM = ["tagKey", "tagValue", ...QUANTITIES] as const;

function aggregateRows(first: UsageAggregateReport, tagKeys: readonly string[], next: (cursor: string) => Promise<UsageAggregateReport>) {
  const bySandbox = first.groupBy === "sandbox";
  const head = [isoUtc(first.from), isoUtc(first.to), first.groupBy];
  // Every page answers as of the first (the cursor pins window and "now"): one total for all rows.
  const tail = [...QUANTITIES.map((q) => first.total[q]), ...(first.untagged ? QUANTITIES.map((q) => first.untagged![q]) : [])];
  const itemWidth = bySandbox ? SANDBOX_ITEM.length + tagKeys.length : TAG_ITEM.length;
  const itemRow = (item: SandboxUsageItem | TagUsageItem): CsvRow => {
    if (!bySandbox) {
      const t = item as TagUsageItem;
      return [t.tagKey, t.tagValue, t.memoryGbSeconds, t.diskOverageGbSeconds];
    }
    const s = item as SandboxUsageItem;
    // A tag key added after the header was written (a retag mid-export) has no column and is left out.
    const tags = new Map(s.tags.map((t) => [t.key, t.value]));
    return [s.sandboxId, s.alias, s.status, s.tagsLastUpdatedAt && isoUtc(s.tagsLastUpdatedAt), s.memoryGbSeconds, s.diskOverageGbSeconds, ...tagKeys.map((k) => tags.get(k) ?? null)];
  };
  return (async function* (): AsyncGenerator<CsvRow> {
    let page: UsageAggregateReport | null = first;
    // An answer without items still carries its totals: one row with the item columns empty.
    if (first.items.length === 0) yield [...head, ...Array.from({ length: itemWidth }, () => null), ...tail];
    while (page) {
      for (const item of page.items) yield [...head, ...itemRow(item), ...tail];
      page = page.nextCursor ? await next(page.nextCursor) : null;
    }
  })();
}

/**
 * Validation, auth and the first page happen before this returns, so every refusal is still JSON.
 * The client's `limit` and `cursor` are paging controls and are ignored: a CSV answer is whole.
 */
export async function usageAggregateCsv(deps: AppDeps, principal: Principal, params: UsageAggregateRequest): Promise<CsvAnswer> {
  const request: UsageAggregateRequest = { ...params, limit: AGGREGATE_LIMIT.max, cursor: null };
  const first = await getUsageAggregate(deps, principal, request, ["query"]);
  const maxRows = deps.config.CSV_MAX_ROWS;
  // Refused before anything is sent when the first page already shows it; later pages are
  // counted while streaming, which cuts the connection past the limit (csv.ts).
  if (first.items.length > maxRows) throw tooManyRows(first.items.length, maxRows, OPENCOMPUTER_CSV, "to", { atLeast: first.nextCursor !== null });
  const bySandbox = first.groupBy === "sandbox";
  // The header comes before the rows, so the tag columns are every key of the caller's sandboxes
  // (what GET /api/tags lists), not only those the exported rows use.
  const tagKeys = bySandbox ? (await listTagKeys(deps, principal)).map((k) => k.key).sort() : [];
  const columns = [
    "from",
    "to",
    "groupBy",
    ...(bySandbox ? [...SANDBOX_ITEM, ...tagKeys.map((k) => `tag:${k}`)] : TAG_ITEM),
    ...QUANTITIES.map((q) => `total.${q}`),
    ...(first.untagged ? QUANTITIES.map((q) => `untagged.${q}`) : []),
  ];
  return {
    endpoint: "usage",
    from: first.from,
    to: first.to,
    columns,
    rows: aggregateRows(first, tagKeys, (cursor) => getUsageAggregate(deps, principal, { ...request, cursor }, ["query"])),
  };
}
