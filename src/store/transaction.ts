/**
 * Every change to usage data is one multi-document transaction (MongoDB ≥ 4.0 on a replica set or
 * sharded cluster; the embedded server implements them too): the raw events and every record
 * derived from them commit together or not at all, so no crash, retry or concurrent replica can
 * leave answers that disagree with each other. The driver's `withTransaction` retries transient
 * errors (write conflicts between concurrent ingests) and unknown commit results; a duplicate key
 * (another request stored the same id since this one looked) is retried here, where the next
 * attempt sees the id and counts it as a duplicate.
 */
import { type ClientSession, MongoServerError, type MongoClient, type TransactionOptions } from "mongodb";

const DUPLICATE_KEY = 11000;
const MAX_ATTEMPTS = 5;

export const TRANSACTION_OPTIONS: TransactionOptions = {
  readConcern: { level: "snapshot" },
  writeConcern: { w: "majority" },
  readPreference: "primary",
};

export async function inTransaction<T>(client: MongoClient, fn: (session: ClientSession) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.withSession((session) => session.withTransaction(() => fn(session), TRANSACTION_OPTIONS));
    } catch (err) {
      const duplicate = err instanceof MongoServerError && err.code === DUPLICATE_KEY;
      if (!duplicate || attempt >= MAX_ATTEMPTS) throw err;
    }
  }
}
