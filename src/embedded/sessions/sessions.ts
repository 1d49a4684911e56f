/**
 * Logical sessions, retryable writes and multi-document transactions, as a layer between the
 * wire and the command handlers (which know nothing of them):
 *
 * - A command with `autocommit: false` belongs to the session's transaction `txnNumber`; the
 *   first one (`startTransaction: true`) takes the snapshot (`TxnStore.snapshotOf`). Its commands
 *   run against that private view; `commitTransaction` applies the view's write set to the live
 *   store in one synchronous step and journals it as one record; `abortTransaction` drops it.
 * - Writes are checked for conflicts after each command, first writer wins: a document (or unique
 *   key) another open transaction wrote, or someone committed after this snapshot, fails the
 *   command with WriteConflict (112, TransientTransactionError) and aborts the transaction.
 * - A write outside any transaction that touches what an open transaction wrote waits until that
 *   transaction ends, then runs again from the start (MongoDB's non-transactional writes retry
 *   their write conflicts the same way), so it is never half-applied and never lost.
 * - A retryable write (`lsid` + `txnNumber`, no `autocommit`) runs once: a retry with the same
 *   number gets the first reply; an older number gets TransactionTooOld (225).
 *
 * Every step that changes shared state is synchronous; only waiting returns a Promise, so a
 * handler that becomes asynchronous (a long find or aggregate that yields) still reads one
 * snapshot and cannot interleave with half a commit.
 */
import { Binary, Long } from "bson";
import { codeNameOf, type ErrorName, ErrorCodes, mongoError, toErrorReply } from "../engine/errors.js";
import type { Doc } from "../engine/paths.js";
import type { Store } from "../engine/store.js";
import { errorLabelsFor, type LabelContext } from "./labels.js";
import { applyOps, changedSinceSnapshot, findById, keyString, type Op, TxnCollection, TxnStore, writeSetOf } from "./snapshot.js";
import { type SessionState, Transaction } from "./transaction.js";

export type Reply = Doc;
export type MaybeAsync<T> = T | Promise<T>;

/** `fn` of `value`, now if it is ready, else when it is (a handler may become asynchronous). */
function andThen<T, U>(value: MaybeAsync<T>, fn: (v: T) => MaybeAsync<U>): MaybeAsync<U> {
  return value instanceof Promise ? value.then(fn) : fn(value);
}

/** What the session layer needs from the server: the live store, the handlers, the journal. */
export interface Engine {
  readonly live: Store;
  /** Runs one command's handler against `store` (the live store or a transaction's view). */
  execute(store: Store, cmd: Doc): MaybeAsync<Reply>;
  /** Runs a command outside any transaction on the live store, journaling it if it writes. */
  executeJournaled(cmd: Doc): MaybeAsync<Reply>;
  /** Journals a write set applied to the live store, as one record. */
  journalOps(ops: Op[]): void;
}

/** Writes that are retryable, and the only ones a transaction buffers. */
const WRITES = new Set(["insert", "update", "delete", "findAndModify", "findandmodify"]);
/** What may run inside a transaction (MongoDB's list, less what this server does not support there). */
const IN_TRANSACTION = new Set([
  ...WRITES, "find", "getMore", "killCursors", "aggregate", "distinct", "commitTransaction", "abortTransaction",
]);

export const DEFAULT_TRANSACTION_LIFETIME_SECONDS = 60;
/** hello's logicalSessionTimeoutMinutes (30), after which an unused session is forgotten. */
const SESSION_TIMEOUT_MS = 30 * 60 * 1000;
/** When a blocked command first arrived (kept across its retries, for maxTimeMS). */
const STARTED = Symbol("started");
const WRITE_CONFLICT_MESSAGE =
  "WriteConflict error: this operation conflicted with another operation. Please retry your operation or multi-document transaction.";

function txnNumberOf(v: unknown): bigint | undefined {
  if (v === undefined || v === null) return undefined;
  if (v instanceof Long) return v.toBigInt();
  if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
  throw mongoError("TypeMismatch", "txnNumber must be a 64-bit integer");
}

function lsidKey(lsid: unknown): string | undefined {
  if (lsid === undefined || lsid === null) return undefined;
  const id = (lsid as Doc).id;
  if (!(id instanceof Binary)) throw mongoError("TypeMismatch", "lsid.id must be a UUID");
  return keyString(id);
}

/** A reply for `err`, with the labels MongoDB would attach in this context. */
export function labelled(reply: Reply, ctx: LabelContext): Reply {
  if (reply.ok !== 0 || typeof reply.code !== "number" || Array.isArray(reply.errorLabels)) return reply;
  const labels = errorLabelsFor(reply.code, ctx);
  return labels.length > 0 ? { ...reply, errorLabels: labels } : reply;
}

function fail(name: ErrorName, message: string): Reply {
  return toErrorReply(mongoError(name, message));
}

/** Inside a transaction a write error fails the whole command (MongoDB rethrows it). */
function asCommandError(reply: Reply): Reply {
  const errors = reply.writeErrors;
  if (!Array.isArray(errors) || errors.length === 0) return reply;
  const { index: _index, code, errmsg, ...extra } = errors[0] as Doc;
  const codeName = codeNameOf(code as number) ?? "UnknownError";
  return { ok: 0, errmsg, code, codeName, ...extra };
}

export class Sessions {
  private readonly sessions = new Map<string, SessionState>();
  /** Lock table: `ns|index|key` → the open transaction that wrote it. */
  private readonly locks = new Map<string, Transaction>();
  private readonly open = new Set<Transaction>();
  /** `transactionLifetimeLimitSeconds`, settable with setParameter. */
  lifetimeLimitSeconds = DEFAULT_TRANSACTION_LIFETIME_SECONDS;

  constructor(private readonly engine: Engine) {}

  get openTransactions(): number {
    return this.open.size;
  }

  /** Runs one command, with its session envelope (`lsid`, `txnNumber`, `autocommit`…). */
  run(cmd: Doc): MaybeAsync<Reply> {
    const name = Object.keys(cmd)[0] ?? "";
    let key: string | undefined;
    let txnNumber: bigint | undefined;
    try {
      key = lsidKey(cmd.lsid);
      txnNumber = txnNumberOf(cmd.txnNumber);
    } catch (err) {
      return toErrorReply(err);
    }
    if (cmd.autocommit !== undefined || cmd.startTransaction !== undefined) {
      const ctx = { inTransaction: true, commitOrAbort: name === "commitTransaction" || name === "abortTransaction", retryableWrite: false };
      return andThen(this.inTransaction(name, cmd, key, txnNumber), (reply) => labelled(reply, ctx));
    }
    if (name === "commitTransaction" || name === "abortTransaction") {
      return fail("InvalidOptions", `'${name}' may only be run in a multi-document transaction (with autocommit: false)`);
    }
    if (key !== undefined && txnNumber !== undefined && WRITES.has(name)) {
      return this.retryableWrite(this.session(key), txnNumber, cmd);
    }
    if (WRITES.has(name)) return this.write(cmd);
    const blocker = this.ddlBlocker(name, cmd);
    if (blocker) return this.waitFor(blocker, cmd, () => this.run(cmd));
    return this.engine.executeJournaled(cmd);
  }

  /**
   * A command that changes a whole collection or database (drop, indexes, `$out`/`$merge`)
   * waits, as in MongoDB (it needs the collection's exclusive lock), while an open transaction
   * has written to it: the open transaction's writer, if any.
   */
  private ddlBlocker(name: string, cmd: Doc): Transaction | undefined {
    if (this.open.size === 0) return undefined;
    const db = typeof cmd.$db === "string" ? cmd.$db : "admin";
    let target: string | null = null;
    if (name === "dropDatabase") target = `${db}.`;
    else if (["drop", "create", "createIndexes", "dropIndexes", "deleteIndexes"].includes(name) && typeof cmd[name] === "string") target = `${db}.${cmd[name] as string}`;
    else if (name === "aggregate" && Array.isArray(cmd.pipeline)) {
      const last = cmd.pipeline[cmd.pipeline.length - 1] as Doc | undefined;
      const spec = last && typeof last === "object" ? (last.$merge ?? last.$out) : undefined;
      if (typeof spec === "string") target = `${db}.${spec}`;
      else if (spec && typeof spec === "object") {
        const into = (spec as Doc).into ?? (spec as Doc).coll;
        const intoDb = typeof (spec as Doc).db === "string" ? ((spec as Doc).db as string) : db;
        if (typeof into === "string") target = `${intoDb}.${into}`;
        else if (into && typeof into === "object" && typeof (into as Doc).coll === "string") {
          target = `${typeof (into as Doc).db === "string" ? ((into as Doc).db as string) : db}.${(into as Doc).coll as string}`;
        }
      }
    }
    if (target === null) return undefined;
    for (const txn of this.open) {
      for (const coll of txn.view.written()) if (target.endsWith(".") ? coll.ns.startsWith(target) : coll.ns === target) return txn;
    }
    return undefined;
  }

  /**
   * Waits for `blocker` to end, then runs `again`; with the command's maxTimeMS, fails with
   * MaxTimeMSExpired (50) if that comes first, as a blocked MongoDB operation does.
   */
  private waitFor(blocker: Transaction, cmd: Doc, again: () => MaybeAsync<Reply>): Promise<Reply> {
    const started = (cmd as { [STARTED]?: number })[STARTED] ?? Date.now();
    Object.defineProperty(cmd, STARTED, { value: started, enumerable: false, configurable: true });
    const maxTimeMS = cmd.maxTimeMS instanceof Long ? cmd.maxTimeMS.toNumber() : typeof cmd.maxTimeMS === "number" ? cmd.maxTimeMS : 0;
    if (maxTimeMS <= 0) return blocker.ended.then(again);
    const left = started + maxTimeMS - Date.now();
    if (left <= 0) return Promise.resolve(fail("MaxTimeMSExpired", "operation exceeded time limit"));
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<"expired">((resolve) => {
      timer = setTimeout(() => resolve("expired"), left);
    });
    return Promise.race([blocker.ended, expired]).then((r) => {
      clearTimeout(timer);
      return r === "expired" ? fail("MaxTimeMSExpired", "operation exceeded time limit") : again();
    });
  }

  // ---- retryable writes ----

  private retryableWrite(session: SessionState, txnNumber: bigint, cmd: Doc): MaybeAsync<Reply> {
    const label = (r: Reply) => labelled(r, { inTransaction: false, commitOrAbort: false, retryableWrite: true });
    if (txnNumber < session.txnNumber) return label(this.tooOld(session, txnNumber));
    if (txnNumber === session.txnNumber) {
      if (session.retried?.txnNumber === txnNumber) return session.retried.reply;
      // A retry while the first attempt still waits (blocked by a transaction) gets its reply.
      if (session.inFlight?.txnNumber === txnNumber) return session.inFlight.reply;
      if (session.txn) return fail("IncompleteTransactionHistory", `txnNumber ${txnNumber} was used by a transaction, not a retryable write`);
    }
    this.advance(session, txnNumber);
    const remember = (reply: Reply): Reply => {
      if (reply.ok === 1 && session.txnNumber === txnNumber) session.retried = { txnNumber, reply };
      return label(reply);
    };
    const reply = this.write(cmd);
    if (!(reply instanceof Promise)) return remember(reply as Reply);
    const pending = reply.then(remember);
    session.inFlight = { txnNumber, reply: pending };
    void pending.finally(() => {
      if (session.inFlight?.reply === pending) session.inFlight = null;
    });
    return pending;
  }

  /**
   * A write outside a transaction. With no transaction open it runs directly on the live store;
   * otherwise on a fresh snapshot, and is applied only if it touched nothing an open transaction
   * wrote — else it waits for that transaction to end and runs again.
   */
  private write(cmd: Doc): MaybeAsync<Reply> {
    if (this.locks.size === 0) return this.engine.executeJournaled(cmd);
    const view = TxnStore.snapshotOf(this.engine.live);
    return andThen(this.engine.execute(view, cmd), (reply) => {
      const blocker = this.lockHolder(view, null);
      if (blocker) return this.waitFor(blocker, cmd, () => this.write(cmd));
      // Only if the handler yielded could someone have written meanwhile: then run it again.
      for (const coll of view.written()) if (changedSinceSnapshot(this.engine.live, coll, coll.touched.values()) !== undefined) return this.write(cmd);
      const ops = writeSetOf(view);
      if (ops.length > 0) {
        applyOps(this.engine.live, ops);
        this.engine.journalOps(ops);
      }
      return reply;
    });
  }

  // ---- transactions ----

  private inTransaction(name: string, cmd: Doc, key: string | undefined, txnNumber: bigint | undefined): MaybeAsync<Reply> {
    if (key === undefined) return fail("InvalidOptions", "a transaction requires a logical session id (lsid)");
    if (txnNumber === undefined) return fail("InvalidOptions", "a transaction requires a txnNumber");
    if (cmd.autocommit !== false) return fail("InvalidOptions", "autocommit must be false in a multi-document transaction");
    const session = this.session(key);
    let txn: Transaction;
    if (cmd.startTransaction !== undefined) {
      if (cmd.startTransaction !== true) return fail("InvalidOptions", "startTransaction must be true");
      if (txnNumber < session.txnNumber) return this.tooOld(session, txnNumber);
      if (txnNumber === session.txnNumber) {
        return fail("ConflictingOperationInProgress",
          `Cannot start a transaction at given transaction number ${txnNumber} a transaction with the same number is in state ${session.txn?.state ?? "retryable write"}`);
      }
      if (!IN_TRANSACTION.has(name) || name === "commitTransaction" || name === "abortTransaction") {
        return fail("OperationNotSupportedInTransaction", `Cannot run '${name}' in a multi-document transaction.`);
      }
      txn = this.begin(session, txnNumber);
    } else {
      if (txnNumber < session.txnNumber) return this.tooOld(session, txnNumber);
      const current = session.txn;
      if (txnNumber > session.txnNumber || !current || current.txnNumber !== txnNumber) {
        return fail("NoSuchTransaction",
          `Given transaction number ${txnNumber} does not match any in-progress transactions. The active transaction number is ${session.txnNumber}`);
      }
      txn = current;
      this.expireIfDue(txn);
      if (txn.state === "committed") {
        if (name === "commitTransaction") return { ok: 1 };
        return fail("TransactionCommitted", `Transaction with { txnNumber: ${txnNumber} } has been committed.`);
      }
      if (txn.state === "aborted") {
        return fail("NoSuchTransaction", `Transaction with { txnNumber: ${txnNumber} } has been aborted${txn.abortReason ? `: ${txn.abortReason}` : "."}`);
      }
    }
    session.lastUse = Date.now();
    if (name === "commitTransaction") return this.commit(txn);
    if (name === "abortTransaction") {
      this.abort(txn, "aborted by abortTransaction");
      return { ok: 1 };
    }
    if (!IN_TRANSACTION.has(name)) {
      this.abort(txn, `'${name}' is not allowed in a transaction`);
      return fail("OperationNotSupportedInTransaction", `Cannot run '${name}' in a multi-document transaction.`);
    }
    if (name === "aggregate" && Array.isArray(cmd.pipeline)) {
      const last = cmd.pipeline[cmd.pipeline.length - 1] as Doc | undefined;
      const writer = last && typeof last === "object" ? ["$merge", "$out"].find((s) => s in last) : undefined;
      if (writer) {
        this.abort(txn, `${writer} in a transaction`);
        return fail("OperationNotSupportedInTransaction", `${writer} cannot be used in a transaction`);
      }
    }
    return andThen(this.engine.execute(txn.view, cmd), (result) => {
      let reply = result;
      if (txn.state !== "open") return fail("NoSuchTransaction", `Transaction with { txnNumber: ${txnNumber} } has been aborted: ${txn.abortReason}`);
      if (WRITES.has(name)) {
        reply = asCommandError(reply);
        if (reply.ok === 1 && this.checkWrites(txn)) {
          this.abort(txn, "write conflict");
          return fail("WriteConflict", WRITE_CONFLICT_MESSAGE);
        }
      }
      if (reply.ok !== 1) this.abort(txn, `${String(reply.codeName)}: ${String(reply.errmsg)}`);
      return reply;
    });
  }

  private begin(session: SessionState, txnNumber: bigint): Transaction {
    this.advance(session, txnNumber);
    const txn = new Transaction(session, txnNumber, TxnStore.snapshotOf(this.engine.live));
    session.txn = txn;
    this.open.add(txn);
    txn.expireAfter(this.lifetimeLimitSeconds * 1000, () =>
      this.abort(txn, `it exceeded transactionLifetimeLimitSeconds (${this.lifetimeLimitSeconds})`));
    return txn;
  }

  /** A higher txnNumber on a session ends whatever the previous number had open. */
  private advance(session: SessionState, txnNumber: bigint): void {
    if (session.txn?.state === "open") this.abort(session.txn, `transaction ${txnNumber} started on the same session`);
    session.txnNumber = txnNumber;
    session.txn = null;
    session.retried = null;
  }

  private expireIfDue(txn: Transaction): void {
    if (txn.state === "open" && Date.now() - txn.startedAt >= this.lifetimeLimitSeconds * 1000) {
      this.abort(txn, `it exceeded transactionLifetimeLimitSeconds (${this.lifetimeLimitSeconds})`);
    }
  }

  private commit(txn: Transaction): Reply {
    // A safety net behind the per-command checks: writes that do not take locks ($merge, $out,
    // drops outside transactions) may still have changed what this transaction wrote.
    for (const coll of txn.view.written()) {
      if (changedSinceSnapshot(this.engine.live, coll, coll.touched.values()) !== undefined) {
        this.abort(txn, "write conflict at commit");
        return fail("WriteConflict", WRITE_CONFLICT_MESSAGE);
      }
    }
    const ops = writeSetOf(txn.view);
    try {
      applyOps(this.engine.live, ops);
    } catch (err) {
      this.abort(txn, "write conflict at commit");
      const reply = toErrorReply(err);
      return reply.code === ErrorCodes.DuplicateKey ? fail("WriteConflict", WRITE_CONFLICT_MESSAGE) : reply;
    }
    if (ops.length > 0) this.engine.journalOps(ops);
    this.finish(txn, "committed");
    return { ok: 1 };
  }

  abort(txn: Transaction, reason: string): void {
    this.finish(txn, "aborted", reason);
  }

  private finish(txn: Transaction, state: "committed" | "aborted", reason = ""): void {
    if (!txn.finish(state, reason)) return;
    this.open.delete(txn);
    for (const key of txn.locks) if (this.locks.get(key) === txn) this.locks.delete(key);
  }

  /**
   * Checks what the transaction's last command wrote: true on a write conflict (a document or
   * unique key another open transaction holds, or one committed after the snapshot); otherwise
   * takes the locks.
   */
  private checkWrites(txn: Transaction): boolean {
    if (this.lockHolder(txn.view, txn)) return true;
    for (const coll of txn.view.written()) {
      if (changedSinceSnapshot(this.engine.live, coll, coll.unchecked.values()) !== undefined) return true;
      if (this.uniqueKeyCommittedSince(coll)) return true;
    }
    for (const coll of txn.view.written()) {
      for (const id of coll.unchecked.values()) {
        for (const key of this.lockKeys(coll, id)) {
          if (this.locks.has(key)) continue;
          this.locks.set(key, txn);
          txn.locks.push(key);
        }
      }
      coll.unchecked.clear();
    }
    return false;
  }

  /** The open transaction (other than `self`) holding a lock on something `view` wrote. */
  private lockHolder(view: TxnStore, self: Transaction | null): Transaction | undefined {
    for (const coll of view.written()) {
      for (const id of (self ? coll.unchecked : coll.touched).values()) {
        for (const key of this.lockKeys(coll, id)) {
          const holder = this.locks.get(key);
          if (holder && holder !== self) return holder;
        }
      }
    }
    return undefined;
  }

  /** The lock-table keys of a written `_id`: the document itself and its unique keys, before and after. */
  private lockKeys(coll: TxnCollection, id: unknown): string[] {
    const keys = [`${coll.ns}|_id_|${keyString(id)}`];
    const versions = [findById(coll, id)?.[1], findById(coll.snapshot ?? undefined, id)?.[1]];
    for (const index of coll.indexes.values()) {
      if (!index.unique || index.name === "_id_") continue;
      for (const doc of versions) if (doc) for (const k of index.keysOf(doc)) keys.push(`${coll.ns}|${index.name}|${keyString(k)}`);
    }
    return keys;
  }

  /** Whether a unique key the transaction wrote belongs to a live document committed after its snapshot. */
  private uniqueKeyCommittedSince(coll: TxnCollection): boolean {
    const live = this.engine.live.collection(coll.db, coll.name);
    if (!live) return false;
    for (const id of coll.unchecked.values()) {
      const doc = findById(coll, id)?.[1];
      if (!doc) continue;
      for (const index of coll.indexes.values()) {
        if (!index.unique || index.name === "_id_") continue;
        const liveIndex = live.indexes.get(index.name);
        if (!liveIndex) continue;
        for (const k of index.keysOf(doc)) {
          for (const rid of liveIndex.scan(k.map((v) => ({ points: [v] })))) {
            const other = live.docs.get(rid);
            if (!other || keyString(other._id) === keyString(id)) continue;
            if (findById(coll.snapshot ?? undefined, other._id)?.[1] !== other) return true;
          }
        }
      }
    }
    return false;
  }

  private tooOld(session: SessionState, txnNumber: bigint): Reply {
    return fail("TransactionTooOld",
      `Cannot start transaction ${txnNumber} on session ${session.key} because a newer transaction ${session.txnNumber} has already started.`);
  }

  private session(key: string): SessionState {
    let s = this.sessions.get(key);
    if (!s) {
      s = { key, txnNumber: -1n, txn: null, retried: null, inFlight: null, lastUse: Date.now() };
      if (this.sessions.size % 1024 === 1023) this.forgetIdleSessions();
      this.sessions.set(key, s);
    }
    s.lastUse = Date.now();
    return s;
  }

  /** Sessions unused for logicalSessionTimeoutMinutes are forgotten (their transactions aborted), as MongoDB reaps them. */
  private forgetIdleSessions(): void {
    const cutoff = Date.now() - SESSION_TIMEOUT_MS;
    for (const s of this.sessions.values()) {
      if (s.lastUse >= cutoff || s.inFlight) continue;
      if (s.txn) this.abort(s.txn, "its session expired");
      this.sessions.delete(s.key);
    }
  }

  // ---- session commands ----

  /** `endSessions` / `killSessions`: their open transactions abort and their state is forgotten. */
  end(lsids: unknown[]): void {
    for (const lsid of lsids) {
      let key: string | undefined;
      try {
        key = lsidKey(lsid);
      } catch {
        continue;
      }
      const s = key === undefined ? undefined : this.sessions.get(key);
      if (!s) continue;
      if (s.txn) this.abort(s.txn, "its session ended");
      this.sessions.delete(s.key);
    }
  }

  /** An error injected by a fail point into a transaction's command aborts the transaction (not so for its commit or abort). */
  abortFor(cmd: Doc): void {
    const name = Object.keys(cmd)[0];
    if (cmd.autocommit !== false || name === "commitTransaction" || name === "abortTransaction") return;
    try {
      const key = lsidKey(cmd.lsid);
      const txnNumber = txnNumberOf(cmd.txnNumber);
      const txn = key === undefined ? undefined : this.sessions.get(key)?.txn;
      if (txn && txn.txnNumber === txnNumber) this.abort(txn, "a command failed (failCommand)");
    } catch {
      // A malformed envelope fails on its own when the command runs.
    }
  }

  /** `killAllSessions`: every session's transaction aborts. */
  endAll(): void {
    for (const s of this.sessions.values()) if (s.txn) this.abort(s.txn, "its session was killed");
    this.sessions.clear();
  }
}
