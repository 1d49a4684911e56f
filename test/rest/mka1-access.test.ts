/**
 * MKA1 sandbox usage: parameter validation in FastAPI's 422 shape, keys (401/403), org tenancy,
 * cluster-admin scope (all_orgs, org_ids), X-On-Behalf-Of, and the same errors on GraphQL.
 * Fixture and expected-number helpers: mka1-fixture.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { BOOTSTRAP_KEY, startTestApp, type TestApp } from "../helpers/app.js";
import { bucket, expectSpecShape, getUsage, ingestFixture, lastPage, NOW, row, SANDBOX_USAGE_QUERY, toSnake, unix } from "./mka1-fixture.js";

let t: TestApp;
let readKey: string;
let otherReadKey: string;
let globexKey: string;
let ingestOnlyKey: string;
let clusterAdminKey: string;

beforeAll(async () => {
  t = await startTestApp({ clock: fixedClock(NOW), label: "mka1access" });
  await ingestFixture(t);
  readKey = await t.key("acme", "alice", ["read"]);
  otherReadKey = await t.key("acme", "bob", ["read"]);
  globexKey = await t.key("globex", "carol", ["read"]);
  ingestOnlyKey = await t.key("acme", "alice", ["ingest"]);
  // A cluster admin whose own org ("ops") has no usage.
  clusterAdminKey = await t.key("ops", "root", ["read"], true);
});
afterAll(() => t?.close());

const DAYS = `start_time=${unix("2026-05-26T00:00:00Z")}&end_time=${unix("2026-05-28T00:00:00Z")}`;
const HOUR10 = `start_time=${unix("2026-05-27T10:00:00Z")}&end_time=${unix("2026-05-27T11:00:00Z")}&bucket_width=1h`;

async function ok(key: string, query: string, headers: Record<string, string> = {}) {
  const res = await getUsage(t, key, query, headers);
  expect(res.statusCode, res.body).toBe(200);
  const page = res.json();
  expectSpecShape(page);
  return page;
}

/** The `detail` list of a 422, after checking the status and the FastAPI shape. */
async function issues(query: string, key: string = readKey) {
  const res = await getUsage(t, key, query);
  expect(res.statusCode, res.body).toBe(422);
  const body = res.json();
  expect(Object.keys(body)).toEqual(["detail"]);
  expect(Array.isArray(body.detail)).toBe(true);
  for (const d of body.detail) {
    expect(Object.keys(d).sort()).toEqual(["loc", "msg", "type"]);
    expect(d.loc[0]).toBe("query");
    expect(typeof d.msg).toBe("string");
    expect(d.msg.length).toBeGreaterThan(0);
  }
  return body.detail as Array<{ loc: Array<string | number>; msg: string; type: string }>;
}

describe("validation: 422 {detail: [{loc, msg, type}]}", () => {
  it("missing start_time", async () => {
    expect(await issues("bucket_width=1h")).toStrictEqual([{ loc: ["query", "start_time"], msg: "Field required", type: "missing" }]);
  });

  it("a start_time that is not an integer", async () => {
    for (const bad of ["abc", "1.5", "17e8", "12abc", "", "99999999999999999999"]) {
      expect(await issues(`start_time=${bad}`), bad).toStrictEqual([
        { loc: ["query", "start_time"], msg: "Input should be a valid integer, unable to parse string as an integer", type: "int_parsing" },
      ]);
    }
  });

  it("an end_time not after start_time", async () => {
    const start = unix("2026-05-27T10:00:00Z");
    for (const end of [start, start - 1]) {
      expect(await issues(`start_time=${start}&end_time=${end}`)).toStrictEqual([{ loc: ["query", "end_time"], msg: expect.any(String), type: "value_error" }]);
    }
  });

  it("a time before 1970 or after 9999-12-31T23:59:59Z", async () => {
    expect(await issues("start_time=-1")).toStrictEqual([{ loc: ["query", "start_time"], msg: "Input should be greater than or equal to 0", type: "greater_than_equal" }]);
    // 253402300799 is 9999-12-31T23:59:59Z, the last second accepted.
    expect(await issues("start_time=0&end_time=253402300800")).toStrictEqual([{ loc: ["query", "end_time"], msg: expect.stringContaining("253402300799"), type: "less_than_equal" }]);
  });

  it("an unknown bucket_width", async () => {
    for (const bad of ["5m", "1D", "day", ""]) {
      expect(await issues(`${DAYS}&bucket_width=${bad}`), bad).toStrictEqual([{ loc: ["query", "bucket_width"], msg: "Input should be '1m', '1h' or '1d'", type: "enum" }]);
    }
  });

  it("an unknown group_by dimension, located by its index", async () => {
    const msg = "Input should be 'user_id', 'api_key_id', 'org_id', 'operation', 'provider' or 'session_kind'";
    expect(await issues(`${DAYS}&group_by=user_id,model`)).toStrictEqual([{ loc: ["query", "group_by", 1], msg, type: "enum" }]);
    expect(await issues(`${DAYS}&group_by=sandbox_id&group_by=provider&group_by=User_Id`)).toStrictEqual([
      { loc: ["query", "group_by", 0], msg, type: "enum" },
      { loc: ["query", "group_by", 2], msg, type: "enum" },
    ]);
  });

  it("a limit out of range or not an integer", async () => {
    expect(await issues(`${DAYS}&limit=0`)).toStrictEqual([{ loc: ["query", "limit"], msg: "Input should be greater than or equal to 1", type: "greater_than_equal" }]);
    expect(await issues(`${DAYS}&limit=-3`)).toStrictEqual([{ loc: ["query", "limit"], msg: "Input should be greater than or equal to 1", type: "greater_than_equal" }]);
    // 1d allows at most 31.
    expect(await issues(`${DAYS}&limit=32`)).toStrictEqual([{ loc: ["query", "limit"], msg: expect.stringContaining("31"), type: "less_than_equal" }]);
    expect(await issues(`${DAYS}&limit=ten`)).toStrictEqual([
      { loc: ["query", "limit"], msg: "Input should be a valid integer, unable to parse string as an integer", type: "int_parsing" },
    ]);
  });

  it("an all_orgs that is not a boolean", async () => {
    expect(await issues(`${DAYS}&all_orgs=maybe`)).toStrictEqual([{ loc: ["query", "all_orgs"], msg: expect.any(String), type: "bool_parsing" }]);
  });

  it("a forged page token", async () => {
    const q = `start_time=${unix("2026-05-27T10:00:00Z")}&end_time=${unix("2026-05-27T12:00:00Z")}&bucket_width=1m`;
    const real = (await ok(readKey, q)).next_page as string;
    const [body, sig] = real.split(".") as [string, string];
    // The payload edited to go back (the next bucket's start, b, moved an hour), keeping the old signature; a flipped signature; no signature; junk.
    const edited = Buffer.from(Buffer.from(body, "base64url").toString().replace(/"b":(\d+)/, (_, b) => `"b":${Number(b) - 3_600_000}`)).toString("base64url");
    expect(edited).not.toBe(body);
    const flipped = `${body}.${sig.startsWith("A") ? "B" : "A"}${sig.slice(1)}`;
    for (const forged of [`${edited}.${sig}`, flipped, body, "garbage", "a.b.c"]) {
      expect(await issues(`${q}&page=${encodeURIComponent(forged)}`), forged).toStrictEqual([{ loc: ["query", "page"], msg: "Invalid page token", type: "value_error" }]);
    }
    // The real token still works.
    expect((await ok(readKey, `${q}&page=${encodeURIComponent(real)}`)).data).toHaveLength(60);
  });

  it("a page token from a different query, or from another key", async () => {
    const q = `start_time=${unix("2026-05-27T10:00:00Z")}&end_time=${unix("2026-05-27T12:00:00Z")}&bucket_width=1m`;
    const token = encodeURIComponent((await ok(readKey, q)).next_page as string);
    const others = [
      `start_time=${unix("2026-05-27T10:01:00Z")}&end_time=${unix("2026-05-27T12:00:00Z")}&bucket_width=1m`,
      `${q}&group_by=user_id`,
      `${q}&limit=61`,
      `start_time=${unix("2026-05-27T10:00:00Z")}&end_time=${unix("2026-05-27T13:00:00Z")}&bucket_width=1m`,
    ];
    for (const other of others) {
      const [issue] = await issues(`${other}&page=${token}`);
      expect(issue, other).toStrictEqual({ loc: ["query", "page"], msg: expect.any(String), type: "value_error" });
      expect(issue!.msg).not.toBe("Invalid page token");
    }
    // Same query, another key of the same org.
    expect(await issues(`${q}&page=${token}`, otherReadKey)).toStrictEqual([{ loc: ["query", "page"], msg: expect.any(String), type: "value_error" }]);
    // The group_by order does not make another query: a token of user_id,provider continues provider,user_id.
    const grouped = `${q}&group_by=user_id,provider`;
    const groupedToken = encodeURIComponent((await ok(readKey, grouped)).next_page as string);
    expect((await ok(readKey, `${q}&group_by=provider&group_by=user_id&page=${groupedToken}`)).has_more).toBe(false);
  });

  it("several problems at once, all listed", async () => {
    const detail = await issues("start_time=abc&end_time=xyz&bucket_width=2h&group_by=user_id,model&limit=0&all_orgs=maybe");
    expect(detail.map((d) => [d.loc.slice(1).join("."), d.type]).sort()).toEqual(
      [
        ["all_orgs", "bool_parsing"],
        ["bucket_width", "enum"],
        ["end_time", "int_parsing"],
        ["group_by.1", "enum"],
        ["limit", "greater_than_equal"],
        ["start_time", "int_parsing"],
      ].sort(),
    );
    const detail2 = await issues(`start_time=200&end_time=100&bucket_width=1m&limit=1441&group_by=gpu`);
    expect(detail2.map((d) => [d.loc.slice(1).join("."), d.type]).sort()).toEqual(
      [
        ["end_time", "value_error"],
        ["group_by.0", "enum"],
        ["limit", "less_than_equal"],
      ].sort(),
    );
    // No start_time at all plus a bad width: both reported.
    expect((await issues("bucket_width=1w")).map((d) => d.loc[1]).sort()).toEqual(["bucket_width", "start_time"]);
  });
});

describe("keys", () => {
  it("401 without a key or with a wrong one, in FastAPI's {detail} shape", async () => {
    const none = await getUsage(t, null, DAYS);
    expect(none.statusCode).toBe(401);
    expect(none.json()).toStrictEqual({ detail: expect.any(String) });
    expect(none.headers["www-authenticate"]).toBe("Bearer");
    for (const wrong of ["usk_nope_nope", `${readKey}x`]) {
      const res = await getUsage(t, wrong, DAYS);
      expect(res.statusCode).toBe(401);
      expect(res.json()).toStrictEqual({ detail: expect.any(String) });
    }
    // X-API-Key is as good as a Bearer token (DESIGN §13), and gives the same answer.
    const apiKeyHeader = await t.app.inject({ method: "GET", url: `/api/v1/sandbox/usage?${DAYS}`, headers: { "x-api-key": readKey } });
    expect(apiKeyHeader.statusCode).toBe(200);
    expect(apiKeyHeader.json()).toEqual((await getUsage(t, readKey, DAYS)).json());
    const wrongApiKey = await t.app.inject({ method: "GET", url: `/api/v1/sandbox/usage?${DAYS}`, headers: { "x-api-key": `${readKey}x` } });
    expect([wrongApiKey.statusCode, wrongApiKey.headers["www-authenticate"]]).toEqual([401, "Bearer"]);
  });

  it("403 for a key without the read scope", async () => {
    const res = await getUsage(t, ingestOnlyKey, DAYS);
    expect(res.statusCode).toBe(403);
    expect(res.json()).toStrictEqual({ detail: expect.any(String) });
  });

  it("403 for all_orgs or org_ids without a cluster admin", async () => {
    for (const q of [`${DAYS}&all_orgs=true`, `${DAYS}&org_ids=globex`, `${DAYS}&org_ids=acme`, `${DAYS}&all_orgs=1&org_ids=acme,globex`]) {
      const res = await getUsage(t, readKey, q);
      expect(res.statusCode, q).toBe(403);
      expect(res.json()).toStrictEqual({ detail: expect.any(String) });
    }
    // all_orgs=false is just the default.
    expect((await ok(readKey, `${DAYS}&all_orgs=false`)).data[1].results[0].num_operations).toBe(10);
  });
});

describe("tenancy", () => {
  it("another org's key sees only its own org, never acme's numbers", async () => {
    const page = await ok(globexKey, `${DAYS}&group_by=org_id`);
    expect(page).toStrictEqual(
      lastPage([
        bucket("2026-05-26T00:00:00Z", "1d"),
        // globex: g1, g2 in its session s1; requests 1+7; 2048+4096 ms; in 70; out 700; files 7; peak 3000; reserved 4096.
        bucket("2026-05-27T00:00:00Z", "1d", [row([2, 1, 8, 6144, 70, 700, 7, 0, 3000, 4096], { org_id: "globex" })]),
      ]),
    );
    // Not even through acme's page token.
    const q = `start_time=${unix("2026-05-27T10:00:00Z")}&end_time=${unix("2026-05-27T12:00:00Z")}&bucket_width=1m`;
    const token = encodeURIComponent((await ok(readKey, q)).next_page as string);
    expect((await getUsage(t, globexKey, `${q}&page=${token}`)).statusCode).toBe(422);
  });

  it("a cluster admin without all_orgs or org_ids sees its own org", async () => {
    expect(await ok(clusterAdminKey, HOUR10)).toStrictEqual(lastPage([bucket("2026-05-27T10:00:00Z", "1h")]));
  });

  it("all_orgs with group_by=org_id separates the orgs", async () => {
    expect(await ok(clusterAdminKey, `${HOUR10}&all_orgs=true&group_by=org_id`)).toStrictEqual(
      lastPage([
        bucket("2026-05-27T10:00:00Z", "1h", [
          // acme 10h: a3..a7 (as in the 1h table).
          row([5, 2, 8, 124, 5100, 2300, 7, 1, 1800, 2048], { org_id: "acme" }),
          // globex: g1, g2.
          row([2, 1, 8, 6144, 70, 700, 7, 0, 3000, 4096], { org_id: "globex" }),
          // initech: i1 (no peak, reserved 8192).
          row([1, 1, 1, 8192, 0, 0, 0, 0, null, 8192], { org_id: "initech" }),
        ]),
      ]),
    );
  });

  it("all_orgs without grouping adds the orgs up, counting same-named sessions of different orgs apart", async () => {
    // 5+2+1 operations. Sessions: acme s1, acme s2, globex s1, initech is1 = 4 (globex's s1 is not acme's s1).
    // Requests 8+8+1; 124+6144+8192 = 14460 ms; in 5100+70; out 2300+700; files 7+7; OOM 1 (a7);
    // peak max(1800, 3000); reserved max(2048, 4096, 8192).
    const expected = lastPage([bucket("2026-05-27T10:00:00Z", "1h", [row([8, 4, 17, 14460, 5170, 3000, 14, 1, 3000, 8192])])]);
    expect(await ok(clusterAdminKey, `${HOUR10}&all_orgs=true`)).toStrictEqual(expected);
    // The bootstrap key is a cluster admin too.
    expect(await ok(BOOTSTRAP_KEY, `${HOUR10}&all_orgs=true`)).toStrictEqual(expected);
  });

  it("org_ids narrows a cluster admin to those orgs, comma-separated or repeated", async () => {
    const acmeGlobex = lastPage([
      bucket("2026-05-27T10:00:00Z", "1h", [
        row([5, 2, 8, 124, 5100, 2300, 7, 1, 1800, 2048], { org_id: "acme" }),
        row([2, 1, 8, 6144, 70, 700, 7, 0, 3000, 4096], { org_id: "globex" }),
      ]),
    ]);
    expect(await ok(clusterAdminKey, `${HOUR10}&org_ids=acme,globex&group_by=org_id`)).toStrictEqual(acmeGlobex);
    expect(await ok(clusterAdminKey, `${HOUR10}&org_ids=globex&org_ids=acme&group_by=org_id`)).toStrictEqual(acmeGlobex);
    // One org, ungrouped: globex's numbers with org_id null.
    expect(await ok(clusterAdminKey, `${HOUR10}&org_ids=globex`)).toStrictEqual(
      lastPage([bucket("2026-05-27T10:00:00Z", "1h", [row([2, 1, 8, 6144, 70, 700, 7, 0, 3000, 4096])])]),
    );
    // Both orgs ungrouped: acme's s1 and globex's s1 are two sessions, so 2+1 = 3.
    expect(await ok(clusterAdminKey, `${HOUR10}&org_ids=acme,globex`)).toStrictEqual(
      lastPage([bucket("2026-05-27T10:00:00Z", "1h", [row([7, 3, 16, 6268, 5170, 3000, 14, 1, 3000, 4096])])]),
    );
  });

  it("the bootstrap key, which has no org, must say all_orgs or org_ids", async () => {
    const res = await getUsage(t, BOOTSTRAP_KEY, HOUR10);
    expect(res.statusCode).toBe(422);
    expect(res.json().detail).toStrictEqual([{ loc: ["query", "all_orgs"], msg: expect.any(String), type: "value_error" }]);
  });
});

describe("X-On-Behalf-Of", () => {
  it("narrows to the sessions whose session_start carried that external user", async () => {
    // cust-1 owns s3 (a1, a2) and s1 (a3, a4, a7, a8). The 26th: a1. The 27th: a2, a3, a4, a7, a8 in 2 sessions;
    // requests 2+1+3+2+1 = 9; 2+4+8+64+128 = 206 ms; in 10+100; out 20+2000+300; files 2+1; OOM a7;
    // peak max(256, 512.5, 1023.75); reserved max(512, 1024).
    expect(await ok(readKey, `${DAYS}&group_by=user_id`, { "x-on-behalf-of": "cust-1" })).toStrictEqual(
      lastPage([
        bucket("2026-05-26T00:00:00Z", "1d", [row([1, 1, 1, 1, 0, 0, 0, 0, null, 512], { user_id: "alice" })]),
        bucket("2026-05-27T00:00:00Z", "1d", [row([5, 2, 9, 206, 110, 2320, 3, 1, 1023.75, 1024], { user_id: "alice" })]),
      ]),
    );
    // cust-2 owns s2 (a5, a6, a9): requests 1+1+5; 16+32+256 ms; in 5000; out 40; files 4; OOM a9; peak 2047.5; reserved 2048.
    expect(await ok(readKey, DAYS, { "x-on-behalf-of": "cust-2" })).toStrictEqual(
      lastPage([bucket("2026-05-26T00:00:00Z", "1d"), bucket("2026-05-27T00:00:00Z", "1d", [row([3, 1, 7, 304, 5000, 40, 4, 1, 2047.5, 2048])])]),
    );
  });

  it("finds nothing for an unknown external user, or for another org's", async () => {
    const empty = lastPage([bucket("2026-05-26T00:00:00Z", "1d"), bucket("2026-05-27T00:00:00Z", "1d")]);
    expect(await ok(readKey, DAYS, { "x-on-behalf-of": "cust-unknown" })).toStrictEqual(empty);
    // cust-g is globex's external user: an acme key acting for it sees none of globex's usage.
    expect(await ok(readKey, DAYS, { "x-on-behalf-of": "cust-g" })).toStrictEqual(empty);
  });

  it("across orgs, holds each of the user's sessions to its own org", async () => {
    // cust-1's sessions are acme's s1 and s3; globex also has a session called s1 (cust-g's). A
    // cluster admin asking across all orgs on behalf of cust-1 must see acme's numbers only: the
    // same page as acme's own key gets for cust-1.
    const acmeOnly = await ok(readKey, `${DAYS}&group_by=user_id`, { "x-on-behalf-of": "cust-1" });
    for (const scope of ["all_orgs=true", "org_ids=acme,globex"]) {
      const page = await ok(clusterAdminKey, `${DAYS}&group_by=user_id&${scope}`, { "x-on-behalf-of": "cust-1" });
      expect(page).toStrictEqual(acmeOnly);
    }
  });

  it("gives GraphQL the same narrowing", async () => {
    const rest = await ok(readKey, `${DAYS}&group_by=operation`, { "x-on-behalf-of": "cust-2" });
    const gql = await t.graphql(
      SANDBOX_USAGE_QUERY,
      { startTime: unix("2026-05-26T00:00:00Z"), endTime: unix("2026-05-28T00:00:00Z"), groupBy: ["operation"] },
      { authorization: `Bearer ${readKey}`, "x-on-behalf-of": "cust-2" },
    );
    expect(gql.body.errors).toBeUndefined();
    expect(toSnake(gql.body.data!.sandboxUsage)).toStrictEqual(rest);
    // s2's operations: command (a9), session_start (a5), workspace_upload (a6).
    expect(rest.data[1].results.map((r: { operation: string }) => r.operation)).toEqual(["command", "session_start", "workspace_upload"]);
  });
});

describe("GraphQL errors", () => {
  const auth = () => ({ authorization: `Bearer ${readKey}` });
  const vars = { startTime: unix("2026-05-26T00:00:00Z"), endTime: unix("2026-05-28T00:00:00Z") };

  async function errorOf(variables: Record<string, unknown>, headers: Record<string, string>) {
    const res = await t.graphql(SANDBOX_USAGE_QUERY, variables, headers);
    expect(res.body.errors, JSON.stringify(res.body)).toHaveLength(1);
    expect(res.body.data?.sandboxUsage ?? null).toBeNull();
    return res.body.errors![0]!;
  }

  it("BAD_USER_INPUT with the issues located by argument name", async () => {
    const cases: Array<[Record<string, unknown>, string[]]> = [
      [{ ...vars, bucketWidth: "5m" }, ["bucketWidth"]],
      [{ ...vars, endTime: vars.startTime }, ["endTime"]],
      [{ ...vars, limit: 0 }, ["limit"]],
      [{ ...vars, limit: 32 }, ["limit"]],
      [{ ...vars, page: "garbage" }, ["page"]],
      [{ ...vars, bucketWidth: "1w", limit: 0 }, ["bucketWidth", "limit"]],
      [{ startTime: unix(NOW) }, ["endTime"]],
    ];
    for (const [variables, locs] of cases) {
      const err = await errorOf(variables, auth());
      expect(err.extensions?.code, JSON.stringify(variables)).toBe("BAD_USER_INPUT");
      expect(err.extensions?.issues.map((i: { loc: string[] }) => i.loc.join(".")).sort()).toEqual(locs);
    }
  });

  it("BAD_USER_INPUT for a group_by dimension the enum does not have", async () => {
    const err = await errorOf({ ...vars, groupBy: ["model"] }, auth());
    expect(err.extensions?.code).toBe("BAD_USER_INPUT");
  });

  it("FORBIDDEN for allOrgs or orgIds without a cluster admin, and without the read scope", async () => {
    expect((await errorOf({ ...vars, allOrgs: true }, auth())).extensions?.code).toBe("FORBIDDEN");
    expect((await errorOf({ ...vars, orgIds: ["globex"] }, auth())).extensions?.code).toBe("FORBIDDEN");
    expect((await errorOf(vars, { authorization: `Bearer ${ingestOnlyKey}` })).extensions?.code).toBe("FORBIDDEN");
  });

  it("UNAUTHENTICATED without a key or with a wrong one", async () => {
    expect((await errorOf(vars, {})).extensions?.code).toBe("UNAUTHENTICATED");
    expect((await errorOf(vars, { authorization: "Bearer usk_nope_nope" })).extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("a cluster admin's allOrgs and orgIds answer as REST does", async () => {
    const headers = { authorization: `Bearer ${clusterAdminKey}` };
    const hour = { startTime: unix("2026-05-27T10:00:00Z"), endTime: unix("2026-05-27T11:00:00Z"), bucketWidth: "1h", groupBy: ["org_id"] };
    const all = await t.graphql(SANDBOX_USAGE_QUERY, { ...hour, allOrgs: true }, headers);
    expect(toSnake(all.body.data!.sandboxUsage)).toStrictEqual(await ok(clusterAdminKey, `${HOUR10}&all_orgs=true&group_by=org_id`));
    const some = await t.graphql(SANDBOX_USAGE_QUERY, { ...hour, orgIds: ["initech"] }, headers);
    expect(toSnake(some.body.data!.sandboxUsage)).toStrictEqual(
      lastPage([bucket("2026-05-27T10:00:00Z", "1h", [row([1, 1, 1, 8192, 0, 0, 0, 0, null, 8192], { org_id: "initech" })])]),
    );
  });
});
