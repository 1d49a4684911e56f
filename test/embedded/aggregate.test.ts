import { beforeAll, describe, expect, it } from "vitest";
import type { Collection, Document } from "mongodb";
import { type Loose, useTestMongo } from "../helpers/mongo.js";


/**
 * Aggregation pipelines over a deterministic fixture of "operation" documents. Every expected
 * answer is computed here with plain loops over the same fixture array, so each assertion checks
 * MongoDB semantics rather than echoing the server.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** Mid-January: America/New_York is on EST (UTC-5) for the whole window — no DST switch inside. */
const START = Date.UTC(2024, 0, 15);
const SPAN = 3 * DAY;
const NY_OFFSET = 5 * HOUR;

const ORGS = ["org-a", "org-b", "org-c", "org-d"];
const TAGS = ["gpu", "cpu", "net"];
const SESSIONS = 60;
const N_OPS = 500;

interface Op {
  _id: string;
  org_id: string;
  user_id: string;
  session_id: string;
  ts: Date;
  duration_ms: number;
  bytes: number;
  oom: boolean;
  tags: string[];
}

/** mulberry32: tiny seeded PRNG so the fixture is identical on every run. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeOps(): Op[] {
  const rand = mulberry32(20240115);
  const usedTs = new Set<number>();
  const ops: Op[] = [];
  for (let i = 0; i < N_OPS; i++) {
    const s = Math.floor(rand() * SESSIONS);
    let t: number;
    // Timestamps are unique so that "sorted by time" is a total order (running sums are well defined).
    do t = START + Math.floor(rand() * SPAN);
    while (usedTs.has(t));
    usedTs.add(t);
    ops.push({
      _id: `op-${String(i).padStart(3, "0")}`,
      org_id: ORGS[s % ORGS.length]!, // every session belongs to exactly one org
      user_id: `u${Math.floor(rand() * 12)}`,
      session_id: `s${s}`,
      ts: new Date(t),
      duration_ms: 1 + Math.floor(rand() * 5000),
      bytes: Math.floor(rand() * 1_000_000),
      oom: rand() < 0.07,
      tags: TAGS.filter(() => rand() < 0.4),
    });
  }
  return ops;
}

const OPS = makeOps();

function ids(docs: { _id?: unknown }[]): string[] {
  return docs.map((d) => String(d._id)).sort();
}

function groupBy<T, K>(xs: T[], key: (x: T) => K): Map<K, T[]> {
  const m = new Map<K, T[]>();
  for (const x of xs) {
    const k = key(x);
    const arr = m.get(k);
    if (arr) arr.push(x);
    else m.set(k, [x]);
  }
  return m;
}

/** [_id as ms, count] pairs sorted by time, from a $group on a truncated date. */
function countsByTime(rows: Document[]): [number, number][] {
  return rows.map((r) => [(r._id as Date).getTime(), r.n as number] as [number, number]).sort((a, b) => a[0] - b[0]);
}

function expectedCountsByTime(bucket: (t: number) => number): [number, number][] {
  const m = new Map<number, number>();
  for (const o of OPS) {
    const b = bucket(o.ts.getTime());
    m.set(b, (m.get(b) ?? 0) + 1);
  }
  return [...m.entries()].sort((a, b) => a[0] - b[0]);
}

describe("embedded mongo: aggregation", { timeout: 60_000 }, () => {
  const mongo = useTestMongo("aggregate");
  let ops: Collection<Op>;
  let orgs: Collection<Loose>;

  beforeAll(async () => {
    ops = mongo.db.collection<Op>("operations");
    await ops.insertMany(OPS.map((o) => ({ ...o, tags: [...o.tags] })));
    orgs = mongo.db.collection<Loose>("orgs");
    // org-z has no operations at all: lookups must give it an empty array.
    await orgs.insertMany(
      [...ORGS, "org-z"].map((o, i) => ({ _id: o, org_id: o, name: `Org ${o.slice(4).toUpperCase()}`, tier: i % 2 ? "pro" : "free" })),
    );
  }, 60_000);

  it("fixture sanity: the generated data has the variety the tests rely on", () => {
    expect(OPS).toHaveLength(N_OPS);
    expect(new Set(OPS.map((o) => o.org_id)).size).toBe(4);
    expect(OPS.filter((o) => o.oom).length).toBeGreaterThan(5);
    expect(OPS.some((o) => o.tags.length === 0)).toBe(true);
    expect(OPS.every((o) => o.ts.getTime() >= START && o.ts.getTime() < START + SPAN)).toBe(true);
  });

  describe("$match", () => {
    it("equality", async () => {
      const got = await ops.aggregate([{ $match: { org_id: "org-b" } }]).toArray();
      expect(ids(got)).toEqual(ids(OPS.filter((o) => o.org_id === "org-b")));
    });

    it("$in", async () => {
      const got = await ops.aggregate([{ $match: { user_id: { $in: ["u1", "u3", "u11"] } } }]).toArray();
      expect(ids(got)).toEqual(ids(OPS.filter((o) => ["u1", "u3", "u11"].includes(o.user_id))));
    });

    it("Date range (second day, half-open)", async () => {
      const from = new Date(START + DAY);
      const to = new Date(START + 2 * DAY);
      const got = await ops.aggregate([{ $match: { ts: { $gte: from, $lt: to }, oom: false } }]).toArray();
      const exp = OPS.filter((o) => o.ts >= from && o.ts < to && !o.oom);
      expect(exp.length).toBeGreaterThan(0);
      expect(ids(got)).toEqual(ids(exp));
    });
  });

  describe("$group", () => {
    it("$sum (count and field), $max, $min, $addToSet", async () => {
      const got = await ops
        .aggregate([
          {
            $group: {
              _id: "$org_id",
              n: { $sum: 1 },
              bytes: { $sum: "$bytes" },
              maxDur: { $max: "$duration_ms" },
              minDur: { $min: "$duration_ms" },
              firstTs: { $min: "$ts" },
              lastTs: { $max: "$ts" },
              users: { $addToSet: "$user_id" },
              ooms: { $sum: { $cond: ["$oom", 1, 0] } },
            },
          },
        ])
        .toArray();
      expect(got).toHaveLength(4);
      for (const [org, list] of groupBy(OPS, (o) => o.org_id)) {
        const row = got.find((r) => r._id === org);
        expect(row, org).toBeDefined();
        let bytes = 0;
        let maxDur = -Infinity;
        let minDur = Infinity;
        let first = Infinity;
        let last = -Infinity;
        let ooms = 0;
        const users = new Set<string>();
        for (const o of list) {
          bytes += o.bytes;
          maxDur = Math.max(maxDur, o.duration_ms);
          minDur = Math.min(minDur, o.duration_ms);
          first = Math.min(first, o.ts.getTime());
          last = Math.max(last, o.ts.getTime());
          if (o.oom) ooms++;
          users.add(o.user_id);
        }
        expect(row!.n).toBe(list.length);
        expect(row!.bytes).toBe(bytes);
        expect(row!.maxDur).toBe(maxDur);
        expect(row!.minDur).toBe(minDur);
        expect((row!.firstTs as Date).getTime()).toBe(first);
        expect((row!.lastTs as Date).getTime()).toBe(last);
        expect(row!.ooms).toBe(ooms);
        // $addToSet order is unspecified: compare as sorted sets.
        expect([...(row!.users as string[])].sort()).toEqual([...users].sort());
      }
    });

    it("compound _id and _id: null", async () => {
      const got = await ops
        .aggregate([{ $group: { _id: { org: "$org_id", oom: "$oom" }, n: { $sum: 1 } } }])
        .toArray();
      const exp = groupBy(OPS, (o) => `${o.org_id}|${o.oom}`);
      expect(got).toHaveLength(exp.size);
      for (const r of got) expect(r.n).toBe(exp.get(`${r._id.org}|${r._id.oom}`)!.length);

      const total = await ops.aggregate([{ $group: { _id: null, n: { $sum: 1 }, d: { $sum: "$duration_ms" } } }]).toArray();
      expect(total).toEqual([{ _id: null, n: N_OPS, d: OPS.reduce((s, o) => s + o.duration_ms, 0) }]);
    });
  });

  describe("$dateTrunc", () => {
    const truncPipeline = (spec: Document) => [{ $group: { _id: { $dateTrunc: { date: "$ts", ...spec } }, n: { $sum: 1 } } }];

    it("unit day (UTC)", async () => {
      const got = countsByTime(await ops.aggregate(truncPipeline({ unit: "day" })).toArray());
      // UTC midnight: drop the remainder of a whole day since the epoch.
      expect(got).toEqual(expectedCountsByTime((t) => Math.floor(t / DAY) * DAY));
      expect(got).toHaveLength(3);
    });

    it("unit hour (UTC)", async () => {
      const got = countsByTime(await ops.aggregate(truncPipeline({ unit: "hour" })).toArray());
      expect(got).toEqual(expectedCountsByTime((t) => Math.floor(t / HOUR) * HOUR));
    });

    it("unit minute, and minute with binSize 15", async () => {
      const got = countsByTime(await ops.aggregate(truncPipeline({ unit: "minute" })).toArray());
      expect(got).toEqual(expectedCountsByTime((t) => Math.floor(t / MINUTE) * MINUTE));
      // Bins are aligned to 2000-01-01T00:00Z, which is a multiple of 15 minutes since the epoch,
      // so 15-minute bins are simply floor(t / 15min).
      const got15 = countsByTime(await ops.aggregate(truncPipeline({ unit: "minute", binSize: 15 })).toArray());
      expect(got15).toEqual(expectedCountsByTime((t) => Math.floor(t / (15 * MINUTE)) * (15 * MINUTE)));
    });

    it("unit day in America/New_York (EST, UTC-5, in January)", async () => {
      const got = countsByTime(await ops.aggregate(truncPipeline({ unit: "day", timezone: "America/New_York" })).toArray());
      // Local midnight in EST is 05:00Z: shift into local time, floor to the day, shift back.
      const exp = expectedCountsByTime((t) => Math.floor((t - NY_OFFSET) / DAY) * DAY + NY_OFFSET);
      expect(got).toEqual(exp);
      // The UTC window starts at local 19:00 the day before, so there are 4 local days.
      expect(got).toHaveLength(4);
      expect(new Date(got[0]![0]).toISOString()).toBe("2024-01-14T05:00:00.000Z");
    });

    it("unit day in America/New_York across both DST switches (hand-computed midnights)", async () => {
      const coll = mongo.db.collection<Loose>("dst");
      // [instant, local midnight of that instant as UTC]
      const cases: [string, string][] = [
        ["2024-03-10T04:59:00.000Z", "2024-03-09T05:00:00.000Z"], // Sat 23:59 EST
        ["2024-03-10T05:00:00.000Z", "2024-03-10T05:00:00.000Z"], // Sun 00:00 EST
        ["2024-03-10T12:00:00.000Z", "2024-03-10T05:00:00.000Z"], // Sun 08:00 EDT; midnight was still EST
        ["2024-03-11T03:59:00.000Z", "2024-03-10T05:00:00.000Z"], // Sun 23:59 EDT
        ["2024-03-11T04:00:00.000Z", "2024-03-11T04:00:00.000Z"], // Mon 00:00 EDT
        ["2024-11-03T05:30:00.000Z", "2024-11-03T04:00:00.000Z"], // Sun 01:30 EDT (first pass)
        ["2024-11-03T06:30:00.000Z", "2024-11-03T04:00:00.000Z"], // Sun 01:30 EST (second pass)
        ["2024-11-04T04:30:00.000Z", "2024-11-03T04:00:00.000Z"], // Sun 23:30 EST; midnight was EDT
        ["2024-11-04T05:00:00.000Z", "2024-11-04T05:00:00.000Z"], // Mon 00:00 EST
      ];
      await coll.insertMany(cases.map(([at], i) => ({ _id: i as never, at: new Date(at) })));
      const got = await coll
        .aggregate([
          { $project: { day: { $dateTrunc: { date: "$at", unit: "day", timezone: "America/New_York" } } } },
          { $sort: { _id: 1 } },
        ])
        .toArray();
      expect(got.map((d) => (d.day as Date).toISOString())).toEqual(cases.map(([, midnight]) => midnight));
    });
  });

  it("$densify fills hourly gaps inside explicit bounds", async () => {
    const coll = mongo.db.collection<Loose>("densify");
    const base = Date.UTC(2024, 0, 15);
    const present = [0, 1, 4, 5, 9, 14]; // hour 14 lies outside the bounds below
    await coll.insertMany(present.map((h) => ({ hour: new Date(base + h * HOUR), v: h })));
    const lower = new Date(base);
    const upper = new Date(base + 12 * HOUR); // upper bound is exclusive
    const got = await coll
      .aggregate([
        { $densify: { field: "hour", range: { step: 1, unit: "hour", bounds: [lower, upper] } } },
        { $project: { _id: 0 } },
        { $sort: { hour: 1 } },
      ])
      .toArray();

    // Grid = every hour in [lower, upper); filled = grid hours with no existing doc.
    const grid: number[] = [];
    for (let t = lower.getTime(); t < upper.getTime(); t += HOUR) grid.push(t);
    const have = new Set(present.map((h) => base + h * HOUR));
    const filled = grid.filter((t) => !have.has(t));
    // Existing docs (including the out-of-bounds one) are all kept.
    expect(got).toHaveLength(present.length + filled.length);
    expect(filled).toHaveLength(7);

    const gotTimes = got.map((d) => (d.hour as Date).getTime());
    expect(gotTimes).toEqual([...new Set([...have, ...grid])].sort((a, b) => a - b));
    // Generated docs carry only the densified field; originals keep their data.
    for (const d of got) {
      const t = (d.hour as Date).getTime();
      if (have.has(t)) expect(d.v).toBe((t - base) / HOUR);
      else expect(Object.keys(d)).toEqual(["hour"]);
    }
  });

  it("$setWindowFields: running sum by time, partitioned by org, and an overall running count", async () => {
    const got = await ops
      .aggregate([
        {
          $setWindowFields: {
            partitionBy: "$org_id",
            sortBy: { ts: 1 },
            output: {
              runBytes: { $sum: "$bytes", window: { documents: ["unbounded", "current"] } },
              seq: { $documentNumber: {} },
            },
          },
        },
        {
          $setWindowFields: {
            sortBy: { ts: 1 },
            output: { runAll: { $sum: 1, window: { documents: ["unbounded", "current"] } } },
          },
        },
      ])
      .toArray();
    expect(got).toHaveLength(N_OPS);
    const byId = new Map(got.map((d) => [d._id as string, d]));

    for (const [, list] of groupBy(OPS, (o) => o.org_id)) {
      const sorted = [...list].sort((a, b) => a.ts.getTime() - b.ts.getTime());
      let run = 0;
      sorted.forEach((o, i) => {
        run += o.bytes;
        expect(byId.get(o._id)!.runBytes, o._id).toBe(run);
        expect(byId.get(o._id)!.seq, o._id).toBe(i + 1);
      });
    }
    const all = [...OPS].sort((a, b) => a.ts.getTime() - b.ts.getTime());
    all.forEach((o, i) => expect(byId.get(o._id)!.runAll).toBe(i + 1));
  });

  it("$facet runs two sub-pipelines over the same input", async () => {
    const got = await ops
      .aggregate([
        { $match: { ts: { $lt: new Date(START + 2 * DAY) } } },
        {
          $facet: {
            byOrg: [{ $group: { _id: "$org_id", n: { $sum: 1 } } }, { $sort: { _id: 1 } }],
            ooms: [{ $match: { oom: true } }, { $count: "n" }],
          },
        },
      ])
      .toArray();
    const inWindow = OPS.filter((o) => o.ts.getTime() < START + 2 * DAY);
    const byOrg = [...groupBy(inWindow, (o) => o.org_id).entries()]
      .map(([org, l]) => ({ _id: org, n: l.length }))
      .sort((a, b) => (a._id < b._id ? -1 : 1));
    expect(got).toEqual([{ byOrg, ooms: [{ n: inWindow.filter((o) => o.oom).length }] }]);
  });

  describe("$lookup", () => {
    it("localField/foreignField", async () => {
      // operations -> orgs: each op gets its one org.
      const some = await ops
        .aggregate([
          { $match: { session_id: "s3" } },
          { $lookup: { from: "orgs", localField: "org_id", foreignField: "org_id", as: "org" } },
        ])
        .toArray();
      const exp = OPS.filter((o) => o.session_id === "s3");
      expect(ids(some)).toEqual(ids(exp));
      for (const d of some) {
        expect(d.org).toHaveLength(1);
        expect(d.org[0].org_id).toBe(d.org_id);
        expect(d.org[0].name).toBe(`Org ${(d.org_id as string).slice(4).toUpperCase()}`);
      }

      // orgs -> operations: counts per org; org-z matches nothing and gets [].
      const counts = await orgs
        .aggregate([
          { $lookup: { from: "operations", localField: "org_id", foreignField: "org_id", as: "ops" } },
          { $project: { n: { $size: "$ops" } } },
          { $sort: { _id: 1 } },
        ])
        .toArray();
      const exp2 = [...ORGS, "org-z"].sort().map((org) => ({ _id: org, n: OPS.filter((o) => o.org_id === org).length }));
      expect(counts).toEqual(exp2);
    });

    it("pipeline with let", async () => {
      const got = await orgs
        .aggregate([
          {
            $lookup: {
              from: "operations",
              let: { oid: "$org_id" },
              pipeline: [
                { $match: { $expr: { $and: [{ $eq: ["$org_id", "$$oid"] }, { $eq: ["$oom", true] }] } } },
                { $group: { _id: null, n: { $sum: 1 }, bytes: { $sum: "$bytes" } } },
                { $project: { _id: 0 } },
              ],
              as: "oomStats",
            },
          },
          { $project: { oomStats: 1 } },
          { $sort: { _id: 1 } },
        ])
        .toArray();
      const exp = [...ORGS, "org-z"].sort().map((org) => {
        const list = OPS.filter((o) => o.org_id === org && o.oom);
        // $group over zero docs yields zero groups, hence [] for orgs without OOMs.
        return {
          _id: org,
          oomStats: list.length ? [{ n: list.length, bytes: list.reduce((s, o) => s + o.bytes, 0) }] : [],
        };
      });
      expect(got).toEqual(exp);
    });
  });

  it("$project/$addFields with $cond, $max/$min expressions and Date arithmetic", async () => {
    const startDate = new Date(START);
    const got = await ops
      .aggregate([
        { $match: { org_id: "org-c" } },
        {
          $addFields: {
            speed: { $cond: [{ $gte: ["$duration_ms", 2500] }, "slow", "fast"] },
            oomFlag: { $cond: { if: "$oom", then: 1, else: 0 } },
            capped: { $min: ["$duration_ms", 1000] },
            floored: { $max: ["$duration_ms", 100] },
          },
        },
        {
          $project: {
            _id: 1,
            speed: 1,
            oomFlag: 1,
            capped: 1,
            floored: 1,
            sinceStart: { $subtract: ["$ts", startDate] }, // Date - Date = milliseconds
            oneSecEarlier: { $subtract: ["$ts", 1000] }, // Date - number = Date
            end: { $add: ["$ts", "$duration_ms"] }, // Date + number = Date
          },
        },
      ])
      .toArray();
    const exp = OPS.filter((o) => o.org_id === "org-c");
    expect(got).toHaveLength(exp.length);
    const byId = new Map(got.map((d) => [d._id as string, d]));
    for (const o of exp) {
      const d = byId.get(o._id)!;
      expect(Object.keys(d).sort()).toEqual(["_id", "capped", "end", "floored", "oneSecEarlier", "oomFlag", "sinceStart", "speed"]);
      expect(d.speed).toBe(o.duration_ms >= 2500 ? "slow" : "fast");
      expect(d.oomFlag).toBe(o.oom ? 1 : 0);
      expect(d.capped).toBe(Math.min(o.duration_ms, 1000));
      expect(d.floored).toBe(Math.max(o.duration_ms, 100));
      // The server returns a Long for date differences; compare numerically.
      expect(Number(d.sinceStart)).toBe(o.ts.getTime() - START);
      expect(d.oneSecEarlier).toBeInstanceOf(Date);
      expect((d.oneSecEarlier as Date).getTime()).toBe(o.ts.getTime() - 1000);
      expect((d.end as Date).getTime()).toBe(o.ts.getTime() + o.duration_ms);
    }
  });

  it("$sort (multi-key) / $skip / $limit", async () => {
    const got = await ops
      .aggregate([{ $sort: { org_id: 1, duration_ms: -1, _id: 1 } }, { $skip: 37 }, { $limit: 25 }, { $project: { _id: 1 } }])
      .toArray();
    const exp = [...OPS]
      .sort((a, b) =>
        a.org_id !== b.org_id
          ? a.org_id < b.org_id ? -1 : 1
          : a.duration_ms !== b.duration_ms
            ? b.duration_ms - a.duration_ms
            : a._id < b._id ? -1 : 1,
      )
      .slice(37, 62);
    expect(got.map((d) => d._id)).toEqual(exp.map((o) => o._id));
  });

  it("$unwind (plain and preserveNullAndEmptyArrays) then $group by element", async () => {
    const plain = await ops.aggregate([{ $unwind: "$tags" }, { $group: { _id: "$tags", n: { $sum: 1 } } }]).toArray();
    const expTags = new Map<string, number>();
    for (const o of OPS) for (const t of o.tags) expTags.set(t, (expTags.get(t) ?? 0) + 1);
    expect(plain.map((r) => [r._id, r.n]).sort()).toEqual([...expTags.entries()].sort());

    const total = await ops.aggregate([{ $unwind: "$tags" }, { $count: "n" }]).toArray();
    expect(total).toEqual([{ n: OPS.reduce((s, o) => s + o.tags.length, 0) }]);

    // Empty arrays produce one document (without the field) when preserved.
    const kept = await ops
      .aggregate([{ $unwind: { path: "$tags", preserveNullAndEmptyArrays: true } }, { $count: "n" }])
      .toArray();
    expect(kept).toEqual([{ n: OPS.reduce((s, o) => s + Math.max(1, o.tags.length), 0) }]);
  });

  it("comparison expressions order values of different types as BSON does, missing below null", async () => {
    const when = new Date(START);
    const got = await mongo.db
      .aggregate([
        { $documents: [{ d: when, n: null, s: "a", i: 1 }] },
        {
          $project: {
            _id: 0,
            dateGtNull: { $gt: ["$d", "$n"] },
            dateGtMissing: { $gt: ["$d", "$nope"] },
            missingLtNull: { $lt: ["$nope", null] },
            missingEqNull: { $eq: ["$nope", null] },
            nullEqNull: { $eq: ["$n", null] },
            stringGtNumber: { $gt: ["$s", "$i"] },
            dateGtString: { $gte: ["$d", "$s"] },
            numberNeString: { $ne: ["$i", "1"] },
            cmpNumberString: { $cmp: ["$i", "$s"] },
            cmpSame: { $cmp: ["$d", when] },
            intEqDouble: { $eq: [1, 1.0] },
          },
        },
      ])
      .toArray();
    expect(got).toEqual([
      {
        dateGtNull: true,
        dateGtMissing: true,
        missingLtNull: true,
        missingEqNull: false,
        nullEqNull: true,
        stringGtNumber: true,
        dateGtString: true,
        numberNeString: true,
        cmpNumberString: -1,
        cmpSame: 0,
        intEqDouble: true,
      },
    ]);
  });

  it("$count", async () => {
    const got = await ops.aggregate([{ $match: { oom: true } }, { $count: "ooms" }]).toArray();
    expect(got).toEqual([{ ooms: OPS.filter((o) => o.oom).length }]);
    // No input documents -> no output document at all.
    expect(await ops.aggregate([{ $match: { org_id: "nope" } }, { $count: "n" }]).toArray()).toEqual([]);
  });

  it("$replaceRoot", async () => {
    const got = await ops
      .aggregate([
        { $group: { _id: "$org_id", stats: { $push: "$duration_ms" } } },
        { $replaceRoot: { newRoot: { $mergeObjects: [{ org: "$_id" }, { n: { $size: "$stats" } }] } } },
        { $sort: { org: 1 } },
      ])
      .toArray();
    expect(got).toEqual(ORGS.map((org) => ({ org, n: OPS.filter((o) => o.org_id === org).length })));

    const sub = await ops
      .aggregate([{ $match: { _id: "op-000" } }, { $replaceRoot: { newRoot: { who: "$user_id", where: "$session_id" } } }])
      .toArray();
    expect(sub).toEqual([{ who: OPS[0]!.user_id, where: OPS[0]!.session_id }]);
  });

  it("returns all 1,000 docs of an aggregate with batchSize 100 (getMore)", async () => {
    const coll = mongo.db.collection<Loose>("thousand");
    await coll.insertMany(Array.from({ length: 1000 }, (_, i) => ({ _id: i as never, sq: i * i })));
    const got = await coll.aggregate([{ $sort: { _id: 1 } }, { $project: { sq: 1 } }], { batchSize: 100 }).toArray();
    expect(got).toHaveLength(1000);
    expect(got.map((d) => d._id)).toEqual(Array.from({ length: 1000 }, (_, i) => i));

    let n = 0;
    for await (const d of coll.aggregate([{ $match: { sq: { $gte: 0 } } }], { batchSize: 100 })) {
      expect(d.sq).toBe((d._id as unknown as number) ** 2);
      n++;
    }
    expect(n).toBe(1000);
  });

  describe("$merge", () => {
    /** Per-org rollup used as the $merge source: {_id: org, n, bytes}. */
    const rollup = [{ $group: { _id: "$org_id", n: { $sum: 1 }, bytes: { $sum: "$bytes" } } }];
    const expectedRollup = () =>
      new Map(
        [...groupBy(OPS, (o) => o.org_id)].map(([org, l]) => [org, { _id: org, n: l.length, bytes: l.reduce((s, o) => s + o.bytes, 0) }]),
      );

    async function target(name: string): Promise<Collection<Loose>> {
      const t = mongo.db.collection<Loose>(name);
      await t.insertMany([
        { _id: "org-a", n: -1, note: "old" },
        { _id: "org-zz", n: 0, note: "untouched" },
      ] as Document[]);
      return t;
    }

    const contents = async (t: Collection<Loose>) => t.find({}).sort({ _id: 1 }).toArray();

    it('on _id: whenMatched "replace", whenNotMatched "insert"', async () => {
      const t = await target("merge_replace");
      const out = await ops.aggregate([...rollup, { $merge: { into: "merge_replace", whenMatched: "replace", whenNotMatched: "insert" } }]).toArray();
      expect(out).toEqual([]); // $merge emits nothing
      const exp = expectedRollup();
      // org-a is replaced wholesale (its "note" is gone); other orgs are inserted; org-zz is untouched.
      expect(await contents(t)).toEqual([...ORGS.map((o) => exp.get(o)!), { _id: "org-zz", n: 0, note: "untouched" }]);
    });

    it('on _id default: whenMatched "merge" (the default), whenNotMatched "insert"', async () => {
      const t = await target("merge_merge");
      await ops.aggregate([...rollup, { $merge: { into: "merge_merge" } }]).toArray();
      const exp = expectedRollup();
      // Merge keeps fields only the target has (note) and overwrites the rest.
      expect(await contents(t)).toEqual([
        { ...exp.get("org-a")!, note: "old" },
        ...ORGS.slice(1).map((o) => exp.get(o)!),
        { _id: "org-zz", n: 0, note: "untouched" },
      ]);
      const a = await t.findOne({ _id: "org-a" as never });
      // Existing fields keep their position; new fields are appended.
      expect(Object.keys(a!)).toEqual(["_id", "n", "note", "bytes"]);
    });

    it('whenMatched "keepExisting"', async () => {
      const t = await target("merge_keep");
      await ops.aggregate([...rollup, { $merge: { into: "merge_keep", on: "_id", whenMatched: "keepExisting", whenNotMatched: "insert" } }]).toArray();
      const exp = expectedRollup();
      expect(await contents(t)).toEqual([
        { _id: "org-a", n: -1, note: "old" },
        ...ORGS.slice(1).map((o) => exp.get(o)!),
        { _id: "org-zz", n: 0, note: "untouched" },
      ]);
    });

    it('whenNotMatched "discard"', async () => {
      const t = await target("merge_discard");
      await ops.aggregate([...rollup, { $merge: { into: "merge_discard", whenMatched: "merge", whenNotMatched: "discard" } }]).toArray();
      const exp = expectedRollup();
      // Only org-a existed, so only org-a changes; nothing is inserted.
      expect(await contents(t)).toEqual([
        { ...exp.get("org-a")!, note: "old" },
        { _id: "org-zz", n: 0, note: "untouched" },
      ]);

      const t2 = await target("merge_replace_discard");
      await ops.aggregate([...rollup, { $merge: { into: "merge_replace_discard", whenMatched: "replace", whenNotMatched: "discard" } }]).toArray();
      expect(await contents(t2)).toEqual([exp.get("org-a")!, { _id: "org-zz", n: 0, note: "untouched" }]);
    });

    it('into a collection that does not exist yet creates it', async () => {
      await ops.aggregate([...rollup, { $merge: { into: "merge_fresh" } }]).toArray();
      const exp = expectedRollup();
      expect(await contents(mongo.db.collection<Loose>("merge_fresh"))).toEqual(ORGS.map((o) => exp.get(o)!));
    });

    it('on ["org_id","session_id"] with a unique index, merge then replace', async () => {
      const t = mongo.db.collection<Loose>("merge_on_fields");
      await t.createIndex({ org_id: 1, session_id: 1 }, { unique: true });
      // Per-session rollup; _id is dropped so the target's own _id values survive.
      const perSession = [
        { $group: { _id: { org_id: "$org_id", session_id: "$session_id" }, n: { $sum: 1 }, bytes: { $sum: "$bytes" } } },
        { $project: { _id: 0, org_id: "$_id.org_id", session_id: "$_id.session_id", n: 1, bytes: 1 } },
      ];
      const expected = new Map<string, { org_id: string; session_id: string; n: number; bytes: number }>();
      for (const o of OPS) {
        const k = `${o.org_id}|${o.session_id}`;
        const e = expected.get(k) ?? { org_id: o.org_id, session_id: o.session_id, n: 0, bytes: 0 };
        e.n++;
        e.bytes += o.bytes;
        expected.set(k, e);
      }
      const first = OPS[0]!;
      await t.insertMany([
        { _id: "pre-1", org_id: first.org_id, session_id: first.session_id, n: -1, keep: "yes" },
        { _id: "pre-2", org_id: "org-zz", session_id: "none", n: 0 },
      ] as Document[]);

      await ops.aggregate([...perSession, { $merge: { into: "merge_on_fields", on: ["org_id", "session_id"], whenMatched: "merge", whenNotMatched: "insert" } }]).toArray();
      expect(await t.countDocuments()).toBe(expected.size + 1);
      const docs = await t.find({}).toArray();
      for (const d of docs) {
        if (d.org_id === "org-zz") {
          expect(d).toEqual({ _id: "pre-2", org_id: "org-zz", session_id: "none", n: 0 });
          continue;
        }
        const e = expected.get(`${d.org_id}|${d.session_id}`)!;
        expect(e).toBeDefined();
        const { _id, ...rest } = d;
        expect(_id).toBeDefined(); // generated for inserted docs
        if (d.org_id === first.org_id && d.session_id === first.session_id) {
          expect(_id).toBe("pre-1");
          expect(rest).toEqual({ ...e, keep: "yes" });
        } else {
          expect(rest).toEqual(e);
        }
      }

      // Run again with "replace": the pre-existing doc loses "keep" but keeps its _id; counts unchanged.
      await ops.aggregate([...perSession, { $merge: { into: "merge_on_fields", on: ["org_id", "session_id"], whenMatched: "replace", whenNotMatched: "insert" } }]).toArray();
      expect(await t.countDocuments()).toBe(expected.size + 1);
      const pre = await t.findOne({ org_id: first.org_id, session_id: first.session_id });
      const e = expected.get(`${first.org_id}|${first.session_id}`)!;
      expect(pre).toEqual({ _id: "pre-1", ...e });
    });
  });

  it("$out replaces the target collection entirely", async () => {
    const t = mongo.db.collection<Loose>("out_target");
    await t.insertMany([{ _id: "stale-1" }, { _id: "org-a", n: -1 }] as Document[]);
    const out = await ops
      .aggregate([{ $group: { _id: "$org_id", n: { $sum: 1 } } }, { $out: "out_target" }])
      .toArray();
    expect(out).toEqual([]);
    const got = await t.find({}).sort({ _id: 1 }).toArray();
    // Pre-existing docs (including the one with a clashing _id) are gone, only the output remains.
    expect(got).toEqual(ORGS.map((org) => ({ _id: org, n: OPS.filter((o) => o.org_id === org).length })));

    // $out to a new collection creates it.
    await ops.aggregate([{ $match: { oom: true } }, { $project: { _id: 1 } }, { $out: "out_fresh" }]).toArray();
    expect(ids(await mongo.db.collection<Loose>("out_fresh").find({}).toArray())).toEqual(ids(OPS.filter((o) => o.oom)));
  });
});
