/**
 * The one place mingo is configured, so queries, updates and pipelines agree on semantics: a
 * Context with every mingo operator, where MongoDB's semantics differ from mingo's replaced by
 * our own (`$dateTrunc` with time zones, `$sort` and range operators in BSON order across all
 * numeric types, `$type` by BSON type, `$count` on empty input, `$densify` filling its bounds, comparison expressions across types,
 * `$group` streaming its input into per-group accumulators with MongoDB's equality and accumulator rules,
 * `$addFields`/`$set`, `$project`, `$replaceRoot`/`$replaceWith` and `$match`'s `$expr` with compiled
 * expressions, and the arithmetic, type conversion, logic, array and variable operators of
 * operators/arithmetic.ts, convert.ts, logic.ts and arrays.ts, which compile themselves with
 * MongoDB's semantics).
 */
import { Aggregator } from "mingo/aggregator";
import { Context, ProcessingMode } from "mingo/core";
import type { Iterator } from "mingo/lazy";
import * as accumulator from "mingo/operators/accumulator";
import * as expression from "mingo/operators/expression";
import * as pipeline from "mingo/operators/pipeline";
import * as projection from "mingo/operators/projection";
import * as query from "mingo/operators/query";
import * as window from "mingo/operators/window";
import { Query } from "mingo/query";
import type { Options } from "mingo/types";
import * as comparison from "./operators/compare.js";
import { $dateTrunc } from "./operators/dateTrunc.js";
import { $addFields } from "./operators/addFields.js";
import * as arithmetic from "./operators/arithmetic.js";
import * as arrays from "./operators/arrays.js";
import * as convert from "./operators/convert.js";
import * as logic from "./operators/logic.js";
import { $project, projectionMayWriteNested } from "./operators/project.js";
import { $expr, $replaceRoot, $replaceWith } from "./operators/replaceRoot.js";
import { $densify } from "./operators/densify.js";
import { $group } from "./operators/group.js";
import { $gt, $gte, $lt, $lte, $type } from "./operators/query.js";
import { $sort } from "./sort.js";
import { ErrorCodes, MongoCommandError } from "./errors.js";
import type { Doc } from "./paths.js";

/**
 * An internal stage the engine inserts after every stage of a pipeline run with maxTimeMS: it
 * passes documents through and fails with MaxTimeMSExpired (50) once the deadline has passed.
 */
export const DEADLINE_STAGE = "$_embeddedDeadline";

function $_embeddedDeadline(collection: { map(fn: (doc: unknown) => unknown): unknown }, deadline: number): unknown {
  let n = 0;
  return collection.map((doc) => {
    if ((n++ & 255) === 0 && Date.now() > deadline) {
      throw new MongoCommandError(ErrorCodes.MaxTimeMSExpired, "MaxTimeMSExpired", "operation exceeded time limit");
    }
    return doc;
  });
}

/**
 * An internal stage whose argument is the function that runs it: how the engine's own stages
 * (`$unionWith` and `$lookup` reading through indexes, see prepare.ts) take part in mingo's
 * pipelines, including sub-pipelines and `$facet`. Clients cannot send it: BSON has no functions.
 */
export const ENGINE_STAGE = "$_embeddedStage";
export type EngineStage = (input: Iterator, options: Options) => Iterator;

function $_embeddedStage(collection: Iterator, run: EngineStage, options: Options): Iterator {
  if (typeof run !== "function") throw new MongoCommandError(40324, "Location40324", `Unrecognized pipeline stage name: '${ENGINE_STAGE}'`);
  return run(collection, options);
}

const OPERATORS = {
  accumulator,
  expression: { ...expression, ...comparison, $dateTrunc, ...arithmetic, ...convert, ...logic, ...arrays },
  pipeline: {
    ...pipeline,
    $sort,
    $densify,
    $group,
    $addFields,
    $set: $addFields,
    $project,
    $replaceRoot,
    $replaceWith,
    [DEADLINE_STAGE]: $_embeddedDeadline,
    [ENGINE_STAGE]: $_embeddedStage,
  },
  projection,
  query: { ...query, $gt, $gte, $lt, $lte, $type, $expr },
  window,
};

const CONTEXT = Context.init(OPERATORS as unknown as Parameters<typeof Context.init>[0]);

/**
 * Options as a plain object. mingo copies the Context's whole operator table (hundreds of entries)
 * out of plain options for every Query and Aggregator built from them; `queryOptions` avoids that.
 * Plain options are still what mingo's `update` needs, since it adds operators to its Context.
 */
export function plainOptions(extra: Partial<Options> = {}): Partial<Options> {
  return {
    // mingo builds some stages ($setWindowFields) from $function internally, so scripts stay
    // enabled here; clients can never send $where/$function/$accumulator (see rejectScripts).
    scriptEnabled: true,
    useStrictMode: true,
    processingMode: ProcessingMode.CLONE_OFF,
    context: CONTEXT,
    ...extra,
  };
}

/**
 * One of mingo's ComputeOptions, which it takes as they are (no Context copy). mingo does not
 * export the class, so one engine stage run hands over an instance to derive new ones from.
 */
const BASE_OPTIONS: Options & { options: Options } = (() => {
  let captured: unknown = null;
  const capture: EngineStage = (input, options) => {
    captured = options;
    return input;
  };
  new Aggregator([{ [ENGINE_STAGE]: capture }], plainOptions()).run([]);
  return captured as Options & { options: Options };
})();
const ComputeOptions = BASE_OPTIONS.constructor as new (options: Options) => Options;

/** Options for a Query or Aggregator, sharing the engine's one Context. */
export function queryOptions(extra: Partial<Options> = {}): Options {
  return new ComputeOptions({ ...BASE_OPTIONS.options, ...extra });
}

/**
 * Options whose Context has `stages` in place of the engine's pipeline stages of the same names.
 * For tests that compare an engine stage with the mingo stage it replaces.
 */
export function optionsWithStages(stages: Record<string, unknown>, extra: Partial<Options> = {}): Options {
  return optionsWithOperators({ pipeline: stages }, extra);
}

/**
 * Options whose Context has the given operators in place of the engine's of the same names and
 * types (`expression`, `pipeline`, `query`). For tests that compare the engine with mingo.
 */
export function optionsWithOperators(ops: { expression?: Record<string, unknown>; pipeline?: Record<string, unknown>; query?: Record<string, unknown> }, extra: Partial<Options> = {}): Options {
  const context = Context.init({
    ...OPERATORS,
    expression: { ...OPERATORS.expression, ...ops.expression },
    pipeline: { ...OPERATORS.pipeline, ...ops.pipeline },
    query: { ...OPERATORS.query, ...ops.query },
  } as unknown as Parameters<typeof Context.init>[0]);
  return new ComputeOptions({ ...BASE_OPTIONS.options, ...extra, context });
}

export function newQuery(filter: Doc): Query {
  return new Query(filter, queryOptions());
}

/** MongoDB's `$count` emits nothing for empty input; mingo's emits a zero: use `$group` instead. */
export function rewriteStage(stage: Doc): Doc[] {
  if (typeof stage.$count === "string") {
    return [{ $group: { _id: null, [stage.$count]: { $sum: 1 } } }, { $project: { _id: 0 } }];
  }
  return [stage];
}

export function newAggregator(stages: Doc[], extra: Partial<Options> = {}): Aggregator {
  return new Aggregator(stages.flatMap(rewriteStage), queryOptions(extra));
}

const SCRIPT_OPERATORS = new Set(["$where", "$function", "$accumulator"]);

/** The server never runs client-supplied JavaScript: the name of the first script operator, if any. */
export function findScriptOperator(value: unknown, depth = 0): string | null {
  if (depth > 100 || value === null || typeof value !== "object") return null;
  if (Array.isArray(value)) {
    for (const v of value) {
      const hit = findScriptOperator(v, depth + 1);
      if (hit) return hit;
    }
    return null;
  }
  if (value instanceof Date || ArrayBuffer.isView(value)) return null;
  for (const [k, v] of Object.entries(value)) {
    if (SCRIPT_OPERATORS.has(k)) return k;
    const hit = findScriptOperator(v, depth + 1);
    if (hit) return hit;
  }
  return null;
}

/** Stages that mingo applies by writing into nested objects of its input documents. */
const NESTED_WRITERS = new Set(["$addFields", "$set", "$unset"]);

/**
 * True when a pipeline could modify nested objects of its input in place (mingo's `$set` of a
 * dotted path does, and so does mingo's `$project` removing a dotted path, for the specifications
 * the engine's `$project` leaves to it), in which case the input is cloned so stored documents
 * stay untouched.
 */
export function pipelineWritesNested(stages: unknown): boolean {
  if (Array.isArray(stages)) return stages.some(pipelineWritesNested);
  if (stages === null || typeof stages !== "object") return false;
  for (const [key, value] of Object.entries(stages as Doc)) {
    if (NESTED_WRITERS.has(key)) {
      const fields = key === "$unset" ? [value].flat() : Object.keys((value ?? {}) as Doc);
      if (fields.some((f) => typeof f === "string" && f.includes("."))) return true;
    }
    if (key === "$project" && projectionMayWriteNested(value, { context: CONTEXT } as Options)) return true;
    if (typeof value === "object" && pipelineWritesNested(value)) return true;
  }
  return false;
}
