import type { OrganizationResolvers, UserResolvers } from "../../__generated__/resolvers-types.js";
import { listBudgets } from "../../budgets/service.js";
import { referenceId } from "./reference.js";

/**
 * Identity entities: this subgraph knows them by id only (a reference needs no database), and
 * answers their usage fields in batches through the request's loaders.
 */
export const Organization: OrganizationResolvers = {
  __resolveReference: (ref) => ({ id: referenceId(ref) }),
  usageRollup: (org, args, ctx) =>
    ctx.loaders
      .orgRollup({ group_by: args.groupBy ?? undefined, period: args.period ?? undefined, start: args.start ?? undefined, end: args.end ?? undefined, time_zone: args.timeZone })
      .load(org.id),
  budgets: async (org, _args, ctx) => listBudgets(ctx.deps, await ctx.principal(), org.id, ["id"]),
};

export const User: UserResolvers = {
  __resolveReference: (ref) => ({ id: referenceId(ref) }),
  runtimeSummary: (user, _args, ctx) => ctx.loaders.runtimeSummary().load(user.id),
};
