/** What `npm start` prints (src/banner.ts): the README's tour depends on the export line's names. */
import { describe, expect, it } from "vitest";
import { startBanner } from "../../src/banner.js";
import { loadConfig } from "../../src/config.js";

const URL = "http://127.0.0.1:4001";

describe("startBanner", () => {
  it("with demo data: one export line with the URL and the three keys, and the embedded URI for npm run keys", () => {
    const text = startBanner(
      { url: URL, embedded: { uri: "mongodb://127.0.0.1:40000", replayed: 0 }, demo: { keys: { read: "usk_r", ingest: "usk_i", admin: "usk_a" }, events: 101234, ms: 14200 } },
      loadConfig({}),
    );
    expect(text.split("\n").filter((l) => l.trim().startsWith("export "))).toEqual([`  export USAGE_URL=${URL} READ_KEY=usk_r INGEST_KEY=usk_i ADMIN_KEY=usk_a`]);
    expect(text).toContain("MONGODB_URI=mongodb://127.0.0.1:40000 npm run keys");
    expect(text).toContain("101,234 events");
  });

  it("on a real MongoDB: never the password, and both ways to a key", () => {
    const text = startBanner({ url: URL, embedded: null, demo: null }, loadConfig({ MONGODB_URI: "mongodb+srv://app:hunter2@c.example.net/x", BOOTSTRAP_ADMIN_KEY: "b".repeat(30) }));
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain("b".repeat(30));
    expect(text).toContain("on MongoDB at mongodb+srv://app:***@c.example.net/x");
    expect(text).toContain("with this service's BOOTSTRAP_ADMIN_KEY");
    expect(text).toContain("npm run keys -- create --org acme");
    expect(text).toContain(`export USAGE_URL=${URL}`);
  });

  it("without a bootstrap key: says how to set one", () => {
    const text = startBanner({ url: URL, embedded: { uri: "mongodb://127.0.0.1:40000", replayed: 0 }, demo: null }, loadConfig({ DEMO_DATA: "false" }));
    expect(text).toContain("No keys are printed (DEMO_DATA=false)");
    expect(text).toContain("set BOOTSTRAP_ADMIN_KEY (24+ characters; a cluster-admin key) and restart");
  });
});
