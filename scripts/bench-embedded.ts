/**
 * `npx tsx scripts/bench-embedded.ts [--docs 100000] [--rounds 3] [--server src/embedded/index.ts]`
 *
 * Throughput of the embedded server's hot paths through the driver, in its worker thread as in
 * production: bulk inserts of small documents (one insertMany, and in 5,000-document calls as
 * ingest sends them), a `$group` over them, a `$sort`, an indexed find, and upserts with
 * `$inc`. `--server` points at another copy of `src/embedded/index.ts` (an older checkout) to
 * compare the two. Prints the median of the rounds per operation, in ms and documents per second.
 */
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { MongoClient, type Document } from "mongodb";

const { values } = parseArgs({
  options: {
    docs: { type: "string", default: "100000" },
    rounds: { type: "string", default: "3" },
    server: { type: "string", default: "src/embedded/index.ts" },
  },
});
const N = Number(values.docs);
const ROUNDS = Number(values.rounds);
const { startEmbeddedMongo } = (await import(pathToFileURL(resolve(values.server!)).href)) as typeof import("../src/embedded/index.js");

const docsOf = (round: number): Document[] =>
  Array.from({ length: N }, (_, i) => ({
    tenant: `tenant-${i % 50}`,
    sandbox: `sb-${i % 700}`,
    metric: i % 3 === 0 ? "cpu" : "memory",
    at: new Date(Date.UTC(2026, 0, 1) + i * 1000),
    value: (i * 7 + round) % 1000,
  }));

const timings = new Map<string, number[]>();
const time = async (name: string, fn: () => Promise<unknown>) => {
  const started = performance.now();
  await fn();
  const list = timings.get(name) ?? [];
  list.push(performance.now() - started);
  timings.set(name, list);
};

const mongo = await startEmbeddedMongo();
const client = new MongoClient(mongo.uri);
await client.connect();
try {
  for (let round = 0; round < ROUNDS; round++) {
    const db = client.db(`bench_${round}`);
    const docs = docsOf(round);
    await time("insertMany (one call)", () => db.collection("one").insertMany(docs.map((d) => ({ ...d })), { ordered: false }));
    await time("insertMany (5,000 a call)", async () => {
      for (let i = 0; i < N; i += 5_000) await db.collection("batched").insertMany(docs.slice(i, i + 5_000).map((d) => ({ ...d })), { ordered: false });
    });
    const coll = db.collection("one");
    await time("$group by sandbox ($sum, $max, $push)", () =>
      coll.aggregate([{ $group: { _id: "$sandbox", total: { $sum: "$value" }, top: { $max: "$value" }, values: { $push: "$value" } } }]).toArray());
    await time("$group by tenant+metric, $sort", () =>
      coll.aggregate([{ $group: { _id: { t: "$tenant", m: "$metric" }, n: { $sum: 1 }, avg: { $avg: "$value" } } }, { $sort: { n: -1, _id: 1 } }]).toArray());
    await time("$sort by string then date", () => coll.aggregate([{ $sort: { sandbox: 1, at: -1 } }, { $limit: 10 }]).toArray());
    await coll.createIndex({ tenant: 1, at: 1 });
    await time("find by index (1/50 of docs)", () => coll.find({ tenant: "tenant-7", at: { $gte: new Date(Date.UTC(2026, 0, 1)) } }).toArray());
    await time("upserts with $inc (10,000)", async () => {
      const ops = Array.from({ length: 10_000 }, (_, i) => ({ updateOne: { filter: { _id: `k${i % 2_000}` }, update: { $inc: { n: 1 }, $max: { last: `v${i}` } }, upsert: true } }));
      await db.collection<{ _id: string; n?: number; last?: string }>("counters").bulkWrite(ops, { ordered: false });
    });
    await db.dropDatabase();
  }
} finally {
  await client.close();
  await mongo.stop();
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const DOCS: Record<string, number> = { "upserts with $inc (10,000)": 10_000 };
console.log(`server: ${values.server}, ${N} documents, median of ${ROUNDS} rounds`);
console.log("| operation | ms | docs/s |");
console.log("| --- | ---: | ---: |");
for (const [name, list] of timings) {
  const ms = median(list);
  const n = DOCS[name] ?? N;
  console.log(`| ${name} | ${ms.toFixed(0)} | ${Math.round((n / ms) * 1000).toLocaleString("en-US")} |`);
}
