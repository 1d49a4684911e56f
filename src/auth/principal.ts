/**
 * Who is calling: resolved once per request from `Authorization: Bearer` or `X-API-Key`, with
 * `X-On-Behalf-Of` narrowing every answer to one external user's usage.
 */
import type { Collections, Scope } from "../db/collections.js";
import { badInput, forbidden, unauthenticated } from "../errors.js";
import { findKeyBySecret, keyRefusal, matchesBootstrapKey, recordKeyUse } from "./keys.js";

export interface Principal {
  keyId: string;
  /** The key's org; null only for the bootstrap key, which belongs to no org. */
  orgId: string | null;
  userId: string;
  scopes: ReadonlySet<Scope>;
  clusterAdmin: boolean;
  /** External user id from `X-On-Behalf-Of`: answers are restricted to that user's usage. */
  onBehalfOf: string | null;
}

export type HeaderBag = Record<string, string | string[] | undefined>;

function header(headers: HeaderBag, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The key presented, from `Authorization: Bearer …` or `X-API-Key: …` (whichever the surface allows). */
export function presentedKey(headers: HeaderBag, accept: { bearer: boolean; apiKeyHeader: boolean }): string | null {
  if (accept.bearer) {
    const auth = header(headers, "authorization");
    const m = auth ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
    if (m) return m[1]!;
  }
  if (accept.apiKeyHeader) {
    const key = header(headers, "x-api-key")?.trim();
    if (key) return key;
  }
  return null;
}

export interface AuthDeps {
  cols: Collections;
  bootstrapKey: string | undefined;
}

/** Resolves the principal, or throws 401 for a missing, unknown, revoked or expired key. */
export async function authenticate(deps: AuthDeps, key: string | null, headers: HeaderBag): Promise<Principal> {
  if (!key) throw unauthenticated("Missing API key");
  const rawOnBehalf = header(headers, "x-on-behalf-of");
  const onBehalfOf = rawOnBehalf === undefined ? null : rawOnBehalf.trim();
  if (onBehalfOf !== null && (onBehalfOf.length === 0 || onBehalfOf.length > 256)) {
    throw badInput("X-On-Behalf-Of must be 1-256 characters", [
      { loc: ["header", "X-On-Behalf-Of"], msg: "must be 1-256 characters", type: "string_type" },
    ]);
  }
  if (matchesBootstrapKey(key, deps.bootstrapKey)) {
    return { keyId: "bootstrap", orgId: null, userId: "bootstrap", scopes: new Set(["read", "ingest", "admin"]), clusterAdmin: true, onBehalfOf };
  }
  const doc = await findKeyBySecret(deps.cols, key);
  if (!doc) throw unauthenticated("Invalid API key");
  const refused = keyRefusal(doc);
  if (refused) throw unauthenticated(refused);
  recordKeyUse(deps.cols, doc);
  return { keyId: doc._id, orgId: doc.org_id, userId: doc.user_id, scopes: new Set(doc.scopes), clusterAdmin: doc.cluster_admin, onBehalfOf };
}

export function requireScope(p: Principal, scope: Scope | Scope[]): void {
  const wanted = Array.isArray(scope) ? scope : [scope];
  if (!wanted.some((s) => p.scopes.has(s))) {
    throw forbidden(`This API key lacks the '${wanted.join("' or '")}' scope`);
  }
}

/** An org the principal may act on: its own, or any for a cluster admin. */
export function requireOrgAccess(p: Principal, orgId: string): void {
  if (p.clusterAdmin || p.orgId === orgId) return;
  throw forbidden(`This API key cannot access organization '${orgId}'`);
}
