/**
 * Cost is exact to the cent at any size (issue 14, finding 12): the largest sessions and prices
 * ingest and the price table accept give cents past 2^53, and a half cent there, where a double
 * has no fractions at all (its step is 1,024 near 9 × 10^18). MIOSA's REST JSON and CSV, GraphQL's
 * Int64 `creditCents` and a budget's current value carry every digit, rounded half up once.
 *
 * Expected figures are worked out here with integers only: resources and prices have at most six
 * decimals, so scaled by 10^6 they are whole numbers. Bodies are read as text: JSON.parse would
 * round the digits under test.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Decimal128 } from "mongodb";
import { fixedClock } from "../../src/clock.js";
import { toDecimal } from "../../src/decimal.js";
import { buildUsageRollupPipeline } from "../../src/pipelines/runtime.js";
import { bearer, startTestApp, type TestApp } from "../helpers/app.js";
import { ingest, start, stop } from "../helpers/events.js";

const NOW = "2027-06-15T00:00:00Z";
const FROM = "2026-05-31T23:00:00Z";
const TO = "2027-06-01T00:00:00Z";
const HOURS = 8761n; // FROM to TO
const MS_PER_HOUR = 3_600_000n;
const M = 1_000_000n; // the scale of six decimals

const PRICES = { sandbox_vcpu_hour_cents: 999999.5, computer_vcpu_hour_cents: 0.333333, storage_gb_hour_cents: 1_000_000 };
const P = { sandbox: 999_999_500_000n, computer: 333_333n, storage: 1_000_000_000_000n }; // × 10^6

/** Half-up cents of Σ ms × resource(×10^6) × price(×10^6), with integers only. */
function cents(terms: Array<[ms: bigint, resource6: bigint, price6: bigint]>): bigint {
  const num = terms.reduce((s, [ms, r, p]) => s + ms * r * p, 0n);
  const den = MS_PER_HOUR * M * M;
  return (2n * num + den) / (2n * den);
}

// cust-big: 4,095 vCPUs with an exabyte of storage for 8,761 hours (odd × odd × ½: a half cent),
// and a session of 2 vCPUs and 2.5 GiB for an hour, whose GiB-ms a double sum would drop.
const bigMs = HOURS * MS_PER_HOUR;
const BIG = cents([
  [bigMs, 4095n * M, P.sandbox],
  [bigMs, 1_000_000_000n * M, P.storage],
  [MS_PER_HOUR, 2n * M, P.sandbox],
  [MS_PER_HOUR, 2_500_000n, P.storage],
]);
// cust-small: half a vCPU and 2.5 GiB for an hour; a computer of 1.5 vCPUs for 90 minutes.
const SMALL = cents([
  [MS_PER_HOUR, 500_000n, P.sandbox],
  [MS_PER_HOUR, 2_500_000n, P.storage],
  [(MS_PER_HOUR * 3n) / 2n, 1_500_000n, P.computer],
]);
// The open session this month: 4,096 vCPUs and an exabyte since 1 June, running until now (336 h).
const openMs = 336n * MS_PER_HOUR;
const OPEN = cents([
  [openMs, 4096n * M, P.sandbox],
  [openMs, 1_000_000_000n * M, P.storage],
]);

let t: TestApp;
let readKey: string;
let adminKey: string;

beforeAll(async () => {
  t = await startTestApp({ clock: fixedClock(NOW), label: "cost" });
  const ingestKey = await t.key("acme", "alice", ["ingest"]);
  readKey = await t.key("acme", "alice", ["read"]);
  adminKey = await t.key("acme", "root", ["admin", "read"]);
  const big = { vcpus: 4095, storage_gb: 1e9, external_user_id: "cust-big" };
  await ingest(t, ingestKey, [
    start("big", FROM, big),
    stop("big", TO),
    start("big2", "2027-01-10T00:00:00Z", { vcpus: 2, storage_gb: 2.5, external_user_id: "cust-big" }),
    stop("big2", "2027-01-10T01:00:00Z"),
    start("small", "2027-01-10T00:00:00Z", { vcpus: 0.5, storage_gb: 2.5, external_user_id: "cust-small" }),
    stop("small", "2027-01-10T01:00:00Z"),
    start("comp", "2027-01-10T00:00:00Z", { resource: "computer", vcpus: 1.5, external_user_id: "cust-small" }),
    stop("comp", "2027-01-10T01:30:00Z"),
    start("open", "2027-06-01T00:00:00Z", { vcpus: 4096, storage_gb: 1e9, external_user_id: "cust-open" }),
  ]);
  const res = await t.app.inject({ method: "PUT", url: "/api/v1/orgs/acme/prices", headers: { ...bearer(adminKey), "content-type": "application/json" }, payload: JSON.stringify(PRICES) });
  expect(res.statusCode, res.body).toBe(200);
});
afterAll(async () => {
  await t?.close();
});

const PERIOD = `period=custom&start=${FROM}&end=${TO}`;

describe("cost past 2^53", () => {
  it("the expected figures are past 2^53 and end in a half cent, so a double could not give them", () => {
    expect(BIG > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(OPEN > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(BigInt(Number(BIG))).not.toBe(BIG);
    expect(BIG).toBe(8_761_035_876_281_561_852n);
    // The storage GiB-ms of cust-big (3.15396 × 10^22 + 9 × 10^6) has more digits than a double holds.
    expect(BigInt(Number(bigMs * 1_000_000_000n + 9_000_000n))).not.toBe(bigMs * 1_000_000_000n + 9_000_000n);
  });

  it("the database sums Decimal128: cust-big's GiB-milliseconds come back with every digit", async () => {
    const window = { from: new Date(FROM), to: new Date(TO) };
    const pipeline = buildUsageRollupPipeline({ orgIds: ["acme"], groupBy: "external_user_id", window, now: new Date(NOW), externalUserId: null });
    const rows = await t.deps.cols.sessions.aggregate(pipeline).toArray();
    const big = rows.find((r) => r.key === "cust-big")!;
    expect(big.storage_gb_ms).toBeInstanceOf(Decimal128);
    // $toDecimal of 10^9 is 1000000000.00000 (15 digits), so the sum may carry zero decimals: compare values.
    const { coef, exp } = toDecimal(big.storage_gb_ms);
    expect(exp <= 0 ? coef % 10n ** BigInt(-exp) : 0n).toBe(0n);
    expect(exp <= 0 ? coef / 10n ** BigInt(-exp) : coef * 10n ** BigInt(exp)).toBe(bigMs * 1_000_000_000n + 9_000_000n);
  });

  it("MIOSA REST: exact cents, sorted by cost with the small row after the huge one", async () => {
    const res = await t.app.inject({ method: "GET", url: `/api/v1/usage?${PERIOD}`, headers: bearer(readKey) });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).toContain(
      `{"external_user_id":"cust-big","sandbox_seconds":${4095n * HOURS * 3600n + 7200n},"computer_seconds":0,"storage_gb_hours":${1_000_000_000n * HOURS + 2n}.5,"credit_cents":${BIG}}`,
    );
    expect(res.body).toContain(`{"external_user_id":"cust-small","sandbox_seconds":1800,"computer_seconds":8100,"storage_gb_hours":2.5,"credit_cents":${SMALL}}`);
    expect(res.body.indexOf("cust-big")).toBeLessThan(res.body.indexOf("cust-small"));
    expect(res.body).not.toContain("cust-open");
  });

  it("MIOSA CSV carries every digit", async () => {
    const res = await t.app.inject({ method: "GET", url: `/api/v1/usage?${PERIOD}&format=csv`, headers: bearer(readKey) });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).toContain(`,${BIG}`);
    expect(res.body).not.toMatch(/e\+18/);
  });

  it("GraphQL: creditCents is an exact Int64", async () => {
    const query = `{ usageRollup(period: "custom", start: "${FROM}", end: "${TO}") { results { key creditCents sandboxSeconds } } }`;
    const res = await t.app.inject({ method: "POST", url: "/graphql", headers: { ...bearer(readKey), "content-type": "application/json" }, payload: JSON.stringify({ query }) });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).toContain(`{"key":"cust-big","creditCents":${BIG},"sandboxSeconds":${4095n * HOURS * 3600n + 7200n}}`);
    expect(res.body).toContain(`{"key":"cust-small","creditCents":${SMALL},"sandboxSeconds":1800}`);
  });

  it("a budget's current value (REST) is exact, with the open session running until now", async () => {
    const body = { name: "spend", metric: "credit_cents", scope: {}, period: "month", time_zone: "UTC", thresholds: [1], webhook: { url: "https://hooks.example.com/usage", secret: "whsec_at_least_16_chars" } };
    const created = await t.app.inject({ method: "POST", url: "/api/v1/orgs/acme/budgets", headers: { ...bearer(adminKey), "content-type": "application/json" }, payload: JSON.stringify(body) });
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id as string;
    const res = await t.app.inject({ method: "GET", url: `/api/v1/orgs/acme/budgets/${id}`, headers: bearer(adminKey) });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.body).toContain(`"current_period":{"period_start":"2027-06-01T00:00:00Z","period_end":"2027-07-01T00:00:00Z","value":${OPEN}}`);
  });

  it("ingest refuses a metered resource with more than six decimals (its sums could not stay exact)", async () => {
    const key = await t.key("acme", "alice", ["ingest"]);
    const res = await t.app.inject({
      method: "POST",
      url: "/api/v1/usage/events",
      headers: { ...bearer(key), "content-type": "application/json" },
      payload: JSON.stringify({ events: [start("fine", "2027-06-02T00:00:00Z", { vcpus: 0.0000001, storage_gb: 0.1 + 0.2, memory_mb: 512.1234567 })] }),
    });
    expect(res.statusCode, res.body).toBe(422);
    const locs = (res.json().detail as Array<{ loc: unknown[]; msg: string }>).map((d) => [d.loc.at(-1), d.msg]);
    expect(locs).toEqual(expect.arrayContaining([["vcpus", "at most 6 decimal places"], ["storage_gb", "at most 6 decimal places"], ["memory_mb", "at most 6 decimal places"]]));
  });

  it("a record too large to price exactly (written before the six-decimal rule) is that org's error alone, never a rounded answer", async () => {
    const legacyKey = await t.key("legacy", "lee", ["ingest"]);
    await ingest(t, legacyKey, [start("old", "2027-01-10T00:00:00Z", { storage_gb: 5 }), stop("old", "2027-01-10T01:00:00Z")]);
    // 10^25 GiB for an hour is 3.6 × 10^31 GiB-ms: past what Decimal128 sums exactly.
    expect((await t.deps.cols.sessions.updateOne({ org_id: "legacy", session_id: "old" }, { $set: { storage_gb: 1e25 } })).modifiedCount).toBe(1);
    const own = await t.app.inject({ method: "GET", url: `/api/v1/usage?${PERIOD}`, headers: bearer(await t.key("legacy", "lee", ["read"])) });
    expect(own.statusCode, own.body).toBe(422);
    expect(own.body).toContain("too large to compute exactly");
    const admin = await t.key("ops", "root", ["read"], true);
    const query = `query ($r: [_Any!]!) { _entities(representations: $r) { ... on Organization { id usageRollup(period: "custom", start: "${FROM}", end: "${TO}") { results { key creditCents } } } } }`;
    const representations = [{ __typename: "Organization", id: "legacy" }, { __typename: "Organization", id: "acme" }];
    const res = await t.graphql(query, { r: representations }, bearer(admin));
    expect(res.status).toBe(200);
    const body = res.body as unknown as { data: { _entities: Array<{ usageRollup: unknown } | null> }; errors: Array<{ path: unknown[]; extensions: { code: string } }> };
    expect(body.errors).toEqual([expect.objectContaining({ path: ["_entities", 0, "usageRollup"], extensions: expect.objectContaining({ code: "BAD_USER_INPUT" }) })]);
    expect(body.data._entities[0]).toBeNull();
    expect(JSON.stringify(body.data._entities[1])).toContain('"key":"cust-small"');
  });
});
