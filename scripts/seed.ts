/**
 * Loads the deterministic demo data set into the configured database (MONGODB_URI) through the
 * ingest service, and prints keys to explore it. `npm start` does this by itself when it runs
 * the embedded server; this script is for a real MongoDB or a separately started embedded one.
 */
import { systemClock } from "../src/clock.js";
import { createDemoKeys, loadDemoData } from "../src/demo/load.js";
import { connectConfiguredDatabase } from "./database.js";

const { client, cols } = await connectConfiguredDatabase("MONGODB_URI is not set. (Without it, `npm start` runs an embedded server and seeds it by itself.)");
try {
  const t0 = Date.now();
  const r = await loadDemoData({ client, cols, clock: systemClock });
  const keys = await createDemoKeys(cols);
  console.log(`${r.events} events: ${r.accepted} accepted, ${r.duplicates} already present (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  console.log(`read key (acme):   ${keys.read}\ningest key (acme): ${keys.ingest}\nadmin key (acme):  ${keys.admin}`);
} finally {
  await client.close();
}
