/**
 * Starting and stopping the whole service: the database (an embedded server when no
 * MONGODB_URI is given), the HTTP server, and an orderly shutdown in reverse.
 */
import type { FastifyInstance } from "fastify";
import { type BudgetWorker, startBudgetWorker } from "./budgets/worker.js";
import { type Clock, systemClock } from "./clock.js";
import type { Config } from "./config.js";
import { connectDatabase } from "./db/connect.js";
import type { AppDeps } from "./deps.js";
import { createDemoKeys, type DemoKeys, loadDemoData } from "./demo/load.js";
import { type EmbeddedMongo, startEmbeddedMongo } from "./embedded/index.js";
import { PageTokens } from "./paging.js";
import { buildServer } from "./server.js";

export interface RunningService {
  url: string;
  app: FastifyInstance;
  deps: AppDeps;
  embedded: EmbeddedMongo | null;
  demo: { keys: DemoKeys; events: number; ms: number } | null;
  stop(): Promise<void>;
}

export async function startService(config: Config, opts: { clock?: Clock } = {}): Promise<RunningService> {
  const clock = opts.clock ?? systemClock;
  const embedded = config.MONGODB_URI ? null : await startEmbeddedMongo({ dataDir: config.EMBEDDED_DATA_DIR });
  const uri = config.MONGODB_URI ?? embedded!.uri;
  const database = await connectDatabase(uri, config.MONGODB_DB);
  const deps: AppDeps = { config, ...database, clock, pageTokens: new PageTokens(config.PAGE_TOKEN_SECRET) };

  let demo: RunningService["demo"] = null;
  // The demo data set goes into an empty embedded server only, not over a replayed one.
  if (embedded && config.DEMO_DATA && embedded.replayed === 0) {
    const t0 = Date.now();
    const loaded = await loadDemoData(deps);
    demo = { keys: await createDemoKeys(deps.cols), events: loaded.events, ms: Date.now() - t0 };
  }

  const { app } = await buildServer(deps);
  const address = await app.listen({ port: config.PORT, host: config.HOST });
  const url = address.replace("0.0.0.0", "127.0.0.1").replace("[::]", "127.0.0.1");
  const budgetWorker: BudgetWorker | null = config.BUDGET_WORKER ? startBudgetWorker(deps, app.log) : null;

  let stopping: Promise<void> | null = null;
  return {
    url,
    app,
    deps,
    embedded,
    demo,
    stop() {
      // Stop accepting, let in-flight requests finish, then close the database behind them.
      stopping ??= (async () => {
        await budgetWorker?.stop();
        await app.close();
        await database.client.close();
        await embedded?.stop();
      })();
      return stopping;
    },
  };
}
