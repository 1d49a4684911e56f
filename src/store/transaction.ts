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

/** The tail of the queue of transactions on each key, in this process. */
const queues = new Map<string, Promise<void>>();

/**
 * Runs `fn` once every earlier holder of any of `keys` (in this process) is done. A holder joins
 * the queue of all its keys at once, before it waits, so no two holders can wait on each other.
 */
async function holding<T>(keys: readonly string[], fn: () => Promise<T>): Promise<T> {
  const unique = [...new Set(keys)];
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  const before = unique.map((k) => queues.get(k) ?? Promise.resolve());
  for (const k of unique) queues.set(k, done);
  try {
    await Promise.all(before);
    return await fn();
  } finally {
    release();
    for (const k of unique) if (queues.get(k) === done) queues.delete(k);
  }
}

/**
 * `fn` in one transaction, retried as above. `serializeOn` (org ids): transactions of this process
 * on the same keys run one after another instead of together. Concurrent ingests into one org
 * update the same rollup documents (the org's hour and day), so run together they would mostly
 * abort each other with write conflicts and redo all their work; queued, each runs once. Other
 * replicas' transactions still conflict and are retried.
 */
export async function inTransaction<T>(client: MongoClient, fn: (session: ClientSession) => Promise<T>, serializeOn: readonly string[] = []): Promise<T> {
  if (serializeOn.length > 0) return holding(serializeOn, () => inTransaction(client, fn));
  for (let attempt = 1; ; attempt++) {
    try {
      return await client.withSession((session) => session.withTransaction(() => fn(session), TRANSACTION_OPTIONS));
    } catch (err) {
      const duplicate = err instanceof MongoServerError && err.code === DUPLICATE_KEY;
      if (!duplicate || attempt >= MAX_ATTEMPTS) throw err;
    }
  }
}
