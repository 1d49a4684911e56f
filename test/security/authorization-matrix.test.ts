/**
 * Authorization matrix (DESIGN §4–§5): every endpoint, REST and GraphQL, × every kind of caller —
 * no key, a wrong key, acme's read / ingest / admin keys, a cluster admin (whose own org is "ops"),
 * a key of another org (globex), and acme's read key acting `X-On-Behalf-Of` an external user.
 * Each cell is a status (or GraphQL code) in the surface's own envelope.
 *
 * "No cross-org number ever appears" is checked by difference rather than by looking for marker
 * values: the data grows in phases, and an answer must not change when only data its caller may not
 * see was added. Globex deliberately reuses acme's user id, sandbox id and external user id, so a
 * filter that forgot the org would show up as a changed number.
 *
 *   phase 1  acme, external user cust-1     → snapshot of the X-On-Behalf-Of(cust-1) answers
 *   phase 2  + acme, external user cust-2   → snapshot of every acme answer (read key, cluster admin's own org)
 *   phase 3  + globex (same ids as acme)    → the matrix runs; acme answers equal phase 2's, cust-1's phase 1's
 *   phase 4  + more acme usage              → globex's answers equal phase 3's
 */
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { bearer, startTestApp, type TestApp } from "../helpers/app.js";
import { type Envelope, ENVELOPES, isObj } from "../helpers/envelopes.js";
import { ingest, memorySample, start, stop } from "../helpers/events.js";

const NOW = "2026-05-28T00:00:00Z";
const DAY = { from: "2026-05-27T00:00:00Z", to: "2026-05-28T00:00:00Z" };
const unix = (iso: string) => Date.parse(iso) / 1000;

type Who = "none" | "badKey" | "read" | "ingest" | "admin" | "clusterAdmin" | "otherOrg" | "onBehalfOf";
const WHO: Who[] = ["none", "badKey", "read", "ingest", "admin", "clusterAdmin", "otherOrg", "onBehalfOf"];

/** 200/201: answered; 401/403/404: refused (GraphQL: UNAUTHENTICATED/FORBIDDEN/NOT_FOUND). */
type Outcome = 200 | 201 | 401 | 403 | 404;
const GRAPHQL_CODE: Record<number, string> = { 401: "UNAUTHENTICATED", 403: "FORBIDDEN", 404: "NOT_FOUND" };

/** The expected outcome per caller; the two unauthenticated callers are always 401. */
const expect8 = (o: Record<Exclude<Who, "none" | "badKey">, Outcome>): Record<Who, Outcome> => ({ none: 401, badKey: 401, ...o });
const READ = expect8({ read: 200, ingest: 403, admin: 403, clusterAdmin: 200, otherOrg: 200, onBehalfOf: 200 });
const CROSS_ORG = expect8({ read: 403, ingest: 403, admin: 403, clusterAdmin: 200, otherOrg: 403, onBehalfOf: 403 });
/** Reads of something that is acme's alone: another org (or the cluster admin's own org "ops") does not have it. */
const ACME_ONLY = expect8({ read: 200, ingest: 403, admin: 403, clusterAdmin: 404, otherOrg: 404, onBehalfOf: 200 });
const ADMIN = expect8({ read: 403, ingest: 403, admin: 200, clusterAdmin: 200, otherOrg: 403, onBehalfOf: 403 });

type Surface = keyof typeof ENVELOPES | "graphql";
interface Endpoint {
  name: string;
  surface: Surface;
  method: "GET" | "POST" | "PUT";
  url: string;
  body?: unknown;
  expected: Record<Who, Outcome>;
  /** Writes run after every read (they change data the reads are compared on). */
  write?: boolean;
  /** Reads across orgs: a cluster admin's answer legitimately changes with any org's data. */
  crossOrg?: boolean;
}

const gql = (name: string, query: string, expected: Record<Who, Outcome>, write = false): Endpoint => ({
  name: `GraphQL ${name}`,
  surface: "graphql",
  method: "POST",
  url: "/graphql",
  body: { query },
  expected,
  write,
});

const MKA1 = `/api/v1/sandbox/usage?start_time=${unix(DAY.from)}&end_time=${unix(DAY.to)}&bucket_width=1h&group_by=user_id`;
const GQL_MKA1 = `sandboxUsage(startTime: ${unix(DAY.from)}, endTime: ${unix(DAY.to)}, bucketWidth: "1h", groupBy: [user_id])`;
const GQL_BUCKETS = "{ hasMore data { startTime results { userId numOperations numSessions durationMs } } }";
const GQL_ROLLUP = `usageRollup(period: "custom", start: "${DAY.from}", end: "${DAY.to}") { periodStart results { key sandboxSeconds storageGbHours creditCents } }`;
const GQL_QUANTITIES = `memoryUsage(from: "${DAY.from}", to: "${DAY.to}") { totals { uptimeSeconds memoryUsedGbSeconds memoryAllocatedGbSeconds } } usage(from: "${DAY.from}", to: "${DAY.to}") { memoryGbSeconds diskOverageGbSeconds }`;
/** A budget that never fires (creating one sends nothing anyway). */
const BUDGET = { name: "matrix", metric: "credit_cents", period: "month", thresholds: [1e9], webhook: { url: "https://hooks.example.com/matrix", secret: "whsec_matrix_0123456789" } };

/** Default prices (so a PUT in the matrix changes no cost any later answer shows). */
const PRICES = { sandbox_vcpu_hour_cents: 5, computer_vcpu_hour_cents: 10, storage_gb_hour_cents: 0.014 };
/** A memory sample years before any window read here: writing it (or its duplicate) changes no answer. */
const HARMLESS_EVENT = { id: "matrix-mem", type: "sandbox.memory", timestamp: "2020-01-01T00:00:00Z", org_id: "acme", sandbox_id: "sb-a1", used_memory_mb: 1 };

const ENDPOINTS: Endpoint[] = [
  // MKA1
  { name: "MKA1 usage", surface: "fastapi", method: "GET", url: MKA1, expected: READ },
  { name: "MKA1 usage all_orgs", surface: "fastapi", method: "GET", url: `${MKA1}&all_orgs=true`, expected: CROSS_ORG, crossOrg: true },
  { name: "MKA1 usage org_ids=acme", surface: "fastapi", method: "GET", url: `${MKA1}&org_ids=acme`, expected: CROSS_ORG, crossOrg: true },
  // MIOSA
  { name: "MIOSA usage", surface: "miosa", method: "GET", url: `/api/v1/usage?period=custom&start=${DAY.from}&end=${DAY.to}`, expected: READ },
  // Dreadnode: {org} must be the key's own org, else 404
  { name: "Dreadnode usage of acme", surface: "dreadnode", method: "GET", url: "/api/v1/org/acme/sandboxes/usage", expected: ACME_ONLY },
  // OpenComputer: sb-a1 is cust-1's sandbox (and globex has one of that id too); sb-a2 is cust-2's
  { name: "OpenComputer sandbox sb-a1", surface: "opencomputer", method: "GET", url: `/api/sandboxes/sb-a1/usage?from=${DAY.from}&to=${DAY.to}`, expected: { ...ACME_ONLY, otherOrg: 200 } },
  { name: "OpenComputer sandbox sb-a2", surface: "opencomputer", method: "GET", url: `/api/sandboxes/sb-a2/usage?from=${DAY.from}&to=${DAY.to}`, expected: { ...ACME_ONLY, onBehalfOf: 404 } },
  { name: "OpenComputer aggregate by tag", surface: "opencomputer", method: "GET", url: `/api/usage?groupBy=tag:team&from=${DAY.from}&to=${DAY.to}`, expected: READ },
  { name: "OpenComputer aggregate by sandbox", surface: "opencomputer", method: "GET", url: `/api/usage?groupBy=sandbox&from=${DAY.from}&to=${DAY.to}`, expected: READ },
  { name: "OpenComputer tag keys", surface: "opencomputer", method: "GET", url: "/api/tags", expected: READ },
  // Platform
  { name: "prices of acme", surface: "fastapi", method: "GET", url: "/api/v1/orgs/acme/prices", expected: ADMIN },
  { name: "budgets of acme", surface: "miosa", method: "GET", url: "/api/v1/orgs/acme/budgets", expected: ADMIN },
  gql("_entities Organization acme budgets", '{ _entities(representations: [{ __typename: "Organization", id: "acme" }]) { ... on Organization { budgets { id } } } }', ADMIN),
  // Lists keys with last_used_at, which moves as the matrix's own keys are used: not compared across phases.
  { name: "acme's keys", surface: "fastapi", method: "GET", url: "/api/v1/api-keys?org_id=acme", expected: ADMIN, crossOrg: true },
  // GraphQL reads
  gql("viewer", "{ viewer { organization { id } user { id } scopes onBehalfOf } }", expect8({ read: 200, ingest: 200, admin: 200, clusterAdmin: 200, otherOrg: 200, onBehalfOf: 200 })),
  gql("sandboxUsage", `{ ${GQL_MKA1} ${GQL_BUCKETS} }`, READ),
  { ...gql("sandboxUsage allOrgs", `{ sandboxUsage(startTime: ${unix(DAY.from)}, endTime: ${unix(DAY.to)}, bucketWidth: "1h", allOrgs: true) ${GQL_BUCKETS} }`, CROSS_ORG), crossOrg: true },
  gql("usageRollup", `{ ${GQL_ROLLUP} }`, READ),
  gql("sandboxUsageSummary(org: acme)", '{ sandboxUsageSummary(org: "acme") { currentMonthSeconds sessionsCount totalRuntimeSeconds } }', ACME_ONLY),
  // Query.sandbox is null (not an error) for a sandbox the caller cannot see.
  gql("sandbox sb-a1", `{ sandbox(id: "sb-a1") { id alias tags { key value } ${GQL_QUANTITIES} } }`, { ...ACME_ONLY, clusterAdmin: 200, otherOrg: 200 }),
  gql("sandbox sb-a2", `{ sandbox(id: "sb-a2") { id alias tags { key value } ${GQL_QUANTITIES} } }`, { ...ACME_ONLY, clusterAdmin: 200, otherOrg: 200 }),
  gql("usage by tag", `{ usage(groupBy: "tag:team", from: "${DAY.from}", to: "${DAY.to}") { total { memoryGbSeconds diskOverageGbSeconds } items { ... on TagUsageItem { tagValue memoryGbSeconds } } untagged { memoryGbSeconds } } }`, READ),
  gql("tagKeys", "{ tagKeys { key sandboxCount valueCount } }", READ),
  gql("prices(org: acme)", '{ prices(org: "acme") { sandboxVcpuHourCents } }', ADMIN),
  gql(
    "_entities Organization acme",
    `{ _entities(representations: [{ __typename: "Organization", id: "acme" }]) { ... on Organization { ${GQL_ROLLUP} } } }`,
    expect8({ read: 200, ingest: 403, admin: 403, clusterAdmin: 200, otherOrg: 403, onBehalfOf: 200 }),
  ),
  // A user's runtime is read in the calling key's own org (globex's alice is globex's).
  gql("_entities User alice", '{ _entities(representations: [{ __typename: "User", id: "alice" }]) { ... on User { runtimeSummary { currentMonthSeconds sessionsCount totalRuntimeSeconds } } } }', READ),
  // An unknown sandbox resolves to an empty one with zero usage.
  gql("_entities Sandbox sb-a2", `{ _entities(representations: [{ __typename: "Sandbox", id: "sb-a2" }]) { ... on Sandbox { id tags { key } usage(from: "${DAY.from}", to: "${DAY.to}") { memoryGbSeconds } } } }`, READ),
  // Writes (after every read)
  { name: "ingest for acme", surface: "fastapi", method: "POST", url: "/api/v1/usage/events", body: { events: [HARMLESS_EVENT] }, write: true, expected: expect8({ read: 403, ingest: 200, admin: 403, clusterAdmin: 200, otherOrg: 403, onBehalfOf: 403 }) },
  { name: "create an acme key", surface: "fastapi", method: "POST", url: "/api/v1/api-keys", body: { org_id: "acme", user_id: "matrix", scopes: ["read"] }, write: true, expected: { ...ADMIN, admin: 201, clusterAdmin: 201 } },
  { name: "create an acme budget", surface: "miosa", method: "POST", url: "/api/v1/orgs/acme/budgets", body: BUDGET, write: true, expected: { ...ADMIN, admin: 201, clusterAdmin: 201 } },
  gql(
    "createBudget(org: acme)",
    'mutation { createBudget(org: "acme", input: { name: "m", metric: credit_cents, period: month, thresholds: [1e9], webhook: { url: "https://hooks.example.com/m", secret: "whsec_matrix_0123456789" } }) { id } }',
    ADMIN,
    true,
  ),
  { name: "replace acme's prices", surface: "fastapi", method: "PUT", url: "/api/v1/orgs/acme/prices", body: PRICES, write: true, expected: ADMIN },
  { name: "retag sb-a2", surface: "opencomputer", method: "PUT", url: "/api/sandboxes/sb-a2/tags", body: { team: "growth", env: "prod" }, write: true, expected: expect8({ read: 403, ingest: 200, admin: 200, clusterAdmin: 404, otherOrg: 404, onBehalfOf: 403 }) },
  gql(
    "recordUsageEvents",
    `mutation { recordUsageEvents(events: [{ id: "matrix-mem", type: SANDBOX_MEMORY, timestamp: "2020-01-01T00:00:00Z", orgId: "acme", sandboxId: "sb-a1", usedMemoryMb: 1 }]) { accepted duplicates } }`,
    expect8({ read: 403, ingest: 200, admin: 403, clusterAdmin: 200, otherOrg: 403, onBehalfOf: 403 }),
    true,
  ),
  gql("setPrices(org: acme)", "mutation { setPrices(org: \"acme\", prices: { sandboxVcpuHourCents: 5, computerVcpuHourCents: 10, storageGbHourCents: 0.014 }) { sandboxVcpuHourCents } }", ADMIN, true),
  gql(
    "setSandboxTags sb-a2",
    'mutation { setSandboxTags(id: "sb-a2", tags: [{ key: "team", value: "growth" }, { key: "env", value: "prod" }]) { id } }',
    expect8({ read: 403, ingest: 200, admin: 200, clusterAdmin: 404, otherOrg: 404, onBehalfOf: 403 }),
    true,
  ),
];

const READS = ENDPOINTS.filter((e) => !e.write);

let t: TestApp;
let headersOf: Record<Who, Record<string, string>>;

/** Acme's usage: sandbox sb-a1 run for cust-1, sb-a2 for cust-2, both by user alice. */
const acmeCust1 = [
  start("a1", "2026-05-27T10:00:00Z", { sandbox_id: "sb-a1", external_user_id: "cust-1", vcpus: 2, memory_mb: 2048, disk_mb: 30720, storage_gb: 5, tags: { team: "core" } }),
  stop("a1", "2026-05-27T11:00:00Z", { sandbox_id: "sb-a1" }),
  memorySample("sb-a1", "2026-05-27T10:10:00Z", 700),
];
const acmeCust2 = [
  start("a2", "2026-05-27T12:00:00Z", { sandbox_id: "sb-a2", external_user_id: "cust-2", vcpus: 4, memory_mb: 4096, disk_mb: 40960, storage_gb: 9, tags: { team: "growth", env: "prod" } }),
  stop("a2", "2026-05-27T14:30:00Z", { sandbox_id: "sb-a2" }),
  memorySample("sb-a2", "2026-05-27T12:10:00Z", 3000),
];
/** Globex reuses acme's user, sandbox and external user ids, and overlaps acme's hours. */
const globex = [
  start("g1", "2026-05-27T09:00:00Z", { org_id: "globex", sandbox_id: "sb-a1", external_user_id: "cust-1", vcpus: 8, memory_mb: 7168, disk_mb: 81920, storage_gb: 70, tags: { team: "core", secret: "x" } }),
  stop("g1", "2026-05-27T17:00:00Z", { org_id: "globex", sandbox_id: "sb-a1" }),
  start("a1", "2026-05-27T10:30:00Z", { org_id: "globex", sandbox_id: "sb-g2", external_user_id: "cust-2", vcpus: 3 }),
  memorySample("sb-a1", "2026-05-27T10:10:00Z", 6000, { org_id: "globex" }),
];
const acmeMore = [
  start("a3", "2026-05-27T15:00:00Z", { sandbox_id: "sb-a3", external_user_id: "cust-3", vcpus: 1, tags: { team: "core" } }),
  stop("a3", "2026-05-27T15:45:00Z", { sandbox_id: "sb-a3" }),
  start("a4", "2026-05-27T16:00:00Z", { sandbox_id: "sb-a1", external_user_id: "cust-3", vcpus: 2 }),
];

/** How the key travels: the vendor's own way (OpenComputer X-API-Key, the others Bearer), or forced. */
type Transport = "native" | "bearer" | "x-api-key" | "both";

async function call(ep: Endpoint, who: Who, transport: Transport = "native"): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { ...headersOf[who] };
  const asApiKey = transport === "x-api-key" || transport === "both" || (transport === "native" && ep.surface === "opencomputer");
  if (asApiKey && headers.authorization) {
    headers["x-api-key"] = headers.authorization.replace(/^Bearer /, "");
    if (transport !== "both") delete headers.authorization;
  }
  if (ep.body !== undefined) headers["content-type"] = "application/json";
  return t.app.inject({ method: ep.method, url: ep.url, headers, ...(ep.body !== undefined && { payload: JSON.stringify(ep.body) }) });
}

/** Answers of `who` to every read, by endpoint name (only those it is allowed to see). */
async function snapshot(who: Who): Promise<Map<string, unknown>> {
  const answers = new Map<string, unknown>();
  for (const ep of READS) {
    if (ep.expected[who] === 200) answers.set(ep.name, (await call(ep, who)).json());
  }
  return answers;
}

let phase1: Map<string, unknown>;
const phase2 = new Map<Who, Map<string, unknown>>();
let phase3OtherOrg: Map<string, unknown>;

beforeAll(async () => {
  t = await startTestApp({ label: "authz", clock: fixedClock(NOW) });
  const ingestKey = await t.key("acme", "alice", ["ingest"]);
  const keys = {
    read: await t.key("acme", "alice", ["read"]),
    ingest: ingestKey,
    admin: await t.key("acme", "alice", ["admin"]),
    clusterAdmin: await t.key("ops", "root", ["read", "ingest", "admin"], true),
    otherOrg: await t.key("globex", "alice", ["read", "ingest", "admin"]),
  };
  headersOf = {
    none: {},
    badKey: bearer("usk_not-a-key-anyone-was-given"),
    read: bearer(keys.read),
    ingest: bearer(keys.ingest),
    admin: bearer(keys.admin),
    clusterAdmin: bearer(keys.clusterAdmin),
    otherOrg: bearer(keys.otherOrg),
    onBehalfOf: { ...bearer(keys.read), "x-on-behalf-of": "cust-1" },
  };

  await ingest(t, ingestKey, acmeCust1);
  phase1 = await snapshot("onBehalfOf");
  await ingest(t, ingestKey, acmeCust2);
  for (const who of ["read", "clusterAdmin", "onBehalfOf"] as const) phase2.set(who, await snapshot(who));
  await ingest(t, keys.clusterAdmin, globex);
  phase3OtherOrg = await snapshot("otherOrg");
}, 60_000);
afterAll(() => t?.close());

describe("the data behind the matrix is real", () => {
  it("each phase changed what its own callers see, so an unchanged answer means something", () => {
    // cust-2's usage (phase 2) is in acme's answers but was not in cust-1's (phase 1).
    expect(phase2.get("read")!.get("MIOSA usage")).not.toEqual(phase1.get("MIOSA usage"));
    expect(phase3OtherOrg.get("MIOSA usage")).toMatchObject({ results: expect.arrayContaining([expect.objectContaining({ external_user_id: "cust-1", sandbox_seconds: 8 * 8 * 3600 })]) });
    expect(JSON.stringify(phase2.get("read")!.get("MKA1 usage"))).toContain('"num_operations"');
  });
});

describe.each(ENDPOINTS.map((ep) => [ep.name, ep] as const))("%s", (_name, ep) => {
  it.each(WHO)("as %s", async (who) => {
    const res = await call(ep, who);
    const want = ep.expected[who];
    const body = res.json() as Record<string, unknown>;
    const where = `${ep.method} ${ep.url} as ${who} → ${res.statusCode} ${res.body.slice(0, 300)}`;

    if (ep.surface === "graphql") {
      const errors = (body.errors ?? []) as Array<{ extensions?: { code?: string } }>;
      if (want === 200) expect(errors, where).toEqual([]);
      else expect(errors.map((e) => e.extensions?.code), where).toEqual([GRAPHQL_CODE[want]]);
      expect(res.statusCode, where).toBe(200);
    } else {
      expect(res.statusCode, where).toBe(want);
      if (want >= 400) {
        const envelope: Envelope = ENVELOPES[ep.surface];
        expect(envelope(res.statusCode, body), where).toBe(true);
        if (want === 401 && ep.surface !== "opencomputer") expect(res.headers["www-authenticate"], where).toBe("Bearer");
      }
    }

    if (want === 200 && !ep.write) {
      // Unchanged since the last phase that added data this caller may see.
      if (who === "onBehalfOf") expect(body, `${where}\n(cust-1's answer changed when other users' usage arrived)`).toEqual(phase1.get(ep.name));
      else if (who === "read" || (who === "clusterAdmin" && !ep.crossOrg)) expect(body, `${where}\n(changed when globex's usage arrived)`).toEqual(phase2.get(who)!.get(ep.name));
    }
  });
});

// DESIGN §13: every REST surface (and GraphQL) takes the key either way; both at once when they agree.
describe.each(ENDPOINTS.map((ep) => [ep.name, ep] as const))("%s, whichever header carries the key", (_name, ep) => {
  it.each(["read", "admin", "badKey", "onBehalfOf"] as const)("as %s: Bearer, X-API-Key and both agree", async (who) => {
    const answers = [];
    for (const transport of ["bearer", "x-api-key", "both"] as const) {
      const res = await call(ep, who, transport);
      const where = `${ep.method} ${ep.url} as ${who} via ${transport} → ${res.statusCode} ${res.body.slice(0, 200)}`;
      if (ep.surface === "graphql") {
        const errors = (res.json().errors ?? []) as Array<{ extensions?: { code?: string } }>;
        expect(errors.map((e) => e.extensions?.code), where).toEqual(ep.expected[who] === 200 ? [] : [GRAPHQL_CODE[ep.expected[who]]]);
      } else {
        expect(res.statusCode, where).toBe(ep.expected[who]);
      }
      answers.push(res.json());
    }
    if (!ep.write) expect(answers[1]).toEqual(answers[0]);
    if (!ep.write) expect(answers[2]).toEqual(answers[0]);
  });

  it("two different keys at once are refused with 401, not resolved to either", async () => {
    const headers: Record<string, string> = { ...headersOf.admin, "x-api-key": headersOf.read.authorization!.replace(/^Bearer /, "") };
    if (ep.body !== undefined) headers["content-type"] = "application/json";
    const res = await t.app.inject({ method: ep.method, url: ep.url, headers, ...(ep.body !== undefined && { payload: JSON.stringify(ep.body) }) });
    const body = res.json();
    if (ep.surface === "graphql") {
      expect(body.errors.map((e: { extensions?: { code?: string } }) => e.extensions?.code)).toEqual(["UNAUTHENTICATED"]);
    } else {
      expect(res.statusCode).toBe(401);
      expect(ENVELOPES[ep.surface](401, body), res.body).toBe(true);
      expect(res.body).toMatch(/different keys/);
    }
  });
});

describe("another org's answers", () => {
  it("do not change when acme's usage grows", async () => {
    await ingest(t, headersOf.ingest.authorization!.replace(/^Bearer /, ""), acmeMore);
    const after = await snapshot("otherOrg");
    expect([...after.keys()]).toEqual([...phase3OtherOrg.keys()]);
    for (const [name, answer] of after) expect(answer, name).toEqual(phase3OtherOrg.get(name));
    // …while acme's own answers did change.
    expect((await snapshot("read")).get("MIOSA usage")).not.toEqual(phase2.get("read")!.get("MIOSA usage"));
  });

  it("refusals name nothing of the org refused", async () => {
    for (const ep of ENDPOINTS.filter((e) => e.expected.otherOrg >= 400)) {
      const res = await call(ep, "otherOrg");
      const body = res.json() as { errors?: Array<{ message: string }> };
      // What a refusal says: the GraphQL messages, or the REST body without Dreadnode's status `code`.
      const said = ep.surface === "graphql" ? (body.errors ?? []).map((e) => e.message).join("\n") : res.body.replace(/"code":4\d\d/, "");
      expect(said, ep.name).not.toMatch(/\d{2,}|cust-/);
      expect(isObj(res.json()), ep.name).toBe(true);
    }
  });
});
