/**
 * OpenComputer's per-sandbox memory usage (`GET /api/sandboxes/{id}/usage`, `Sandbox.memoryUsage`):
 * the window is validated here, the numbers come from one aggregation (pipelines/memory.ts).
 */
import { type Principal, requireScope } from "../auth/principal.js";
import type { SandboxDoc } from "../db/collections.js";
import { type AppDeps, queryOptions } from "../deps.js";
import { buildMemoryUsagePipeline, ceilMinute, floorMinute, isSessionRow, type MemoryRow, type MemorySampleRow, type MemorySessionRow } from "../pipelines/memory.js";
import type { Window } from "../pipelines/runtime.js";
import { memorySeries, type MemoryPoint, type MemoryTotals } from "./memorySeries.js";
import { requireSandbox } from "./sandboxes.js";
import { MEMORY_WINDOW, parseWindow, type WindowRequest } from "./window.js";

export type { WindowRequest } from "./window.js";
export type { MemoryPoint, MemoryTotals } from "./memorySeries.js";

export interface SandboxMemoryUsage {
  sandboxId: string;
  /** Null when the sandbox has none (the REST answer then omits the field). */
  alias: string | null;
  from: Date;
  to: Date;
  totals: MemoryTotals;
  points: MemoryPoint[];
}

/** Validates a window request against "now" (the memory series' limits). */
export function memoryWindow(deps: AppDeps, request: WindowRequest, loc: Array<string | number> = []): { window: Window; now: Date } {
  const now = deps.clock.now();
  return { window: parseWindow(request, now, MEMORY_WINDOW, loc), now };
}

/**
 * The series of several sandboxes (already known to be visible to `p`, see requireSandbox), in one
 * aggregation whatever their number; in the order given.
 */
export async function memoryUsageOfMany(deps: AppDeps, p: Principal, sandboxes: readonly SandboxDoc[], window: Window, now: Date): Promise<SandboxMemoryUsage[]> {
  requireScope(p, "read");
  if (sandboxes.length === 0) return [];
  const orgs = new Set(sandboxes.map((s) => s.org_id));
  if (orgs.size !== 1) throw new Error("memoryUsageOfMany: sandboxes of one organization at a time");
  const ids = [...new Set(sandboxes.map((s) => s.sandbox_id))];
  const planned = buildMemoryUsagePipeline({
    source: deps.config.USAGE_SOURCE,
    orgId: sandboxes[0]!.org_id,
    sandboxIds: ids,
    window,
    now,
    externalUserId: p.onBehalfOf,
  });
  // Rows are read as they stream and sorted into their sandbox; the minutes are filled in memorySeries.
  const rows = new Map<string, { samples: MemorySampleRow[]; sessions: MemorySessionRow[] }>(ids.map((id) => [id, { samples: [], sessions: [] }]));
  for await (const r of deps.db.collection(planned.collection).aggregate<MemoryRow>(planned.pipeline, queryOptions(deps))) {
    const of = rows.get(r.sb);
    if (!of) continue;
    if (isSessionRow(r)) of.sessions.push(r);
    else of.samples.push(r);
  }
  const first = floorMinute(window.from).getTime();
  const end = ceilMinute(window.to).getTime();
  return sandboxes.map((sandbox) => {
    const of = rows.get(sandbox.sandbox_id)!;
    const { points, totals } = memorySeries(first, end, of.samples, of.sessions);
    return { sandboxId: sandbox.sandbox_id, alias: sandbox.alias ?? null, from: window.from, to: window.to, totals, points };
  });
}

export async function getSandboxMemoryUsage(deps: AppDeps, p: Principal, sandboxId: string, request: WindowRequest, loc: Array<string | number> = []): Promise<SandboxMemoryUsage> {
  requireScope(p, "read");
  // Validate before touching the database, so a bad window is a 400 whether or not the sandbox exists.
  const { window, now } = memoryWindow(deps, request, loc);
  const [usage] = await memoryUsageOfMany(deps, p, [await requireSandbox(deps.cols, p, sandboxId)], window, now);
  return usage!;
}
