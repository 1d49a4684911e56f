/** Open cursors: results kept between `find`/`aggregate` and the `getMore`s that page through them. */
import { calculateObjectSize, Long } from "bson";
import { ErrorCodes, MongoCommandError } from "./errors.js";
import type { Doc } from "./paths.js";

/** MongoDB's first-batch default, and the byte cap it applies to any one batch. */
export const DEFAULT_FIRST_BATCH = 101;
const MAX_BATCH_BYTES = 16 * 1024 * 1024;
/** Idle cursors are reaped after this long, like MongoDB's cursorTimeoutMillis. */
const IDLE_MS = 10 * 60 * 1000;

interface OpenCursor {
  ns: string;
  docs: Doc[];
  pos: number;
  lastUsed: number;
}

export class Cursors {
  private readonly open = new Map<string, OpenCursor>();
  private nextId = 1n;

  /** The first batch, and a cursor id (0 when everything fit) for the rest. */
  start(ns: string, docs: Doc[], batchSize: number | undefined, singleBatch = false) {
    const cursor: OpenCursor = { ns, docs, pos: 0, lastUsed: Date.now() };
    // batchSize 0 asks for an empty first batch: the cursor is opened and nothing is sent yet.
    const firstBatch = batchSize === 0 ? [] : takeBatch(cursor, batchSize ?? DEFAULT_FIRST_BATCH);
    let id = Long.ZERO;
    if (cursor.pos < docs.length && !singleBatch) {
      this.reap();
      const n = this.nextId++;
      this.open.set(n.toString(), cursor);
      id = Long.fromBigInt(n);
    }
    return { cursor: { id, ns, firstBatch }, ok: 1 };
  }

  more(id: Long | number, collection: string, db: string, batchSize: number | undefined) {
    const key = (typeof id === "number" ? BigInt(id) : id.toBigInt()).toString();
    const cursor = this.open.get(key);
    if (!cursor) throw new MongoCommandError(ErrorCodes.CursorNotFound, "CursorNotFound", `cursor id ${key} not found`);
    if (cursor.ns !== `${db}.${collection}`) {
      throw new MongoCommandError(13, "Unauthorized", `Requested getMore on namespace '${db}.${collection}', but cursor belongs to a different namespace ${cursor.ns}`);
    }
    cursor.lastUsed = Date.now();
    const nextBatch = takeBatch(cursor, batchSize ?? Number.MAX_SAFE_INTEGER);
    const done = cursor.pos >= cursor.docs.length;
    if (done) this.open.delete(key);
    return { cursor: { id: done ? Long.ZERO : Long.fromString(key), ns: cursor.ns, nextBatch }, ok: 1 };
  }

  kill(ids: Array<Long | number>) {
    const cursorsKilled: Long[] = [];
    const cursorsNotFound: Long[] = [];
    for (const id of ids) {
      const long = typeof id === "number" ? Long.fromNumber(id) : id;
      (this.open.delete(long.toString()) ? cursorsKilled : cursorsNotFound).push(long);
    }
    return { cursorsKilled, cursorsNotFound, cursorsAlive: [], cursorsUnknown: [], ok: 1 };
  }

  private reap(): void {
    const cutoff = Date.now() - IDLE_MS;
    for (const [key, c] of this.open) if (c.lastUsed < cutoff) this.open.delete(key);
  }
}

function takeBatch(cursor: OpenCursor, batchSize: number): Doc[] {
  const limit = batchSize <= 0 ? Number.MAX_SAFE_INTEGER : batchSize;
  const batch: Doc[] = [];
  let bytes = 0;
  while (cursor.pos < cursor.docs.length && batch.length < limit) {
    const doc = cursor.docs[cursor.pos]!;
    // A first document goes in whatever its size; its size matters only if another may follow.
    const last = cursor.pos + 1 === cursor.docs.length || batch.length + 1 === limit;
    const size = batch.length === 0 && last ? 0 : calculateObjectSize(doc);
    if (batch.length > 0 && bytes + size > MAX_BATCH_BYTES) break;
    batch.push(doc);
    bytes += size;
    cursor.pos++;
  }
  return batch;
}
