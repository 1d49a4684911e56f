/**
 * Which surface a URL belongs to, for errors raised before any route runs (no such path, a known
 * path with another method, a malformed URL, a path segment or header block over the limit): they
 * are answered in that surface's envelope too (DESIGN §5), never in Fastify's own body.
 */
import type { FastifyInstance } from "fastify";
import { AppError } from "../errors.js";
import { graphqlErrorBody } from "../graphql/errors.js";
import { dreadnodeErrorBody } from "./dreadnode.js";
import { fastApiErrorBody } from "./fastapi-envelope.js";
import { miosaErrorBody } from "./miosa.js";
import { openComputerErrorBody } from "./opencomputer.js";

export type Surface = "graphql" | "miosa" | "dreadnode" | "opencomputer" | "fastapi";

/**
 * The surface whose paths `path` lies under: MIOSA owns `/api/v1/usage…` (but not the ingest
 * endpoints below `/api/v1/usage/events`) and the budgets, which share `/api/v1/orgs/` with prices;
 * Dreadnode owns `/api/v1/org/…`; OpenComputer every other `/api/…` outside `/api/v1/`; the rest
 * (MKA1, ingest, keys, prices, anything else) answers as FastAPI does.
 */
export function surfaceOf(url: string): Surface {
  const path = url.split("?")[0] ?? "";
  if (path.startsWith("/graphql")) return "graphql";
  if (/^\/api\/v1\/orgs\/[^/]*\/budgets(\/|$)/.test(path)) return "miosa";
  if (/^\/api\/v1\/usage(\/|$)/.test(path) && !/^\/api\/v1\/usage\/events(\/|$)/.test(path)) return "miosa";
  if (/^\/api\/v1\/org(\/|$)/.test(path)) return "dreadnode";
  if (path.startsWith("/api/") && !/^\/api\/v1(\/|$)/.test(path)) return "opencomputer";
  return "fastapi";
}

export function errorBodyFor(url: string, err: AppError): unknown {
  switch (surfaceOf(url)) {
    case "graphql":
      // HTTP-level refusals (bad URL, method, size) carry Apollo's BAD_REQUEST; 404 its own code.
      return graphqlErrorBody(err.kind === "NOT_FOUND" ? err : null, err.message);
    case "miosa":
      return miosaErrorBody(err, err.status);
    case "dreadnode":
      return dreadnodeErrorBody(err, err.status);
    case "opencomputer":
      return openComputerErrorBody(err);
    case "fastapi":
      return fastApiErrorBody(err);
  }
}

/** Fastify's router-level failures as AppErrors (400; 414 for an over-long path segment). */
export function frameworkError(err: { code?: string }): AppError {
  return err.code === "FST_ERR_MAX_PARAM_LENGTH"
    ? new AppError("BAD_USER_INPUT", "A path segment is too long", [], 414)
    : new AppError("BAD_USER_INPUT", "The URL is not valid", [], 400);
}

/**
 * The methods each registered path answers, so a request for a known path with another method is
 * told 405 and `Allow` rather than 404 (Fastify's router only knows "no route"). Paths are matched
 * as the router does: `:param` is one non-empty segment; catch-all routes (CORS preflight's `*`)
 * make no path known.
 */
export class RouteMethods {
  private readonly routes: Array<{ pattern: RegExp; methods: string[] }> = [];

  /** Records every route registered on `app` (and its child scopes) from now on. */
  watch(app: FastifyInstance): void {
    app.addHook("onRoute", (route) => {
      if (route.url.includes("*")) return;
      const source = route.url
        .split("/")
        .map((seg) => (seg.startsWith(":") ? "[^/]+" : seg.replace(/[.+?^${}()|[\]\\]/g, "\\$&")))
        .join("/");
      this.routes.push({ pattern: new RegExp(`^${source}$`), methods: [route.method].flat().map((m) => m.toUpperCase()) });
    });
  }

  /** The methods `url`'s path answers, sorted; empty for a path no route knows. */
  allowed(url: string): string[] {
    const path = url.split("?")[0] ?? "";
    const methods = new Set<string>();
    for (const r of this.routes) if (r.pattern.test(path)) for (const m of r.methods) methods.add(m);
    return [...methods].sort();
  }
}

/** The answer for a request no route took: 405 with `Allow` for a known path, else 404, in the surface's envelope. */
export function unroutedError(routes: RouteMethods, method: string, url: string): { error: AppError; allow: string | null } {
  const allowed = routes.allowed(url);
  if (allowed.length === 0 || allowed.includes(method.toUpperCase())) return { error: new AppError("NOT_FOUND", "Not Found"), allow: null };
  const path = (url.split("?")[0] ?? "").slice(0, 200);
  return { error: new AppError("BAD_USER_INPUT", `Method ${method.toUpperCase()} is not allowed on ${path}; allowed: ${allowed.join(", ")}`, [], 405), allow: allowed.join(", ") };
}
