/**
 * For scripts that work on the configured database (MONGODB_URI): the configuration parsed as the
 * service parses it, and a connection; a bad configuration or no URI ends the script with exit 1.
 */
import { type Config, ConfigError, loadConfig } from "../src/config.js";
import { connectDatabase, type Database } from "../src/db/connect.js";

/** `missingUri`: what to tell someone who has not set MONGODB_URI. */
export async function connectConfiguredDatabase(missingUri: string): Promise<Database & { config: Config }> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(err instanceof ConfigError ? err.message : String(err));
    process.exit(1);
  }
  if (!config.MONGODB_URI) {
    console.error(missingUri);
    process.exit(1);
  }
  return { config, ...(await connectDatabase(config.MONGODB_URI, config.MONGODB_DB)) };
}
