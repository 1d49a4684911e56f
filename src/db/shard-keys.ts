/**
 * The shard key of every collection, for a sharded cluster (Atlas or self-managed). Each is
 * compatible with the collection's unique indexes (a unique index must start with the shard key),
 * and every upsert and point write filters on the whole key, so mongos routes it to one shard.
 * Rollup, totals, presence and memory documents are keyed by an `_id` document that starts with the org
 * and the bucket time: ranged sharding on `_id` keeps an org's buckets together in time order.
 * test/unit/shard-keys.test.ts checks this table against the index specs.
 */
import { COLLECTIONS } from "./collections.js";

export const SHARD_KEYS: Record<(typeof COLLECTIONS)[keyof typeof COLLECTIONS], Record<string, 1>> = {
  [COLLECTIONS.usageEvents]: { org_id: 1, event_id: 1 },
  [COLLECTIONS.voidedEvents]: { org_id: 1, event_id: 1 },
  [COLLECTIONS.sessions]: { org_id: 1, session_id: 1 },
  [COLLECTIONS.sessionBuckets]: { _id: 1 },
  [COLLECTIONS.opsByMinute]: { _id: 1 },
  [COLLECTIONS.opsByHour]: { _id: 1 },
  [COLLECTIONS.opsByDay]: { _id: 1 },
  [COLLECTIONS.totalsByMinute]: { _id: 1 },
  [COLLECTIONS.totalsByHour]: { _id: 1 },
  [COLLECTIONS.totalsByDay]: { _id: 1 },
  [COLLECTIONS.memoryByMinute]: { _id: 1 },
  [COLLECTIONS.sandboxes]: { _id: 1 },
  [COLLECTIONS.prices]: { _id: 1 },
  [COLLECTIONS.apiKeys]: { secret_hash: 1 },
  [COLLECTIONS.budgets]: { _id: 1 },
  [COLLECTIONS.budgetMarks]: { _id: 1 },
  [COLLECTIONS.webhookDeliveries]: { org_id: 1, budget_id: 1 },
  [COLLECTIONS.storeMeta]: { _id: 1 },
};
