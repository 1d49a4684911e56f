/**
 * MKA1 `GET /api/v1/sandbox/usage` (and `Query.sandboxUsage`): the numbers. Every expected value
 * is worked out by hand from the fixture table in mka1-fixture.ts (aN are its acme operations;
 * duration_ms sums are sums of their powers of two). Paging is in mka1-paging.test.ts, errors,
 * auth and tenancy in mka1-access.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { bucket, expectSpecShape, getUsage, ingestFixture, lastPage, NOW, row, SANDBOX_USAGE_QUERY, toSnake, unix } from "./mka1-fixture.js";

let t: TestApp;
let readKey: string;

beforeAll(async () => {
  t = await startTestApp({ clock: fixedClock(NOW), label: "mka1" });
  await ingestFixture(t);
  readKey = await t.key("acme", "alice", ["read"]);
});
afterAll(() => t?.close());

/** A 200 answer's page, checked against the spec's shape on the way. */
async function usage(query: string, headers: Record<string, string> = {}) {
  const res = await getUsage(t, readKey, query, headers);
  expect(res.statusCode, res.body).toBe(200);
  const page = res.json();
  expectSpecShape(page);
  return page;
}

describe("1d buckets, 2026-05-26T00:00Z to 2026-05-28T00:00Z (two buckets)", () => {
  const range = `start_time=${unix("2026-05-26T00:00:00Z")}&end_time=${unix("2026-05-28T00:00:00Z")}&bucket_width=1d`;
  const D26 = "2026-05-26T00:00:00Z";
  const D27 = "2026-05-27T00:00:00Z";
  // a1 (23:59:59 on the 26th) is the 26th's only operation: session s3, 1 request, 1 ms, reserved 512, no peak.
  const a1 = [1, 1, 1, 1, 0, 0, 0, 0, null, 512] as const;

  it("ungrouped: one result per bucket with every dimension null", async () => {
    expect(await usage(range)).toStrictEqual(
      lastPage([
        bucket(D26, "1d", [row([...a1])]),
        // The 27th: a2..a11 = 10 operations in sessions s3, s1, s2, s4 (4); requests 2+1+3+1+1+2+1+5+1+1 = 18;
        // duration 2+4+…+1024 = 2046; bytes in 10+100+5000 = 5110; out 20+2000+300+40 = 2360; files 2+4+1 = 7;
        // OOM a7, a9 = 2; peak max(256, 512.5, 1800, 1023.75, 2047.5, 100) = 2047.5; reserved max(512, 1024, 2048, 256) = 2048.
        bucket(D27, "1d", [row([10, 4, 18, 2046, 5110, 2360, 7, 2, 2047.5, 2048])]),
      ]),
    );
  });

  it("the default bucket_width is 1d", async () => {
    const explicit = await usage(range);
    expect(await usage(range.replace("&bucket_width=1d", ""))).toStrictEqual(explicit);
  });

  it("group_by=user_id", async () => {
    expect(await usage(`${range}&group_by=user_id`)).toStrictEqual(
      lastPage([
        bucket(D26, "1d", [row([...a1], { user_id: "alice" })]),
        bucket(D27, "1d", [
          // alice: a2, a3, a4, a7, a8; sessions s3, s1; requests 2+1+3+2+1 = 9; 2+4+8+64+128 = 206 ms; in 10+100; out 20+2000+300;
          // files 2+1; OOM a7; peak max(256, 512.5, 1023.75); reserved max(512, 1024) (a8's nulls are ignored).
          row([5, 2, 9, 206, 110, 2320, 3, 1, 1023.75, 1024], { user_id: "alice" }),
          // bob: a5, a6, a9, a10, a11; sessions s2, s4; requests 1+1+5+1+1 = 9; 16+32+256+512+1024 = 1840 ms; in 5000; out 40;
          // files 4; OOM a9; peak max(1800, 2047.5, 100); reserved max(2048, 256).
          row([5, 2, 9, 1840, 5000, 40, 4, 1, 2047.5, 2048], { user_id: "bob" }),
        ]),
      ]),
    );
  });

  it("group_by=api_key_id: operations without a key form a null row", async () => {
    expect(await usage(`${range}&group_by=api_key_id`)).toStrictEqual(
      lastPage([
        bucket(D26, "1d", [row([...a1], { api_key_id: "ak-2" })]),
        bucket(D27, "1d", [
          // null (a5 sent no api_key_id, a6 sent null): session s2; 1+1 requests; 16+32 = 48 ms; in 5000; files 4; peak 1800; reserved 2048.
          row([2, 1, 2, 48, 5000, 0, 4, 0, 1800, 2048], { api_key_id: null }),
          // ak-1: a3, a4, a7, a8, a10, a11; sessions s1, s4; requests 1+3+2+1+1+1 = 9; 4+8+64+128+512+1024 = 1740 ms; in 100;
          // out 2000+300; files 2+1; OOM a7; peak max(512.5, 1023.75, 100); reserved max(1024, 256).
          row([6, 2, 9, 1740, 100, 2300, 3, 1, 1023.75, 1024], { api_key_id: "ak-1" }),
          // ak-2: a2 (s3) and a9 (s2); requests 2+5; 2+256 ms; in 10; out 20+40; OOM a9; peak max(256, 2047.5); reserved max(512, 2048).
          row([2, 2, 7, 258, 10, 60, 0, 1, 2047.5, 2048], { api_key_id: "ak-2" }),
        ]),
      ]),
    );
  });

  it("group_by=org_id: a plain key's answer is its own org", async () => {
    expect(await usage(`${range}&group_by=org_id`)).toStrictEqual(
      lastPage([
        bucket(D26, "1d", [row([...a1], { org_id: "acme" })]),
        // The same numbers as ungrouped: globex and initech operations are not this key's.
        bucket(D27, "1d", [row([10, 4, 18, 2046, 5110, 2360, 7, 2, 2047.5, 2048], { org_id: "acme" })]),
      ]),
    );
  });

  it("group_by=operation", async () => {
    expect(await usage(`${range}&group_by=operation`)).toStrictEqual(
      lastPage([
        bucket(D26, "1d", [row([...a1], { operation: "session_start" })]),
        bucket(D27, "1d", [
          // code: a7 alone.
          row([1, 1, 2, 64, 0, 300, 1, 1, 1023.75, 1024], { operation: "code" }),
          // command: a2 (s3), a4 (s1), a9 (s2); requests 2+3+5; 2+8+256 ms; in 10+100; out 20+2000+40; files 2; OOM a9;
          // peak max(256, 512.5, 2047.5); reserved max(512, 1024, 2048).
          row([3, 3, 10, 266, 110, 2060, 2, 1, 2047.5, 2048], { operation: "command" }),
          // session_start: a3 (s1), a5 (s2), a10 (s4); 1 request each; 4+16+512 ms; no peaks; reserved max(1024, 2048, 256).
          row([3, 3, 3, 532, 0, 0, 0, 0, null, 2048], { operation: "session_start" }),
          // session_stop: a8 alone, no memory figures at all.
          row([1, 1, 1, 128, 0, 0, 0, 0, null, null], { operation: "session_stop" }),
          // turn: a11 alone.
          row([1, 1, 1, 1024, 0, 0, 0, 0, 100, 256], { operation: "turn" }),
          // workspace_upload: a6 alone.
          row([1, 1, 1, 32, 5000, 0, 4, 0, 1800, 2048], { operation: "workspace_upload" }),
        ]),
      ]),
    );
  });

  it("group_by=provider", async () => {
    expect(await usage(`${range}&group_by=provider`)).toStrictEqual(
      lastPage([
        bucket(D26, "1d", [row([...a1], { provider: "aws" })]),
        bucket(D27, "1d", [
          // aws: a2, a3, a4, a7, a8, a10, a11; sessions s3, s1, s4; requests 2+1+3+2+1+1+1 = 11; 2+4+8+64+128+512+1024 = 1742 ms;
          // in 10+100; out 20+2000+300; files 2+1; OOM a7; peak max(256, 512.5, 1023.75, 100); reserved max(512, 1024, 256).
          row([7, 3, 11, 1742, 110, 2320, 3, 1, 1023.75, 1024], { provider: "aws" }),
          // gcp: a5, a6, a9 (all s2); requests 1+1+5; 16+32+256 ms; in 5000; out 40; files 4; OOM a9; peak max(1800, 2047.5); reserved 2048.
          row([3, 1, 7, 304, 5000, 40, 4, 1, 2047.5, 2048], { provider: "gcp" }),
        ]),
      ]),
    );
  });

  it("group_by=session_kind", async () => {
    expect(await usage(`${range}&group_by=session_kind`)).toStrictEqual(
      lastPage([
        bucket(D26, "1d", [row([...a1], { session_kind: "browser" })]),
        bucket(D27, "1d", [
          // browser: a2 (s3), a5, a6, a9 (s2); requests 2+1+1+5; 2+16+32+256 = 306 ms; in 10+5000; out 20+40; files 4; OOM a9;
          // peak max(256, 1800, 2047.5); reserved max(512, 2048).
          row([4, 2, 9, 306, 5010, 60, 4, 1, 2047.5, 2048], { session_kind: "browser" }),
          // standard: a3, a4, a7, a8 (s1), a10, a11 (s4); requests 1+3+2+1+1+1; 4+8+64+128+512+1024 ms; in 100; out 2000+300;
          // files 2+1; OOM a7; peak max(512.5, 1023.75, 100); reserved max(1024, 256).
          row([6, 2, 9, 1740, 100, 2300, 3, 1, 1023.75, 1024], { session_kind: "standard" }),
        ]),
      ]),
    );
  });

  it("two dimensions at once, comma-separated or repeated, in either order", async () => {
    const expected = lastPage([
      bucket(D26, "1d", [row([...a1], { provider: "aws", session_kind: "browser" })]),
      bucket(D27, "1d", [
        // aws/browser: a2 alone.
        row([1, 1, 2, 2, 10, 20, 0, 0, 256, 512], { provider: "aws", session_kind: "browser" }),
        // aws/standard: the standard row above (a3, a4, a7, a8, a10, a11).
        row([6, 2, 9, 1740, 100, 2300, 3, 1, 1023.75, 1024], { provider: "aws", session_kind: "standard" }),
        // gcp/browser: the gcp row above (a5, a6, a9).
        row([3, 1, 7, 304, 5000, 40, 4, 1, 2047.5, 2048], { provider: "gcp", session_kind: "browser" }),
      ]),
    ]);
    expect(await usage(`${range}&group_by=provider,session_kind`)).toStrictEqual(expected);
    expect(await usage(`${range}&group_by=session_kind&group_by=provider`)).toStrictEqual(expected);
  });
});

describe("1h buckets, 2026-05-27T09:00Z to 13:00Z (four buckets, the first empty)", () => {
  const range = `start_time=${unix("2026-05-27T09:00:00Z")}&end_time=${unix("2026-05-27T13:00:00Z")}&bucket_width=1h`;
  const [H09, H10, H11, H12] = ["09", "10", "11", "12"].map((h) => `2026-05-27T${h}:00:00Z`) as [string, string, string, string];
  // Per-operation figures reused below (see the fixture table).
  const a8 = [1, 1, 1, 128, 0, 0, 0, 0, null, null] as const;
  const a9 = [1, 1, 5, 256, 0, 40, 0, 1, 2047.5, 2048] as const;
  // a3, a4, a7 (alice, ak-1, aws, standard, all s1): requests 1+3+2; 4+8+64 = 76 ms; in 100; out 2000+300; files 2+1; OOM a7;
  // peak max(512.5, 1023.75); reserved 1024.
  const a3a4a7 = [3, 1, 6, 76, 100, 2300, 3, 1, 1023.75, 1024] as const;
  // a5, a6 (bob, no key, gcp, browser, both s2): 1+1 requests; 16+32 = 48 ms; in 5000; files 4; peak 1800; reserved 2048.
  const a5a6 = [2, 1, 2, 48, 5000, 0, 4, 0, 1800, 2048] as const;
  // a10, a11 (bob, ak-1, aws, standard, both s4): 1+1 requests; 512+1024 = 1536 ms; peak 100 (a11); reserved 256.
  const a10a11 = [2, 1, 2, 1536, 0, 0, 0, 0, 100, 256] as const;

  it("ungrouped; a session with operations in two buckets counts in both", async () => {
    expect(await usage(range)).toStrictEqual(
      lastPage([
        bucket(H09, "1h"),
        // 10h: a3..a7 in sessions s1, s2; requests 1+3+1+1+2 = 8; 4+8+16+32+64 = 124 ms; in 100+5000; out 2000+300; files 2+4+1;
        // OOM a7; peak max(512.5, 1800, 1023.75); reserved max(1024, 2048).
        bucket(H10, "1h", [row([5, 2, 8, 124, 5100, 2300, 7, 1, 1800, 2048])]),
        // 11h: a8 (s1) and a9 (s2) — both sessions already counted at 10h count again here.
        bucket(H11, "1h", [row([2, 2, 6, 384, 0, 40, 0, 1, 2047.5, 2048])]),
        // 12h: a10, a11 (s4; 12:50 is before end_time 13:00 even though it is after the pinned now).
        bucket(H12, "1h", [row([...a10a11])]),
      ]),
    );
  });

  it("group_by=user_id", async () => {
    expect(await usage(`${range}&group_by=user_id`)).toStrictEqual(
      lastPage([
        bucket(H09, "1h"),
        bucket(H10, "1h", [row([...a3a4a7], { user_id: "alice" }), row([...a5a6], { user_id: "bob" })]),
        bucket(H11, "1h", [row([...a8], { user_id: "alice" }), row([...a9], { user_id: "bob" })]),
        bucket(H12, "1h", [row([...a10a11], { user_id: "bob" })]),
      ]),
    );
  });

  it("group_by=api_key_id (the null row sorts first)", async () => {
    expect(await usage(`${range}&group_by=api_key_id`)).toStrictEqual(
      lastPage([
        bucket(H09, "1h"),
        bucket(H10, "1h", [row([...a5a6], { api_key_id: null }), row([...a3a4a7], { api_key_id: "ak-1" })]),
        bucket(H11, "1h", [row([...a8], { api_key_id: "ak-1" }), row([...a9], { api_key_id: "ak-2" })]),
        bucket(H12, "1h", [row([...a10a11], { api_key_id: "ak-1" })]),
      ]),
    );
  });

  it("group_by=org_id", async () => {
    expect(await usage(`${range}&group_by=org_id`)).toStrictEqual(
      lastPage([
        bucket(H09, "1h"),
        bucket(H10, "1h", [row([5, 2, 8, 124, 5100, 2300, 7, 1, 1800, 2048], { org_id: "acme" })]),
        bucket(H11, "1h", [row([2, 2, 6, 384, 0, 40, 0, 1, 2047.5, 2048], { org_id: "acme" })]),
        bucket(H12, "1h", [row([...a10a11], { org_id: "acme" })]),
      ]),
    );
  });

  it("group_by=operation", async () => {
    expect(await usage(`${range}&group_by=operation`)).toStrictEqual(
      lastPage([
        bucket(H09, "1h"),
        bucket(H10, "1h", [
          row([1, 1, 2, 64, 0, 300, 1, 1, 1023.75, 1024], { operation: "code" }), // a7
          row([1, 1, 3, 8, 100, 2000, 2, 0, 512.5, 1024], { operation: "command" }), // a4
          // a3 (s1) and a5 (s2): 1+1 requests, 4+16 ms, no peak, reserved max(1024, 2048).
          row([2, 2, 2, 20, 0, 0, 0, 0, null, 2048], { operation: "session_start" }),
          row([1, 1, 1, 32, 5000, 0, 4, 0, 1800, 2048], { operation: "workspace_upload" }), // a6
        ]),
        bucket(H11, "1h", [row([...a9], { operation: "command" }), row([...a8], { operation: "session_stop" })]),
        bucket(H12, "1h", [
          row([1, 1, 1, 512, 0, 0, 0, 0, null, 256], { operation: "session_start" }), // a10
          row([1, 1, 1, 1024, 0, 0, 0, 0, 100, 256], { operation: "turn" }), // a11
        ]),
      ]),
    );
  });

  it("group_by=provider", async () => {
    expect(await usage(`${range}&group_by=provider`)).toStrictEqual(
      lastPage([
        bucket(H09, "1h"),
        bucket(H10, "1h", [row([...a3a4a7], { provider: "aws" }), row([...a5a6], { provider: "gcp" })]),
        bucket(H11, "1h", [row([...a8], { provider: "aws" }), row([...a9], { provider: "gcp" })]),
        bucket(H12, "1h", [row([...a10a11], { provider: "aws" })]),
      ]),
    );
  });

  it("group_by=session_kind", async () => {
    expect(await usage(`${range}&group_by=session_kind`)).toStrictEqual(
      lastPage([
        bucket(H09, "1h"),
        bucket(H10, "1h", [row([...a5a6], { session_kind: "browser" }), row([...a3a4a7], { session_kind: "standard" })]),
        bucket(H11, "1h", [row([...a9], { session_kind: "browser" }), row([...a8], { session_kind: "standard" })]),
        bucket(H12, "1h", [row([...a10a11], { session_kind: "standard" })]),
      ]),
    );
  });

  it("every dimension at once", async () => {
    const all = "group_by=user_id,api_key_id,org_id,operation,provider,session_kind";
    const page = await usage(`${range}&${all}`);
    // 10h has five operations with five distinct operation values, so five rows ordered by user then key then …:
    // alice/ak-1: a7 code, a4 command, a3 session_start; then bob/null: a5 session_start, a6 workspace_upload.
    const alice = { user_id: "alice", api_key_id: "ak-1", org_id: "acme", provider: "aws", session_kind: "standard" } as const;
    const bob = { user_id: "bob", api_key_id: null, org_id: "acme", provider: "gcp", session_kind: "browser" } as const;
    expect(page.data[1]).toStrictEqual(
      bucket(H10, "1h", [
        row([1, 1, 2, 64, 0, 300, 1, 1, 1023.75, 1024], { ...alice, operation: "code" }),
        row([1, 1, 3, 8, 100, 2000, 2, 0, 512.5, 1024], { ...alice, operation: "command" }),
        row([1, 1, 1, 4, 0, 0, 0, 0, null, 1024], { ...alice, operation: "session_start" }),
        row([1, 1, 1, 16, 0, 0, 0, 0, null, 2048], { ...bob, operation: "session_start" }),
        row([1, 1, 1, 32, 5000, 0, 4, 0, 1800, 2048], { ...bob, operation: "workspace_upload" }),
      ]),
    );
    expect(page.data.map((b: { results: unknown[] }) => b.results.length)).toEqual([0, 5, 2, 2]);
  });
});

describe("1m buckets, 2026-05-27T10:00Z to 10:03Z (three buckets, the last empty)", () => {
  const range = `start_time=${unix("2026-05-27T10:00:00Z")}&end_time=${unix("2026-05-27T10:03:00Z")}&bucket_width=1m`;
  const [M0, M1, M2] = ["00", "01", "02"].map((m) => `2026-05-27T10:${m}:00Z`) as [string, string, string];
  const a3a4 = [2, 1, 4, 12, 100, 2000, 2, 0, 512.5, 1024] as const; // s1: requests 1+3, 4+8 ms, peak 512.5 (a4)
  const a5 = [1, 1, 1, 16, 0, 0, 0, 0, null, 2048] as const;
  const a6 = [1, 1, 1, 32, 5000, 0, 4, 0, 1800, 2048] as const;
  const a7 = [1, 1, 2, 64, 0, 300, 1, 1, 1023.75, 1024] as const;

  it("ungrouped; sessions s1 and s2 count in both minutes", async () => {
    expect(await usage(range)).toStrictEqual(
      lastPage([
        // 10:00: a3, a4 (s1), a5 (s2); requests 1+3+1; 4+8+16 = 28 ms; in 100; out 2000; files 2; peak 512.5; reserved max(1024, 2048).
        bucket(M0, "1m", [row([3, 2, 5, 28, 100, 2000, 2, 0, 512.5, 2048])]),
        // 10:01: a6 (s2), a7 (s1); requests 1+2; 32+64 = 96 ms; in 5000; out 300; files 4+1; OOM a7; peak max(1800, 1023.75); reserved 2048.
        bucket(M1, "1m", [row([2, 2, 3, 96, 5000, 300, 5, 1, 1800, 2048])]),
        bucket(M2, "1m"),
      ]),
    );
  });

  it("group_by=user_id", async () => {
    expect(await usage(`${range}&group_by=user_id`)).toStrictEqual(
      lastPage([
        bucket(M0, "1m", [row([...a3a4], { user_id: "alice" }), row([...a5], { user_id: "bob" })]),
        bucket(M1, "1m", [row([...a7], { user_id: "alice" }), row([...a6], { user_id: "bob" })]),
        bucket(M2, "1m"),
      ]),
    );
  });

  it("group_by=api_key_id", async () => {
    expect(await usage(`${range}&group_by=api_key_id`)).toStrictEqual(
      lastPage([
        bucket(M0, "1m", [row([...a5], { api_key_id: null }), row([...a3a4], { api_key_id: "ak-1" })]),
        bucket(M1, "1m", [row([...a6], { api_key_id: null }), row([...a7], { api_key_id: "ak-1" })]),
        bucket(M2, "1m"),
      ]),
    );
  });

  it("group_by=org_id", async () => {
    expect(await usage(`${range}&group_by=org_id`)).toStrictEqual(
      lastPage([
        bucket(M0, "1m", [row([3, 2, 5, 28, 100, 2000, 2, 0, 512.5, 2048], { org_id: "acme" })]),
        bucket(M1, "1m", [row([2, 2, 3, 96, 5000, 300, 5, 1, 1800, 2048], { org_id: "acme" })]),
        bucket(M2, "1m"),
      ]),
    );
  });

  it("group_by=operation", async () => {
    expect(await usage(`${range}&group_by=operation`)).toStrictEqual(
      lastPage([
        bucket(M0, "1m", [
          row([1, 1, 3, 8, 100, 2000, 2, 0, 512.5, 1024], { operation: "command" }), // a4
          // a3 (s1), a5 (s2): 4+16 ms, reserved max(1024, 2048).
          row([2, 2, 2, 20, 0, 0, 0, 0, null, 2048], { operation: "session_start" }),
        ]),
        bucket(M1, "1m", [row([...a7], { operation: "code" }), row([...a6], { operation: "workspace_upload" })]),
        bucket(M2, "1m"),
      ]),
    );
  });

  it("group_by=provider", async () => {
    expect(await usage(`${range}&group_by=provider`)).toStrictEqual(
      lastPage([
        bucket(M0, "1m", [row([...a3a4], { provider: "aws" }), row([...a5], { provider: "gcp" })]),
        bucket(M1, "1m", [row([...a7], { provider: "aws" }), row([...a6], { provider: "gcp" })]),
        bucket(M2, "1m"),
      ]),
    );
  });

  it("group_by=session_kind", async () => {
    expect(await usage(`${range}&group_by=session_kind`)).toStrictEqual(
      lastPage([
        bucket(M0, "1m", [row([...a5], { session_kind: "browser" }), row([...a3a4], { session_kind: "standard" })]),
        bucket(M1, "1m", [row([...a6], { session_kind: "browser" }), row([...a7], { session_kind: "standard" })]),
        bucket(M2, "1m"),
      ]),
    );
  });
});

describe("the time range", () => {
  it("includes an operation exactly at start_time and excludes one exactly at end_time", async () => {
    // start 10:00:30 is a4's timestamp, end 11:30:00 is a9's. The first bucket still starts at the aligned 10:00
    // but leaves out a3 (10:00:00); the second is 11:00-12:00 (not cut at 11:30) yet counts only a8.
    const page = await usage(`start_time=${unix("2026-05-27T10:00:30Z")}&end_time=${unix("2026-05-27T11:30:00Z")}&bucket_width=1h`);
    expect(page).toStrictEqual(
      lastPage([
        // a4, a5, a6, a7: requests 3+1+1+2 = 7; 8+16+32+64 = 120 ms; in 100+5000; out 2000+300; files 2+4+1; OOM a7.
        bucket("2026-05-27T10:00:00Z", "1h", [row([4, 2, 7, 120, 5100, 2300, 7, 1, 1800, 2048])]),
        bucket("2026-05-27T11:00:00Z", "1h", [row([1, 1, 1, 128, 0, 0, 0, 0, null, null])]),
      ]),
    );
  });

  it("applies the same edges inside minute buckets", async () => {
    // start 10:00:45 is a5, end 10:01:10 is a7: 10:00 keeps only a5 (not a3, a4), 10:01 only a6 (not a7).
    const page = await usage(`start_time=${unix("2026-05-27T10:00:45Z")}&end_time=${unix("2026-05-27T10:01:10Z")}&bucket_width=1m`);
    expect(page).toStrictEqual(
      lastPage([
        bucket("2026-05-27T10:00:00Z", "1m", [row([1, 1, 1, 16, 0, 0, 0, 0, null, 2048])]),
        bucket("2026-05-27T10:01:00Z", "1m", [row([1, 1, 1, 32, 5000, 0, 4, 0, 1800, 2048])]),
      ]),
    );
  });

  it("aligns a mid-day start_time to the UTC day, counting only from start_time", async () => {
    // From 10:00:45 on the 27th: the one bucket starts at 00:00 UTC, but a2 (00:00) and a3, a4 (before 10:00:45) are out.
    // Left: a5..a11 = 7 operations in s2, s1, s4; requests 1+1+2+1+5+1+1 = 12; 16+32+…+1024 = 2032 ms; in 5000; out 300+40;
    // files 4+1; OOM a7, a9; peak max(1800, 1023.75, 2047.5, 100); reserved max(2048, 1024, 256).
    const page = await usage(`start_time=${unix("2026-05-27T10:00:45Z")}&end_time=${unix("2026-05-28T00:00:00Z")}`);
    expect(page).toStrictEqual(lastPage([bucket("2026-05-27T00:00:00Z", "1d", [row([7, 3, 12, 2032, 5000, 340, 5, 2, 2047.5, 2048])])]));
  });

  it("returns every bucket of the range, the empty ones with results: []", async () => {
    // 00:00 to 13:00 on the 27th in hours: 13 buckets. Only 00h (a2), 10h, 11h and 12h have operations.
    const page = await usage(`start_time=${unix("2026-05-27T00:00:00Z")}&end_time=${unix("2026-05-27T13:00:00Z")}&bucket_width=1h`);
    expect(page.data).toHaveLength(13);
    page.data.forEach((b: { start_time: number; end_time: number }, i: number) => {
      expect(b.start_time).toBe(unix("2026-05-27T00:00:00Z") + i * 3600);
      expect(b.end_time).toBe(b.start_time + 3600);
    });
    expect(page.data[0].results).toStrictEqual([row([1, 1, 2, 2, 10, 20, 0, 0, 256, 512])]);
    for (let h = 1; h <= 9; h++) expect(page.data[h]).toStrictEqual(bucket(`2026-05-27T${String(h).padStart(2, "0")}:00:00Z`, "1h", []));
    expect(page.data.map((b: { results: unknown[] }) => b.results.length)).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
  });

  it("covers a partial last bucket: end_time mid-bucket still yields the whole aligned bucket", async () => {
    // 10:00 to 10:00:46 in minutes is one bucket 10:00-10:01 holding a3, a4, a5 (a5 at :45 < :46).
    const page = await usage(`start_time=${unix("2026-05-27T10:00:00Z")}&end_time=${unix("2026-05-27T10:00:46Z")}&bucket_width=1m`);
    expect(page).toStrictEqual(lastPage([bucket("2026-05-27T10:00:00Z", "1m", [row([3, 2, 5, 28, 100, 2000, 2, 0, 512.5, 2048])])]));
  });

  it("defaults end_time to now (the pinned clock, 12:34:56)", async () => {
    // From 10:00 to now in hours: ceil(2h34m56s / 1h) = 3 buckets. 10h and 11h as in the 1h table; 12h holds a10 (12:10)
    // but not a11 (12:50, after now).
    const page = await usage(`start_time=${unix("2026-05-27T10:00:00Z")}&bucket_width=1h`);
    expect(page).toStrictEqual(
      lastPage([
        bucket("2026-05-27T10:00:00Z", "1h", [row([5, 2, 8, 124, 5100, 2300, 7, 1, 1800, 2048])]),
        bucket("2026-05-27T11:00:00Z", "1h", [row([2, 2, 6, 384, 0, 40, 0, 1, 2047.5, 2048])]),
        bucket("2026-05-27T12:00:00Z", "1h", [row([1, 1, 1, 512, 0, 0, 0, 0, null, 256])]),
      ]),
    );
    // The same query with end_time=now spelled out is the same answer.
    expect(await usage(`start_time=${unix("2026-05-27T10:00:00Z")}&end_time=${unix(NOW)}&bucket_width=1h`)).toStrictEqual(page);
  });

  it("refuses a start_time at or after now when end_time defaults to now", async () => {
    const res = await getUsage(t, readKey, `start_time=${unix(NOW)}`);
    expect(res.statusCode).toBe(422);
    expect(res.json()).toStrictEqual({ detail: [{ loc: ["query", "end_time"], msg: expect.any(String), type: "value_error" }] });
  });
});

describe("REST and GraphQL", () => {
  interface Params {
    start_time: number;
    end_time?: number;
    bucket_width?: string;
    group_by?: string[];
    limit?: number;
  }
  const restQuery = (p: Params) =>
    Object.entries(p)
      .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(",") : v}`)
      .join("&");
  const gqlVariables = (p: Params) => ({ startTime: p.start_time, endTime: p.end_time, bucketWidth: p.bucket_width, groupBy: p.group_by, limit: p.limit });

  const ranges: Params[] = [
    { start_time: unix("2026-05-26T00:00:00Z"), end_time: unix("2026-05-28T00:00:00Z"), bucket_width: "1d" },
    { start_time: unix("2026-05-27T09:00:00Z"), end_time: unix("2026-05-27T13:00:00Z"), bucket_width: "1h" },
    { start_time: unix("2026-05-27T10:00:00Z"), end_time: unix("2026-05-27T10:03:00Z"), bucket_width: "1m" },
    // end_time defaulted to now; 1m over 2h34m56s is 155 buckets, so this first page has more and a next_page token.
    { start_time: unix("2026-05-27T10:00:00Z"), bucket_width: "1m" },
  ];
  const groupings = [undefined, ["user_id"], ["api_key_id"], ["org_id"], ["operation"], ["provider"], ["session_kind"], ["provider", "session_kind"]];

  it("answer the same page, field for field, for every width and grouping", async () => {
    for (const range of ranges) {
      for (const group_by of groupings) {
        const p: Params = { ...range, ...(group_by && { group_by }) };
        const rest = await usage(restQuery(p));
        const gql = await t.graphql(SANDBOX_USAGE_QUERY, gqlVariables(p), { authorization: `Bearer ${readKey}` });
        expect(gql.body.errors, JSON.stringify(p)).toBeUndefined();
        expect(toSnake(gql.body.data!.sandboxUsage), JSON.stringify(p)).toStrictEqual(rest);
        // Not a comparison of two empty answers.
        expect(rest.data.some((b: { results: unknown[] }) => b.results.length > 0)).toBe(true);
      }
    }
  });

  it("follow the same pages: GraphQL's nextPage continues exactly as REST's next_page does", async () => {
    const p: Params = { start_time: unix("2026-05-27T09:00:00Z"), end_time: unix("2026-05-27T11:00:00Z"), bucket_width: "1m", group_by: ["user_id"] };
    const headers = { authorization: `Bearer ${readKey}` };
    let rest = await usage(restQuery(p));
    let gql = toSnake((await t.graphql(SANDBOX_USAGE_QUERY, gqlVariables(p), headers)).body.data!.sandboxUsage) as typeof rest;
    // 120 minutes at the default 60 per page: two pages.
    expect(rest.has_more).toBe(true);
    expect(gql).toStrictEqual(rest);
    rest = await usage(`${restQuery(p)}&page=${rest.next_page}`);
    gql = toSnake((await t.graphql(SANDBOX_USAGE_QUERY, { ...gqlVariables(p), page: gql.next_page }, headers)).body.data!.sandboxUsage) as typeof rest;
    expect(gql).toStrictEqual(rest);
    expect(rest.has_more).toBe(false);
    // The second page (10:00-10:59) holds 10:00 and 10:01 with alice and bob each, as in the 1m table.
    expect(rest.data[0].results.map((r: { user_id: string }) => r.user_id)).toEqual(["alice", "bob"]);
  });
});
