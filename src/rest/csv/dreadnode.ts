/** Dreadnode's runtime summary as CSV: one row, the summary's three integers. */
import type { Principal } from "../../auth/principal.js";
import type { AppDeps } from "../../deps.js";
import { getRuntimeSummary } from "../../services/runtimeSummary.js";
import { utcMonthStart } from "../../time.js";
import type { CsvAnswer, CsvSurface } from "../csv.js";

export const DREADNODE_CSV: CsvSurface = { badInputStatus: 422, formatIssueType: "enum" };

const COLUMNS = ["current_month_seconds", "sessions_count", "total_runtime_seconds"] as const;

export async function runtimeSummaryCsv(deps: AppDeps, principal: Principal, org: string): Promise<CsvAnswer> {
  const now = deps.clock.now();
  const summary = await getRuntimeSummary(deps, principal, org);
  // The file is named by the current month (what current_month_seconds covers) up to now.
  return { endpoint: "sandboxes-usage", from: utcMonthStart(now), to: now, columns: COLUMNS, rows: [COLUMNS.map((c) => summary[c])] };
}
