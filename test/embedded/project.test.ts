/**
 * `$project` (src/embedded/engine/operators/project.ts): through the driver against MongoDB's
 * documented behaviour, and in-process against mingo's own `$project` on random documents and
 * specifications (fixed seed), where the two agree by design.
 *
 * Where the engine follows MongoDB rather than mingo (so the differential test does not generate
 * the case, and a driver test below pins MongoDB's answer):
 * - field order: included fields in the input's order, then computed fields in the
 *   specification's order (mingo sorted its paths and put `_id` last); `toEqual` ignores order;
 * - a computed dotted field through an array is set in every element (mingo set one object);
 * - a dotted exclusion reaches into nested arrays (mingo left nested arrays alone);
 * - the input is never modified (mingo's exclusion removed dotted paths from the input);
 * - an included `_id.<field>` stands for `_id` (no default `_id`), so a scalar `_id` is dropped
 *   (mingo added the whole `_id`);
 * - an empty projection fails (51272; mingo passed documents through), and errors carry
 *   MongoDB's codes.
 */
import { deserialize, serialize } from "bson";
import fc from "fast-check";
import { Aggregator } from "mingo/aggregator";
import { $project as mingoProject } from "mingo/operators/pipeline";
import type { Document } from "mongodb";
import { describe, expect, it } from "vitest";
import { optionsWithStages, pipelineWritesNested, queryOptions } from "../../src/embedded/engine/mingo-options.js";
import type { Doc } from "../../src/embedded/engine/paths.js";
import { type Loose, useTestMongo } from "../helpers/mongo.js";

describe("$project through the driver", () => {
  const mongo = useTestMongo("project");
  let n = 0;
  const run = async (docs: Loose[], spec: Document, options: Document = {}) => {
    const coll = mongo.db.collection<Loose>(`p${n++}`);
    await coll.insertMany(docs.map((d, i) => ({ _id: i, ...d })));
    return coll.aggregate([{ $sort: { _id: 1 } }, { $project: spec }], options).toArray();
  };
  const fails = async (spec: Document, code: number) => {
    await expect(run([{ a: 1 }], spec)).rejects.toMatchObject({ code });
  };

  describe("inclusion", () => {
    it("keeps the included fields in the input's order, _id included by default, and adds no missing field", async () => {
      const got = await run([{ c: 3, b: 2, a: 1, z: null }], { a: 1, c: true, b: 5, z: 1, nope: 1 });
      expect(got).toEqual([{ _id: 0, c: 3, b: 2, a: 1, z: null }]);
      expect(Object.keys(got[0]!)).toEqual(["_id", "c", "b", "a", "z"]);
    });

    it("appends computed fields in the specification's order, after the included ones", async () => {
      const got = await run([{ a: 1, b: 2 }], { y: "$a", b: 1, x: { $add: ["$a", "$b"] }, _id: 0 });
      expect(Object.keys(got[0]!)).toEqual(["b", "y", "x"]);
      expect(got).toEqual([{ b: 2, y: 1, x: 3 }]);
    });

    it("includes dotted paths and nested specifications alike, through arrays element by element", async () => {
      const docs = [
        { a: [1, { b: 2, c: 3 }, [{ b: 4, c: 5 }, 6], { c: 7 }] },
        { a: { b: 2, c: 3 } },
        { a: 5 },
        {},
        { a: { c: 1 } },
        { a: [] },
      ];
      const expected = [{ _id: 0, a: [{ b: 2 }, [{ b: 4 }], {}] }, { _id: 1, a: { b: 2 } }, { _id: 2 }, { _id: 3 }, { _id: 4, a: {} }, { _id: 5, a: [] }];
      expect(await run(docs, { "a.b": 1 })).toEqual(expected);
      expect(await run(docs, { a: { b: 1 } })).toEqual(expected);
      expect(await run([{ a: { b: { c: 1, d: 2 }, e: 3 } }], { "a.b.c": 1, a: { e: 1 } })).toEqual([{ _id: 0, a: { b: { c: 1 }, e: 3 } }]);
    });

    it("computes expressions, literals and missing values as MongoDB does", async () => {
      const got = await run([{ a: 2, s: "x" }], {
        _id: 0,
        sum: { $add: ["$a", 1] },
        text: "plain",
        lit: { $literal: "$a" },
        nul: null,
        arr: ["$a", "$nope"],
        obj: { $literal: { k: 1 } },
        gone: "$nope",
        removed: "$$REMOVE",
        cond: { $cond: [{ $gt: ["$a", 1] }, "$$REMOVE", "kept"] },
      });
      expect(got).toEqual([{ sum: 3, text: "plain", lit: "$a", nul: null, arr: [2, null], obj: { k: 1 } }]);
    });

    it("sets a computed dotted field in every element of an array on its path, and replaces a non-document", async () => {
      const docs = [{ a: [{ x: 1 }, 5, [{ x: 2 }]], v: 9 }, { a: 5, v: 9 }, { v: 9 }, { a: { x: 1 }, v: 9 }];
      const got = await run(docs, { _id: 0, "a.b": "$v" });
      expect(got).toEqual([{ a: [{ b: 9 }, [{ b: 9 }]] }, { a: { b: 9 } }, { a: { b: 9 } }, { a: { b: 9 } }]);
      const mixed = await run([{ a: [{ x: 1, y: 2 }, { y: 3 }] }], { _id: 0, "a.x": 1, "a.c": { $literal: "c" } });
      expect(mixed).toEqual([{ a: [{ x: 1, c: "c" }, { c: "c" }] }]);
      expect(await run([{}], { _id: 0, "a.b": "$nope" })).toEqual([{ a: {} }]);
    });

    it("handles _id: excluded, computed, included alone, or by sub-field", async () => {
      const doc = [{ _id: undefined, a: 1, b: { c: 2, d: 3 } }].map(({ a, b }) => ({ a, b }));
      expect(await run(doc, { _id: 0, a: 1 })).toEqual([{ a: 1 }]);
      expect(await run(doc, { _id: 1 })).toEqual([{ _id: 0 }]);
      expect(await run(doc, { _id: "$b.c", a: 1 })).toEqual([{ a: 1, _id: 2 }]);
      const coll = mongo.db.collection<Loose>("ids");
      await coll.insertOne({ _id: { x: 1, y: 2 } as never, a: 1 });
      await coll.insertOne({ _id: 7 as never, a: 2 });
      expect(await coll.aggregate([{ $sort: { a: 1 } }, { $project: { "_id.x": 1, a: 1 } }]).toArray()).toEqual([{ _id: { x: 1 }, a: 1 }, { a: 2 }]);
    });
  });

  describe("exclusion", () => {
    it("removes the excluded fields and keeps the rest in order, _id: 0 alone excludes only _id", async () => {
      const got = await run([{ c: 3, b: 2, a: 1 }], { b: 0 });
      expect(Object.keys(got[0]!)).toEqual(["_id", "c", "a"]);
      expect(await run([{ a: 1, b: 2 }], { _id: 0 })).toEqual([{ a: 1, b: 2 }]);
      expect(await run([{ a: 1, b: 2 }], { _id: 0, a: false })).toEqual([{ b: 2 }]);
      expect(await run([{ a: 1, b: 2 }], { _id: 1, a: 0 })).toEqual([{ _id: 0, b: 2 }]);
    });

    it("removes dotted paths through arrays, nested arrays too, keeping values that are not documents", async () => {
      const docs = [{ a: [1, { b: 2, c: 3 }, [{ b: 4, c: 5 }, 6], { c: 7 }], x: 9 }, { a: { b: 2, c: { b: 1 } } }, { a: 5 }];
      expect(await run(docs, { "a.b": 0, _id: 0 })).toEqual([{ a: [1, { c: 3 }, [{ c: 5 }, 6], { c: 7 }], x: 9 }, { a: { c: { b: 1 } } }, { a: 5 }]);
      expect(await run(docs, { a: { c: 0 }, x: 0, _id: 0 })).toEqual([{ a: [1, { b: 2 }, [{ b: 4 }, 6], {}] }, { a: { b: 2 } }, { a: 5 }]);
    });

    it("never changes the stored documents", async () => {
      const coll = mongo.db.collection<Loose>("untouched");
      const doc = { _id: 1, a: { b: 1, c: 2 }, xs: [{ b: 1, c: 2 }] };
      await coll.insertOne(doc as never);
      await coll.aggregate([{ $project: { "a.b": 0, "xs.b": 0 } }]).toArray();
      await coll.aggregate([{ $project: { a: { c: 0 } } }]).toArray();
      await coll.find({}, { projection: { "a.b": 0, "xs.c": 0 } }).toArray();
      expect(await coll.findOne({ _id: 1 } as never)).toEqual(doc);
    });
  });

  describe("errors", () => {
    it.each([
      [{ a: 1, b: 0 }, 31254],
      [{ a: 0, b: 1 }, 31253],
      [{ a: 0, b: { $add: [1, 2] } }, 31252],
      [{ a: 0, b: "$x" }, 31310],
      [{ a: 1, "a.b": 1 }, 31249],
      [{ "a.b": 1, a: 1 }, 31250],
      [{ a: {} }, 51270],
      [{}, 51272],
      [{ a: { $nope: 1 } }, 168],
    ])("refuses %j with MongoDB's code", async (spec, code) => {
      await fails(spec, code);
    });
  });

  it("leaves find-only projection operators and positional paths to mingo, as before", async () => {
    const got = await run([{ xs: [1, 2, 3], ys: [{ k: 1 }, { k: 2 }] }], { xs: { $slice: 2 }, ys: { $elemMatch: { k: 2 } } });
    expect(got).toEqual([{ _id: 0, xs: [1, 2], ys: [{ k: 2 }] }]);
    // The $slice expression (not all numbers) is an expression like any other.
    expect(await run([{ xs: [1, 2, 3] }], { _id: 0, v: { $slice: ["$xs", 2] } })).toEqual([{ v: [1, 2] }]);
  });

  it("projects the variables of the command's let and of a $lookup's let", async () => {
    expect(await run([{ a: 1 }], { _id: 0, v: "$$x", w: { $add: ["$a", "$$x"] } }, { let: { x: 10 } })).toEqual([{ v: 10, w: 11 }]);
  });
});

describe("the clone rule", () => {
  it("copies the input only for what could write into its nested objects", () => {
    expect(pipelineWritesNested([{ $project: { "a.b": 0 } }, { $project: { a: { b: 1 } } }])).toBe(false);
    expect(pipelineWritesNested([{ $project: { "a.$": 1 } }])).toBe(true);
    expect(pipelineWritesNested([{ $project: { a: { $slice: 1 }, "b.c": 0 } }])).toBe(true);
  });
});

/* ------------------------------------------------------------------------------------------------
 * Differential: the engine's $project against mingo's, in-process, on random input.
 * ---------------------------------------------------------------------------------------------- */

const wire = (docs: Doc[]) => deserialize(serialize({ docs }, { ignoreUndefined: true })).docs as Doc[];

type Outcome = { ok: Doc[] } | { error: true };
function outcome(run: () => Doc[]): Outcome {
  try {
    return { ok: wire(run()) };
  } catch {
    return { error: true };
  }
}

const value = fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom("a", "b", ""), fc.boolean(), fc.constant(null));
const inner = fc.record({ x: value, y: fc.record({ z: value }, { requiredKeys: [], noNullPrototype: true }) }, { requiredKeys: [], noNullPrototype: true });
/**
 * Documents without nested arrays (mingo's exclusion does not reach into them: see above), and
 * without null in arrays (mingo's exclusion of a path through an array fails on a null element).
 */
const randomDoc = fc.record(
  {
    _id: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.record({ p: value, q: value }, { requiredKeys: [], noNullPrototype: true })),
    a: value,
    b: value,
    o: fc.oneof(inner, value),
    xs: fc.array(fc.oneof(inner, value.filter((v) => v !== null)), { maxLength: 3 }),
    n: fc.integer({ min: -5, max: 5 }),
  },
  { requiredKeys: ["n"], noNullPrototype: true },
);

const PATHS = ["a", "b", "n", "o", "o.x", "o.y", "o.y.z", "xs", "xs.x", "xs.y.z", "_id", "_id.p", "nope", "o.nope"];

const EXPRESSIONS: unknown[] = [
  "$a",
  "$o.x",
  "$xs.x",
  "$nope",
  "$$REMOVE",
  "$$ROOT.n",
  "literal",
  null,
  ["$n", "$nope"],
  { k: "$n", j: "$nope" },
  { $literal: 1 },
  { $add: ["$n", 1] },
  { $multiply: ["$n", { $ifNull: ["$a", 2] }] },
  { $cond: [{ $gt: ["$n", 0] }, "$a", "$$REMOVE"] },
  { $concat: ["x", { $ifNull: ["$b", "-"] }] },
  { $round: [{ $divide: ["$n", 3] }, 2] },
  { $map: { input: { $ifNull: ["$xs", []] }, as: "e", in: { $ifNull: ["$$e.x", "$$e"] } } },
  { $filter: { input: { $ifNull: ["$xs", []] }, cond: { $eq: [{ $type: "$$this" }, "object"] } } },
  { $reduce: { input: { $range: [0, { $abs: "$n" }] }, initialValue: 0, in: { $add: ["$$value", "$$this"] } } },
  { $let: { vars: { t: "$n" }, in: { $max: ["$$t", 0, "$nope"] } } },
];

/** Computed fields go to new names or into `o` and `_id` only (never through the array `xs`: see above). */
const COMPUTED_NAMES = ["c1", "c2", "o.k", "o.y.k", "a", "_id", "w.v"];

const inclusionSpec = fc
  .record({
    included: fc.uniqueArray(fc.constantFrom(...PATHS.filter((p) => p !== "_id.p")), { maxLength: 4 }),
    computed: fc.uniqueArray(fc.tuple(fc.constantFrom(...COMPUTED_NAMES), fc.nat({ max: EXPRESSIONS.length - 1 })), { maxLength: 3, selector: ([k]) => k }),
    id: fc.constantFrom(undefined, 0, 1, true, false),
    nested: fc.boolean(),
    truthy: fc.constantFrom(1, true, -2, 0.5),
  })
  .map(({ included, computed, id, nested, truthy }) => {
    const spec: Doc = {};
    for (const p of included) spec[p] = truthy;
    for (const [k, i] of computed) {
      // An object of fields is a nested projection: under a dotted name mingo loses it
      // (`{"w.v": {k: "$n"}}` gives mingo `{w: {v: {}}}`, MongoDB and the engine `{w: {v: {k: n}}}`).
      const e = EXPRESSIONS[i];
      spec[k] = k.includes(".") && e !== null && typeof e === "object" && !Array.isArray(e) && !Object.keys(e)[0]!.startsWith("$") ? "$n" : e;
    }
    if (id !== undefined && !("_id" in spec)) spec._id = id;
    return nested ? nest(spec) : spec;
  });

const exclusionSpec = fc
  .record({ excluded: fc.uniqueArray(fc.constantFrom(...PATHS), { minLength: 1, maxLength: 4 }), falsy: fc.constantFrom(0, false), nested: fc.boolean() })
  .map(({ excluded, falsy, nested }) => {
    const spec: Doc = Object.fromEntries(excluded.map((p) => [p, falsy]));
    return nested ? nest(spec) : spec;
  });

/**
 * The same specification written with nested objects where it can be (`{"o.x": 1}` as
 * `{o: {x: 1}}`), except a null literal (mingo's nested specification loses it: `{o: {k: null}}`
 * gives mingo `{o: {}}`, MongoDB and the engine `{o: {k: null}}`).
 */
function nest(spec: Doc): Doc {
  const out: Doc = {};
  for (const [path, v] of Object.entries(spec)) {
    const parts = path.split(".");
    const isExpression = v !== null && typeof v === "object" && !Array.isArray(v);
    if (parts.length === 1 || isExpression || v === null) {
      if (path in out) return spec;
      out[path] = v;
      continue;
    }
    let at = out;
    for (const p of parts.slice(0, -1)) {
      if (at[p] === undefined) at[p] = {};
      if (typeof at[p] !== "object" || at[p] === null) return spec;
      at = at[p] as Doc;
    }
    at[parts[parts.length - 1]!] = v;
  }
  return out;
}

describe("$project against mingo's $project (differential, fixed seed)", () => {
  it("gives the same documents and refuses the same specifications", () => {
    const variables = { v: 5 };
    fc.assert(
      fc.property(fc.array(randomDoc, { maxLength: 6 }), fc.oneof(inclusionSpec, exclusionSpec), (docs, spec) => {
        if (Object.keys(spec).length === 0) return;
        const stage = [{ $project: spec }];
        const engine = outcome(() => new Aggregator(stage, queryOptions({ variables })).run(structuredClone(docs)) as Doc[]);
        const mingo = outcome(() => new Aggregator(stage, optionsWithStages({ $project: mingoProject }, { variables })).run(structuredClone(docs)) as Doc[]);
        expect(engine).toEqual(mingo);
      }),
      { seed: 20260530, numRuns: 1500 },
    );
  });

  it("leaves its input untouched", () => {
    fc.assert(
      fc.property(fc.array(randomDoc, { maxLength: 6 }), fc.oneof(inclusionSpec, exclusionSpec), (docs, spec) => {
        if (Object.keys(spec).length === 0) return;
        const before = structuredClone(docs);
        try {
          new Aggregator([{ $project: spec }], queryOptions()).run(docs);
        } catch {
          // refused specifications are the other test's
        }
        expect(docs).toEqual(before);
      }),
      { seed: 20260531, numRuns: 500 },
    );
  });
});
