/**
 * Yielding: a long read gives the event loop back between batches of work, so the server answers
 * other connections' commands meanwhile, as mongod yields its locks every 10 ms of a query
 * (internalQueryExecYieldPeriodMS). Only reads outside transactions yield (see `mayYield`): a
 * write, a `$merge`/`$out` and a transaction's commands run to completion, so each write command
 * stays one unit for the journal and a commit applies at once. What a yielding read sees: the
 * documents of its collection scan or index range as they are when it reaches them (documents are
 * replaced, never changed in place, so each one it returns is whole and current at that moment);
 * after a pause, each is checked against the whole filter again.
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import type { Collection, ScanStats } from "./collection.js";
import { checkDeadline } from "./errors.js";
import { parameters } from "./limits.js";
import { newQuery } from "./mingo-options.js";
import type { Doc } from "./paths.js";
import type { Plan } from "./planner.js";

/** How often a yielding command looks at the clock: every this many units of work. */
const CLOCK_EVERY = 16;

export class Yielder {
  private sliceStart = performance.now();
  private units = 0;
  /** How many times this command gave way (for tests and explain-like diagnostics). */
  pauses = 0;

  constructor(
    /** `Date.now()` past which the command fails with MaxTimeMSExpired, checked at every pause. */
    public deadline?: number,
    private readonly periodMs = parameters.internalQueryExecYieldPeriodMS,
  ) {}

  /** Counts one unit of work; true when this command has run its period and should pause. */
  due(): boolean {
    if (++this.units % CLOCK_EVERY !== 0) return false;
    return performance.now() - this.sliceStart >= this.periodMs;
  }

  /** Gives way to whatever else is ready (other connections' commands), then resumes. */
  async pause(): Promise<void> {
    checkDeadline(this.deadline);
    this.pauses++;
    await nextTurn();
    this.sliceStart = performance.now();
    checkDeadline(this.deadline);
  }
}

/**
 * Whether a command may yield: not inside a transaction (its reads and its commit must not
 * interleave with other commands), and, for an aggregate, no `$merge`/`$out` (a write).
 */
export function mayYield(cmd: Doc): boolean {
  if (cmd.autocommit !== undefined || cmd.startTransaction !== undefined) return false;
  if (Array.isArray(cmd.pipeline)) {
    for (const stage of cmd.pipeline as unknown[]) {
      if (stage && typeof stage === "object" && ("$merge" in stage || "$out" in stage)) return false;
    }
  }
  return true;
}

/**
 * `Collection.matchingDocs`, pausing as `y` says. A document reached after a pause may have been
 * replaced since the scan planned it, so from then on each is tested against the whole filter.
 */
export async function matchingDocsYielding(coll: Collection, filter: Doc, y: Yielder, opts: { plan?: Plan | null; stats?: ScanStats } = {}): Promise<Doc[]> {
  const out: Doc[] = [];
  const whole = Object.keys(filter).length > 0 ? newQuery(filter) : null;
  let paused = false;
  for (const [, doc] of coll.match(filter, opts)) {
    if (!paused || !whole || whole.test(doc)) out.push(doc);
    if (y.due()) {
      await y.pause();
      paused = true;
    }
  }
  return out;
}
