/**
 * API key administration against the configured database (MONGODB_URI), for when no admin key is
 * at hand (the first key, or after restarting over replayed data):
 *   npm run keys -- create --org acme --user alice --scopes read,ingest [--cluster-admin] [--expires-at 2027-01-31T00:00:00Z]
 *   npm run keys -- list [--org acme]
 *   npm run keys -- revoke key_…
 * `create` prints the new key's id and secret: the secret is shown this once and stored only as a hash.
 * A revocation takes effect within seconds on every running replica (src/auth/keys.ts, KEY_CACHE_TTL_MS).
 */
import { parseArgs } from "node:util";
import { CreateApiKeyInput, createApiKey, listApiKeys, revokeApiKey } from "../src/auth/keys.js";
import { connectConfiguredDatabase } from "./database.js";

const USAGE = [
  "usage: npm run keys -- create --org <org_id> --user <user_id> --scopes read,ingest,admin [--cluster-admin] [--expires-at <RFC 3339>]",
  "       npm run keys -- list [--org <org_id>]",
  "       npm run keys -- revoke <key id>",
].join("\n");

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

const { positionals, values } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        org: { type: "string" },
        user: { type: "string" },
        scopes: { type: "string" },
        "cluster-admin": { type: "boolean", default: false },
        "expires-at": { type: "string" },
      },
    });
  } catch (err) {
    return fail(`${(err as Error).message}\n${USAGE}`);
  }
})();

const [command, ...rest] = positionals;
if (command !== "create" && command !== "list" && command !== "revoke") fail(USAGE);
if (command === "revoke" && rest.length !== 1) fail(`revoke takes exactly one key id\n${USAGE}`);

const input =
  command === "create"
    ? CreateApiKeyInput.safeParse({
        org_id: values.org,
        user_id: values.user,
        scopes: values.scopes?.split(",").map((s) => s.trim()).filter(Boolean),
        cluster_admin: values["cluster-admin"],
        expires_at: values["expires-at"],
      })
    : null;
if (input && !input.success) fail(`${input.error.issues.map((i) => `--${String(i.path[0] ?? "").replace("_id", "").replace("_", "-")}: ${i.message}`).join("\n")}\n${USAGE}`);

const { client, cols } = await connectConfiguredDatabase(
  "MONGODB_URI is not set: keys are stored in the database the service uses (npm start prints the embedded one's URI).",
);
try {
  if (command === "create") {
    const created = await createApiKey(cols, input!.data!, "cli");
    console.log(`id:  ${created.id}\nkey: ${created.key}\n\nStore the key now: it is shown only this once.`);
  } else if (command === "list") {
    const keys = await listApiKeys(cols, values.org ?? null);
    const rows = keys.map((k) => [k.id, k.org_id, k.user_id, k.scopes.join(",") + (k.cluster_admin ? " (cluster admin)" : ""), k.created_at, k.last_used_at ?? "never", k.expires_at ?? "never"]);
    const header = ["id", "org", "user", "scopes", "created_at", "last_used_at", "expires_at"];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    for (const r of [header, ...rows]) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd());
    if (rows.length === 0) console.log("(no keys)");
  } else {
    const revoked = await revokeApiKey(cols, rest[0]!, null);
    if (!revoked) fail(`No API key '${rest[0]}' to revoke (unknown, or revoked already).`);
    console.log(`revoked ${revoked.id} (org ${revoked.org_id}, user ${revoked.user_id}) at ${revoked.revoked_at}`);
  }
} finally {
  await client.close();
}
