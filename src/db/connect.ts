/** One MongoClient per process: the driver pools connections and retries reads and writes itself. */
import { type Db, MongoClient, type MongoClientOptions } from "mongodb";
import { type Collections, collections, ensureIndexes } from "./collections.js";

export interface Database {
  client: MongoClient;
  db: Db;
  cols: Collections;
}

export const CLIENT_OPTIONS = {
  appName: "usage-subgraph",
  // Fail fast when the database is away: requests answer 503 instead of hanging.
  serverSelectionTimeoutMS: 3_000,
  // Also the driver's heartbeat timeout: a server busy with one long query (the embedded server
  // runs one command at a time; QUERY_TIMEOUT_MS bounds it) must not be declared down meanwhile,
  // which would fail every query in flight with a 503.
  connectTimeoutMS: 30_000,
  // Command events feed mongodb_command_duration_seconds (src/metrics.ts).
  monitorCommands: true,
} as const satisfies MongoClientOptions;

export async function connectDatabase(uri: string, dbName: string): Promise<Database> {
  const client = new MongoClient(uri, CLIENT_OPTIONS);
  await client.connect();
  const db = client.db(dbName);
  await ensureIndexes(db);
  return { client, db, cols: collections(db) };
}
