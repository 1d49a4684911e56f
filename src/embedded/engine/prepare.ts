/**
 * Preparing a pipeline for mingo, so that every collection it reads is read through the index
 * planner, at the top and in sub-pipelines:
 * - the leading `$match` stages of the pipeline, and of each `$unionWith` and `$lookup`
 *   sub-pipeline, are one filter answered from the best index (`planFilter`, as for find); the
 *   rest of each pipeline is mingo's;
 * - a `$lookup` on localField/foreignField joins each document through an index whose first
 *   field is foreignField, instead of hashing the whole foreign collection;
 * - with a deadline (maxTimeMS), a check follows every stage, also inside sub-pipelines.
 * The prepared pipeline also describes itself for explain, so the plan explain reports is the
 * plan that runs; an executed explain counts what each read examined and what each stage returned.
 */
import { ObjectId } from "bson";
import { Lazy } from "mingo/lazy";
import { $lookup, $unionWith } from "mingo/operators/pipeline";
import { ensureArray, HashMap, resolve } from "mingo/util";
import type { Collection, ScanStats } from "./collection.js";
import { checkDeadline } from "./errors.js";
import { executes, executionStats, queryPlanner, type Verbosity } from "./explain.js";
import type { Index } from "./indexes.js";
import { DEADLINE_STAGE, ENGINE_STAGE, type EngineStage, rewriteStage } from "./mingo-options.js";
import { cloneDoc, type Doc, isPlainObject } from "./paths.js";
import { joinIndex, type Plan } from "./planner.js";
import type { Store } from "./store.js";
import { matchingDocsYielding, type Yielder } from "./yielding.js";

export interface PrepareEnv {
  store: Store;
  db: string;
  /** Documents read from collections are copied (the pipeline writes into nested objects). */
  clone: boolean;
  deadline?: number;
  /** An executed explain: count what every stage returns. */
  counting?: boolean;
}

const UNPLANNABLE = new Set(["$expr", "$where", "$text"]);

/** A `$match` the engine can answer before mingo: no `$expr` at any depth (it may need `let` variables). */
function isPlannable(match: unknown): boolean {
  if (Array.isArray(match)) return match.every(isPlannable);
  if (!isPlainObject(match)) return true;
  return Object.entries(match).every(([k, v]) => !UNPLANNABLE.has(k) && isPlannable(v));
}

/** Whether a value mentions a `$$variable` anywhere (a `$lookup` pipeline condition that does is not run once for all). */
function mentionsVariable(value: unknown): boolean {
  if (typeof value === "string") return value.startsWith("$$");
  if (Array.isArray(value)) return value.some(mentionsVariable);
  if (isPlainObject(value)) return Object.values(value).some(mentionsVariable);
  return false;
}

/**
 * The documents of one collection that match the leading `$match` stages of a pipeline, read
 * through `plan` (what `Collection.plan` chose, kept here so explain reports the plan that ran).
 */
export class CursorSource {
  readonly coll: Collection | undefined;
  readonly plan: Plan | null;
  readonly stats: ScanStats = { keysExamined: 0, docsExamined: 0 };
  private docs: Doc[] | null = null;
  private millis = 0;

  constructor(
    private readonly env: PrepareEnv,
    readonly name: string,
    readonly filter: Doc,
  ) {
    this.coll = env.store.collection(env.db, name);
    this.plan = this.coll ? this.coll.plan(filter) : null;
  }

  get ns(): string {
    return `${this.env.db}.${this.name}`;
  }

  /**
   * The matching documents. They are read once per command (nothing writes while a pipeline
   * runs, and a sub-pipeline may run once per input document), and copied on each call when the
   * pipeline writes into nested objects.
   */
  read(): Doc[] {
    if (!this.docs) {
      const started = Date.now();
      this.docs = this.coll ? this.coll.matchingDocs(this.filter, { plan: this.plan, stats: this.stats }) : [];
      this.millis = Date.now() - started;
      checkDeadline(this.env.deadline);
    }
    return this.env.clone ? this.docs.map(cloneDoc) : this.docs;
  }

  /** `read`, pausing as `y` says while it scans (the yielding executor's first step). */
  async readYielding(y: Yielder): Promise<Doc[]> {
    if (!this.docs) {
      const started = Date.now();
      this.docs = this.coll ? await matchingDocsYielding(this.coll, this.filter, y, { plan: this.plan, stats: this.stats }) : [];
      this.millis = Date.now() - started;
      checkDeadline(this.env.deadline);
    }
    return this.read();
  }

  /** Whether the read (if it happened) scanned the whole collection. */
  get collectionScans(): number {
    return this.docs && this.coll && !this.plan ? 1 : 0;
  }

  queryPlanner(): Doc {
    return queryPlanner(this.ns, this);
  }

  executionStats(verbosity: Verbosity): Doc {
    const matched = this.docs?.length ?? 0;
    return executionStats(this, { matched, returned: matched, millis: this.millis }, verbosity);
  }

  /** MongoDB's `$cursor` stage: the query layer's part of a pipeline. */
  explain(verbosity: Verbosity): Doc {
    return { $cursor: this.explainBody(verbosity) };
  }

  explainBody(verbosity: Verbosity): Doc {
    return { queryPlanner: this.queryPlanner(), ...(executes(verbosity) ? { executionStats: this.executionStats(verbosity) } : {}) };
  }
}

/** Values a join looks up through the index: those whose index order and mingo equality agree. */
function isJoinKey(v: unknown): boolean {
  return typeof v === "string" || typeof v === "number" || typeof v === "boolean" || v === null || v instanceof Date || v instanceof ObjectId;
}

/** More local values than this (an array localField) look up in the whole-collection map instead. */
const MAX_JOIN_POINTS = 1_000;

/**
 * The foreign side of a `$lookup` on localField/foreignField. Matching is mingo's (a foreign
 * document matches when one of its foreignField values — each element of an array — equals one
 * of the local values, by mingo's equality); only where the candidates come from differs: an
 * index range per input document when `joinIndex` finds one, else the whole collection, hashed
 * once. Either way the matches come back in the foreign collection's natural order.
 */
class Join {
  readonly index: Index | null;
  readonly stats = { keysExamined: 0, docsExamined: 0, collectionScans: 0, indexesUsed: new Set<string>() };
  private all: HashMap<unknown, number[]> | null = null;

  constructor(
    private readonly env: PrepareEnv,
    private readonly coll: Collection | undefined,
    private readonly foreignField: string,
  ) {
    this.index = coll ? joinIndex(foreignField, coll.indexes.values()) : null;
  }

  /** The foreign documents matching `local` (a localField value; an array matches by element). */
  matches(local: unknown): Doc[] {
    const coll = this.coll;
    if (!coll) return [];
    const values = Array.isArray(local) ? local : [local];
    if (values.length === 0) return [];
    let byKey: HashMap<unknown, number[]>;
    if (this.index && values.length <= MAX_JOIN_POINTS && values.every(isJoinKey)) {
      const rids = this.index.scan([{ points: values }]);
      this.stats.keysExamined += rids.length;
      this.stats.docsExamined += rids.length;
      this.stats.indexesUsed.add(this.index.name);
      byKey = this.keyMap(rids);
    } else {
      if (!this.all) {
        this.stats.collectionScans++;
        this.stats.docsExamined += coll.size;
        this.all = this.keyMap(coll.docs.keys());
      }
      byKey = this.all;
    }
    const found = new Set<number>();
    for (const v of values) for (const rid of byKey.get(v) ?? []) found.add(rid);
    return [...found].sort((a, b) => a - b).map((rid) => coll.docs.get(rid)!);
  }

  /** foreignField value → record ids, over the given records (mingo's `$lookup` map). */
  private keyMap(rids: Iterable<number>): HashMap<unknown, number[]> {
    const map = HashMap.init<unknown, number[]>();
    let n = 0;
    for (const rid of rids) {
      if ((++n & 4095) === 0) checkDeadline(this.env.deadline);
      const doc = this.coll!.docs.get(rid);
      if (!doc) continue;
      for (const v of ensureArray(resolve(doc, this.foreignField) ?? null)) {
        const list = map.get(v);
        if (list) list.push(rid);
        else map.set(v, [rid]);
      }
    }
    return map;
  }
}

type Describe = (verbosity: Verbosity) => Doc;

/** One stage of a prepared pipeline: what mingo runs, and how explain shows it. */
interface Step {
  stages: Doc[];
  describe: Describe;
  returned?: { n: number };
}

export class Prepared {
  constructor(
    /** The leading `$match` stages answered from the collection (null: a collection-less pipeline). */
    readonly source: CursorSource | null,
    private readonly steps: Step[],
  ) {}

  /** The stages mingo runs over the source's documents. */
  get stages(): Doc[] {
    return this.steps.flatMap((s) => s.stages);
  }

  get hasStages(): boolean {
    return this.steps.length > 0;
  }

  /** The pipeline as explain shows it: the `$cursor` of the source, then every stage. */
  explain(verbosity: Verbosity): Doc[] {
    return [...(this.source ? [this.source.explain(verbosity)] : []), ...this.describeStages(verbosity)];
  }

  /** The stages after the source, as explain shows them. */
  describeStages(verbosity: Verbosity): Doc[] {
    return this.steps.map((s) => {
      const described = s.describe(verbosity);
      return s.returned && executes(verbosity) ? { ...described, nReturned: s.returned.n } : described;
    });
  }
}

interface PrepareOptions {
  /** Which conditions of the leading `$match` stages may be answered from the collection before mingo runs. */
  plannable?: (condition: Doc) => boolean;
}

/**
 * Splits a `$match` filter into the conditions the collection can answer and the rest (null when
 * none is left): a filter is a conjunction of its top-level conditions, so either part may go first.
 */
function splitMatch(match: Doc, plannable: (condition: Doc) => boolean): { planned: Doc; rest: Doc | null } {
  const planned: Doc = {};
  const rest: Doc = {};
  for (const [k, v] of Object.entries(match)) {
    if (plannable({ [k]: v })) planned[k] = v;
    else rest[k] = v;
  }
  return { planned, rest: Object.keys(rest).length > 0 ? rest : null };
}

/**
 * Prepares `pipeline` to run over `collection` (null: a collection-less pipeline, which starts
 * with `$documents` or runs over documents the caller supplies).
 */
export function prepare(env: PrepareEnv, collection: string | null, pipeline: Doc[], opts: PrepareOptions = {}): Prepared {
  const plannable = opts.plannable ?? isPlannable;
  let rest = pipeline;
  let source: CursorSource | null = null;
  if (collection !== null) {
    // Consecutive leading $match stages are one conjunction: give all of it to the index planner.
    // Conditions it cannot answer (`$expr`…) stay behind as a $match over what it returns.
    const leading: Doc[] = [];
    let i = 0;
    let residue: Doc | null = null;
    while (i < pipeline.length && residue === null && isPlainObject(pipeline[i]) && isPlainObject(pipeline[i]!.$match)) {
      const { planned, rest: left } = splitMatch(pipeline[i]!.$match as Doc, plannable);
      if (Object.keys(planned).length > 0) leading.push(planned);
      residue = left;
      i++;
    }
    const filter = leading.length === 0 ? {} : leading.length === 1 ? leading[0]! : { $and: leading };
    source = new CursorSource(env, collection, filter);
    rest = residue ? [{ $match: residue }, ...pipeline.slice(i)] : pipeline.slice(i);
  }
  // $count becomes $group + $project at every depth (mingo's own $count emits a zero on empty input).
  const steps = rest.flatMap((stage) => (isPlainObject(stage) ? rewriteStage(stage) : [stage])).map((stage) => {
    const step = prepareStage(env, stage);
    if (env.counting) {
      const returned = { n: 0 };
      const count: EngineStage = (input) => input.map((doc) => (returned.n++, doc));
      step.stages.push({ [ENGINE_STAGE]: count });
      step.returned = returned;
    }
    if (env.deadline !== undefined) step.stages.push({ [DEADLINE_STAGE]: env.deadline });
    return step;
  });
  return new Prepared(source, steps);
}

function asIs(stage: Doc): Step {
  return { stages: [stage], describe: () => stage };
}

function prepareStage(env: PrepareEnv, stage: Doc): Step {
  if (!isPlainObject(stage)) return asIs(stage);
  const name = Object.keys(stage)[0];
  const spec = name === undefined ? undefined : stage[name];
  if (name === "$unionWith") return prepareUnionWith(env, stage, spec);
  if (name === "$lookup" && isPlainObject(spec)) return prepareLookup(env, stage, spec);
  if (name === "$facet" && isPlainObject(spec)) {
    const facets = Object.entries(spec).map(([k, p]) => [k, Array.isArray(p) ? prepare(env, null, p as Doc[]) : p] as const);
    const stages = Object.fromEntries(facets.map(([k, p]) => [k, p instanceof Prepared ? p.stages : p]));
    return {
      stages: [{ $facet: stages }],
      describe: (v) => ({ $facet: Object.fromEntries(facets.map(([k, p]) => [k, p instanceof Prepared ? p.describeStages(v) : p])) }),
    };
  }
  return asIs(stage);
}

/** `$unionWith`: the sub-pipeline's leading `$match` stages are read from the collection's indexes. */
function prepareUnionWith(env: PrepareEnv, stage: Doc, spec: unknown): Step {
  const s = typeof spec === "string" ? { coll: spec } : isPlainObject(spec) ? spec : null;
  if (!s) return asIs(stage);
  const pipeline = s.pipeline === undefined ? [] : s.pipeline;
  if (!Array.isArray(pipeline) || !pipeline.every(isPlainObject)) return asIs(stage);
  if (typeof s.coll !== "string") {
    if (s.coll !== undefined) return asIs(stage);
    // Collection-less: the sub-pipeline starts with $documents.
    const sub = prepare(env, null, pipeline);
    return {
      stages: [{ $unionWith: { pipeline: sub.stages } }],
      describe: (v) => ({ $unionWith: { pipeline: sub.explain(v) } }),
    };
  }
  const coll = s.coll;
  const sub = prepare(env, coll, pipeline);
  const run: EngineStage = (input, options) => $unionWith(input, { coll: sub.source!.read(), pipeline: sub.stages }, options);
  return { stages: [{ [ENGINE_STAGE]: run }], describe: (v) => ({ $unionWith: { coll, pipeline: sub.explain(v) } }) };
}

/**
 * `$lookup`. With localField/foreignField, each input document joins through `Join` (and the
 * concise form's pipeline runs over its matches only, as in MongoDB). With only a pipeline, its
 * leading `$match` stages (when they mention no `$$variable`) are read from the indexes once,
 * and mingo runs the rest per input document with the `let` variables.
 */
function prepareLookup(env: PrepareEnv, stage: Doc, spec: Doc): Step {
  const { from, as, localField, foreignField } = spec;
  const pipeline = spec.pipeline;
  if (typeof as !== "string") return asIs(stage);
  if (pipeline !== undefined && (!Array.isArray(pipeline) || !pipeline.every(isPlainObject))) return asIs(stage);
  const shown = (sub: Prepared | null, v: Verbosity, source?: CursorSource | null): Doc => {
    const described: Doc = { ...spec };
    if (sub) {
      const lead = source && Object.keys(source.filter).length > 0 ? [{ $match: source.filter }] : [];
      described.pipeline = [...lead, ...sub.describeStages(v)];
    }
    return described;
  };

  if (localField !== undefined || foreignField !== undefined) {
    if (typeof from !== "string" || typeof localField !== "string" || typeof foreignField !== "string") return asIs(stage);
    const join = new Join(env, env.store.collection(env.db, from), foreignField);
    const sub = pipeline === undefined ? null : prepare(env, null, pipeline as Doc[]);
    const run: EngineStage = (input, options) =>
      input.map((o) => {
        const matched = join.matches(resolve(o as Doc, localField) ?? null);
        const docs = env.clone ? matched.map(cloneDoc) : matched;
        if (!sub) return { ...(o as Doc), [as]: docs };
        return $lookup(Lazy([o]), { from: docs, let: spec.let as Doc | undefined, pipeline: sub.stages as never, as }, options).next().value;
      });
    return {
      stages: [{ [ENGINE_STAGE]: run }],
      describe: (v) => ({
        $lookup: shown(sub, v),
        ...(executes(v)
          ? {
              totalDocsExamined: join.stats.docsExamined,
              totalKeysExamined: join.stats.keysExamined,
              collectionScans: join.stats.collectionScans,
              indexesUsed: [...join.stats.indexesUsed],
            }
          : { indexesUsed: join.index ? [join.index.name] : [] }),
      }),
    };
  }

  if (!Array.isArray(pipeline)) return asIs(stage);
  if (from === undefined) {
    // Collection-less: the pipeline starts with $documents.
    const sub = prepare(env, null, pipeline);
    return { stages: [{ $lookup: { ...spec, pipeline: sub.stages } }], describe: (v) => ({ $lookup: shown(sub, v) }) };
  }
  if (typeof from !== "string") return asIs(stage);
  const sub = prepare(env, from, pipeline, { plannable: (c) => isPlannable(c) && !mentionsVariable(c) });
  const source = sub.source!;
  const run: EngineStage = (input, options) =>
    $lookup(input, { from: source.read(), let: spec.let as Doc | undefined, pipeline: sub.stages as never, as }, options);
  return {
    stages: [{ [ENGINE_STAGE]: run }],
    describe: (v) => ({
      $lookup: shown(sub, v, source),
      ...(executes(v)
        ? { totalDocsExamined: source.stats.docsExamined, totalKeysExamined: source.stats.keysExamined, collectionScans: source.collectionScans }
        : {}),
      indexesUsed: source.plan ? [source.plan.index.name] : [],
    }),
  };
}
