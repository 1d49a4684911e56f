/**
 * Who is calling: resolved once per request from `Authorization: Bearer` or `X-API-Key`, with
 * `X-On-Behalf-Of` narrowing every answer to one external user's usage.
 */
import type { ApiKeyDoc, Collections, Scope } from "../db/collections.js";
import { badInput, forbidden, unauthenticated } from "../errors.js";
import { findKeyBySecret, keyRefusal, matchesBootstrapKey, recentKey, recordKeyUse } from "./keys.js";

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

/**
 * The key presented, the same way on every surface (DESIGN §13): `Authorization: Bearer <key>` or
 * `X-API-Key: <key>`. Sending both is fine when they carry the same key; two different keys are
 * refused (401) rather than one silently preferred, since either guess may act as the wrong org.
 * An `Authorization` header with another scheme (Basic, say) is not a key and is ignored.
 */
export function presentedKey(headers: HeaderBag): string | null {
  const auth = header(headers, "authorization");
  const m = auth ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
  const bearer = m ? m[1]! : null;
  const apiKey = header(headers, "x-api-key")?.trim() || null;
  if (bearer !== null && apiKey !== null && bearer !== apiKey) throw unauthenticated("Authorization and X-API-Key carry different keys; send one");
  return bearer ?? apiKey;
}

export interface AuthDeps {
  cols: Collections;
  bootstrapKey: string | undefined;
}

/** A key's identity: everything of a principal but the per-request X-On-Behalf-Of. */
export type KeyIdentity = Omit<Principal, "onBehalfOf">;

const BOOTSTRAP: KeyIdentity = { keyId: "bootstrap", orgId: null, userId: "bootstrap", scopes: new Set(["read", "ingest", "admin"]), clusterAdmin: true };

/** A key's identity; a revoked or expired key's carries why it is refused (401), checked at each use. */
const identityOf = (doc: ApiKeyDoc): KeyIdentity & { refused?: string } => {
  const refused = keyRefusal(doc);
  const identity = { keyId: doc._id, orgId: doc.org_id, userId: doc.user_id, scopes: new Set(doc.scopes), clusterAdmin: doc.cluster_admin };
  return refused ? { ...identity, refused } : identity;
};

/** The key's identity if it is known without a database round trip (the bootstrap key, a key seen recently), else undefined. */
export function knownIdentity(deps: AuthDeps, key: string): KeyIdentity | undefined {
  if (matchesBootstrapKey(key, deps.bootstrapKey)) return BOOTSTRAP;
  const doc = recentKey(deps.cols, key);
  return doc && identityOf(doc);
}

/** The key's identity, or null for a key that does not exist (one database lookup at most). */
export async function identify(deps: AuthDeps, key: string): Promise<KeyIdentity | null> {
  const known = knownIdentity(deps, key);
  if (known) return known;
  const doc = await findKeyBySecret(deps.cols, key);
  return doc && identityOf(doc);
}

/** `X-On-Behalf-Of`, checked: null when absent; 1-256 characters after trimming. */
export function onBehalfOfHeader(headers: HeaderBag): string | null {
  const raw = header(headers, "x-on-behalf-of");
  const onBehalfOf = raw === undefined ? null : raw.trim();
  if (onBehalfOf !== null && (onBehalfOf.length === 0 || onBehalfOf.length > 256)) {
    // Typed as pydantic types a string outside its length bounds (it is a string: not string_type).
    throw badInput("X-On-Behalf-Of must be 1-256 characters", [
      { loc: ["header", "X-On-Behalf-Of"], msg: "must be 1-256 characters", type: onBehalfOf.length === 0 ? "string_too_short" : "string_too_long" },
    ]);
  }
  return onBehalfOf;
}

/**
 * Resolves the principal, or throws 401 for a missing or unknown key. `identity` may be a lookup
 * already made for this request (the rate limiter makes it first), so a key costs one at most.
 */
export async function authenticate(
  deps: AuthDeps,
  key: string | null,
  headers: HeaderBag,
  identity: (key: string) => Promise<KeyIdentity | null> = (k) => identify(deps, k),
): Promise<Principal> {
  if (!key) throw unauthenticated("Missing API key");
  const onBehalfOf = onBehalfOfHeader(headers);
  const found = (await identity(key)) as (KeyIdentity & { refused?: string }) | null;
  if (!found) throw unauthenticated("Invalid API key");
  if (found.refused) throw unauthenticated(found.refused);
  const doc = recentKey(deps.cols, key);
  if (doc) recordKeyUse(deps.cols, doc);
  const { refused: _refused, ...principal } = found;
  return { ...principal, onBehalfOf };
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
