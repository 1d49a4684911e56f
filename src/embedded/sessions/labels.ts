/**
 * The error labels a MongoDB server attaches to an error reply, by the rules of the server's
 * `getErrorLabels`: a drivers' retry loops (retryable writes, `withTransaction`) key off labels,
 * not codes, so an injected or real error must carry the ones MongoDB would give it.
 */
import { ErrorCodes } from "../engine/errors.js";

/** Codes after which a retryable write, commit or abort may be retried (the server's isRetriableError). */
const RETRYABLE_CODES = new Set<number>([
  ErrorCodes.HostUnreachable, ErrorCodes.HostNotFound, ErrorCodes.NetworkTimeout, ErrorCodes.ShutdownInProgress,
  ErrorCodes.PrimarySteppedDown, ErrorCodes.ExceededTimeLimit, ErrorCodes.NotWritablePrimary,
  ErrorCodes.InterruptedAtShutdown, ErrorCodes.InterruptedDueToReplStateChange, ErrorCodes.NotPrimaryNoSecondaryOk,
  ErrorCodes.NotPrimaryOrSecondary, 9001 /* SocketException */, 63 /* StaleShardVersion */, 150 /* StaleEpoch */,
  13388 /* StaleConfig */, 234 /* RetryChangeStream */, 133 /* FailedToSatisfyReadPreference */,
]);

/** Codes after which the whole transaction may be retried (isTransientTransactionError). */
const TRANSIENT_CODES = new Set<number>([
  ErrorCodes.WriteConflict, ErrorCodes.LockTimeout, 267 /* PreparedTransactionInProgress */,
  ErrorCodes.SnapshotTooOld, ErrorCodes.SnapshotUnavailable,
]);

export interface LabelContext {
  /** The command runs inside a multi-document transaction (or is its commit/abort). */
  inTransaction: boolean;
  /** The command is commitTransaction or abortTransaction. */
  commitOrAbort: boolean;
  /** A retryable write: insert/update/delete/findAndModify with lsid and txnNumber outside a transaction. */
  retryableWrite: boolean;
  hasWriteConcernError?: boolean;
}

export function errorLabelsFor(code: number, ctx: LabelContext): string[] {
  const labels: string[] = [];
  if ((ctx.retryableWrite || ctx.commitOrAbort) && RETRYABLE_CODES.has(code)) labels.push("RetryableWriteError");
  if (ctx.inTransaction) {
    let transient = TRANSIENT_CODES.has(code);
    if (ctx.commitOrAbort) transient = (transient || code === ErrorCodes.NoSuchTransaction) && !ctx.hasWriteConcernError;
    else transient ||= code === ErrorCodes.NoSuchTransaction;
    if (transient) labels.push("TransientTransactionError");
  }
  return labels;
}

/** Whether a reply is an error the labels apply to. */
export function replyCode(reply: Record<string, unknown>): number | undefined {
  return reply.ok === 0 && typeof reply.code === "number" ? reply.code : undefined;
}
