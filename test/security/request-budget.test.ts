/**
 * One database time budget per request (REQUEST_DB_TIME_MS): every query of a request gets what is
 * left of it as maxTimeMS (never more than QUERY_TIMEOUT_MS), and once it is spent the request
 * answers 504 — so many queries in one request cannot add up to more than the budget.
 */
import { failCommand } from "../helpers/failpoints.js";
import type { CommandStartedEvent } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { queryOptions, runPlanned } from "../../src/deps.js";
import { asAppError } from "../../src/errors.js";
import { maxTimeMS, renewedBudget, withRequestBudget } from "../../src/request-budget.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { ingest, memorySample, start } from "../helpers/events.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The maxTimeMS of every aggregate the driver sends while recording. */
function recordMaxTimes(t: TestApp) {
  const seen: number[] = [];
  const listener = (e: CommandStartedEvent) => {
    if (e.commandName === "aggregate") seen.push(Number(e.command.maxTimeMS));
  };
  t.mongo.client.on("commandStarted", listener);
  return { seen, stop: () => t.mongo.client.off("commandStarted", listener) };
}

describe("the request's database time budget", () => {
  let t: TestApp;
  let key: string;

  beforeAll(async () => {
    // A per-query timeout far above the request budget: a 504 here is the budget's doing.
    t = await startTestApp({
      label: "budget",
      clock: fixedClock("2026-05-31T00:00:00Z"),
      env: { QUERY_TIMEOUT_MS: "60000", REQUEST_DB_TIME_MS: "50" },
      monitorCommands: true,
    });
    key = await t.key("acme", "alice", ["read", "ingest"]);
    // A sandbox that ran the whole month: its 30-day per-minute series (43,200 gap-filled minutes).
    // Where a test needs a query to run out of time, the server is made to stop it at its maxTimeMS
    // (a fail point), so that the verdicts hold at any speed.
    await ingest(t, key, [start("long", "2026-05-01T00:00:00Z", { sandbox_id: "sb-long" }), memorySample("sb-long", "2026-05-02T00:00:00Z", 100)]);
  });
  afterAll(() => t.close());

  it("gives each later query only what is left, over the real driver", async () => {
    const recorded = recordMaxTimes(t);
    const planned = { collection: "sessions", pipeline: [{ $match: { org_id: "acme" } }, { $count: "n" }] };
    await withRequestBudget(1_000, async () => {
      await runPlanned(t.deps, planned);
      await sleep(300);
      await runPlanned(t.deps, planned);
    });
    recorded.stop();
    expect(recorded.seen).toHaveLength(2);
    expect(recorded.seen[0]).toBeLessThanOrEqual(1_000);
    // At least the 300 ms slept are gone from the second query's share.
    expect(recorded.seen[1]).toBeLessThanOrEqual(700);
    // Outside any request the per-query timeout applies as before.
    expect(queryOptions(t.deps).maxTimeMS).toBe(60_000);
  });

  it("refuses to start a query once the budget is spent (504, never maxTimeMS 0, which means no limit)", async () => {
    const spent = await withRequestBudget(20, async () => {
      await sleep(40);
      return (() => maxTimeMS(60_000))();
    }).catch((e: unknown) => e);
    expect(asAppError(spent)).toMatchObject({ kind: "TIMEOUT", status: 504 });
  });

  it("gives each page of a CSV export a budget of its own (the export is the whole answer)", async () => {
    const perPage = await withRequestBudget(30, async () => {
      await sleep(40); // the request's budget is spent…
      return renewedBudget(() => maxTimeMS(60_000)); // …the next page still gets its 30 ms
    });
    expect(perPage).toBeGreaterThan(0);
    expect(perPage).toBeLessThanOrEqual(30);
  });

  it("GraphQL: every aggregation of a request shares the 50 ms, and the request answers TIMEOUT with HTTP 504", async () => {
    const recorded = recordMaxTimes(t);
    // The server stops the first aggregation at its maxTimeMS, as MongoDB does when it runs past it:
    // whether the 30-day series fits in 50 ms depends on the machine, the verdict must not.
    await failCommand(t.mongo.client, { times: 1 }, { failCommands: ["aggregate"], errorCode: 50 });
    const res = await t.graphql(
      `{ sandbox(id: "sb-long") { memoryUsage(from: "2026-05-01", to: "2026-05-31") { totals { uptimeSeconds } } } usageRollup { periodStart } }`,
      {},
      { "x-api-key": key },
    );
    recorded.stop();
    expect(res.status).toBe(504);
    expect(res.body.errors?.map((e) => e.extensions?.code)).toContain("TIMEOUT");
    for (const ms of recorded.seen) expect(ms).toBeLessThanOrEqual(50);
  });

  it("REST: the same budget, in the vendor's envelope", async () => {
    // The database stops the query at the maxTimeMS it was sent (deterministic on any machine).
    await failCommand(t.mongo.client, { times: 1 }, { failCommands: ["aggregate"], errorCode: 50 });
    const res = await t.app.inject({ url: "/api/sandboxes/sb-long/usage?from=2026-05-01&to=2026-05-31", headers: { "x-api-key": key } });
    expect(res.statusCode).toBe(504);
    expect(res.json()).toEqual({ error: expect.stringMatching(/^The (query|request) exceeded its (database )?time budget$/) });
  });
});
