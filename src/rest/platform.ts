/**
 * The service's own REST endpoints: usage ingest (DESIGN §2), API keys (DESIGN §4) and price
 * tables (DESIGN §3), with FastAPI's error envelope. They call the same services as GraphQL.
 */
import type { FastifyInstance } from "fastify";
import { type Principal, requireOrgAccess, requireScope } from "../auth/principal.js";
import { CreateApiKeyInput, createApiKey, listApiKeys, revokeApiKey } from "../auth/keys.js";
import type { AppDeps } from "../deps.js";
import { AppError, badInput, forbidden, type InputIssue, notFound } from "../errors.js";
import { recordUsageEvents } from "../ingest/service.js";
import { voidUsageEvents } from "../ingest/voids.js";
import { getPrices, setPrices } from "../services/prices.js";
import { OrgId } from "../auth/keys.js";
import { toInputIssues } from "../zod-issues.js";
import { principalOf } from "./auth.js";
import { sendFastApiError } from "./fastapi-envelope.js";
import { keyPreservingJson, stripBom } from "./json-body.js";

const NDJSON = "application/x-ndjson";

/**
 * NDJSON body → events; a line that is not JSON is reported by its (0-based) index. A UTF-8
 * byte-order mark before the first line (editors and some exporters write one) is not content.
 */
function parseNdjson(text: string): unknown[] {
  const events: unknown[] = [];
  const issues: InputIssue[] = [];
  for (const line of stripBom(text).split("\n")) {
    if (line.trim() === "") continue;
    try {
      events.push(JSON.parse(line));
    } catch (err) {
      issues.push({ loc: ["body", events.length], msg: `JSON decode error: ${(err as Error).message}`, type: "json_invalid" });
      events.push(undefined);
    }
  }
  if (issues.length > 0) throw badInput("invalid NDJSON", issues);
  return events;
}

function eventsFromJsonBody(body: unknown): unknown {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw badInput("body must be an object", [{ loc: ["body"], msg: "Input should be a valid dictionary", type: "dict_type" }]);
  }
  const extra = Object.keys(body).filter((k) => k !== "events");
  if (extra.length > 0) {
    throw badInput("unexpected fields", extra.map((k) => ({ loc: ["body", k], msg: "Extra inputs are not permitted", type: "extra_forbidden" })));
  }
  if (!("events" in body)) throw badInput("events missing", [{ loc: ["body", "events"], msg: "Field required", type: "missing" }]);
  return (body as { events: unknown }).events;
}

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export async function platformRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  app.setErrorHandler((err, request, reply) => sendFastApiError(err, request, reply));
  keyPreservingJson(app);
  app.addContentTypeParser(NDJSON, { parseAs: "string" }, (_req, body, done) => done(null, body));
  app.decorateRequest("principal", null);
  // Authenticate before the body is read: an unknown caller gets 401 without costing a parse.
  app.addHook("onRequest", async (request) => {
    request.principal = await principalOf(deps, request);
  });

  app.post("/api/v1/usage/events", async (request, reply) => {
    const principal = request.principal!;
    const contentType = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    const isNdjson = contentType === NDJSON;
    if (!isNdjson && contentType !== "application/json") {
      throw new AppError("BAD_USER_INPUT", "Unsupported Content-Type; send application/json or application/x-ndjson", [], 415);
    }
    const result = isNdjson
      ? await recordUsageEvents(deps, principal, parseNdjson(String(request.body ?? "")), ["body"])
      : await recordUsageEvents(deps, principal, eventsFromJsonBody(request.body), ["body", "events"]);
    deps.metrics.countIngested(result);
    return reply.status(200).send(result);
  });

  app.post("/api/v1/usage/events/void", async (request) => voidUsageEvents(deps, request.principal!, request.body, ["body"]));

  app.post("/api/v1/api-keys", async (request, reply) => {
    const principal = request.principal!;
    requireScope(principal, "admin");
    const parsed = CreateApiKeyInput.safeParse(request.body);
    if (!parsed.success) throw badInput("invalid API key request", toInputIssues(parsed.error, ["body"]));
    requireOrgAccess(principal, parsed.data.org_id);
    if (parsed.data.cluster_admin && !principal.clusterAdmin) throw forbidden("Only a cluster admin may create cluster-admin keys");
    const created = await createApiKey(deps.cols, parsed.data, principal.keyId);
    return reply.status(201).send(created);
  });

  // An org admin sees its org's keys; a cluster admin any org's (`org_id`), or every org's without it.
  app.get<{ Querystring: Record<string, unknown> }>("/api/v1/api-keys", async (request) => {
    const principal = request.principal!;
    requireScope(principal, "admin");
    const { org_id: given, ...extra } = request.query;
    const unknown = Object.keys(extra);
    if (unknown.length > 0) throw badInput("unknown query parameter", unknown.map((k) => ({ loc: ["query", k], msg: "Extra inputs are not permitted", type: "extra_forbidden" })));
    let orgId: string | null = principal.orgId;
    if (given !== undefined) {
      const parsed = OrgId.safeParse(given);
      if (!parsed.success) throw badInput("invalid org_id", toInputIssues(parsed.error, ["query", "org_id"]));
      requireOrgAccess(principal, parsed.data);
      orgId = parsed.data;
    } else if (principal.clusterAdmin) orgId = null;
    return { data: await listApiKeys(deps.cols, orgId) };
  });

  // Revoked at once here (the key cache entry is dropped), within KEY_CACHE_TTL_MS on other replicas.
  app.delete<{ Params: { id: string } }>("/api/v1/api-keys/:id", async (request) => {
    const principal = request.principal!;
    requireScope(principal, "admin");
    // Another org's key is "not found", not "forbidden": its existence is not the caller's business.
    const revoked = await revokeApiKey(deps.cols, request.params.id, principal.clusterAdmin ? null : principal.orgId);
    if (!revoked) throw notFound(`No API key '${request.params.id}' to revoke`);
    return revoked;
  });

  app.get<{ Params: { org: string } }>("/api/v1/orgs/:org/prices", async (request) =>
    getPrices(deps, request.principal!, request.params.org, ["path", "org"]),
  );

  app.put<{ Params: { org: string } }>("/api/v1/orgs/:org/prices", async (request) =>
    setPrices(deps, request.principal!, request.params.org, request.body, { org: ["path", "org"], body: ["body"] }),
  );
}
