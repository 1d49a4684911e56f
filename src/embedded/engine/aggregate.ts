/**
 * Running an aggregation pipeline. `prepare` answers the leading `$match` stages (and those of
 * `$unionWith`/`$lookup` sub-pipelines) through the collections' indexes; mingo runs the rest; a
 * final `$merge` or `$out` is carried out here, with MongoDB's semantics and this store's unique
 * indexes, rather than by mingo.
 */
import { Collection, withId } from "./collection.js";
import type { Index } from "./indexes.js";
import { compareValues } from "./compare.js";
import { badValue, checkDeadline, ErrorCodes, MongoCommandError } from "./errors.js";
import { executes, type Verbosity } from "./explain.js";
import { compileDocumentPipeline } from "./document-pipeline.js";
import { ENGINE_STAGE, type EngineStage, newAggregator, pipelineWritesNested, queryOptions, rewriteStage } from "./mingo-options.js";
import type { Options } from "mingo/types";
import { startGroup } from "./operators/group.js";
import { sortDocs } from "./sort.js";
import type { Yielder } from "./yielding.js";
import { type Prepared, prepare, type PrepareEnv } from "./prepare.js";
import { cloneDoc, type Doc, isPlainObject, valuesAtPath } from "./paths.js";
import type { Store } from "./store.js";
import { applyUpdate } from "./update.js";
import { checkInsertSize, checkUpdatedSize, checkUpsertSize } from "./limits.js";

export interface PipelineRequest {
  db: string;
  /** null for database-level pipelines (`aggregate: 1`, starting with `$documents`). */
  collection: string | null;
  pipeline: Doc[];
  variables?: Doc;
  /** `Date.now()` past which the pipeline fails with MaxTimeMSExpired (from the command's maxTimeMS). */
  deadline?: number;
}

/** The input documents, checking the deadline as they are pulled through the pipeline. */
function* withDeadline(docs: Doc[], deadline: number): Generator<Doc> {
  for (let i = 0; i < docs.length; i++) {
    if ((i & 255) === 0) checkDeadline(deadline);
    yield docs[i]!;
  }
}

/** Checks the stage list and splits off a final `$merge`/`$out`. */
function splitWriter(pipeline: unknown): { body: Doc[]; writer: Doc | null } {
  if (!Array.isArray(pipeline) || !pipeline.every(isPlainObject)) throw badValue("'pipeline' must be an array of objects");
  for (const [i, stage] of pipeline.entries()) {
    if (Object.keys(stage).length !== 1) {
      throw new MongoCommandError(ErrorCodes.Location40324, "Location40323", "A pipeline stage specification object must contain exactly one field.");
    }
    const name = Object.keys(stage)[0]!;
    if ((name === "$merge" || name === "$out") && i !== pipeline.length - 1) {
      throw badValue(`${name} can only be the final stage in the pipeline`);
    }
  }
  const last = pipeline[pipeline.length - 1];
  const writer = last && ("$merge" in last || "$out" in last) ? last : null;
  return { body: writer ? pipeline.slice(0, -1) : pipeline, writer };
}

function prepareRequest(store: Store, req: PipelineRequest, counting = false): { env: PrepareEnv; prepared: Prepared; writer: Doc | null } {
  const { body, writer } = splitWriter(req.pipeline);
  // Stored documents are never mutated: a pipeline that writes into nested objects gets copies.
  const env: PrepareEnv = { store, db: req.db, clone: pipelineWritesNested(body), deadline: req.deadline, counting };
  return { env, prepared: prepare(env, req.collection, body), writer };
}

/** Collections the engine does not read itself ($graphLookup) come whole from this resolver. */
function collectionResolver(env: PrepareEnv): (name: string) => Doc[] {
  return (name) => {
    const docs = env.store.collection(env.db, name)?.allDocs() ?? [];
    return env.clone ? docs.map(cloneDoc) : docs;
  };
}

/** Runs the prepared pipeline (without its `$merge`/`$out`): the results. */
function execute(env: PrepareEnv, prepared: Prepared, variables: Doc | undefined): Doc[] {
  const input = prepared.source ? prepared.source.read() : [];
  const resolver = collectionResolver(env);
  checkDeadline(env.deadline);
  const source = env.deadline === undefined ? input : withDeadline(input, env.deadline);
  const results = prepared.hasStages
    ? (newAggregator(prepared.stages, { collectionResolver: resolver, variables }).run(source) as Doc[])
    : input;
  // Stages that work after their input is consumed ($group, $sort, $densify…) are checked here.
  checkDeadline(env.deadline);
  return results;
}

/**
 * A pipeline cut where the yielding executor takes over from mingo: at each `$group` and `$sort`
 * (the stages that consume their whole input), so it can pause while it feeds them.
 */
interface Segment {
  /** Stages mingo streams documents through, one pull at a time. */
  streaming: Doc[];
  /** The `$group` or `$sort` the streamed documents go into (null: the pipeline's results). */
  sink: Doc | null;
}

function segmentsOf(stages: Doc[]): Segment[] {
  const out: Segment[] = [];
  let streaming: Doc[] = [];
  for (const stage of stages.flatMap(rewriteStage)) {
    if ("$group" in stage || "$sort" in stage) {
      out.push({ streaming, sink: stage });
      streaming = [];
    } else streaming.push(stage);
  }
  out.push({ streaming, sink: null });
  return out;
}

interface Sink {
  add(doc: Doc): void;
  finish(): Iterable<Doc>;
}

function openSink(stage: Doc | null, options: Options): Sink {
  if (stage === null) {
    const docs: Doc[] = [];
    return { add: (d) => docs.push(d), finish: () => docs };
  }
  if ("$group" in stage) {
    const run = startGroup(stage.$group, options);
    return { add: (d) => run.add(d), finish: () => run.output() };
  }
  const spec = stage.$sort;
  if (!isPlainObject(spec) || Object.keys(spec).length === 0) throw new Error("$sort specification is invalid");
  const docs: Doc[] = [];
  return { add: (d) => docs.push(d), finish: () => sortDocs(docs, spec) };
}

/**
 * `runPipeline` for a read (no `$merge`/`$out`) that yields (yielding.ts): the source is read
 * pausing between documents, then each segment's documents are pulled through mingo's stages and
 * into its `$group`/`$sort`, pausing between them; what a segment outputs is the next one's input.
 * The results are those of `runPipeline`, which runs the same stages without pausing.
 */
export async function runPipelineYielding(store: Store, req: PipelineRequest, y: Yielder): Promise<Doc[]> {
  const { env, prepared, writer } = prepareRequest(store, req);
  if (writer) throw new Error("a pipeline that writes does not yield");
  y.deadline = req.deadline;
  let docs: Iterable<Doc> = prepared.source ? await prepared.source.readYielding(y) : [];
  checkDeadline(env.deadline);
  if (!prepared.hasStages) return docs as Doc[];
  const resolver = collectionResolver(env);
  for (const segment of segmentsOf(prepared.stages)) {
    // The segment's mingo options, which the engine's $group takes (captured as the stream is built).
    let options: Options | null = null;
    const capture: EngineStage = (input, o) => ((options = o), input);
    const stream = newAggregator([...segment.streaming, { [ENGINE_STAGE]: capture }], { collectionResolver: resolver, variables: req.variables }).stream(docs);
    const sink = openSink(segment.sink, options!);
    for (let r = stream.next(); !r.done; r = stream.next()) {
      sink.add(r.value as Doc);
      if (y.due()) await y.pause();
    }
    docs = sink.finish();
    checkDeadline(env.deadline);
  }
  return docs as Doc[];
}

export function runPipeline(store: Store, req: PipelineRequest): Doc[] {
  const { env, prepared, writer } = prepareRequest(store, req);
  const results = execute(env, prepared, req.variables);
  if (writer) {
    if ("$out" in writer) runOut(store, req.db, writer.$out, results);
    else runMerge(store, req.db, writer.$merge, results, req.variables);
    return [];
  }
  return results;
}

/**
 * `explain` of an aggregation, in MongoDB's shape: when the pipeline is only its leading
 * `$match`, the query layer's `queryPlanner` (as for find); else `stages`, the first being the
 * `$cursor` of the leading `$match`. With executionStats the pipeline runs (never its
 * `$merge`/`$out`) and each read and stage reports what it examined and returned.
 */
export function explainPipeline(store: Store, req: PipelineRequest, verbosity: Verbosity): Doc {
  const { env, prepared, writer } = prepareRequest(store, req, executes(verbosity));
  if (executes(verbosity)) execute(env, prepared, req.variables);
  if (prepared.source && !prepared.hasStages && !writer) return prepared.source.explainBody(verbosity);
  return { stages: [...prepared.explain(verbosity), ...(writer ? [writer] : [])] };
}

function target(db: string, spec: unknown, stage: string): { db: string; coll: string } {
  if (typeof spec === "string") return { db, coll: spec };
  if (isPlainObject(spec)) {
    const coll = spec.coll ?? spec.into;
    const targetDb = spec.db ?? db;
    if (typeof coll === "string" && typeof targetDb === "string") return { db: targetDb, coll };
    if (isPlainObject(coll) && typeof coll.coll === "string") {
      return { db: typeof coll.db === "string" ? coll.db : db, coll: coll.coll };
    }
  }
  throw badValue(`${stage} requires a target collection name`);
}

/** `$out`: the target's contents become exactly the results, atomically; its indexes are kept. */
function runOut(store: Store, db: string, spec: unknown, results: Doc[]): void {
  const t = target(db, spec, "$out");
  const existing = store.collection(t.db, t.coll);
  const fresh = new Collection(t.db, t.coll);
  for (const index of existing?.indexes.values() ?? []) if (index.name !== "_id_") fresh.createIndex(index.spec);
  for (const doc of results) {
    checkInsertSize(doc);
    fresh.insert(withId(doc));
  }
  store.install(fresh);
}

/** `$merge`: match each result to the target by the `on` fields (a unique index must cover them). */
function runMerge(store: Store, db: string, spec: unknown, results: Doc[], variables?: Doc): void {
  const t = target(db, spec, "$merge");
  const opts = isPlainObject(spec) ? spec : {};
  const on = opts.on === undefined ? ["_id"] : [opts.on].flat();
  if (!on.every((f): f is string => typeof f === "string") || on.length === 0) throw badValue("$merge 'on' must be a field name or an array of them");
  const whenMatched = opts.whenMatched ?? "merge";
  const whenNotMatched = opts.whenNotMatched ?? "insert";
  const { coll } = store.ensureCollection(t.db, t.coll);

  // The unique index that makes `on` a key (MongoDB requires one); matches are looked up in it.
  const onIsId = on.length === 1 && on[0] === "_id";
  const keyIndex = onIsId
    ? coll.indexes.get("_id_")!
    : [...coll.indexes.values()].find((ix) => ix.unique && ix.fields.length === on.length && on.every((f) => ix.fields.includes(f)));
  if (!keyIndex) {
    throw new MongoCommandError(ErrorCodes.MergeOnFieldsNotUnique, "Location51183",
      "Cannot find index to verify that join fields will be unique");
  }

  // The whenMatched pipeline reads the stored document; copied only if it could write into it.
  const copyExisting = Array.isArray(whenMatched) && pipelineWritesNested(whenMatched);
  // Compiled once when it can be, its variables rebound for each result through `bound`.
  const bound: Doc = {};
  const compiled = Array.isArray(whenMatched) ? compileDocumentPipeline(whenMatched as Doc[], queryOptions({ variables: bound })) : null;
  for (const result of results) {
    const filter: Doc = {};
    for (const f of on) {
      const { values, multikey } = valuesAtPath(result, f);
      if (multikey || values.length !== 1 || values[0] === undefined || values[0] === null) {
        throw new MongoCommandError(ErrorCodes.MergeMissingOnField, "Location51132",
          `$merge write error: 'on' field '${f}' cannot be missing, null, undefined or an array`);
      }
      filter[f] = values[0];
    }
    const match = firstExact(coll, keyIndex, filter, on);
    if (!match) {
      if (whenNotMatched === "insert") {
        // mongod inserts (BadValue) when whenMatched is "fail", else upserts (17420).
        if (whenMatched === "fail") checkInsertSize(result);
        else checkUpsertSize(result);
        coll.insert(withId(result));
      }
      else if (whenNotMatched === "fail") {
        throw new MongoCommandError(ErrorCodes.MergeWhenNotMatchedFail, "MergeStageNoMatchingDocument",
          "$merge could not find a matching document in the target collection for at least one document in the source collection");
      } else if (whenNotMatched !== "discard") throw badValue(`unknown whenNotMatched mode: ${String(whenNotMatched)}`);
      continue;
    }
    const [rid, existing] = match;
    if (whenMatched === "keepExisting") continue;
    if (whenMatched === "fail") {
      throw existingDuplicate(coll, on, filter);
    }
    let next: Doc;
    if (whenMatched === "replace") {
      if (result._id !== undefined && compareValues(result._id, existing._id) !== 0) throw immutable();
      next = { ...result, _id: existing._id };
      const { _id, ...rest } = next;
      next = { _id, ...rest };
    } else if (whenMatched === "merge") {
      if (result._id !== undefined && compareValues(result._id, existing._id) !== 0) throw immutable();
      next = { ...existing, ...result, _id: existing._id };
    } else if (Array.isArray(whenMatched)) {
      const vars: Doc = { ...(isPlainObject(opts.let) ? evaluateLet(opts.let, result) : {}), new: result, ...(variables ?? {}) };
      const input = copyExisting ? cloneDoc(existing) : existing;
      if (compiled) {
        // The same names for every result (the let's, new, the command's): assigning rebinds them all.
        Object.assign(bound, vars);
        next = compiled(input);
      } else next = newAggregator(whenMatched as Doc[], { variables: vars }).run([input])[0] as Doc;
      next = applyUpdate(existing, next, { isInsert: false });
    } else throw badValue(`unknown whenMatched mode: ${String(whenMatched)}`);
    // An unchanged document is not rewritten (nor are its index entries), as mongod skips no-op updates.
    if (compareValues(next, existing) !== 0) {
      checkUpdatedSize(next);
      coll.replace(rid, next);
    }
  }
}

function evaluateLet(letSpec: Doc, result: Doc): Doc {
  const out: Doc = {};
  for (const [k, v] of Object.entries(letSpec)) {
    out[k] = typeof v === "string" && v.startsWith("$") && !v.startsWith("$$") ? valuesAtPath(result, v.slice(1)).values[0] : v;
  }
  return out;
}

/** The target document whose `on` fields equal `filter`'s, found through the unique index on them. */
function firstExact(coll: Collection, index: Index, filter: Doc, on: string[]): [number, Doc] | undefined {
  for (const rid of index.scan(index.fields.map((f) => ({ points: [filter[f]] })))) {
    const doc = coll.docs.get(rid);
    if (doc && on.every((f) => compareValues(valuesAtPath(doc, f).values[0], filter[f]) === 0)) return [rid, doc];
  }
  return undefined;
}

function existingDuplicate(coll: Collection, on: string[], filter: Doc): MongoCommandError {
  const index = [...coll.indexes.values()].find((ix) => ix.fields.length === on.length && on.every((f) => ix.fields.includes(f)));
  const shown = on.map((f) => `${f}: ${JSON.stringify(filter[f])}`).join(", ");
  return new MongoCommandError(ErrorCodes.DuplicateKey, "DuplicateKey",
    `E11000 duplicate key error collection: ${coll.ns} index: ${index?.name ?? "_id_"} dup key: { ${shown} }`,
    { keyPattern: index?.spec.key ?? { _id: 1 }, keyValue: filter });
}

function immutable(): MongoCommandError {
  return new MongoCommandError(ErrorCodes.ImmutableField, "ImmutableField",
    "$merge failed to update the matching document, did you attempt to modify the _id or the shard key?");
}
