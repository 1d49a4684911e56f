/**
 * Webhook secrets at rest. A secret signs every delivery, so unlike an API key it cannot be hashed;
 * with WEBHOOK_SECRET_KEY set it is sealed with AES-256-GCM (a key derived from that setting, a
 * random nonce per secret) and a database dump alone does not reveal it. Without the setting it is
 * stored as given, marked `plain:` — the operator's choice, documented in docs/budgets.md.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";

const SEALED = "aesgcm:";
const PLAIN = "plain:";

const keyOf = (setting: string) => createHash("sha256").update(`usage-subgraph webhook secrets\0${setting}`).digest();

export function sealSecret(secret: string, setting: string | undefined): string {
  if (!setting) return PLAIN + secret;
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", keyOf(setting), iv);
  const data = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
  return SEALED + Buffer.concat([iv, cipher.getAuthTag(), data]).toString("base64");
}

/** The secret back; throws when it was sealed with another key (or with one that is now unset). */
export function openSecret(stored: string, setting: string | undefined): string {
  if (stored.startsWith(PLAIN)) return stored.slice(PLAIN.length);
  if (!stored.startsWith(SEALED)) throw new Error("unrecognised webhook secret format");
  if (!setting) throw new Error("this webhook secret is sealed; set WEBHOOK_SECRET_KEY to the key it was sealed with");
  const raw = Buffer.from(stored.slice(SEALED.length), "base64");
  const decipher = createDecipheriv("aes-256-gcm", keyOf(setting), raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
}
