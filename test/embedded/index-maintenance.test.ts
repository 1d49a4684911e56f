/**
 * Index maintenance and point lookups (src/embedded/engine/collection.ts, indexes.ts), in-process
 * on random operations (fast-check, fixed seed):
 * - after every insert and replace (one that fails on a duplicate key included), each index holds
 *   exactly the entries its documents' keys give (equal in the index's order), which `replace`
 *   relies on when it leaves the indexes of unchanged keys untouched;
 * - a scan with every field of a unique index pinned (the one-descent lookup) answers what a range
 *   scan over the same keys answers, multikey documents, equal values of other types and missing
 *   fields included;
 * - a filter answered through an index (where the equalities the scan answers exactly are not
 *   checked again) finds exactly the documents a full scan with the whole filter finds.
 */
import { Decimal128, Long, ObjectId } from "bson";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Collection } from "../../src/embedded/engine/collection.js";
import { compareKeys, HIGHEST, LOWEST } from "../../src/embedded/engine/compare.js";
import { MongoCommandError } from "../../src/embedded/engine/errors.js";
import type { Index } from "../../src/embedded/engine/indexes.js";
import { newQuery } from "../../src/embedded/engine/mingo-options.js";
import type { Doc } from "../../src/embedded/engine/paths.js";

const small = fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constantFrom("a", "b"), fc.constant(null), fc.integer({ min: 0, max: 3 }).map((n) => Long.fromNumber(n)));
const value = fc.oneof(small, fc.array(small, { maxLength: 2 }));
const doc = fc.record({ a: value, b: small, c: fc.record({ d: small }, { requiredKeys: [], noNullPrototype: true }) }, { requiredKeys: [], noNullPrototype: true });

function newCollection(): Collection {
  const coll = new Collection("t", "c");
  coll.createIndex({ name: "a_b", key: { a: 1, b: -1 }, unique: true });
  coll.createIndex({ name: "cd", key: { "c.d": 1 } });
  coll.createIndex({ name: "b_sparse", key: { b: 1 }, unique: true, sparse: true });
  return coll;
}

/** Every entry of every index, as the index holds them and as its documents' keys give them. */
function entries(coll: Collection, index: Index): { held: unknown[][]; expected: unknown[][] } {
  const held = index.tree.toArray().map(([k]) => k);
  const expected: unknown[][] = [];
  for (const [rid, d] of coll.docs) for (const k of index.keysOf(d)) expected.push([...k, rid]);
  expected.sort(compareKeysIn(index));
  return { held, expected };
}

function compareKeysIn(index: Index): (a: unknown[], b: unknown[]) => number {
  return (a, b) => {
    for (let i = 0; i < index.directions.length; i++) {
      const c = compareKeys([a[i]], [b[i]]);
      if (c !== 0) return c * index.directions[i]!;
    }
    return compareKeys([a[index.directions.length]], [b[index.directions.length]]);
  };
}

type Op = { kind: "insert"; doc: Doc } | { kind: "replace"; at: number; doc: Doc };
const op: fc.Arbitrary<Op> = fc.oneof(
  doc.map((d) => ({ kind: "insert" as const, doc: d })),
  fc.tuple(fc.nat(), doc).map(([at, d]) => ({ kind: "replace" as const, at, doc: d })),
);

describe("index maintenance", () => {
  it("keeps every index equal to its documents' keys through inserts and replacements", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 25 }), (ops) => {
        const coll = newCollection();
        for (const o of ops) {
          const before = new Map(coll.docs);
          try {
            if (o.kind === "insert") coll.insert({ ...o.doc });
            else {
              const rids = [...coll.docs.keys()];
              if (rids.length === 0) continue;
              const rid = rids[o.at % rids.length]!;
              // Sometimes the same document again (every key unchanged), sometimes another one.
              const next = o.at % 3 === 0 ? { ...coll.docs.get(rid)! } : { _id: coll.docs.get(rid)!._id, ...o.doc };
              coll.replace(rid, next);
            }
          } catch (e) {
            expect(e).toBeInstanceOf(MongoCommandError);
            expect((e as MongoCommandError).code).toBe(11000);
            expect(new Map(coll.docs)).toEqual(before);
          }
          for (const index of coll.indexes.values()) {
            // Equal in the index's order (an unchanged key may keep an equal value of another type, 1 for Long 1).
            const { held, expected } = entries(coll, index);
            const cmp = compareKeysIn(index);
            expect(held.length).toBe(expected.length);
            held.forEach((k, i) => expect(cmp(k, expected[i]!)).toBe(0));
          }
        }
      }),
      { seed: 20260530, numRuns: 300 },
    );
  });

  it("finds the same records with every field of a unique index pinned as with a range scan", () => {
    fc.assert(
      fc.property(fc.array(doc, { maxLength: 20 }), fc.array(fc.tuple(small, small), { minLength: 1, maxLength: 3 }), (docs, points) => {
        const coll = newCollection();
        for (const d of docs) {
          try {
            coll.insert({ ...d });
          } catch {
            // duplicate keys are skipped
          }
        }
        const index = coll.indexes.get("a_b")!;
        const a = points.map(([x]) => x);
        const b = points.map(([, y]) => y);
        const pinned = index.scan([{ points: a }, { points: b }]);
        // The same keys through range scans, one per pair of values, without repeats.
        const ranged: number[] = [];
        for (const x of a) for (const y of b) {
          for (const rid of index.scan([{ points: [x] }, { low: y, high: y }])) if (!ranged.includes(rid)) ranged.push(rid);
        }
        expect(pinned).toEqual(ranged);
        // And the _id index: each _id finds its own record.
        for (const [rid, d] of coll.docs) expect(coll.indexes.get("_id_")!.scan([{ points: [d._id] }])).toEqual([rid]);
        expect(coll.indexes.get("_id_")!.scan([{ points: [LOWEST, HIGHEST] }])).toEqual([]);
      }),
      { seed: 20260531, numRuns: 300 },
    );
  });
});

/* ------------------------------------------------------------------------------------------------
 * Filters answered through an index against a full scan.
 * ---------------------------------------------------------------------------------------------- */

const D0 = Date.UTC(2026, 4, 30);
const OIDS = [new ObjectId("65a000000000000000000001"), new ObjectId("65a000000000000000000002")];
const scalar = fc.oneof(
  fc.integer({ min: 0, max: 2 }),
  fc.constantFrom(0.5, 1.0, -0, NaN),
  fc.integer({ min: 0, max: 2 }).map((n) => Long.fromNumber(n)),
  fc.constantFrom(Decimal128.fromString("1.0"), Decimal128.fromString("0.5")),
  fc.constantFrom("a", "b", "1"),
  fc.boolean(),
  fc.constant(null),
  fc.integer({ min: 0, max: 2 }).map((n) => new Date(D0 + n)),
  fc.constantFrom(...OIDS),
  fc.constant({ x: 1 }),
);
/** Mostly scalars (the indexes stay usable); an array now and then makes an index multikey. */
const field = fc.oneof({ weight: 12, arbitrary: scalar }, { weight: 1, arbitrary: fc.array(scalar, { maxLength: 2 }) });
const indexedDoc = fc.record({ a: field, b: field, c: fc.record({ d: field }, { requiredKeys: [], noNullPrototype: true }) }, { requiredKeys: [], noNullPrototype: true });
const plain = { noNullPrototype: true } as const;
const filterValue = fc.oneof(
  scalar,
  fc.record({ $gte: scalar, $lt: scalar }, plain),
  fc.record({ $gt: scalar }, plain),
  fc.record({ $in: fc.array(scalar, { maxLength: 3 }) }, plain),
);
const filter = fc.oneof(
  fc.record({ a: filterValue }, plain),
  fc.record({ a: scalar, b: filterValue }, plain),
  fc.record({ "c.d": filterValue }, plain),
  fc.record({ a: scalar, "c.d": scalar, b: filterValue }, { requiredKeys: ["a"], noNullPrototype: true }),
);

describe("planned filters", () => {
  it("find through an index exactly what a full scan finds", () => {
    fc.assert(
      fc.property(fc.array(indexedDoc, { maxLength: 25 }), fc.array(filter, { minLength: 1, maxLength: 4 }), (docs, filters) => {
        const coll = new Collection("t", "c");
        coll.createIndex({ name: "a_b", key: { a: 1, b: 1 } });
        coll.createIndex({ name: "cd", key: { "c.d": 1 } });
        for (const d of docs) coll.insert({ ...d });
        // The same documents (an index scan returns them in index order).
        const ids = (found: Doc[]) => found.map((d) => String(d._id)).sort();
        for (const f of filters) {
          const query = newQuery(f);
          expect(ids(coll.matchingDocs(f))).toEqual(ids([...coll.docs.values()].filter((d) => query.test(d))));
        }
      }),
      { seed: 20260601, numRuns: 1000 },
    );
  });
});
