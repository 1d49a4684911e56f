/**
 * Distinct sessions without sets of session ids. For every (level, bucket, session) one small
 * document lists the dimension tuples the session has operations of in that bucket
 * (`usage_session_buckets`). From it, each rollup document keeps two counters:
 *
 *   ns — sessions with an operation of exactly this tuple in the bucket;
 *   nf — sessions counted once in the bucket, at their first tuple (in a fixed order).
 *
 * A session's user, key, provider and kind normally stay fixed; then, for a bucket that is one
 * rollup bucket, the distinct sessions of any group is Σ ns over its documents when the group-by
 * includes `operation`, else Σ nf — exactly, with no document growing with the number of sessions.
 * A session whose identity does change inside a bucket is "mixed": it is credited nowhere, and
 * queries count it from its presence document instead (rare, so cheap). Buckets that are unions of
 * rollup buckets (a local day, a window's ragged edge) count from presence documents directly.
 */
import type { SessionTuple } from "../db/collections.js";
import { badInput } from "../errors.js";
import { identityId, tupleId } from "./levels.js";

/** More distinct tuples than this for one session in one bucket is refused (a document must stay small). */
export const MAX_TUPLES_PER_SESSION_BUCKET = 1_000;

export interface Credit {
  tuple: SessionTuple;
  ns: number;
  nf: number;
}

export const isMixed = (tuples: readonly SessionTuple[]): boolean => new Set(tuples.map(identityId)).size > 1;

/** The counters a session's presence in a bucket adds to the rollup documents of its tuples. */
export function creditsOf(tuples: readonly SessionTuple[]): Credit[] {
  if (tuples.length === 0 || isMixed(tuples)) return [];
  const first = tuples.reduce((a, b) => (tupleId(b) < tupleId(a) ? b : a));
  return tuples.map((tuple) => ({ tuple, ns: 1, nf: tuple === first ? 1 : 0 }));
}

/** What changing a session's tuples in a bucket from `before` to `after` does to the counters. */
export function creditChanges(before: readonly SessionTuple[], after: readonly SessionTuple[]): Credit[] {
  const net = new Map<string, Credit>();
  const add = (credits: Credit[], sign: 1 | -1) => {
    for (const c of credits) {
      const id = tupleId(c.tuple);
      const cur = net.get(id) ?? { tuple: c.tuple, ns: 0, nf: 0 };
      cur.ns += sign * c.ns;
      cur.nf += sign * c.nf;
      net.set(id, cur);
    }
  };
  add(creditsOf(before), -1);
  add(creditsOf(after), 1);
  return [...net.values()].filter((c) => c.ns !== 0 || c.nf !== 0);
}

/** `tuples` with `extra` added (each once), in a stable order; null when nothing is new. */
export function withTuples(tuples: readonly SessionTuple[], extra: Iterable<SessionTuple>, sessionId: string): SessionTuple[] | null {
  const ids = new Set(tuples.map(tupleId));
  const out = [...tuples];
  for (const t of extra) {
    const id = tupleId(t);
    if (ids.has(id)) continue;
    ids.add(id);
    out.push(t);
  }
  if (out.length === tuples.length) return null;
  if (out.length > MAX_TUPLES_PER_SESSION_BUCKET) {
    throw badInput(`session '${sessionId}' has more than ${MAX_TUPLES_PER_SESSION_BUCKET} distinct (user, api key, operation, provider, kind) combinations in one day`, [
      { loc: ["body", "events"], msg: `a session may use at most ${MAX_TUPLES_PER_SESSION_BUCKET} distinct dimension combinations per UTC day`, type: "value_error" },
    ]);
  }
  return out.sort((a, b) => (tupleId(a) < tupleId(b) ? -1 : 1));
}
