/**
 * API keys: `usk_<id>_<secret>`, stored only as a SHA-256 hash of the whole key. The secret has
 * 256 bits of entropy, so a fast hash is enough (a slow KDF protects low-entropy passwords).
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { LRUCache } from "lru-cache";
import { z } from "zod";
import { type ApiKeyDoc, type Collections, SCOPES, type Scope } from "../db/collections.js";

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
});
export type CreateApiKeyInput = z.infer<typeof CreateApiKeyInput>;

export interface CreatedKey {
  id: string;
  key: string;
}

export async function createApiKey(cols: Collections, input: CreateApiKeyInput, createdBy: string): Promise<CreatedKey> {
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
  };
  await cols.apiKeys.insertOne(doc);
  return { id, key };
}

/**
 * Keys found recently, by secret hash, per key collection (so per database): every request is
 * authenticated, nearly always with a key seen moments ago, and the lookup would otherwise be a
 * database round trip on every request. Only found keys are kept, so a new key works at once;
 * a key document deleted in the database keeps working for at most KEY_CACHE_TTL_MS.
 */
export const KEY_CACHE_TTL_MS = 30_000;
const recentKeys = new WeakMap<Collections["apiKeys"], LRUCache<string, ApiKeyDoc>>();

function cacheOf(cols: Collections): LRUCache<string, ApiKeyDoc> {
  let cache = recentKeys.get(cols.apiKeys);
  if (!cache) recentKeys.set(cols.apiKeys, (cache = new LRUCache<string, ApiKeyDoc>({ max: 10_000, ttl: KEY_CACHE_TTL_MS })));
  return cache;
}

/** A key found recently (no database round trip), or undefined. */
export function recentKey(cols: Collections, key: string): ApiKeyDoc | undefined {
  if (!key.startsWith(KEY_PREFIX) || key.length > 200) return undefined;
  return cacheOf(cols).get(hashSecret(key));
}

export async function findKeyBySecret(cols: Collections, key: string): Promise<ApiKeyDoc | null> {
  if (!key.startsWith(KEY_PREFIX) || key.length > 200) return null;
  const hash = hashSecret(key);
  const cache = cacheOf(cols);
  const hit = cache.get(hash);
  if (hit) return hit;
  const doc = await cols.apiKeys.findOne({ secret_hash: hash });
  if (doc) cache.set(hash, doc);
  return doc;
}

/** Constant-time comparison for the bootstrap key from the environment. */
export function matchesBootstrapKey(candidate: string, bootstrap: string | undefined): boolean {
  if (!bootstrap) return false;
  const a = createHash("sha256").update(candidate).digest();
  const b = createHash("sha256").update(bootstrap).digest();
  return timingSafeEqual(a, b);
}
