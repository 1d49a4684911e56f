/**
 * OpenComputer's windows: `from`/`to` as an ISO date (UTC midnight) or RFC 3339, defaults relative
 * to now, a maximum length; every problem a 400. Shared by the memory series and the aggregator.
 */
import { badInput, type InputIssue } from "../errors.js";
import type { Window } from "../pipelines/runtime.js";
import { MS_PER_DAY, parseIsoInstant } from "../time.js";

export interface WindowRequest {
  from?: string | null;
  to?: string | null;
}

/** The per-sandbox memory series: the last hour by default, at most 30 days. */
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


/** The cross-sandbox aggregator: the last 30 days by default, at most 90. */
export const AGGREGATE_WINDOW = { defaultMs: 30 * MS_PER_DAY, maxDays: 90 } as const;
