import type { PriceTableResolvers } from "../../__generated__/resolvers-types.js";
import { snakeCaseFields } from "./snake.js";

export const PriceTable: PriceTableResolvers = snakeCaseFields([
  "sandboxVcpuHourCents", "computerVcpuHourCents", "storageGbHourCents",
]) as PriceTableResolvers;
