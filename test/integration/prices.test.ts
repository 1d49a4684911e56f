/**
 * Per-org price tables: `GET`/`PUT /api/v1/orgs/{org}/prices`, `Query.prices`, `Mutation.setPrices`
 * (DESIGN §3–§4): defaults until set, replaced whole, admins of the org or cluster admins only.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, BOOTSTRAP_KEY, startTestApp, type TestApp } from "../helpers/app.js";

const DEFAULTS = { sandbox_vcpu_hour_cents: 5, computer_vcpu_hour_cents: 10, storage_gb_hour_cents: 0.014 };

let t: TestApp;
const k: Record<string, string> = {};
const get = (org: string, key: string | null) => t.app.inject({ method: "GET", url: `/api/v1/orgs/${org}/prices`, headers: key ? bearer(key) : {} });
const put = (org: string, key: string, body: unknown) =>
  t.app.inject({ method: "PUT", url: `/api/v1/orgs/${org}/prices`, headers: { ...bearer(key), "content-type": "application/json" }, payload: JSON.stringify(body) });

beforeAll(async () => {
  t = await startTestApp({ label: "prices" });
  k.admin = await t.key("acme", "root", ["admin"]);
  k.read = await t.key("acme", "reader", ["read", "ingest"]);
  k.otherAdmin = await t.key("globex", "root", ["admin"]);
  k.cluster = await t.key("ops", "sre", ["admin"], true);
});
afterAll(() => t?.close());

describe("/api/v1/orgs/{org}/prices", () => {
  it("reads the documented defaults for an org that never set a table", async () => {
    const res = await get("acme", k.admin!);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(DEFAULTS);
  });

  it("replaces the whole table and reads it back; fractional cents are kept", async () => {
    const table = { sandbox_vcpu_hour_cents: 78, computer_vcpu_hour_cents: 15.5, storage_gb_hour_cents: 0.0125 };
    const res = await put("acme", k.admin!, table);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual(table);
    expect((await get("acme", k.admin!)).json()).toEqual(table);
    // Stored in MongoDB under the org's id, never under another org.
    expect(await t.mongo.db.collection("prices").findOne({ _id: "acme" as never })).toMatchObject(table);
    expect((await get("globex", k.otherAdmin!)).json()).toEqual(DEFAULTS);
  });

  it("lets a cluster admin (and the bootstrap key) read and set any existing org's table", async () => {
    const table = { sandbox_vcpu_hour_cents: 1, computer_vcpu_hour_cents: 2, storage_gb_hour_cents: 3 };
    expect((await put("globex", k.cluster!, table)).statusCode).toBe(200);
    expect((await get("globex", BOOTSTRAP_KEY)).json()).toEqual(table);
  });

  it("answers 404 for an org no key or event names, 422 for a malformed org id", async () => {
    const missing = await get("no-such-org", k.cluster!);
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ detail: expect.stringContaining("no-such-org") });
    const bad = await get("$where", k.cluster!);
    expect(bad.statusCode).toBe(422);
    expect(bad.json().detail[0].loc).toEqual(["path", "org"]);
  });

  it("refuses keys without admin, admins of another org, and anonymous callers", async () => {
    expect((await get("acme", k.read!)).statusCode).toBe(403);
    expect((await put("acme", k.read!, DEFAULTS)).statusCode).toBe(403);
    // Another org's admin gets 403 whether or not the org exists, so existence does not leak.
    expect((await get("acme", k.otherAdmin!)).statusCode).toBe(403);
    expect((await get("no-such-org", k.otherAdmin!)).statusCode).toBe(403);
    expect((await put("acme", k.otherAdmin!, DEFAULTS)).statusCode).toBe(403);
    expect((await get("acme", null)).statusCode).toBe(401);
  });

  it.each([
    [{ sandbox_vcpu_hour_cents: 1, computer_vcpu_hour_cents: 1 }, ["body", "storage_gb_hour_cents"], "missing"],
    [{ ...DEFAULTS, sandbox_vcpu_hour_cents: -1 }, ["body", "sandbox_vcpu_hour_cents"], "greater_than_equal"],
    [{ ...DEFAULTS, computer_vcpu_hour_cents: "10" }, ["body", "computer_vcpu_hour_cents"], "number_type"],
    [{ ...DEFAULTS, discount: 5 }, ["body", "discount"], "extra_forbidden"],
    [{ ...DEFAULTS, storage_gb_hour_cents: { $gt: 0 } }, ["body", "storage_gb_hour_cents"], "number_type"],
  ])("rejects %j with 422 naming the field, and keeps the old table", async (body, loc, type) => {
    const before = (await get("acme", k.admin!)).json();
    const res = await put("acme", k.admin!, body);
    expect(res.statusCode).toBe(422);
    expect(res.json().detail).toContainEqual({ loc, msg: expect.any(String), type });
    expect((await get("acme", k.admin!)).json()).toEqual(before);
  });

  it("rejects a body that is not an object", async () => {
    expect((await put("acme", k.admin!, [1, 2, 3])).statusCode).toBe(422);
    expect((await put("acme", k.admin!, null)).statusCode).toBe(422);
  });
});

describe("Query.prices and Mutation.setPrices", () => {
  it("read and replace the same table as REST", async () => {
    const set = await t.graphql(
      `mutation { setPrices(org: "acme", prices: { sandboxVcpuHourCents: 7, computerVcpuHourCents: 8.25, storageGbHourCents: 0 }) { sandboxVcpuHourCents computerVcpuHourCents storageGbHourCents } }`,
      {},
      bearer(k.admin!),
    );
    expect(set.body.data!.setPrices).toEqual({ sandboxVcpuHourCents: 7, computerVcpuHourCents: 8.25, storageGbHourCents: 0 });
    expect((await get("acme", k.admin!)).json()).toEqual({ sandbox_vcpu_hour_cents: 7, computer_vcpu_hour_cents: 8.25, storage_gb_hour_cents: 0 });
    const read = await t.graphql(`{ prices(org: "acme") { sandboxVcpuHourCents } }`, {}, bearer(k.admin!));
    expect(read.body.data!.prices).toEqual({ sandboxVcpuHourCents: 7 });
  });

  it("maps refusals and bad input to GraphQL codes", async () => {
    const forbidden = await t.graphql(`{ prices(org: "acme") { sandboxVcpuHourCents } }`, {}, bearer(k.otherAdmin!));
    expect(forbidden.body.errors![0]!.extensions!.code).toBe("FORBIDDEN");
    const negative = await t.graphql(
      `mutation { setPrices(org: "acme", prices: { sandboxVcpuHourCents: -7, computerVcpuHourCents: 1, storageGbHourCents: 0 }) { sandboxVcpuHourCents } }`,
      {},
      bearer(k.admin!),
    );
    expect(negative.body.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", issues: [{ loc: ["prices", "sandboxVcpuHourCents"] }] });
    const missing = await t.graphql(`{ prices(org: "nope") { sandboxVcpuHourCents } }`, {}, bearer(k.cluster!));
    expect(missing.body.errors![0]!.extensions!.code).toBe("NOT_FOUND");
  });
});
