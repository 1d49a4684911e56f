/**
 * The rollup levels of operations: UTC minutes, hours and days. Every level is kept by the same
 * transaction that stores the events behind it (store/ingest.ts), so all levels and the raw events
 * always agree; a query reads the coarsest level whose buckets tile what it asks for. Each level
 * has two collections: the operation rollups, one document per (org, bucket, dimension tuple), and
 * the totals, one document per (org, bucket) — what a query without group-by reads, so that its
 * cost follows the buckets it answers and not the tuples inside them.
 */
import { COLLECTIONS, type OperationRollupKey, type SessionTuple } from "../db/collections.js";

export const LEVELS = {
  "1m": { ms: 60_000, collection: COLLECTIONS.opsByMinute, totals: COLLECTIONS.totalsByMinute },
  "1h": { ms: 3_600_000, collection: COLLECTIONS.opsByHour, totals: COLLECTIONS.totalsByHour },
  "1d": { ms: 86_400_000, collection: COLLECTIONS.opsByDay, totals: COLLECTIONS.totalsByDay },
} as const;
export type Level = keyof typeof LEVELS;
/** Finest first: each level is a whole number of the one before it. */
export const LEVEL_NAMES: readonly Level[] = ["1m", "1h", "1d"];

/** The MKA1 dimensions every operation rollup keeps (group-by at query time picks among them). */
export const ROLLUP_DIMENSIONS = ["user_id", "api_key_id", "operation", "provider", "session_kind"] as const;
export type RollupDimension = (typeof ROLLUP_DIMENSIONS)[number];

export const bucketStart = (ms: number, level: Level): number => Math.floor(ms / LEVELS[level].ms) * LEVELS[level].ms;

/** What an operation event contributes its dimensions from (missing values are null). */
export interface OperationDims {
  user_id?: string | null;
  api_key_id?: string | null;
  operation?: string | null;
  provider?: string | null;
  session_kind?: string | null;
}

export function tupleOf(e: OperationDims): SessionTuple {
  return {
    user_id: e.user_id ?? null,
    api_key_id: e.api_key_id ?? null,
    operation: e.operation ?? null,
    provider: e.provider ?? null,
    session_kind: e.session_kind ?? null,
  };
}

/** A rollup document's `_id`, fields always in this order (documents compare field by field). */
export function rollupKey(orgId: string, t: Date, d: SessionTuple): OperationRollupKey {
  return { org_id: orgId, t, user_id: d.user_id, api_key_id: d.api_key_id, operation: d.operation, provider: d.provider, session_kind: d.session_kind };
}

/** A totals document's `_id`: the org and the bucket. */
export const totalsKey = (orgId: string, t: Date): { org_id: string; t: Date } => ({ org_id: orgId, t });

export const tupleId = (d: SessionTuple): string => JSON.stringify([d.user_id, d.api_key_id, d.operation, d.provider, d.session_kind]);
/** The part of a tuple that normally stays fixed for a session: who, with which key, where. */
export const identityId = (d: SessionTuple): string => JSON.stringify([d.user_id, d.api_key_id, d.provider, d.session_kind]);
