import type { SandboxResolvers, UsageAggregateResolvers, UsageItemResolvers } from "../../__generated__/resolvers-types.js";
import { tagsOf } from "../../services/sandboxes.js";
import { referenceId } from "./reference.js";

/**
 * A sandbox of the caller's org (its stored document). References and usage fields go through
 * the request's loaders, so N sandboxes cost one command per field.
 */
export const Sandbox: SandboxResolvers = {
  __resolveReference: (ref, ctx) => ctx.loaders.sandbox().load(referenceId(ref)),
  id: (s) => s.sandbox_id,
  alias: (s) => s.alias ?? null,
  tags: (s) => tagsOf(s).tags,
  tagsLastUpdatedAt: (s) => tagsOf(s).tagsLastUpdatedAt,
  memoryUsage: (s, args, ctx) => ctx.loaders.memoryUsage({ from: args.from, to: args.to }).load(s),
  usage: (s, args, ctx) => ctx.loaders.sandboxUsage({ from: args.from, to: args.to }).load(s),
};

export const UsageAggregate: UsageAggregateResolvers = {
  untagged: (r) => r.untagged ?? null,
};

export const UsageItem: UsageItemResolvers = {
  __resolveType: (item) => ("sandboxId" in item ? "SandboxUsageItem" : "TagUsageItem"),
};
