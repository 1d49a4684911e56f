/**
 * The collections this service owns, their document shapes and their indexes. Index names are
 * stable so pipelines can say which one serves them; `ensureIndexes` is idempotent and runs at start.
 */
import type { Collection, Db, IndexDescription } from "mongodb";

export const SANDBOX_OPERATIONS = [
  "session_start",
  "session_stop",
  "session_terminate",
  "turn",
  "repo_task",
  "command",
  "code",
  "workspace_manifest",
  "workspace_download",
  "workspace_archive_download",
  "workspace_upload",
  "workspace_archive_upload",
] as const;
export type SandboxOperation = (typeof SANDBOX_OPERATIONS)[number];
export const SESSION_END_OPERATIONS: readonly SandboxOperation[] = ["session_stop", "session_terminate"];

/** What a session_start event carries about the session's resources and owner. */
export interface SessionStartAttributes {
  resource?: "sandbox" | "computer";
  vcpus?: number;
  memory_mb?: number;
  disk_mb?: number;
  storage_gb?: number;
  external_user_id?: string;
  external_project_id?: string;
  workspace_id?: string;
  alias?: string;
  /** Stored as pairs: tag keys may contain '.', which must not become field paths. */
  tags?: Array<{ key: string; value: string }>;
}

/** Who ran an operation, and where. */
export interface OperationIdentity {
  sandbox_id?: string;
  user_id?: string;
  api_key_id?: string | null;
  provider?: string;
  session_kind?: "standard" | "browser";
}

/** A stored usage event (both types share the collection so one unique index makes ids idempotent). */
export interface UsageEventDoc extends OperationIdentity, SessionStartAttributes {
  org_id: string;
  event_id: string;
  type: "sandbox.operation" | "sandbox.memory";
  ts: Date;
  received_at: Date;
  sandbox_id: string;
  // sandbox.operation
  session_id?: string;
  operation?: SandboxOperation;
  request_count?: number;
  duration_ms?: number;
  workspace_bytes_in?: number;
  workspace_bytes_out?: number;
  files_changed_count?: number;
  oom_killed?: boolean;
  peak_memory_mib?: number | null;
  reserved_memory_mib?: number | null;
  // sandbox.memory
  used_memory_mb?: number;
}

/** A session, derived from its lifecycle events (see pipelines/sessions.ts); never written directly. */
export interface SessionDoc extends OperationIdentity, SessionStartAttributes {
  org_id: string;
  session_id: string;
  /** Time of the earliest session_start; missing until one arrives. */
  started_at?: Date;
  /** Time of the earliest session_stop/session_terminate; missing while the session is open. */
  ended_at?: Date;
}

/** The MKA1 group-by dimensions (and the org) an operation rollup is keyed by, with its bucket. */
export interface OperationRollupKey {
  org_id: string;
  /** Bucket start: a UTC minute, hour or day. */
  t: Date;
  user_id: string | null;
  api_key_id: string | null;
  operation: string | null;
  provider: string | null;
  session_kind: string | null;
}

/**
 * Operations of one org in one bucket with one value of every dimension, pre-aggregated
 * (`usage_ops_1h` / `_1d`; see pipelines/rollups.ts). `n` is the number of events behind it:
 * events are only ever added, so a recomputation with a larger `n` is the newer one.
 */
export interface OperationRollupDoc {
  _id: OperationRollupKey;
  n: number;
  request_count: number;
  duration_ms: number;
  workspace_bytes_in: number;
  workspace_bytes_out: number;
  files_changed_count: number;
  oom_killed_count: number;
  peak_memory_mib: number | null;
  reserved_memory_mib: number | null;
  /** Distinct session ids (of this org) behind it, so distinct counts survive re-grouping. */
  sessions: string[];
}

/** One sandbox's memory samples in one UTC minute (`usage_memory_1m`). */
export interface MemoryRollupDoc {
  _id: { org_id: string; sandbox_id: string; t: Date };
  /** Sum, count and maximum of `used_memory_mb` over the minute's samples. */
  used: number;
  n: number;
  peak: number;
}

export type Scope = "read" | "ingest" | "admin";
export const SCOPES: readonly Scope[] = ["read", "ingest", "admin"];

export interface ApiKeyDoc {
  _id: string;
  org_id: string;
  user_id: string;
  scopes: Scope[];
  cluster_admin: boolean;
  /** SHA-256 of the whole secret, hex. The secret itself is never stored. */
  secret_hash: string;
  created_at: Date;
  created_by: string;
  /** After this instant the key is refused (401); absent or null: it does not expire. */
  expires_at?: Date | null;
  /** When the key last authenticated a request, to the minute (written at most once a minute per key and replica). */
  last_used_at?: Date | null;
  /** Set by `DELETE /api/v1/api-keys/{id}`: the key is refused from then on; the document stays for audit. */
  revoked_at?: Date;
}

/** An org's price table (DESIGN §3), in cents; `_id` is the org_id. Absent: the documented defaults. */
export interface PriceTableDoc {
  _id: string;
  sandbox_vcpu_hour_cents: number;
  computer_vcpu_hour_cents: number;
  storage_gb_hour_cents: number;
  updated_at: Date;
  updated_by: string;
}

/**
 * What is known about a sandbox: created at ingest for every sandbox an event names, its alias and
 * tags taken from its sessions, or its tags replaced through the tags API (whichever is newer).
 * `_id` is `sandboxKey(org_id, sandbox_id)`, so one unique key makes it per org and joins need one field.
 */
export interface SandboxDoc {
  _id: string;
  org_id: string;
  sandbox_id: string;
  /** The alias of the earliest session that carried one; missing when none did. */
  alias?: string | null;
  /** Stored as sorted pairs: tag keys may contain '.', which must not become field paths. */
  tags: Array<{ key: string; value: string }>;
  /** When `tags` was last set: the session_start's time, or the time of the PUT; null when never set. */
  tags_updated_at: Date | null;
  /** The latest tagged session_start taken into account (applied, or superseded by a PUT). */
  tags_event_at?: Date | null;
}

/** A sandbox's document id: org ids cannot contain '/', so the org is everything before the first one. */
export const sandboxKey = (orgId: string, sandboxId: string): string => `${orgId}/${sandboxId}`;

export const COLLECTIONS = {
  usageEvents: "usage_events",
  sessions: "sessions",
  apiKeys: "api_keys",
  prices: "prices",
  sandboxes: "sandboxes",
  opsByHour: "usage_ops_1h",
  opsByDay: "usage_ops_1d",
  memoryByMinute: "usage_memory_1m",
} as const;

export const INDEXES = {
  /** Idempotency: one stored event per (org, id), also under concurrent re-sends. */
  eventIdUnique: "usage_events_org_event_id_unique",
  /** Org + type + time range: operation buckets and rollups read through this. */
  eventsByOrgTypeTime: "usage_events_org_type_ts",
  /** A session's events: session derivation reads through this. */
  eventsByOrgSession: "usage_events_org_session",
  /** Cluster-wide time ranges (`all_orgs`): type + time without an org prefix. */
  eventsByTypeTime: "usage_events_type_ts",
  /** A sandbox's memory samples over a window. */
  eventsByOrgSandboxTypeTime: "usage_events_org_sandbox_type_ts",
  sessionUnique: "sessions_org_session_unique",
  /** Sessions overlapping a window (runtime rollups): org + start time. */
  sessionsByOrgStart: "sessions_org_started_at",
  /** One user's sessions (Dreadnode's runtime summary). */
  sessionsByOrgUserStart: "sessions_org_user_started_at",
  /** X-On-Behalf-Of: the sessions of one external user. */
  sessionsByOrgExternalUser: "sessions_org_external_user",
  /** One sandbox's sessions over a window (OpenComputer memory), and its alias/tags at ingest. */
  sessionsByOrgSandboxStart: "sessions_org_sandbox_started_at",
  /** An org's sandboxes (tag keys). */
  sandboxesByOrg: "sandboxes_org_sandbox",
  /** An org's operation rollups over a time range (MKA1 buckets; the next coarser rollup's refresh). */
  opsByHourOrgTime: "usage_ops_1h_org_t",
  opsByDayOrgTime: "usage_ops_1d_org_t",
  /** Every org's operation rollups over a time range (`all_orgs`). */
  opsByHourTime: "usage_ops_1h_t",
  opsByDayTime: "usage_ops_1d_t",
  /** A sandbox's memory minutes over a window. */
  memoryByMinuteOrgSandboxTime: "usage_memory_1m_org_sandbox_t",
  apiKeySecretUnique: "api_keys_secret_hash_unique",
  /** Does an org exist (a key names it)? And an org's keys. */
  apiKeysByOrgUser: "api_keys_org_user",
} as const;

const INDEX_SPECS: Record<string, IndexDescription[]> = {
  [COLLECTIONS.usageEvents]: [
    { key: { org_id: 1, event_id: 1 }, name: INDEXES.eventIdUnique, unique: true },
    { key: { org_id: 1, type: 1, ts: 1 }, name: INDEXES.eventsByOrgTypeTime },
    { key: { type: 1, ts: 1 }, name: INDEXES.eventsByTypeTime },
    { key: { org_id: 1, session_id: 1 }, name: INDEXES.eventsByOrgSession },
    { key: { org_id: 1, sandbox_id: 1, type: 1, ts: 1 }, name: INDEXES.eventsByOrgSandboxTypeTime },
  ],
  [COLLECTIONS.sessions]: [
    { key: { org_id: 1, session_id: 1 }, name: INDEXES.sessionUnique, unique: true },
    { key: { org_id: 1, started_at: 1 }, name: INDEXES.sessionsByOrgStart },
    { key: { org_id: 1, user_id: 1, started_at: 1 }, name: INDEXES.sessionsByOrgUserStart },
    { key: { org_id: 1, external_user_id: 1 }, name: INDEXES.sessionsByOrgExternalUser },
    { key: { org_id: 1, sandbox_id: 1, started_at: 1 }, name: INDEXES.sessionsByOrgSandboxStart },
  ],
  [COLLECTIONS.sandboxes]: [{ key: { org_id: 1, sandbox_id: 1 }, name: INDEXES.sandboxesByOrg }],
  [COLLECTIONS.opsByHour]: [
    { key: { "_id.org_id": 1, "_id.t": 1 }, name: INDEXES.opsByHourOrgTime },
    { key: { "_id.t": 1 }, name: INDEXES.opsByHourTime },
  ],
  [COLLECTIONS.opsByDay]: [
    { key: { "_id.org_id": 1, "_id.t": 1 }, name: INDEXES.opsByDayOrgTime },
    { key: { "_id.t": 1 }, name: INDEXES.opsByDayTime },
  ],
  [COLLECTIONS.memoryByMinute]: [{ key: { "_id.org_id": 1, "_id.sandbox_id": 1, "_id.t": 1 }, name: INDEXES.memoryByMinuteOrgSandboxTime }],
  [COLLECTIONS.apiKeys]: [
    { key: { secret_hash: 1 }, name: INDEXES.apiKeySecretUnique, unique: true },
    { key: { org_id: 1, user_id: 1 }, name: INDEXES.apiKeysByOrgUser },
  ],
};

export interface Collections {
  usageEvents: Collection<UsageEventDoc>;
  sessions: Collection<SessionDoc>;
  apiKeys: Collection<ApiKeyDoc>;
  prices: Collection<PriceTableDoc>;
  sandboxes: Collection<SandboxDoc>;
  opsByHour: Collection<OperationRollupDoc>;
  opsByDay: Collection<OperationRollupDoc>;
  memoryByMinute: Collection<MemoryRollupDoc>;
}

export function collections(db: Db): Collections {
  return {
    usageEvents: db.collection<UsageEventDoc>(COLLECTIONS.usageEvents),
    sessions: db.collection<SessionDoc>(COLLECTIONS.sessions),
    apiKeys: db.collection<ApiKeyDoc>(COLLECTIONS.apiKeys),
    prices: db.collection<PriceTableDoc>(COLLECTIONS.prices),
    sandboxes: db.collection<SandboxDoc>(COLLECTIONS.sandboxes),
    opsByHour: db.collection<OperationRollupDoc>(COLLECTIONS.opsByHour),
    opsByDay: db.collection<OperationRollupDoc>(COLLECTIONS.opsByDay),
    memoryByMinute: db.collection<MemoryRollupDoc>(COLLECTIONS.memoryByMinute),
  };
}

/** Creates every index this service relies on; safe to run on each start and from many replicas. */
export async function ensureIndexes(db: Db): Promise<void> {
  for (const [name, specs] of Object.entries(INDEX_SPECS)) {
    await db.collection(name).createIndexes(specs);
  }
}
