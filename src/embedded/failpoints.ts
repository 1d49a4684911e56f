/**
 * MongoDB's `failCommand` fail point, set with `configureFailPoint` as the drivers' own spec tests
 * set it, so a test can inject an error, a dropped connection, a delay or a write concern error
 * into any command (the 3rd update of a transaction, its commitTransaction…):
 *
 *   { configureFailPoint: "failCommand",
 *     mode: "alwaysOn" | "off" | { times: n } | { skip: n },
 *     data: { failCommands: ["update", …], errorCode?, errorLabels?, closeConnection?,
 *             blockConnection?, blockTimeMS?, writeConcernError?, appName? } }
 *
 * It is a decorator around command dispatch (`decorate`): handlers never test for it.
 */
import { codeNameOf, mongoError, toErrorReply } from "./engine/errors.js";
import { type Doc, isPlainObject } from "./engine/paths.js";
import { labelled } from "./sessions/sessions.js";

/** What dispatch knows of the connection a command came on. */
export interface Connection {
  id: number;
  /** The `client.application.name` of the connection's handshake. */
  appName?: string;
  /** Drops the connection without a reply. */
  close(): void;
}

/** A reply that is not sent: the connection was closed instead. */
export const NO_REPLY: Doc = Object.freeze({ ok: 0, errmsg: "connection closed by failCommand" }) as Doc;

export type Dispatch = (cmd: Doc, conn: Connection) => Doc | Promise<Doc>;

interface FailCommandData {
  failCommands: string[];
  errorCode?: number;
  errorLabels?: string[];
  closeConnection?: boolean;
  blockConnection?: boolean;
  blockTimeMS?: number;
  writeConcernError?: Doc;
  appName?: string;
}

interface Armed {
  /** Remaining activations (Infinity for alwaysOn). */
  times: number;
  /** Matching commands to let through first. */
  skip: number;
  data: FailCommandData;
}

const num = (v: unknown): number | undefined => (typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : (v as { toNumber?: () => number })?.toNumber?.());

export class FailPoints {
  private failCommand: Armed | null = null;

  /** `onInjectedError` hears of every injected error (a transaction's command that fails aborts it, as in MongoDB). */
  constructor(private readonly onInjectedError: (cmd: Doc) => void = () => {}) {}

  /** The `configureFailPoint` command. */
  configure(cmd: Doc): Doc {
    const name = cmd.configureFailPoint;
    if (name !== "failCommand") {
      return toErrorReply(mongoError("BadValue", `this server supports only the 'failCommand' fail point, not '${String(name)}'`));
    }
    const mode = cmd.mode;
    if (mode === "off") {
      this.failCommand = null;
      return { ok: 1 };
    }
    let times = Infinity;
    let skip = 0;
    if (isPlainObject(mode) && num(mode.times) !== undefined) times = num(mode.times)!;
    else if (isPlainObject(mode) && num(mode.skip) !== undefined) skip = num(mode.skip)!;
    else if (mode !== "alwaysOn") return toErrorReply(mongoError("BadValue", "mode must be 'alwaysOn', 'off', {times: n} or {skip: n}"));
    const data = isPlainObject(cmd.data) ? cmd.data : {};
    if (!Array.isArray(data.failCommands) || !data.failCommands.every((c) => typeof c === "string")) {
      return toErrorReply(mongoError("BadValue", "failCommand requires data.failCommands, an array of command names"));
    }
    this.failCommand = times > 0 ? { times, skip, data: data as unknown as FailCommandData } : null;
    return { ok: 1 };
  }

  /** Dispatch with the fail point in front of it. */
  decorate(next: Dispatch): Dispatch {
    return (cmd, conn) => {
      const name = Object.keys(cmd)[0] ?? "";
      if (name === "configureFailPoint") return this.configure(cmd);
      const data = this.trigger(name, conn);
      if (!data) return next(cmd, conn);
      const act = (): Doc | Promise<Doc> => {
        if (data.closeConnection) {
          conn.close();
          return NO_REPLY;
        }
        if (data.errorCode !== undefined) {
          this.onInjectedError(cmd);
          return injectedError(cmd, name, data);
        }
        if (data.writeConcernError) {
          const withWce = (reply: Doc): Doc => ({ ...reply, writeConcernError: data.writeConcernError });
          const reply = next(cmd, conn);
          return reply instanceof Promise ? reply.then(withWce) : withWce(reply);
        }
        return next(cmd, conn);
      };
      const block = data.blockConnection ? num(data.blockTimeMS) ?? 0 : 0;
      if (block > 0) return new Promise<void>((resolve) => setTimeout(resolve, block)).then(act);
      return act();
    };
  }

  /** The fail point's data if it fires for this command (consuming one activation), else null. */
  private trigger(name: string, conn: Connection): FailCommandData | null {
    const armed = this.failCommand;
    if (!armed || !armed.data.failCommands.includes(name)) return null;
    if (armed.data.appName !== undefined && armed.data.appName !== conn.appName) return null;
    if (armed.skip > 0) {
      armed.skip--;
      return null;
    }
    if (--armed.times <= 0) this.failCommand = null;
    return armed.data;
  }
}

/** The error reply of an injected `errorCode`, labelled as the server would label it (unless data says). */
function injectedError(cmd: Doc, name: string, data: FailCommandData): Doc {
  const code = num(data.errorCode)!;
  const reply: Doc = {
    ok: 0,
    errmsg: "Failing command via 'failCommand' failpoint",
    code,
    codeName: codeNameOf(code) ?? `Location${code}`,
  };
  if (Array.isArray(data.errorLabels)) return data.errorLabels.length > 0 ? { ...reply, errorLabels: data.errorLabels } : reply;
  const inTransaction = cmd.autocommit === false;
  const commitOrAbort = name === "commitTransaction" || name === "abortTransaction";
  const retryableWrite = !inTransaction && cmd.txnNumber !== undefined && ["insert", "update", "delete", "findAndModify"].includes(name);
  return labelled(reply, { inTransaction, commitOrAbort, retryableWrite });
}
