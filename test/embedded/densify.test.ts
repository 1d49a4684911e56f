/**
 * `$densify` through the driver, against MongoDB's documented semantics: explicit bounds are
 * filled up to the (exclusive) upper bound whatever the input holds, `full` and `partition` fill
 * between the minimum and maximum. Each expected grid is computed here from the bounds.
 */
import type { Document } from "mongodb";
import { describe, expect, it } from "vitest";
import { type Loose, useTestMongo } from "../helpers/mongo.js";

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 4, 27);
const at = (minutes: number) => new Date(T0 + minutes * MINUTE);
const minutes = (docs: Document[], field = "m") => docs.map((d) => (d[field] === undefined ? null : ((d[field] as Date).getTime() - T0) / MINUTE));
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe("$densify", () => {
  const mongo = useTestMongo("densify");
  const run = async (name: string, docs: Loose[], stage: Document, extra: Document[] = []) => {
    const coll = mongo.db.collection<Loose>(name);
    if (docs.length > 0) await coll.insertMany(docs);
    return coll.aggregate([{ $project: { _id: 0 } }, stage, ...extra]).toArray();
  };

  it("fills explicit bounds up to the upper bound when the last document lies well before it", async () => {
    // Documents at minutes 1 and 3 of [0, 10): every other minute of the grid is generated.
    const got = await run("tail", [{ m: at(1), v: 1 }, { m: at(3), v: 3 }], { $densify: { field: "m", range: { step: 1, unit: "minute", bounds: [at(0), at(10)] } } });
    expect(minutes(got)).toEqual(range(0, 10));
    expect(got.filter((d) => "v" in d).map((d) => d.v)).toEqual([1, 3]);
    // Generated documents carry only the densified field.
    expect(got[0]).toEqual({ m: at(0) });
  });

  it("fills the whole of explicit bounds for an empty input", async () => {
    const got = await run("empty", [], { $densify: { field: "m", range: { step: 15, unit: "minute", bounds: [at(0), at(60)] } } });
    expect(minutes(got)).toEqual([0, 15, 30, 45]);
  });

  it("keeps documents outside the bounds, off the grid, or without the field, and does not repeat grid values", async () => {
    const docs = [{ m: at(-5) }, { m: at(2), dup: 1 }, { m: at(2), dup: 2 }, { m: at(2.5) }, { m: at(7) }, { other: true }];
    const got = await run("mixed", docs, { $densify: { field: "m", range: { step: 1, unit: "minute", bounds: [at(0), at(5)] } } });
    // Missing field first (null sorts first), then -5, the grid 0..4 with 2 twice (both inputs), 2.5, and 7.
    expect(minutes(got)).toEqual([null, -5, 0, 1, 2, 2, 2.5, 3, 4, 7]);
  });

  it("fills each partition over explicit bounds, carrying the partition fields", async () => {
    const docs = [{ m: at(0), sb: "a" }, { m: at(2), sb: "b" }];
    const got = await run("parts", docs, { $densify: { field: "m", partitionByFields: ["sb"], range: { step: 1, unit: "minute", bounds: [at(0), at(3)] } } });
    expect(got.map((d) => [d.sb, minutes([d])[0]])).toEqual([["a", 0], ["a", 1], ["a", 2], ["b", 0], ["b", 1], ["b", 2]]);
  });

  it("fills between the global minimum and maximum with 'full', and each partition's own span with 'partition'", async () => {
    const docs = [{ n: 1, g: "x" }, { n: 4, g: "x" }, { n: 7, g: "y" }];
    const full = await run("full", docs, { $densify: { field: "n", partitionByFields: ["g"], range: { step: 2, bounds: "full" } } });
    // Grid from 1 by 2 up to 7 inclusive, per partition: x holds 1 and 4 (off-grid), y holds 7.
    expect(full.map((d) => [d.g, d.n])).toEqual([["x", 1], ["x", 3], ["x", 4], ["x", 5], ["x", 7], ["y", 1], ["y", 3], ["y", 5], ["y", 7]]);
    const own = await run("own", docs, { $densify: { field: "n", partitionByFields: ["g"], range: { step: 2, bounds: "partition" } } });
    expect(own.map((d) => [d.g, d.n])).toEqual([["x", 1], ["x", 3], ["x", 4], ["y", 7]]);
  });

  it("steps months by the calendar", async () => {
    const got = await run("months", [{ m: new Date("2026-01-31T00:00:00Z") }], { $densify: { field: "m", range: { step: 1, unit: "month", bounds: [new Date("2026-01-31T00:00:00Z"), new Date("2026-04-01T00:00:00Z")] } } });
    expect(got.map((d) => (d.m as Date).toISOString())).toEqual(["2026-01-31T00:00:00.000Z", "2026-02-28T00:00:00.000Z", "2026-03-28T00:00:00.000Z"]);
  });

  it("answers a 30-day minute grid (43,200 documents)", async () => {
    const got = await run("month", [{ m: at(5) }], { $densify: { field: "m", range: { step: 1, unit: "minute", bounds: [at(0), at(30 * 1440)] } } }, [{ $count: "n" }]);
    expect(got).toEqual([{ n: 30 * 1440 }]);
  });

  it.each([
    [{ field: "m", range: { step: 0, unit: "minute", bounds: [at(0), at(1)] } }],
    [{ field: "m", range: { step: 1, unit: "fortnight", bounds: [at(0), at(1)] } }],
    [{ field: "m", range: { step: 1, unit: "minute", bounds: [1, 2] } }],
    [{ field: "m", range: { step: 1, unit: "minute", bounds: [at(2), at(1)] } }],
    [{ field: "m", range: { step: 1, unit: "minute", bounds: "everything" } }],
  ])("refuses a malformed specification %j with a server error", async (spec) => {
    await expect(run("bad", [{ m: at(0) }], { $densify: spec })).rejects.toMatchObject({ name: "MongoServerError" });
  });

  it("refuses to generate more than 500,000 documents", async () => {
    await expect(run("huge", [], { $densify: { field: "m", range: { step: 1, unit: "second", bounds: [at(0), at(10_000)] } } })).rejects.toMatchObject({ code: 5897900 });
  });
});
