/**
 * Local time zones (MKA1 `time_zone`, MIOSA `time_zone`, Dreadnode `time_zone`), exact from the
 * rollups: days of 23 and 25 hours at DST changes (New York, Berlin), hour buckets at :30 and :45
 * offsets (Kolkata, Kathmandu), a zone whose offset changed inside the window (Pyongyang,
 * 2015-08-15: +09:00 → +08:30). Every answer equals the raw-event service's, and a local day equals
 * the sum of its local hours. Bad zones get each surface's envelope; page tokens carry the zone.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { Random } from "../../src/demo/random.js";
import { bearer, startTestApp, type TestApp } from "../helpers/app.js";
import { ingest, operation, start, stop } from "../helpers/events.js";

const NOW = "2026-12-01T00:00:00Z";
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Windows of four days around each change (UTC starts), and the zones asked about in them. */
const WINDOWS = [
  { from: Date.parse("2026-03-06T00:00:00Z"), zones: ["America/New_York", "UTC"] },
  { from: Date.parse("2026-03-27T00:00:00Z"), zones: ["Europe/Berlin", "Asia/Kolkata"] },
  { from: Date.parse("2026-10-23T00:00:00Z"), zones: ["Europe/Berlin", "Asia/Kathmandu"] },
  { from: Date.parse("2026-10-30T00:00:00Z"), zones: ["America/New_York", "Asia/Kolkata"] },
  { from: Date.parse("2015-08-13T00:00:00Z"), zones: ["Asia/Pyongyang"] },
];

let rollups: TestApp;
let raw: TestApp;
let key: string;

beforeAll(async () => {
  rollups = await startTestApp({ label: "zones", clock: fixedClock(NOW) });
  raw = await startTestApp({ clock: fixedClock(NOW), env: { USAGE_SOURCE: "raw" }, mongo: rollups.mongo });
  const ingestKey = await rollups.key("acme", "alice", ["ingest"]);
  key = await rollups.key("acme", "alice", ["read"]);
  const rnd = new Random(409);
  const iso = (t: number) => new Date(t).toISOString();
  for (const [w, window] of WINDOWS.entries()) {
    const events = [];
    for (let s = 0; s < 12; s++) {
      const session = `w${w}-s${s}`;
      const t0 = window.from + rnd.int(0, 3 * DAY);
      const t1 = t0 + rnd.int(10 * 60_000, 30 * HOUR);
      const who = { user_id: rnd.pick(["alice", "bob", "carol"]) };
      events.push(start(session, iso(t0), { ...who, external_user_id: "cust-1" }), stop(session, iso(t1), who));
      for (let t = t0 + rnd.int(1_000, 20 * 60_000); t < t1; t += rnd.int(1_000, 40 * 60_000)) {
        events.push(operation(session, rnd.pick(["command", "turn", "code"]), iso(t), { ...who, request_count: rnd.int(1, 4) }));
      }
    }
    for (let i = 0; i < events.length; i += 1000) await ingest(rollups, ingestKey, events.slice(i, i + 1000));
  }
}, 120_000);
afterAll(async () => {
  await raw?.close();
  await rollups?.close();
});

interface Bucket {
  start_time: number;
  end_time: number;
  results: Array<Record<string, number | string | null>>;
}

/** Every bucket of [from, to) in `zone`, all pages, from both services (which must agree). */
async function buckets(from: number, to: number, width: string, zone: string, groupBy = ""): Promise<Bucket[]> {
  const out: Bucket[] = [];
  let url = `/api/v1/sandbox/usage?start_time=${from / 1000}&end_time=${to / 1000}&bucket_width=${width}&time_zone=${encodeURIComponent(zone)}&limit=${width === "1d" ? 31 : 168}${groupBy}`;
  for (;;) {
    const [a, b] = await Promise.all([rollups, raw].map((t) => t.app.inject({ method: "GET", url, headers: bearer(key) })));
    expect(a!.statusCode, a!.body).toBe(200);
    expect(a!.json(), url).toEqual(b!.json());
    const page = a!.json() as { data: Bucket[]; next_page: string | null };
    out.push(...page.data);
    if (!page.next_page) return out;
    url = `${url.replace(/&page=[^&]*/, "")}&page=${encodeURIComponent(page.next_page)}`;
  }
}

const ADDITIVE = ["num_operations", "request_count", "duration_ms", "workspace_bytes_in", "workspace_bytes_out", "files_changed_count", "oom_killed_count"];
const total = (bs: Bucket[], field: string) => bs.reduce((s, b) => s + b.results.reduce((x, r) => x + (r[field] as number), 0), 0);

describe("MKA1 buckets in local time", () => {
  it("makes the DST days 23 and 25 hours long, in New York and Berlin", async () => {
    const lengths = async (from: string, zone: string) =>
      (await buckets(Date.parse(from), Date.parse(from) + 3 * DAY, "1d", zone)).map((b) => (b.end_time - b.start_time) / 3600);
    expect(await lengths("2026-03-07T12:00:00Z", "America/New_York")).toEqual([24, 23, 24, 24]);
    expect(await lengths("2026-10-31T12:00:00Z", "America/New_York")).toEqual([24, 25, 24, 24]);
    expect(await lengths("2026-03-28T12:00:00Z", "Europe/Berlin")).toEqual([24, 23, 24, 24]);
    expect(await lengths("2026-10-24T12:00:00Z", "Europe/Berlin")).toEqual([24, 25, 24, 24]);
  });

  it("starts hours at :30 UTC in Kolkata and :15 UTC in Kathmandu, days at local midnight", async () => {
    const minuteOf = (b: Bucket) => new Date(b.start_time * 1000).getUTCMinutes();
    expect(new Set((await buckets(WINDOWS[1]!.from, WINDOWS[1]!.from + DAY, "1h", "Asia/Kolkata")).map(minuteOf))).toEqual(new Set([30]));
    expect(new Set((await buckets(WINDOWS[2]!.from, WINDOWS[2]!.from + DAY, "1h", "Asia/Kathmandu")).map(minuteOf))).toEqual(new Set([15]));
    const days = await buckets(WINDOWS[1]!.from, WINDOWS[1]!.from + 3 * DAY, "1d", "Asia/Kolkata");
    expect(days.map((b) => new Date(b.start_time * 1000).toISOString().slice(11, 16))).toEqual(["18:30", "18:30", "18:30", "18:30"]);
  });

  it("follows an offset that changed inside the window (Pyongyang, 2015-08-15, +09:00 to +08:30)", async () => {
    const days = await buckets(WINDOWS[4]!.from, WINDOWS[4]!.from + 4 * DAY, "1d", "Asia/Pyongyang");
        // Local midnights: Aug 13 and 14 at +09:00, then Aug 15 onwards at +08:30 (Aug 14 is 24.5 h).
    expect(days.map((b) => new Date(b.start_time * 1000).toISOString().slice(11, 16))).toEqual(["15:00", "15:00", "15:30", "15:30", "15:30"]);
    expect(days.map((b) => (b.end_time - b.start_time) / 3600)).toEqual([24, 24.5, 24, 24, 24]);
  });

  it("makes every local day the sum of its local hours, for every zone and window (and equal to raw)", async () => {
    let checked = 0;
    for (const w of WINDOWS) {
      for (const zone of w.zones) {
        const days = await buckets(w.from, w.from + 4 * DAY, "1d", zone, "&group_by=user_id");
        const hours = await buckets(days[0]!.start_time * 1000, days[days.length - 1]!.end_time * 1000, "1h", zone, "&group_by=user_id");
        for (const day of days) {
          const inside = hours.filter((h) => h.start_time >= day.start_time && h.end_time <= day.end_time);
          expect(inside.reduce((s, h) => s + (h.end_time - h.start_time), 0), zone).toBe(day.end_time - day.start_time);
          for (const f of ADDITIVE) expect(total(inside, f), `${zone} ${day.start_time} ${f}`).toBe(total([day], f));
          if (total([day], "num_operations") > 0) checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(12);
  }, 60_000);

  it("ties a page token to its zone", async () => {
    const url = `/api/v1/sandbox/usage?start_time=${WINDOWS[0]!.from / 1000}&bucket_width=1h&limit=2&time_zone=America/New_York`;
    const first = (await rollups.app.inject({ method: "GET", url, headers: bearer(key) })).json() as { next_page: string };
    const elsewhere = await rollups.app.inject({ method: "GET", url: `${url.replace("America/New_York", "Asia/Kolkata")}&page=${encodeURIComponent(first.next_page)}`, headers: bearer(key) });
    expect(elsewhere.statusCode).toBe(422);
    expect(elsewhere.json().detail[0].loc).toEqual(["query", "page"]);
  });
});

describe("MIOSA and Dreadnode in local time", () => {
  it("ends 7d at the next local midnight and reports the zone's offset", async () => {
    const res = await rollups.app.inject({ method: "GET", url: "/api/v1/usage?period=7d&time_zone=America/New_York", headers: bearer(key) });
    expect(res.statusCode, res.body).toBe(200);
    // NOW is 2026-12-01T00:00Z = 2026-11-30T19:00-05:00: the next local midnight is Dec 1, 05:00Z.
    expect(res.json()).toMatchObject({ period_start: "2026-11-24T00:00:00-05:00", period_end: "2026-12-01T00:00:00-05:00" });
    const mtd = await rollups.app.inject({ method: "GET", url: "/api/v1/usage?period=mtd&time_zone=Asia/Kolkata", headers: bearer(key) });
    expect(mtd.json()).toMatchObject({ period_start: "2026-12-01T00:00:00+05:30" });
    const utc = await rollups.app.inject({ method: "GET", url: "/api/v1/usage?period=7d", headers: bearer(key) });
    expect(utc.json()).toMatchObject({ period_start: "2026-11-25T00:00:00Z", period_end: "2026-12-02T00:00:00Z" });
  });

  it("counts Dreadnode's current month in the local calendar", async () => {
    const ask = (zone: string) => rollups.app.inject({ method: "GET", url: `/api/v1/org/acme/sandboxes/usage?time_zone=${zone}`, headers: bearer(key) });
    // In New York it is still November: the late-October/November sessions count; in UTC it is December: none.
    expect((await ask("UTC")).json().current_month_seconds).toBe(0);
    expect((await ask("America/New_York")).json().current_month_seconds).toBeGreaterThan(0);
  });
});

describe("bad zones", () => {
  it("answer in each surface's envelope, naming the parameter", async () => {
    const get = (url: string) => rollups.app.inject({ method: "GET", url, headers: bearer(key) });
    const mka1 = await get("/api/v1/sandbox/usage?start_time=0&time_zone=Mars/Olympus");
    expect(mka1.statusCode).toBe(422);
    expect(mka1.json().detail[0]).toMatchObject({ loc: ["query", "time_zone"] });
    const miosa = await get("/api/v1/usage?time_zone=Nowhere");
    expect(miosa.statusCode).toBe(422);
    expect(miosa.json()).toMatchObject({ error: { code: "invalid time_zone" } });
    const dread = await get("/api/v1/org/acme/sandboxes/usage?time_zone=%2B99");
    expect(dread.statusCode).toBe(422);
    expect(dread.json()).toMatchObject({ code: 422, errors: [{ loc: ["query", "time_zone"] }] });
    const gql = await rollups.graphql(`{ sandboxUsage(startTime: 0, timeZone: "Not/AZone") { hasMore } }`, {}, bearer(key));
    expect(gql.body.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });
});
