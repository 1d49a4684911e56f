/**
 * Sums past 2^53 are exact on every surface: events of 2^53 − 1 requests (the largest count ingest
 * takes) sum to numbers a double cannot hold, and the answers carry every digit — MKA1's REST JSON
 * and CSV, GraphQL (the Int64 scalar), from the rollups and from the raw events alike, after a void
 * and after a rebuild. One tenant's huge sums never break a cluster admin's all-orgs answer.
 *
 * The bodies are read as text: JSON.parse would round the very digits under test.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { rebuildAll } from "../../src/store/rebuild.js";
import { bearer, startTestApp, type TestApp } from "../helpers/app.js";
import { ingest, operation } from "../helpers/events.js";

const NOW = "2026-05-28T12:00:00Z";
const MAX = Number.MAX_SAFE_INTEGER; // 9007199254740991
const MAX_BIG = BigInt(MAX);
const times = (k: number) => (MAX_BIG * BigInt(k)).toString();
const unix = (iso: string) => Date.parse(iso) / 1000;
const DAY = `start_time=${unix("2026-05-28T00:00:00Z")}&end_time=${unix("2026-05-29T00:00:00Z")}`;

let t: TestApp;
let raw: TestApp;
let readKey: string;
let ingestKey: string;
let adminKey: string;
const ids: string[] = [];

beforeAll(async () => {
  t = await startTestApp({ clock: fixedClock(NOW), label: "exact" });
  // The same database answered from the raw events, as USAGE_SOURCE=raw serves it.
  raw = await startTestApp({ clock: fixedClock(NOW), mongo: t.mongo, env: { USAGE_SOURCE: "raw" } });
  readKey = await t.key("big", "alice", ["read"]);
  ingestKey = await t.key("big", "alice", ["ingest"]);
  adminKey = await t.key("ops", "root", ["read"], true);
  const huge = { request_count: MAX, duration_ms: MAX, workspace_bytes_in: MAX, workspace_bytes_out: MAX, files_changed_count: MAX };
  const events = [
    operation("s1", "command", "2026-05-28T10:00:01Z", huge),
    operation("s1", "command", "2026-05-28T10:00:02Z", huge),
    operation("s1", "command", "2026-05-28T11:30:00Z", huge),
  ];
  ids.push(...events.map((e) => e.id as string));
  await ingest(t, ingestKey, events);
  // Another tenant with ordinary numbers.
  await ingest(t, await t.key("small", "bob", ["ingest"]), [operation("s9", "command", "2026-05-28T10:05:00Z", { user_id: "bob", request_count: 5 })]);
});
afterAll(async () => {
  await raw?.close();
  await t?.close();
});

async function rest(app: TestApp, query: string, headers: Record<string, string> = bearer(readKey)) {
  const res = await app.app.inject({ method: "GET", url: `/api/v1/sandbox/usage?${query}`, headers });
  expect(res.statusCode, res.body).toBe(200);
  return res.body;
}

async function graphql(app: TestApp, query: string, key: string) {
  const res = await app.app.inject({ method: "POST", url: "/graphql", headers: { ...bearer(key), "content-type": "application/json" }, payload: JSON.stringify({ query }) });
  expect(res.statusCode, res.body).toBe(200);
  expect(res.body).not.toContain('"errors"');
  return res.body;
}

const measures = (k: number) => ["request_count", "duration_ms", "workspace_bytes_in", "workspace_bytes_out", "files_changed_count"].map((f) => `"${f}":${times(k)}`);

describe("sums past 2^53", () => {
  it("MKA1 REST: a day, its hours and its minutes, each exact, from the rollups and from the raw events", async () => {
    for (const app of [t, raw]) {
      const day = await rest(app, `${DAY}&bucket_width=1d`);
      for (const m of measures(3)) expect(day).toContain(m);
      expect(day).toContain('"num_operations":3');
      const hours = await rest(app, `start_time=${unix("2026-05-28T10:00:00Z")}&end_time=${unix("2026-05-28T12:00:00Z")}&bucket_width=1h`);
      for (const m of [...measures(2), ...measures(1)]) expect(hours).toContain(m);
      const minute = await rest(app, `start_time=${unix("2026-05-28T10:00:00Z")}&end_time=${unix("2026-05-28T10:01:00Z")}&bucket_width=1m`);
      for (const m of measures(2)) expect(minute).toContain(m);
    }
    // The two sources answer the same bytes.
    expect(await rest(t, `${DAY}&bucket_width=1h&group_by=operation`)).toBe(await rest(raw, `${DAY}&bucket_width=1h&group_by=operation`));
  });

  it("MKA1 CSV carries every digit", async () => {
    const res = await t.app.inject({ method: "GET", url: `/api/v1/sandbox/usage?${DAY}&bucket_width=1d&format=csv`, headers: bearer(readKey) });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).toContain(times(3));
    expect(res.body).not.toMatch(/e\+16|27021597764222972/);
  });

  it("GraphQL answers Int64 exactly, and a cluster admin's all-orgs query still answers every tenant", async () => {
    const fields = "requestCount durationMs workspaceBytesIn workspaceBytesOut filesChangedCount numOperations numSessions orgId";
    const own = await graphql(t, `{ sandboxUsage(startTime: ${unix("2026-05-28T00:00:00Z")}, endTime: ${unix("2026-05-29T00:00:00Z")}, bucketWidth: "1d") { data { results { ${fields} } } } }`, readKey);
    expect(own).toContain(`"requestCount":${times(3)},"durationMs":${times(3)},"workspaceBytesIn":${times(3)},"workspaceBytesOut":${times(3)},"filesChangedCount":${times(3)}`);
    const all = await graphql(t, `{ sandboxUsage(startTime: ${unix("2026-05-28T00:00:00Z")}, endTime: ${unix("2026-05-29T00:00:00Z")}, bucketWidth: "1d", allOrgs: true, groupBy: [org_id]) { data { results { ${fields} } } } }`, adminKey);
    expect(all).toContain(`"requestCount":${times(3)}`);
    expect(all).toContain('"requestCount":5,');
    expect(all).toContain('"orgId":"small"');
  });

  it("a void takes the exact amount out; a rebuild from the raw events gives the same answer", async () => {
    const res = await t.app.inject({ method: "POST", url: "/api/v1/usage/events/void", headers: { ...bearer(ingestKey), "content-type": "application/json" }, payload: JSON.stringify({ ids: [ids[0]], reason: "test" }) });
    expect(res.statusCode, res.body).toBe(200);
    const before = await rest(t, `${DAY}&bucket_width=1h`);
    for (const m of [...measures(1)]) expect(before).toContain(m);
    expect(before).not.toContain(times(2));
    expect(before).toBe(await rest(raw, `${DAY}&bucket_width=1h`));
    await rebuildAll(t.deps.client, t.deps.cols);
    expect(await rest(t, `${DAY}&bucket_width=1h`)).toBe(before);
    expect(await rest(t, `${DAY}&bucket_width=1d`)).toContain(`"request_count":${times(2)}`);
  });
});
