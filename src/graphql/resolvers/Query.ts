import type { QueryResolvers } from "../../__generated__/resolvers-types.js";
import { getSandboxUsage } from "../../services/sandboxUsage.js";

export const Query: QueryResolvers = {
  viewer: (_parent, _args, ctx) => ctx.principal(),

  sandboxUsage: async (_parent, args, ctx) =>
    getSandboxUsage(ctx.deps, await ctx.principal(), {
      start_time: args.startTime,
      end_time: args.endTime,
      bucket_width: args.bucketWidth ?? undefined,
      group_by: args.groupBy ?? undefined,
      all_orgs: args.allOrgs ?? false,
      org_ids: args.orgIds,
      limit: args.limit,
      page: args.page,
    }),
};
