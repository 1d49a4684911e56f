import { defineConfig } from "vitest/config";

export default defineConfig({
  // Node loads graphql's CommonJS build for @apollo/server (graphql has no exports map, so `main`
  // wins), while Vite would hand our sources its `module` build: two realms, whose type checks
  // (isListType…) fail on each other's schema objects. One build for both, as in production.
  resolve: { alias: [{ find: /^graphql$/, replacement: "graphql/index.js" }] },
  test: {
    include: ["test/**/*.test.ts"],
    // Each file starts its own embedded MongoDB (a worker thread) unless TEST_MONGODB_URI is set.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 2,
  },
});
