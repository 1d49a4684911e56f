/**
 * Domain errors, raised by services and rendered by each surface in its own envelope: REST
 * adapters map them to their vendor's JSON, GraphQL to `extensions.code` (one function each).
 */
import { MongoBulkWriteError, MongoNetworkError, MongoOperationTimeoutError, MongoServerError, MongoServerSelectionError, MongoTopologyClosedError } from "mongodb";

/** One problem with one input, located as FastAPI does: e.g. ["body", "events", 3, "timestamp"]. */
export interface InputIssue {
  loc: Array<string | number>;
  msg: string;
  type: string;
}

export type ErrorKind = "BAD_USER_INPUT" | "UNAUTHENTICATED" | "FORBIDDEN" | "NOT_FOUND" | "PAYLOAD_TOO_LARGE" | "RATE_LIMITED" | "UNAVAILABLE" | "TIMEOUT";

const STATUS: Record<ErrorKind, number> = {
  BAD_USER_INPUT: 422,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
};

export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly issues: InputIssue[] = [],
    status?: number,
  ) {
    super(message);
    this.status = status ?? STATUS[kind];
  }
}

export const badInput = (message: string, issues: InputIssue[] = [], status?: number) =>
  new AppError("BAD_USER_INPUT", message, issues, status);
export const unauthenticated = (message = "Missing or invalid API key") => new AppError("UNAUTHENTICATED", message);
export const forbidden = (message: string) => new AppError("FORBIDDEN", message);
export const notFound = (message: string) => new AppError("NOT_FOUND", message);
export const rateLimited = (message: string) => new AppError("RATE_LIMITED", message);

/**
 * Any thrown value as an AppError: the database being unreachable is 503, a query over its time
 * budget 504. Anything else is a bug and is returned as null (the caller logs it and answers 500).
 */
export function asAppError(err: unknown): AppError | null {
  if (err instanceof AppError) return err;
  if (err instanceof MongoServerSelectionError || err instanceof MongoNetworkError || err instanceof MongoTopologyClosedError || isCutOffBulkWrite(err)) {
    return new AppError("UNAVAILABLE", "The usage database is unavailable; retry shortly");
  }
  // 50: MaxTimeMSExpired (the server stopped it); mongos also reports 262 (ExceededTimeLimit) and
  // 202 (NetworkInterfaceExceededTimeLimit); the driver's own timeout (timeoutMS) likewise.
  if ((err instanceof MongoServerError && TIMEOUT_CODES.has(Number(err.code))) || err instanceof MongoOperationTimeoutError) {
    return new AppError("TIMEOUT", "The query exceeded its time budget");
  }
  // A server stepping down or shutting down, or a transaction that kept conflicting past its
  // retries: the same request succeeds later.
  if (err instanceof MongoServerError && (UNAVAILABLE_CODES.has(Number(err.code)) || err.hasErrorLabel("TransientTransactionError") || err.hasErrorLabel("RetryableWriteError"))) {
    return new AppError("UNAVAILABLE", "The usage database is unavailable; retry shortly");
  }
  return null;
}

const TIMEOUT_CODES = new Set([50, 202, 262]);
/** HostUnreachable, HostNotFound, NetworkTimeout, ShutdownInProgress, PrimarySteppedDown, SocketException,
 * NotWritablePrimary, InterruptedAtShutdown, InterruptedDueToReplStateChange, NotPrimaryNoSecondaryOk,
 * NotPrimaryOrSecondary, WriteConflict, NoSuchTransaction, LockTimeout. */
const UNAVAILABLE_CODES = new Set([6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436, 112, 251, 24]);

/**
 * A bulk write the connection cut off: the driver reports it as a MongoBulkWriteError with no write
 * errors of its own, carrying the network error (or just the socket's code: ECONNREFUSED, EPIPE…).
 */
function isCutOffBulkWrite(err: unknown): boolean {
  if (!(err instanceof MongoBulkWriteError) || [err.writeErrors].flat().length > 0) return false;
  const cause: unknown = err.errorResponse;
  return cause instanceof MongoNetworkError || cause instanceof MongoServerSelectionError || typeof err.code === "string";
}
