/**
 * Recomputes every record derived from the raw events (operation rollups at every level, session
 * presence, memory minutes, sessions and sandboxes) in the configured database (MONGODB_URI), one
 * org-hour per transaction, and removes derived documents with no events behind them:
 *   MONGODB_URI=… npm run rollups:rebuild
 * Ingest keeps everything current by itself; this is for an upgrade over old events, after a
 * restore, or to repair. It is safe while ingest continues (see src/store/rebuild.ts): each
 * bucket is replaced atomically, and a concurrent write into it makes one side retry.
 */
import { rebuildAll } from "../src/store/rebuild.js";
import { connectConfiguredDatabase } from "./database.js";

const { client, cols } = await connectConfiguredDatabase("MONGODB_URI is not set: name the database whose rollups to rebuild.");
try {
  const t0 = Date.now();
  let lastOrg = "";
  const report = await rebuildAll(client, cols, {
    onDay: (org, day) => {
      if (org !== lastOrg) console.log(`${org}: from ${day.toISOString().slice(0, 10)}`);
      lastOrg = org;
    },
  });
  console.log(`rebuilt ${report.hours} org-hours over ${report.days} org-days of ${report.orgs} orgs in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
} finally {
  await client.close();
}
