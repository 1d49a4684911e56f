/**
 * `npx tsx scripts/bench-transactions.ts [-- --stored 200000 --batches 50]`
 *
 * What a multi-document transaction costs on the embedded server: the same ingest step (100 new
 * events, then 10 rollup upserts with `$inc`) as plain writes and inside `session.withTransaction`,
 * with `--stored` events already in the collection (a transaction's snapshot is copy-on-write,
 * so its cost should not grow with the data). Prints one table row per mode: mean ms per step.
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { MongoClient } from "mongodb";
import { startEmbeddedMongo } from "../src/embedded/index.js";

const { values } = parseArgs({ options: { stored: { type: "string", default: "200000" }, batches: { type: "string", default: "50" } } });
const stored = Number(values.stored);
const batches = Number(values.batches);

const mongo = await startEmbeddedMongo();
const client = new MongoClient(mongo.uri);
await client.connect();
const db = client.db("bench_txn");
const events = db.collection("events");
const rollups = db.collection("rollups");
await events.createIndex({ org: 1, ts: 1 });
await rollups.createIndex({ org: 1, bucket: 1 }, { unique: true });
for (let done = 0; done < stored; done += 10_000) {
  await events.insertMany(Array.from({ length: Math.min(10_000, stored - done) }, (_, i) => ({ org: `o${i % 10}`, ts: new Date(done + i), v: i })));
}
const batch = (k: number) => Array.from({ length: 100 }, (_, i) => ({ org: `o${i % 10}`, ts: new Date(1e12 + k * 100 + i), v: i }));
const session = client.startSession();

async function step(k: number, inTransaction: boolean): Promise<void> {
  const run = async (opts: { session?: typeof session }) => {
    await events.insertMany(batch(k), opts);
    for (let r = 0; r < 10; r++) await rollups.updateOne({ org: `o${r}`, bucket: k % 5 }, { $inc: { n: 10 } }, { upsert: true, ...opts });
  };
  if (inTransaction) await session.withTransaction(() => run({ session }));
  else await run({});
}

console.log(`| mode (${stored.toLocaleString("en")} events stored, ${batches} steps) | mean ms per step |`);
console.log("| --- | ---: |");
let k = 0;
for (const [label, inTransaction] of [["plain writes", false], ["withTransaction", true]] as const) {
  const started = performance.now();
  for (let i = 0; i < batches; i++) await step(k++, inTransaction);
  console.log(`| ${label} | ${((performance.now() - started) / batches).toFixed(1)} |`);
}
await session.endSession();
await client.close();
await mongo.stop();
