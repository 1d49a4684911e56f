import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";

describe("loadConfig", () => {
  it("applies the documented defaults", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ PORT: 4001, MONGODB_DB: "usage", LOG_LEVEL: "info", DEMO_DATA: true });
    expect(c.MONGODB_URI).toBeUndefined();
    expect(c.BOOTSTRAP_ADMIN_KEY).toBeUndefined();
    expect(Object.isFrozen(c)).toBe(true);
  });

  it("treats empty variables as unset", () => {
    const c = loadConfig({ PORT: "", MONGODB_URI: " " });
    expect(c.PORT).toBe(4001);
    expect(c.MONGODB_URI).toBeUndefined();
  });

  it("reports every problem at once", () => {
    let err: unknown;
    try {
      loadConfig({ PORT: "eighty", MONGODB_URI: "postgres://x", MONGODB_DB: "a.b", BOOTSTRAP_ADMIN_KEY: "short", LOG_LEVEL: "chatty" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.map((p) => p.split(":")[0]);
    expect(problems.sort()).toEqual(["BOOTSTRAP_ADMIN_KEY", "LOG_LEVEL", "MONGODB_DB", "MONGODB_URI", "PORT"]);
  });

  it("guards webhooks by default and runs the budget worker", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ WEBHOOK_ALLOW_PRIVATE: false, BUDGET_WORKER: true, BUDGET_POLL_INTERVAL_MS: 1000, WEBHOOK_TIMEOUT_MS: 10_000 });
    expect(loadConfig({ WEBHOOK_ALLOW_PRIVATE: "true" }).WEBHOOK_ALLOW_PRIVATE).toBe(true);
    expect(() => loadConfig({ WEBHOOK_ALLOW_PRIVATE: "yes" })).toThrow("WEBHOOK_ALLOW_PRIVATE");
    expect(() => loadConfig({ WEBHOOK_SECRET_KEY: "short" })).toThrow("WEBHOOK_SECRET_KEY");
  });
});

describe("CORS_ORIGINS and METRICS_TOKEN", () => {
  it("default to Apollo Studio's origin and no token", () => {
    const c = loadConfig({});
    expect(c.CORS_ORIGINS).toEqual(["https://studio.apollographql.com"]);
    expect(c.METRICS_TOKEN).toBeUndefined();
  });

  it("take a comma-separated list of origins, or *", () => {
    expect(loadConfig({ CORS_ORIGINS: " https://a.example , http://localhost:3000 " }).CORS_ORIGINS).toEqual(["https://a.example", "http://localhost:3000"]);
    expect(loadConfig({ CORS_ORIGINS: "*" }).CORS_ORIGINS).toEqual(["*"]);
  });

  it("refuse an origin with a path, a bare host, or a short token, naming each", () => {
    let err: unknown;
    try {
      loadConfig({ CORS_ORIGINS: "https://a.example/app,b.example", METRICS_TOKEN: "short" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems.filter((p) => p.startsWith("CORS_ORIGINS"))).toHaveLength(2);
    expect(problems.some((p) => p.startsWith("METRICS_TOKEN"))).toBe(true);
  });
});
