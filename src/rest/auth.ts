/**
 * Authenticating a request, once: every REST surface and GraphQL take the key from
 * `Authorization: Bearer` or `X-API-Key` (DESIGN §13), and the rate limiter, which runs first,
 * shares the same lookup, so a request costs one key lookup at most.
 */
import type { FastifyRequest } from "fastify";
import { authenticate, identify, type KeyIdentity, type Principal, presentedKey } from "../auth/principal.js";
import type { AppDeps } from "../deps.js";

const lookups = new WeakMap<FastifyRequest, Promise<KeyIdentity | null>>();

const authDeps = (deps: AppDeps) => ({ cols: deps.cols, bootstrapKey: deps.config.BOOTSTRAP_ADMIN_KEY });

/** The identity of the key `request` presents (looked up at most once per request); null when unknown. */
export function identityFor(deps: AppDeps, request: FastifyRequest, key: string): Promise<KeyIdentity | null> {
  let found = lookups.get(request);
  if (!found) lookups.set(request, (found = identify(authDeps(deps), key)));
  return found;
}

/** The caller, or a 401 (missing, unknown or conflicting keys) / 422 (bad X-On-Behalf-Of). */
export async function principalOf(deps: AppDeps, request: FastifyRequest): Promise<Principal> {
  const key = presentedKey(request.headers);
  return authenticate(authDeps(deps), key, request.headers, (k) => identityFor(deps, request, k));
}
