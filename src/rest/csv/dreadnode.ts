/** Dreadnode's runtime summary as CSV: one row, the summary's three integers. */
import type { Principal } from "../../auth/principal.js";
import type { AppDeps } from "../../deps.js";
import { getRuntimeSummary } from "../../services/runtimeSummary.js";
import { DEFAULT_TIME_ZONE, localPeriod, parseTimeZone } from "../../zones.js";
import type { CsvAnswer, CsvSurface } from "../csv.js";

export const DREADNODE_CSV: CsvSurface = { badInputStatus: 422, formatIssueType: "enum" };

const COLUMNS = ["current_month_seconds", "sessions_count", "total_runtime_seconds"] as const;

export async function runtimeSummaryCsv(
  deps: AppDeps,
  principal: Principal,
  org: string,
  opts: Parameters<typeof getRuntimeSummary>[3] = {},
): Promise<CsvAnswer> {
  const now = deps.clock.now();
  const summary = await getRuntimeSummary(deps, principal, org, opts);
  // The file is named by the current month (what current_month_seconds covers) up to now.
  const month = localPeriod(now.getTime(), "month", parseTimeZone(opts.timeZone ?? DEFAULT_TIME_ZONE) ?? DEFAULT_TIME_ZONE);
  return { endpoint: "sandboxes-usage", from: new Date(month.start), to: now, columns: COLUMNS, rows: [COLUMNS.map((c) => summary[c])] };
}
