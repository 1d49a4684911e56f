/**
 * MIOSA: `GET /api/v1/usage` (spec 002). Reads the query string, calls the rollup service, writes
 * MIOSA's JSON and its `{"error":{"code","message"}}` envelope.
 */
import { formatInZone } from "../zones.js";
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../deps.js";
import { type AppError, badInput } from "../errors.js";
import { ROLLUP_ERROR, type UsageRollupReport, getUsageRollup } from "../services/usageRollup.js";
import { principalOf } from "./auth.js";
import { sendCsv, wantsCsv } from "./csv.js";
import { MIOSA_CSV, usageRollupCsv } from "./csv/miosa.js";
import { vendorErrorHandler } from "./errors.js";
import type { RawQuery } from "./query-params.js";

const CODE_BY_STATUS: Record<number, string> = {
  400: "bad_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  405: "method_not_allowed",
  408: "request_timeout",
  413: "payload_too_large",
  414: "uri_too_long",
  415: "unsupported_media_type",
  429: "rate_limited",
  431: "request_header_fields_too_large",
  500: "internal_error",
  503: "service_unavailable",
  504: "timeout",
};

/**
 * For 422 the code is MIOSA's own (`invalid group_by`, …), carried as the first issue's type; a bad
 * header is `invalid <Header-Name>` in the same style (MIOSA documents no code of its own for one).
 */
export function miosaErrorBody(err: AppError | null, status: number) {
  const first = status === 422 ? err?.issues[0] : undefined;
  const code = first ? (first.loc[0] === "header" && first.loc.length === 2 ? `invalid ${first.loc[1]}` : first.type) : (CODE_BY_STATUS[status] ?? "error");
  return { error: { code, message: err?.message ?? "Internal server error" } };
}

const PARAM_CODE = {
  group_by: ROLLUP_ERROR.groupBy,
  period: ROLLUP_ERROR.period,
  start: ROLLUP_ERROR.customRange,
  end: ROLLUP_ERROR.customRange,
  time_zone: ROLLUP_ERROR.timeZone,
} as const;

export function toMiosaJson(r: UsageRollupReport) {
  return {
    // With the zone's offset at each instant ("2026-03-08T00:00:00-05:00"); "Z" in UTC.
    period_start: formatInZone(r.periodStart.getTime(), r.timeZone),
    period_end: formatInZone(r.periodEnd.getTime(), r.timeZone),
    results: r.rows.map(({ key, ...numbers }) => ({ [r.groupBy]: key, ...numbers })),
  };
}

export async function miosaRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  app.setErrorHandler(vendorErrorHandler(miosaErrorBody, { authScheme: "Bearer" }));

  app.get("/api/v1/usage", async (request, reply) => {
    const principal = await principalOf(deps, request);
    const query = request.query as RawQuery;
    const params: Record<string, string | undefined> = {};
    for (const name of Object.keys(PARAM_CODE) as Array<keyof typeof PARAM_CODE>) {
      const v = query[name];
      if (Array.isArray(v)) throw badInput(`${name} may be given once`, [{ loc: ["query", name], msg: `${name} may be given once`, type: PARAM_CODE[name] }]);
      params[name] = v;
    }
    if (wantsCsv(request, reply, MIOSA_CSV)) return sendCsv(reply, await usageRollupCsv(deps, principal, params), deps.config.CSV_MAX_ROWS);
    return toMiosaJson(await getUsageRollup(deps, principal, params, { loc: ["query"] }));
  });
}
