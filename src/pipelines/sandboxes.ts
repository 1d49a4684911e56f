/** Sandboxes as the tags API sees them (their records are kept at ingest: store/sandboxes.ts). */
import type { Document } from "mongodb";
import { COLLECTIONS } from "../db/collections.js";

/**
 * `GET /api/tags`: each tag key of the org's sandboxes (of `sandboxIds` only, when given: the
 * sandboxes an X-On-Behalf-Of user ran), with how many sandboxes and values carry it.
 */
export function buildTagKeysPipeline(orgId: string, sandboxIds: string[] | null = null): Document[] {
  return [
    { $match: sandboxIds === null ? { org_id: orgId } : { org_id: orgId, sandbox_id: { $in: sandboxIds } } }, // sandboxes_org_sandbox
    { $unwind: "$tags" },
    // Counted by grouping twice: no set of values is built, however many a key has.
    { $group: { _id: { key: "$tags.key", value: "$tags.value" }, sandboxes: { $sum: 1 } } },
    { $group: { _id: "$_id.key", sandboxCount: { $sum: "$sandboxes" }, valueCount: { $sum: 1 } } },
    { $project: { _id: 0, key: "$_id", sandboxCount: 1, valueCount: 1 } },
    { $sort: { key: 1 } },
  ];
}

/**
 * `GET /api/tags` under X-On-Behalf-Of: the tag keys of the sandboxes the external user ran, in one
 * aggregation from that user's sessions (sessions_org_external_user), each sandbox once, joined to
 * its record by `_id`. Nothing is inlined into the command, however many sandboxes the user ran.
 */
export function buildUserTagKeysPipeline(orgId: string, externalUserId: string): Document[] {
  return [
    { $match: { org_id: orgId, external_user_id: externalUserId } },
    { $group: { _id: "$sandbox_id" } },
    { $project: { key: { $concat: [{ $literal: `${orgId}/` }, "$_id"] } } },
    { $lookup: { from: COLLECTIONS.sandboxes, localField: "key", foreignField: "_id", as: "sandbox" } },
    { $unwind: "$sandbox" },
    { $replaceWith: "$sandbox" },
    ...buildTagKeysPipeline(orgId).slice(1),
  ];
}
