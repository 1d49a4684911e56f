/**
 * Starting and stopping the whole service: the database (an embedded server when no
 * MONGODB_URI is given), the HTTP server, and an orderly shutdown in reverse.
 */
import { createServer } from "node:net";
import type { FastifyInstance } from "fastify";
import { type BudgetWorker, startBudgetWorker } from "./budgets/worker.js";
import { MongoError } from "mongodb";
import { type Clock, systemClock } from "./clock.js";
import type { Config } from "./config.js";
import { connectDatabase } from "./db/connect.js";
import type { AppDeps } from "./deps.js";
import { createDemoKeys, type DemoKeys, loadDemoData } from "./demo/load.js";
import { type EmbeddedMongo, startEmbeddedMongo } from "./embedded/index.js";
import { Metrics } from "./metrics.js";
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

/**
 * A start-up failure that is the operator's to fix (a busy port, an unreachable database): its
 * message is one complete line, printed without a stack trace (src/index.ts).
 */
export class StartupError extends Error {}

const portInUse = (config: Config) =>
  new StartupError(`Port ${config.PORT} on ${config.HOST} is already in use: stop the process listening there, or set PORT to another port.`);

/** Fails now, before minutes of demo data are loaded, when the port is taken (PORT=0 always binds). */
async function checkPortFree(config: Config): Promise<void> {
  if (config.PORT === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once("error", (err: NodeJS.ErrnoException) =>
      reject(err.code === "EADDRINUSE" ? portInUse(config) : new StartupError(`Cannot listen on ${config.HOST}:${config.PORT}: ${err.message}`)),
    );
    probe.listen({ port: config.PORT, host: config.HOST, exclusive: true }, () => probe.close(() => resolve()));
  });
}

/** A `mongodb+srv://` name that does not resolve fails in Node's resolver, before the driver wraps anything. */
function isDnsError(err: unknown): boolean {
  const syscall = (err as NodeJS.ErrnoException | null)?.syscall;
  return typeof syscall === "string" && /^(querySrv|queryTxt|getaddrinfo)$/.test(syscall);
}

/** The URI as it may be printed: without its password. */
export function redactUri(uri: string): string {
  return uri.replace(/^(mongodb(?:\+srv)?:\/\/[^:@/]+):[^@/]*@/, "$1:***@");
}

export async function startService(config: Config, opts: { clock?: Clock } = {}): Promise<RunningService> {
  const clock = opts.clock ?? systemClock;
  await checkPortFree(config);
  const embedded = config.MONGODB_URI ? null : await startEmbeddedMongo({ dataDir: config.EMBEDDED_DATA_DIR });
  const uri = config.MONGODB_URI ?? embedded!.uri;
  let database;
  try {
    database = await connectDatabase(uri, config.MONGODB_DB);
  } catch (err) {
    await embedded?.stop();
    // The driver's own errors (unreachable, bad credentials, TLS, a malformed URI) and DNS for
    // mongodb+srv are the operator's to fix; their first line says what went wrong. Anything else
    // is a bug: rethrown.
    if (err instanceof Error && (err instanceof MongoError || isDnsError(err))) {
      const reason = err.message.split("\n")[0];
      throw new StartupError(`Cannot use MongoDB at ${redactUri(uri)}: ${reason} (${err.name}). Check MONGODB_URI and that the database is reachable from here.`);
    }
    throw err;
  }
  const deps: AppDeps = { config, ...database, clock, pageTokens: new PageTokens(config.PAGE_TOKEN_SECRET), metrics: new Metrics() };

  let demo: RunningService["demo"] = null;
  // The demo data set goes into an empty embedded server only, not over a replayed one.
  if (embedded && config.DEMO_DATA && embedded.replayed === 0) {
    const t0 = Date.now();
    const loaded = await loadDemoData(deps);
    demo = { keys: await createDemoKeys(deps.cols), events: loaded.events, ms: Date.now() - t0 };
  }

  const { app } = await buildServer(deps);
  let address: string;
  try {
    address = await app.listen({ port: config.PORT, host: config.HOST });
  } catch (err) {
    await app.close();
    await database.client.close();
    await embedded?.stop();
    // Taken between the check above and now.
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") throw portInUse(config);
    throw err;
  }
  const url = address.replace("0.0.0.0", "127.0.0.1").replace("[::]", "127.0.0.1");
  const budgetWorker: BudgetWorker | null = config.BUDGET_WORKER ? startBudgetWorker(deps, app.log, { onAttempt: (outcome) => deps.metrics.webhookDeliveries.inc({ outcome }) }) : null;

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
