import { randomUUID } from "node:crypto";
import { afterAll, beforeAll } from "vitest";
import { MongoClient, type Db, type ObjectId } from "mongodb";
import { startEmbeddedMongo, type EmbeddedMongo } from "../../src/embedded/index.js";

/**
 * The MongoDB every integration test talks to: `TEST_MONGODB_URI` when set (a real mongod, or an
 * embedded server started separately with `npm run mongo`), else a fresh embedded server.
 * Each call gets its own database so test files never see each other's data.
 */
export interface TestMongo {
  uri: string;
  client: MongoClient;
  db: Db;
  dbName: string;
  /** The embedded server, when this test started one (null against TEST_MONGODB_URI). */
  embedded: EmbeddedMongo | null;
  close(): Promise<void>;
}

/** `monitorCommands`: the client emits commandStarted/… events, for tests that count database round trips. */
export async function startTestMongo(label = "t", opts: { monitorCommands?: boolean } = {}): Promise<TestMongo> {
  const external = process.env.TEST_MONGODB_URI;
  const embedded = external ? null : await startEmbeddedMongo();
  const uri = external ?? embedded!.uri;
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 5_000, monitorCommands: opts.monitorCommands ?? false });
  await client.connect();
  const dbName = `test_${label}_${randomUUID().slice(0, 8)}`;
  const db = client.db(dbName);
  return {
    uri,
    client,
    db,
    dbName,
    embedded,
    async close() {
      await db.dropDatabase().catch(() => undefined);
      await client.close();
      await embedded?.stop();
    },
  };
}

/**
 * One TestMongo for a whole test file or describe block: started in beforeAll, closed in afterAll.
 * The returned object is filled in when beforeAll has run.
 */
export function useTestMongo(label: string): TestMongo {
  const holder = {} as TestMongo;
  beforeAll(async () => {
    Object.assign(holder, await startTestMongo(label));
  }, 60_000);
  afterAll(async () => {
    await holder.close?.();
  }, 60_000);
  return holder;
}

/** Schemaless collections: tests use string/number `_id`s, which the driver's default typing rejects. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Loose = { _id?: string | number | ObjectId; [key: string]: any };
