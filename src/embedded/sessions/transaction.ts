/** One multi-document transaction of a logical session, and the session's own state. */
import { TxnStore } from "./snapshot.js";

export type TxnState = "open" | "committed" | "aborted";

export class Transaction {
  state: TxnState = "open";
  /** Why it was aborted (for NoSuchTransaction's message): an error, an abort, the lifetime limit. */
  abortReason = "";
  /** Lock-table keys this transaction holds (the `_id`s and unique keys it wrote). */
  readonly locks: string[] = [];
  /** Resolves when the transaction commits or aborts: what a blocked write waits for. */
  readonly ended: Promise<void>;
  readonly startedAt = Date.now();
  private resolveEnded!: () => void;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly session: SessionState,
    readonly txnNumber: bigint,
    readonly view: TxnStore,
  ) {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  /** Runs `onExpiry` once `ms` have passed with the transaction still open. */
  expireAfter(ms: number, onExpiry: () => void): void {
    this.timer = setTimeout(onExpiry, ms);
    this.timer.unref();
  }

  /** Moves to a final state; returns false when it already was in one. */
  finish(state: "committed" | "aborted", reason = ""): boolean {
    if (this.state !== "open") return false;
    this.state = state;
    this.abortReason = reason;
    if (this.timer) clearTimeout(this.timer);
    this.resolveEnded();
    return true;
  }
}

export interface SessionState {
  /** The session id's key string. */
  readonly key: string;
  /** The highest txnNumber seen (-1 before any). */
  txnNumber: bigint;
  /** The transaction of `txnNumber`, if that number started one. */
  txn: Transaction | null;
  /** The reply of the retryable write numbered `txnNumber`, returned again on a retry. */
  retried: { txnNumber: bigint; reply: Record<string, unknown> } | null;
  /** The retryable write numbered `txnNumber` while it waits for a transaction to end. */
  inFlight: { txnNumber: bigint; reply: Promise<Record<string, unknown>> } | null;
  lastUse: number;
}
