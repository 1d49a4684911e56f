/**
 * `{_id: {$in: [documents]}}` is answered by the `_id` index alone (the store reads thousands of
 * presence documents so in one ingest), and still with MongoDB's equality of embedded documents:
 * same fields, same order, same values of the same type.
 */
import { describe, expect, it } from "vitest";
import { useTestMongo } from "../helpers/mongo.js";

const mongo = useTestMongo("in-embedded-ids");

describe("$in over embedded _ids", () => {
  it("finds exactly the listed documents, field order and value types included", async () => {
    const c = mongo.db.collection("presence");
    const t = new Date("2026-05-01T00:00:00Z");
    await c.insertMany(Array.from({ length: 3_000 }, (_, i) => ({ _id: { org: "o", t, s: `s-${i}` } as never, i })));
    await c.insertOne({ _id: { org: "o", t, s: 7 } as never, i: "number" });
    const wanted = [
      ...Array.from({ length: 2_000 }, (_, i) => ({ org: "o", t, s: `s-${i * 2}` })),
      { t, org: "o", s: "s-1" }, // other field order: not equal
      { org: "o", t, s: "s-missing" },
      { org: "o", t: t.toISOString(), s: "s-3" }, // a string, not the date
    ];
    const found = await c.find({ _id: { $in: wanted as never[] } }).toArray();
    expect(found.map((d) => d.i).sort((a, b) => a - b)).toEqual(Array.from({ length: 1_500 }, (_, i) => i * 2));
    // With another condition beside it, both hold.
    const both = await c.find({ _id: { $in: wanted as never[] }, i: { $lt: 10 } }).toArray();
    expect(both.map((d) => d.i).sort((a, b) => a - b)).toEqual([0, 2, 4, 6, 8]);
  });
});
