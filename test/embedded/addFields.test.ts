/**
 * `$addFields`/`$set` (src/embedded/engine/operators/addFields.ts): through the driver against
 * MongoDB's documented behaviour, and in-process against mingo's own stage on random documents
 * and specifications (fixed seed). The engine follows MongoDB where mingo differs: an object
 * expression leaves out a field whose value is missing (mingo sets it to undefined) and an array
 * expression holds null for a missing element; both look the same once sent through BSON.
 */
import { deserialize, serialize } from "bson";
import fc from "fast-check";
import { Aggregator } from "mingo/aggregator";
import { $addFields as mingoAddFields } from "mingo/operators/pipeline";
import type { Document } from "mongodb";
import { describe, expect, it } from "vitest";
import { optionsWithStages, queryOptions } from "../../src/embedded/engine/mingo-options.js";
import type { Doc } from "../../src/embedded/engine/paths.js";
import { type Loose, useTestMongo } from "../helpers/mongo.js";

describe("$addFields and $set through the driver", () => {
  const mongo = useTestMongo("addfields");
  let n = 0;
  const run = async (docs: Loose[], pipeline: Document[], options: Document = {}) => {
    const coll = mongo.db.collection<Loose>(`a${n++}`);
    await coll.insertMany(docs.map((d, i) => ({ _id: i, ...d })));
    return coll.aggregate([...pipeline, { $project: { _id: 0 } }], options).toArray();
  };

  it("replaces fields in place, appends new ones in order, and evaluates against the input document", async () => {
    const got = await run([{ a: 1, b: 2, c: 3 }], [{ $set: { z: "$a", b: "$c", a: "$b" } }]);
    expect(got).toEqual([{ a: 2, b: 3, c: 3, z: 1 }]);
    expect(Object.keys(got[0]!)).toEqual(["a", "b", "c", "z"]);
  });

  it("removes a field whose value is missing, and keeps one whose value is null", async () => {
    const got = await run([{ a: 1, b: 2 }], [{ $addFields: { a: "$nope", b: "$$REMOVE", c: null, d: "$nope" } }]);
    expect(got).toEqual([{ c: null }]);
  });

  it("evaluates operators, nested objects, arrays, paths through arrays and variables", async () => {
    const docs = [{ n: 4, xs: [{ v: 1 }, { v: 2 }, {}], o: { p: { q: "deep" } } }];
    const got = await run(docs, [
      {
        $set: {
          twice: { $multiply: ["$n", 2] },
          obj: { q: "$o.p.q", missing: "$nope", lit: { $literal: "$n" } },
          arr: ["$n", "$nope"],
          vs: "$xs.v",
          big: { $cond: [{ $gt: ["$n", "$$limit"] }, "yes", "no"] },
          alt: { $ifNull: ["$nope", "$o.p.q"] },
          root: "$$ROOT.n",
        },
      },
      { $project: { xs: 0, o: 0 } },
    ], { let: { limit: 3 } });
    expect(got).toEqual([{ n: 4, twice: 8, obj: { q: "deep", lit: "$n" }, arr: [4, null], vs: [1, 2], big: "yes", alt: "deep", root: 4 }]);
  });

  it("sets nested fields (through mingo) without touching the stored documents", async () => {
    const got = await run([{ o: { a: 1 } }], [{ $set: { "o.b": 2, top: "$o.a" } }]);
    expect(got).toEqual([{ o: { a: 1, b: 2 }, top: 1 }]);
    const again = await run([{ o: { a: 1 } }], []);
    expect(again).toEqual([{ o: { a: 1 } }]);
  });
});

/* ------------------------------------------------------------------------------------------------
 * Differential: the engine's $addFields against mingo's, in-process, on random input.
 * ---------------------------------------------------------------------------------------------- */

const wire = (docs: Doc[]) => deserialize(serialize({ docs }, { ignoreUndefined: true })).docs as Doc[];

const value = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom("a", "b", ""), fc.boolean(), fc.constant(null));
const randomDoc = fc.record(
  {
    a: value,
    b: value,
    o: fc.record({ x: value, y: fc.record({ z: value }, { requiredKeys: [], noNullPrototype: true }) }, { requiredKeys: [], noNullPrototype: true }),
    xs: fc.array(fc.record({ x: value }, { requiredKeys: [], noNullPrototype: true }), { maxLength: 3 }),
    n: fc.integer({ min: -5, max: 5 }),
  },
  { requiredKeys: ["n"], noNullPrototype: true },
);

const EXPRESSIONS: unknown[] = [
  "$a",
  "$o",
  "$o.x",
  "$o.y.z",
  "$xs.x",
  "$xs",
  "$nope",
  "$$REMOVE",
  "$$ROOT",
  "$$CURRENT.a",
  "literal",
  7,
  null,
  { $ifNull: ["$a", "$b", "none"] },
  { $cond: [{ $gt: ["$n", 0] }, "$a", "$b"] },
  { $cond: { if: "$a", then: 1, else: 0 } },
  { $add: ["$n", 1] },
  { $eq: ["$a", "$b"] },
  { $concat: ["x", "-", "y"] },
  { $literal: "$a" },
  // `xs` may be missing, and MongoDB's $size of a missing value fails (mingo answered null).
  { $size: { $ifNull: ["$xs", []] } },
  { k: "$n", j: { $multiply: ["$n", 2] } },
  ["$n", "$a"],
  "$$v",
  "$$v.x",
  "$$v.nope",
  "$$v.y.z",
  "$$s.x",
  "$$arr.x",
  "$$this.a",
  { $add: ["$n", "$$v.x"] },
  { $map: { input: "$xs", as: "e", in: { $ifNull: ["$$e.x", "$$v.x"] } } },
];

/** The command's `let` variables, for `$$name` expressions. */
const VARIABLES = { v: { x: 2, y: { z: "deep" } }, s: "str", arr: [{ x: 1 }, { x: 2 }, {}] };

const FIELDS = ["a", "b", "o", "n", "new1", "new2"];

describe("$addFields against mingo's $addFields (differential, fixed seed)", () => {
  it("gives the same documents", () => {
    const spec = fc.uniqueArray(fc.tuple(fc.constantFrom(...FIELDS), fc.nat({ max: EXPRESSIONS.length - 1 })), {
      minLength: 1,
      maxLength: 4,
      selector: ([f]) => f,
    });
    fc.assert(
      fc.property(fc.array(randomDoc, { maxLength: 8 }), spec, fc.boolean(), (docs, fields, asSet) => {
        const stageSpec: Doc = Object.fromEntries(fields.map(([f, i]) => [f, EXPRESSIONS[i]]));
        const stage = { [asSet ? "$set" : "$addFields"]: stageSpec };
        const engine = new Aggregator([stage], queryOptions({ variables: VARIABLES })).run(docs) as Doc[];
        const mingo = new Aggregator([stage], optionsWithStages({ $addFields: mingoAddFields, $set: mingoAddFields }, { variables: VARIABLES })).run(docs) as Doc[];
        expect(wire(engine)).toEqual(wire(mingo));
      }),
      { seed: 20260528, numRuns: 500 },
    );
  });
});

describe("$addFields variables", () => {
  it("refuses an undefined variable with mingo's error", () => {
    const stage = [{ $set: { x: "$$nope.a" } }];
    const engine = () => new Aggregator(stage, queryOptions()).run([{ a: 1 }]);
    const mingo = () => new Aggregator(stage, optionsWithStages({ $set: mingoAddFields })).run([{ a: 1 }]);
    expect(mingo).toThrow(/undefined variable: nope/);
    expect(engine).toThrow(/undefined variable: nope/);
  });
});
