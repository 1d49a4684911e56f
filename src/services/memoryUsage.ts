/**
 * OpenComputer's per-sandbox memory usage (`GET /api/sandboxes/{id}/usage`, `Sandbox.memoryUsage`):
 * the window is validated here, the numbers come from one aggregation (pipelines/memory.ts).
 */
import { type Principal, requireScope } from "../auth/principal.js";
import type { SandboxDoc } from "../db/collections.js";
import type { AppDeps } from "../deps.js";
import { badInput, type InputIssue } from "../errors.js";
import { buildMemoryUsagePipeline, type MemoryTotalsRow, type MemoryUsageRow } from "../pipelines/memory.js";
import type { Window } from "../pipelines/runtime.js";
import { MS_PER_DAY, parseIsoInstant } from "../time.js";
import { requireSandbox } from "./sandboxes.js";

export interface WindowRequest {
  from?: string | null;
  to?: string | null;
}

export interface MemoryPoint {
  ts: Date;
  memoryAllocatedGbSeconds: number;
  memoryUsedGbSeconds: number;
  uptimeSeconds: number;
  allocatedMemoryMb: number;
  usedMemoryMbAvg: number;
  usedMemoryMbPeak: number;
}

export type MemoryTotals = MemoryTotalsRow;

export interface SandboxMemoryUsage {
  sandboxId: string;
  /** Null when the sandbox has none (the REST answer then omits the field). */
  alias: string | null;
  from: Date;
  to: Date;
  totals: MemoryTotals;
  points: MemoryPoint[];
}

export const MEMORY_WINDOW = { defaultMs: 60 * 60 * 1000, maxDays: 30 } as const;

const FORMAT_HINT = "an ISO date (2026-05-27) or an RFC 3339 timestamp (2026-05-27T10:00:00Z)";

/**
 * `from`/`to` as OpenComputer takes them: ISO date (UTC midnight) or RFC 3339; `to` defaults to
 * now and `from` to `to` minus `defaultMs`; `to` must be after `from` and the window at most
 * `maxDays` long. Problems are 400s listing every one.
 */
export function parseWindow(r: WindowRequest, now: Date, limits: { defaultMs: number; maxDays: number }, loc: Array<string | number> = []): Window {
  const issues: InputIssue[] = [];
  const read = (field: "from" | "to"): Date | null | undefined => {
    const text = r[field];
    if (text === undefined || text === null) return undefined;
    const at = parseIsoInstant(text);
    if (!at) issues.push({ loc: [...loc, field], msg: `${field} must be ${FORMAT_HINT}`, type: "datetime_parsing" });
    return at;
  };
  const from = read("from");
  const to = read("to");
  if (issues.length > 0) throw badInput(issues.map((i) => i.msg).join("; "), issues, 400);
  const end = to ?? now;
  const start = from ?? new Date(end.getTime() - limits.defaultMs);
  if (end.getTime() <= start.getTime()) {
    throw badInput("to must be after from", [{ loc: [...loc, "to"], msg: "to must be after from", type: "value_error" }], 400);
  }
  if (end.getTime() - start.getTime() > limits.maxDays * MS_PER_DAY) {
    const msg = `the window from..to must be at most ${limits.maxDays} days`;
    throw badInput(msg, [{ loc: [...loc, "to"], msg, type: "value_error" }], 400);
  }
  return { from: start, to: end };
}

const ZERO_TOTALS: MemoryTotals = { memoryAllocatedGbSeconds: 0, memoryUsedGbSeconds: 0, uptimeSeconds: 0, memoryAllocatedPeakMb: 0, memoryUsedPeakMb: 0 };

/** The series for a sandbox already known to be visible to `p` (see requireSandbox). */
export async function memoryUsageOf(deps: AppDeps, p: Principal, sandbox: SandboxDoc, request: WindowRequest, loc: Array<string | number> = []): Promise<SandboxMemoryUsage> {
  requireScope(p, "read");
  const now = deps.clock.now();
  return seriesOf(deps, p, sandbox, parseWindow(request, now, MEMORY_WINDOW, loc), now);
}

async function seriesOf(deps: AppDeps, p: Principal, sandbox: SandboxDoc, window: Window, now: Date): Promise<SandboxMemoryUsage> {
  const pipeline = buildMemoryUsagePipeline({ orgId: sandbox.org_id, sandboxId: sandbox.sandbox_id, window, now, externalUserId: p.onBehalfOf });
  const [row] = await deps.cols.usageEvents.aggregate<MemoryUsageRow>(pipeline, { allowDiskUse: true }).toArray();
  return {
    sandboxId: sandbox.sandbox_id,
    alias: sandbox.alias ?? null,
    from: window.from,
    to: window.to,
    totals: row?.totals[0] ?? ZERO_TOTALS,
    // Minutes $densify generated carry only their start: every measure of theirs is 0.
    points: (row?.points ?? []).map((pt) => ({
      ts: pt.t,
      memoryAllocatedGbSeconds: pt.a ?? 0,
      memoryUsedGbSeconds: pt.u ?? 0,
      uptimeSeconds: pt.s ?? 0,
      allocatedMemoryMb: pt.m ?? 0,
      usedMemoryMbAvg: pt.v ?? 0,
      usedMemoryMbPeak: pt.p ?? 0,
    })),
  };
}

export async function getSandboxMemoryUsage(deps: AppDeps, p: Principal, sandboxId: string, request: WindowRequest, loc: Array<string | number> = []): Promise<SandboxMemoryUsage> {
  requireScope(p, "read");
  // Validate before touching the database, so a bad window is a 400 whether or not the sandbox exists.
  const now = deps.clock.now();
  const window = parseWindow(request, now, MEMORY_WINDOW, loc);
  return seriesOf(deps, p, await requireSandbox(deps.cols, p, sandboxId), window, now);
}
