/** Entry point: `npm start`. Parses config, starts the service, and shuts down on SIGTERM/SIGINT. */
import { ConfigError, loadConfig } from "./config.js";
import { startBanner } from "./banner.js";
import { type RunningService, StartupError, startService } from "./runtime.js";

let config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}

let service: RunningService;
try {
  service = await startService(config);
} catch (err) {
  // A busy port or an unreachable database: one line, exit 1. Anything else is a bug: its stack.
  if (err instanceof StartupError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}
const log = service.app.log;
log.info({ url: service.url, ...(service.embedded && { embeddedMongoUri: service.embedded.uri, replayedCommands: service.embedded.replayed }) }, "usage subgraph listening");
console.log(startBanner(service, config));

let shuttingDown = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (shuttingDown) return;
    shuttingDown = true;
    log.info({ signal }, "shutting down");
    service.stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  });
}
