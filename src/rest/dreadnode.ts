/**
 * Dreadnode: `GET /api/v1/org/{org}/sandboxes/usage` (spec 003): the caller's runtime summary,
 * with Dreadnode's canonical `{code, detail, errors, type}` error envelope.
 */
import type { RawQuery } from "./query-params.js";
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../deps.js";
import type { AppError } from "../errors.js";
import { getRuntimeSummary } from "../services/runtimeSummary.js";
import { principalOf } from "./auth.js";
import { sendCsv, wantsCsv } from "./csv.js";
import { DREADNODE_CSV, runtimeSummaryCsv } from "./csv/dreadnode.js";
import { vendorErrorHandler } from "./errors.js";

/** Dreadnode's stable machine-readable `type` for each status it documents. */
const TYPE_BY_STATUS: Record<number, string> = {
  400: "invalid_request",
  401: "authentication_failed",
  403: "access_forbidden",
  404: "not_found",
  405: "method_not_allowed",
  408: "request_timeout",
  409: "already_exists",
  413: "payload_too_large",
  414: "uri_too_long",
  415: "unsupported_media_type",
  422: "validation_error",
  429: "rate_limited",
  431: "request_header_fields_too_large",
  500: "internal_server_error",
  503: "service_unavailable",
  504: "gateway_timeout",
};

export function dreadnodeErrorBody(err: AppError | null, status: number) {
  return {
    code: status,
    detail: err?.message ?? "Internal server error",
    errors: err && err.issues.length > 0 ? err.issues : null,
    type: TYPE_BY_STATUS[status] ?? "error",
  };
}

export async function dreadnodeRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  app.setErrorHandler(vendorErrorHandler(dreadnodeErrorBody, { authScheme: "Bearer" }));

  app.get<{ Params: { org: string } }>("/api/v1/org/:org/sandboxes/usage", async (request, reply) => {
    const principal = await principalOf(deps, request);
    const zone = (request.query as RawQuery).time_zone;
    const timeZone = { timeZone: Array.isArray(zone) ? "" : (zone ?? null), loc: ["query"] };
    if (wantsCsv(request, reply, DREADNODE_CSV)) return sendCsv(reply, await runtimeSummaryCsv(deps, principal, request.params.org, timeZone), deps.config.CSV_MAX_ROWS);
    return getRuntimeSummary(deps, principal, request.params.org, timeZone);
  });
}
