/**
 * Recomputes every rollup (usage_ops_1m/1h/1d, usage_memory_1m) from the raw events in the
 * configured database (MONGODB_URI), one UTC day of one org at a time, and removes rollups that
 * have no events behind them:
 *   MONGODB_URI=… npm run rollups:rebuild
 * Ingest keeps rollups current by itself; this is for a new deployment over old events, after a
 * restore, or to repair. Answers read a day half-rebuilt while it runs: start the service with
 * USAGE_SOURCE=raw meanwhile if that matters.
 */
import { rebuildRollups } from "../src/ingest/rollups.js";
import { connectConfiguredDatabase } from "./database.js";

const { client, cols } = await connectConfiguredDatabase("MONGODB_URI is not set: name the database whose rollups to rebuild.");
try {
  const t0 = Date.now();
  let lastOrg = "";
  const report = await rebuildRollups(cols, {
    onDay: (org, day) => {
      if (org !== lastOrg) console.log(`${org}: from ${day.toISOString().slice(0, 10)}`);
      lastOrg = org;
    },
  });
  console.log(`rebuilt ${report.days} org-days of ${report.orgs} orgs in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
} finally {
  await client.close();
}
