/** A command failure with MongoDB's numeric code and code name, as the driver expects them. */
export class MongoCommandError extends Error {
  constructor(
    readonly code: number,
    readonly codeName: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const ErrorCodes = {
  BadValue: 2,
  HostUnreachable: 6,
  HostNotFound: 7,
  FailedToParse: 9,
  Unauthorized: 13,
  TypeMismatch: 14,
  InvalidLength: 16,
  IllegalOperation: 20,
  LockTimeout: 24,
  NamespaceNotFound: 26,
  IndexNotFound: 27,
  CursorNotFound: 43,
  NamespaceExists: 48,
  MaxTimeMSExpired: 50,
  CommandNotFound: 59,
  ImmutableField: 66,
  ExceededMemoryLimit: 146,
  InvalidOptions: 72,
  InvalidNamespace: 73,
  NetworkTimeout: 89,
  ShutdownInProgress: 91,
  WriteConflict: 112,
  ConflictingOperationInProgress: 117,
  PrimarySteppedDown: 189,
  IncompleteTransactionHistory: 217,
  TransactionTooOld: 225,
  SnapshotTooOld: 239,
  SnapshotUnavailable: 246,
  NoSuchTransaction: 251,
  TransactionCommitted: 256,
  ExceededTimeLimit: 262,
  OperationNotSupportedInTransaction: 263,
  NotWritablePrimary: 10107,
  BSONObjectTooLarge: 10334,
  InterruptedAtShutdown: 11600,
  InterruptedDueToReplStateChange: 11602,
  NotPrimaryNoSecondaryOk: 13435,
  NotPrimaryOrSecondary: 13436,
  IndexOptionsConflict: 85,
  IndexKeySpecsConflict: 86,
  Location40324: 40324,
  DuplicateKey: 11000,
  MergeOnFieldsNotUnique: 51183,
  MergeMissingOnField: 51132,
  MergeWhenMatchedFail: 13113,
  MergeWhenNotMatchedFail: 13114,
} as const;

export type ErrorName = keyof typeof ErrorCodes;

/** The code name of a code in the table (MongoDB's own names), or undefined for one it lacks. */
export function codeNameOf(code: number): string | undefined {
  for (const [name, value] of Object.entries(ErrorCodes)) if (value === code) return name;
  return undefined;
}

/** An error whose code and code name both come from the table. */
export function mongoError(name: ErrorName, message: string, extra: Record<string, unknown> = {}): MongoCommandError {
  return new MongoCommandError(ErrorCodes[name], name, message, extra);
}

export function badValue(message: string): MongoCommandError {
  return new MongoCommandError(ErrorCodes.BadValue, "BadValue", message);
}

export function failedToParse(message: string): MongoCommandError {
  return new MongoCommandError(ErrorCodes.FailedToParse, "FailedToParse", message);
}

/** Turns anything thrown while executing a command into MongoDB's error reply fields. */
export function toErrorReply(err: unknown): { ok: 0; errmsg: string; code: number; codeName: string } & Record<string, unknown> {
  if (err instanceof MongoCommandError) {
    return { ok: 0, errmsg: err.message, code: err.code, codeName: err.codeName, ...err.extra };
  }
  // mingo reports unknown operators and bad expressions as plain Errors: a user error, not a crash.
  const message = err instanceof Error ? err.message : String(err);
  if (/unregistered pipeline operator/i.test(message)) {
    return { ok: 0, errmsg: `Unrecognized pipeline stage name: ${message}`, code: 40324, codeName: "Location40324" };
  }
  if (/(expression|accumulator|window|operator) '?\$\w+'? is not registered|unregistered (expression|accumulator|window) operator/i.test(message)) {
    return { ok: 0, errmsg: `Invalid $-prefixed operator: ${message}`, code: 168, codeName: "InvalidPipelineOperator" };
  }
  return { ok: 0, errmsg: message, code: ErrorCodes.BadValue, codeName: "BadValue" };
}

/** MongoDB's error when an operation runs past its maxTimeMS. */
export function maxTimeExpired(): MongoCommandError {
  return new MongoCommandError(ErrorCodes.MaxTimeMSExpired, "MaxTimeMSExpired", "operation exceeded time limit");
}

/** Fails with MaxTimeMSExpired (50) once `deadline` (a `Date.now()` value) has passed. */
export function checkDeadline(deadline: number | undefined): void {
  if (deadline !== undefined && Date.now() > deadline) throw maxTimeExpired();
}
