/**
 * What a router cannot know from the schema alone: how much some fields compute for the arguments
 * given. A usage field's database work grows with its window ÷ its bucket width (a 30-day memory
 * series is 43,200 one-minute buckets, its default hour 60), and `_entities` resolves exactly as
 * many references as it is sent. The windows are read with the services' own parsers and
 * defaults, so the estimate and the answer can never disagree about what a window is.
 *
 * Arguments the service would refuse give no estimate (null): the field then costs its schema
 * weight, and the service answers BAD_USER_INPUT naming the argument, without database work.
 */
import { BUCKET_WIDTHS, type BucketWidth } from "../../pipelines/sandboxUsage.js";
import { PAGE_LIMITS } from "../../services/sandboxUsage.js";
import { periodWindow, validateRollupRequest } from "../../services/usageRollup.js";
import { AGGREGATE_WINDOW, MEMORY_WINDOW, parseWindow } from "../../services/window.js";
import { MS_PER_DAY, MS_PER_MINUTE } from "../../time.js";

export interface FieldWork {
  /** Buckets the database computes for these arguments. */
  buckets?: number;
  /** Buckets the field's @cost weight already stands for (those of its default window). */
  assumedBuckets?: number;
  /** Exact lengths of child list fields (they replace their @listSize assumption). */
  sizes?: Record<string, number>;
  /** Exact length of the field itself, when it is a list. */
  length?: number;
}

type Args = Record<string, unknown>;
type WorkRule = (args: Args, now: Date) => FieldWork | null;

const str = (v: unknown) => (typeof v === "string" ? v : undefined);
const int = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/** Runs a service's parser; a refusal means "no estimate" (the service will refuse it itself). */
function attempt<T>(read: () => T): T | null {
  try {
    return read();
  } catch {
    return null;
  }
}

/** The per-minute memory series: one bucket, and one point, per UTC minute of [from, to). */
const memoryMinutes: WorkRule = (args, now) => {
  const w = attempt(() => parseWindow({ from: str(args.from), to: str(args.to) }, now, MEMORY_WINDOW));
  if (!w) return null;
  const minutes = Math.ceil(w.to.getTime() / MS_PER_MINUTE) - Math.floor(w.from.getTime() / MS_PER_MINUTE);
  return { buckets: minutes, assumedBuckets: MEMORY_WINDOW.defaultMs / MS_PER_MINUTE, sizes: { points: minutes } };
};

const daysOf = (w: { from: Date; to: Date }) => Math.ceil((w.to.getTime() - w.from.getTime()) / MS_PER_DAY);

/** Session-based quantities over a window (at most 90 days): the work grows with its days. */
const aggregateDays: WorkRule = (args, now) => {
  const w = attempt(() => parseWindow({ from: str(args.from), to: str(args.to) }, now, AGGREGATE_WINDOW));
  return w && { buckets: daysOf(w), assumedBuckets: AGGREGATE_WINDOW.defaultMs / MS_PER_DAY };
};

/** MIOSA's rollup over its period (a custom one may span years): likewise per day. */
const rollupDays: WorkRule = (args, now) => {
  const v = attempt(() => validateRollupRequest({ group_by: str(args.groupBy), period: str(args.period), start: str(args.start), end: str(args.end) }));
  // Its weight stands for the default period (30d).
  return v && { buckets: daysOf(periodWindow(v, now)), assumedBuckets: daysOf(periodWindow(validateRollupRequest({}), now)) };
};

/** MKA1's buckets: the pipeline computes one page, `limit` buckets (or fewer, up to end_time). */
const sandboxUsagePage: WorkRule = (args, now) => {
  const widthName = str(args.bucketWidth) ?? "1d";
  if (!(widthName in BUCKET_WIDTHS)) return null;
  const limits = PAGE_LIMITS[widthName as BucketWidth];
  const width = BUCKET_WIDTHS[widthName as BucketWidth];
  const limit = int(args.limit) ?? limits.default;
  const start = int(args.startTime);
  const end = int(args.endTime) ?? Math.floor(now.getTime() / 1000);
  if (start === undefined || limit < 1 || limit > limits.max || end <= start) return null;
  const total = Math.ceil((end - Math.floor(start / width) * width) / width);
  const buckets = Math.min(limit, total);
  // The assumption a router makes of a page (the schema's @listSize on Query.sandboxUsage).
  return { buckets, assumedBuckets: PAGE_LIMITS["1m"].default, sizes: { data: buckets } };
};

/** `_entities` resolves each representation it is sent, so its length is known exactly. */
const entities: WorkRule = (args) => (Array.isArray(args.representations) ? { length: args.representations.length } : null);

/** Keyed by `Type.field`: the fields whose work the arguments decide. */
export const FIELD_WORK: Readonly<Record<string, WorkRule>> = {
  "Sandbox.memoryUsage": memoryMinutes,
  "Sandbox.usage": aggregateDays,
  "Query.usage": aggregateDays,
  "Query.usageRollup": rollupDays,
  "Organization.usageRollup": rollupDays,
  "Query.sandboxUsage": sandboxUsagePage,
  "Query._entities": entities,
};
