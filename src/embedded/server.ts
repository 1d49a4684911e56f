/**
 * The embedded MongoDB-compatible server: a TCP listener speaking the wire protocol to the
 * official driver, presenting itself as the primary of a one-member replica set (so the driver
 * allows sessions, retryable writes and transactions). A command goes through, in order:
 *   size check (wire) → the `failCommand` fail point (failpoints.ts) → server-level commands
 *   (hello, parameters, session commands) → the session layer (sessions/sessions.ts: retryable
 *   writes, transactions) → the command handlers (engine/commands.ts) on the live store or on a
 *   transaction's snapshot.
 * Each connection's commands run in order; a command only yields when it has to wait (a fail
 * point's blockTimeMS, a write blocked by an open transaction) or is a long read outside a
 * transaction, which gives way every internalQueryExecYieldPeriodMS (engine/yielding.ts) so other
 * connections' commands are answered meanwhile. Every change to shared state is one synchronous
 * step, which keeps single-document writes, unique checks and commits atomic, as in MongoDB.
 */
import net from "node:net";
import { Binary, Long, Timestamp, UUID } from "bson";
import { executeCommand } from "./engine/commands.js";
import { noteWireBytes } from "./engine/limits.js";
import { Cursors } from "./engine/cursors.js";
import { mongoError, toErrorReply } from "./engine/errors.js";
import { type Doc, isPlainObject } from "./engine/paths.js";
import { Store } from "./engine/store.js";
import { type Connection, type Dispatch, FailPoints, NO_REPLY } from "./failpoints.js";
import { isWriteCommand, Journal } from "./journal.js";
import { Sessions } from "./sessions/sessions.js";
import { applyOps, type Op } from "./sessions/snapshot.js";
import { encodeReply, MAX_COMMAND_BYTES, parseMessage, ProtocolError, readHeader, type Request } from "./wire.js";

const MAX_MESSAGE_BYTES = 48_000_000;
/** The replica set name `hello` reports. */
export const REPLICA_SET_NAME = "rs0";

export interface EmbeddedServerOptions {
  host?: string;
  port?: number;
}

export interface EmbeddedStoreOptions {
  /** Journal every write here and replay it at start (see journal.ts); unset: memory only. */
  dataDir?: string;
}

interface ClientConnection extends Connection {
  /** host:port the client reached this server at: `hello`'s `me`, `primary` and `hosts`. */
  address: string;
  queue: Promise<void>;
}

export class EmbeddedMongoServer {
  readonly store = new Store();
  private readonly cursors = new Cursors();
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private nextConnectionId = 1;
  private readonly journal: Journal | null = null;
  /** Sessions, retryable writes and transactions. */
  readonly sessions: Sessions;
  readonly failPoints: FailPoints;
  private readonly dispatch: Dispatch;
  /** The cluster time of the last reply (seconds, increment), always advancing. */
  private clock = { t: 0, i: 0 };
  /** Commands replayed from the journal at start (0 without a data directory). */
  readonly replayed: number = 0;

  constructor(opts: EmbeddedStoreOptions = {}) {
    this.server = net.createServer((socket) => this.accept(socket));
    this.sessions = new Sessions({
      live: this.store,
      execute: (store, cmd) => this.execute(cmd, 0, store),
      executeJournaled: (cmd) => this.runLive(cmd),
      journalOps: (ops) => this.journal?.append({ applyOps: ops, $db: "admin" }),
    });
    this.failPoints = new FailPoints((cmd) => this.sessions.abortFor(cmd));
    this.dispatch = this.failPoints.decorate((cmd, conn) => this.command(cmd, conn as ClientConnection));
    if (opts.dataDir) {
      const { journal, replayed } = Journal.openAndReplay(opts.dataDir, this.store, (command) => this.replay(command));
      this.journal = journal;
      this.replayed = replayed;
    }
  }

  async listen(opts: EmbeddedServerOptions = {}): Promise<number> {
    const host = opts.host ?? "127.0.0.1";
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(opts.port ?? 0, host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    return (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.journal?.close();
  }

  /**
   * Runs one command document (with `$db`) on the live store, outside any session; also used by
   * tests of the engine. A write command is journaled before its reply is returned, whatever its
   * outcome (replay reproduces that too).
   */
  run(command: Doc, connectionId = 0): Doc {
    if (this.journal && isWriteCommand(command)) return this.journal.record(command, () => this.execute(command, connectionId));
    return this.execute(command, connectionId);
  }

  /**
   * `run` for a client's command outside a transaction: a read may yield (engine/yielding.ts), its
   * reply then a Promise; writes (journaled or not) never yield.
   */
  private runLive(command: Doc): Doc | Promise<Doc> {
    if (this.journal && isWriteCommand(command)) return this.run(command);
    const db = typeof command.$db === "string" ? command.$db : "admin";
    return executeCommand({ db, store: this.store, cursors: this.cursors, connectionId: 0, yielding: true }, command);
  }

  private execute(command: Doc, connectionId: number, store: Store = this.store, address?: string): Doc {
    const db = typeof command.$db === "string" ? command.$db : "admin";
    const replSet = address ? { setName: REPLICA_SET_NAME, me: address } : undefined;
    return executeCommand({ db, store, cursors: this.cursors, connectionId, replSet }, command);
  }

  /** One journal record at start: a command, or a transaction's write set (`applyOps`). */
  private replay(command: Doc): void {
    if (Array.isArray(command.applyOps)) applyOps(this.store, command.applyOps as Op[]);
    else this.execute(command, 0);
  }

  /** Commands answered by the server itself, before the session layer. */
  private command(cmd: Doc, conn: ClientConnection): Doc | Promise<Doc> {
    const name = Object.keys(cmd)[0] ?? "";
    switch (name) {
      case "hello":
      case "isMaster":
      case "ismaster": {
        const app = isPlainObject(cmd.client) && isPlainObject(cmd.client.application) ? cmd.client.application.name : undefined;
        if (typeof app === "string") conn.appName = app;
        return this.execute(cmd, conn.id, this.store, conn.address);
      }
      case "setParameter":
        return this.setParameter(cmd) ?? this.sessions.run(cmd);
      case "getParameter":
        return this.getParameter(cmd) ?? this.sessions.run(cmd);
      case "startSession":
        return { id: { id: new UUID() }, timeoutMinutes: 30, ok: 1 };
      case "refreshSessions":
      case "refreshLogicalSessionCacheNow":
        return { ok: 1 };
      case "endSessions":
      case "killSessions": {
        const lsids = cmd[name];
        this.sessions.end(Array.isArray(lsids) ? lsids : []);
        return { ok: 1 };
      }
      case "killAllSessions":
        this.sessions.endAll();
        return { ok: 1 };
      default:
        return this.sessions.run(cmd);
    }
  }

  /**
   * `setParameter`: `transactionLifetimeLimitSeconds` here, the engine's limits and yield period
   * (engine/limits.ts) there.
   */
  private setParameter(cmd: Doc): Doc {
    const value = cmd.transactionLifetimeLimitSeconds;
    if (value === undefined) return this.execute(cmd, 0);
    const n = value instanceof Long ? value.toNumber() : value;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1) {
      return toErrorReply(mongoError("BadValue", "transactionLifetimeLimitSeconds must be an integer of at least 1"));
    }
    const was = this.sessions.lifetimeLimitSeconds;
    this.sessions.lifetimeLimitSeconds = n;
    return { was, ok: 1 };
  }

  private getParameter(cmd: Doc): Doc {
    const own = { transactionLifetimeLimitSeconds: this.sessions.lifetimeLimitSeconds };
    if (cmd.getParameter === "*") {
      const engine = this.execute(cmd, 0);
      return engine.ok === 1 ? { ...engine, ...own } : engine;
    }
    const { transactionLifetimeLimitSeconds, ...rest } = cmd;
    if (transactionLifetimeLimitSeconds === undefined) return this.execute(cmd, 0);
    const others = Object.keys(rest).some((k) => k !== "getParameter" && !k.startsWith("$") && k !== "lsid");
    return { ...(others ? this.execute(rest, 0) : {}), ...own, ok: 1 };
  }

  /** A replica set member's `$clusterTime` and `operationTime`: a logical clock that only advances. */
  private withClusterTime(reply: Doc): Doc {
    const now = Math.floor(Date.now() / 1000);
    this.clock = now > this.clock.t ? { t: now, i: 1 } : { t: this.clock.t, i: this.clock.i + 1 };
    const time = new Timestamp({ t: this.clock.t, i: this.clock.i });
    return { ...reply, $clusterTime: { clusterTime: time, signature: { hash: new Binary(Buffer.alloc(20)), keyId: Long.ZERO } }, operationTime: time };
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const local = (socket.localAddress ?? "127.0.0.1").replace(/^::ffff:/, "");
    const conn: ClientConnection = {
      id: this.nextConnectionId++,
      address: `${local.includes(":") ? `[${local}]` : local}:${socket.localPort}`,
      close: () => socket.destroy(),
      queue: Promise.resolve(),
    };
    let pending: Buffer = Buffer.alloc(0);
    socket.on("data", (chunk) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 16) {
        const { length } = readHeader(pending);
        if (length < 16 || length > MAX_MESSAGE_BYTES) {
          socket.destroy();
          return;
        }
        if (pending.length < length) break;
        const message = pending.subarray(0, length);
        pending = pending.subarray(length);
        // One connection's commands run in order, each after the previous one's reply.
        conn.queue = conn.queue.then(() => this.handle(socket, message, conn));
      }
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => this.sockets.delete(socket));
  }

  private async handle(socket: net.Socket, message: Buffer, conn: ClientConnection): Promise<void> {
    if (socket.destroyed) return;
    let request: Request;
    try {
      request = parseMessage(message);
    } catch (err) {
      // A frame we cannot read leaves the stream in an unknown state: drop the connection.
      if (err instanceof ProtocolError || err instanceof Error) socket.destroy();
      return;
    }
    // engine/limits.ts: an insert whose documents all fit the document limit skips checking each.
    noteWireBytes(request.command, request.largestDocument);
    let reply: Doc;
    try {
      reply = request.largestDocument > MAX_COMMAND_BYTES ? tooLarge(request) : await this.dispatch(request.command, conn);
    } catch (err) {
      reply = toErrorReply(err);
    }
    if (reply === NO_REPLY || request.moreToCome || socket.destroyed) return;
    let bytes: Buffer;
    try {
      bytes = encodeReply(request, this.withClusterTime(reply));
    } catch (err) {
      const errmsg = err instanceof Error ? err.message : String(err);
      bytes = encodeReply(request, { ok: 0, errmsg: `reply could not be encoded: ${errmsg}`, code: 10334, codeName: "BSONObjectTooLarge" });
    }
    socket.write(bytes);
  }
}

/** MongoDB's reply to a command (or document sequence entry) over 16 MiB + 16 KiB. */
function tooLarge(request: Request): Doc {
  const size = request.largestDocument;
  const first = Object.keys(request.command)[0] ?? "";
  return toErrorReply(mongoError("BSONObjectTooLarge",
    `BSONObj size: ${size} (0x${size.toString(16).toUpperCase()}) is invalid. Size must be between 0 and ${MAX_COMMAND_BYTES}(16MB) First element: ${first}: ${JSON.stringify(request.command[first]) ?? ""}`));
}
