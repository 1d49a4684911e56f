/**
 * The MKA1 sandbox usage fixture, ingested through `POST /api/v1/usage/events`, and small helpers
 * to write expected pages by hand. Every expected number in the mka1-*.test.ts files is worked out
 * from the table below; the `duration_ms` values are powers of two, so a duration sum names
 * exactly which operations a row counted (e.g. 124 = 4+8+16+32+64 = a3..a7).
 *
 * org acme (clock pinned at NOW = 2026-05-27T12:34:56Z):
 *
 * | id  | timestamp (UTC)      | session | user  | api_key | provider | kind     | operation        | req | dur  | in   | out  | files | oom | peak    | reserved |
 * | a1  | 2026-05-26T23:59:59  | s3      | alice | ak-2    | aws      | browser  | session_start    | 1   | 1    | 0    | 0    | 0     |     | null    | 512      |
 * | a2  | 2026-05-27T00:00:00  | s3      | alice | ak-2    | aws      | browser  | command          | 2   | 2    | 10   | 20   | 0     |     | 256     | 512      |
 * | a3  | 2026-05-27T10:00:00  | s1      | alice | ak-1    | aws      | standard | session_start    | 1   | 4    | 0    | 0    | 0     |     | null    | 1024     |
 * | a4  | 2026-05-27T10:00:30  | s1      | alice | ak-1    | aws      | standard | command          | 3   | 8    | 100  | 2000 | 2     |     | 512.5   | 1024     |
 * | a5  | 2026-05-27T10:00:45  | s2      | bob   | null    | gcp      | browser  | session_start    | 1   | 16   | 0    | 0    | 0     |     | null    | 2048     |
 * | a6  | 2026-05-27T10:01:00  | s2      | bob   | null    | gcp      | browser  | workspace_upload | 1   | 32   | 5000 | 0    | 4     |     | 1800    | 2048     |
 * | a7  | 2026-05-27T10:01:10  | s1      | alice | ak-1    | aws      | standard | code             | 2   | 64   | 0    | 300  | 1     | yes | 1023.75 | 1024     |
 * | a8  | 2026-05-27T11:05:00  | s1      | alice | ak-1    | aws      | standard | session_stop     | 1   | 128  | 0    | 0    | 0     |     | null    | null     |
 * | a9  | 2026-05-27T11:30:00  | s2      | bob   | ak-2    | gcp      | browser  | command          | 5   | 256  | 0    | 40   | 0     | yes | 2047.5  | 2048     |
 * | a10 | 2026-05-27T12:10:00  | s4      | bob   | ak-1    | aws      | standard | session_start    | 1   | 512  | 0    | 0    | 0     |     | null    | 256      |
 * | a11 | 2026-05-27T12:50:00  | s4      | bob   | ak-1    | aws      | standard | turn             | 1   | 1024 | 0    | 0    | 0     |     | 100     | 256      |
 *
 * a11 lies after NOW (ingest accepts up to 24 h ahead), so a defaulted end_time must leave it out.
 * External users (on the session_start): s1 and s3 belong to cust-1, s2 to cust-2, s4 to nobody.
 *
 * org globex — its session is also called "s1" (session ids are unique per org only):
 * | g1  | 2026-05-27T10:00:10  | s1      | carol | gk-1    | aws      | standard | session_start    | 1   | 2048 | 0    | 0    | 0     |     | null    | 4096     |
 * | g2  | 2026-05-27T10:30:00  | s1      | carol | gk-1    | aws      | standard | command          | 7   | 4096 | 70   | 700  | 7     |     | 3000    | 4096     |
 * external user of globex's s1: cust-g.
 *
 * org initech:
 * | i1  | 2026-05-27T10:15:00  | is1     | dave  | null    | azure    | standard | session_start    | 1   | 8192 | 0    | 0    | 0     |     | null    | 8192     |
 */
import { expect } from "vitest";
import type { SandboxUsageBucketJson, SandboxUsagePageJson, SandboxUsageResultJson } from "../../src/services/sandboxUsage.js";
import { bearer, type TestApp } from "../helpers/app.js";

export const NOW = "2026-05-27T12:34:56Z";

/** Unix seconds of an ISO time. */
export const unix = (iso: string) => Date.parse(iso) / 1000;

type Op = Record<string, unknown>;

function op(id: string, timestamp: string, session: string, user: string, apiKey: string | null, provider: string, kind: string, operation: string, fields: Op): Op {
  return {
    id,
    type: "sandbox.operation",
    timestamp,
    sandbox_id: `sb-${session}`,
    session_id: session,
    user_id: user,
    api_key_id: apiKey,
    provider,
    session_kind: kind,
    operation,
    ...(operation === "session_start" && { vcpus: 2, memory_mb: 1024 }),
    ...fields,
  };
}

export const ACME_EVENTS: Op[] = [
  op("a1", "2026-05-26T23:59:59Z", "s3", "alice", "ak-2", "aws", "browser", "session_start", { request_count: 1, duration_ms: 1, reserved_memory_mib: 512, external_user_id: "cust-1" }),
  op("a2", "2026-05-27T00:00:00Z", "s3", "alice", "ak-2", "aws", "browser", "command", { request_count: 2, duration_ms: 2, workspace_bytes_in: 10, workspace_bytes_out: 20, peak_memory_mib: 256, reserved_memory_mib: 512 }),
  op("a3", "2026-05-27T10:00:00Z", "s1", "alice", "ak-1", "aws", "standard", "session_start", { duration_ms: 4, reserved_memory_mib: 1024, external_user_id: "cust-1" }),
  op("a4", "2026-05-27T10:00:30Z", "s1", "alice", "ak-1", "aws", "standard", "command", {
    request_count: 3, duration_ms: 8, workspace_bytes_in: 100, workspace_bytes_out: 2000, files_changed_count: 2, peak_memory_mib: 512.5, reserved_memory_mib: 1024,
  }),
  // api_key_id omitted: the ingest default (null) must group into a null row.
  (({ api_key_id: _, ...e }) => e)(op("a5", "2026-05-27T10:00:45Z", "s2", "bob", null, "gcp", "browser", "session_start", { duration_ms: 16, reserved_memory_mib: 2048, external_user_id: "cust-2" })),
  op("a6", "2026-05-27T10:01:00Z", "s2", "bob", null, "gcp", "browser", "workspace_upload", {
    request_count: 1, duration_ms: 32, workspace_bytes_in: 5000, files_changed_count: 4, peak_memory_mib: 1800, reserved_memory_mib: 2048,
  }),
  op("a7", "2026-05-27T10:01:10Z", "s1", "alice", "ak-1", "aws", "standard", "code", {
    request_count: 2, duration_ms: 64, workspace_bytes_out: 300, files_changed_count: 1, oom_killed: true, peak_memory_mib: 1023.75, reserved_memory_mib: 1024,
  }),
  op("a8", "2026-05-27T11:05:00Z", "s1", "alice", "ak-1", "aws", "standard", "session_stop", { duration_ms: 128 }),
  op("a9", "2026-05-27T11:30:00Z", "s2", "bob", "ak-2", "gcp", "browser", "command", {
    request_count: 5, duration_ms: 256, workspace_bytes_out: 40, oom_killed: true, peak_memory_mib: 2047.5, reserved_memory_mib: 2048,
  }),
  op("a10", "2026-05-27T12:10:00Z", "s4", "bob", "ak-1", "aws", "standard", "session_start", { duration_ms: 512, reserved_memory_mib: 256 }),
  op("a11", "2026-05-27T12:50:00Z", "s4", "bob", "ak-1", "aws", "standard", "turn", { duration_ms: 1024, peak_memory_mib: 100, reserved_memory_mib: 256 }),
];

export const GLOBEX_EVENTS: Op[] = [
  op("g1", "2026-05-27T10:00:10Z", "s1", "carol", "gk-1", "aws", "standard", "session_start", { duration_ms: 2048, reserved_memory_mib: 4096, external_user_id: "cust-g" }),
  op("g2", "2026-05-27T10:30:00Z", "s1", "carol", "gk-1", "aws", "standard", "command", {
    request_count: 7, duration_ms: 4096, workspace_bytes_in: 70, workspace_bytes_out: 700, files_changed_count: 7, peak_memory_mib: 3000, reserved_memory_mib: 4096,
  }),
];

export const INITECH_EVENTS: Op[] = [
  op("i1", "2026-05-27T10:15:00Z", "is1", "dave", null, "azure", "standard", "session_start", { duration_ms: 8192, reserved_memory_mib: 8192 }),
];

/** Ingests the whole fixture through the API, each org with its own ingest key. */
export async function ingestFixture(t: TestApp): Promise<void> {
  for (const [org, events] of [["acme", ACME_EVENTS], ["globex", GLOBEX_EVENTS], ["initech", INITECH_EVENTS]] as const) {
    const key = await t.key(org, "ingester", ["ingest"]);
    const res = await t.app.inject({
      method: "POST",
      url: "/api/v1/usage/events",
      headers: { ...bearer(key), "content-type": "application/json" },
      payload: JSON.stringify({ events }),
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({ accepted: events.length, duplicates: 0 });
  }
}

export type Dimensions = Partial<Pick<SandboxUsageResultJson, "user_id" | "api_key_id" | "org_id" | "operation" | "provider" | "session_kind">>;

/**
 * One expected result: [num_operations, num_sessions, request_count, duration_ms,
 * workspace_bytes_in, workspace_bytes_out, files_changed_count, oom_killed_count,
 * peak_memory_mib, reserved_memory_mib], then the grouped dimensions (the others are null).
 */
export function row(
  n: [number, number, number, number, number, number, number, number, number | null, number | null],
  dims: Dimensions = {},
): SandboxUsageResultJson {
  const [ops, sessions, requests, duration, bytesIn, bytesOut, files, oom, peak, reserved] = n;
  return {
    object: "organization.usage.sandbox.result",
    num_operations: ops,
    num_sessions: sessions,
    request_count: requests,
    duration_ms: duration,
    workspace_bytes_in: bytesIn,
    workspace_bytes_out: bytesOut,
    files_changed_count: files,
    oom_killed_count: oom,
    peak_memory_mib: peak,
    reserved_memory_mib: reserved,
    user_id: null,
    api_key_id: null,
    org_id: null,
    operation: null,
    provider: null,
    session_kind: null,
    ...dims,
  };
}

const WIDTH_SECONDS = { "1m": 60, "1h": 3600, "1d": 86400 } as const;

/** An expected bucket starting at `startIso`, `width` long. */
export function bucket(startIso: string, width: keyof typeof WIDTH_SECONDS, results: SandboxUsageResultJson[] = []): SandboxUsageBucketJson {
  const start = unix(startIso);
  return { object: "bucket", start_time: start, end_time: start + WIDTH_SECONDS[width], results };
}

/** A last (or only) page. */
export const lastPage = (data: SandboxUsageBucketJson[]): SandboxUsagePageJson => ({ object: "page", data, has_more: false, next_page: null });

const RESULT_KEYS = [
  "object", "num_operations", "num_sessions", "request_count", "duration_ms", "workspace_bytes_in", "workspace_bytes_out",
  "files_changed_count", "oom_killed_count", "peak_memory_mib", "reserved_memory_mib",
  "user_id", "api_key_id", "org_id", "operation", "provider", "session_kind",
].sort();
const INTEGER_FIELDS = ["num_operations", "num_sessions", "request_count", "duration_ms", "workspace_bytes_in", "workspace_bytes_out", "files_changed_count", "oom_killed_count"] as const;
const DIMENSION_FIELDS = ["user_id", "api_key_id", "org_id", "operation", "provider", "session_kind"] as const;

/** Checks a page against the vendor's schema (spec 001): every field, `object` values, integer types. */
export function expectSpecShape(page: unknown): void {
  const p = page as SandboxUsagePageJson;
  expect(Object.keys(p).sort()).toEqual(["data", "has_more", "next_page", "object"]);
  expect(p.object).toBe("page");
  expect(typeof p.has_more).toBe("boolean");
  expect(p.next_page === null || typeof p.next_page === "string").toBe(true);
  for (const b of p.data) {
    expect(Object.keys(b).sort()).toEqual(["end_time", "object", "results", "start_time"]);
    expect(b.object).toBe("bucket");
    expect(Number.isInteger(b.start_time) && Number.isInteger(b.end_time)).toBe(true);
    for (const r of b.results) {
      expect(Object.keys(r).sort()).toEqual(RESULT_KEYS);
      expect(r.object).toBe("organization.usage.sandbox.result");
      for (const f of INTEGER_FIELDS) expect(Number.isInteger(r[f]), f).toBe(true);
      expect(r.peak_memory_mib === null || typeof r.peak_memory_mib === "number").toBe(true);
      expect(r.reserved_memory_mib === null || Number.isInteger(r.reserved_memory_mib)).toBe(true);
      for (const d of DIMENSION_FIELDS) expect(r[d] === null || typeof r[d] === "string", d).toBe(true);
    }
  }
}

/** GET /api/v1/sandbox/usage with the given query string. */
export function getUsage(t: TestApp, key: string | null, query: string, headers: Record<string, string> = {}) {
  return t.app.inject({ method: "GET", url: `/api/v1/sandbox/usage?${query}`, headers: { ...(key === null ? {} : bearer(key)), ...headers } });
}

export const SANDBOX_USAGE_QUERY = /* GraphQL */ `
  query SandboxUsage($startTime: SafeInt!, $endTime: SafeInt, $bucketWidth: String, $groupBy: [UsageGroupBy!], $allOrgs: Boolean, $orgIds: [String!], $limit: Int, $page: String) {
    sandboxUsage(startTime: $startTime, endTime: $endTime, bucketWidth: $bucketWidth, groupBy: $groupBy, allOrgs: $allOrgs, orgIds: $orgIds, limit: $limit, page: $page) {
      object
      hasMore
      nextPage
      data {
        object
        startTime
        endTime
        results {
          object numOperations numSessions requestCount durationMs workspaceBytesIn workspaceBytesOut filesChangedCount
          oomKilledCount peakMemoryMib reservedMemoryMib userId apiKeyId orgId operation provider sessionKind
        }
      }
    }
  }
`;

/** GraphQL's camelCase answer in the REST field names, recursively. */
export function toSnake(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(toSnake);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), toSnake(v)]));
}
