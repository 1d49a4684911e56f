/**
 * MongoDB's limits, with MongoDB's error codes and messages, in one place: the 16 MiB of BSON a
 * stored document may take (on every write path), and the server parameters that bound memory and
 * generated documents (`internalQueryMaxPushBytes`, `internalQueryMaxAddToSetBytes`,
 * `internalQueryMaxAllowedDensifyDocs`) and how long a read runs between yields
 * (`internalQueryExecYieldPeriodMS`), which `setParameter` changes as on mongod.
 */
import { Binary, calculateObjectSize, Decimal128, Long, ObjectId, Timestamp } from "bson";
import { badValue, ErrorCodes, MongoCommandError } from "./errors.js";
import type { Doc } from "./paths.js";

/** BSONObjMaxUserSize: the largest document MongoDB stores. */
export const MAX_USER_DOC_BYTES = 16 * 1024 * 1024;

/**
 * An upper bound of a value's BSON size, several times cheaper than `calculateObjectSize` (no
 * UTF-8 length is computed: a UTF-16 unit is at most 3 bytes), so every write can afford it and
 * only a document that may be too large is measured exactly.
 */
export function bsonSizeBound(v: unknown): number {
  switch (typeof v) {
    case "string":
      return 5 + 3 * v.length;
    case "number":
    case "bigint":
      return 8;
    case "boolean":
      return 1;
    case "undefined":
      return 0;
  }
  if (v === null) return 0;
  if (Array.isArray(v)) {
    let n = 5;
    // Each element: type byte, index key (at most 8 digits under 16 MiB) and its NUL.
    for (let i = 0; i < v.length; i++) n += 10 + bsonSizeBound(v[i]);
    return n;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) {
    let n = 5;
    const d = v as Doc;
    for (const k in d) n += 2 + 3 * k.length + bsonSizeBound(d[k]);
    return n;
  }
  if (v instanceof Date || v instanceof Long || v instanceof Timestamp) return 8;
  if (v instanceof ObjectId) return 12;
  if (v instanceof Decimal128) return 16;
  if (v instanceof Binary) return 9 + v.length();
  if (v instanceof Uint8Array) return 9 + v.length;
  if (v instanceof RegExp) return 2 + 3 * (v.source.length + v.flags.length);
  // Anything rarer (Code, DBRef, MinKey…): measured.
  return calculateObjectSize({ v }) - 5;
}

/**
 * A value's approximate size in memory, as mongod's Value::getApproximateSize counts it for the
 * accumulator memory limits: a fixed 16 bytes per value, plus a string's bytes (UTF-16 units, the
 * UTF-8 length for ASCII), plus the field names and values of a document or array.
 */
export function approximateSize(v: unknown): number {
  if (typeof v === "string") return 17 + v.length;
  if (v === null || typeof v !== "object") return 16;
  if (Array.isArray(v)) {
    let n = 40;
    for (let i = 0; i < v.length; i++) n += approximateSize(v[i]);
    return n;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) {
    let n = 40;
    const d = v as Doc;
    for (const k in d) n += k.length + approximateSize(d[k]);
    return n;
  }
  if (v instanceof Binary) return 32 + v.length();
  if (v instanceof Uint8Array) return 32 + v.length;
  return 16;
}

/** The exact BSON size of a document, measured only when the bound says it may pass `limit`. */
export function exceedsDocLimit(doc: Doc, limit = MAX_USER_DOC_BYTES): number | null {
  if (bsonSizeBound(doc) <= limit) return null;
  const size = calculateObjectSize(doc);
  return size > limit ? size : null;
}

/** insert (and `$out`, and `$merge` inserting): fixDocumentForInsert's BadValue (2). */
export function checkInsertSize(doc: Doc): void {
  const size = exceedsDocLimit(doc);
  if (size !== null) throw badValue(`object to insert too large. size in bytes: ${size}, max size: ${MAX_USER_DOC_BYTES}`);
}

/** An update's result (modifiers, replacement, pipeline; `$merge` updating): UpdateStage's 17419. */
export function checkUpdatedSize(doc: Doc): void {
  if (exceedsDocLimit(doc) !== null) {
    throw new MongoCommandError(17419, "Location17419", `Resulting document after update is larger than ${MAX_USER_DOC_BYTES}`);
  }
}

/** The document an upsert inserts: UpsertStage's 17420. */
export function checkUpsertSize(doc: Doc): void {
  if (exceedsDocLimit(doc) !== null) {
    throw new MongoCommandError(17420, "Location17420", `Document to upsert is larger than ${MAX_USER_DOC_BYTES}`);
  }
}

/**
 * Documents that arrived in a wire message no larger than the document limit cannot exceed it:
 * server.ts notes each command's message size here, and `insert` then skips the per-document check.
 */
const wireBytes = new WeakMap<object, number>();

export function noteWireBytes(command: object, bytes: number): void {
  wireBytes.set(command, bytes);
}

export function fitsByWire(command: object): boolean {
  const bytes = wireBytes.get(command);
  return bytes !== undefined && bytes <= MAX_USER_DOC_BYTES;
}

// ---------------------------------------------------------------------------------------------
// Server parameters (setParameter / getParameter), with mongod's defaults.

export interface ServerParameters {
  /** Bytes one group's `$push` may hold (mongod: 100 MiB). */
  internalQueryMaxPushBytes: number;
  /** Bytes one group's `$addToSet` may hold (mongod: 100 MiB). */
  internalQueryMaxAddToSetBytes: number;
  /** Documents one `$densify` may generate (mongod: 500,000). */
  internalQueryMaxAllowedDensifyDocs: number;
  /** Milliseconds a read runs before it yields to other connections' commands (mongod: 10). */
  internalQueryExecYieldPeriodMS: number;
}

export const DEFAULT_PARAMETERS: Readonly<ServerParameters> = Object.freeze({
  internalQueryMaxPushBytes: 100 * 1024 * 1024,
  internalQueryMaxAddToSetBytes: 100 * 1024 * 1024,
  internalQueryMaxAllowedDensifyDocs: 500_000,
  internalQueryExecYieldPeriodMS: 10,
});

/** The values in force: one set per process (per worker thread), as on a mongod. */
export const parameters: ServerParameters = { ...DEFAULT_PARAMETERS };

function isParameter(name: string): name is keyof ServerParameters {
  return Object.prototype.hasOwnProperty.call(DEFAULT_PARAMETERS, name);
}

function positiveInt(name: string, v: unknown): number {
  const n = v instanceof Long ? v.toNumber() : typeof v === "bigint" ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n <= 0) throw badValue(`${name} must be a positive integer, got ${String(v)}`);
  return n;
}

function adminOnly(db: string, command: string): void {
  if (db !== "admin") {
    throw new MongoCommandError(ErrorCodes.Unauthorized, "Unauthorized", `${command} may only be run against the admin database.`);
  }
}

/** `{setParameter: 1, <name>: <value>}` on admin: sets them, answers the first one's previous value as `was`. */
export function setParameterCommand(db: string, cmd: Doc): Doc {
  adminOnly(db, "setParameter");
  const names = Object.keys(cmd).filter((k) => k !== "setParameter" && !k.startsWith("$") && k !== "lsid" && k !== "comment");
  if (names.length === 0) throw new MongoCommandError(ErrorCodes.InvalidOptions, "InvalidOptions", "no option found to set, use help:true to see options ");
  const values: Partial<ServerParameters> = {};
  for (const name of names) {
    if (!isParameter(name)) {
      throw new MongoCommandError(ErrorCodes.InvalidOptions, "InvalidOptions", `attempted to set unrecognized parameter [${name}], use help:true to see options `);
    }
    values[name] = positiveInt(name, cmd[name]);
  }
  const was = parameters[names[0] as keyof ServerParameters];
  Object.assign(parameters, values);
  return { was, ok: 1 };
}

/** `{getParameter: 1, <name>: 1}` or `{getParameter: "*"}` on admin. */
export function getParameterCommand(db: string, cmd: Doc): Doc {
  adminOnly(db, "getParameter");
  if (cmd.getParameter === "*") return { ...parameters, ok: 1 };
  const names = Object.keys(cmd).filter((k) => k !== "getParameter" && !k.startsWith("$") && k !== "lsid" && k !== "comment");
  const out: Doc = {};
  for (const name of names) if (isParameter(name)) out[name] = parameters[name];
  if (Object.keys(out).length === 0) throw new MongoCommandError(ErrorCodes.InvalidOptions, "InvalidOptions", "no option found to get");
  return { ...out, ok: 1 };
}

/** Back to mongod's defaults (tests that lower a limit restore it this way, or by setParameter). */
export function resetParameters(): void {
  Object.assign(parameters, DEFAULT_PARAMETERS);
}
