/**
 * MKA1 sandbox usage paging: `limit` buckets per page (defaults and maxima per width), `next_page`
 * tokens that chain to exactly the unpaged answer, and a defaulted end_time pinned by the first page.
 * Fixture and expected-number helpers: mka1-fixture.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Clock, fixedClock } from "../../src/clock.js";
import type { SandboxUsagePageJson } from "../../src/services/sandboxUsage.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { bucket, expectSpecShape, getUsage, ingestFixture, NOW, row, unix } from "./mka1-fixture.js";

let t: TestApp;
let readKey: string;
// Pinned at NOW; one test moves it to later pinned times to show what a page token keeps.
let clock: Clock = fixedClock(NOW);

beforeAll(async () => {
  t = await startTestApp({ clock: { now: () => clock.now() }, label: "mka1paging" });
  await ingestFixture(t);
  readKey = await t.key("acme", "alice", ["read"]);
});
afterAll(() => t?.close());
afterEach(() => {
  clock = fixedClock(NOW);
});

async function page(query: string): Promise<SandboxUsagePageJson> {
  const res = await getUsage(t, readKey, query);
  expect(res.statusCode, res.body).toBe(200);
  const body = res.json();
  expectSpecShape(body);
  return body;
}

/** Follows next_page from the first page to the last; returns every page. */
async function allPages(query: string): Promise<SandboxUsagePageJson[]> {
  const pages = [await page(query)];
  while (pages.at(-1)!.has_more) {
    expect(pages.length, "runaway paging").toBeLessThan(50);
    pages.push(await page(`${query}&page=${encodeURIComponent(pages.at(-1)!.next_page!)}`));
  }
  return pages;
}

/** Chains the pages of `query`, checks the has_more/next_page flags, and compares with one page of `limit`. */
async function expectChainEqualsUnpaged(query: string, unpagedLimit: number, pageSizes: number[]) {
  const pages = await allPages(query);
  expect(pages.map((p) => p.data.length)).toEqual(pageSizes);
  pages.forEach((p, i) => {
    const last = i === pages.length - 1;
    expect(p.has_more).toBe(!last);
    if (last) expect(p.next_page).toBeNull();
    else expect(typeof p.next_page).toBe("string");
  });
  const unpaged = await page(`${query}&limit=${unpagedLimit}`);
  expect(unpaged.has_more).toBe(false);
  expect(unpaged.next_page).toBeNull();
  expect(pages.flatMap((p) => p.data)).toStrictEqual(unpaged.data);
  return unpaged;
}

describe("page chaining", () => {
  it("1d: 27 days at the default 7 per page chain to the unpaged answer, empty pages included", async () => {
    // 2026-05-01 to 2026-05-28 is 27 days: pages of 7, 7, 7 and 6. Only the last two days have operations.
    const q = `start_time=${unix("2026-05-01T00:00:00Z")}&end_time=${unix("2026-05-28T00:00:00Z")}&bucket_width=1d`;
    const unpaged = await expectChainEqualsUnpaged(q, 31, [7, 7, 7, 6]);
    expect(unpaged.data[0]).toStrictEqual(bucket("2026-05-01T00:00:00Z", "1d", []));
    expect(unpaged.data.slice(0, 25).every((b) => b.results.length === 0)).toBe(true);
    // The 26th: a1; the 27th: a2..a11 (see the 1d table in mka1.test.ts).
    expect(unpaged.data[25]).toStrictEqual(bucket("2026-05-26T00:00:00Z", "1d", [row([1, 1, 1, 1, 0, 0, 0, 0, null, 512])]));
    expect(unpaged.data[26]).toStrictEqual(bucket("2026-05-27T00:00:00Z", "1d", [row([10, 4, 18, 2046, 5110, 2360, 7, 2, 2047.5, 2048])]));
  });

  it("1h: 48 hours at the default 24 per page, grouped by user", async () => {
    const q = `start_time=${unix("2026-05-26T00:00:00Z")}&end_time=${unix("2026-05-28T00:00:00Z")}&bucket_width=1h&group_by=user_id`;
    const unpaged = await expectChainEqualsUnpaged(q, 48, [24, 24]);
    // Rows per hour: 23h on the 26th (a1, alice), 00h on the 27th (a2, alice), 10h (alice, bob), 11h (alice, bob), 12h (bob).
    const rows = unpaged.data.map((b) => b.results.map((r) => r.user_id).join(","));
    const expected = Array<string>(48).fill("");
    expected[23] = "alice";
    expected[24] = "alice";
    expected[34] = "alice,bob";
    expected[35] = "alice,bob";
    expected[36] = "bob";
    expect(rows).toEqual(expected);
    // Every acme operation is inside the two days: 11 in all.
    expect(unpaged.data.flatMap((b) => b.results).reduce((n, r) => n + Number(r.num_operations), 0)).toBe(11);
  });

  it("1m: 150 minutes at the default 60 per page, grouped by operation", async () => {
    // 09:30 to 12:00: pages 09:30-10:29, 10:30-11:29, 11:30-11:59.
    const q = `start_time=${unix("2026-05-27T09:30:00Z")}&end_time=${unix("2026-05-27T12:00:00Z")}&bucket_width=1m&group_by=operation`;
    const unpaged = await expectChainEqualsUnpaged(q, 150, [60, 60, 30]);
    // Operations fall in 10:00 (index 30: a3, a4, a5), 10:01 (31: a6, a7), 11:05 (95: a8) and 11:30 (120: a9).
    const busy = unpaged.data.flatMap((b, i) => (b.results.length > 0 ? [[i, b.results.map((r) => r.operation).join(",")]] : []));
    expect(busy).toEqual([
      [30, "command,session_start"],
      [31, "code,workspace_upload"],
      [95, "session_stop"],
      [120, "command"],
    ]);
  });

  it("a small limit gives short pages that still chain exactly", async () => {
    // 10:00 to 10:30 is 30 minutes: pages of 7, 7, 7, 7 and 2.
    const q = `start_time=${unix("2026-05-27T10:00:00Z")}&end_time=${unix("2026-05-27T10:30:00Z")}&bucket_width=1m&limit=7&group_by=api_key_id`;
    const pages = await allPages(q);
    expect(pages.map((p) => p.data.length)).toEqual([7, 7, 7, 7, 2]);
    const unpaged = await page(q.replace("limit=7", "limit=30"));
    expect(pages.flatMap((p) => p.data)).toStrictEqual(unpaged.data);
    // The first page opens with 10:00 (null key: a5; ak-1: a3, a4) and 10:01 (null: a6; ak-1: a7).
    expect(pages[0]!.data[0]!.results.map((r) => [r.api_key_id, r.num_operations])).toEqual([[null, 1], ["ak-1", 2]]);
    expect(pages[0]!.data[1]!.results.map((r) => [r.api_key_id, r.num_operations])).toEqual([[null, 1], ["ak-1", 1]]);
  });

  it("a defaulted end_time chains too: 37 hours up to now at 24 per page", async () => {
    // From 2026-05-26T00:00 to now (2026-05-27T12:34:56): 36 whole hours and a part, so 37 buckets.
    const q = `start_time=${unix("2026-05-26T00:00:00Z")}&bucket_width=1h`;
    const unpaged = await expectChainEqualsUnpaged(q, 37, [24, 13]);
    // The last bucket is 12h with a10 only: a11 (12:50) is after now.
    expect(unpaged.data.at(-1)).toStrictEqual(bucket("2026-05-27T12:00:00Z", "1h", [row([1, 1, 1, 512, 0, 0, 0, 0, null, 256])]));
  });

  it("a page token keeps the end_time that defaulted to now on the first page", async () => {
    const q = `start_time=${unix("2026-05-27T10:00:00Z")}&bucket_width=1h&limit=2`;
    const first = await page(q); // 10h and 11h of 3 buckets (now is 12:34:56)
    expect(first.has_more).toBe(true);
    // An hour later a11 (12:50) is in the past and a fresh query would count it and run to 13:34:56 …
    clock = fixedClock("2026-05-27T13:34:56Z");
    const fresh = await page(`${q}&limit=3`);
    expect(fresh.data.map((b) => b.results[0]?.num_operations ?? 0)).toEqual([5, 2, 2]);
    // … but the second page continues the first query: still ending at 12:34:56, so 12h holds a10 alone.
    const second = await page(`${q}&page=${encodeURIComponent(first.next_page!)}`);
    expect(second).toStrictEqual({
      object: "page",
      data: [bucket("2026-05-27T12:00:00Z", "1h", [row([1, 1, 1, 512, 0, 0, 0, 0, null, 256])])],
      has_more: false,
      next_page: null,
    });
  });

  it("refuses a page token older than a day", async () => {
    const q = `start_time=${unix("2026-05-27T10:00:00Z")}&end_time=${unix("2026-05-27T12:00:00Z")}&bucket_width=1m`;
    const first = await page(q);
    clock = fixedClock("2026-05-28T12:35:00Z");
    const res = await getUsage(t, readKey, `${q}&page=${encodeURIComponent(first.next_page!)}`);
    expect(res.statusCode).toBe(422);
    expect(res.json()).toStrictEqual({ detail: [{ loc: ["query", "page"], msg: expect.any(String), type: "value_error" }] });
  });
});

describe("limit", () => {
  // Ranges longer than the maximum page of each width.
  const days = `start_time=${unix("2026-04-01T00:00:00Z")}&end_time=${unix("2026-05-28T00:00:00Z")}&bucket_width=1d`; // 57 days
  const hours = `start_time=${unix("2026-05-20T00:00:00Z")}&end_time=${unix("2026-05-28T00:00:00Z")}&bucket_width=1h`; // 192 hours
  const minutes = `start_time=${unix("2026-05-26T00:00:00Z")}&end_time=${unix("2026-05-27T12:00:00Z")}&bucket_width=1m`; // 2160 minutes

  it.each([
    ["1d", days, 7, 31, "2026-04-01T00:00:00Z"],
    ["1h", hours, 24, 168, "2026-05-20T00:00:00Z"],
    ["1m", minutes, 60, 1440, "2026-05-26T00:00:00Z"],
  ] as const)("%s: default %i buckets per page, at most %i", async (width, q, dflt, max, firstStart) => {
    const byDefault = await page(q);
    expect(byDefault.data).toHaveLength(dflt);
    expect(byDefault.has_more).toBe(true);
    expect(byDefault.data[0]!.start_time).toBe(unix(firstStart));
    const atMax = await page(`${q}&limit=${max}`);
    expect(atMax.data).toHaveLength(max);
    expect(atMax.has_more).toBe(true);
    const w = { "1d": 86400, "1h": 3600, "1m": 60 }[width];
    expect(atMax.data.every((b, i) => b.start_time === unix(firstStart) + i * w && b.end_time === b.start_time + w)).toBe(true);

    const over = await getUsage(t, readKey, `${q}&limit=${max + 1}`);
    expect(over.statusCode).toBe(422);
    expect(over.json()).toStrictEqual({ detail: [{ loc: ["query", "limit"], msg: expect.stringContaining(String(max)), type: "less_than_equal" }] });
    const zero = await getUsage(t, readKey, `${q}&limit=0`);
    expect(zero.statusCode).toBe(422);
    expect(zero.json()).toStrictEqual({ detail: [{ loc: ["query", "limit"], msg: "Input should be greater than or equal to 1", type: "greater_than_equal" }] });
  });

  it("a limit above the range's bucket count gives one last page", async () => {
    const p = await page(`start_time=${unix("2026-05-26T00:00:00Z")}&end_time=${unix("2026-05-28T00:00:00Z")}&limit=31`);
    expect(p.data).toHaveLength(2);
    expect(p.has_more).toBe(false);
    expect(p.next_page).toBeNull();
  });

  it("a page with no operations at all still lists its buckets", async () => {
    // A week in April: no fixture operation, seven empty buckets.
    const p = await page(`start_time=${unix("2026-04-06T00:00:00Z")}&end_time=${unix("2026-04-13T00:00:00Z")}&group_by=user_id`);
    expect(p.data).toStrictEqual(Array.from({ length: 7 }, (_, i) => bucket(`2026-04-${String(6 + i).padStart(2, "0")}T00:00:00Z`, "1d", [])));
    expect(p.has_more).toBe(false);
  });
});
