/**
 * API keys: `usk_<id>_<secret>`, stored only as a SHA-256 hash of the whole key. The secret has
 * 256 bits of entropy, so a fast hash is enough (a slow KDF protects low-entropy passwords).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { LRUCache } from "lru-cache";
import { z } from "zod";
import { type ApiKeyDoc, type Collections, SCOPES, type Scope } from "../db/collections.js";
import { parseIsoInstant } from "../time.js";

export const KEY_PREFIX = "usk_";

export function hashSecret(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

export const OrgId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "must be 1-64 characters: letters, digits, '_', '.', '-'");

export const CreateApiKeyInput = z.strictObject({
  org_id: OrgId,
  user_id: z.string().min(1).max(128),
  scopes: z.array(z.enum(SCOPES as [Scope, ...Scope[]])).min(1).transform((s) => [...new Set(s)]),
  cluster_admin: z.boolean().default(false),
  /** RFC 3339 with an offset, in the future; absent or null: the key does not expire. */
  expires_at: z
    .string()
    .nullable()
    .optional()
    .transform((v, ctx) => {
      if (v === null || v === undefined) return null;
      const t = /[Zz]|[+-]\d{2}:?\d{2}$/.test(v) ? parseIsoInstant(v) : null;
      if (!t) {
        ctx.addIssue({ code: "custom", message: "must be an RFC 3339 date-time with an offset, such as 2027-01-31T00:00:00Z" });
        return z.NEVER;
      }
      if (t.getTime() <= Date.now()) {
        ctx.addIssue({ code: "custom", message: "must be in the future" });
        return z.NEVER;
      }
      return t;
    }),
});
export type CreateApiKeyInput = z.infer<typeof CreateApiKeyInput>;

export interface CreatedKey {
  id: string;
  key: string;
}

export async function createApiKey(
  cols: Collections,
  input: Omit<CreateApiKeyInput, "expires_at"> & { expires_at?: Date | null },
  createdBy: string,
): Promise<CreatedKey> {
  const id = `key_${randomBytes(9).toString("base64url")}`;
  const key = `${KEY_PREFIX}${id.slice(4)}_${randomBytes(32).toString("base64url")}`;
  const doc: ApiKeyDoc = {
    _id: id,
    org_id: input.org_id,
    user_id: input.user_id,
    scopes: input.scopes,
    cluster_admin: input.cluster_admin,
    secret_hash: hashSecret(key),
    created_at: new Date(),
    created_by: createdBy,
    expires_at: input.expires_at ?? null,
    last_used_at: null,
  };
  await cols.apiKeys.insertOne(doc);
  return { id, key };
}

/**
 * Keys found recently, by secret hash, per key collection (so per database): every request is
 * authenticated, nearly always with a key seen moments ago, and the lookup would otherwise be a
 * database round trip on every request. Only found keys are kept, so a new key works at once.
 * The TTL is what bounds a revocation made on another replica (DESIGN §13: within 5 s): a key
 * revoked elsewhere is read again, revoked, at most this long after. One lookup per active key
 * every 4 s costs the database nothing worth measuring.
 */
export const KEY_CACHE_TTL_MS = 4_000;
const recentKeys = new WeakMap<Collections["apiKeys"], LRUCache<string, ApiKeyDoc>>();

/**
 * Ids this process revoked lately. A lookup that began before a revocation could otherwise put the
 * key back into the cache, unrevoked, just after the revocation evicted it.
 */
const revokedHere = new WeakMap<Collections["apiKeys"], LRUCache<string, Date>>();

function revokedCache(cols: Collections): LRUCache<string, Date> {
  let cache = revokedHere.get(cols.apiKeys);
  if (!cache) revokedHere.set(cols.apiKeys, (cache = new LRUCache<string, Date>({ max: 10_000, ttl: 2 * KEY_CACHE_TTL_MS })));
  return cache;
}

function keyCache(cols: Collections): LRUCache<string, ApiKeyDoc> {
  let cache = recentKeys.get(cols.apiKeys);
  if (!cache) recentKeys.set(cols.apiKeys, (cache = new LRUCache<string, ApiKeyDoc>({ max: 10_000, ttl: KEY_CACHE_TTL_MS })));
  return cache;
}

/** A key found recently (no database round trip), or undefined. */
export function recentKey(cols: Collections, key: string): ApiKeyDoc | undefined {
  if (!key.startsWith(KEY_PREFIX) || key.length > 200) return undefined;
  return keyCache(cols).get(hashSecret(key));
}

/** The key document for a presented secret (revoked and expired ones too: the caller tells them apart), or null. */
export async function findKeyBySecret(cols: Collections, key: string): Promise<ApiKeyDoc | null> {
  if (!key.startsWith(KEY_PREFIX) || key.length > 200) return null;
  const hash = hashSecret(key);
  const cache = keyCache(cols);
  const hit = cache.get(hash);
  // Only a fresh read is cached: re-setting a hit would restart its TTL and keep a busy key cached
  // past a revocation made elsewhere.
  const found = hit ?? (await cols.apiKeys.findOne({ secret_hash: hash }));
  if (!found) return null;
  const revokedAt = found.revoked_at ? undefined : revokedCache(cols).get(found._id);
  const doc = revokedAt ? { ...found, revoked_at: revokedAt } : found;
  if (!hit) cache.set(hash, doc);
  return doc;
}

/**
 * `last_used_at` is worth knowing to the minute (is this key still in use? before revoking it),
 * not worth a write per request: each replica writes it at most once a minute per key, with `$max`
 * so replicas racing each other never move it backwards. Fire and forget: a failed write only
 * leaves the time a little older.
 */
export const LAST_USED_RESOLUTION_MS = 60_000;
const lastUseWritten = new WeakMap<Collections["apiKeys"], Map<string, number>>();

export function recordKeyUse(cols: Collections, doc: ApiKeyDoc, now = new Date()): void {
  let written = lastUseWritten.get(cols.apiKeys);
  if (!written) lastUseWritten.set(cols.apiKeys, (written = new Map()));
  const last = Math.max(written.get(doc._id) ?? 0, doc.last_used_at?.getTime() ?? 0);
  if (now.getTime() - last < LAST_USED_RESOLUTION_MS) return;
  if (written.size >= 10_000) written.clear();
  written.set(doc._id, now.getTime());
  cols.apiKeys.updateOne({ _id: doc._id }, { $max: { last_used_at: now } }).catch(() => undefined);
}

/** Why a stored key is refused, or null while it is usable. */
export function keyRefusal(doc: ApiKeyDoc, now = new Date()): string | null {
  if (doc.revoked_at) return "API key revoked";
  if (doc.expires_at && doc.expires_at.getTime() <= now.getTime()) return "API key expired";
  return null;
}

/** A key as `GET /api/v1/api-keys` and `npm run keys -- list` show it: everything but its hash. */
export interface ApiKeyView {
  id: string;
  org_id: string;
  user_id: string;
  scopes: Scope[];
  cluster_admin: boolean;
  created_at: string;
  created_by: string;
  last_used_at: string | null;
  expires_at: string | null;
}

export function apiKeyView(doc: ApiKeyDoc): ApiKeyView {
  return {
    id: doc._id,
    org_id: doc.org_id,
    user_id: doc.user_id,
    scopes: doc.scopes,
    cluster_admin: doc.cluster_admin,
    created_at: doc.created_at.toISOString(),
    created_by: doc.created_by,
    last_used_at: doc.last_used_at?.toISOString() ?? null,
    expires_at: doc.expires_at?.toISOString() ?? null,
  };
}

/** The keys not revoked, of one org or (null) of every org, oldest first. Expired keys are listed: their owner should see why they fail. */
export async function listApiKeys(cols: Collections, orgId: string | null): Promise<ApiKeyView[]> {
  const docs = await cols.apiKeys
    .find({ ...(orgId !== null && { org_id: orgId }), revoked_at: { $exists: false } }, { projection: { secret_hash: 0 } })
    .sort({ created_at: 1, _id: 1 })
    .toArray();
  return docs.map(apiKeyView);
}

/**
 * Revokes a key (of `orgId`, or of any org for null) at once on this replica: the document is
 * marked, and the cached copy is dropped. Null when there is no such key not yet revoked.
 */
export async function revokeApiKey(cols: Collections, id: string, orgId: string | null, now = new Date()): Promise<(ApiKeyView & { revoked_at: string }) | null> {
  const doc = await cols.apiKeys.findOneAndUpdate(
    { _id: id, ...(orgId !== null && { org_id: orgId }), revoked_at: { $exists: false } },
    { $set: { revoked_at: now } },
    { returnDocument: "after" },
  );
  if (!doc) return null;
  revokedCache(cols).set(doc._id, now);
  keyCache(cols).delete(doc.secret_hash);
  return { ...apiKeyView(doc), revoked_at: now.toISOString() };
}

/** Constant-time comparison for the bootstrap key from the environment. */
export function matchesBootstrapKey(candidate: string, bootstrap: string | undefined): boolean {
  if (!bootstrap) return false;
  const a = createHash("sha256").update(candidate).digest();
  const b = createHash("sha256").update(bootstrap).digest();
  return timingSafeEqual(a, b);
}
