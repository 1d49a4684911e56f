/** Entry point: `npm start`. Parses config, starts the service, and shuts down on SIGTERM/SIGINT. */
import { ConfigError, loadConfig } from "./config.js";
import { startService } from "./runtime.js";

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

const service = await startService(config);
const log = service.app.log;

if (service.demo) {
  const { keys } = service.demo;
  const gql = `${service.url}/graphql`;
  console.log(`
Usage subgraph ready at ${gql} (Apollo Sandbox in a browser), with demo data:
${service.demo.events.toLocaleString("en-US")} events loaded into the embedded MongoDB in ${(service.demo.ms / 1000).toFixed(1)} s.

  read key   (acme): ${keys.read}
  ingest key (acme): ${keys.ingest}
  admin key  (acme): ${keys.admin}

Try:
  curl -s ${gql} -H 'Authorization: Bearer ${keys.read}' -H 'content-type: application/json' \\
    -d '{"query":"{ viewer { keyId organization { id } user { id } scopes } }"}'

  curl -s ${service.url}/api/v1/usage/events -H 'Authorization: Bearer ${keys.ingest}' -H 'content-type: application/json' \\
    -d '{"events":[{"id":"try-1","type":"sandbox.operation","timestamp":"${new Date().toISOString()}","sandbox_id":"sb-acme-01","session_id":"try-session","user_id":"acme-user-1","provider":"aws","session_kind":"standard","operation":"command"}]}'
`);
} else {
  const replayed = service.embedded?.replayed ?? 0;
  log.info({ url: service.url, ...(replayed > 0 && { replayedCommands: replayed, dataDir: config.EMBEDDED_DATA_DIR }) }, "usage subgraph listening");
}

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
