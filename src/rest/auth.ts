/** Authenticating a REST request the way its surface expects the key to arrive. */
import type { FastifyRequest } from "fastify";
import { authenticate, type Principal, presentedKey } from "../auth/principal.js";
import type { AppDeps } from "../deps.js";

export type KeyTransport = "bearer" | "x-api-key";

export function principalOf(deps: AppDeps, request: FastifyRequest, transport: KeyTransport): Promise<Principal> {
  const key = presentedKey(request.headers, { bearer: transport === "bearer", apiKeyHeader: transport === "x-api-key" });
  return authenticate({ cols: deps.cols, bootstrapKey: deps.config.BOOTSTRAP_ADMIN_KEY }, key, request.headers);
}
