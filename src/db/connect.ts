/** One MongoClient per process: the driver pools connections and retries reads and writes itself. */
import { type Db, MongoClient } from "mongodb";
import { type Collections, collections, ensureIndexes } from "./collections.js";

export interface Database {
  client: MongoClient;
  db: Db;
  cols: Collections;
}

export async function connectDatabase(uri: string, dbName: string): Promise<Database> {
  const client = new MongoClient(uri, {
    appName: "usage-subgraph",
    // Fail fast when the database is away: requests answer 503 instead of hanging.
    serverSelectionTimeoutMS: 3_000,
    connectTimeoutMS: 3_000,
  });
  await client.connect();
  const db = client.db(dbName);
  await ensureIndexes(db);
  return { client, db, cols: collections(db) };
}
