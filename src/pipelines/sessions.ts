/**
 * Sessions are derived from their lifecycle events by recomputing them from what is stored, so
 * late, out-of-order, re-sent and concurrently ingested events all converge on the same session:
 * `started_at` is the earliest session_start, `ended_at` the earliest stop/terminate. Both merges
 * are monotone (they only ever move a time earlier), so concurrent batches cannot undo each other.
 */
import type { Document } from "mongodb";
import { COLLECTIONS, SESSION_END_OPERATIONS } from "../db/collections.js";

/** Attributes a session takes from its (earliest) session_start event. */
export const SESSION_START_ATTRIBUTES = [
  "sandbox_id", "user_id", "api_key_id", "provider", "session_kind", "resource", "vcpus", "memory_mb",
  "disk_mb", "storage_gb", "external_user_id", "external_project_id", "workspace_id", "alias", "tags",
] as const;

const LATEST_DATE = new Date(8.64e15);
const MERGE_ON = ["org_id", "session_id"];

/** Served by index usage_events_org_session ({org_id, session_id}). */
export function buildSessionStartsPipeline(orgId: string, sessionIds: string[]): Document[] {
  const firstOf = Object.fromEntries(SESSION_START_ATTRIBUTES.map((f) => [f, { $first: `$${f}` }]));
  const keep = Object.fromEntries(SESSION_START_ATTRIBUTES.map((f) => [f, 1]));
  return [
    { $match: { org_id: orgId, session_id: { $in: sessionIds }, operation: "session_start" } },
    { $sort: { ts: 1, event_id: 1 } },
    { $group: { _id: "$session_id", started_at: { $first: "$ts" }, ...firstOf } },
    { $project: { _id: 0, org_id: { $literal: orgId }, session_id: "$_id", started_at: 1, ...keep } },
    {
      $merge: {
        into: COLLECTIONS.sessions,
        on: MERGE_ON,
        // Take the new start (and its attributes) only when it is not later than the one stored.
        whenMatched: [
          {
            $replaceWith: {
              $cond: [
                { $lte: ["$$new.started_at", { $ifNull: ["$started_at", LATEST_DATE] }] },
                { $mergeObjects: ["$$ROOT", "$$new"] },
                "$$ROOT",
              ],
            },
          },
        ],
        whenNotMatched: "insert",
      },
    },
  ];
}

/** Served by index usage_events_org_session ({org_id, session_id}). */
export function buildSessionEndsPipeline(orgId: string, sessionIds: string[]): Document[] {
  return [
    { $match: { org_id: orgId, session_id: { $in: sessionIds }, operation: { $in: [...SESSION_END_OPERATIONS] } } },
    { $group: { _id: "$session_id", ended_at: { $min: "$ts" } } },
    { $project: { _id: 0, org_id: { $literal: orgId }, session_id: "$_id", ended_at: 1 } },
    {
      $merge: {
        into: COLLECTIONS.sessions,
        on: MERGE_ON,
        whenMatched: [{ $set: { ended_at: { $min: ["$ended_at", "$$new.ended_at"] } } }],
        whenNotMatched: "insert",
      },
    },
  ];
}
