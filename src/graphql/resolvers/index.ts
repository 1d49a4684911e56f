import { DateTimeResolver, SafeIntResolver } from "graphql-scalars";
import { Int64Scalar } from "../../int64.js";
import type { Resolvers } from "../../__generated__/resolvers-types.js";
import { Budget, BudgetPeriodValue, BudgetScope } from "./Budget.js";
import { Mutation } from "./Mutation.js";
import { Query } from "./Query.js";
import { SandboxUsageResult, UsageBucket, UsageBucketPage } from "./SandboxUsage.js";
import { Organization, User } from "./identity.js";
import { PriceTable } from "./PriceTable.js";
import { SandboxUsageSummary } from "./SandboxUsageSummary.js";
import { RollupResult, UsageRollup } from "./UsageRollup.js";
import { Viewer } from "./Viewer.js";
import { Sandbox, UsageAggregate, UsageItem } from "./Sandbox.js";

export const resolvers: Resolvers = {
  DateTime: DateTimeResolver,
  SafeInt: SafeIntResolver,
  Int64: Int64Scalar,
  Query,
  Mutation,
  Viewer,
  Organization,
  User,
  UsageBucketPage,
  UsageBucket,
  SandboxUsageResult,
  UsageRollup,
  RollupResult,
  SandboxUsageSummary,
  PriceTable,
  Sandbox,
  UsageAggregate,
  UsageItem,
  Budget,
  BudgetScope,
  BudgetPeriodValue,
};
