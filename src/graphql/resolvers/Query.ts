import type { QueryResolvers } from "../../__generated__/resolvers-types.js";
import { getPrices } from "../../services/prices.js";
import { getRuntimeSummary } from "../../services/runtimeSummary.js";
import { getSandboxUsage } from "../../services/sandboxUsage.js";
import { getUsageRollup } from "../../services/usageRollup.js";
import { findSandbox, listTagKeys } from "../../services/sandboxes.js";
import { getUsageAggregate } from "../../services/usageAggregate.js";
import { requireScope } from "../../auth/principal.js";

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
      time_zone: args.timeZone,
    }),

  usageRollup: async (_parent, args, ctx) =>
    getUsageRollup(ctx.deps, await ctx.principal(), {
      group_by: args.groupBy ?? undefined,
      period: args.period ?? undefined,
      start: args.start ?? undefined,
      end: args.end ?? undefined,
      time_zone: args.timeZone,
    }),

  sandboxUsageSummary: async (_parent, args, ctx) => getRuntimeSummary(ctx.deps, await ctx.principal(), args.org, { timeZone: args.timeZone }),

  prices: async (_parent, args, ctx) => getPrices(ctx.deps, await ctx.principal(), args.org, ["org"]),

  sandbox: async (_parent, args, ctx) => {
    const principal = await ctx.principal();
    requireScope(principal, "read");
    return findSandbox(ctx.deps.cols, principal, args.id);
  },

  usage: async (_parent, args, ctx) =>
    getUsageAggregate(ctx.deps, await ctx.principal(), {
      groupBy: args.groupBy,
      from: args.from,
      to: args.to,
      filters: args.filter,
      sort: args.sort,
      limit: args.limit,
      cursor: args.cursor,
    }),

  tagKeys: async (_parent, _args, ctx) => listTagKeys(ctx.deps, await ctx.principal()),
};
