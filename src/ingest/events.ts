/**
 * The ingest contract (DESIGN §2) as zod schemas: the single validation used by
 * `POST /api/v1/usage/events` and `Mutation.recordUsageEvents`.
 */
import { z } from "zod";
import { OrgId } from "../auth/keys.js";
import { RESOURCE_DECIMALS } from "../cost.js";
import { SANDBOX_OPERATIONS } from "../db/collections.js";

export const MAX_EVENTS_PER_REQUEST = 5000;
/** Events dated further ahead than this are refused: a clock that far off is a bug, not usage. */
export const MAX_FUTURE_SKEW_MS = 24 * 60 * 60 * 1000;
export const TAG_KEY = /^[A-Za-z0-9_.:-]{1,128}$/;
export const RESERVED_TAG_PREFIX = "oc:";
export const MAX_TAGS = 50;

const id = z.string().min(1).max(128);
const count = z.int().min(0).max(Number.MAX_SAFE_INTEGER);

/** The earliest instant an event may carry: usage is counted in Unix time, which starts here. */
export const MIN_EVENT_TIME = new Date("1970-01-01T00:00:00Z");

/**
 * RFC 3339 §5.6 `date-time`: `T` and `Z` in either case (§5.6 NOTE: "may alternatively be lower
 * case"), a space for the `T` (§5.6 NOTE), any fraction of a second, `Z` or a `±hh:mm` offset.
 */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** An RFC 3339 date-time as an instant, or null when it is not one (or names a day that does not exist). */
export function parseRfc3339(text: string): Date | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
  if (month! < 1 || month! > 12 || day! < 1 || hour! > 23 || minute! > 59 || second! > 59) return null;
  const ms = m[7] ? Math.floor(Number(`0${m[7]}`) * 1000) : 0;
  const local = new Date(0);
  local.setUTCFullYear(year!, month! - 1, day!);
  local.setUTCHours(hour!, minute!, second!, ms);
  // 2026-02-30 would roll over into March; RFC 3339 has no such day.
  if (local.getUTCDate() !== day || local.getUTCMonth() !== month! - 1) return null;
  if (m[8]) return local;
  const [oh, om] = [Number(m[10]), Number(m[11])];
  if (oh > 23 || om > 59) return null;
  return new Date(local.getTime() - (m[9] === "-" ? -1 : 1) * (oh * 60 + om) * 60_000);
}

const Timestamp = z.string().transform((s, ctx) => {
  const t = parseRfc3339(s);
  if (t === null) {
    ctx.addIssue({ code: "invalid_format", format: "datetime", input: s, message: "must be an RFC 3339 timestamp with an offset, e.g. 2026-05-27T10:00:00Z" });
    return z.NEVER;
  }
  if (t < MIN_EVENT_TIME) {
    ctx.addIssue({ code: "too_small", origin: "date", minimum: MIN_EVENT_TIME.getTime(), inclusive: true, input: s, message: "timestamp must be at or after 1970-01-01T00:00:00Z" });
    return z.NEVER;
  }
  return t;
});

/**
 * A tag set: a JSON object of string values, its keys data. Not `z.record`, whose output drops a
 * `__proto__` key: the set is read with Object.keys and written to a null-prototype object, so a
 * key named like an Object member (`__proto__`, `constructor`, `toString`, …) is kept like any other.
 */
export const Tags = z.unknown().transform((raw, ctx): Record<string, string> => {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    ctx.addIssue({ code: "invalid_type", expected: "object", input: raw, message: "Input should be a valid dictionary" });
    return z.NEVER;
  }
  const out: Record<string, string> = Object.create(null);
  const keys = Object.keys(raw);
  if (keys.length > MAX_TAGS) ctx.addIssue({ code: "custom", message: `at most ${MAX_TAGS} tags` });
  for (const key of keys) {
    const value: unknown = Object.getOwnPropertyDescriptor(raw, key)?.value;
    if (!TAG_KEY.test(key)) ctx.addIssue({ code: "custom", path: [key], message: "tag keys are 1-128 characters of [A-Za-z0-9_.:-]" });
    else if (key.startsWith(RESERVED_TAG_PREFIX)) ctx.addIssue({ code: "custom", path: [key], message: `the '${RESERVED_TAG_PREFIX}' tag prefix is reserved` });
    if (typeof value !== "string") ctx.addIssue({ code: "invalid_type", expected: "string", input: value, path: [key], message: "Input should be a valid string" });
    else if (value.length > 256) ctx.addIssue({ code: "too_big", origin: "string", maximum: 256, inclusive: true, input: value, path: [key], message: "tag values are at most 256 characters" });
    else out[key] = value;
  }
  return out;
});

const common = {
  id,
  timestamp: Timestamp,
  org_id: OrgId.optional(),
};

const SESSION_START_FIELDS = ["resource", "vcpus", "memory_mb", "disk_mb", "storage_gb", "external_user_id", "external_project_id", "workspace_id", "alias", "tags"] as const;

/**
 * A resource that cost is computed from (vcpus, memory_mb, storage_gb): at most RESOURCE_DECIMALS
 * decimal places, so that every sum of it is exact (src/cost.ts).
 */
const metered = (n: z.ZodNumber) =>
  n.refine((x) => Number(x.toFixed(RESOURCE_DECIMALS)) === x, { message: `at most ${RESOURCE_DECIMALS} decimal places` });

export const OperationEvent = z
  .strictObject({
    ...common,
    type: z.literal("sandbox.operation"),
    sandbox_id: id,
    session_id: id,
    user_id: id,
    api_key_id: id.nullable().default(null),
    provider: z.string().min(1).max(64),
    session_kind: z.enum(["standard", "browser"]),
    operation: z.enum(SANDBOX_OPERATIONS),
    request_count: count.default(1),
    duration_ms: count.default(0),
    workspace_bytes_in: count.default(0),
    workspace_bytes_out: count.default(0),
    files_changed_count: count.default(0),
    oom_killed: z.boolean().default(false),
    peak_memory_mib: z.number().min(0).max(1e9).nullable().default(null),
    reserved_memory_mib: z.int().min(0).max(1e9).nullable().default(null),
    // session_start only:
    resource: z.enum(["sandbox", "computer"]).optional(),
    vcpus: metered(z.number().gt(0).max(4096)).optional(),
    memory_mb: metered(z.number().gt(0).max(1e9)).optional(),
    disk_mb: z.number().min(0).max(1e12).optional(),
    storage_gb: metered(z.number().min(0).max(1e9)).optional(),
    external_user_id: id.optional(),
    external_project_id: id.optional(),
    workspace_id: id.optional(),
    alias: z.string().min(1).max(256).optional(),
    tags: Tags.optional(),
  })
  .superRefine((e, ctx) => {
    if (e.operation === "session_start") {
      if (e.vcpus === undefined) ctx.addIssue({ code: "invalid_type", expected: "number", input: undefined, path: ["vcpus"], message: "Field required" });
      if (e.memory_mb === undefined) ctx.addIssue({ code: "invalid_type", expected: "number", input: undefined, path: ["memory_mb"], message: "Field required" });
      return;
    }
    for (const field of SESSION_START_FIELDS) {
      if (e[field] !== undefined) ctx.addIssue({ code: "custom", path: [field], message: `'${field}' is only allowed on session_start` });
    }
  });

export const MemoryEvent = z.strictObject({
  ...common,
  type: z.literal("sandbox.memory"),
  sandbox_id: id,
  used_memory_mb: z.number().min(0).max(1e9),
});

export type OperationEvent = z.output<typeof OperationEvent>;
export type MemoryEvent = z.output<typeof MemoryEvent>;
export type UsageEvent = OperationEvent | MemoryEvent;

export const EVENT_TYPES = ["sandbox.operation", "sandbox.memory"] as const;
