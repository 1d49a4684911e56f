/**
 * CSV export of every usage GET (DESIGN §10), over the real app and driver. Each CSV answer is
 * parsed back with csv-parse and compared cell by cell with the JSON answer of the same request
 * (all of its pages), so the numbers are the JSON's by construction of the test, not by a copy.
 *
 * Org `csv` (NOW = 2026-05-28T12:00:00Z):
 * | sandbox | session | run (UTC)         | user   | provider | tags / alias                                        |
 * | sb-1    | s1      | 05-27 10:00–10:30 | alice  | aws      | alias `=HYPERLINK("x")`, hostile tag values (below)  |
 * | -sb-2   | s2      | 05-27 10:05–11:10 | =1+1   | @evil    | team=growth, ext-1                                  |
 * and two memory samples of sb-1 in 10:00 and 10:01.
 * Org `many`: 505 sandboxes with one 1-minute session each on 05-20 (more than one cursor page of
 * 500), external users u-0…u-6. Org `wide`: 10 users' operations on one day (rows past a limit).
 */
import { parse } from "csv-parse/sync";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, BOOTSTRAP_KEY, startTestApp, type TestApp } from "../helpers/app.js";
import { ingest, memorySample, operation, start, stop } from "../helpers/events.js";

const NOW = "2026-05-28T12:00:00Z";
const clock = { now: () => new Date(NOW) };

/** Tag values a spreadsheet would run, and the RFC 4180 cases: delimiters, quotes, newlines. */
const HOSTILE_TAGS = {
  team: 'pay,ments "core"',
  note: "line one\r\nline two\nthree",
  formula: "=1+1",
  plus: "+41",
  minus: "-x",
  at: "@SUM(A1)",
  tab: "\tx",
  cr: "\rx",
};
const ALIAS = '=HYPERLINK("x")';

let t: TestApp;
let limited: TestApp;
let reader: string;
let many: string;
let wide: string;

/** What a cell must hold for a JSON value: the DESIGN §10 rule, restated independently of src/. */
function cell(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return String(v);
  if (typeof v === "string") return /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  throw new Error(`unexpected JSON value ${JSON.stringify(v)}`);
}

interface Csv {
  header: string[];
  rows: string[][];
  /** Column name → cell, per row. */
  records: Array<Record<string, string>>;
  body: string;
  headers: Record<string, unknown>;
}

/** Every record ends in CRLF, and no line break outside quotes is a bare LF or CR. */
function expectRfc4180Lines(body: string) {
  expect(body.endsWith("\r\n")).toBe(true);
  const outsideQuotes = body.replace(/"(?:[^"]|"")*"/g, "");
  expect(outsideQuotes.replace(/\r\n/g, "")).not.toMatch(/[\r\n]/);
}

async function csvOf(url: string, headers: Record<string, string>, via: "accept" | "format"): Promise<Csv> {
  const res = await t.app.inject({
    method: "GET",
    url: via === "format" ? `${url}${url.includes("?") ? "&" : "?"}format=csv` : url,
    headers: via === "accept" ? { ...headers, accept: "text/csv" } : headers,
  });
  expect(res.statusCode, res.body).toBe(200);
  expect(res.headers["content-type"]).toBe("text/csv; charset=utf-8");
  expect(res.headers.vary).toBe("Accept");
  expectRfc4180Lines(res.body);
  // Strict: only CRLF separates records, so a bare LF outside quotes would break the comparison.
  const [header, ...rows] = parse(res.body, { record_delimiter: "\r\n", relax_column_count: false }) as string[][];
  return { header: header!, rows, records: rows.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i]!]))), body: res.body, headers: res.headers };
}

/** Both ways of asking give the same bytes; the Accept one is returned. */
async function csvBothWays(url: string, headers: Record<string, string>): Promise<Csv> {
  const a = await csvOf(url, headers, "accept");
  const f = await csvOf(url, headers, "format");
  expect(f.body).toBe(a.body);
  expect(f.headers["content-disposition"]).toBe(a.headers["content-disposition"]);
  return a;
}

async function json(url: string, headers: Record<string, string>) {
  const res = await t.app.inject({ method: "GET", url, headers });
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

beforeAll(async () => {
  t = await startTestApp({ clock, label: "csv" });
  limited = await startTestApp({ clock, mongo: t.mongo, env: { CSV_MAX_ROWS: "45" } });
  const writer = await t.key("csv", "alice", ["ingest"]);
  reader = await t.key("csv", "alice", ["read"]);
  await ingest(t, writer, [
    start("s1", "2026-05-27T10:00:00Z", { sandbox_id: "sb-1", vcpus: 2, alias: ALIAS, tags: HOSTILE_TAGS, external_user_id: "ext-1" }),
    operation("s1", "command", "2026-05-27T10:10:00Z", { sandbox_id: "sb-1", request_count: 3, duration_ms: 120, peak_memory_mib: 512.5 }),
    stop("s1", "2026-05-27T10:30:00Z", { sandbox_id: "sb-1" }),
    start("s2", "2026-05-27T10:05:00Z", { sandbox_id: "-sb-2", user_id: "=1+1", provider: "@evil", session_kind: "browser", tags: { team: "growth" }, external_user_id: "ext-1", storage_gb: 3 }),
    stop("s2", "2026-05-27T11:10:00Z", { sandbox_id: "-sb-2", user_id: "=1+1", provider: "@evil", session_kind: "browser" }),
    memorySample("sb-1", "2026-05-27T10:00:30Z", 300),
    memorySample("sb-1", "2026-05-27T10:01:10Z", 400.5),
  ]);
  const manyWriter = await t.key("many", "bob", ["ingest"]);
  many = await t.key("many", "bob", ["read"]);
  const fleet = Array.from({ length: 505 }, (_, i) => {
    const s = `m${String(i).padStart(3, "0")}`;
    const at = new Date(Date.parse("2026-05-20T00:00:00Z") + i * 60_000).toISOString();
    const until = new Date(Date.parse(at) + 60_000 + i * 1000).toISOString();
    return [start(s, at, { memory_mb: 512 + i, external_user_id: `u-${i % 7}`, tags: { shard: `s${i % 3}` } }), stop(s, until)];
  });
  await ingest(t, manyWriter, fleet.flat());
  const wideWriter = await t.key("wide", "carol", ["ingest"]);
  wide = await t.key("wide", "carol", ["read"]);
  await ingest(
    t,
    wideWriter,
    Array.from({ length: 10 }, (_, i) => operation(`w${i}`, "command", "2026-05-20T06:00:00Z", { user_id: `user-${i}` })),
  );
});

afterAll(async () => {
  await limited?.close();
  await t?.close();
});

describe("MKA1 GET /api/v1/sandbox/usage as CSV", () => {
  const start = Date.parse("2026-05-27T09:00:00Z") / 1000;
  const end = Date.parse("2026-05-27T15:00:00Z") / 1000;

  /** The JSON answer's buckets, walking every page at `limit` buckets per page. */
  async function allBuckets(query: string, limit: number) {
    const buckets: Array<{ start_time: number; end_time: number; results: Array<Record<string, unknown>> }> = [];
    let page: string | null = null;
    do {
      const body = await json(`/api/v1/sandbox/usage?${query}&limit=${limit}${page ? `&page=${encodeURIComponent(page)}` : ""}`, bearer(reader));
      buckets.push(...body.data);
      page = body.next_page;
    } while (page);
    return buckets;
  }

  const RESULT_FIELDS = ["num_operations", "num_sessions", "request_count", "duration_ms", "workspace_bytes_in", "workspace_bytes_out", "files_changed_count", "oom_killed_count", "peak_memory_mib", "reserved_memory_mib", "user_id", "api_key_id", "org_id", "operation", "provider", "session_kind"];
  const DIMS = new Set(["user_id", "api_key_id", "org_id", "operation", "provider", "session_kind"]);

  it("has one row per (bucket, result), start_time and end_time first, every number the JSON's, over all pages", async () => {
    const query = `start_time=${start}&end_time=${end}&bucket_width=1h&group_by=user_id,provider`;
    const buckets = await allBuckets(query, 2);
    expect(buckets).toHaveLength(6);
    const csv = await csvBothWays(`/api/v1/sandbox/usage?${query}`, bearer(reader));
    expect(csv.header).toEqual(["start_time", "end_time", ...RESULT_FIELDS]);
    const expected = buckets.flatMap((b) =>
      b.results.length === 0
        ? [[cell(b.start_time), cell(b.end_time), ...RESULT_FIELDS.map((f) => (DIMS.has(f) ? "" : "0"))]]
        : b.results.map((r) => [cell(b.start_time), cell(b.end_time), ...RESULT_FIELDS.map((f) => cell(r[f]))]),
    );
    expect(csv.rows).toEqual(expected);
    // 10:00 has both users; 12:00–14:00 are empty buckets: one row of zeros, dimensions empty.
    expect(csv.rows.filter((r) => r[0] === String(Date.parse("2026-05-27T10:00:00Z") / 1000))).toHaveLength(2);
    const empty = csv.records.find((r) => r.start_time === String(Date.parse("2026-05-27T13:00:00Z") / 1000))!;
    expect(empty).toMatchObject({ num_operations: "0", num_sessions: "0", peak_memory_mib: "0", user_id: "", provider: "" });
    // The hostile user id and provider are neutralised; alice's row keeps its fractional peak.
    expect(csv.records.map((r) => r.user_id)).toContain("'=1+1");
    expect(csv.records.map((r) => r.provider)).toContain("'@evil");
    expect(csv.records.map((r) => r.peak_memory_mib)).toContain("512.5");
    expect(csv.headers["content-disposition"]).toBe('attachment; filename="sandbox-usage-20260527T090000Z-20260527T150000Z.csv"');
  });

  it("walks more buckets than its own page size (1m: 1,440 a page) into one file", async () => {
    const from = Date.parse("2026-05-26T00:00:00Z") / 1000;
    const query = `start_time=${from}&end_time=${from + 2 * 86_400 + 600}&bucket_width=1m`;
    const buckets = await allBuckets(query, 1440);
    const csv = await csvOf(`/api/v1/sandbox/usage?${query}&limit=7&page=ignored`, bearer(reader), "format");
    expect(csv.rows).toHaveLength(2 * 1440 + 10);
    expect(csv.rows.map((r) => [r[0], r[1], r[2], r[3]])).toEqual(
      buckets.flatMap((b) => (b.results.length === 0 ? [[cell(b.start_time), cell(b.end_time), "0", "0"]] : b.results.map((r) => [cell(b.start_time), cell(b.end_time), cell(r.num_operations), cell(r.num_sessions)]))),
    );
  });

  it("answers JSON unless CSV is asked for, and format=json beats Accept", async () => {
    const url = `/api/v1/sandbox/usage?start_time=${start}&end_time=${end}&bucket_width=1h`;
    for (const accept of [undefined, "application/json", "*/*", "text/html,application/xhtml+xml,*/*;q=0.8", "application/json, text/csv;q=0.5", "text/csv;q=0"]) {
      const res = await t.app.inject({ method: "GET", url, headers: { ...bearer(reader), ...(accept && { accept }) } });
      expect(res.headers["content-type"], accept).toMatch(/^application\/json/);
      expect(res.headers.vary).toBe("Accept");
    }
    const res = await t.app.inject({ method: "GET", url: `${url}&format=json`, headers: { ...bearer(reader), accept: "text/csv" } });
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(res.json().object).toBe("page");
  });

  it("refuses errors in FastAPI's JSON envelope: bad input, bad format, no key", async () => {
    const bad = await t.app.inject({ method: "GET", url: `/api/v1/sandbox/usage?start_time=${start}&bucket_width=2m&format=csv`, headers: bearer(reader) });
    expect(bad.statusCode).toBe(422);
    expect(bad.headers["content-type"]).toMatch(/^application\/json/);
    expect(bad.json().detail[0]).toMatchObject({ loc: ["query", "bucket_width"], type: "enum" });
    const format = await t.app.inject({ method: "GET", url: `/api/v1/sandbox/usage?start_time=${start}&format=xlsx`, headers: bearer(reader) });
    expect(format.statusCode).toBe(422);
    expect(format.json().detail[0]).toMatchObject({ loc: ["query", "format"], type: "enum" });
    for (const headers of [{ accept: "text/csv" }, { accept: "text/csv", authorization: "Bearer nope" }]) {
      const res = await t.app.inject({ method: "GET", url: `/api/v1/sandbox/usage?start_time=${start}`, headers });
      expect(res.statusCode).toBe(401);
      expect(res.headers["content-type"]).toMatch(/^application\/json/);
      expect(res.json()).toEqual({ detail: expect.any(String) });
    }
  });

  it("refuses an answer over the row limit before sending anything, asking for a narrower window", async () => {
    // CSV_MAX_ROWS=45: 46 hourly buckets are 46 rows at least.
    const res = await limited.app.inject({ method: "GET", url: `/api/v1/sandbox/usage?start_time=${start}&end_time=${start + 46 * 3600}&bucket_width=1h&format=csv`, headers: bearer(reader) });
    expect(res.statusCode).toBe(422);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expect(res.json().detail).toEqual([{ loc: ["query", "end_time"], msg: expect.stringMatching(/46 rows.*45.*narrower window/), type: "too_many_rows" }]);
    const fits = await limited.app.inject({ method: "GET", url: `/api/v1/sandbox/usage?start_time=${start}&end_time=${start + 45 * 3600}&bucket_width=1h&format=csv`, headers: bearer(reader) });
    expect(fits.statusCode).toBe(200);
    expect(parse(fits.body)).toHaveLength(46);
  });

  it("cuts the connection when later pages' rows pass the limit, never ending a short file cleanly", async () => {
    // 40 daily buckets (two service pages of 31 + 9) fit under 45, but 05-20's ten users make 49 rows.
    const from = Date.parse("2026-04-12T00:00:00Z") / 1000;
    const url = `/api/v1/sandbox/usage?start_time=${from}&end_time=${from + 40 * 86_400}&bucket_width=1d&group_by=user_id&format=csv`;
    const whole = await t.app.inject({ method: "GET", url, headers: bearer(wide) });
    expect(parse(whole.body)).toHaveLength(1 + 49);
    const address = await limited.app.listen({ port: 0, host: "127.0.0.1" });
    const res = await fetch(`${address}${url}`, { headers: bearer(wide) });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    // The body breaks off (no final chunk) instead of ending as a complete-looking file.
    await expect(res.text()).rejects.toThrow();
  });
});

describe("MIOSA GET /api/v1/usage as CSV", () => {
  const url = "/api/v1/usage?period=custom&start=2026-05-27&end=2026-05-28&group_by=external_user_id";

  it("has the period, then one row per result with the JSON's numbers", async () => {
    const body = await json(url, bearer(reader));
    const csv = await csvBothWays(url, bearer(reader));
    const numbers = ["sandbox_seconds", "computer_seconds", "storage_gb_hours", "credit_cents"];
    expect(csv.header).toEqual(["period_start", "period_end", "external_user_id", ...numbers]);
    expect(body.results.length).toBeGreaterThan(0);
    expect(csv.rows).toEqual(body.results.map((r: Record<string, unknown>) => [body.period_start, body.period_end, cell(r.external_user_id), ...numbers.map((n) => cell(r[n]))]));
    expect(csv.headers["content-disposition"]).toBe('attachment; filename="usage-20260527T000000Z-20260528T000000Z.csv"');
  });

  it("an empty answer is one row: its period, the result columns empty", async () => {
    const csv = await csvBothWays("/api/v1/usage?period=custom&start=2026-01-01&end=2026-01-02", bearer(reader));
    expect(csv.rows).toEqual([["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "", "", "", "", ""]]);
  });

  it("refuses in MIOSA's envelope: bad input, bad format, no key, too many rows", async () => {
    const bad = await t.app.inject({ method: "GET", url: "/api/v1/usage?period=1y&format=csv", headers: bearer(reader) });
    expect(bad.statusCode).toBe(422);
    expect(bad.json().error.code).toBe("invalid period");
    const format = await t.app.inject({ method: "GET", url: "/api/v1/usage?format=pdf", headers: bearer(reader) });
    expect(format.json()).toEqual({ error: { code: "invalid format", message: expect.any(String) } });
    const anon = await t.app.inject({ method: "GET", url: "/api/v1/usage", headers: { accept: "text/csv" } });
    expect(anon.statusCode).toBe(401);
    expect(anon.json()).toEqual({ error: { code: "unauthorized", message: expect.any(String) } });
    const over = await startTestApp({ clock, mongo: t.mongo, env: { CSV_MAX_ROWS: "6" } });
    try {
      // Org `many` has seven external users.
      const res = await over.app.inject({ method: "GET", url: "/api/v1/usage?period=30d&format=csv", headers: bearer(many) });
      expect(res.statusCode).toBe(422);
      expect(res.json()).toEqual({ error: { code: "too_many_rows", message: expect.stringMatching(/7 rows.*narrower window/) } });
    } finally {
      await over.close();
    }
  });
});

describe("Dreadnode GET /api/v1/org/{org}/sandboxes/usage as CSV", () => {
  it("is one row of the summary's integers", async () => {
    const body = await json("/api/v1/org/csv/sandboxes/usage", bearer(reader));
    const csv = await csvBothWays("/api/v1/org/csv/sandboxes/usage", bearer(reader));
    expect(csv.header).toEqual(["current_month_seconds", "sessions_count", "total_runtime_seconds"]);
    expect(csv.rows).toEqual([[cell(body.current_month_seconds), cell(body.sessions_count), cell(body.total_runtime_seconds)]]);
    expect(csv.rows[0]).toEqual(["1800", "1", "1800"]);
    expect(csv.headers["content-disposition"]).toBe('attachment; filename="sandboxes-usage-20260501T000000Z-20260528T120000Z.csv"');
  });

  it("refuses in Dreadnode's envelope, JSON even when CSV is asked for", async () => {
    const foreign = await t.app.inject({ method: "GET", url: "/api/v1/org/other/sandboxes/usage?format=csv", headers: bearer(reader) });
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json()).toMatchObject({ code: 404, type: "not_found" });
    const anon = await t.app.inject({ method: "GET", url: "/api/v1/org/csv/sandboxes/usage", headers: { accept: "text/csv" } });
    expect(anon.statusCode).toBe(401);
    expect(anon.json()).toMatchObject({ code: 401, type: "authentication_failed" });
    const format = await t.app.inject({ method: "GET", url: "/api/v1/org/csv/sandboxes/usage?format=csv&format=csv", headers: bearer(reader) });
    expect(format.statusCode).toBe(422);
    expect(format.json()).toMatchObject({ code: 422, type: "validation_error", errors: [{ loc: ["query", "format"] }] });
  });
});

describe("OpenComputer GET /api/sandboxes/{id}/usage as CSV", () => {
  const xKey = (key: string) => ({ "x-api-key": key });
  const url = "/api/sandboxes/sb-1/usage?from=2026-05-27T09:58:00Z&to=2026-05-27T10:33:00Z";
  const POINT = ["memoryAllocatedGbSeconds", "memoryUsedGbSeconds", "uptimeSeconds", "allocatedMemoryMb", "usedMemoryMbAvg", "usedMemoryMbPeak"];
  const TOTALS = ["memoryAllocatedGbSeconds", "memoryUsedGbSeconds", "uptimeSeconds", "memoryAllocatedPeakMb", "memoryUsedPeakMb"];

  it("has one row per minute point, the sandbox and window first, totals as dotted columns", async () => {
    const body = await json(url, xKey(reader));
    const csv = await csvBothWays(url, xKey(reader));
    expect(csv.header).toEqual(["sandboxId", "alias", "from", "to", "ts", ...POINT, ...TOTALS.map((x) => `totals.${x}`)]);
    expect(body.points).toHaveLength(35);
    expect(csv.rows).toEqual(
      body.points.map((p: Record<string, unknown>) => [body.sandboxId, cell(body.alias), body.from, body.to, p.ts, ...POINT.map((m) => cell(p[m])), ...TOTALS.map((x) => cell(body.totals[x]))]),
    );
    expect(csv.records[0]!.alias).toBe(`'${ALIAS}`);
    expect(csv.records.map((r) => r.usedMemoryMbPeak)).toContain("400.5");
    expect(csv.headers["content-disposition"]).toBe('attachment; filename="sandbox-sb-1-usage-20260527T095800Z-20260527T103300Z.csv"');
  });

  it("refuses in OpenComputer's envelope: a bad window, an unknown sandbox, no key, too many points", async () => {
    const bad = await t.app.inject({ method: "GET", url: "/api/sandboxes/sb-1/usage?from=yesterday&format=csv", headers: xKey(reader) });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ error: expect.stringMatching(/from must be/) });
    const unknown = await t.app.inject({ method: "GET", url: "/api/sandboxes/nope/usage", headers: { ...xKey(reader), accept: "text/csv" } });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toEqual({ error: expect.any(String) });
    const anon = await t.app.inject({ method: "GET", url: "/api/sandboxes/sb-1/usage?format=csv" });
    expect(anon.statusCode).toBe(401);
    expect(anon.json()).toEqual({ error: expect.any(String) });
    // The default window is an hour: 60 points, over CSV_MAX_ROWS=45.
    const over = await limited.app.inject({ method: "GET", url: "/api/sandboxes/sb-1/usage?format=csv", headers: xKey(reader) });
    expect(over.statusCode).toBe(400);
    expect(over.json()).toEqual({ error: expect.stringMatching(/60 rows.*narrower window/) });
  });
});

describe("OpenComputer GET /api/usage as CSV", () => {
  const xKey = (key: string) => ({ "x-api-key": key });

  async function allItems(query: string, key: string, limit: number) {
    const items: Array<Record<string, any>> = [];
    let cursor: string | null = null;
    let first: Record<string, any> | null = null;
    do {
      const body: Record<string, any> = await json(`/api/usage?${query}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, xKey(key));
      first ??= body;
      items.push(...body.items);
      cursor = body.nextCursor;
    } while (cursor);
    return { first: first!, items };
  }

  it("groupBy=sandbox: one row per item, tag:<key> columns in key order, hostile values neutralised", async () => {
    const { first, items } = await allItems("groupBy=sandbox", reader, 1);
    const csv = await csvBothWays("/api/usage?groupBy=sandbox", xKey(reader));
    const tagKeys = Object.keys(HOSTILE_TAGS).sort();
    const fields = ["sandboxId", "alias", "status", "tagsLastUpdatedAt", "memoryGbSeconds", "diskOverageGbSeconds"];
    expect(csv.header).toEqual(["from", "to", "groupBy", ...fields, ...tagKeys.map((k) => `tag:${k}`), "total.memoryGbSeconds", "total.diskOverageGbSeconds"]);
    expect(csv.rows).toEqual(
      items.map((i) => [first.from, first.to, "sandbox", ...fields.map((f) => cell(i[f])), ...tagKeys.map((k) => cell(i.tags[k])), cell(first.total.memoryGbSeconds), cell(first.total.diskOverageGbSeconds)]),
    );
    const sb1 = csv.records.find((r) => r.sandboxId === "sb-1")!;
    expect(sb1).toMatchObject({
      alias: `'${ALIAS}`,
      "tag:team": 'pay,ments "core"',
      "tag:note": "line one\r\nline two\nthree",
      "tag:formula": "'=1+1",
      "tag:plus": "'+41",
      "tag:minus": "'-x",
      "tag:at": "'@SUM(A1)",
      "tag:tab": "'\tx",
      "tag:cr": "'\rx",
    });
    // Quotes doubled inside a quoted field (RFC 4180 §2.7), the embedded line breaks kept inside it.
    expect(csv.body).toContain('"pay,ments ""core"""');
    expect(csv.body).toContain('"line one\r\nline two\nthree"');
    expect(csv.records.map((r) => r.sandboxId)).toContain("'-sb-2");
    expect(csv.records.find((r) => r.sandboxId === "'-sb-2")).toMatchObject({ "tag:team": "growth", "tag:formula": "" });
    expect(csv.headers["content-disposition"]).toBe('attachment; filename="usage-20260428T120000Z-20260528T120000Z.csv"');
  });

  it("walks every cursor page (505 sandboxes; the export's pages are 500) into one file", async () => {
    const { first, items } = await allItems("groupBy=sandbox&sort=-diskOverageGbSeconds", many, 200);
    expect(items).toHaveLength(505);
    const csv = await csvOf("/api/usage?groupBy=sandbox&sort=-diskOverageGbSeconds&limit=3", xKey(many), "accept");
    expect(csv.header.filter((h) => h.startsWith("tag:"))).toEqual(["tag:shard"]);
    expect(csv.rows.map((r) => [r[3], r[7], r[8], r[9]])).toEqual(items.map((i) => [i.sandboxId, cell(i.memoryGbSeconds), cell(i.diskOverageGbSeconds), i.tags.shard]));
    expect(csv.records[0]!["total.memoryGbSeconds"]).toBe(cell(first.total.memoryGbSeconds));
  });

  it("groupBy=tag:<key>: one row per value, total and untagged as dotted columns", async () => {
    const { first, items } = await allItems("groupBy=tag:team&from=2026-05-27&to=2026-05-28", reader, 1);
    const csv = await csvBothWays("/api/usage?groupBy=tag:team&from=2026-05-27&to=2026-05-28", xKey(reader));
    expect(csv.header).toEqual(["from", "to", "groupBy", "tagKey", "tagValue", "memoryGbSeconds", "diskOverageGbSeconds", "total.memoryGbSeconds", "total.diskOverageGbSeconds", "untagged.memoryGbSeconds", "untagged.diskOverageGbSeconds"]);
    expect(items).toHaveLength(2);
    const tail = [first.total.memoryGbSeconds, first.total.diskOverageGbSeconds, first.untagged.memoryGbSeconds, first.untagged.diskOverageGbSeconds].map(cell);
    expect(csv.rows).toEqual(items.map((i) => [first.from, first.to, "tag:team", i.tagKey, i.tagValue, cell(i.memoryGbSeconds), cell(i.diskOverageGbSeconds), ...tail]));
  });

  it("an answer without items is one row with its totals, the item columns empty", async () => {
    const body = await json("/api/usage?groupBy=tag:absent&from=2026-05-27&to=2026-05-28", xKey(reader));
    expect(body.items).toEqual([]);
    const csv = await csvBothWays("/api/usage?groupBy=tag:absent&from=2026-05-27&to=2026-05-28", xKey(reader));
    expect(csv.rows).toEqual([[body.from, body.to, "tag:absent", "", "", "", "", cell(body.total.memoryGbSeconds), cell(body.total.diskOverageGbSeconds), cell(body.untagged.memoryGbSeconds), cell(body.untagged.diskOverageGbSeconds)]]);
    expect(body.untagged.memoryGbSeconds).toBeGreaterThan(0);
  });

  it("refuses in OpenComputer's envelope: bad input, no key, too many rows on the first page", async () => {
    const bad = await t.app.inject({ method: "GET", url: "/api/usage?format=csv", headers: xKey(reader) });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({ error: expect.stringMatching(/groupBy is required/) });
    const anon = await t.app.inject({ method: "GET", url: "/api/usage?groupBy=sandbox", headers: { accept: "text/csv", "x-api-key": "wrong" } });
    expect(anon.statusCode).toBe(401);
    expect(anon.json()).toEqual({ error: expect.any(String) });
    const over = await limited.app.inject({ method: "GET", url: "/api/usage?groupBy=sandbox&format=csv", headers: xKey(many) });
    expect(over.statusCode).toBe(400);
    expect(over.json()).toEqual({ error: expect.stringMatching(/at least 500 rows.*narrower window/) });
  });
});

describe("bootstrap key", () => {
  it("has no org, so MIOSA refuses it in JSON whatever the format", async () => {
    const res = await t.app.inject({ method: "GET", url: "/api/v1/usage?format=csv", headers: bearer(BOOTSTRAP_KEY) });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toEqual({ error: { code: "forbidden", message: expect.any(String) } });
  });
});
