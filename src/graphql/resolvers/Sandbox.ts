import type { SandboxResolvers, UsageAggregateResolvers, UsageItemResolvers } from "../../__generated__/resolvers-types.js";
import { memoryUsageOf } from "../../services/memoryUsage.js";
import { findSandbox, tagsOf } from "../../services/sandboxes.js";

/** A sandbox of the caller's org (its stored document); its memory series is the REST endpoint's. */
export const Sandbox: SandboxResolvers = {
  __resolveReference: async (ref, ctx) => findSandbox(ctx.deps.cols, await ctx.principal(), ref.id),
  id: (s) => s.sandbox_id,
  alias: (s) => s.alias ?? null,
  tags: (s) => tagsOf(s).tags,
  tagsLastUpdatedAt: (s) => tagsOf(s).tagsLastUpdatedAt,
  memoryUsage: async (s, args, ctx) => memoryUsageOf(ctx.deps, await ctx.principal(), s, args),
};

export const UsageAggregate: UsageAggregateResolvers = {
  untagged: (r) => r.untagged ?? null,
};

export const UsageItem: UsageItemResolvers = {
  __resolveType: (item) => ("sandboxId" in item ? "SandboxUsageItem" : "TagUsageItem"),
};
