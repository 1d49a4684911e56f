/**
 * Runs the embedded MongoDB-compatible server on its own, e.g. for
 *   npm run mongo -- --port 27018 &  TEST_MONGODB_URI=mongodb://127.0.0.1:27018 npm test
 * It prints its URI and serves until SIGINT/SIGTERM. `--data-dir D` journals writes there and
 * replays them at the next start.
 */
import { parseArgs } from "node:util";
import { EmbeddedMongoServer } from "../src/embedded/index.js";

const { values } = parseArgs({
  options: { port: { type: "string", default: "27017" }, host: { type: "string", default: "127.0.0.1" }, "data-dir": { type: "string" } },
});
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`--port must be 0-65535, got ${values.port}`);
  process.exit(1);
}
const server = new EmbeddedMongoServer({ dataDir: values["data-dir"] });
const actual = await server.listen({ port, host: values.host });
const journal = values["data-dir"] ? ` (journal in ${values["data-dir"]}, ${server.replayed} commands replayed)` : "";
console.log(`embedded MongoDB listening: mongodb://${values.host}:${actual}${journal}`);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => void server.close().then(() => process.exit(0)));
}
