/**
 * OpenComputer's own TypeScript SDK (`@opencomputer/sdk`, pinned as a dev dependency) driven
 * unchanged against this service over HTTP (DESIGN §8): every method of `Usage` and `Tags`, and
 * every answer checked against the type its `dist/usage.d.ts` declares, read from that file by
 * the TypeScript compiler (test/helpers/dts-shapes.ts). Every property the file declares on a
 * response type is seen at least once; optional `alias` is seen present and seen absent.
 *
 * NOW = 2026-05-28T12:00:00Z.
 * | sandbox  | session            | memory_mb | disk_mb | alias | tags                     |
 * | sb-alpha | 05-28 10:00 – 11:00 | 1024      | 30720   | alpha | team=payments, env=prod  |
 * | sb-beta  | 05-28 10:30 – 11:00 | 2048      | 0       | —     | team=growth              |
 * | sb-gamma | 05-28 11:30 – open  | 512       | 0       | —     | —                        |
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fileURLToPath } from "node:url";
import { Tags, Usage } from "../../node_modules/@opencomputer/sdk/dist/usage.js";
import { fixedClock } from "../../src/clock.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { DeclaredTypes } from "../helpers/dts-shapes.js";
import { ingest, memorySample, start, stop } from "../helpers/events.js";

const DTS = fileURLToPath(new URL("../../node_modules/@opencomputer/sdk/dist/usage.d.ts", import.meta.url));
const declared = new DeclaredTypes(DTS);

let t: TestApp;
let base: string;
let usage: Usage;
let tags: Tags;
let otherOrg: Usage;

/** The answer, after checking it against the declared return type of `Class.method`. */
function conforms<T>(className: "Usage" | "Tags", method: string, value: T): T {
  expect(declared.checkReturn(className, method, value), JSON.stringify(value).slice(0, 400)).toEqual([]);
  return value;
}

beforeAll(async () => {
  t = await startTestApp({ label: "ocsdk", clock: fixedClock("2026-05-28T12:00:00Z") });
  const admin = await t.key("sdk", "admin", ["read", "ingest", "admin"]);
  await ingest(t, admin, [
    start("alpha", "2026-05-28T10:00:00Z", { sandbox_id: "sb-alpha", disk_mb: 30720, alias: "alpha", tags: { team: "payments", env: "prod" } }),
    stop("alpha", "2026-05-28T11:00:00Z", { sandbox_id: "sb-alpha" }),
    start("beta", "2026-05-28T10:30:00Z", { sandbox_id: "sb-beta", memory_mb: 2048, tags: { team: "growth" } }),
    stop("beta", "2026-05-28T11:00:00Z", { sandbox_id: "sb-beta" }),
    start("gamma", "2026-05-28T11:30:00Z", { sandbox_id: "sb-gamma", memory_mb: 512 }),
    memorySample("sb-alpha", "2026-05-28T10:00:30Z", 600),
    memorySample("sb-alpha", "2026-05-28T10:01:30Z", 700),
  ]);
  await t.app.listen({ host: "127.0.0.1", port: 0 });
  const address = t.app.server.address();
  if (address === null || typeof address === "string") throw new Error("not listening on a port");
  base = `http://127.0.0.1:${address.port}`;
  usage = new Usage(base, admin);
  tags = new Tags(base, admin);
  otherOrg = new Usage(base, await t.key("other", "reader", ["read"]));
}, 60_000);
afterAll(() => t?.close());

describe("Usage (the SDK's usage client)", () => {
  it("forSandbox: a sandbox with an alias carries it; the totals and points are the declared numbers", async () => {
    const r = conforms("Usage", "forSandbox", await usage.forSandbox("sb-alpha", { from: "2026-05-28T10:00:00Z", to: "2026-05-28T10:02:00Z" }));
    expect(r.sandboxId).toBe("sb-alpha");
    expect(r.alias).toBe("alpha");
    expect([r.from, r.to]).toEqual(["2026-05-28T10:00:00Z", "2026-05-28T10:02:00Z"]);
    expect(r.points.map((p) => p.ts)).toEqual(["2026-05-28T10:00:00Z", "2026-05-28T10:01:00Z"]);
    // 1024 MiB for 120 s = 120 GiB-s; used 600 and 700 MiB for 60 s each: 35.16 + 41.02 (points rounded, totals their sum).
    expect(r.totals).toEqual({ memoryAllocatedGbSeconds: 120, memoryUsedGbSeconds: 76.18, uptimeSeconds: 120, memoryAllocatedPeakMb: 1024, memoryUsedPeakMb: 700 });
  });

  it("forSandbox: a sandbox without an alias has no alias property at all (alias?: string, never null)", async () => {
    const r = conforms("Usage", "forSandbox", await usage.forSandbox("sb-beta"));
    expect(Object.hasOwn(r, "alias")).toBe(false);
    expect(r.points).toHaveLength(60);
  });

  it("bySandbox: every item as UsageSandboxItem, alias only where one was given", async () => {
    const r = conforms("Usage", "bySandbox", await usage.bySandbox());
    expect(r.groupBy).toBe("sandbox");
    // alpha 1 × 3,600; beta 2 × 1,800; gamma 0.5 × 1,800 (open until now).
    expect(r.items.map((i) => [i.sandboxId, i.memoryGbSeconds, i.diskOverageGbSeconds])).toEqual([
      ["sb-alpha", 3600, 36000],
      ["sb-beta", 3600, 0],
      ["sb-gamma", 900, 0],
    ]);
    const byId = Object.fromEntries(r.items.map((i) => [i.sandboxId, i]));
    expect(byId["sb-alpha"]!.alias).toBe("alpha");
    expect(Object.hasOwn(byId["sb-beta"]!, "alias")).toBe(false);
    expect(Object.hasOwn(byId["sb-gamma"]!, "alias")).toBe(false);
    expect(byId["sb-gamma"]!.status).toBe("running");
    expect(byId["sb-gamma"]!.tagsLastUpdatedAt).toBeNull();
    expect(r.total).toEqual({ memoryGbSeconds: 8100, diskOverageGbSeconds: 36000 });
  });

  it("bySandbox: sort, filter, limit and cursor as the SDK sends them", async () => {
    const first = conforms("Usage", "bySandbox", await usage.bySandbox({ sort: "-diskOverageGbSeconds", limit: 2, filter: { "tag:team": "payments,growth" } }));
    expect(first.items.map((i) => i.sandboxId)).toEqual(["sb-alpha", "sb-beta"]);
    expect(first.nextCursor).toBeNull();
    const page1 = conforms("Usage", "bySandbox", await usage.bySandbox({ limit: 1 }));
    expect(typeof page1.nextCursor).toBe("string");
    const page2 = conforms("Usage", "bySandbox", await usage.bySandbox({ limit: 1, cursor: page1.nextCursor! }));
    expect([...page1.items, ...page2.items].map((i) => i.sandboxId)).toEqual(["sb-alpha", "sb-beta"]);
    const untaggedOnly = conforms("Usage", "bySandbox", await usage.bySandbox({ filter: { "tag:team": "" } }));
    expect(untaggedOnly.items.map((i) => i.sandboxId)).toEqual(["sb-gamma"]);
  });

  it("byTag: rows and untagged carry sandboxCount, the distinct sandboxes with usage in each", async () => {
    const r = conforms("Usage", "byTag", await usage.byTag("team"));
    expect(r.groupBy).toBe("tag:team");
    // A tie at 3,600 GiB-s: by value, growth first.
    expect(r.items).toEqual([
      { tagKey: "team", tagValue: "growth", memoryGbSeconds: 3600, diskOverageGbSeconds: 0, sandboxCount: 1 },
      { tagKey: "team", tagValue: "payments", memoryGbSeconds: 3600, diskOverageGbSeconds: 36000, sandboxCount: 1 },
    ]);
    expect(r.untagged).toEqual({ memoryGbSeconds: 900, diskOverageGbSeconds: 0, sandboxCount: 1 });
    const env = conforms("Usage", "byTag", await usage.byTag("env", { from: "2026-05-28T00:00:00Z", to: "2026-05-28T12:00:00Z" }));
    expect(env.items).toEqual([{ tagKey: "env", tagValue: "prod", memoryGbSeconds: 3600, diskOverageGbSeconds: 36000, sandboxCount: 1 }]);
    expect(env.untagged).toEqual({ memoryGbSeconds: 4500, diskOverageGbSeconds: 0, sandboxCount: 2 });
  });

  it("byTag for a key no sandbox has: no rows, everything untagged with its sandboxCount", async () => {
    const r = conforms("Usage", "byTag", await usage.byTag("nobody"));
    expect(r.items).toEqual([]);
    expect(r.untagged).toEqual({ memoryGbSeconds: 8100, diskOverageGbSeconds: 36000, sandboxCount: 3 });
    const empty = conforms("Usage", "byTag", await otherOrg.byTag("team"));
    expect(empty.untagged).toEqual({ memoryGbSeconds: 0, diskOverageGbSeconds: 0, sandboxCount: 0 });
  });

  it("errors reach the SDK as its own thrown Error with the status and the {error} body", async () => {
    await expect(usage.forSandbox("sb-nope")).rejects.toThrow(/^Failed to fetch sandbox usage: 404 \{"error":/);
    await expect(usage.bySandbox({ limit: 501 })).rejects.toThrow(/^Failed to fetch usage: 400 \{"error":/);
    await expect(new Usage(base, "usk_wrong_key").bySandbox()).rejects.toThrow(/^Failed to fetch usage: 401 /);
  });
});

describe("Tags (the SDK's tag client)", () => {
  it("listKeys: TagKeyInfo per key", async () => {
    const keys = conforms("Tags", "listKeys", await tags.listKeys());
    expect(keys).toEqual([
      { key: "env", sandboxCount: 1, valueCount: 1 },
      { key: "team", sandboxCount: 2, valueCount: 2 },
    ]);
  });

  it("get, set and clear: the declared {tags, tagsLastUpdatedAt}", async () => {
    const got = conforms("Tags", "get", await tags.get("sb-alpha"));
    expect(got).toEqual({ tags: { env: "prod", team: "payments" }, tagsLastUpdatedAt: "2026-05-28T10:00:00Z" });
    const set = conforms("Tags", "set", await tags.set("sb-gamma", { team: "growth", "cost.center": "42" }));
    expect(set).toEqual({ tags: { "cost.center": "42", team: "growth" }, tagsLastUpdatedAt: "2026-05-28T12:00:00Z" });
    const grown = conforms("Usage", "byTag", await usage.byTag("team"));
    expect(grown.items.find((i) => i.tagValue === "growth")).toMatchObject({ memoryGbSeconds: 4500, sandboxCount: 2 });
    const cleared = conforms("Tags", "set", await tags.set("sb-gamma", {}));
    expect(cleared).toEqual({ tags: {}, tagsLastUpdatedAt: null });
    await expect(tags.set("sb-gamma", { "oc:reserved": "x" })).rejects.toThrow(/^Failed to set tags: 400 /);
  });
});

it("every property the .d.ts declares on a response type was present in some answer", () => {
  const missing = [...declared.reachableProperties()].filter((p) => !declared.seen.has(p));
  expect(missing).toEqual([]);
  // The file's response types really were read (a broken reader would see none).
  expect(declared.reachableProperties()).toContain("UsageUntaggedBucket.sandboxCount");
  expect(declared.reachableProperties()).toContain("UsageTagItem.sandboxCount");
});
