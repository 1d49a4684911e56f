import type { RollupResultResolvers, UsageRollupResolvers } from "../../__generated__/resolvers-types.js";
import { formatInZone } from "../../zones.js";
import { snakeCaseFields } from "./snake.js";

export const UsageRollup: UsageRollupResolvers = {
  results: (r) => r.rows,
  // RFC 3339 with the zone's offset, as the REST answer gives it (periodStart/periodEnd are the
  // same instants as DateTime, which that scalar always writes in UTC).
  periodStartLocal: (r) => formatInZone(r.periodStart.getTime(), r.timeZone),
  periodEndLocal: (r) => formatInZone(r.periodEnd.getTime(), r.timeZone),
};

export const RollupResult: RollupResultResolvers = snakeCaseFields([
  "sandboxSeconds", "computerSeconds", "storageGbHours", "creditCents",
]) as RollupResultResolvers;
