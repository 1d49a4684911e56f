import type { MutationResolvers, UsageEventInput } from "../../__generated__/resolvers-types.js";
import { badInput } from "../../errors.js";
import { recordUsageEvents } from "../../ingest/service.js";
import { createBudget, deleteBudget } from "../../budgets/service.js";
import { voidUsageEvents } from "../../ingest/voids.js";
import { setPrices } from "../../services/prices.js";
import { setSandboxTags } from "../../services/sandboxes.js";
import { toBudgetJson } from "./Budget.js";

const EVENT_TYPE = { SANDBOX_OPERATION: "sandbox.operation", SANDBOX_MEMORY: "sandbox.memory" } as const;

const snake = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The GraphQL input as the ingest JSON (DESIGN §2), so both surfaces share one validation. */
function toIngestJson(events: UsageEventInput[]): unknown[] {
  return events.map((e, i) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(e)) {
      if (v === undefined || (v === null && k !== "apiKeyId" && k !== "peakMemoryMib" && k !== "reservedMemoryMib")) continue;
      if (k === "type") out.type = EVENT_TYPE[v as keyof typeof EVENT_TYPE];
      else if (k === "tags") {
        // Null-prototype: a key named like an Object member ("constructor", "__proto__") is data.
        const tags: Record<string, string> = Object.create(null);
        for (const t of v as Array<{ key: string; value: string }>) {
          if (Object.hasOwn(tags, t.key)) throw badInput("duplicate tag key", [{ loc: ["events", i, "tags", t.key], msg: "tag keys must be unique", type: "value_error" }]);
          tags[t.key] = t.value;
        }
        out.tags = tags;
      } else out[snake(k)] = v;
    }
    return out;
  });
}

export const Mutation: MutationResolvers = {
  recordUsageEvents: async (_parent, { events }, ctx) => {
    const principal = await ctx.principal();
    const result = await recordUsageEvents(ctx.deps, principal, toIngestJson(events), ["events"]);
    ctx.deps.metrics.countIngested(result);
    return result;
  },

  voidUsageEvents: async (_parent, { ids, reason, orgId }, ctx) => {
    const principal = await ctx.principal();
    const body: Record<string, unknown> = { ids, reason: reason ?? null };
    if (orgId !== undefined && orgId !== null) body.org_id = orgId;
    const r = await voidUsageEvents(ctx.deps, principal, body, []);
    return { voided: r.voided, alreadyVoided: r.already_voided, unknown: r.unknown };
  },

  setPrices: async (_parent, { org, prices }, ctx) =>
    setPrices(
      ctx.deps,
      await ctx.principal(),
      org,
      {
        sandbox_vcpu_hour_cents: prices.sandboxVcpuHourCents,
        computer_vcpu_hour_cents: prices.computerVcpuHourCents,
        storage_gb_hour_cents: prices.storageGbHourCents,
      },
      { org: ["org"], body: ["prices"] },
    ),

  setSandboxTags: async (_parent, { id, tags }, ctx) => {
    const principal = await ctx.principal();
    // No prototype: a tag may be called "__proto__".
    const set: Record<string, string> = Object.create(null);
    tags.forEach((t, i) => {
      if (Object.hasOwn(set, t.key)) throw badInput("duplicate tag key", [{ loc: ["tags", i, "key"], msg: `tag key '${t.key}' is given more than once`, type: "value_error" }]);
      set[t.key] = t.value;
    });
    return setSandboxTags(ctx.deps, principal, id, set, ["tags"]);
  },

  createBudget: async (_parent, { org, input }, ctx) =>
    createBudget(ctx.deps, await ctx.principal(), org, toBudgetJson(input), { org: ["org"], body: ["input"] }),

  deleteBudget: async (_parent, { org, id }, ctx) => {
    await deleteBudget(ctx.deps, await ctx.principal(), org, id, ["org"]);
    return true;
  },
};
