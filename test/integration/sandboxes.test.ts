import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { ingest, memorySample, start, stop } from "../helpers/events.js";

/**
 * Sandboxes are derived at ingest from what is stored (like sessions): whatever order and batching
 * their events arrive in, every org ends with the same sandbox documents. The alias is the earliest
 * session's that carried one; the tags are the latest tagged session_start's.
 */
const SB = "sb-shared";
/** Three sessions of one sandbox: the first without alias or tags, the later two with both. */
const TIMELINE = [
  start("s1", "2026-05-01T10:00:00Z", { sandbox_id: SB }),
  stop("s1", "2026-05-01T11:00:00Z", { sandbox_id: SB }),
  start("s2", "2026-05-02T10:00:00Z", { sandbox_id: SB, alias: "first-alias", tags: { team: "core", env: "prod" } }),
  stop("s2", "2026-05-02T11:00:00Z", { sandbox_id: SB }),
  start("s3", "2026-05-03T10:00:00Z", { sandbox_id: SB, alias: "second-alias", tags: { team: "growth" } }),
  memorySample(SB, "2026-05-03T10:00:30Z", 100),
  memorySample("sb-memory-only", "2026-05-03T10:00:30Z", 100),
];

/** A deterministic shuffle (same on every run). */
function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let a = seed;
  for (let i = out.length - 1; i > 0; i--) {
    a = (a * 1103515245 + 12345) % 2 ** 31;
    const j = a % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe("sandbox derivation at ingest", () => {
  let t: TestApp;
  const sandboxesOf = (org: string) =>
    // alias_at/alias_session: which start the alias came from (bookkeeping for the next one).
    t.deps.cols.sandboxes.find({ org_id: org }, { projection: { _id: 0, alias_at: 0, alias_session: 0 } }).sort({ sandbox_id: 1 }).toArray();

  beforeAll(async () => {
    t = await startTestApp({ clock: fixedClock("2026-05-04T00:00:00Z"), label: "sandboxes" });
  });
  afterAll(() => t.close());

  it("in time order, one event per batch: alias of the earliest aliased session, tags of the latest tagged one", async () => {
    const key = await t.key("in-order", "alice", ["ingest"]);
    for (const e of TIMELINE) await ingest(t, key, [e]);
    expect(await sandboxesOf("in-order")).toEqual([
      // Named only by a memory sample: known, without alias or tags.
      { org_id: "in-order", sandbox_id: "sb-memory-only", tags: [], tags_updated_at: null },
      { org_id: "in-order", sandbox_id: SB, alias: "first-alias", tags: [{ key: "team", value: "growth" }], tags_updated_at: new Date("2026-05-03T10:00:00Z"), tags_event_at: new Date("2026-05-03T10:00:00Z") },
    ]);
  });

  it("reversed, shuffled or all at once, every org converges on the same documents", async () => {
    const expected = (org: string) => [
      { org_id: org, sandbox_id: "sb-memory-only", tags: [], tags_updated_at: null },
      { org_id: org, sandbox_id: SB, alias: "first-alias", tags: [{ key: "team", value: "growth" }], tags_updated_at: new Date("2026-05-03T10:00:00Z"), tags_event_at: new Date("2026-05-03T10:00:00Z") },
    ];
    const orders: Array<[string, Array<Array<Record<string, unknown>>>]> = [
      ["reversed", [...TIMELINE].reverse().map((e) => [e])],
      ["shuffled", shuffled(TIMELINE, 7).map((e) => [e])],
      ["one-batch", [shuffled(TIMELINE, 3)]],
      ["two-batches", [TIMELINE.slice(4), TIMELINE.slice(0, 4)]],
    ];
    for (const [org, batches] of orders) {
      const key = await t.key(org, "alice", ["ingest"]);
      for (const batch of batches) await ingest(t, key, batch.map((e) => ({ ...e, id: `${org}-${e.id}` })));
      expect(await sandboxesOf(org), org).toEqual(expected(org));
    }
  });

  it("re-sending events changes nothing", async () => {
    const key = await t.key("resend", "alice", ["ingest"]);
    await ingest(t, key, TIMELINE);
    const before = await sandboxesOf("resend");
    const res = await t.app.inject({
      method: "POST",
      url: "/api/v1/usage/events",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      payload: JSON.stringify({ events: TIMELINE }),
    });
    expect(res.json()).toEqual({ accepted: 0, duplicates: TIMELINE.length });
    expect(await sandboxesOf("resend")).toEqual(before);
  });
});
