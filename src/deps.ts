/** What the services need from the outside world, built once at start and shared by every request. */
import type { Db, Document, MongoClient } from "mongodb";
import type { Clock } from "./clock.js";
import type { Config } from "./config.js";
import type { Metrics } from "./metrics.js";
import type { Collections } from "./db/collections.js";
import type { PageTokens } from "./paging.js";
import { maxTimeMS } from "./request-budget.js";

export interface AppDeps {
  config: Config;
  client: MongoClient;
  db: Db;
  cols: Collections;
  clock: Clock;
  pageTokens: PageTokens;
  /** The Prometheus registry and its counters (src/metrics.ts), served at GET /metrics. */
  metrics: Metrics;
}

/**
 * Options for every usage query: its time budget as the server's maxTimeMS — QUERY_TIMEOUT_MS, or
 * what is left of the request's REQUEST_DB_TIME_MS when that is less (request-budget.ts) — so a
 * query over it is stopped by the database and answered 504, and big sorts may use disk.
 */
export const queryOptions = (deps: AppDeps) => ({ maxTimeMS: maxTimeMS(deps.config.QUERY_TIMEOUT_MS), allowDiskUse: true });

/** Runs a pipeline on the collection it was planned for, within the query time budget. */
export function runPlanned<T extends Document>(deps: AppDeps, planned: { collection: string; pipeline: Document[] }): Promise<T[]> {
  return deps.db.collection(planned.collection).aggregate<T>(planned.pipeline, queryOptions(deps)).toArray();
}
