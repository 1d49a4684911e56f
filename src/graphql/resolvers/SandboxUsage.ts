import type { SandboxUsageResultResolvers, UsageBucketPageResolvers, UsageBucketResolvers } from "../../__generated__/resolvers-types.js";
import { snakeCaseFields } from "./snake.js";

/** The service answers in MKA1's JSON; these map its snake_case fields to the GraphQL names. */
export const UsageBucketPage: UsageBucketPageResolvers = snakeCaseFields(["hasMore", "nextPage"]) as UsageBucketPageResolvers;

export const UsageBucket: UsageBucketResolvers = snakeCaseFields(["startTime", "endTime"]) as UsageBucketResolvers;

export const SandboxUsageResult: SandboxUsageResultResolvers = snakeCaseFields([
  "numOperations", "numSessions", "requestCount", "durationMs", "workspaceBytesIn", "workspaceBytesOut",
  "filesChangedCount", "oomKilledCount", "peakMemoryMib", "reservedMemoryMib", "userId", "apiKeyId",
  "orgId", "provider", "sessionKind",
]) as SandboxUsageResultResolvers;
