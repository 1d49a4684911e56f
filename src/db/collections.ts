/**
 * The collections this service owns, their document shapes and their indexes. Index names are
 * stable so pipelines can say which one serves them; `ensureIndexes` is idempotent and runs at start.
 */
import type { Collection, Db, IndexDescription } from "mongodb";
import { markTotalsIfFresh } from "../store/meta.js";

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
  /** Time of the first session_stop/session_terminate at or after `started_at`; missing while open. */
  ended_at?: Date;
  /** `ended_at`, or the latest representable date while open: sessions overlapping a window are
   * those with `end_at` after its start and `started_at` before its end (index sessions_org_end_start). */
  end_at?: Date;
  /** The earliest stop/terminate seen, whatever the start: lets a start that arrives later find
   * its end without reading the session's events, unless a stop precedes it. */
  first_end?: Date;
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

/** The sums and maxima a rollup or totals document keeps of the operations behind it. */
interface OperationMeasures {
  n: number;
  request_count: number;
  duration_ms: number;
  workspace_bytes_in: number;
  workspace_bytes_out: number;
  files_changed_count: number;
  oom_killed_count: number;
  peak_memory_mib: number | null;
  reserved_memory_mib: number | null;
}

/**
 * Operations of one org in one bucket with one value of every dimension, pre-aggregated
 * (`usage_ops_1m` / `_1h` / `_1d`; see store/operations.ts): ingest adds each event's measures in the
 * same transaction that stores the event, and a void takes them out again.
 */
export interface OperationRollupDoc extends OperationMeasures {
  _id: OperationRollupKey;
  /** Sessions of this org with an operation of exactly this tuple in the bucket (not counting
   * "mixed" sessions, whose identity changed inside the bucket: see store/presence.ts). */
  ns: number;
  /** Sessions counted once in the bucket, at their first tuple (same exclusion). */
  nf: number;
}

/**
 * Operations of one org in one bucket, over every dimension tuple (`usage_totals_1m` / `_1h` /
 * `_1d`; see store/operations.ts): what an ungrouped query (or one grouped by org only) reads, one
 * document per bucket however many tuples the bucket holds. Kept by the same transactions as the
 * operation rollups.
 */
export interface OperationTotalsDoc extends OperationMeasures {
  _id: { org_id: string; t: Date };
  /** Distinct sessions of this org with an operation in the bucket ("mixed" ones included): one
   * for each presence document of the (level, bucket). */
  ns: number;
}

/** A fact about the store as a whole: `_id: "totals"` once the totals cover every stored event (store/meta.ts). */
export interface StoreMetaDoc {
  _id: string;
  at: Date;
  by: "fresh" | "rebuild";
}

/** Which tuples one session has operations of in one rollup bucket (`usage_session_buckets`). */
export interface SessionBucketDoc {
  _id: { org_id: string; l: "1m" | "1h" | "1d"; t: Date; session_id: string };
  tuples: SessionTuple[];
  /** True when the tuples do not all share one (user, key, provider, kind): such a session is
   * counted from this document at query time instead of from the rollup counters. */
  mixed: boolean;
}

export interface SessionTuple {
  user_id: string | null;
  api_key_id: string | null;
  operation: string | null;
  provider: string | null;
  session_kind: string | null;
}

/** A voided event, moved out of usage_events and kept for audit (`usage_events_voided`). */
export interface VoidedEventDoc extends UsageEventDoc {
  voided_at: Date;
  voided_by: string;
  void_reason: string | null;
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
  /** The start of the session the alias came from (the earliest carries it). */
  alias_at?: Date | null;
  /** Stored as sorted pairs: tag keys may contain '.', which must not become field paths. */
  tags: Array<{ key: string; value: string }>;
  /** When `tags` was last set: the session_start's time, or the time of the PUT; null when never set. */
  tags_updated_at: Date | null;
  /** The latest tagged session_start taken into account (applied, or superseded by a PUT). */
  tags_event_at?: Date | null;
}

/** A sandbox's document id: org ids cannot contain '/', so the org is everything before the first one. */
export const sandboxKey = (orgId: string, sandboxId: string): string => `${orgId}/${sandboxId}`;

/** The metrics a budget can watch (DESIGN §11); their arithmetic is DESIGN §3's. */
export const BUDGET_METRICS = ["credit_cents", "sandbox_seconds", "computer_seconds", "storage_gb_hours", "memory_gb_seconds"] as const;
export type BudgetMetric = (typeof BUDGET_METRICS)[number];

/** Whose usage a budget counts: the whole org, or one owner field of its sessions, or a sandbox tag. */
export type BudgetScope =
  | Record<string, never>
  | { external_user_id: string }
  | { external_project_id: string }
  | { workspace_id: string }
  | { sandbox_id: string }
  | { tag: { key: string; value: string } };

/** A budget (`/api/v1/orgs/{org}/budgets`). `_id` is its public id. */
export interface BudgetDoc {
  _id: string;
  org_id: string;
  name: string;
  metric: BudgetMetric;
  scope: BudgetScope;
  period: "day" | "month";
  time_zone: string;
  /** Ascending, 1-10. */
  thresholds: number[];
  /** The secret is kept so deliveries can be signed, sealed when WEBHOOK_SECRET_KEY is set (see budgets/secrets.ts). */
  webhook: { url: string; secret: string };
  created_at: Date;
  created_by: string;
}

/**
 * "This org has usage the budgets have not looked at yet" — one per org (`_id` = org_id), widened
 * by every ingest with $min/$max, so ingest pays one small upsert whatever the budgets or history.
 */
export interface BudgetMarkDoc {
  _id: string;
  /** Bumped by every ingest: an evaluation that saw version v clears the mark only if it is still v. */
  ver: number;
  dirty: boolean;
  /** Earliest and latest event time not yet evaluated. */
  min_ts?: Date;
  max_ts?: Date;
  /** Claimed until then by `lease_owner` (an evaluator), or not to be evaluated again before it. */
  lease_until: Date;
  lease_owner?: string | null;
}

export interface DeliveryAttempt {
  at: Date;
  /** The receiver's HTTP status; null when there was no answer (refused address, timeout, network). */
  status_code: number | null;
  outcome: "delivered" | "failed";
  error?: string;
  duration_ms: number;
}

/**
 * One `budget.threshold_crossed` event and its delivery. `_id` is the event id, derived from
 * (budget, period_start, threshold), and the unique index on that triple is what makes "exactly one
 * event per (budget, period, threshold)" hold across processes: a second insert is a duplicate key.
 */
export interface WebhookDeliveryDoc {
  _id: string;
  org_id: string;
  budget_id: string;
  period_start: Date;
  threshold: number;
  /** The event's JSON exactly as it is sent (every attempt sends the same bytes). */
  body: string;
  status: "pending" | "delivered" | "failed" | "cancelled";
  attempts: DeliveryAttempt[];
  attempt_count: number;
  /** Due then; a worker that claims it pushes this forward by its lease, so a crashed send is retried. */
  next_attempt_at: Date;
  lease_owner: string | null;
  created_at: Date;
  /** Retries stop after this (created_at + 24 h): the delivery is then `failed`. */
  give_up_at: Date;
  delivered_at: Date | null;
}

export const COLLECTIONS = {
  usageEvents: "usage_events",
  sessions: "sessions",
  apiKeys: "api_keys",
  prices: "prices",
  sandboxes: "sandboxes",
  voidedEvents: "usage_events_voided",
  sessionBuckets: "usage_session_buckets",
  opsByMinute: "usage_ops_1m",
  opsByHour: "usage_ops_1h",
  opsByDay: "usage_ops_1d",
  totalsByMinute: "usage_totals_1m",
  totalsByHour: "usage_totals_1h",
  totalsByDay: "usage_totals_1d",
  memoryByMinute: "usage_memory_1m",
  budgets: "budgets",
  budgetMarks: "budget_marks",
  webhookDeliveries: "webhook_deliveries",
  storeMeta: "store_meta",
} as const;

export const INDEXES = {
  /** Idempotency: one stored event per (org, id), also under concurrent re-sends. */
  eventIdUnique: "usage_events_org_event_id_unique",
  /** Org + type + time range: operation buckets and rollups read through this. */
  eventsByOrgTypeTime: "usage_events_org_type_ts",
  /** A session's lifecycle events by time: a start finds its first stop at or after it. */
  eventsByOrgSession: "usage_events_org_session_op_ts",
  /** A voided id stays taken, and is voided once. */
  voidedEventIdUnique: "usage_events_voided_org_event_id_unique",
  /** Cluster-wide time ranges (`all_orgs`): type + time without an org prefix. */
  eventsByTypeTime: "usage_events_type_ts",
  /** A sandbox's memory samples over a window. */
  eventsByOrgSandboxTypeTime: "usage_events_org_sandbox_type_ts",
  sessionUnique: "sessions_org_session_unique",
  /** An operation's session, joined by id (X-On-Behalf-Of over raw operations). */
  sessionsBySessionOrg: "sessions_session_org",
  /** Sessions overlapping a window (runtime rollups): org + end, then start; sessions that ended
   * before the window are never read, however long the org's history. */
  sessionsByOrgStart: "sessions_org_end_start",
  /** One user's sessions (Dreadnode's runtime summary). */
  sessionsByOrgUserStart: "sessions_org_user_started_at",
  /** X-On-Behalf-Of: the sessions of one external user. */
  sessionsByOrgExternalUser: "sessions_org_external_user",
  /** One sandbox's sessions over a window (OpenComputer memory), and its alias/tags at ingest. */
  sessionsByOrgSandboxStart: "sessions_org_sandbox_started_at",
  /** An org's sandboxes (tag keys). */
  sandboxesByOrg: "sandboxes_org_sandbox",
  /** An org's operation rollups over a time range (MKA1 buckets; the next coarser rollup's refresh). */
  opsByMinuteOrgTime: "usage_ops_1m_org_t",
  opsByMinuteTime: "usage_ops_1m_t",
  opsByHourOrgTime: "usage_ops_1h_org_t",
  opsByDayOrgTime: "usage_ops_1d_org_t",
  /** Every org's operation rollups over a time range (`all_orgs`). */
  opsByHourTime: "usage_ops_1h_t",
  opsByDayTime: "usage_ops_1d_t",
  /** An org's (or every org's) operation totals over a time range (MKA1 buckets without group-by). */
  totalsByMinuteOrgTime: "usage_totals_1m_org_t",
  totalsByHourOrgTime: "usage_totals_1h_org_t",
  totalsByDayOrgTime: "usage_totals_1d_org_t",
  totalsByMinuteTime: "usage_totals_1m_t",
  totalsByHourTime: "usage_totals_1h_t",
  totalsByDayTime: "usage_totals_1d_t",
  /** Session presence of an org (or every org) by level and bucket; mixed ones apart. */
  sessionBucketsOrgTime: "usage_session_buckets_org_l_t",
  sessionBucketsTime: "usage_session_buckets_l_t",
  sessionBucketsMixed: "usage_session_buckets_mixed",
  /** A sandbox's memory minutes over a window. */
  memoryByMinuteOrgSandboxTime: "usage_memory_1m_org_sandbox_t",
  apiKeySecretUnique: "api_keys_secret_hash_unique",
  /** Does an org exist (a key names it)? And an org's keys. */
  apiKeysByOrgUser: "api_keys_org_user",
  /** An org's budgets (listing, evaluation). */
  budgetsByOrg: "budgets_org_created",
  /** Dirty marks to claim. */
  budgetMarksDirty: "budget_marks_dirty_lease",
  /** Exactly one delivery per (budget, period, threshold), org first so it holds on a sharded cluster too. */
  deliveryUnique: "webhook_deliveries_org_budget_period_threshold_unique",
  /** Due deliveries, oldest first (the delivery worker's claim). */
  deliveriesDue: "webhook_deliveries_status_next_attempt",
  /** A budget's deliveries log, newest first. */
  deliveriesByBudget: "webhook_deliveries_org_budget_created",
} as const;

export const INDEX_SPECS: Record<string, IndexDescription[]> = {
  [COLLECTIONS.usageEvents]: [
    { key: { org_id: 1, event_id: 1 }, name: INDEXES.eventIdUnique, unique: true },
    { key: { org_id: 1, type: 1, ts: 1 }, name: INDEXES.eventsByOrgTypeTime },
    { key: { type: 1, ts: 1 }, name: INDEXES.eventsByTypeTime },
    { key: { org_id: 1, session_id: 1, operation: 1, ts: 1 }, name: INDEXES.eventsByOrgSession },
    { key: { org_id: 1, sandbox_id: 1, type: 1, ts: 1 }, name: INDEXES.eventsByOrgSandboxTypeTime },
  ],
  [COLLECTIONS.voidedEvents]: [{ key: { org_id: 1, event_id: 1 }, name: INDEXES.voidedEventIdUnique, unique: true }],
  [COLLECTIONS.sessionBuckets]: [
    { key: { "_id.org_id": 1, "_id.l": 1, "_id.t": 1 }, name: INDEXES.sessionBucketsOrgTime },
    { key: { "_id.l": 1, "_id.t": 1 }, name: INDEXES.sessionBucketsTime },
    { key: { mixed: 1, "_id.org_id": 1, "_id.l": 1, "_id.t": 1 }, name: INDEXES.sessionBucketsMixed, partialFilterExpression: { mixed: true } },
  ],
  [COLLECTIONS.sessions]: [
    { key: { org_id: 1, session_id: 1 }, name: INDEXES.sessionUnique, unique: true },
    { key: { session_id: 1, org_id: 1 }, name: INDEXES.sessionsBySessionOrg },
    { key: { org_id: 1, end_at: 1, started_at: 1 }, name: INDEXES.sessionsByOrgStart },
    { key: { org_id: 1, user_id: 1, started_at: 1 }, name: INDEXES.sessionsByOrgUserStart },
    { key: { org_id: 1, external_user_id: 1 }, name: INDEXES.sessionsByOrgExternalUser },
    { key: { org_id: 1, sandbox_id: 1, started_at: 1 }, name: INDEXES.sessionsByOrgSandboxStart },
  ],
  [COLLECTIONS.sandboxes]: [{ key: { org_id: 1, sandbox_id: 1 }, name: INDEXES.sandboxesByOrg }],
  [COLLECTIONS.opsByMinute]: [
    { key: { "_id.org_id": 1, "_id.t": 1 }, name: INDEXES.opsByMinuteOrgTime },
    { key: { "_id.t": 1 }, name: INDEXES.opsByMinuteTime },
  ],
  [COLLECTIONS.opsByHour]: [
    { key: { "_id.org_id": 1, "_id.t": 1 }, name: INDEXES.opsByHourOrgTime },
    { key: { "_id.t": 1 }, name: INDEXES.opsByHourTime },
  ],
  [COLLECTIONS.opsByDay]: [
    { key: { "_id.org_id": 1, "_id.t": 1 }, name: INDEXES.opsByDayOrgTime },
    { key: { "_id.t": 1 }, name: INDEXES.opsByDayTime },
  ],
  [COLLECTIONS.totalsByMinute]: [
    { key: { "_id.org_id": 1, "_id.t": 1 }, name: INDEXES.totalsByMinuteOrgTime },
    { key: { "_id.t": 1 }, name: INDEXES.totalsByMinuteTime },
  ],
  [COLLECTIONS.totalsByHour]: [
    { key: { "_id.org_id": 1, "_id.t": 1 }, name: INDEXES.totalsByHourOrgTime },
    { key: { "_id.t": 1 }, name: INDEXES.totalsByHourTime },
  ],
  [COLLECTIONS.totalsByDay]: [
    { key: { "_id.org_id": 1, "_id.t": 1 }, name: INDEXES.totalsByDayOrgTime },
    { key: { "_id.t": 1 }, name: INDEXES.totalsByDayTime },
  ],
  [COLLECTIONS.memoryByMinute]: [{ key: { "_id.org_id": 1, "_id.sandbox_id": 1, "_id.t": 1 }, name: INDEXES.memoryByMinuteOrgSandboxTime }],
  [COLLECTIONS.apiKeys]: [
    { key: { secret_hash: 1 }, name: INDEXES.apiKeySecretUnique, unique: true },
    { key: { org_id: 1, user_id: 1 }, name: INDEXES.apiKeysByOrgUser },
  ],
  [COLLECTIONS.budgets]: [{ key: { org_id: 1, created_at: 1 }, name: INDEXES.budgetsByOrg }],
  [COLLECTIONS.budgetMarks]: [{ key: { dirty: 1, lease_until: 1 }, name: INDEXES.budgetMarksDirty }],
  [COLLECTIONS.webhookDeliveries]: [
    { key: { org_id: 1, budget_id: 1, period_start: 1, threshold: 1 }, name: INDEXES.deliveryUnique, unique: true },
    { key: { status: 1, next_attempt_at: 1 }, name: INDEXES.deliveriesDue },
    { key: { org_id: 1, budget_id: 1, created_at: -1 }, name: INDEXES.deliveriesByBudget },
  ],
};

export interface Collections {
  usageEvents: Collection<UsageEventDoc>;
  sessions: Collection<SessionDoc>;
  apiKeys: Collection<ApiKeyDoc>;
  prices: Collection<PriceTableDoc>;
  sandboxes: Collection<SandboxDoc>;
  voidedEvents: Collection<VoidedEventDoc>;
  sessionBuckets: Collection<SessionBucketDoc>;
  opsByMinute: Collection<OperationRollupDoc>;
  opsByHour: Collection<OperationRollupDoc>;
  opsByDay: Collection<OperationRollupDoc>;
  totalsByMinute: Collection<OperationTotalsDoc>;
  totalsByHour: Collection<OperationTotalsDoc>;
  totalsByDay: Collection<OperationTotalsDoc>;
  memoryByMinute: Collection<MemoryRollupDoc>;
  budgets: Collection<BudgetDoc>;
  budgetMarks: Collection<BudgetMarkDoc>;
  webhookDeliveries: Collection<WebhookDeliveryDoc>;
  storeMeta: Collection<StoreMetaDoc>;
}

export function collections(db: Db): Collections {
  return {
    usageEvents: db.collection<UsageEventDoc>(COLLECTIONS.usageEvents),
    sessions: db.collection<SessionDoc>(COLLECTIONS.sessions),
    apiKeys: db.collection<ApiKeyDoc>(COLLECTIONS.apiKeys),
    prices: db.collection<PriceTableDoc>(COLLECTIONS.prices),
    sandboxes: db.collection<SandboxDoc>(COLLECTIONS.sandboxes),
    voidedEvents: db.collection<VoidedEventDoc>(COLLECTIONS.voidedEvents),
    sessionBuckets: db.collection<SessionBucketDoc>(COLLECTIONS.sessionBuckets),
    opsByMinute: db.collection<OperationRollupDoc>(COLLECTIONS.opsByMinute),
    opsByHour: db.collection<OperationRollupDoc>(COLLECTIONS.opsByHour),
    opsByDay: db.collection<OperationRollupDoc>(COLLECTIONS.opsByDay),
    totalsByMinute: db.collection<OperationTotalsDoc>(COLLECTIONS.totalsByMinute),
    totalsByHour: db.collection<OperationTotalsDoc>(COLLECTIONS.totalsByHour),
    totalsByDay: db.collection<OperationTotalsDoc>(COLLECTIONS.totalsByDay),
    memoryByMinute: db.collection<MemoryRollupDoc>(COLLECTIONS.memoryByMinute),
    budgets: db.collection<BudgetDoc>(COLLECTIONS.budgets),
    budgetMarks: db.collection<BudgetMarkDoc>(COLLECTIONS.budgetMarks),
    webhookDeliveries: db.collection<WebhookDeliveryDoc>(COLLECTIONS.webhookDeliveries),
    storeMeta: db.collection<StoreMetaDoc>(COLLECTIONS.storeMeta),
  };
}

/**
 * Creates every index this service relies on, and on a database with no event yet records that its
 * totals are complete (store/meta.ts); safe to run on each start and from many replicas.
 */
export async function ensureIndexes(db: Db): Promise<void> {
  for (const [name, specs] of Object.entries(INDEX_SPECS)) {
    await db.collection(name).createIndexes(specs);
  }
  await markTotalsIfFresh(collections(db));
}
