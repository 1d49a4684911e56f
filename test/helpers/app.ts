/**
 * A fully built service for integration tests: the real Fastify + Apollo app over the driver to
 * a real MongoDB wire path (see mongo.ts). Requests go through `app.inject`; nothing listens.
 */
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { createApiKey } from "../../src/auth/keys.js";
import { type Clock, systemClock } from "../../src/clock.js";
import { type Config, loadConfig } from "../../src/config.js";
import { collections, type Scope, ensureIndexes } from "../../src/db/collections.js";
import type { AppDeps } from "../../src/deps.js";
import { Metrics } from "../../src/metrics.js";
import { PageTokens } from "../../src/paging.js";
import { buildServer } from "../../src/server.js";
import { startTestMongo, type TestMongo } from "./mongo.js";

export const BOOTSTRAP_KEY = "test-bootstrap-key-0123456789abcdef";

export interface TestApp {
  app: FastifyInstance;
  deps: AppDeps;
  mongo: TestMongo;
  key(org: string, user: string, scopes: Scope[], clusterAdmin?: boolean): Promise<string>;
  graphql(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GraphQLResponse>;
  close(): Promise<void>;
}

export interface GraphQLResponse {
  status: number;
  body: { data?: Record<string, any> | null; errors?: Array<{ message: string; extensions?: Record<string, any> }> };
}

export interface TestAppOptions {
  clock?: Clock;
  env?: Record<string, string>;
  label?: string;
  /** The driver emits command events (see commands.ts). */
  monitorCommands?: boolean;
  /** Serve from this database (another app's, say) instead of a new one; close() leaves it open. */
  mongo?: TestMongo;
}

export async function startTestApp(opts: TestAppOptions = {}): Promise<TestApp> {
  const mongo = opts.mongo ?? (await startTestMongo(opts.label ?? "app", { monitorCommands: opts.monitorCommands }));
  // Rate limiting is off unless a test turns it on: suites send hundreds of requests with one key.
  const config: Config = loadConfig({ LOG_LEVEL: "silent", BOOTSTRAP_ADMIN_KEY: BOOTSTRAP_KEY, DEMO_DATA: "false", RATE_LIMIT_MAX: "0", ...opts.env });
  await ensureIndexes(mongo.db);
  const deps: AppDeps = { config, client: mongo.client, db: mongo.db, cols: collections(mongo.db), clock: opts.clock ?? systemClock, pageTokens: new PageTokens(config.PAGE_TOKEN_SECRET), metrics: new Metrics() };
  const { app } = await buildServer(deps);
  await app.ready();
  return {
    app,
    deps,
    mongo,
    async key(org, user, scopes, clusterAdmin = false) {
      return (await createApiKey(deps.cols, { org_id: org, user_id: user, scopes, cluster_admin: clusterAdmin }, "test")).key;
    },
    async graphql(query, variables, headers = {}) {
      const res: LightMyRequestResponse = await app.inject({
        method: "POST",
        url: "/graphql",
        headers: { "content-type": "application/json", ...headers },
        payload: JSON.stringify({ query, variables }),
      });
      return { status: res.statusCode, body: res.json() };
    },
    async close() {
      await app.close();
      if (!opts.mongo) await mongo.close();
    },
  };
}

export const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
