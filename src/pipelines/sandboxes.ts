/**
 * Sandboxes as the tags API and OpenComputer see them, derived from their sessions the way sessions
 * are derived from events: recomputed from what is stored, merged monotonically, so late and
 * out-of-order session_starts converge. The alias is the earliest session's that carried one. The
 * tags are those of the latest session_start that carried any, unless the tags API replaced them
 * since: a PUT supersedes every tagged start seen so far, and only a tagged start later than both
 * the latest one seen and the PUT takes over again.
 */
import type { Document } from "mongodb";
import { COLLECTIONS, INDEXES } from "../db/collections.js";

/**
 * Refreshes the alias and event tags of `sandboxIds` from their sessions into `sandboxes`.
 * Served by sessions_org_sandbox_started_at ({org_id, sandbox_id, started_at}).
 */
export function buildSandboxAttributesPipeline(orgId: string, sandboxIds: string[]): Document[] {
  const nonNull = (input: string) => ({ $filter: { input, cond: { $ne: ["$$this", null] } } });
  return [
    { $match: { org_id: orgId, sandbox_id: { $in: sandboxIds }, started_at: { $exists: true } } },
    { $sort: { started_at: 1, session_id: 1 } },
    {
      $group: {
        _id: "$sandbox_id",
        aliases: { $push: { $ifNull: ["$alias", null] } },
        tagged: { $push: { $cond: [{ $isArray: "$tags" }, { tags: "$tags", at: "$started_at" }, null] } },
      },
    },
    {
      $project: {
        _id: { $concat: [orgId, "/", "$_id"] },
        org_id: { $literal: orgId },
        sandbox_id: "$_id",
        alias: { $ifNull: [{ $arrayElemAt: [nonNull("$aliases"), 0] }, null] },
        latest: { $ifNull: [{ $arrayElemAt: [nonNull("$tagged"), -1] }, { tags: [], at: null }] },
      },
    },
    { $project: { org_id: 1, sandbox_id: 1, alias: 1, tags: "$latest.tags", tags_updated_at: "$latest.at", tags_event_at: "$latest.at" } },
    {
      $merge: {
        into: COLLECTIONS.sandboxes,
        whenMatched: [
          {
            $set: {
              alias: { $ifNull: ["$$new.alias", { $ifNull: ["$alias", null] }] },
              take: {
                $and: [
                  { $gt: ["$$new.tags_event_at", { $ifNull: ["$tags_event_at", null] }] },
                  { $gt: ["$$new.tags_event_at", { $ifNull: ["$tags_updated_at", null] }] },
                ],
              },
            },
          },
          {
            $set: {
              tags: { $cond: ["$take", "$$new.tags", "$tags"] },
              tags_updated_at: { $cond: ["$take", "$$new.tags_updated_at", "$tags_updated_at"] },
              tags_event_at: { $max: ["$$new.tags_event_at", { $ifNull: ["$tags_event_at", null] }] },
            },
          },
          { $unset: "take" },
        ],
        whenNotMatched: "insert",
      },
    },
  ];
}

export const SANDBOX_ATTRIBUTES_INDEX = INDEXES.sessionsByOrgSandboxStart;

/**
 * `GET /api/tags`: each tag key of the org's sandboxes (of `sandboxIds` only, when given: the
 * sandboxes an X-On-Behalf-Of user ran), with how many sandboxes and values carry it.
 */
export function buildTagKeysPipeline(orgId: string, sandboxIds: string[] | null = null): Document[] {
  return [
    { $match: sandboxIds === null ? { org_id: orgId } : { org_id: orgId, sandbox_id: { $in: sandboxIds } } }, // sandboxes_org_sandbox
    { $unwind: "$tags" },
    { $group: { _id: "$tags.key", sandboxCount: { $sum: 1 }, values: { $addToSet: "$tags.value" } } },
    { $project: { _id: 0, key: "$_id", sandboxCount: 1, valueCount: { $size: "$values" } } },
    { $sort: { key: 1 } },
  ];
}
