/**
 * OpenComputer's cross-sandbox aggregate, `GET /api/usage` (DESIGN §1) and `Query.usage`: memory and
 * disk-overage GiB-seconds per sandbox or per tag value, tag filters, sort, keyset cursors that pin
 * their window, X-On-Behalf-Of and tenancy. Every expected number is worked out by hand below.
 *
 * org agg (NOW = 2026-05-28T12:00:00Z; default window [2026-04-28T12:00Z, 2026-05-28T12:00Z)):
 *
 * | sandbox | session | run (UTC)                      | memory_mb | disk_mb | ext   | tags on session_start               |
 * | sb-a    | a       | 05-20 10:00 – 11:00            | 1024      | 30720   | ext-1 | team=payments, env=prod (alias alpha) |
 * | sb-a    | a2      | 05-23 00:00 – 00:30            | 1024      | 0       | ext-2 | —                                   |
 * | sb-b    | b       | 05-20 12:00 – 12:45            | 2048      | 0       |       | team=growth                         |
 * | sb-c    | c       | 05-21 00:00 – 04:00            | 512       | 0       | ext-1 | team=payments                       |
 * | sb-d    | d       | 05-28 11:50 – open             | 1024      | 21504   |       | —                                   |
 * | sb-e    | e       | 05-22 00:00 – 00:01            | 256       | 0       |       | env=dev, team:payments=yes          |
 * | sb-f    | f       | 05-22 01:00:00 – 01:00:01      | 1000      | 0       |       | team=growth                         |
 * | sb-g    | g       | 04-28 11:00 – 13:00            | 3072      | 0       |       | team=payments                       |
 * | sb-h    | h       | 04-01 00:00 – 01:00 (outside)  | 1024      | 0       |       | team=payments                       |
 * | sb-mem  | —       | a memory sample only           |           |         |       |                                     |
 *
 * Over the default window, in GiB-s (MiB / 1024 × seconds):
 *   sb-g  3 × 3,600 (only 12:00–13:00 of 04-28 is inside)      = 10,800
 *   sb-c  0.5 × 14,400                                          =  7,200
 *   sb-a  1 × 3,600 + 1 × 1,800                                 =  5,400; disk (30720 − 20480)/1024 = 10 × 3,600 = 36,000
 *   sb-b  2 × 2,700                                             =  5,400
 *   sb-d  1 × 600 (11:50 → now)                                 =    600; disk (21504 − 20480)/1024 = 1 × 600 = 600; running
 *   sb-e  0.25 × 60                                             =     15
 *   sb-f  1000/1024 × 1 = 0.9765625                             →   0.98
 *   total 10,800 + 7,200 + 5,400 + 5,400 + 600 + 15 + 0.98      = 29,415.98; disk 36,600
 * Order by -memoryGbSeconds, then sandboxId: g, c, a, b (a/b tie at 5,400 → "sb-a" first), d, e, f.
 *
 * org rival owns another "sb-a" with tags team=payments and secret=x and a huge session.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, BOOTSTRAP_KEY, startTestApp, type TestApp } from "../helpers/app.js";
import { ingest, memorySample, start, stop } from "../helpers/events.js";

const NOW = "2026-05-28T12:00:00Z";
/** A clock the tests move (between pages of a cursor walk); it is put back after each such test. */
const clock = { at: new Date(NOW), now() { return new Date(this.at); } };

let t: TestApp;
let reader: string;
let ingestOnly: string;
let rivalReader: string;
let retagReader: string;
let retagAdmin: string;
let liveReader: string;

type Params = Array<[string, string]> | Record<string, string>;
const xKey = (key: string) => ({ "x-api-key": key });

function usage(params: Params = [], headers: Record<string, string> | null = null) {
  const qs = new URLSearchParams(params as Record<string, string>).toString();
  return t.app.inject({ method: "GET", url: `/api/usage${qs ? `?${qs}` : ""}`, headers: headers ?? xKey(reader) });
}

async function ok(params: Params = [], headers: Record<string, string> | null = null) {
  const res = await usage(params, headers);
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

const SANDBOX = [["groupBy", "sandbox"]] as Array<[string, string]>;
const with_ = (...extra: Array<[string, string]>) => [...SANDBOX, ...extra];

// The sandbox rows of the default window, as REST writes them.
const ROW = {
  g: { sandboxId: "sb-g", status: "stopped", tags: { team: "payments" }, tagsLastUpdatedAt: "2026-04-28T11:00:00Z", memoryGbSeconds: 10800, diskOverageGbSeconds: 0 },
  c: { sandboxId: "sb-c", status: "stopped", tags: { team: "payments" }, tagsLastUpdatedAt: "2026-05-21T00:00:00Z", memoryGbSeconds: 7200, diskOverageGbSeconds: 0 },
  a: { sandboxId: "sb-a", alias: "alpha", status: "stopped", tags: { env: "prod", team: "payments" }, tagsLastUpdatedAt: "2026-05-20T10:00:00Z", memoryGbSeconds: 5400, diskOverageGbSeconds: 36000 },
  b: { sandboxId: "sb-b", status: "stopped", tags: { team: "growth" }, tagsLastUpdatedAt: "2026-05-20T12:00:00Z", memoryGbSeconds: 5400, diskOverageGbSeconds: 0 },
  d: { sandboxId: "sb-d", status: "running", tags: {}, tagsLastUpdatedAt: null, memoryGbSeconds: 600, diskOverageGbSeconds: 600 },
  e: { sandboxId: "sb-e", status: "stopped", tags: { env: "dev", "team:payments": "yes" }, tagsLastUpdatedAt: "2026-05-22T00:00:00Z", memoryGbSeconds: 15, diskOverageGbSeconds: 0 },
  f: { sandboxId: "sb-f", status: "stopped", tags: { team: "growth" }, tagsLastUpdatedAt: "2026-05-22T01:00:00Z", memoryGbSeconds: 0.98, diskOverageGbSeconds: 0 },
};
const TOTAL = { memoryGbSeconds: 29415.98, diskOverageGbSeconds: 36600 };
const ids = (body: { items: Array<{ sandboxId?: string; tagValue?: string }> }) => body.items.map((i) => i.sandboxId ?? i.tagValue);
const round2 = (x: number) => Math.round(x * 100) / 100;

const USAGE_QUERY = `query ($groupBy: String!, $from: String, $to: String, $filter: [TagFilterInput!], $sort: String, $limit: Int, $cursor: String) {
  usage(groupBy: $groupBy, from: $from, to: $to, filter: $filter, sort: $sort, limit: $limit, cursor: $cursor) {
    from to groupBy nextCursor
    total { memoryGbSeconds diskOverageGbSeconds }
    untagged { memoryGbSeconds diskOverageGbSeconds sandboxCount }
    items {
      __typename
      ... on SandboxUsageItem { sandboxId alias status tags { key value } tagsLastUpdatedAt memoryGbSeconds diskOverageGbSeconds }
      ... on TagUsageItem { tagKey tagValue memoryGbSeconds diskOverageGbSeconds sandboxCount }
    }
  }
}`;

/** REST leaves an unset alias out (the SDK declares `alias?: string`); GraphQL answers null. */
const withoutNullAlias = ({ alias, ...rest }: any) => (alias === null ? rest : { alias, ...rest });

/** Query.usage's answer in the REST JSON's shape (tags as an object, REST timestamps, no untagged when null). */
function asRest(u: any) {
  const time = (s: string | null) => s && s.replace(/\.000Z$/, "Z");
  return {
    from: time(u.from),
    to: time(u.to),
    groupBy: u.groupBy,
    total: u.total,
    items: u.items.map(({ __typename, ...item }: any) =>
      __typename === "SandboxUsageItem"
        ? { ...withoutNullAlias(item), tags: Object.fromEntries(item.tags.map((x: { key: string; value: string }) => [x.key, x.value])), tagsLastUpdatedAt: time(item.tagsLastUpdatedAt) }
        : item,
    ),
    ...(u.untagged !== null && { untagged: u.untagged }),
    nextCursor: u.nextCursor,
  };
}

async function gqlCode(vars: Record<string, unknown>, headers: Record<string, string> = xKey(reader)) {
  const res = await t.graphql(USAGE_QUERY, vars, headers);
  expect(res.body.errors, JSON.stringify(res.body)).toBeDefined();
  return res.body.errors![0]!.extensions!.code;
}

beforeAll(async () => {
  t = await startTestApp({ clock, label: "ocaggregate" });
  reader = await t.key("agg", "reader", ["read"]);
  ingestOnly = await t.key("agg", "ingester", ["ingest"]);
  rivalReader = await t.key("rival", "reader", ["read"]);
  await ingest(t, ingestOnly, [
    start("a", "2026-05-20T10:00:00Z", { disk_mb: 30720, external_user_id: "ext-1", alias: "alpha", tags: { team: "payments", env: "prod" } }),
    stop("a", "2026-05-20T11:00:00Z"),
    start("a2", "2026-05-23T00:00:00Z", { sandbox_id: "sb-a", external_user_id: "ext-2" }),
    stop("a2", "2026-05-23T00:30:00Z", { sandbox_id: "sb-a" }),
    start("b", "2026-05-20T12:00:00Z", { memory_mb: 2048, tags: { team: "growth" } }),
    stop("b", "2026-05-20T12:45:00Z"),
    start("c", "2026-05-21T00:00:00Z", { memory_mb: 512, external_user_id: "ext-1", tags: { team: "payments" } }),
    stop("c", "2026-05-21T04:00:00Z"),
    start("d", "2026-05-28T11:50:00Z", { disk_mb: 21504 }),
    start("e", "2026-05-22T00:00:00Z", { memory_mb: 256, tags: { env: "dev", "team:payments": "yes" } }),
    stop("e", "2026-05-22T00:01:00Z"),
    start("f", "2026-05-22T01:00:00Z", { memory_mb: 1000, tags: { team: "growth" } }),
    stop("f", "2026-05-22T01:00:01Z"),
    start("g", "2026-04-28T11:00:00Z", { memory_mb: 3072, tags: { team: "payments" } }),
    stop("g", "2026-04-28T13:00:00Z"),
    start("h", "2026-04-01T00:00:00Z", { tags: { team: "payments" } }),
    stop("h", "2026-04-01T01:00:00Z"),
    memorySample("sb-mem", "2026-05-25T00:00:00Z", 100),
  ]);
  await ingest(t, await t.key("rival", "ingester", ["ingest"]), [
    start("a", "2026-05-01T00:00:00Z", { memory_mb: 65536, disk_mb: 1_000_000, tags: { team: "payments", secret: "x" } }),
    stop("a", "2026-05-10T00:00:00Z"),
  ]);

  // org retag: r1 1024 MiB × 1 h = 3,600 (team=x), r2 2048 MiB × 1 h = 7,200 (team=y).
  retagReader = await t.key("retag", "reader", ["read"]);
  retagAdmin = await t.key("retag", "admin", ["admin"]);
  await ingest(t, await t.key("retag", "ingester", ["ingest"]), [
    start("r1", "2026-05-27T00:00:00Z", { tags: { team: "x" } }),
    stop("r1", "2026-05-27T01:00:00Z"),
    start("r2", "2026-05-27T02:00:00Z", { memory_mb: 2048, tags: { team: "y" } }),
    stop("r2", "2026-05-27T03:00:00Z"),
  ]);

  // org live (for a cursor walk while time passes): l1 open since 11:00, 1024 MiB; l2 2048 MiB
  // 00:00–01:00 on 05-28 (7,200); l3 1024 MiB 02:00–02:30 (1,800).
  liveReader = await t.key("live", "reader", ["read"]);
  await ingest(t, await t.key("live", "ingester", ["ingest"]), [
    start("l1", "2026-05-28T11:00:00Z"),
    start("l2", "2026-05-28T00:00:00Z", { memory_mb: 2048 }),
    stop("l2", "2026-05-28T01:00:00Z"),
    start("l3", "2026-05-28T02:00:00Z"),
    stop("l3", "2026-05-28T02:30:00Z"),
  ]);
});
afterAll(() => t?.close());

describe("GET /api/usage?groupBy=sandbox", () => {
  it("lists every sandbox with runtime in the default 30-day window, largest first", async () => {
    const body = await ok(SANDBOX);
    expect(body).toStrictEqual({
      from: "2026-04-28T12:00:00Z",
      to: "2026-05-28T12:00:00Z",
      groupBy: "sandbox",
      total: TOTAL,
      // sb-h ran before the window and sb-mem never ran: neither appears. Rival's sb-a is not ours.
      items: [ROW.g, ROW.c, ROW.a, ROW.b, ROW.d, ROW.e, ROW.f],
      nextCursor: null,
    });
    expect("untagged" in body).toBe(false);
  });

  it("clamps sessions to an explicit window", async () => {
    // [05-20T10:30, 05-21T01:00): a 30 min × 1 = 1,800 (disk 10 × 1,800 = 18,000), b all 45 min = 5,400,
    // c 1 h × 0.5 = 1,800. Order: b, then the a/c tie by id. Total 9,000 / 18,000.
    const body = await ok(with_(["from", "2026-05-20T10:30:00Z"], ["to", "2026-05-21T01:00:00Z"]));
    expect(body.from).toBe("2026-05-20T10:30:00Z");
    expect(body.to).toBe("2026-05-21T01:00:00Z");
    expect(body.items.map((i: any) => [i.sandboxId, i.memoryGbSeconds, i.diskOverageGbSeconds])).toEqual([
      ["sb-b", 5400, 0],
      ["sb-a", 1800, 18000],
      ["sb-c", 1800, 0],
    ]);
    expect(body.total).toStrictEqual({ memoryGbSeconds: 9000, diskOverageGbSeconds: 18000 });
    // ISO dates, and an RFC 3339 offset: [05-22, 05-22T03:00+02:00 = 01:00Z) holds e only (f starts at 01:00).
    const dates = await ok(with_(["from", "2026-05-22"], ["to", "2026-05-22T03:00:00+02:00"]));
    expect(dates.to).toBe("2026-05-22T01:00:00Z");
    expect(dates.items).toStrictEqual([ROW.e]);
  });

  it("is running while a session overlapping the window is still open", async () => {
    // [05-28T11:55, 11:58): d (open since 11:50) for 3 min → 1 × 180 = 180; disk 1 × 180 = 180.
    const body = await ok(with_(["from", "2026-05-28T11:55:00Z"], ["to", "2026-05-28T11:58:00Z"]));
    expect(body.items).toStrictEqual([{ ...ROW.d, memoryGbSeconds: 180, diskOverageGbSeconds: 180 }]);
  });

  it("accepts exactly 90 days", async () => {
    // [02-27T12:00, 05-28T12:00) is 90 days (Feb 2026 has 28). It adds sb-h (1 × 3,600) and all of
    // sb-g's two hours (3 × 7,200 = 21,600 instead of 10,800): 29,415.98 + 3,600 + 10,800 = 43,815.98.
    const body = await ok(with_(["from", "2026-02-27T12:00:00Z"], ["to", "2026-05-28T12:00:00Z"]));
    expect(body.items.map((i: any) => [i.sandboxId, i.memoryGbSeconds])).toEqual([
      ["sb-g", 21600], ["sb-c", 7200], ["sb-a", 5400], ["sb-b", 5400], ["sb-h", 3600], ["sb-d", 600], ["sb-e", 15], ["sb-f", 0.98],
    ]);
    expect(body.total).toStrictEqual({ memoryGbSeconds: 43815.98, diskOverageGbSeconds: 36600 });
  });

  it("sorts by -diskOverageGbSeconds, ties by sandboxId", async () => {
    // a 36,000, d 600, then every 0 by id.
    const body = await ok(with_(["sort", "-diskOverageGbSeconds"]));
    expect(ids(body)).toEqual(["sb-a", "sb-d", "sb-b", "sb-c", "sb-e", "sb-f", "sb-g"]);
    expect(body.total).toStrictEqual(TOTAL);
    expect((await ok(with_(["sort", "-memoryGbSeconds"]))).items).toStrictEqual([ROW.g, ROW.c, ROW.a, ROW.b, ROW.d, ROW.e, ROW.f]);
  });

  it("answers an empty page for a window without runtime", async () => {
    const body = await ok(with_(["from", "2026-03-01"], ["to", "2026-03-02"]));
    expect(body).toStrictEqual({ from: "2026-03-01T00:00:00Z", to: "2026-03-02T00:00:00Z", groupBy: "sandbox", total: { memoryGbSeconds: 0, diskOverageGbSeconds: 0 }, items: [], nextCursor: null });
  });
});

describe("GET /api/usage: filter[tag:<key>]", () => {
  it("keeps sandboxes whose value is one of the values (ORed)", async () => {
    // payments: g, c, a → 10,800 + 7,200 + 5,400 = 23,400; disk a's 36,000.
    const one = await ok(with_(["filter[tag:team]", "payments"]));
    expect(one.items).toStrictEqual([ROW.g, ROW.c, ROW.a]);
    expect(one.total).toStrictEqual({ memoryGbSeconds: 23400, diskOverageGbSeconds: 36000 });
    // payments or growth: + b 5,400 + f 0.98 = 28,800.98.
    const two = await ok(with_(["filter[tag:team]", "payments,growth"]));
    expect(ids(two)).toEqual(["sb-g", "sb-c", "sb-a", "sb-b", "sb-f"]);
    expect(two.total).toStrictEqual({ memoryGbSeconds: 28800.98, diskOverageGbSeconds: 36000 });
  });

  it("ANDs different keys", async () => {
    // team=payments and env=prod: a only.
    const body = await ok(with_(["filter[tag:team]", "payments"], ["filter[tag:env]", "prod"]));
    expect(body.items).toStrictEqual([ROW.a]);
    expect(body.total).toStrictEqual({ memoryGbSeconds: 5400, diskOverageGbSeconds: 36000 });
  });

  it("an empty value matches sandboxes without the key", async () => {
    // No team: d 600 + e 15 = 615; disk d's 600.
    const body = await ok(with_(["filter[tag:team]", ""]));
    expect(body.items).toStrictEqual([ROW.d, ROW.e]);
    expect(body.total).toStrictEqual({ memoryGbSeconds: 615, diskOverageGbSeconds: 600 });
  });

  it("a value nobody has matches nothing", async () => {
    const body = await ok(with_(["filter[tag:team]", "nobody"]));
    expect(body.items).toEqual([]);
    expect(body.total).toStrictEqual({ memoryGbSeconds: 0, diskOverageGbSeconds: 0 });
  });

  it("filters before grouping by tag", async () => {
    // env in {dev, prod}: a (payments, 5,400 / 36,000) and e (no team → untagged, 15).
    const body = await ok([["groupBy", "tag:team"], ["filter[tag:env]", "dev,prod"]]);
    expect(body.items).toStrictEqual([{ tagKey: "team", tagValue: "payments", memoryGbSeconds: 5400, diskOverageGbSeconds: 36000, sandboxCount: 1 }]);
    expect(body.untagged).toStrictEqual({ memoryGbSeconds: 15, diskOverageGbSeconds: 0, sandboxCount: 1 });
    expect(body.total).toStrictEqual({ memoryGbSeconds: 5415, diskOverageGbSeconds: 36000 });
  });
});

describe("GET /api/usage?groupBy=tag:<key>", () => {
  it("sums the member sandboxes per value, with untagged and a total over everything", async () => {
    // payments: g + c + a = 23,400 / 36,000.  growth: b 5,400 + f 0.98 = 5,400.98.
    // untagged (no team): d 600 + e 15 = 615 / 600.  total 23,400 + 5,400.98 + 615 = 29,415.98.
    const body = await ok([["groupBy", "tag:team"]]);
    expect(body).toStrictEqual({
      from: "2026-04-28T12:00:00Z",
      to: "2026-05-28T12:00:00Z",
      groupBy: "tag:team",
      total: TOTAL,
      items: [
        { tagKey: "team", tagValue: "payments", memoryGbSeconds: 23400, diskOverageGbSeconds: 36000, sandboxCount: 3 },
        { tagKey: "team", tagValue: "growth", memoryGbSeconds: 5400.98, diskOverageGbSeconds: 0, sandboxCount: 2 },
      ],
      untagged: { memoryGbSeconds: 615, diskOverageGbSeconds: 600, sandboxCount: 2 },
      nextCursor: null,
    });
  });

  it("takes everything after the first ':' as the key (tag:team:payments)", async () => {
    // Only e has the key "team:payments" (value yes, 15). Untagged: 29,415.98 − 15 = 29,400.98.
    const body = await ok([["groupBy", "tag:team:payments"]]);
    expect(body.groupBy).toBe("tag:team:payments");
    expect(body.items).toStrictEqual([{ tagKey: "team:payments", tagValue: "yes", memoryGbSeconds: 15, diskOverageGbSeconds: 0, sandboxCount: 1 }]);
    expect(body.untagged).toStrictEqual({ memoryGbSeconds: 29400.98, diskOverageGbSeconds: 36600, sandboxCount: 6 });
    expect(body.total).toStrictEqual(TOTAL);
  });

  it("sorts tag rows by the sort value, ties by value", async () => {
    // env: prod (a) 5,400 / 36,000; dev (e) 15 / 0; untagged g + c + b + d + f = 10,800 + 7,200 + 5,400 + 600 + 0.98 = 24,000.98 / 600.
    const byMemory = await ok([["groupBy", "tag:env"]]);
    expect(byMemory.items.map((i: any) => [i.tagValue, i.memoryGbSeconds, i.diskOverageGbSeconds])).toEqual([
      ["prod", 5400, 36000],
      ["dev", 15, 0],
    ]);
    expect(byMemory.untagged).toStrictEqual({ memoryGbSeconds: 24000.98, diskOverageGbSeconds: 600, sandboxCount: 5 });
    // By disk: payments 36,000, then growth 0 (its memory does not matter).
    const byDisk = await ok([["groupBy", "tag:team"], ["sort", "-diskOverageGbSeconds"]]);
    expect(ids(byDisk)).toEqual(["payments", "growth"]);
  });

  it("a retag re-attributes all past usage of the sandbox", async () => {
    const team = async () => ok([["groupBy", "tag:team"], ["from", "2026-05-27"], ["to", "2026-05-28"]], xKey(retagReader));
    // Before: y = r2 7,200, x = r1 3,600.
    let body = await team();
    expect(body.items.map((i: any) => [i.tagValue, i.memoryGbSeconds])).toEqual([["y", 7200], ["x", 3600]]);
    // r1 → team=y: y = 7,200 + 3,600 = 10,800; x disappears.
    const put = (id: string, tags: Record<string, string>) =>
      t.app.inject({ method: "PUT", url: `/api/sandboxes/${id}/tags`, headers: { ...xKey(retagAdmin), "content-type": "application/json" }, payload: JSON.stringify(tags) });
    expect((await put("sb-r1", { team: "y" })).statusCode).toBe(200);
    body = await team();
    expect(body.items.map((i: any) => [i.tagValue, i.memoryGbSeconds])).toEqual([["y", 10800]]);
    expect(body.untagged).toStrictEqual({ memoryGbSeconds: 0, diskOverageGbSeconds: 0, sandboxCount: 0 });
    // r2 cleared: y = 3,600; untagged = 7,200.
    expect((await put("sb-r2", {})).statusCode).toBe(200);
    body = await team();
    expect(body.items.map((i: any) => [i.tagValue, i.memoryGbSeconds])).toEqual([["y", 3600]]);
    expect(body.untagged).toStrictEqual({ memoryGbSeconds: 7200, diskOverageGbSeconds: 0, sandboxCount: 1 });
    expect(body.total).toStrictEqual({ memoryGbSeconds: 10800, diskOverageGbSeconds: 0 });
    // By sandbox, r2 now shows no tags and no tagsLastUpdatedAt.
    const bySandbox = await ok([["groupBy", "sandbox"], ["from", "2026-05-27"], ["to", "2026-05-28"]], xKey(retagReader));
    expect(bySandbox.items).toStrictEqual([
      { sandboxId: "sb-r2", status: "stopped", tags: {}, tagsLastUpdatedAt: null, memoryGbSeconds: 7200, diskOverageGbSeconds: 0 },
      { sandboxId: "sb-r1", status: "stopped", tags: { team: "y" }, tagsLastUpdatedAt: NOW, memoryGbSeconds: 3600, diskOverageGbSeconds: 0 },
    ]);
  });
});

describe("GET /api/usage: cursor paging", () => {
  /** Follows nextCursor from `first`, with `params` repeated on every page; returns the pages. */
  async function walk(params: Array<[string, string]>, headers: Record<string, string> | null = null, between: () => void = () => {}) {
    const pages = [await ok(params, headers)];
    while (pages[pages.length - 1].nextCursor !== null) {
      expect(pages.length).toBeLessThan(20);
      between();
      pages.push(await ok([...params, ["cursor", pages[pages.length - 1].nextCursor]], headers));
    }
    return pages;
  }

  it("7 sandboxes, limit 3: 3 pages, every row once, the same total on each", async () => {
    const pages = await walk(with_(["limit", "3"]));
    expect(pages.map(ids)).toEqual([
      ["sb-g", "sb-c", "sb-a"],
      // The a/b tie at 5,400 straddles the page boundary: b comes next, exactly once.
      ["sb-b", "sb-d", "sb-e"],
      ["sb-f"],
    ]);
    for (const p of pages) {
      expect(p.total).toStrictEqual(TOTAL);
      expect(p.from).toBe("2026-04-28T12:00:00Z");
      expect(p.to).toBe("2026-05-28T12:00:00Z");
    }
    expect(pages[0].nextCursor).toEqual(expect.any(String));
    expect(pages[2].nextCursor).toBeNull();
    // The rows of all pages add up to the total.
    const all = pages.flatMap((p) => p.items);
    expect(all).toStrictEqual([ROW.g, ROW.c, ROW.a, ROW.b, ROW.d, ROW.e, ROW.f]);
    expect(round2(all.reduce((s: number, i: any) => s + i.memoryGbSeconds, 0))).toBe(TOTAL.memoryGbSeconds);
  });

  it("lets the page size change between pages", async () => {
    const first = await ok(with_(["limit", "3"]));
    const rest = await ok(with_(["limit", "4"], ["cursor", first.nextCursor]));
    expect(ids(rest)).toEqual(["sb-b", "sb-d", "sb-e", "sb-f"]);
    expect(rest.nextCursor).toBeNull();
  });

  it("pages tag rows too, untagged and total on every page", async () => {
    const pages = await walk([["groupBy", "tag:team"], ["limit", "1"]]);
    expect(pages.map(ids)).toEqual([["payments"], ["growth"]]);
    for (const p of pages) {
      expect(p.total).toStrictEqual(TOTAL);
      expect(p.untagged).toStrictEqual({ memoryGbSeconds: 615, diskOverageGbSeconds: 600, sandboxCount: 2 });
    }
    // payments 23,400 + growth 5,400.98 + untagged 615 = the total.
    expect(round2(pages.flatMap((p) => p.items).reduce((s: number, i: any) => s + i.memoryGbSeconds, 0) + 615)).toBe(TOTAL.memoryGbSeconds);
  });

  it("keeps the first page's default window while the clock moves on", async () => {
    try {
      const pages = await walk(with_(["limit", "3"]), null, () => {
        clock.at = new Date(clock.at.getTime() + 5 * 60_000);
      });
      expect(pages).toHaveLength(3);
      // Every page: the window of the first (to = 12:00), d still 600, the same total.
      for (const p of pages) {
        expect([p.from, p.to]).toEqual(["2026-04-28T12:00:00Z", "2026-05-28T12:00:00Z"]);
        expect(p.total).toStrictEqual(TOTAL);
      }
      expect(pages.flatMap((p) => p.items)).toStrictEqual([ROW.g, ROW.c, ROW.a, ROW.b, ROW.d, ROW.e, ROW.f]);
      // Without a cursor, now (12:10) moves the window: g loses 10 min (3 × 3,000 = 9,000) and d
      // runs 20 min (1,200 / 1,200). Total 29,415.98 − 1,800 + 600 = 28,215.98; disk 37,200.
      const fresh = await ok(SANDBOX);
      expect(fresh.to).toBe("2026-05-28T12:10:00Z");
      expect(fresh.total).toStrictEqual({ memoryGbSeconds: 28215.98, diskOverageGbSeconds: 37200 });
    } finally {
      clock.at = new Date(NOW);
    }
  });

  it("visits each row once with the same total when an explicit window reaches past now and time passes", async () => {
    // org live, window [05-28, 05-29), limit 1. At 12:00: l2 7,200, l1 3,600 (11:00 → now), l3 1,800;
    // total 12,600. Two hours pass before page 2: the pages must still partition those same rows.
    const params: Array<[string, string]> = [["groupBy", "sandbox"], ["from", "2026-05-28"], ["to", "2026-05-29"], ["limit", "1"]];
    try {
      const pages = await walk(params, xKey(liveReader), () => {
        clock.at = new Date(clock.at.getTime() + 60 * 60_000);
      });
      expect(pages[0].total).toStrictEqual({ memoryGbSeconds: 12600, diskOverageGbSeconds: 0 });
      const seen = pages.flatMap(ids);
      expect([...seen].sort()).toEqual(["sb-l1", "sb-l2", "sb-l3"]);
      for (const p of pages) expect(p.total).toStrictEqual(pages[0].total);
    } finally {
      clock.at = new Date(NOW);
    }
  });
});

describe("GET /api/usage: X-On-Behalf-Of and tenancy", () => {
  it("counts only that external user's sessions", async () => {
    // ext-1 ran a (3,600, disk 36,000) and c (7,200) — not a2 (ext-2's 1,800).
    const body = await ok(SANDBOX, { ...xKey(reader), "x-on-behalf-of": "ext-1" });
    expect(body.items.map((i: any) => [i.sandboxId, i.memoryGbSeconds, i.diskOverageGbSeconds])).toEqual([
      ["sb-c", 7200, 0],
      ["sb-a", 3600, 36000],
    ]);
    expect(body.total).toStrictEqual({ memoryGbSeconds: 10800, diskOverageGbSeconds: 36000 });
    const ext2 = await ok([["groupBy", "tag:team"]], { ...xKey(reader), "x-on-behalf-of": "ext-2" });
    expect(ext2.items).toStrictEqual([{ tagKey: "team", tagValue: "payments", memoryGbSeconds: 1800, diskOverageGbSeconds: 0, sandboxCount: 1 }]);
    const nobody = await ok(SANDBOX, { ...xKey(reader), "x-on-behalf-of": "ext-none" });
    expect(nobody.items).toEqual([]);
    expect(nobody.total).toStrictEqual({ memoryGbSeconds: 0, diskOverageGbSeconds: 0 });
  });

  it("never shows another org's sandboxes, and the other org sees only its own", async () => {
    // Rival's sb-a: 64 GiB × 9 days — if it leaked, our totals above would be far larger.
    const ours = await ok([["groupBy", "tag:secret"]]);
    expect(ours.items).toEqual([]);
    expect(ours.untagged).toStrictEqual({ ...TOTAL, sandboxCount: 7 });
    // Rival: 65536/1024 = 64 × 777,600 s = 49,766,400; disk (1,000,000 − 20,480)/1024 = 956.5625 × 777,600 = 743,823,000.
    const theirs = await ok(SANDBOX, xKey(rivalReader));
    expect(theirs.items.map((i: any) => [i.sandboxId, i.memoryGbSeconds, i.diskOverageGbSeconds])).toEqual([["sb-a", 49766400, 743823000]]);
  });
});

describe("GET /api/usage: errors {error: …}", () => {
  async function expect400(params: Params) {
    const res = await usage(params);
    expect(res.statusCode, `${JSON.stringify(params)} → ${res.body}`).toBe(400);
    expect(res.json()).toStrictEqual({ error: expect.any(String) });
  }

  it.each<[string, Array<[string, string]>]>([
    ["groupBy missing", []],
    ["groupBy empty", [["groupBy", ""]]],
    ["groupBy unknown", [["groupBy", "user"]]],
    ["groupBy in the wrong case", [["groupBy", "Sandbox"]]],
    ["groupBy tag: without a key", [["groupBy", "tag:"]]],
    ["groupBy tag: with a bad key", [["groupBy", "tag:team name"]]],
    ["groupBy twice", [["groupBy", "sandbox"], ["groupBy", "tag:team"]]],
    ["an unparseable from", with_(["from", "last-month"])],
    ["an unparseable to", with_(["to", "2026-13-01"])],
    ["to equal to from", with_(["from", "2026-05-01"], ["to", "2026-05-01T00:00:00Z"])],
    ["to before from", with_(["from", "2026-05-02"], ["to", "2026-05-01"])],
    ["a window one second over 90 days", with_(["from", "2026-02-27T11:59:59Z"], ["to", "2026-05-28T12:00:00Z"])],
    ["a from with to defaulted over 90 days", with_(["from", "2026-01-01"])],
    ["from twice", with_(["from", "2026-05-01"], ["from", "2026-05-02"])],
    ["sort without the minus", with_(["sort", "memoryGbSeconds"])],
    ["sort ascending", with_(["sort", "+memoryGbSeconds"])],
    ["sort by an unknown field", with_(["sort", "-cost"])],
    ["sort empty", with_(["sort", ""])],
    ["sort twice", with_(["sort", "-memoryGbSeconds"], ["sort", "-diskOverageGbSeconds"])],
    ["limit 0", with_(["limit", "0"])],
    ["limit 501", with_(["limit", "501"])],
    ["limit negative", with_(["limit", "-1"])],
    ["limit fractional", with_(["limit", "1.5"])],
    ["limit not a number", with_(["limit", "ten"])],
    ["limit empty", with_(["limit", ""])],
    ["limit twice", with_(["limit", "1"], ["limit", "2"])],
    ["the same filter key twice", with_(["filter[tag:team]", "payments"], ["filter[tag:team]", "growth"])],
    ["a filter not on a tag", with_(["filter[team]", "payments"])],
    ["a filter on a status", with_(["filter[status]", "running"])],
    ["a filter with an empty tag key", with_(["filter[tag:]", "x"])],
    ["a filter with a bad tag key", with_(["filter[tag:team name]", "x"])],
    ["an unclosed filter", with_(["filter[tag:team", "x"])],
    ["a cursor that is not one", with_(["cursor", "not-a-cursor"])],
  ])("400 for %s", async (_name, params) => {
    await expect400(params);
  });

  it("limit 1 and 500 are accepted", async () => {
    expect(ids(await ok(with_(["limit", "1"])))).toEqual(["sb-g"]);
    expect(ids(await ok(with_(["limit", "500"])))).toHaveLength(7);
  });

  it("400 for a tampered cursor, one issued for another query, another org, or given twice", async () => {
    const first = await ok(with_(["limit", "3"]));
    const cursor: string = first.nextCursor;
    const [body, sig] = cursor.split(".") as [string, string];
    // The payload rewritten (to skip ahead) under the old signature.
    const payload = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
    payload.s.v = 0;
    await expect400(with_(["limit", "3"], ["cursor", `${Buffer.from(JSON.stringify(payload)).toString("base64url")}.${sig}`]));
    // The signature altered (its first character; the last one carries padding bits).
    await expect400(with_(["limit", "3"], ["cursor", `${body}.${sig[0] === "A" ? "B" : "A"}${sig.slice(1)}`]));
    await expect400(with_(["limit", "3"], ["cursor", body]));
    // Another query: another sort, another filter, another window, another grouping.
    await expect400(with_(["limit", "3"], ["sort", "-diskOverageGbSeconds"], ["cursor", cursor]));
    await expect400(with_(["limit", "3"], ["filter[tag:team]", "payments"], ["cursor", cursor]));
    await expect400(with_(["limit", "3"], ["from", "2026-05-01"], ["cursor", cursor]));
    await expect400([["groupBy", "tag:team"], ["limit", "3"], ["cursor", cursor]]);
    // Another org asking the same question.
    const foreign = await usage(with_(["limit", "3"], ["cursor", cursor]), xKey(rivalReader));
    expect(foreign.statusCode).toBe(400);
    expect(foreign.json()).toStrictEqual({ error: expect.any(String) });
    // Twice.
    await expect400(with_(["limit", "3"], ["cursor", cursor], ["cursor", cursor]));
    // The genuine one still works.
    expect(ids(await ok(with_(["limit", "3"], ["cursor", cursor])))).toEqual(["sb-b", "sb-d", "sb-e"]);
  });

  it("401 without a key or with an unknown key; 403 without read or for the bootstrap key", async () => {
    for (const [headers, status] of [
      [{}, 401],
      [xKey("usk_bogus_key"), 401],
      [bearer("usk_bogus_key"), 401],
      [xKey(ingestOnly), 403],
      [xKey(BOOTSTRAP_KEY), 403],
    ] as const) {
      const res = await usage(SANDBOX, headers);
      expect(res.statusCode, JSON.stringify(headers)).toBe(status);
      expect(res.json()).toStrictEqual({ error: expect.any(String) });
    }
  });
});

describe("Query.usage", () => {
  it("returns the same numbers as REST, by sandbox and by tag", async () => {
    for (const [vars, params] of [
      [{ groupBy: "sandbox" }, SANDBOX],
      [{ groupBy: "sandbox", from: "2026-05-20T10:30:00Z", to: "2026-05-21T01:00:00Z" }, with_(["from", "2026-05-20T10:30:00Z"], ["to", "2026-05-21T01:00:00Z"])],
      [{ groupBy: "sandbox", sort: "-diskOverageGbSeconds" }, with_(["sort", "-diskOverageGbSeconds"])],
      [{ groupBy: "tag:team" }, [["groupBy", "tag:team"]]],
      [{ groupBy: "tag:env", filter: [{ key: "team", values: ["payments", ""] }] }, [["groupBy", "tag:env"], ["filter[tag:team]", "payments,"]]],
      [{ groupBy: "sandbox", filter: [{ key: "team", values: ["payments"] }, { key: "env", values: ["prod"] }] }, with_(["filter[tag:team]", "payments"], ["filter[tag:env]", "prod"])],
    ] as Array<[Record<string, unknown>, Array<[string, string]>]>) {
      const [gql, rest] = await Promise.all([t.graphql(USAGE_QUERY, vars, xKey(reader)), ok(params)]);
      expect(gql.body.errors, JSON.stringify(vars)).toBeUndefined();
      expect(asRest(gql.body.data!.usage), JSON.stringify(vars)).toStrictEqual(rest);
    }
  });

  it("types its items, and untagged is null when grouping by sandbox", async () => {
    const bySandbox = (await t.graphql(USAGE_QUERY, { groupBy: "sandbox", limit: 1 }, bearer(reader))).body.data!.usage;
    expect(bySandbox.untagged).toBeNull();
    expect(bySandbox.from).toBe("2026-04-28T12:00:00.000Z");
    expect(bySandbox.items).toStrictEqual([
      { __typename: "SandboxUsageItem", sandboxId: "sb-g", alias: null, status: "stopped", tags: [{ key: "team", value: "payments" }], tagsLastUpdatedAt: "2026-04-28T11:00:00.000Z", memoryGbSeconds: 10800, diskOverageGbSeconds: 0 },
    ]);
    const byTag = (await t.graphql(USAGE_QUERY, { groupBy: "tag:team", limit: 1 }, xKey(reader))).body.data!.usage;
    expect(byTag.items).toStrictEqual([{ __typename: "TagUsageItem", tagKey: "team", tagValue: "payments", memoryGbSeconds: 23400, diskOverageGbSeconds: 36000, sandboxCount: 3 }]);
    expect(byTag.untagged).toStrictEqual({ memoryGbSeconds: 615, diskOverageGbSeconds: 600, sandboxCount: 2 });
  });

  it("pages with nextCursor: every row once, the same total", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: any = await t.graphql(USAGE_QUERY, { groupBy: "sandbox", limit: 3, cursor }, xKey(reader));
      expect(res.body.errors).toBeUndefined();
      const u = res.body.data.usage;
      expect(u.total).toStrictEqual(TOTAL);
      seen.push(...u.items.map((i: { sandboxId: string }) => i.sandboxId));
      cursor = u.nextCursor;
      pages++;
    } while (cursor !== null && pages < 10);
    expect(pages).toBe(3);
    expect(seen).toEqual(["sb-g", "sb-c", "sb-a", "sb-b", "sb-d", "sb-e", "sb-f"]);
  });

  it("narrows with X-On-Behalf-Of like REST", async () => {
    const headers = { ...xKey(reader), "x-on-behalf-of": "ext-1" };
    const gql = await t.graphql(USAGE_QUERY, { groupBy: "sandbox" }, headers);
    expect(asRest(gql.body.data!.usage)).toStrictEqual(await ok(SANDBOX, headers));
    expect(gql.body.data!.usage.total).toStrictEqual({ memoryGbSeconds: 10800, diskOverageGbSeconds: 36000 });
  });

  it.each<[string, Record<string, unknown>]>([
    ["groupBy unknown", { groupBy: "user" }],
    ["groupBy empty", { groupBy: "" }],
    ["groupBy tag: without a key", { groupBy: "tag:" }],
    ["an unparseable from", { groupBy: "sandbox", from: "last-month" }],
    ["to before from", { groupBy: "sandbox", from: "2026-05-02", to: "2026-05-01" }],
    ["a window over 90 days", { groupBy: "sandbox", from: "2026-02-27T11:59:59Z", to: "2026-05-28T12:00:00Z" }],
    ["sort without the minus", { groupBy: "sandbox", sort: "memoryGbSeconds" }],
    ["sort by an unknown field", { groupBy: "sandbox", sort: "-cost" }],
    ["limit 0", { groupBy: "sandbox", limit: 0 }],
    ["limit 501", { groupBy: "sandbox", limit: 501 }],
    ["the same filter key twice", { groupBy: "sandbox", filter: [{ key: "team", values: ["a"] }, { key: "team", values: ["b"] }] }],
    ["a filter with a bad key", { groupBy: "sandbox", filter: [{ key: "team name", values: ["a"] }] }],
    ["a cursor that is not one", { groupBy: "sandbox", cursor: "not-a-cursor" }],
  ])("BAD_USER_INPUT for %s", async (_name, vars) => {
    expect(await gqlCode(vars)).toBe("BAD_USER_INPUT");
  });

  it("BAD_USER_INPUT for a cursor of another query", async () => {
    const cursor = (await t.graphql(USAGE_QUERY, { groupBy: "sandbox", limit: 3 }, xKey(reader))).body.data!.usage.nextCursor;
    expect(cursor).toEqual(expect.any(String));
    expect(await gqlCode({ groupBy: "sandbox", limit: 3, sort: "-diskOverageGbSeconds", cursor })).toBe("BAD_USER_INPUT");
    expect(await gqlCode({ groupBy: "sandbox", limit: 3, cursor }, xKey(rivalReader))).toBe("BAD_USER_INPUT");
  });

  it("a filter with an empty values list is an input problem or an answer, never an internal error", async () => {
    const res = await t.graphql(USAGE_QUERY, { groupBy: "sandbox", filter: [{ key: "team", values: [] }] }, xKey(reader));
    if (res.body.errors) expect(res.body.errors[0]!.extensions!.code).toBe("BAD_USER_INPUT");
    else expect(res.body.data!.usage.total).toEqual(expect.objectContaining({ memoryGbSeconds: expect.any(Number) }));
  });

  it("UNAUTHENTICATED without a key, FORBIDDEN without read or with the bootstrap key", async () => {
    expect(await gqlCode({ groupBy: "sandbox" }, {})).toBe("UNAUTHENTICATED");
    expect(await gqlCode({ groupBy: "sandbox" }, xKey(ingestOnly))).toBe("FORBIDDEN");
    expect(await gqlCode({ groupBy: "sandbox" }, bearer(BOOTSTRAP_KEY))).toBe("FORBIDDEN");
  });
});
