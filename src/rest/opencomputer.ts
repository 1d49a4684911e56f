/**
 * OpenComputer (spec 004 and its companions, DESIGN §1): per-sandbox memory usage, the usage
 * aggregator and sandbox tags, authenticated by `X-API-Key`, errors as `{"error": "…"}` (400 for
 * bad input, 404 for an unknown or foreign sandbox).
 */
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../deps.js";
import { type AppError, badInput } from "../errors.js";
import type { Quantities, TagFilter } from "../pipelines/usageAggregate.js";
import { getSandboxMemoryUsage, type SandboxMemoryUsage } from "../services/memoryUsage.js";
import { getSandboxTags, listTagKeys, type SandboxTags, setSandboxTags, tagObject, tagsOf } from "../services/sandboxes.js";
import { getUsageAggregate, type SandboxUsageItem, type TagUsageItem, type UsageAggregateReport } from "../services/usageAggregate.js";
import { isoUtc } from "../time.js";
import { principalOf } from "./auth.js";
import { sendCsv, wantsCsv } from "./csv.js";
import { memoryUsageCsv, OPENCOMPUTER_CSV, usageAggregateCsv } from "./csv/opencomputer.js";
import { vendorErrorHandler } from "./errors.js";
import { keyPreservingJson } from "./json-body.js";
import type { RawQuery } from "./query-params.js";

/** A tag set is at most 50 × (128 + 256) characters; anything much larger is refused unread. */
const TAGS_BODY_LIMIT = 64 * 1024;

export const openComputerErrorBody = (err: AppError | null) => ({ error: err?.message ?? "Internal server error" });

/** A scalar query parameter, given at most once. */
function single(query: RawQuery, name: string): string | undefined {
  const v = query[name];
  if (Array.isArray(v)) throw badInput(`${name} may be given only once`, [{ loc: ["query", name], msg: "given more than once", type: "value_error" }], 400);
  return v;
}

function integer(query: RawQuery, name: string): number | undefined {
  const raw = single(query, name);
  if (raw === undefined) return undefined;
  if (!/^\d{1,9}$/.test(raw.trim())) throw badInput(`${name} must be an integer`, [{ loc: ["query", name], msg: "must be an integer", type: "int_parsing" }], 400);
  return Number(raw.trim());
}

const FILTER_PARAM = /^filter\[tag:(.*)\]$/s;

/**
 * `filter[tag:<key>]=v1,v2` parameters. A repeated one is kept twice so validation reports it;
 * an empty value (or an empty item) means "sandboxes without the key".
 */
function tagFilters(query: RawQuery): TagFilter[] {
  const filters: TagFilter[] = [];
  for (const [name, raw] of Object.entries(query)) {
    if (!name.startsWith("filter[")) continue;
    const m = FILTER_PARAM.exec(name);
    if (!m) throw badInput(`unknown filter '${name}': filters are filter[tag:<key>]=v1,v2`, [{ loc: ["query", name], msg: "unknown filter", type: "value_error" }], 400);
    for (const value of [raw ?? ""].flat()) filters.push({ key: m[1]!, values: value.split(",") });
  }
  return filters;
}

function memoryJson(u: SandboxMemoryUsage) {
  return {
    sandboxId: u.sandboxId,
    ...(u.alias !== null && { alias: u.alias }),
    from: isoUtc(u.from),
    to: isoUtc(u.to),
    totals: {
      memoryAllocatedGbSeconds: u.totals.memoryAllocatedGbSeconds,
      memoryUsedGbSeconds: u.totals.memoryUsedGbSeconds,
      uptimeSeconds: u.totals.uptimeSeconds,
      memoryAllocatedPeakMb: u.totals.memoryAllocatedPeakMb,
      memoryUsedPeakMb: u.totals.memoryUsedPeakMb,
    },
    points: u.points.map(({ ts, ...measures }) => ({ ts: isoUtc(ts), ...measures })),
  };
}

const tagsJson = (t: SandboxTags) => ({ tags: tagObject(t.tags), tagsLastUpdatedAt: t.tagsLastUpdatedAt && isoUtc(t.tagsLastUpdatedAt) });

const quantities = (q: Quantities) => ({ memoryGbSeconds: q.memoryGbSeconds, diskOverageGbSeconds: q.diskOverageGbSeconds });

/** Field by field, so the JSON is exactly the SDK's types: `alias` is left out when unset, never null. */
function itemJson(item: SandboxUsageItem | TagUsageItem) {
  if ("sandboxId" in item) {
    return {
      sandboxId: item.sandboxId,
      ...(item.alias !== null && { alias: item.alias }),
      status: item.status,
      tags: tagObject(item.tags),
      tagsLastUpdatedAt: item.tagsLastUpdatedAt && isoUtc(item.tagsLastUpdatedAt),
      ...quantities(item),
    };
  }
  return { tagKey: item.tagKey, tagValue: item.tagValue, ...quantities(item), sandboxCount: item.sandboxCount };
}

function aggregateJson(r: UsageAggregateReport) {
  return {
    from: isoUtc(r.from),
    to: isoUtc(r.to),
    groupBy: r.groupBy,
    total: quantities(r.total),
    items: r.items.map(itemJson),
    ...(r.untagged && { untagged: { ...quantities(r.untagged), sandboxCount: r.untagged.sandboxCount } }),
    nextCursor: r.nextCursor,
  };
}

export async function openComputerRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  app.setErrorHandler(vendorErrorHandler(openComputerErrorBody, { badInputStatus: 400 }));
  keyPreservingJson(app);
  const principal = (request: Parameters<typeof principalOf>[1]) => principalOf(deps, request);

  app.get<{ Params: { id: string } }>("/api/sandboxes/:id/usage", async (request, reply) => {
    const p = await principal(request);
    const query = request.query as RawQuery;
    const window = { from: single(query, "from"), to: single(query, "to") };
    if (wantsCsv(request, reply, OPENCOMPUTER_CSV)) return sendCsv(reply, await memoryUsageCsv(deps, p, request.params.id, window), deps.config.CSV_MAX_ROWS);
    return memoryJson(await getSandboxMemoryUsage(deps, p, request.params.id, window, ["query"]));
  });

  app.get<{ Params: { id: string } }>("/api/sandboxes/:id/tags", async (request) => tagsJson(await getSandboxTags(deps, await principal(request), request.params.id)));

  app.put<{ Params: { id: string } }>("/api/sandboxes/:id/tags", { bodyLimit: TAGS_BODY_LIMIT }, async (request) => {
    const p = await principal(request);
    if (request.body === undefined) throw badInput("the body must be a JSON object of tags ({} clears them)", [{ loc: ["body"], msg: "Field required", type: "missing" }], 400);
    return tagsJson(tagsOf(await setSandboxTags(deps, p, request.params.id, request.body, ["body"])));
  });

  app.get("/api/tags", async (request) => ({ keys: await listTagKeys(deps, await principal(request)) }));

  app.get("/api/usage", async (request, reply) => {
    const p = await principal(request);
    const query = request.query as RawQuery;
    const params = {
      groupBy: single(query, "groupBy"),
      from: single(query, "from"),
      to: single(query, "to"),
      filters: tagFilters(query),
      sort: single(query, "sort"),
      limit: integer(query, "limit"),
      cursor: single(query, "cursor"),
    };
    if (wantsCsv(request, reply, OPENCOMPUTER_CSV)) return sendCsv(reply, await usageAggregateCsv(deps, p, params), deps.config.CSV_MAX_ROWS);
    return aggregateJson(await getUsageAggregate(deps, p, params, ["query"]));
  });
}
