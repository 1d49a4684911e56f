/**
 * API keys (DESIGN §4) end to end: created over REST and by the CLI, stored only as a hash in the
 * real `api_keys` collection, and accepted by GraphQL over either transport. Errors use the
 * FastAPI envelope (DESIGN §5): `{"detail":"…"}`, or `422 {"detail":[{loc,msg,type}]}`.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BOOTSTRAP_KEY, bearer, startTestApp, type TestApp } from "../helpers/app.js";

/** The project root (/work/main): child processes run there, as `npm start` would. */
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const VIEWER = "{ viewer { keyId organization { id } user { id } scopes clusterAdmin onBehalfOf } }";
const sha256 = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

interface Issue {
  loc: Array<string | number>;
  msg: string;
  type: string;
}

describe("POST /api/v1/api-keys", () => {
  let t: TestApp;
  const create = (payload: unknown, headers: Record<string, string> = bearer(BOOTSTRAP_KEY)) =>
    t.app.inject({
      method: "POST",
      url: "/api/v1/api-keys",
      headers: { "content-type": "application/json", ...headers },
      payload: typeof payload === "string" ? payload : JSON.stringify(payload),
    });

  beforeAll(async () => {
    t = await startTestApp({ label: "apikeys" });
  });
  afterAll(() => t.close());

  describe("a key created with the bootstrap key", () => {
    let id: string;
    let key: string;

    beforeAll(async () => {
      const res = await create({ org_id: "acme", user_id: "alice", scopes: ["read", "ingest"] });
      expect(res.statusCode).toBe(201);
      const body = res.json() as { id: string; key: string };
      // Exactly {id, key}: the response is the only place the secret ever appears.
      expect(Object.keys(body).sort()).toEqual(["id", "key"]);
      ({ id, key } = body);
    });

    it("has the documented shape: key_<id> and usk_<id>_<secret>", () => {
      expect(id).toMatch(/^key_[A-Za-z0-9_-]+$/);
      // The key embeds the id without its "key_" prefix, then a 256-bit base64url secret (43 chars).
      expect(key.startsWith(`usk_${id.slice(4)}_`)).toBe(true);
      expect(key.slice(`usk_${id.slice(4)}_`.length)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    });

    it("is stored only as a SHA-256 hash: the secret appears nowhere in api_keys", async () => {
      const docs = await t.mongo.db.collection("api_keys").find({}).toArray();
      const raw = JSON.stringify(docs);
      const secret = key.slice(`usk_${id.slice(4)}_`.length);
      expect(raw).not.toContain(key);
      expect(raw).not.toContain(secret);
      const doc = docs.find((d) => d._id === (id as unknown));
      expect(doc).toBeDefined();
      expect(doc!.secret_hash).toBe(sha256(key));
      expect(doc).toMatchObject({ org_id: "acme", user_id: "alice", scopes: ["read", "ingest"], cluster_admin: false, created_by: "bootstrap" });
    });

    it("authenticates GraphQL as Authorization: Bearer", async () => {
      const res = await t.graphql(VIEWER, undefined, bearer(key));
      expect(res.status).toBe(200);
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data!.viewer).toEqual({
        keyId: id,
        organization: { id: "acme" },
        user: { id: "alice" },
        scopes: ["read", "ingest"],
        clusterAdmin: false,
        onBehalfOf: null,
      });
    });

    it("authenticates GraphQL as X-API-Key", async () => {
      const res = await t.graphql(VIEWER, undefined, { "x-api-key": key });
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data!.viewer).toMatchObject({ keyId: id, organization: { id: "acme" }, user: { id: "alice" } });
    });

    it("reports X-On-Behalf-Of as viewer.onBehalfOf", async () => {
      const res = await t.graphql(VIEWER, undefined, { ...bearer(key), "x-on-behalf-of": "cust-7" });
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data!.viewer.onBehalfOf).toBe("cust-7");
    });
  });

  it("shows the bootstrap key as a cluster admin with every scope and no org", async () => {
    const res = await t.graphql(VIEWER, undefined, bearer(BOOTSTRAP_KEY));
    expect(res.body.data!.viewer).toEqual({
      keyId: "bootstrap",
      organization: null,
      user: { id: "bootstrap" },
      scopes: expect.arrayContaining(["read", "ingest", "admin"]),
      clusterAdmin: true,
      onBehalfOf: null,
    });
  });

  it("deduplicates repeated scopes", async () => {
    const res = await create({ org_id: "acme", user_id: "dup", scopes: ["read", "read", "admin"] });
    expect(res.statusCode).toBe(201);
    const doc = await t.mongo.db.collection("api_keys").findOne({ _id: res.json().id });
    expect(doc!.scopes).toEqual(["read", "admin"]);
  });

  describe("authorization", () => {
    let orgAdminA: string;
    let readOnly: string;
    let clusterAdmin: string;

    beforeAll(async () => {
      orgAdminA = await t.key("org-a", "admin-a", ["admin"]);
      readOnly = await t.key("org-a", "reader", ["read"]);
      clusterAdmin = await t.key("ops", "root", ["admin"], true);
    });

    it("lets an org admin create a key for its own org (the control for the 403s below)", async () => {
      const res = await create({ org_id: "org-a", user_id: "bob", scopes: ["read"] }, bearer(orgAdminA));
      expect(res.statusCode).toBe(201);
      const doc = await t.mongo.db.collection("api_keys").findOne({ _id: res.json().id });
      // created_by records which key made it.
      expect(doc!.created_by).not.toBe("bootstrap");
    });

    it("forbids an org admin from creating a key for another org (403)", async () => {
      const res = await create({ org_id: "org-b", user_id: "mallory", scopes: ["read"] }, bearer(orgAdminA));
      expect(res.statusCode).toBe(403);
      expect(res.json()).toEqual({ detail: expect.any(String) });
      expect(await t.mongo.db.collection("api_keys").countDocuments({ org_id: "org-b" })).toBe(0);
    });

    it("forbids a non-cluster-admin from creating a cluster-admin key (403), even for its own org", async () => {
      const res = await create({ org_id: "org-a", user_id: "mallory", scopes: ["admin"], cluster_admin: true }, bearer(orgAdminA));
      expect(res.statusCode).toBe(403);
      expect(res.json()).toEqual({ detail: expect.any(String) });
      expect(await t.mongo.db.collection("api_keys").countDocuments({ user_id: "mallory" })).toBe(0);
    });

    it("lets a cluster admin create keys for any org, including cluster-admin keys", async () => {
      const res = await create({ org_id: "org-b", user_id: "carol", scopes: ["read"], cluster_admin: true }, bearer(clusterAdmin));
      expect(res.statusCode).toBe(201);
      const viewer = await t.graphql(VIEWER, undefined, bearer(res.json().key));
      expect(viewer.body.data!.viewer).toMatchObject({ organization: { id: "org-b" }, clusterAdmin: true });
    });

    it("forbids a key without the admin scope (403)", async () => {
      const res = await create({ org_id: "org-a", user_id: "x", scopes: ["read"] }, bearer(readOnly));
      expect(res.statusCode).toBe(403);
      expect(res.json()).toEqual({ detail: expect.stringContaining("admin") });
    });

    it("refuses a request with no key: 401 with detail and WWW-Authenticate", async () => {
      const res = await create({ org_id: "acme", user_id: "x", scopes: ["read"] }, {});
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ detail: expect.any(String) });
      expect(res.headers["www-authenticate"]).toMatch(/^Bearer/);
    });

    it.each([
      ["an unknown usk_ key", "usk_nope_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"],
      ["a string that is not a key", "not-a-key"],
      ["the bootstrap key with a character changed", `${BOOTSTRAP_KEY.slice(0, -1)}X`],
    ])("refuses %s: 401 with detail and WWW-Authenticate", async (_name, wrong) => {
      const res = await create({ org_id: "acme", user_id: "x", scopes: ["read"] }, bearer(wrong));
      expect(res.statusCode).toBe(401);
      expect(res.json()).toEqual({ detail: expect.any(String) });
      expect(res.headers["www-authenticate"]).toMatch(/^Bearer/);
    });

    it("accepts the key as X-API-Key too, as every REST surface does (DESIGN §13)", async () => {
      const res = await create({ org_id: "acme", user_id: "x", scopes: ["read"] }, { "x-api-key": BOOTSTRAP_KEY });
      expect(res.statusCode).toBe(201);
    });

    it("authenticates before validating: a bad body without a key is 401, not 422", async () => {
      const res = await create({ nonsense: true }, {});
      expect(res.statusCode).toBe(401);
    });
  });

  describe("invalid bodies → 422 with detail a list of {loc,msg,type} under body", () => {
    const valid = { org_id: "acme", user_id: "alice", scopes: ["read"] };
    const cases: Array<[string, unknown, Array<string | number>]> = [
      ["missing org_id", { user_id: "alice", scopes: ["read"] }, ["body", "org_id"]],
      ["unknown scope superuser", { ...valid, scopes: ["read", "superuser"] }, ["body", "scopes", 1]],
      ["an extra field", { ...valid, role: "owner" }, ["body", "role"]],
      ["scopes not an array", { ...valid, scopes: "read" }, ["body", "scopes"]],
      ["empty scopes", { ...valid, scopes: [] }, ["body", "scopes"]],
      ["org_id with a $", { ...valid, org_id: "ac$me" }, ["body", "org_id"]],
      ["org_id with spaces", { ...valid, org_id: "ac me" }, ["body", "org_id"]],
      ["org_id an operator object (NoSQL injection)", { ...valid, org_id: { $ne: null } }, ["body", "org_id"]],
      ["empty user_id", { ...valid, user_id: "" }, ["body", "user_id"]],
      ["cluster_admin not a boolean", { ...valid, cluster_admin: "yes" }, ["body", "cluster_admin"]],
      ["a JSON array instead of an object", [valid], ["body"]],
      ["non-JSON body", "{org_id: acme", ["body"]],
    ];

    it.each(cases)("%s", async (_name, payload, loc) => {
      const before = await t.mongo.db.collection("api_keys").countDocuments();
      const res = await create(payload);
      expect(res.statusCode).toBe(422);
      const detail = (res.json() as { detail: Issue[] }).detail;
      expect(Array.isArray(detail)).toBe(true);
      expect(detail.length).toBeGreaterThan(0);
      for (const issue of detail) {
        expect(issue).toEqual({ loc: expect.any(Array), msg: expect.any(String), type: expect.any(String) });
        expect(issue.loc[0]).toBe("body");
      }
      expect(detail.map((d) => d.loc)).toContainEqual(loc);
      // Nothing is stored for a rejected request.
      expect(await t.mongo.db.collection("api_keys").countDocuments()).toBe(before);
    });

    it("names the missing field with FastAPI's type", async () => {
      const res = await create({ user_id: "alice", scopes: ["read"] });
      expect(res.json().detail).toContainEqual({ loc: ["body", "org_id"], msg: "Field required", type: "missing" });
    });

    it("names an extra field as extra_forbidden", async () => {
      const res = await create({ ...valid, role: "owner" });
      expect(res.json().detail).toContainEqual({ loc: ["body", "role"], msg: "Extra inputs are not permitted", type: "extra_forbidden" });
    });

    it("rejects a __proto__ key as invalid input, not a 500", async () => {
      const res = await create('{"org_id":"acme","user_id":"a","scopes":["read"],"__proto__":{"x":1}}');
      expect(res.statusCode).toBe(422);
      expect(res.json().detail[0].loc[0]).toBe("body");
    });
  });

  describe("GraphQL authentication", () => {
    it("answers UNAUTHENTICATED without a key", async () => {
      const res = await t.graphql(VIEWER);
      expect(res.body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    });

    it.each([
      ["Bearer", { authorization: "Bearer usk_nope_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }],
      ["X-API-Key", { "x-api-key": "usk_nope_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }],
      ["a non-Bearer Authorization scheme", { authorization: `Basic ${BOOTSTRAP_KEY}` }],
    ])("answers UNAUTHENTICATED for a bad key as %s", async (_name, headers) => {
      const res = await t.graphql(VIEWER, undefined, headers);
      expect(res.body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
      expect(res.body.data ?? null).toBeNull();
    });

    it("answers BAD_USER_INPUT for an empty X-On-Behalf-Of (it must be 1-256 characters)", async () => {
      const res = await t.graphql(VIEWER, undefined, { ...bearer(BOOTSTRAP_KEY), "x-on-behalf-of": " " });
      expect(res.body.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    });
  });
});

/** Runs a command to completion, never throwing: the exit code is part of what is tested. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd: ROOT, env, timeout: 25_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

describe("scripts/keys.ts (npm run keys)", () => {
  let t: TestApp;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    t = await startTestApp({ label: "keyscli" });
    // The CLI writes to the database the service uses: point it at this test's database.
    env = { ...process.env, MONGODB_URI: t.mongo.uri, MONGODB_DB: t.mongo.dbName };
  });
  afterAll(() => t.close());

  it("creates a key that authenticates GraphQL with the given user and scopes", async () => {
    const res = await run("npx", ["tsx", "scripts/keys.ts", "create", "--org", "acme", "--user", "cli-user", "--scopes", "read,ingest"], env);
    expect(res.stderr).not.toMatch(/error/i);
    expect(res.code).toBe(0);
    const key = /^key:\s+(\S+)$/m.exec(res.stdout)?.[1];
    const id = /^id:\s+(\S+)$/m.exec(res.stdout)?.[1];
    expect(key).toMatch(/^usk_/);
    const viewer = await t.graphql(VIEWER, undefined, bearer(key!));
    expect(viewer.body.errors).toBeUndefined();
    expect(viewer.body.data!.viewer).toEqual({
      keyId: id,
      organization: { id: "acme" },
      user: { id: "cli-user" },
      scopes: ["read", "ingest"],
      clusterAdmin: false,
      onBehalfOf: null,
    });
    // The CLI stores the same hash-only document as the REST endpoint.
    const doc = await t.mongo.db.collection("api_keys").findOne({ _id: id as unknown as never });
    expect(doc).toMatchObject({ secret_hash: sha256(key!), created_by: "cli" });
    expect(JSON.stringify(doc)).not.toContain(key!);
  });

  it.each([
    ["without --user and --scopes", ["create", "--org", "acme"], /--user|--scopes/],
    ["with an unknown scope", ["create", "--org", "acme", "--user", "u", "--scopes", "read,root"], /--scopes/],
    ["without the create command", ["--org", "acme", "--user", "u", "--scopes", "read"], /usage:/],
    ["with an unknown option", ["create", "--org", "acme", "--user", "u", "--scopes", "read", "--bogus"], /bogus/],
  ])("exits non-zero with a message on stderr %s", async (_name, args, message) => {
    const before = await t.mongo.db.collection("api_keys").countDocuments();
    const res = await run("npx", ["tsx", "scripts/keys.ts", ...args], env);
    expect(res.code).not.toBe(0);
    expect(res.code).not.toBeNull();
    expect(res.stderr).toMatch(message);
    expect(res.stdout).not.toMatch(/^key:/m);
    expect(await t.mongo.db.collection("api_keys").countDocuments()).toBe(before);
  });
});
