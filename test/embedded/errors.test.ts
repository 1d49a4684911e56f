import { describe, expect, it } from "vitest";
import { MongoServerError } from "mongodb";
import { type Loose, useTestMongo } from "../helpers/mongo.js";


/**
 * Bad requests must come back as ordinary server errors (with mongod's error codes) — never a
 * hang, a dropped connection or a crashed server — and the same client must keep working.
 */

/** Resolves to the rejection error; fails if the promise resolves or takes longer than `ms`. */
async function rejectsPromptly(p: Promise<unknown>, ms = 5_000): Promise<MongoServerError> {
  const outcome = await Promise.race([
    p.then(
      (value) => ({ kind: "resolved" as const, value }),
      (error: unknown) => ({ kind: "rejected" as const, error }),
    ),
    new Promise<{ kind: "timeout" }>((resolve) => setTimeout(() => resolve({ kind: "timeout" }), ms)),
  ]);
  expect(outcome.kind).toBe("rejected");
  if (outcome.kind !== "rejected") throw new Error(`expected a rejection, got ${outcome.kind}`);
  expect(outcome.error).toBeInstanceOf(MongoServerError);
  return outcome.error as MongoServerError;
}

describe("embedded mongo: error handling", { timeout: 30_000 }, () => {
  const mongo = useTestMongo("errors");

  async function stillWorks(coll: string, expectedCount: number) {
    expect((await mongo.db.command({ ping: 1 })).ok).toBe(1);
    expect(await mongo.db.collection<Loose>(coll).countDocuments()).toBe(expectedCount);
  }

  it("rejects an unknown top-level query operator with BadValue (2)", async () => {
    const coll = mongo.db.collection<Loose>("bad_top");
    await coll.insertMany([{ a: 1 }, { a: 2 }]);
    const err = await rejectsPromptly(coll.find({ $foo: 1 } as never).toArray());
    expect(err.code).toBe(2);
    await stillWorks("bad_top", 2);
  });

  it("rejects an unknown field-level query operator with BadValue (2)", async () => {
    const coll = mongo.db.collection<Loose>("bad_field");
    await coll.insertMany([{ a: 1 }, { a: 2 }]);
    const err = await rejectsPromptly(coll.find({ a: { $foo: 1 } } as never).toArray());
    expect(err.code).toBe(2);
    // Same in countDocuments (an aggregate under the hood) and deleteMany.
    await rejectsPromptly(coll.countDocuments({ a: { $foo: 1 } } as never));
    await rejectsPromptly(coll.deleteMany({ $foo: 1 } as never));
    // The failed delete deleted nothing.
    await stillWorks("bad_field", 2);
  });

  it("rejects an unknown aggregation stage with 40324", async () => {
    const coll = mongo.db.collection<Loose>("bad_stage");
    await coll.insertOne({ a: 1 });
    const err = await rejectsPromptly(coll.aggregate([{ $match: {} }, { $fooStage: { x: 1 } }]).toArray());
    expect(err.code).toBe(40324); // "Unrecognized pipeline stage name"
    await stillWorks("bad_stage", 1);
  });

  it("rejects an unknown expression operator with InvalidPipelineOperator (168)", async () => {
    const coll = mongo.db.collection<Loose>("bad_expr");
    await coll.insertOne({ a: 1 });
    const err = await rejectsPromptly(coll.aggregate([{ $project: { x: { $fooOp: ["$a", 1] } } }]).toArray());
    expect(err.code).toBe(168);
    await stillWorks("bad_expr", 1);
  });

  it("rejects an unknown update operator with FailedToParse (9) and changes nothing", async () => {
    const coll = mongo.db.collection<Loose>("bad_update");
    await coll.insertOne({ _id: 1 as never, a: 1 });
    const err = await rejectsPromptly(coll.updateOne({ _id: 1 as never }, { $foo: { a: 2 } } as never));
    expect(err.code).toBe(9);
    expect(await coll.findOne({ _id: 1 as never })).toEqual({ _id: 1, a: 1 });
  });

  it("rejects $inc on a non-numeric field with TypeMismatch (14) and changes nothing", async () => {
    const coll = mongo.db.collection<Loose>("bad_inc");
    await coll.insertOne({ _id: 1 as never, s: "text", n: 1 });
    const err = await rejectsPromptly(coll.updateOne({ _id: 1 as never }, { $inc: { s: 1, n: 1 } } as never));
    expect(err.code).toBe(14);
    expect(await coll.findOne({ _id: 1 as never })).toEqual({ _id: 1, s: "text", n: 1 });
  });

  it("rejects modifying _id with ImmutableField (66)", async () => {
    const coll = mongo.db.collection<Loose>("bad_id_update");
    await coll.insertOne({ _id: 1 as never, a: 1 });
    const err = await rejectsPromptly(coll.updateOne({ _id: 1 as never }, { $set: { _id: 2 } } as never));
    expect(err.code).toBe(66);
    expect(await coll.find({}).toArray()).toEqual([{ _id: 1, a: 1 }]);
  });

  it("keeps serving a client through a burst of mixed failing and succeeding requests", async () => {
    const coll = mongo.db.collection<Loose>("mixed_burst");
    await coll.insertMany(Array.from({ length: 20 }, (_, i) => ({ i })));
    const tasks: Promise<unknown>[] = [];
    for (let k = 0; k < 30; k++) {
      if (k % 3 === 0) tasks.push(rejectsPromptly(coll.find({ $bogus: k } as never).toArray()));
      else if (k % 3 === 1) tasks.push(rejectsPromptly(coll.aggregate([{ $nope: k }]).toArray()));
      else tasks.push(coll.countDocuments({ i: { $lt: k } }).then((n) => expect(n).toBe(Math.min(k, 20))));
    }
    await Promise.all(tasks);
    await stillWorks("mixed_burst", 20);
  });
});
