/**
 * MKA1 `GET /api/v1/sandbox/usage`: every answer of the real service, 200 and 422, validated with
 * Ajv (JSON Schema 2020-12, strict mode) against schemas transcribed from the vendor's OpenAPI
 * document (spec 001, components.schemas). The transcription is tightened where our contract is
 * stricter than the vendor's: every property is `required` (the vendor leaves most of them to
 * defaults, but we always send them) and no object allows `additionalProperties`; a 422's
 * `detail` is required and not empty. The numbers themselves are checked in mka1*.test.ts.
 */
import Ajv2020 from "ajv/dist/2020.js";
import type { ValidateFunction } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { getUsage, ingestFixture, NOW, unix } from "./mka1-fixture.js";

const nullable = (schema: object) => ({ anyOf: [schema, { type: "null" }] });

/** Spec 001's components.schemas, as a 2020-12 `$defs` document. */
const MKA1_SCHEMAS = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  $id: "https://apigw.mka1.com/schemas/sandbox-usage.json",
  $defs: {
    SandboxUsagePage: {
      title: "SandboxUsagePage",
      type: "object",
      properties: {
        object: { type: "string", const: "page", title: "Object" },
        data: { type: "array", items: { $ref: "#/$defs/SandboxUsageBucket" }, title: "Data" },
        has_more: { type: "boolean", title: "Has More" },
        next_page: { ...nullable({ type: "string" }), title: "Next Page" },
      },
      required: ["object", "data", "has_more", "next_page"],
      additionalProperties: false,
    },
    SandboxUsageBucket: {
      title: "SandboxUsageBucket",
      type: "object",
      properties: {
        object: { type: "string", const: "bucket", title: "Object" },
        start_time: { type: "integer", title: "Start Time" },
        end_time: { type: "integer", title: "End Time" },
        results: { type: "array", items: { $ref: "#/$defs/SandboxUsageResult" }, title: "Results" },
      },
      required: ["object", "start_time", "end_time", "results"],
      additionalProperties: false,
    },
    SandboxUsageResult: {
      title: "SandboxUsageResult",
      type: "object",
      properties: {
        object: { type: "string", const: "organization.usage.sandbox.result", title: "Object" },
        num_operations: { type: "integer", title: "Num Operations" },
        num_sessions: { type: "integer", title: "Num Sessions" },
        request_count: { type: "integer", title: "Request Count" },
        duration_ms: { type: "integer", title: "Duration Ms" },
        workspace_bytes_in: { type: "integer", title: "Workspace Bytes In" },
        workspace_bytes_out: { type: "integer", title: "Workspace Bytes Out" },
        files_changed_count: { type: "integer", title: "Files Changed Count" },
        oom_killed_count: { type: "integer", title: "Oom Killed Count" },
        peak_memory_mib: { ...nullable({ type: "number" }), title: "Peak Memory Mib" },
        reserved_memory_mib: { ...nullable({ type: "integer" }), title: "Reserved Memory Mib" },
        user_id: { ...nullable({ type: "string" }), title: "User Id" },
        api_key_id: { ...nullable({ type: "string" }), title: "Api Key Id" },
        org_id: { ...nullable({ type: "string" }), title: "Org Id" },
        operation: nullable({ $ref: "#/$defs/SandboxUsageOperation" }),
        provider: { ...nullable({ type: "string" }), title: "Provider" },
        session_kind: nullable({ $ref: "#/$defs/SessionKind" }),
      },
      required: [
        "object", "num_operations", "num_sessions", "request_count", "duration_ms", "workspace_bytes_in", "workspace_bytes_out",
        "files_changed_count", "oom_killed_count", "peak_memory_mib", "reserved_memory_mib",
        "user_id", "api_key_id", "org_id", "operation", "provider", "session_kind",
      ],
      additionalProperties: false,
    },
    SandboxUsageOperation: {
      title: "SandboxUsageOperation",
      type: "string",
      enum: [
        "session_start", "session_stop", "session_terminate", "turn", "repo_task", "command", "code",
        "workspace_manifest", "workspace_download", "workspace_archive_download", "workspace_upload", "workspace_archive_upload",
      ],
    },
    SessionKind: { title: "SessionKind", type: "string", enum: ["standard", "browser"] },
    HTTPValidationError: {
      title: "HTTPValidationError",
      type: "object",
      properties: {
        detail: { type: "array", items: { $ref: "#/$defs/ValidationError" }, minItems: 1, title: "Detail" },
      },
      required: ["detail"],
      additionalProperties: false,
    },
    ValidationError: {
      title: "ValidationError",
      type: "object",
      properties: {
        loc: { type: "array", items: { anyOf: [{ type: "string" }, { type: "integer" }] }, title: "Location" },
        msg: { type: "string", title: "Message" },
        type: { type: "string", title: "Error Type" },
      },
      required: ["loc", "msg", "type"],
      additionalProperties: false,
    },
  },
};

// ajv is CommonJS: under NodeNext the default import types as the module, whose `default` is the class
// (at run time the module object is the class itself and also carries `default`).
const ajv = new Ajv2020.default({ strict: true, allErrors: true });
ajv.addSchema(MKA1_SCHEMAS);
const schema = (name: keyof typeof MKA1_SCHEMAS.$defs): ValidateFunction => ajv.getSchema(`${MKA1_SCHEMAS.$id}#/$defs/${name}`)!;
const validatePage = schema("SandboxUsagePage");
const validateError = schema("HTTPValidationError");

let t: TestApp;
let readKey: string;
let clusterAdminKey: string;

beforeAll(async () => {
  t = await startTestApp({ clock: fixedClock(NOW), label: "mka1schema" });
  await ingestFixture(t);
  readKey = await t.key("acme", "alice", ["read"]);
  clusterAdminKey = await t.key("ops", "root", ["read"], true);
});
afterAll(() => t?.close());

type Page = { object: string; data: { results: unknown[] }[]; has_more: boolean; next_page: string | null };

/** Asserts a value against a schema, printing Ajv's errors and the value when it fails. */
function expectValid(validate: ValidateFunction, value: unknown): void {
  const ok = validate(value);
  expect(ok, `${JSON.stringify(validate.errors, null, 2)}\n${JSON.stringify(value)}`).toBe(true);
}

/** A 200 answer, validated against SandboxUsagePage. */
async function ok(key: string, query: string, headers: Record<string, string> = {}): Promise<Page> {
  const res = await getUsage(t, key, query, headers);
  expect(res.statusCode, res.body).toBe(200);
  expect(res.headers["content-type"]).toMatch(/^application\/json/);
  const page = res.json();
  expectValid(validatePage, page);
  return page as Page;
}

/** Every page of a query, following next_page from limit=1, each validated. */
async function allPages(key: string, query: string): Promise<Page[]> {
  const pages = [await ok(key, `${query}&limit=1`)];
  while (pages.at(-1)!.has_more) {
    expect(pages.length).toBeLessThan(100);
    pages.push(await ok(key, `${query}&limit=1&page=${encodeURIComponent(pages.at(-1)!.next_page!)}`));
  }
  return pages;
}

const ALL_DIMENSIONS = "user_id,api_key_id,org_id,operation,provider,session_kind";
const GROUPINGS = ["", "user_id", "operation", ALL_DIMENSIONS];
const RANGES = {
  "1m": `start_time=${unix("2026-05-27T10:00:00Z")}&end_time=${unix("2026-05-27T10:03:00Z")}`,
  "1h": `start_time=${unix("2026-05-27T10:00:00Z")}&end_time=${unix("2026-05-27T13:00:00Z")}`,
  "1d": `start_time=${unix("2026-05-26T00:00:00Z")}&end_time=${unix("2026-05-28T00:00:00Z")}`,
} as const;
const DAYS = RANGES["1d"];
const HOUR10 = RANGES["1h"];

describe("the schema itself", () => {
  it("rejects pages that break the tightened contract", () => {
    const result = {
      object: "organization.usage.sandbox.result", num_operations: 1, num_sessions: 1, request_count: 1, duration_ms: 1,
      workspace_bytes_in: 0, workspace_bytes_out: 0, files_changed_count: 0, oom_killed_count: 0, peak_memory_mib: 1.5,
      reserved_memory_mib: 512, user_id: null, api_key_id: null, org_id: null, operation: "command", provider: null, session_kind: "browser",
    };
    const page = (r: object) => ({ object: "page", data: [{ object: "bucket", start_time: 0, end_time: 60, results: [r] }], has_more: false, next_page: null });
    expectValid(validatePage, page(result));
    const { session_kind: _, ...missing } = result;
    for (const bad of [missing, { ...result, extra: 1 }, { ...result, duration_ms: 1.5 }, { ...result, reserved_memory_mib: 1.5 },
      { ...result, operation: "model" }, { ...result, session_kind: "gpu" }, { ...result, object: "result" }]) {
      expect(validatePage(page(bad)), JSON.stringify(bad)).toBe(false);
    }
    expect(validatePage({ object: "page", data: [], has_more: false })).toBe(false);
    expect(validateError({ detail: [] })).toBe(false);
    expect(validateError({ detail: "Not Found" })).toBe(false);
    expect(validateError({ detail: [{ loc: ["query", "limit"], msg: "m" }] })).toBe(false);
  });
});

describe("200 answers match SandboxUsagePage", () => {
  for (const width of ["1m", "1h", "1d"] as const) {
    for (const groupBy of GROUPINGS) {
      it(`bucket_width=${width} group_by=${groupBy || "(none)"}`, async () => {
        const page = await ok(readKey, `${RANGES[width]}&bucket_width=${width}${groupBy ? `&group_by=${groupBy}` : ""}`);
        expect(page.data.length).toBeGreaterThan(0);
        expect(page.data.some((b) => b.results.length > 0)).toBe(true);
      });
    }
  }

  it("group_by repeated rather than comma-separated", async () => {
    await ok(readKey, `${HOUR10}&bucket_width=1h&${ALL_DIMENSIONS.split(",").map((d) => `group_by=${d}`).join("&")}`);
  });

  it("the default bucket_width and a defaulted end_time", async () => {
    await ok(readKey, `start_time=${unix("2026-05-26T00:00:00Z")}`);
    await ok(readKey, `start_time=${unix("2026-05-27T12:00:00Z")}&bucket_width=1m&group_by=${ALL_DIMENSIONS}`);
  });

  it("an empty range: buckets with no results", async () => {
    const page = await ok(readKey, `start_time=${unix("2026-04-06T00:00:00Z")}&end_time=${unix("2026-04-09T00:00:00Z")}&group_by=user_id`);
    expect(page.data.every((b) => b.results.length === 0)).toBe(true);
  });

  for (const width of ["1m", "1h", "1d"] as const) {
    it(`paging: limit=1 then page=next_page until has_more is false (${width}, every dimension)`, async () => {
      const pages = await allPages(readKey, `${RANGES[width]}&bucket_width=${width}&group_by=${ALL_DIMENSIONS}`);
      expect(pages.length).toBeGreaterThan(1);
      expect(pages.slice(0, -1).every((p) => p.has_more && typeof p.next_page === "string")).toBe(true);
      expect(pages.at(-1)!.next_page).toBeNull();
    });
  }

  it("a page that runs over the default page size", async () => {
    const q = `start_time=${unix("2026-04-01T00:00:00Z")}&end_time=${unix("2026-05-28T00:00:00Z")}&group_by=operation`;
    const page = await ok(readKey, q);
    expect(page.has_more).toBe(true);
    await ok(readKey, `${q}&page=${encodeURIComponent(page.next_page!)}`);
  });

  it.each(GROUPINGS.concat("org_id"))("all_orgs=true with a cluster-admin key, group_by=%s", async (groupBy) => {
    await ok(clusterAdminKey, `${HOUR10}&bucket_width=1h&all_orgs=true${groupBy ? `&group_by=${groupBy}` : ""}`);
  });

  it("org_ids with a cluster-admin key, comma-separated and repeated", async () => {
    await ok(clusterAdminKey, `${HOUR10}&bucket_width=1h&org_ids=acme,globex&group_by=org_id`);
    await ok(clusterAdminKey, `${HOUR10}&bucket_width=1h&org_ids=globex&org_ids=initech&group_by=${ALL_DIMENSIONS}`);
    await ok(clusterAdminKey, `${DAYS}&org_ids=initech`);
  });

  it("a cluster admin's own org, with no usage", async () => {
    const page = await ok(clusterAdminKey, DAYS);
    expect(page.data.every((b) => b.results.length === 0)).toBe(true);
  });

  it("paging across orgs", async () => {
    await allPages(clusterAdminKey, `${HOUR10}&bucket_width=1h&all_orgs=true&group_by=${ALL_DIMENSIONS}`);
  });

  it.each(["1h", "1d"])("time_zone=Asia/Kolkata, bucket_width=%s", async (width) => {
    await ok(readKey, `${DAYS}&bucket_width=${width}&time_zone=Asia/Kolkata`);
    await ok(readKey, `${DAYS}&bucket_width=${width}&time_zone=Asia/Kolkata&group_by=${ALL_DIMENSIONS}`);
    await allPages(readKey, `${DAYS}&bucket_width=${width}&time_zone=Asia/Kolkata&group_by=user_id`);
  });

  it.each(["cust-1", "cust-2", "cust-unknown"])("X-On-Behalf-Of: %s", async (who) => {
    await ok(readKey, `${DAYS}&group_by=${ALL_DIMENSIONS}`, { "x-on-behalf-of": who });
    await ok(readKey, DAYS, { "x-on-behalf-of": who });
    await ok(clusterAdminKey, `${DAYS}&all_orgs=true&group_by=user_id`, { "x-on-behalf-of": who });
  });
});

describe("422 answers match HTTPValidationError", () => {
  it.each([
    ["missing start_time", `end_time=${unix("2026-05-28T00:00:00Z")}`],
    ["start_time=abc", "start_time=abc"],
    ["bucket_width=2h", `${DAYS}&bucket_width=2h`],
    ["group_by=nope", `${DAYS}&group_by=nope`],
    ["limit=0", `${DAYS}&limit=0`],
    ["limit=abc", `${DAYS}&limit=abc`],
    ["end_time before start_time", `start_time=${unix("2026-05-28T00:00:00Z")}&end_time=${unix("2026-05-26T00:00:00Z")}`],
    ["page=garbage", `${DAYS}&page=garbage`],
    ["time_zone=Not/AZone", `${DAYS}&time_zone=Not/AZone`],
    // FastAPI (and QueryParser) take the last value of a repeated scalar: a repeated start_time is a
    // 422 when that last value is invalid (two valid ones answer 200, checked below).
    ["repeated start_time", `start_time=${unix("2026-05-26T00:00:00Z")}&start_time=abc`],
    ["everything wrong at once", "start_time=abc&end_time=xyz&bucket_width=2h&group_by=user_id,nope&limit=0&all_orgs=maybe&time_zone=Not/AZone"],
  ])("%s", async (_, query) => {
    const res = await getUsage(t, readKey, query);
    expect(res.statusCode, res.body).toBe(422);
    expect(res.headers["content-type"]).toMatch(/^application\/json/);
    expectValid(validateError, res.json());
  });

  it("a repeated start_time whose last value is valid is not a 422: the last value wins, as in FastAPI", async () => {
    const page = await ok(readKey, `start_time=${unix("2026-05-26T00:00:00Z")}&start_time=${unix("2026-05-27T00:00:00Z")}&end_time=${unix("2026-05-28T00:00:00Z")}`);
    expect(page.data).toHaveLength(1);
  });

  it("a page token replayed with another key", async () => {
    const first = await ok(clusterAdminKey, `${HOUR10}&bucket_width=1h&all_orgs=true&limit=1`);
    const res = await getUsage(t, readKey, `${HOUR10}&bucket_width=1h&page=${encodeURIComponent(first.next_page!)}`);
    expect(res.statusCode, res.body).toBe(422);
    expectValid(validateError, res.json());
  });
});
