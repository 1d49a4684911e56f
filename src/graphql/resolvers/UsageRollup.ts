import type { RollupResultResolvers, UsageRollupResolvers } from "../../__generated__/resolvers-types.js";
import { snakeCaseFields } from "./snake.js";

export const UsageRollup: UsageRollupResolvers = {
  results: (r) => r.rows,
};

export const RollupResult: RollupResultResolvers = snakeCaseFields([
  "sandboxSeconds", "computerSeconds", "storageGbHours", "creditCents",
]) as RollupResultResolvers;
