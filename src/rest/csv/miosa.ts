/**
 * MIOSA's usage rollup as CSV: one row per result, after the period it covers. The service answers
 * in one aggregation, so the row count is known (and refused over the limit) before anything is sent.
 */
import type { Principal } from "../../auth/principal.js";
import type { AppDeps } from "../../deps.js";
import { getUsageRollup, type UsageRollupRequest } from "../../services/usageRollup.js";
import { formatInZone } from "../../zones.js";
import { type CsvAnswer, type CsvRow, type CsvSurface, tooManyRows } from "../csv.js";

export const MIOSA_CSV: CsvSurface = { badInputStatus: 422, formatIssueType: "invalid format" };

const NUMBERS = ["sandbox_seconds", "computer_seconds", "storage_gb_hours", "credit_cents"] as const;

export async function usageRollupCsv(deps: AppDeps, principal: Principal, params: UsageRollupRequest): Promise<CsvAnswer> {
  const report = await getUsageRollup(deps, principal, params, { loc: ["query"] });
  const maxRows = deps.config.CSV_MAX_ROWS;
  if (report.rows.length > maxRows) throw tooManyRows(report.rows.length, maxRows, MIOSA_CSV, "period");
  // As in the JSON answer: with the zone's offset.
  const period = [formatInZone(report.periodStart.getTime(), report.timeZone), formatInZone(report.periodEnd.getTime(), report.timeZone)];
  const rows: CsvRow[] = report.rows.map((r) => [...period, r.key, ...NUMBERS.map((n) => r[n])]);
  // An empty answer still says which period it covers: one row with the result columns empty.
  if (rows.length === 0) rows.push([...period, null, ...NUMBERS.map(() => null)]);
  return {
    endpoint: "usage",
    from: report.periodStart,
    to: report.periodEnd,
    // The group column is named by group_by, as in the JSON results.
    columns: ["period_start", "period_end", report.groupBy, ...NUMBERS],
    rows,
  };
}
