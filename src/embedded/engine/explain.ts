/**
 * Explain output in MongoDB's shape: what a query plan (`planFilter`'s choice, passed in by the
 * code that runs it) looks like as `queryPlanner.winningPlan`, and what a run of it examined as
 * `executionStats`. Nothing here plans: it only describes a plan it is given.
 */
import { Binary, Decimal128, Long, ObjectId, Timestamp } from "bson";
import { HIGHEST, LOWEST } from "./compare.js";
import type { Collection, ScanStats } from "./collection.js";
import { badValue } from "./errors.js";
import type { FieldBounds, Index } from "./indexes.js";
import { type Doc, isPlainObject } from "./paths.js";
import type { Plan } from "./planner.js";

/** "queryPlanner" only describes; the other two also run the operation and report what it examined. */
export type Verbosity = "queryPlanner" | "executionStats" | "allPlansExecution";

/** The `verbosity` of an explain command (the driver sends a string, old clients a boolean). */
export function verbosityOf(v: unknown): Verbosity {
  if (v === undefined || v === null || v === true) return "allPlansExecution";
  if (v === false) return "queryPlanner";
  if (v === "queryPlanner" || v === "queryPlannerExtended") return "queryPlanner";
  if (v === "executionStats" || v === "allPlansExecution") return v;
  throw badValue(`verbosity string must be one of {'queryPlanner', 'executionStats', 'allPlansExecution'}`);
}

export function executes(verbosity: Verbosity): boolean {
  return verbosity !== "queryPlanner";
}

/** A value as MongoDB prints it inside an index bound string. */
function showValue(v: unknown): string {
  if (v === LOWEST) return "MinKey";
  if (v === HIGHEST) return "MaxKey";
  if (v === null || v === undefined) return "null";
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (v instanceof Date) return `new Date(${v.getTime()})`;
  if (v instanceof ObjectId) return `ObjectId('${v.toHexString()}')`;
  if (v instanceof Long || v instanceof Decimal128) return v.toString();
  if (v instanceof Timestamp) return `Timestamp(${v.high}, ${v.low})`;
  if (v instanceof Binary) return `BinData(${v.sub_type}, ${v.toString("base64")})`;
  if (v instanceof RegExp) return String(v);
  if (Array.isArray(v)) return `[ ${v.map(showValue).join(", ")} ]`;
  if (isPlainObject(v)) return `{ ${Object.entries(v).map(([k, x]) => `${k}: ${showValue(x)}`).join(", ")} }`;
  return String(v);
}

/**
 * `indexBounds` of an IXSCAN: per indexed field, the intervals scanned, in index order (reversed
 * on a descending field). The engine's scans are inclusive at both ends (the filter re-check makes
 * them exact), so every interval is shown closed.
 */
function indexBounds(index: Index, bounds: FieldBounds[]): Doc {
  const out: Doc = {};
  index.fields.forEach((field, i) => {
    const b = bounds[i];
    const dir = index.directions[i]!;
    let intervals: string[];
    if (!b) intervals = [dir === 1 ? "[MinKey, MaxKey]" : "[MaxKey, MinKey]"];
    else if ("points" in b) intervals = b.points.map((p) => `[${showValue(p)}, ${showValue(p)}]`);
    else intervals = [dir === 1 ? `[${showValue(b.low)}, ${showValue(b.high)}]` : `[${showValue(b.high)}, ${showValue(b.low)}]`];
    out[field] = intervals;
  });
  return out;
}

/**
 * The winning plan of a read of `coll` with `filter`: an IXSCAN under a FETCH when `plan` names an
 * index, else a COLLSCAN (EOF when the collection does not exist). With `stats` (an executed
 * explain), each stage carries what it examined.
 */
export function winningPlan(coll: Collection | undefined, filter: Doc, plan: Plan | null, stats?: ScanStats & { nReturned: number }): Doc {
  if (!coll) return { stage: "EOF", ...(stats ? { nReturned: 0 } : {}) };
  const hasFilter = Object.keys(filter).length > 0;
  if (!plan) {
    return {
      stage: "COLLSCAN",
      ...(hasFilter ? { filter } : {}),
      direction: "forward",
      ...(stats ? { nReturned: stats.nReturned, docsExamined: stats.docsExamined } : {}),
    };
  }
  const { index, bounds } = plan;
  return {
    stage: "FETCH",
    ...(hasFilter ? { filter } : {}),
    ...(stats ? { nReturned: stats.nReturned, docsExamined: stats.docsExamined } : {}),
    inputStage: {
      stage: "IXSCAN",
      keyPattern: index.spec.key,
      indexName: index.name,
      isMultiKey: index.multikey,
      multiKeyPaths: Object.fromEntries(index.fields.map((f) => [f, []])),
      isUnique: index.unique,
      isSparse: index.spec.sparse === true,
      isPartial: index.spec.partialFilterExpression !== undefined,
      indexVersion: 2,
      direction: "forward",
      indexBounds: indexBounds(index, bounds),
      ...(stats ? { nReturned: stats.keysExamined, keysExamined: stats.keysExamined } : {}),
    },
  };
}

/** `queryPlanner` of a read of `ns`. */
export function queryPlanner(
  ns: string,
  read: { coll: Collection | undefined; filter: Doc; plan: Plan | null },
  wrap: (base: Doc) => Doc = (base) => base,
): Doc {
  return {
    namespace: ns,
    indexFilterSet: false,
    parsedQuery: read.filter,
    winningPlan: wrap(winningPlan(read.coll, read.filter, read.plan)),
    rejectedPlans: [],
  };
}

/**
 * `executionStats` of an executed read: what its scan examined, how many documents matched the
 * filter (`matched`) and how many the operation returned after sort, skip and limit (`returned`).
 */
export function executionStats(
  read: { coll: Collection | undefined; filter: Doc; plan: Plan | null; stats: ScanStats },
  counts: { matched: number; returned: number; millis: number },
  verbosity: Verbosity,
  wrap: (base: Doc) => Doc = (base) => base,
): Doc {
  return {
    executionSuccess: true,
    nReturned: counts.returned,
    executionTimeMillis: counts.millis,
    totalKeysExamined: read.stats.keysExamined,
    totalDocsExamined: read.stats.docsExamined,
    executionStages: wrap(winningPlan(read.coll, read.filter, read.plan, { ...read.stats, nReturned: counts.matched })),
    ...(verbosity === "allPlansExecution" ? { allPlansExecution: [] } : {}),
  };
}

/** What this server says about itself in explain output. */
export function serverInfo(version: string): Doc {
  return { host: "embedded", port: 0, version, gitVersion: "embedded" };
}
