/**
 * MKA1: `GET /api/v1/sandbox/usage` (specs 000/001). Parses the query string as FastAPI would,
 * calls the sandbox usage service, and answers in FastAPI's envelope.
 */
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../deps.js";
import { getSandboxUsage } from "../services/sandboxUsage.js";
import { principalOf } from "./auth.js";
import { sendFastApiError } from "./fastapi-envelope.js";
import { sendCsv, wantsCsv } from "./csv.js";
import { MKA1_CSV, sandboxUsageCsv } from "./csv/mka1.js";
import { QueryParser, type RawQuery } from "./query-params.js";

export async function mka1Routes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  app.setErrorHandler((err, request, reply) => sendFastApiError(err, request, reply));

  app.get("/api/v1/sandbox/usage", async (request, reply) => {
    const principal = await principalOf(deps, request);
    const q = new QueryParser(request.query as RawQuery);
    const params = {
      start_time: q.int("start_time"),
      end_time: q.int("end_time"),
      bucket_width: q.string("bucket_width"),
      group_by: q.list("group_by"),
      all_orgs: q.bool("all_orgs"),
      org_ids: q.list("org_ids"),
      limit: q.int("limit"),
      page: q.string("page"),
      time_zone: q.string("time_zone"),
    };
    if (wantsCsv(request, reply, MKA1_CSV)) {
      return sendCsv(reply, await sandboxUsageCsv(deps, principal, params, { earlier: q.issues, failed: q.failed }), deps.config.CSV_MAX_ROWS);
    }
    return getSandboxUsage(deps, principal, params, { loc: ["query"], earlier: q.issues, failed: q.failed });
  });
}
