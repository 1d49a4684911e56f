/**
 * Configuration, parsed once from the environment with zod. Every problem is reported together
 * so a bad deployment is fixed in one go; the result is frozen and typed.
 */
import { z } from "zod";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

const emptyToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);

const EnvSchema = z.object({
  PORT: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(65535).default(4001)),
  HOST: z.preprocess(emptyToUndefined, z.string().default("0.0.0.0")),
  MONGODB_URI: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .regex(/^mongodb(\+srv)?:\/\/.+/, "must be a mongodb:// or mongodb+srv:// connection string")
      .optional(),
  ),
  MONGODB_DB: z.preprocess(
    emptyToUndefined,
    z.string().regex(/^[A-Za-z0-9_-]{1,63}$/, "must be 1-63 letters, digits, '_' or '-'").default("usage"),
  ),
  BOOTSTRAP_ADMIN_KEY: z.preprocess(
    emptyToUndefined,
    z.string().min(24, "must be at least 24 characters (it is a cluster-admin secret)").optional(),
  ),
  LOG_LEVEL: z.preprocess(emptyToUndefined, z.enum(LOG_LEVELS).default("info")),
  INGEST_MAX_BODY_BYTES: z.preprocess(
    emptyToUndefined,
    z.coerce.number().int().min(1024).max(256 * 1024 * 1024).default(16 * 1024 * 1024),
  ),
  /**
   * Signs paging tokens (`next_page`, `cursor`). Replicas behind one router must share it; unset,
   * each process makes a random one, so tokens do not survive a restart.
   */
  PAGE_TOKEN_SECRET: z.preprocess(emptyToUndefined, z.string().min(16, "must be at least 16 characters").optional()),
  /** Requests per key (or per client address without one) per RATE_LIMIT_WINDOW_MS; 0 turns limiting off. */
  RATE_LIMIT_MAX: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).default(1200)),
  RATE_LIMIT_WINDOW_MS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1000).max(3_600_000).default(60_000)),
  /** GraphQL operations deeper than this (fields nested in fields) are refused before they run. */
  GRAPHQL_MAX_DEPTH: z.preprocess(emptyToUndefined, z.coerce.number().int().min(2).max(100).default(12)),
  /**
   * GraphQL operations whose estimated cost is higher are refused before they run: Apollo's demand
   * control model over the schema's @cost/@listSize, with windows priced by their buckets
   * (docs/demand-control.md). The default admits one 30-day per-minute memory series with its points.
   */
  GRAPHQL_MAX_COST: z.preprocess(emptyToUndefined, z.coerce.number().int().min(10).default(100_000)),
  /** Aliased fields per GraphQL operation (fragments expanded): many copies of one usage field are many queries. */
  GRAPHQL_MAX_ALIASES: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).default(30)),
  /** `__schema` and `__type` selections per GraphQL operation; Apollo Sandbox's introspection needs one. */
  GRAPHQL_MAX_INTROSPECTION_FIELDS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).default(5)),
  /** Tokens per GraphQL document: parsing stops here, so a huge document is refused before it costs memory. */
  GRAPHQL_MAX_TOKENS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1000).max(1_000_000).default(10_000)),
  /** Time budget of every usage query, sent as maxTimeMS: over it the database stops it and the answer is 504. */
  QUERY_TIMEOUT_MS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(50).max(600_000).default(15_000)),
  /**
   * Database time of one whole request (GraphQL or REST), from its arrival: each query gets what is
   * left (at most QUERY_TIMEOUT_MS) as maxTimeMS, and once it is spent the request answers 504.
   */
  REQUEST_DB_TIME_MS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(50).max(3_600_000).default(20_000)),
  /**
   * Where usage answers come from: the pre-aggregated rollups (default; raw events only where a
   * rollup cannot answer exactly) or the raw events always (while rollups are rebuilt, or to compare).
   */
  USAGE_SOURCE: z.preprocess(emptyToUndefined, z.enum(["rollups", "raw"]).default("rollups")),
  /** Rows a CSV export may hold (DESIGN §10: at most 1,000,000); a larger answer is refused, asking for a narrower window. */
  CSV_MAX_ROWS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1).max(1_000_000).default(1_000_000)),
  /** With the embedded server: journal every write in this directory and replay it at start (unset: memory only). */
  EMBEDDED_DATA_DIR: z.preprocess(emptyToUndefined, z.string().optional()),
  /**
   * Browser origins allowed to call GraphQL and REST (CORS), comma-separated exact origins, or `*`
   * for any. The default lets Apollo Studio's hosted Sandbox call a local service.
   */
  CORS_ORIGINS: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .default("https://studio.apollographql.com")
      .transform((v) => v.split(",").map((o) => o.trim()).filter(Boolean))
      .pipe(z.array(z.string().regex(/^(\*|https?:\/\/[^/\s]+)$/, "each origin must be '*' or scheme://host[:port] without a path")).min(1)),
  ),
  /** When set, `GET /metrics` needs `Authorization: Bearer <METRICS_TOKEN>`; unset, it answers loopback callers only. */
  METRICS_TOKEN: z.preprocess(emptyToUndefined, z.string().min(16, "must be at least 16 characters").optional()),
  /** With the embedded server: load the demo data set at start (default true). */
  DEMO_DATA: z.preprocess(emptyToUndefined, z.enum(["true", "false"]).default("true")).transform((v) => v === "true"),
  /**
   * Webhooks may go to loopback, private and link-local addresses, and over http:// (tests, a
   * receiver inside the operator's own network). Off by default: no SSRF into that network.
   */
  WEBHOOK_ALLOW_PRIVATE: z.preprocess(emptyToUndefined, z.enum(["true", "false"]).default("false")).transform((v) => v === "true"),
  /** Seals webhook secrets at rest (AES-256-GCM with a key derived from it); unset, they are stored as given. */
  WEBHOOK_SECRET_KEY: z.preprocess(emptyToUndefined, z.string().min(32, "must be at least 32 characters").optional()),
  /** A receiver that has not answered in this long counts as a failed attempt. */
  WEBHOOK_TIMEOUT_MS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(100).max(120_000).default(10_000)),
  /** Run the budget evaluator and the webhook delivery worker in this process (every replica may). */
  BUDGET_WORKER: z.preprocess(emptyToUndefined, z.enum(["true", "false"]).default("true")).transform((v) => v === "true"),
  /** How often the worker looks for dirty orgs and due deliveries. */
  BUDGET_POLL_INTERVAL_MS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(50).max(5_000).default(1_000)),
  /**
   * An org is evaluated at most this often, however fast it ingests (ingest in between only widens
   * its mark): evaluation shares the database with ingest. With the poll, a crossing is recorded
   * within about this plus one poll interval of its ingest, well inside DESIGN §11's 10 s.
   */
  BUDGET_EVALUATE_INTERVAL_MS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(8_000).default(3_000)),
  /** Open sessions keep running: every org with budgets is re-evaluated this often even without ingest. */
  BUDGET_SWEEP_INTERVAL_MS: z.preprocess(emptyToUndefined, z.coerce.number().int().min(1_000).max(3_600_000).default(60_000)),
});

export type Config = Readonly<z.infer<typeof EnvSchema>>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join(".") || "(env)"}: ${i.message}`));
  }
  return Object.freeze(parsed.data);
}
