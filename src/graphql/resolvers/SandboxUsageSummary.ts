import type { SandboxUsageSummaryResolvers } from "../../__generated__/resolvers-types.js";
import { snakeCaseFields } from "./snake.js";

export const SandboxUsageSummary: SandboxUsageSummaryResolvers = snakeCaseFields([
  "currentMonthSeconds", "sessionsCount", "totalRuntimeSeconds",
]) as SandboxUsageSummaryResolvers;
