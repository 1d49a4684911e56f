/**
 * The service's Prometheus metrics, one registry per built app (held in AppDeps), so every module
 * that counts something increments the same named counter and tests never see each other's counts.
 * To add one: declare it here, increment it where the thing happens, and list it in
 * docs/operations.md (Metrics).
 */
import type { MongoClient } from "mongodb";
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

/** Seconds; from a cache hit (about a millisecond) to the longest query budget. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * GraphQL operation names come from callers; past this many distinct names the rest are counted as
 * `other`, so a client that invents names cannot grow the registry without bound.
 */
export const MAX_OPERATION_NAMES = 200;

export class Metrics {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: "http_requests_total",
    help: "HTTP requests answered, by method, route pattern and status code",
    labelNames: ["method", "route", "status"] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: "http_request_duration_seconds",
    help: "Time from receiving a request to sending its answer, by method, route pattern and status code",
    labelNames: ["method", "route", "status"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly graphqlOperations = new Counter({
    name: "graphql_operations_total",
    help: "GraphQL operations, by operation name (anonymous when unnamed) and outcome (success or the first error's code)",
    labelNames: ["operation", "outcome"] as const,
    registers: [this.registry],
  });

  /**
   * Usage events by outcome: `accepted` (stored), `duplicate` (id already stored: changed nothing),
   * `voided` (corrections, DESIGN §12). Incremented where events are received, REST and GraphQL alike.
   */
  readonly usageEvents = new Counter({
    name: "usage_events_total",
    help: "Usage events received, by outcome: accepted, duplicate or voided",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });

  /** Budget webhook delivery attempts (DESIGN §11), by outcome: delivered (2xx), retry, failed (gave up after 24 h) or cancelled. */
  readonly webhookDeliveries = new Counter({
    name: "webhook_deliveries_total",
    help: "Budget webhook delivery attempts, by outcome: delivered, retry, failed or cancelled",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });

  readonly dbCommandDuration = new Histogram({
    name: "mongodb_command_duration_seconds",
    help: "MongoDB commands as the driver's command monitoring reports them, by command name and outcome (ok or error)",
    labelNames: ["command", "outcome"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  private readonly operationNames = new Set<string>();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** An ingest's answer in `usage_events_total`; called where events arrive (REST and GraphQL), so counts follow what callers were told. */
  countVoided(result: { voided: number }): void {
    if (result.voided > 0) this.usageEvents.inc({ outcome: "voided" }, result.voided);
  }

  countIngested(result: { accepted: number; duplicates: number }): void {
    if (result.accepted > 0) this.usageEvents.inc({ outcome: "accepted" }, result.accepted);
    if (result.duplicates > 0) this.usageEvents.inc({ outcome: "duplicate" }, result.duplicates);
  }

  /** The label for a caller's operation name: itself while few names have been seen, else `other`. */
  operationLabel(name: string | null | undefined): string {
    if (!name) return "anonymous";
    if (this.operationNames.has(name)) return name;
    if (this.operationNames.size >= MAX_OPERATION_NAMES) return "other";
    this.operationNames.add(name);
    return name;
  }

  /**
   * Times every command the client runs. The client must be created with `monitorCommands: true`
   * (src/db/connect.ts does); returns the function that detaches the listeners again.
   */
  observeDriver(client: MongoClient): () => void {
    const ok = (e: { commandName: string; duration: number }) => this.dbCommandDuration.observe({ command: e.commandName, outcome: "ok" }, e.duration / 1000);
    const failed = (e: { commandName: string; duration: number }) => this.dbCommandDuration.observe({ command: e.commandName, outcome: "error" }, e.duration / 1000);
    client.on("commandSucceeded", ok);
    client.on("commandFailed", failed);
    return () => {
      client.off("commandSucceeded", ok);
      client.off("commandFailed", failed);
    };
  }
}
