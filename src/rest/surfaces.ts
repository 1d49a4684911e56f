/**
 * Which surface a URL belongs to, for errors raised before any route runs (a malformed URL, a
 * path segment over the length limit): they are answered in that surface's envelope too.
 */
import { AppError } from "../errors.js";
import { graphqlErrorBody } from "../graphql/errors.js";
import { dreadnodeErrorBody } from "./dreadnode.js";
import { fastApiErrorBody } from "./fastapi-envelope.js";
import { miosaErrorBody } from "./miosa.js";
import { openComputerErrorBody } from "./opencomputer.js";

export function errorBodyFor(url: string, err: AppError): unknown {
  const path = url.split("?")[0] ?? "";
  if (path.startsWith("/graphql")) return graphqlErrorBody(err, err.message);
  // Budgets answer in MIOSA's envelope although their path shares /api/v1/orgs/ with prices.
  if (path === "/api/v1/usage" || /^\/api\/v1\/orgs\/[^/]*\/budgets(\/|$)/.test(path)) return miosaErrorBody(err, err.status);
  if (path.startsWith("/api/v1/org/")) return dreadnodeErrorBody(err, err.status);
  if (path.startsWith("/api/sandboxes/") || path === "/api/usage" || path === "/api/tags") {
    return openComputerErrorBody(err);
  }
  return fastApiErrorBody(err);
}

/** Fastify's router-level failures as AppErrors (400; 414 for an over-long path segment). */
export function frameworkError(err: { code?: string }): AppError {
  return err.code === "FST_ERR_MAX_PARAM_LENGTH"
    ? new AppError("BAD_USER_INPUT", "A path segment is too long", [], 414)
    : new AppError("BAD_USER_INPUT", "The URL is not valid", [], 400);
}
