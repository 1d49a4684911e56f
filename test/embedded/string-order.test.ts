/**
 * Strings order by their UTF-8 bytes in MongoDB's simple collation, JavaScript's `<` by UTF-16
 * code units. The two disagree when the first difference is a code point above U+FFFF against one
 * in U+E000..U+FFFF ("\u{1F600}" is a surrogate pair starting 0xD83D, below 0xFFFF as UTF-16, but
 * F0 9F 98 80 after EF BF BF as UTF-8). Every place the engine orders strings is checked over the
 * driver against Buffer.compare of the UTF-8 bytes: sort (with and without an index), range
 * filters, `$min`/`$max` accumulators, comparison expressions and the update operators.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareStrings } from "../../src/embedded/engine/compare.js";
import { type Loose, useTestMongo } from "../helpers/mongo.js";

const utf8 = (a: string, b: string) => Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
const byUtf8 = (xs: string[]) => [...xs].sort(utf8);

/** Strings whose UTF-16 and UTF-8 orders differ, with shared prefixes and plain ones among them. */
const WORDS = [
  "", "a", "ab", "b", "z", "\u00e9", "\u07ff", "\u0800", "\ud7ff", "\ue000", "\ufffd", "\uffff",
  "\u{10000}", "\u{1f600}", "\u{10ffff}", "a\uffff", "a\u{1f600}", "a\u{1f600}b", "x\ue000y", "x\u{1f600}",
];

describe("string order by UTF-8 bytes", () => {
  const mongo = useTestMongo("strings");

  it("compareStrings agrees with the UTF-8 byte order on random Unicode strings", () => {
    const s = fc.oneof(fc.string({ unit: "binary", maxLength: 6 }), fc.constantFrom(...WORDS));
    fc.assert(
      fc.property(s, s, (a, b) => {
        expect(Math.sign(compareStrings(a, b))).toBe(Math.sign(utf8(a, b)));
      }),
      { seed: 20261203, numRuns: 5000 },
    );
    expect(compareStrings("\uffff", "\u{1f600}")).toBe(-1);
    expect("\uffff" < "\u{1f600}").toBe(false);
  });

  it("sorts, with and without an index, and filters ranges in UTF-8 order", async () => {
    const coll = mongo.db.collection<Loose>("words");
    await coll.insertMany(WORDS.map((s, i) => ({ _id: i, s })));
    const expected = byUtf8(WORDS);
    const sorted = (await coll.find({}, { sort: { s: 1 } }).toArray()).map((d) => d.s);
    expect(sorted).toEqual(expected);
    expect((await coll.aggregate([{ $sort: { s: -1 } }]).toArray()).map((d) => d.s)).toEqual([...expected].reverse());
    // Range filters, from a collection scan and then through an index (its btree keys in the same order).
    for (const pivot of ["\uffff", "\u{1f600}", "a\uffff", "\ue000"]) {
      const want = WORDS.filter((w) => utf8(w, pivot) > 0).sort(utf8);
      expect((await coll.find({ s: { $gt: pivot } }, { sort: { s: 1 } }).toArray()).map((d) => d.s)).toEqual(want);
    }
    await coll.createIndex({ s: 1 });
    expect((await coll.find({}, { sort: { s: 1 }, hint: { s: 1 } }).toArray()).map((d) => d.s)).toEqual(expected);
    for (const pivot of ["\uffff", "\u{1f600}", "a\uffff"]) {
      const want = WORDS.filter((w) => utf8(w, pivot) <= 0).sort(utf8);
      expect((await coll.find({ s: { $lte: pivot } }).sort({ s: 1 }).toArray()).map((d) => d.s)).toEqual(want);
      const between = WORDS.filter((w) => utf8(w, pivot) >= 0 && utf8(w, "\u{10ffff}") < 0).sort(utf8);
      expect((await coll.find({ s: { $gte: pivot, $lt: "\u{10ffff}" } }).sort({ s: 1 }).toArray()).map((d) => d.s)).toEqual(between);
    }
  });

  it("takes $min/$max (accumulators and expressions) and $lt/$gt/$cmp in expressions in UTF-8 order", async () => {
    const coll = mongo.db.collection<Loose>("pairs");
    await coll.insertMany([{ _id: 1, a: "\uffff", b: "\u{1f600}" }, { _id: 2, a: "a\u{1f600}", b: "a\uffff" }]);
    const [g] = await coll.aggregate([{ $group: { _id: null, min: { $min: "$a" }, max: { $max: "$a" } } }]).toArray();
    expect(g).toEqual({ _id: null, min: byUtf8(["\uffff", "a\u{1f600}"])[0], max: byUtf8(["\uffff", "a\u{1f600}"])[1] });
    const rows = await coll.aggregate([{ $project: { lt: { $lt: ["$a", "$b"] }, gt: { $gt: ["$a", "$b"] }, cmp: { $cmp: ["$a", "$b"] }, min: { $min: ["$a", "$b"] } } }]).toArray();
    expect(rows).toEqual([
      { _id: 1, lt: true, gt: false, cmp: -1, min: "\uffff" },
      { _id: 2, lt: false, gt: true, cmp: 1, min: "a\uffff" },
    ]);
  });

  it("applies the update operators $min and $max in UTF-8 order", async () => {
    const coll = mongo.db.collection<Loose>("update");
    await coll.insertOne({ _id: 1, lo: "\u{1f600}", hi: "\uffff", nested: { lo: "\u{1f600}" } });
    await coll.updateOne({ _id: 1 }, { $min: { lo: "\uffff", "nested.lo": "\uffff" }, $max: { hi: "\u{1f600}" } });
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, lo: "\uffff", hi: "\u{1f600}", nested: { lo: "\uffff" } });
    // And not the other way: a larger $min (a smaller $max) leaves the field as it is.
    await coll.updateOne({ _id: 1 }, { $min: { lo: "\u{1f600}" }, $max: { hi: "\uffff" } });
    expect(await coll.findOne({ _id: 1 })).toEqual({ _id: 1, lo: "\uffff", hi: "\u{1f600}", nested: { lo: "\uffff" } });
    // A missing field is set.
    await coll.updateOne({ _id: 1 }, { $max: { fresh: "\u{1f600}" } });
    expect((await coll.findOne({ _id: 1 }))?.fresh).toBe("\u{1f600}");
  });
});
