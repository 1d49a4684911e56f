/** Loads the demo data set through the ingest service (the same path as the REST endpoint). */
import type { Principal } from "../auth/principal.js";
import { createApiKey } from "../auth/keys.js";
import type { Clock } from "../clock.js";
import type { MongoClient } from "mongodb";
import type { Collections } from "../db/collections.js";
import { MAX_EVENTS_PER_REQUEST } from "../ingest/events.js";
import { recordUsageEvents } from "../ingest/service.js";
import { type DemoOptions, generateDemoEvents } from "./generate.js";

const SEEDER: Principal = {
  keyId: "demo-seed",
  orgId: null,
  userId: "demo-seed",
  scopes: new Set(["ingest"]),
  clusterAdmin: true,
  onBehalfOf: null,
};

export interface DemoLoadResult {
  events: number;
  accepted: number;
  duplicates: number;
}

export async function loadDemoData(deps: { client: MongoClient; cols: Collections; clock: Clock }, opts: Partial<DemoOptions> = {}): Promise<DemoLoadResult> {
  // In time order, as a live system sends them: each batch then touches a few hours' rollups.
  const events = generateDemoEvents({ anchor: deps.clock.now(), ...opts }).sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0));
  let accepted = 0;
  let duplicates = 0;
  for (let i = 0; i < events.length; i += MAX_EVENTS_PER_REQUEST) {
    const r = await recordUsageEvents(deps, SEEDER, events.slice(i, i + MAX_EVENTS_PER_REQUEST), ["events"]);
    accepted += r.accepted;
    duplicates += r.duplicates;
  }
  return { events: events.length, accepted, duplicates };
}

export interface DemoKeys {
  read: string;
  ingest: string;
  admin: string;
}

/** Keys for trying the demo: a reader, an ingester and an org admin of `acme`. */
export async function createDemoKeys(cols: Collections): Promise<DemoKeys> {
  const read = await createApiKey(cols, { org_id: "acme", user_id: "acme-user-1", scopes: ["read"], cluster_admin: false }, "demo");
  const ingest = await createApiKey(cols, { org_id: "acme", user_id: "acme-user-1", scopes: ["ingest"], cluster_admin: false }, "demo");
  const admin = await createApiKey(cols, { org_id: "acme", user_id: "acme-admin", scopes: ["read", "ingest", "admin"], cluster_admin: false }, "demo");
  return { read: read.key, ingest: ingest.key, admin: admin.key };
}
