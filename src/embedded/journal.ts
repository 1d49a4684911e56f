/**
 * Durability for the embedded server: every write command is appended to a journal file (BSON
 * records, written synchronously before the reply is sent) and replayed in order at start. A
 * write is in the journal before the client hears it succeeded, so an acknowledged write survives
 * a restart and a `kill -9` (the bytes are in the OS by then; surviving power loss would also need
 * an fsync per write, which this does not do).
 *
 * Replay is deterministic: commands run against the same state in the same order, with the
 * `_id`s the server generated the first time (recorded with the command), so even a write that
 * failed half-way (an unordered insert with duplicates, a `$merge` that hit an error) leaves exactly
 * what it left the first time. After replay the journal is compacted into a snapshot
 * (collections, indexes, documents), so a restart costs the size of the data, not of its history.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import { BSON, type ObjectId } from "bson";
import { withIdHook } from "./engine/collection.js";
import type { Doc } from "./engine/paths.js";
import type { Store } from "./engine/store.js";

const FILE = "journal.bson";
/** Snapshot inserts are cut at this many bytes of documents. */
const SNAPSHOT_BATCH_BYTES = 4 * 1024 * 1024;

/** BSON of any size (BSON.serialize's shared buffer stops at about 17 MB). */
function encode(command: Doc): Buffer {
  const bytes = Buffer.alloc(BSON.calculateObjectSize(command));
  BSON.serializeWithBufferAndIndex(command, bytes);
  return bytes;
}

/** Commands that change data or indexes. `aggregate` only when it ends in `$merge` or `$out`. */
const WRITE_COMMANDS = new Set([
  "insert", "update", "delete", "findAndModify", "findandmodify", "createIndexes", "dropIndexes", "deleteIndexes",
  "create", "drop", "dropDatabase",
]);

export function isWriteCommand(command: Doc): boolean {
  const name = Object.keys(command)[0];
  if (name === undefined) return false;
  if (WRITE_COMMANDS.has(name)) return true;
  if (name !== "aggregate" || !Array.isArray(command.pipeline)) return false;
  const last = command.pipeline[command.pipeline.length - 1] as Doc | undefined;
  return last !== undefined && last !== null && typeof last === "object" && ("$merge" in last || "$out" in last);
}

/** The record field holding the `_id`s the server generated while running the command. */
const GENERATED_IDS = "$$generatedIds";

/** Session, cluster-time and read-preference fields do not change what a command does. */
function withoutEnvelope(command: Doc): Doc {
  const out: Doc = {};
  for (const [k, v] of Object.entries(command)) {
    if (k === "lsid" || k === "txnNumber" || (k.startsWith("$") && k !== "$db")) continue;
    out[k] = v;
  }
  return out;
}

export class Journal {
  private fd: number;

  private constructor(
    private readonly dir: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  /**
   * Opens (creating) the journal in `dir` and replays it through `run`. A torn last record (the
   * process died mid-write) is dropped. Returns the journal, compacted, and how many commands ran.
   */
  static openAndReplay(dir: string, store: Store, run: (command: Doc) => void): { journal: Journal; replayed: number } {
    mkdirSync(dir, { recursive: true });
    const path = join(dir, FILE);
    let replayed = 0;
    if (existsSync(path)) {
      const bytes = readFileSync(path);
      let offset = 0;
      while (offset + 4 <= bytes.length) {
        const size = bytes.readInt32LE(offset);
        if (size < 5 || offset + size > bytes.length) break;
        const { [GENERATED_IDS]: ids, ...command } = BSON.deserialize(bytes.subarray(offset, offset + size), { promoteValues: true, promoteLongs: false });
        const generated = Array.isArray(ids) ? [...(ids as ObjectId[])] : [];
        withIdHook((fresh) => generated.shift() ?? fresh(), () => run(command));
        replayed++;
        offset += size;
      }
    }
    const journal = new Journal(dir, -1);
    journal.fd = journal.writeSnapshot(store);
    return { journal, replayed };
  }

  /**
   * Runs a write command through `execute` and appends it (with its `$db` and the `_id`s the server
   * generated for it) before returning the reply, synchronously.
   */
  record(command: Doc, execute: () => Doc): Doc {
    const generated: ObjectId[] = [];
    const reply = withIdHook(
      (fresh) => {
        const id = fresh();
        generated.push(id);
        return id;
      },
      execute,
    );
    const entry = withoutEnvelope(command);
    if (generated.length > 0) entry[GENERATED_IDS] = generated;
    writeSync(this.fd, encode(entry));
    return reply;
  }

  /** Appends one record as it is (a transaction's write set: one record, so a crash keeps all of it or none). */
  append(entry: Doc): void {
    writeSync(this.fd, encode(entry));
  }

  close(): void {
    if (this.fd < 0) return;
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.fd = -1;
  }

  /**
   * Writes the store's current contents as commands to a new file, makes it durable, and swaps it
   * in atomically (rename); returns the new file's descriptor, open for appending.
   */
  private writeSnapshot(store: Store): number {
    const path = join(this.dir, FILE);
    const tmp = `${path}.compacting`;
    const fd = openSync(tmp, "w");
    const put = (command: Doc) => writeSync(fd, encode(command));
    for (const [db, colls] of store.dbs) {
      for (const [name, coll] of colls) {
        put({ create: name, $db: db });
        const indexes = [...coll.indexes.values()].filter((ix) => ix.name !== "_id_").map((ix) => ix.spec);
        if (indexes.length > 0) put({ createIndexes: name, indexes, $db: db });
        let batch: Doc[] = [];
        let bytes = 0;
        for (const doc of coll.docs.values()) {
          batch.push(doc);
          bytes += BSON.calculateObjectSize(doc);
          if (bytes >= SNAPSHOT_BATCH_BYTES) {
            put({ insert: name, documents: batch, ordered: true, $db: db });
            batch = [];
            bytes = 0;
          }
        }
        if (batch.length > 0) put({ insert: name, documents: batch, ordered: true, $db: db });
      }
    }
    fsyncSync(fd);
    closeSync(fd);
    if (this.fd >= 0) closeSync(this.fd);
    renameSync(tmp, path);
    return openSync(path, "a");
  }
}
