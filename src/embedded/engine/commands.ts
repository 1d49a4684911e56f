/**
 * The command set of the embedded server. Each handler takes the command document (with OP_MSG
 * document sequences already folded in) and returns the reply body, or throws a
 * MongoCommandError that becomes MongoDB's `{ok: 0, code, codeName, errmsg}`.
 */
import { Long, ObjectId } from "bson";
import { explainPipeline, runPipeline, runPipelineYielding } from "./aggregate.js";
import type { Collection } from "./collection.js";
import { withId } from "./collection.js";
import { Cursors, DEFAULT_FIRST_BATCH } from "./cursors.js";
import { badValue, checkDeadline, ErrorCodes, MongoCommandError, toErrorReply } from "./errors.js";
import { executes, executionStats, queryPlanner, serverInfo, type Verbosity, verbosityOf } from "./explain.js";
import type { IndexSpec } from "./indexes.js";
import { checkInsertSize, checkUpdatedSize, checkUpsertSize, fitsByWire, getParameterCommand, setParameterCommand } from "./limits.js";
import { findScriptOperator, newQuery } from "./mingo-options.js";
import { cloneDoc, type Doc, isPlainObject } from "./paths.js";
import type { Store } from "./store.js";
import { sortDocs } from "./sort.js";
import { applyUpdate, checkUpdate, isModifier, seedFromFilter, type UpdateSpec } from "./update.js";
import { matchingDocsYielding, mayYield, Yielder } from "./yielding.js";

export const SERVER_VERSION = "7.0.0";
const MAX_WIRE_VERSION = 21;

/** A handler answers at once, or (a yielding read, see yielding.ts) later. */
type Handler = (ctx: CommandContext, cmd: Doc) => Doc | Promise<Doc>;

export interface CommandContext {
  db: string;
  store: Store;
  cursors: Cursors;
  connectionId: number;
  /** Long reads may yield (yielding.ts): their reply is then a Promise. Unset: every reply is immediate. */
  yielding?: boolean;
  /** Set for client connections: `hello` reports a one-member replica set whose member is `me`. */
  replSet?: { setName: string; me: string };
}

/** The election id `hello` reports: one member, elected once, so it never changes. */
const ELECTION_ID = new ObjectId("7fffffff0000000000000001");

function num(v: unknown, fallback?: number): number | undefined {
  if (v === undefined || v === null) return fallback;
  if (typeof v === "number") return v;
  if (v instanceof Long) return v.toNumber();
  if (typeof v === "bigint") return Number(v);
  throw new MongoCommandError(ErrorCodes.TypeMismatch, "TypeMismatch", `expected a number, got ${typeof v}`);
}

function doc(v: unknown, what: string): Doc {
  if (v === undefined || v === null) return {};
  if (!isPlainObject(v)) throw new MongoCommandError(ErrorCodes.TypeMismatch, "TypeMismatch", `'${what}' must be an object`);
  return v;
}

function collName(cmd: Doc, key: string): string {
  const name = cmd[key];
  if (typeof name !== "string" || name.length === 0) {
    throw new MongoCommandError(ErrorCodes.InvalidNamespace, "InvalidNamespace", `collection name must be a non-empty string`);
  }
  return name;
}

function hello(ctx: CommandContext, cmd: Doc): Doc {
  const legacy = "isMaster" in cmd || "ismaster" in cmd;
  return {
    ...(legacy ? { ismaster: true } : {}),
    helloOk: true,
    isWritablePrimary: true,
    ...(ctx.replSet
      ? {
          setName: ctx.replSet.setName,
          setVersion: 1,
          hosts: [ctx.replSet.me],
          primary: ctx.replSet.me,
          me: ctx.replSet.me,
          secondary: false,
          electionId: ELECTION_ID,
        }
      : {}),
    maxBsonObjectSize: 16 * 1024 * 1024,
    maxMessageSizeBytes: 48_000_000,
    maxWriteBatchSize: 100_000,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: 30,
    connectionId: ctx.connectionId,
    minWireVersion: 0,
    maxWireVersion: MAX_WIRE_VERSION,
    readOnly: false,
    ok: 1,
  };
}

/** Orders documents (sort), then skips, limits and projects them, with MongoDB's semantics. */
function shape(docs: Doc[], opts: { sort?: Doc; skip?: number; limit?: number; projection?: Doc }): Doc[] {
  const hasProjection = opts.projection && Object.keys(opts.projection).length > 0;
  const hasSort = opts.sort && Object.keys(opts.sort).length > 0;
  if (!hasProjection && !hasSort) {
    const start = opts.skip ?? 0;
    return opts.limit ? docs.slice(start, start + opts.limit) : start ? docs.slice(start) : docs;
  }
  let ordered = hasSort ? sortDocs([...docs], opts.sort!) : docs;
  const start = opts.skip ?? 0;
  ordered = opts.limit ? ordered.slice(start, start + opts.limit) : ordered.slice(start);
  if (!hasProjection) return ordered;
  // mingo's find projection removes a dotted or nested exclusion from the input's nested objects:
  // it gets copies, so stored documents are never changed by a read.
  if (Object.entries(opts.projection!).some(([k, v]) => k.includes(".") || isPlainObject(v))) ordered = ordered.map(cloneDoc);
  return newQuery({}).find(ordered, opts.projection).all() as Doc[];
}

/** The deadline of a command with `maxTimeMS` (0 or absent: none), as MongoDB checks it. */
function deadlineOf(cmd: Doc): number | undefined {
  const ms = num(cmd.maxTimeMS, 0)!;
  if (!Number.isInteger(ms) || ms < 0) throw badValue("maxTimeMS must be a non-negative integer");
  return ms === 0 ? undefined : Date.now() + ms;
}

/** The parts of a find command that say what it reads and returns. */
function findSpec(ctx: CommandContext, cmd: Doc) {
  const name = collName(cmd, "find");
  const limit = Math.abs(num(cmd.limit, 0)!);
  const skip = num(cmd.skip, 0)!;
  if (skip < 0) throw badValue("skip value must be non-negative");
  return {
    name,
    coll: ctx.store.collection(ctx.db, name),
    filter: doc(cmd.filter, "filter"),
    shaping: { sort: doc(cmd.sort, "sort"), skip, limit, projection: doc(cmd.projection, "projection") },
  };
}

function find(ctx: CommandContext, cmd: Doc): Doc | Promise<Doc> {
  const deadline = deadlineOf(cmd);
  const spec = findSpec(ctx, cmd);
  if (ctx.yielding && spec.coll && mayYield(cmd)) {
    const y = new Yielder(deadline);
    return matchingDocsYielding(spec.coll, spec.filter, y).then((matched) => findReply(ctx, cmd, spec, matched, deadline));
  }
  return findReply(ctx, cmd, spec, spec.coll ? spec.coll.matchingDocs(spec.filter) : [], deadline);
}

function findReply(ctx: CommandContext, cmd: Doc, spec: ReturnType<typeof findSpec>, matched: Doc[], deadline: number | undefined): Doc {
  const docs = shape(matched, spec.shaping);
  checkDeadline(deadline);
  const singleBatch = cmd.singleBatch === true || (num(cmd.limit, 0)! < 0);
  return ctx.cursors.start(`${ctx.db}.${spec.name}`, docs, num(cmd.batchSize), singleBatch);
}

function aggregate(ctx: CommandContext, cmd: Doc): Doc | Promise<Doc> {
  const target = cmd.aggregate;
  const collection = target === 1 ? null : collName(cmd, "aggregate");
  if (!isPlainObject(cmd.cursor) && cmd.explain !== true) {
    throw new MongoCommandError(ErrorCodes.FailedToParse, "FailedToParse", "The 'cursor' option is required, except for aggregate with the explain argument");
  }
  const pipeline = cmd.pipeline as Doc[];
  const deadline = deadlineOf(cmd);
  const request = { db: ctx.db, collection, pipeline, variables: isPlainObject(cmd.let) ? cmd.let : undefined, deadline };
  // `explain: true` on the command itself is the old form of explain, at queryPlanner verbosity.
  if (cmd.explain === true) return { explainVersion: "1", ...explainPipeline(ctx.store, request, "queryPlanner"), ok: 1 };
  const cursorOpts = isPlainObject(cmd.cursor) ? cmd.cursor : {};
  const reply = (results: Doc[]) => ctx.cursors.start(`${ctx.db}.${collection ?? "$cmd.aggregate"}`, results, num(cursorOpts.batchSize, DEFAULT_FIRST_BATCH));
  if (ctx.yielding && mayYield(cmd)) return runPipelineYielding(ctx.store, request, new Yielder(deadline)).then(reply);
  return reply(runPipeline(ctx.store, request));
}

/**
 * `explain` of a find: the plan `Collection.plan` chose (the one `find` runs), under the stages
 * that sort, skip, limit and project; with executionStats, also what running it examined.
 */
function explainFind(ctx: CommandContext, cmd: Doc, verbosity: Verbosity): Doc {
  const { name, coll, filter, shaping } = findSpec(ctx, cmd);
  const plan = coll ? coll.plan(filter) : null;
  const wrap = (base: Doc): Doc => {
    let stage = base;
    if (Object.keys(shaping.sort).length > 0) stage = { stage: "SORT", sortPattern: shaping.sort, type: "simple", inputStage: stage };
    if (shaping.skip > 0) stage = { stage: "SKIP", skipAmount: shaping.skip, inputStage: stage };
    if (shaping.limit > 0) stage = { stage: "LIMIT", limitAmount: shaping.limit, inputStage: stage };
    if (Object.keys(shaping.projection).length > 0) stage = { stage: "PROJECTION_DEFAULT", transformBy: shaping.projection, inputStage: stage };
    return stage;
  };
  const read = { coll, filter, plan, stats: { keysExamined: 0, docsExamined: 0 } };
  const out: Doc = { queryPlanner: queryPlanner(`${ctx.db}.${name}`, read, wrap) };
  if (executes(verbosity)) {
    const started = Date.now();
    const matched = coll ? coll.matchingDocs(filter, { plan, stats: read.stats }) : [];
    const returned = shape(matched, shaping).length;
    out.executionStats = executionStats(read, { matched: matched.length, returned, millis: Date.now() - started }, verbosity, wrap);
  }
  return out;
}

/** `explain` of a find or an aggregate (other commands: not supported here). */
function explain(ctx: CommandContext, cmd: Doc): Doc {
  const inner = cmd.explain;
  if (!isPlainObject(inner)) throw badValue("explain command requires a nested object");
  const verbosity = verbosityOf(cmd.verbosity);
  const name = Object.keys(inner)[0];
  let body: Doc;
  if (name === "find") body = explainFind(ctx, inner, verbosity);
  else if (name === "aggregate") {
    const collection = inner.aggregate === 1 ? null : collName(inner, "aggregate");
    const deadline = deadlineOf(inner) ?? deadlineOf(cmd);
    const request = { db: ctx.db, collection, pipeline: inner.pipeline as Doc[], variables: isPlainObject(inner.let) ? inner.let : undefined, deadline };
    body = explainPipeline(ctx.store, request, verbosity);
  } else {
    throw new MongoCommandError(ErrorCodes.CommandNotFound, "CommandNotFound", `explain is not supported for '${name ?? ""}' by this server (only find and aggregate)`);
  }
  const { $db: _db, ...command } = inner;
  return { explainVersion: "1", ...body, command, serverInfo: serverInfo(SERVER_VERSION), ok: 1 };
}

function getMore(ctx: CommandContext, cmd: Doc): Doc {
  const id = cmd.getMore;
  if (!(id instanceof Long) && typeof id !== "number") throw new MongoCommandError(ErrorCodes.TypeMismatch, "TypeMismatch", "getMore id must be a long");
  return ctx.cursors.more(id, collName(cmd, "collection"), ctx.db, num(cmd.batchSize));
}

function killCursors(ctx: CommandContext, cmd: Doc): Doc {
  const ids = Array.isArray(cmd.cursors) ? (cmd.cursors as Array<Long | number>) : [];
  return ctx.cursors.kill(ids);
}

interface WriteError {
  index: number;
  code: number;
  errmsg: string;
  [k: string]: unknown;
}

function writeErrorOf(index: number, err: unknown): WriteError {
  const reply = toErrorReply(err);
  const { ok: _ok, errmsg, code, codeName: _name, ...extra } = reply;
  return { index, code, errmsg, ...extra };
}

/** Runs `items` one by one; ordered writes stop at the first error, unordered ones carry on. */
function eachWrite<T>(items: T[], ordered: boolean, apply: (item: T, i: number) => void): WriteError[] {
  const errors: WriteError[] = [];
  for (let i = 0; i < items.length; i++) {
    try {
      apply(items[i]!, i);
    } catch (err) {
      errors.push(writeErrorOf(i, err));
      if (ordered) break;
    }
  }
  return errors;
}

function withWriteErrors(reply: Doc, errors: WriteError[]): Doc {
  return errors.length > 0 ? { ...reply, writeErrors: errors } : reply;
}

function insert(ctx: CommandContext, cmd: Doc): Doc {
  const name = collName(cmd, "insert");
  const documents = cmd.documents;
  if (!Array.isArray(documents)) throw badValue("'documents' must be an array");
  const { coll } = ctx.store.ensureCollection(ctx.db, name);
  let n = 0;
  // A command whose wire message fits the document limit needs no per-document size check.
  const sized = !fitsByWire(cmd);
  const errors = eachWrite(documents as Doc[], cmd.ordered !== false, (d) => {
    if (!isPlainObject(d)) throw badValue("document to insert must be an object");
    if (sized) checkInsertSize(d);
    coll.insert(withId(d));
    n++;
  });
  return withWriteErrors({ n, ok: 1 }, errors);
}

interface UpdateStatement {
  q: Doc;
  u: Doc | Doc[];
  upsert?: boolean;
  multi?: boolean;
  arrayFilters?: Doc[];
}

/** One update statement; returns how many matched, changed, and the upserted `_id` if any. */
function updateOne(coll: Collection, s: UpdateStatement): { n: number; nModified: number; upsertedId?: unknown } {
  const filter = doc(s.q, "q");
  const u = checkUpdate(s.u);
  if (s.multi && !Array.isArray(u) && !Object.keys(u).some((k) => k.startsWith("$"))) {
    throw failedToParseMulti();
  }
  let n = 0;
  let nModified = 0;
  // Materialize first: updating while iterating an index range would revisit moved records.
  const matches = [...coll.match(filter)];
  for (const [rid, current] of s.multi ? matches : matches.slice(0, 1)) {
    const next = applyUpdate(current, u, { isInsert: false, arrayFilters: s.arrayFilters });
    n++;
    if (!sameDoc(current, next)) {
      checkUpdatedSize(next);
      coll.replace(rid, next);
      nModified++;
    }
  }
  if (n === 0 && s.upsert) {
    const created = upsertInsert(coll, filter, u, s.arrayFilters);
    return { n: 1, nModified: 0, upsertedId: created._id };
  }
  return { n, nModified };
}

/**
 * The insert half of an upsert: a modifier update starts from the filter's equalities, a
 * replacement from the filter's `_id` only (as in MongoDB).
 */
function upsertInsert(coll: Collection, filter: Doc, u: UpdateSpec, arrayFilters: Doc[] | undefined): Doc {
  const seed = seedFromFilter(filter);
  const base = isModifier(u) || Array.isArray(u) ? seed : seed._id !== undefined ? { _id: seed._id } : {};
  const created = withId(applyUpdate(base, u, { isInsert: true, arrayFilters }));
  checkUpsertSize(created);
  coll.insert(created);
  return created;
}

function failedToParseMulti(): MongoCommandError {
  return new MongoCommandError(ErrorCodes.FailedToParse, "FailedToParse", "multi update is not supported for replacement-style update");
}

function sameDoc(a: Doc, b: Doc): boolean {
  return JSON.stringify(a) === JSON.stringify(b) && Object.keys(a).length === Object.keys(b).length;
}

function update(ctx: CommandContext, cmd: Doc): Doc {
  const name = collName(cmd, "update");
  const updates = cmd.updates;
  if (!Array.isArray(updates)) throw badValue("'updates' must be an array");
  const { coll } = ctx.store.ensureCollection(ctx.db, name);
  let n = 0;
  let nModified = 0;
  const upserted: Array<{ index: number; _id: unknown }> = [];
  const errors = eachWrite(updates as UpdateStatement[], cmd.ordered !== false, (s, i) => {
    if (!isPlainObject(s)) throw badValue("update statement must be an object");
    const r = updateOne(coll, s);
    n += r.n;
    nModified += r.nModified;
    if (r.upsertedId !== undefined) upserted.push({ index: i, _id: r.upsertedId });
  });
  return withWriteErrors({ n, nModified, ...(upserted.length ? { upserted } : {}), ok: 1 }, errors);
}

function del(ctx: CommandContext, cmd: Doc): Doc {
  const name = collName(cmd, "delete");
  const deletes = cmd.deletes;
  if (!Array.isArray(deletes)) throw badValue("'deletes' must be an array");
  const coll = ctx.store.collection(ctx.db, name);
  let n = 0;
  const errors = eachWrite(deletes as Array<{ q: Doc; limit: number }>, cmd.ordered !== false, (s) => {
    if (!isPlainObject(s)) throw badValue("delete statement must be an object");
    const filter = doc(s.q, "q");
    if (!coll) return;
    const matches = [...coll.match(filter)];
    for (const [rid] of num(s.limit, 0) === 1 ? matches.slice(0, 1) : matches) {
      coll.remove(rid);
      n++;
    }
  });
  return withWriteErrors({ n, ok: 1 }, errors);
}

function findAndModify(ctx: CommandContext, cmd: Doc): Doc {
  const name = collName(cmd, "findAndModify");
  const filter = doc(cmd.query, "query");
  const remove = cmd.remove === true;
  if (remove && (cmd.update !== undefined || cmd.upsert === true)) throw badValue("Cannot specify both an update and remove=true");
  if (!remove && cmd.update === undefined) throw badValue("Either an update or remove=true must be specified");
  const u = remove ? null : checkUpdate(cmd.update);
  const { coll } = ctx.store.ensureCollection(ctx.db, name);
  const sort = doc(cmd.sort, "sort");
  const fields = doc(cmd.fields, "fields");
  const project = (d: Doc | null): Doc | null => (d && Object.keys(fields).length ? shape([d], { projection: fields })[0] ?? null : d);

  const candidates = [...coll.match(filter)];
  let hit = candidates[0];
  if (Object.keys(sort).length > 0 && candidates.length > 1) {
    const first = shape(candidates.map(([, d]) => d), { sort, limit: 1 })[0];
    hit = candidates.find(([, d]) => d === first);
  }
  if (remove) {
    if (!hit) return { lastErrorObject: { n: 0 }, value: null, ok: 1 };
    coll.remove(hit[0]);
    return { lastErrorObject: { n: 1 }, value: project(hit[1]), ok: 1 };
  }
  if (hit) {
    const next = applyUpdate(hit[1], u!, { isInsert: false, arrayFilters: cmd.arrayFilters as Doc[] | undefined });
    checkUpdatedSize(next);
    coll.replace(hit[0], next);
    return { lastErrorObject: { n: 1, updatedExisting: true }, value: project(cmd.new === true ? next : hit[1]), ok: 1 };
  }
  if (cmd.upsert === true) {
    const created = upsertInsert(coll, filter, u!, cmd.arrayFilters as Doc[] | undefined);
    return { lastErrorObject: { n: 1, updatedExisting: false, upserted: created._id }, value: cmd.new === true ? project(created) : null, ok: 1 };
  }
  return { lastErrorObject: { n: 0, updatedExisting: false }, value: null, ok: 1 };
}

function count(ctx: CommandContext, cmd: Doc): Doc {
  const coll = ctx.store.collection(ctx.db, collName(cmd, "count"));
  const filter = doc(cmd.query, "query");
  let n = 0;
  if (coll) n = Object.keys(filter).length === 0 ? coll.size : coll.matchingDocs(filter).length;
  const skip = num(cmd.skip, 0)!;
  const limit = Math.abs(num(cmd.limit, 0)!);
  n = Math.max(0, n - skip);
  if (limit) n = Math.min(n, limit);
  return { n, ok: 1 };
}

function distinct(ctx: CommandContext, cmd: Doc): Doc {
  const coll = ctx.store.collection(ctx.db, collName(cmd, "distinct"));
  if (typeof cmd.key !== "string") throw badValue("'key' must be a string");
  if (!coll) return { values: [], ok: 1 };
  const results = runPipeline(ctx.store, {
    db: ctx.db,
    collection: coll.name,
    pipeline: [{ $match: doc(cmd.query, "query") }, { $unwind: { path: `$${cmd.key}` } }, { $group: { _id: null, values: { $addToSet: `$${cmd.key}` } } }],
  });
  return { values: (results[0]?.values as unknown[]) ?? [], ok: 1 };
}

function createIndexes(ctx: CommandContext, cmd: Doc): Doc {
  const name = collName(cmd, "createIndexes");
  const specs = cmd.indexes;
  if (!Array.isArray(specs) || specs.length === 0) throw badValue("Must specify at least one index to create");
  const { coll, created } = ctx.store.ensureCollection(ctx.db, name);
  const before = coll.indexes.size;
  for (const spec of specs as IndexSpec[]) {
    if (!isPlainObject(spec) || !isPlainObject(spec.key)) throw badValue("index specification must have a 'key' object");
    const key = Object.fromEntries(Object.entries(spec.key).map(([k, v]) => [k, v instanceof Long ? v.toNumber() : v]));
    coll.createIndex({ ...spec, key });
  }
  return {
    createdCollectionAutomatically: created,
    numIndexesBefore: before,
    numIndexesAfter: coll.indexes.size,
    ...(before === coll.indexes.size ? { note: "all indexes already exist" } : {}),
    ok: 1,
  };
}

function listIndexes(ctx: CommandContext, cmd: Doc): Doc {
  const name = collName(cmd, "listIndexes");
  const coll = ctx.store.collection(ctx.db, name);
  if (!coll) throw new MongoCommandError(ErrorCodes.NamespaceNotFound, "NamespaceNotFound", `ns does not exist: ${ctx.db}.${name}`);
  const docs = [...coll.indexes.values()].map((ix) => ({ v: 2, ...ix.spec }));
  const batch = isPlainObject(cmd.cursor) ? num(cmd.cursor.batchSize) : undefined;
  return ctx.cursors.start(`${ctx.db}.${name}`, docs, batch);
}

function dropIndexes(ctx: CommandContext, cmd: Doc): Doc {
  const name = collName(cmd, "dropIndexes");
  const coll = ctx.store.collection(ctx.db, name);
  if (!coll) throw new MongoCommandError(ErrorCodes.NamespaceNotFound, "NamespaceNotFound", `ns not found ${ctx.db}.${name}`);
  const nIndexesWas = coll.indexes.size;
  const which = cmd.index;
  if (which === "*") {
    for (const ixName of [...coll.indexes.keys()]) if (ixName !== "_id_") coll.dropIndex(ixName);
  } else if (typeof which === "string") {
    coll.dropIndex(which);
  } else if (Array.isArray(which)) {
    for (const ixName of which) coll.dropIndex(String(ixName));
  } else if (isPlainObject(which)) {
    const match = [...coll.indexes.values()].find((ix) => JSON.stringify(ix.spec.key) === JSON.stringify(which));
    if (!match) throw new MongoCommandError(ErrorCodes.IndexNotFound, "IndexNotFound", `can't find index with key: ${JSON.stringify(which)}`);
    coll.dropIndex(match.name);
  } else throw badValue("'index' must be a name, '*', a key pattern or an array of names");
  return { nIndexesWas, ok: 1 };
}

function listCollections(ctx: CommandContext, cmd: Doc): Doc {
  const colls = ctx.store.dbs.get(ctx.db) ?? new Map<string, Collection>();
  const all = [...colls.values()].map((c) => ({
    name: c.name,
    type: "collection",
    options: {},
    info: { readOnly: false },
    idIndex: { v: 2, key: { _id: 1 }, name: "_id_" },
  }));
  const filter = doc(cmd.filter, "filter");
  const matching = Object.keys(filter).length ? (newQuery(filter).find(all).all() as Doc[]) : all;
  const docs = cmd.nameOnly === true ? matching.map((c) => ({ name: c.name, type: c.type })) : matching;
  const batch = isPlainObject(cmd.cursor) ? num(cmd.cursor.batchSize) : undefined;
  return ctx.cursors.start(`${ctx.db}.$cmd.listCollections`, docs, batch);
}

function create(ctx: CommandContext, cmd: Doc): Doc {
  const name = collName(cmd, "create");
  const { created } = ctx.store.ensureCollection(ctx.db, name);
  if (!created) throw new MongoCommandError(ErrorCodes.NamespaceExists, "NamespaceExists", `Collection ${ctx.db}.${name} already exists.`);
  return { ok: 1 };
}

function drop(ctx: CommandContext, cmd: Doc): Doc {
  const name = collName(cmd, "drop");
  const coll = ctx.store.collection(ctx.db, name);
  const nIndexesWas = coll?.indexes.size ?? 0;
  ctx.store.dropCollection(ctx.db, name);
  return { nIndexesWas, ns: `${ctx.db}.${name}`, ok: 1 };
}

function listDatabases(ctx: CommandContext, cmd: Doc): Doc {
  const databases = [...ctx.store.dbs.entries()].map(([name, colls]) => {
    let docs = 0;
    for (const c of colls.values()) docs += c.size;
    return { name, sizeOnDisk: docs * 256, empty: docs === 0 };
  });
  const filter = doc(cmd.filter, "filter");
  const matching = Object.keys(filter).length ? (newQuery(filter).find(databases).all() as typeof databases) : databases;
  const totalSize = matching.reduce((s, d) => s + d.sizeOnDisk, 0);
  if (cmd.nameOnly === true) return { databases: matching.map((d) => ({ name: d.name })), ok: 1 };
  return { databases: matching, totalSize, totalSizeMb: Math.round(totalSize / 1048576), ok: 1 };
}

const handlers: Record<string, Handler> = {
  hello,
  ismaster: hello,
  isMaster: hello,
  ping: () => ({ ok: 1 }),
  buildInfo: () => ({ version: SERVER_VERSION, versionArray: [7, 0, 0, 0], gitVersion: "embedded", bits: 64, maxBsonObjectSize: 16 * 1024 * 1024, modules: [], ok: 1 }),
  buildinfo: () => ({ version: SERVER_VERSION, versionArray: [7, 0, 0, 0], ok: 1 }),
  listDatabases,
  insert,
  find,
  getMore,
  killCursors,
  aggregate,
  explain,
  update,
  delete: del,
  findAndModify,
  findandmodify: findAndModify,
  count,
  distinct,
  createIndexes,
  listIndexes,
  dropIndexes,
  deleteIndexes: dropIndexes,
  listCollections,
  create,
  drop,
  // limits.ts: the server parameters behind the engine's limits.
  setParameter: (ctx, cmd) => setParameterCommand(ctx.db, cmd),
  getParameter: (ctx, cmd) => getParameterCommand(ctx.db, cmd),
  dropDatabase: (ctx) => {
    ctx.store.dropDatabase(ctx.db);
    return { dropped: ctx.db, ok: 1 };
  },
};

/**
 * Executes one command; every failure becomes an error reply, never an exception. The reply is
 * immediate unless `ctx.yielding` lets a long read yield, when it may be a Promise (never rejected).
 */
export function executeCommand(ctx: CommandContext & { yielding?: false }, cmd: Doc): Doc;
export function executeCommand(ctx: CommandContext, cmd: Doc): Doc | Promise<Doc>;
export function executeCommand(ctx: CommandContext, cmd: Doc): Doc | Promise<Doc> {
  const name = Object.keys(cmd)[0];
  const handler = name === undefined ? undefined : handlers[name];
  if (!handler) {
    return { ok: 0, errmsg: `no such command: '${name ?? ""}'`, code: ErrorCodes.CommandNotFound, codeName: "CommandNotFound" };
  }
  // Client-supplied JavaScript is never run (inserted documents are data, not checked).
  const script = findScriptOperator(name === "insert" ? { ...cmd, documents: [] } : cmd);
  if (script) {
    return { ok: 0, errmsg: `${script} is not allowed: this server does not run client JavaScript`, code: ErrorCodes.BadValue, codeName: "BadValue" };
  }
  try {
    const reply = handler(ctx, cmd);
    return reply instanceof Promise ? reply.catch(toErrorReply) : reply;
  } catch (err) {
    return toErrorReply(err);
  }
}
