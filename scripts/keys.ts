/**
 * API key administration against the configured database (MONGODB_URI):
 *   npm run keys -- create --org acme --user alice --scopes read,ingest [--cluster-admin]
 * prints the new key's id and secret; the secret is shown this once and stored only as a hash.
 */
import { parseArgs } from "node:util";
import { CreateApiKeyInput, createApiKey } from "../src/auth/keys.js";
import { connectConfiguredDatabase } from "./database.js";

const USAGE = "usage: npm run keys -- create --org <org_id> --user <user_id> --scopes read,ingest,admin [--cluster-admin]";

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

const { positionals, values } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: { org: { type: "string" }, user: { type: "string" }, scopes: { type: "string" }, "cluster-admin": { type: "boolean", default: false } },
    });
  } catch (err) {
    return fail(`${(err as Error).message}\n${USAGE}`);
  }
})();

if (positionals[0] !== "create") fail(USAGE);
const input = CreateApiKeyInput.safeParse({
  org_id: values.org,
  user_id: values.user,
  scopes: values.scopes?.split(",").map((s) => s.trim()).filter(Boolean),
  cluster_admin: values["cluster-admin"],
});
if (!input.success) fail(`${input.error.issues.map((i) => `--${String(i.path[0] ?? "").replace("_id", "")}: ${i.message}`).join("\n")}\n${USAGE}`);

const { client, cols } = await connectConfiguredDatabase("MONGODB_URI is not set: keys are stored in the database the service uses (start one with `npm run mongo`).");
try {
  const created = await createApiKey(cols, input.data, "cli");
  console.log(`id:  ${created.id}\nkey: ${created.key}\n\nStore the key now: it is shown only this once.`);
} finally {
  await client.close();
}
