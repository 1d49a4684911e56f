/**
 * Every query's first stage — and the first stage of every `$unionWith`/`$lookup` it reads through —
 * is served by the index named for it in the code (src/db/collections.ts), as the database's own
 * `explain` reports, and nothing scans a whole collection. The pipelines are the ones the services
 * build, over a small real data set (an empty collection would explain as EOF on a real mongod).
 */
import type { Document } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { COLLECTIONS, ensureIndexes, INDEXES } from "../../src/db/collections.js";
import { buildMemoryUsagePipeline } from "../../src/pipelines/memory.js";
import { buildRuntimeSummaryPipeline, buildUsageRollupPipeline } from "../../src/pipelines/runtime.js";
import { buildTagKeysPipeline, buildUserTagKeysPipeline } from "../../src/pipelines/sandboxes.js";
import { type BucketPageQuery, buildMeasuresPipeline, buildSandboxUsagePipeline, buildSessionsPipeline, planPage } from "../../src/pipelines/sandboxUsage.js";
import { LocalBuckets } from "../../src/zones.js";
import { buildSandboxQuantitiesPipeline, buildUsageAggregatePipeline } from "../../src/pipelines/usageAggregate.js";
import { DEFAULT_PRICES } from "../../src/services/prices.js";
import { indexesUsed, scansCollection } from "../embedded/explain-helpers.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { ingest, memorySample, operation, start, stop } from "../helpers/events.js";

const NOW = new Date("2026-05-28T00:00:00Z");
const at = (iso: string) => new Date(iso);
const window = { from: at("2026-05-20T00:00:00Z"), to: NOW };

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ label: "qindexes", clock: fixedClock(NOW.toISOString()) });
  const key = await t.key("acme", "alice", ["ingest"]);
  await ingest(t, key, [
    start("s1", "2026-05-27T10:00:00Z", { sandbox_id: "sb-1", external_user_id: "cust-1", tags: { team: "core" } }),
    operation("s1", "command", "2026-05-27T10:30:00Z", { sandbox_id: "sb-1" }),
    stop("s1", "2026-05-27T11:00:00Z", { sandbox_id: "sb-1" }),
    start("s2", "2026-05-26T10:00:00Z", { sandbox_id: "sb-2", user_id: "bob" }),
    memorySample("sb-1", "2026-05-27T10:10:00Z", 300),
  ]);
  await t.deps.cols.prices.insertOne({ _id: "acme", ...DEFAULT_PRICES, updated_at: NOW, updated_by: "test" });
}, 60_000);
afterAll(() => t?.close());

/** Which indexes the database says serve `pipeline` on `collection`, and whether anything scans. */
async function explain(collection: string, pipeline: Document[]) {
  const plan = await t.mongo.db.collection(collection).aggregate(pipeline).explain("queryPlanner");
  return { indexes: indexesUsed(plan).sort(), scans: scansCollection(plan) };
}

const page = (overrides: Partial<BucketPageQuery>): BucketPageQuery => {
  const q = {
    scope: { orgIds: ["acme"], externalUserId: null },
    width: "1h" as const,
    groupBy: ["user_id" as const],
    from: at("2026-05-26T10:00:30Z"),
    to: at("2026-05-28T00:00:00Z"),
    timeZone: "UTC",
    ...overrides,
  };
  const unit = q.width === "1m" ? "minute" : q.width === "1h" ? "hour" : "day";
  const local = new LocalBuckets(q.from.getTime(), unit, q.timeZone);
  const boundaries = [local.at(0)];
  while (boundaries[boundaries.length - 1]! < q.to.getTime()) boundaries.push(local.at(boundaries.length));
  return { ...q, boundaries };
};
const measures = (q: BucketPageQuery) => buildMeasuresPipeline(q, planPage(q))!;
const sessions = (q: BucketPageQuery) => buildSessionsPipeline(q, planPage(q))!;

describe("every query's first stage is served by its named index", () => {
  const cases: Array<{ name: string; collection: string; pipeline: () => Document[]; indexes: string[] }> = [
    { name: "MKA1 measures from rollups, one org", ...asCase(() => measures(page({}))), indexes: [INDEXES.eventsByOrgTypeTime, INDEXES.opsByMinuteOrgTime, INDEXES.opsByHourOrgTime] },
    { name: "MKA1 measures from rollups, all orgs", ...asCase(() => measures(page({ scope: { orgIds: null, externalUserId: null }, width: "1d", from: at("2026-05-20T00:00:00Z") }))), indexes: [INDEXES.opsByDayTime] },
    { name: "MKA1 measures from totals (no group-by), one org", ...asCase(() => measures(page({ groupBy: [] }))), indexes: [INDEXES.eventsByOrgTypeTime, INDEXES.totalsByMinuteOrgTime, INDEXES.totalsByHourOrgTime] },
    {
      name: "MKA1 measures from totals, all orgs, by org",
      ...asCase(() => measures(page({ scope: { orgIds: null, externalUserId: null }, groupBy: ["org_id"], width: "1d", from: at("2026-05-20T00:00:00Z") }))),
      indexes: [INDEXES.totalsByDayTime],
    },
    {
      name: "MKA1 sessions without group-by (presence of ragged buckets only)",
      ...asCase(() => sessions(page({ groupBy: [] }))),
      indexes: [INDEXES.eventsByOrgTypeTime, INDEXES.sessionBucketsOrgTime],
    },
    {
      name: "MKA1 sessions from presence (ragged edges, and mixed sessions of whole buckets)",
      ...asCase(() => sessions(page({}))),
      indexes: [INDEXES.eventsByOrgTypeTime, INDEXES.sessionBucketsOrgTime, INDEXES.sessionBucketsMixed],
    },
    {
      name: "MKA1 sessions in New York days (hour presence)",
      ...asCase(() => sessions(page({ width: "1d", timeZone: "America/New_York", from: at("2026-05-20T04:00:00Z"), to: at("2026-05-27T04:00:00Z") }))),
      indexes: [INDEXES.sessionBucketsOrgTime],
    },
    { name: "MKA1 from raw events", collection: COLLECTIONS.usageEvents, pipeline: () => buildSandboxUsagePipeline(page({})), indexes: [INDEXES.eventsByOrgTypeTime] },
    { name: "MKA1 from raw events, all orgs", collection: COLLECTIONS.usageEvents, pipeline: () => buildSandboxUsagePipeline(page({ scope: { orgIds: null, externalUserId: null } })), indexes: [INDEXES.eventsByTypeTime] },
    {
      name: "MKA1 on behalf of an external user (each session looked up)",
      collection: COLLECTIONS.usageEvents,
      pipeline: () => buildSandboxUsagePipeline(page({ scope: { orgIds: ["acme"], externalUserId: "cust-1" } })),
      indexes: [INDEXES.eventsByOrgTypeTime, INDEXES.sessionsBySessionOrg],
    },
    {
      name: "OpenComputer memory from rollups",
      ...asCase(() => buildMemoryUsagePipeline({ source: "rollups", orgId: "acme", sandboxIds: ["sb-1", "sb-2"], window, now: NOW, externalUserId: null })),
      indexes: [INDEXES.memoryByMinuteOrgSandboxTime, INDEXES.sessionsByOrgSandboxStart],
    },
    {
      name: "OpenComputer memory from raw samples",
      ...asCase(() => buildMemoryUsagePipeline({ source: "raw", orgId: "acme", sandboxIds: ["sb-1"], window, now: NOW, externalUserId: null })),
      indexes: [INDEXES.eventsByOrgSandboxTypeTime, INDEXES.sessionsByOrgSandboxStart],
    },
    {
      name: "MIOSA rollup",
      collection: COLLECTIONS.sessions,
      pipeline: () => buildUsageRollupPipeline({ orgIds: ["acme"], groupBy: "external_user_id", window, now: NOW, externalUserId: null }),
      indexes: [INDEXES.sessionsByOrgStart],
    },
    {
      name: "MIOSA rollup on behalf of an external user",
      collection: COLLECTIONS.sessions,
      pipeline: () => buildUsageRollupPipeline({ orgIds: ["acme"], groupBy: "external_user_id", window, now: NOW, externalUserId: "cust-1" }),
      indexes: [INDEXES.sessionsByOrgExternalUser],
    },
    {
      name: "Dreadnode summary",
      collection: COLLECTIONS.sessions,
      pipeline: () => buildRuntimeSummaryPipeline({ orgId: "acme", userIds: ["alice"], externalUserId: null, monthStart: at("2026-05-01T00:00:00Z"), now: NOW }),
      indexes: [INDEXES.sessionsByOrgUserStart],
    },
    {
      name: "OpenComputer aggregate (sandboxes joined by _id)",
      collection: COLLECTIONS.sessions,
      pipeline: () => buildUsageAggregatePipeline({ orgId: "acme", window, now: NOW, externalUserId: null, groupBy: { kind: "tag", key: "team" }, filters: [], sort: "memoryGbSeconds", limit: 50, after: null }),
      indexes: [INDEXES.sessionsByOrgStart, "_id_"],
    },
    {
      name: "Sandbox.usage",
      collection: COLLECTIONS.sessions,
      pipeline: () => buildSandboxQuantitiesPipeline({ orgId: "acme", sandboxIds: ["sb-1", "sb-2"], window, now: NOW, externalUserId: null }),
      indexes: [INDEXES.sessionsByOrgSandboxStart],
    },
    { name: "tag keys", collection: COLLECTIONS.sandboxes, pipeline: () => buildTagKeysPipeline("acme"), indexes: [INDEXES.sandboxesByOrg] },
    { name: "tag keys on behalf of an external user", collection: COLLECTIONS.sessions, pipeline: () => buildUserTagKeysPipeline("acme", "cust-1"), indexes: [INDEXES.sessionsByOrgExternalUser, "_id_"] },
    {
      name: "ingest: memory minutes of touched sandboxes",
      collection: COLLECTIONS.usageEvents,
      pipeline: () => [{ $match: { org_id: "acme", sandbox_id: "sb-1", type: "sandbox.memory", ts: { $gte: window.from, $lt: window.to } } }, { $group: { _id: null, n: { $sum: 1 } } }],
      indexes: [INDEXES.eventsByOrgSandboxTypeTime],
    },
    {
      name: "ingest: a start's first stop at or after it",
      collection: COLLECTIONS.usageEvents,
      pipeline: () => [{ $match: { org_id: "acme", session_id: "s1", operation: { $in: ["session_stop", "session_terminate"] }, ts: { $gte: window.from } } }, { $sort: { ts: 1 } }, { $limit: 1 }],
      indexes: [INDEXES.eventsByOrgSession],
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      expect(await explain(c.collection, c.pipeline())).toEqual({ indexes: [...c.indexes].sort(), scans: false });
    });
  }

  it("finds by the named index: API keys by secret hash, a user's sessions on behalf of them, sandboxes by _id", async () => {
    const find = async (collection: string, filter: Document) => {
      const plan = await t.mongo.db.collection(collection).find(filter).explain("queryPlanner");
      return { indexes: indexesUsed(plan), scans: scansCollection(plan) };
    };
    expect(await find(COLLECTIONS.apiKeys, { secret_hash: "x" })).toEqual({ indexes: [INDEXES.apiKeySecretUnique], scans: false });
    expect(await find(COLLECTIONS.sessions, { org_id: "acme", external_user_id: "cust-1" })).toEqual({ indexes: [INDEXES.sessionsByOrgExternalUser], scans: false });
    expect(await find(COLLECTIONS.sandboxes, { _id: { $in: ["acme/sb-1", "acme/sb-2"] } })).toEqual({ indexes: ["_id_"], scans: false });
  });

  it("creates them idempotently at start", async () => {
    const list = async () => Object.fromEntries(await Promise.all(Object.values(COLLECTIONS).map(async (c) => [c, (await t.mongo.db.collection(c).listIndexes().toArray()).map((i) => i.name).sort()])));
    const before = await list();
    await ensureIndexes(t.mongo.db);
    expect(await list()).toEqual(before);
    const named = Object.values(before).flat();
    for (const name of Object.values(INDEXES)) expect(named, name).toContain(name);
  });
});

function asCase(build: () => { collection: string; pipeline: Document[] }) {
  return { collection: build().collection, pipeline: () => build().pipeline };
}
