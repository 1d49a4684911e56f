/**
 * `$merge` with a whenMatched pipeline (src/embedded/engine/aggregate.ts), in-process: the pipeline
 * reads the stored document without a copy unless it could write into it (a `$set` of a dotted
 * field), and either way stored documents are never changed in place and every index follows the
 * replacement.
 */
import { describe, expect, it } from "vitest";
import { runPipeline } from "../../src/embedded/engine/aggregate.js";
import { cloneDoc, type Doc } from "../../src/embedded/engine/paths.js";
import { Store } from "../../src/embedded/engine/store.js";

function setup() {
  const store = new Store();
  const { coll: target } = store.ensureCollection("d", "target");
  target.createIndex({ name: "kx", key: { "k.x": 1 } });
  target.createIndex({ name: "n", key: { n: 1 } });
  target.insert({ _id: "a", k: { x: 1, y: 1 }, n: 1 });
  target.insert({ _id: "b", k: { x: 2, y: 2 }, n: 5 });
  const { coll: source } = store.ensureCollection("d", "source");
  source.insert({ _id: "a", x: 10, n: 3 });
  source.insert({ _id: "b", x: 20, n: 1 });
  source.insert({ _id: "c", x: 30, n: 7 });
  return { store, target };
}

const merge = (store: Store, whenMatched: Doc[]) =>
  runPipeline(store, { db: "d", collection: "source", pipeline: [{ $merge: { into: "target", on: "_id", whenMatched, whenNotMatched: "insert" } }] });

const byIndex = (store: Store, name: string, value: unknown) => {
  const coll = store.collection("d", "target")!;
  return coll.indexes.get(name)!.scan([{ points: [value] }]).map((rid) => coll.docs.get(rid)!._id);
};

describe("$merge with a whenMatched pipeline", () => {
  it("replaces through a pipeline that reads the stored document, leaving the stored objects as they were", () => {
    const { store, target } = setup();
    const stored = [...target.docs.values()];
    const snapshot = stored.map(cloneDoc);
    merge(store, [{ $replaceWith: { $cond: [{ $gte: ["$$new.n", "$n"] }, { $mergeObjects: ["$$ROOT", { n: "$$new.n" }] }, "$$ROOT"] } }]);
    expect(stored).toEqual(snapshot);
    expect(target.allDocs()).toEqual([
      { _id: "a", k: { x: 1, y: 1 }, n: 3 },
      { _id: "b", k: { x: 2, y: 2 }, n: 5 },
      { _id: "c", x: 30, n: 7 },
    ]);
    expect(byIndex(store, "n", 3)).toEqual(["a"]);
    expect(byIndex(store, "n", 1)).toEqual([]);
  });

  it("copies the stored document for a pipeline that sets a nested field, and the index on it follows", () => {
    const { store, target } = setup();
    const stored = [...target.docs.values()];
    const snapshot = stored.map(cloneDoc);
    merge(store, [{ $set: { "k.x": "$$new.x" } }]);
    expect(stored).toEqual(snapshot);
    expect(target.allDocs().slice(0, 2)).toEqual([
      { _id: "a", k: { x: 10, y: 1 }, n: 1 },
      { _id: "b", k: { x: 20, y: 2 }, n: 5 },
    ]);
    expect(byIndex(store, "kx", 10)).toEqual(["a"]);
    expect(byIndex(store, "kx", 1)).toEqual([]);
  });
});

describe("$merge with a compiled whenMatched pipeline", () => {
  const whenMatched: Doc[] = [
    { $set: { n: { $add: ["$n", "$$inc"] }, tag: "$$tag", from: "$$new.x", gone: "$$REMOVE" } },
    { $replaceWith: { $mergeObjects: ["$$ROOT", { both: { $concat: ["$$tag", "-", { $toString: "$$new.n" }] } }] } },
  ];
  const mergeWith = (pipeline: Doc[]) => {
    const { store, target } = setup();
    runPipeline(store, {
      db: "d",
      collection: "source",
      variables: { tag: "t" },
      pipeline: [{ $merge: { into: "target", on: "_id", let: { inc: "$n" }, whenMatched: pipeline, whenNotMatched: "discard" } }],
    });
    return target.allDocs();
  };

  it("binds $$new, the $merge's let and the command's variables for each result", () => {
    expect(mergeWith(whenMatched)).toEqual([
      { _id: "a", k: { x: 1, y: 1 }, n: 4, tag: "t", from: 10, both: "t-3" },
      { _id: "b", k: { x: 2, y: 2 }, n: 6, tag: "t", from: 20, both: "t-1" },
    ]);
  });

  it("answers what mingo's pipeline answers", () => {
    // $unset is not compiled: with it the whole pipeline runs through mingo, per document.
    expect(mergeWith([...whenMatched, { $unset: "nothing" }])).toEqual(mergeWith(whenMatched));
  });
});
