/**
 * The embedded MongoDB-compatible server: a TCP listener speaking the wire protocol to the
 * official driver, executing commands against an in-memory Store. Commands run one at a time
 * (the event loop serializes them), which makes every single-document write and every unique
 * index check atomic, as they are in MongoDB. A long read outside a transaction yields between
 * batches of its work (engine/yielding.ts), so other connections' commands are answered while it
 * runs; each connection's own commands still run, and are answered, in the order they arrived.
 */
import net from "node:net";
import { executeCommand } from "./engine/commands.js";
import { Cursors } from "./engine/cursors.js";
import { noteWireBytes } from "./engine/limits.js";
import type { Doc } from "./engine/paths.js";
import { Store } from "./engine/store.js";
import { isWriteCommand, Journal } from "./journal.js";
import { encodeReply, parseMessage, ProtocolError, readHeader, type Request } from "./wire.js";

interface ConnectionOrder {
  /** A command of this connection is running (yielding); later messages wait in `waiting`. */
  busy: boolean;
  waiting: Buffer[];
}

const MAX_MESSAGE_BYTES = 48_000_000;

export interface EmbeddedServerOptions {
  host?: string;
  port?: number;
}

export interface EmbeddedStoreOptions {
  /** Journal every write here and replay it at start (see journal.ts); unset: memory only. */
  dataDir?: string;
}

export class EmbeddedMongoServer {
  readonly store = new Store();
  private readonly cursors = new Cursors();
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private nextConnectionId = 1;
  private readonly journal: Journal | null = null;
  /** Commands replayed from the journal at start (0 without a data directory). */
  readonly replayed: number = 0;

  constructor(opts: EmbeddedStoreOptions = {}) {
    this.server = net.createServer((socket) => this.accept(socket));
    if (opts.dataDir) {
      const { journal, replayed } = Journal.openAndReplay(opts.dataDir, this.store, (command) => this.execute(command, 0));
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
   * Runs one command document (with `$db`); also used by tests of the engine. A write command is
   * journaled before its reply is returned, whatever its outcome (replay reproduces that too).
   */
  run(command: Doc, connectionId = 0): Doc {
    if (this.journal && isWriteCommand(command)) return this.journal.record(command, () => this.execute(command, connectionId));
    return this.execute(command, connectionId);
  }

  private execute(command: Doc, connectionId: number): Doc {
    const db = typeof command.$db === "string" ? command.$db : "admin";
    return executeCommand({ db, store: this.store, cursors: this.cursors, connectionId }, command);
  }

  /** `run`, except that a long read may yield: its reply is then a Promise. Writes never yield. */
  private runYielding(command: Doc, connectionId: number): Doc | Promise<Doc> {
    if (this.journal && isWriteCommand(command)) return this.run(command, connectionId);
    const db = typeof command.$db === "string" ? command.$db : "admin";
    return executeCommand({ db, store: this.store, cursors: this.cursors, connectionId, yielding: true }, command);
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    const connectionId = this.nextConnectionId++;
    // Messages that arrived while this connection's previous command was still running (yielding).
    const order: ConnectionOrder = { busy: false, waiting: [] };
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
        this.handle(socket, message, connectionId, order);
      }
    });
    socket.on("error", () => socket.destroy());
    socket.on("close", () => this.sockets.delete(socket));
  }

  private handle(socket: net.Socket, message: Buffer, connectionId: number, order: ConnectionOrder): void {
    if (order.busy) {
      order.waiting.push(message);
      return;
    }
    let request;
    try {
      request = parseMessage(message);
    } catch (err) {
      // A frame we cannot read leaves the stream in an unknown state: drop the connection.
      if (err instanceof ProtocolError || err instanceof Error) socket.destroy();
      return;
    }
    // limits.ts: documents of a message within the document limit need no size check.
    noteWireBytes(request.command, message.length);
    const reply = this.runYielding(request.command, connectionId);
    if (reply instanceof Promise) {
      order.busy = true;
      void reply.then((r) => {
        order.busy = false;
        this.respond(socket, request, r);
        while (!order.busy && order.waiting.length > 0) this.handle(socket, order.waiting.shift()!, connectionId, order);
      });
      return;
    }
    this.respond(socket, request, reply);
  }

  private respond(socket: net.Socket, request: Request, reply: Doc): void {
    if (request.moreToCome || socket.destroyed) return;
    let bytes: Buffer;
    try {
      bytes = encodeReply(request, reply);
    } catch (err) {
      const errmsg = err instanceof Error ? err.message : String(err);
      bytes = encodeReply(request, { ok: 0, errmsg: `reply could not be encoded: ${errmsg}`, code: 10334, codeName: "BSONObjectTooLarge" });
    }
    socket.write(bytes);
  }
}
