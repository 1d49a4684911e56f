/**
 * What `npm start` prints once it listens: where, on which database, and how to get a key. With
 * demo data the keys come as one `export` line to paste into a shell (the README's tour uses those
 * names); without, the two ways to create a key, spelled out with this process's own URL and URI.
 */
import type { Config } from "./config.js";
import type { RunningService } from "./runtime.js";
import { redactUri } from "./runtime.js";

type BannerInput = Pick<RunningService, "url" | "demo"> & { embedded: { uri: string; replayed: number } | null };

const CREATE_BODY = `'{"org_id":"acme","user_id":"you","scopes":["read","ingest","admin"]}'`;

export function startBanner(service: BannerInput, config: Config): string {
  const { url, demo, embedded } = service;
  const where = embedded
    ? `the embedded MongoDB at ${embedded.uri}${embedded.replayed > 0 ? `, with data replayed from ${config.EMBEDDED_DATA_DIR} (${embedded.replayed.toLocaleString("en-US")} commands)` : ""}`
    : `MongoDB at ${redactUri(config.MONGODB_URI ?? "")}`;
  const lines = [
    "",
    `Usage subgraph listening at ${url}, on ${where}.`,
    `  GraphQL and Apollo Sandbox: ${url}/graphql   about and docs: ${url}/   health: ${url}/readyz`,
    "",
  ];
  if (demo) {
    lines.push(
      `Demo data: ${demo.events.toLocaleString("en-US")} events loaded in ${(demo.ms / 1000).toFixed(1)} s. Keys of org acme (read; ingest; read+ingest+admin),`,
      "to paste into a shell before the README's tour:",
      "",
      `  export USAGE_URL=${url} READ_KEY=${demo.keys.read} INGEST_KEY=${demo.keys.ingest} ADMIN_KEY=${demo.keys.admin}`,
      "",
      "Then, for example:",
      `  curl -s "$USAGE_URL/api/v1/org/acme/sandboxes/usage" -H "Authorization: Bearer $READ_KEY"`,
      `  MONGODB_URI=${embedded?.uri ?? "<this service's MONGODB_URI>"} npm run keys -- list --org acme`,
      "",
    );
    return lines.join("\n");
  }
  const why = embedded && embedded.replayed > 0 ? "the data was replayed, so demo keys are not created again" : embedded ? "DEMO_DATA=false" : "MONGODB_URI is set, so no demo data is loaded";
  // A real database's URI may hold a password: it is not printed, the reader has it.
  const cli = embedded ? `MONGODB_URI=${embedded.uri} npm run keys` : "MONGODB_URI=<this service's MONGODB_URI> npm run keys";
  lines.push(
    `No keys are printed (${why}). To get one, either:`,
    config.BOOTSTRAP_ADMIN_KEY
      ? "  - with this service's BOOTSTRAP_ADMIN_KEY, over HTTP:"
      : "  - set BOOTSTRAP_ADMIN_KEY (24+ characters; a cluster-admin key) and restart, then over HTTP:",
    `    curl -s ${url}/api/v1/api-keys -H "Authorization: Bearer $BOOTSTRAP_ADMIN_KEY" -H 'content-type: application/json' -d ${CREATE_BODY}`,
    "  - or from a shell, straight into the database:",
    `    ${cli} -- create --org acme --user you --scopes read,ingest,admin`,
    "",
    `  export USAGE_URL=${url}`,
    "",
  );
  return lines.join("\n");
}
