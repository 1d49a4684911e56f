/**
 * Conformance at the edges: inputs the specs allow (or refuse) that a careless implementation gets
 * wrong — entity representations of non-entity types, tag keys that name Object.prototype members,
 * RFC 3339 in all its allowed spellings, pre-epoch timestamps, and each surface's envelope on the
 * errors the framework raises before a route runs (404, 405, 431, a BOM, a bad header).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixedClock } from "../../src/clock.js";
import { bearer, startTestApp, type TestApp } from "../helpers/app.js";

describe("conformance", () => {
  let t: TestApp;
  let key: string;

  beforeAll(async () => {
    t = await startTestApp({ label: "conformance", clock: fixedClock("2026-05-28T00:00:00Z") });
    key = await t.key("acme", "alice", ["read", "ingest", "admin"]);
  }, 60_000);
  afterAll(() => t.close());

  describe("_entities of a type that is not an entity", () => {
    for (const typename of ["Viewer", "Query", "UsageBucket", "__Schema", "Nope"]) {
      for (const withKey of [true, false]) {
        it(`${typename} ${withKey ? "with" : "without"} a key → BAD_USER_INPUT`, async () => {
          const rep = withKey ? { __typename: typename, id: "x" } : { __typename: typename };
          const res = await t.graphql("query($r: [_Any!]!) { _entities(representations: $r) { __typename } }", { r: [rep] }, bearer(key));
          expect(res.status).toBeLessThan(500);
          const codes = (res.body.errors ?? []).map((e) => e.extensions?.code);
          expect(codes.length, JSON.stringify(res.body)).toBeGreaterThan(0);
          expect(codes.every((c) => c === "BAD_USER_INPUT"), JSON.stringify(res.body)).toBe(true);
        });
      }
    }

    it("a bad representation among good ones fails only its own item", async () => {
      const reps = [{ __typename: "Organization", id: "acme" }, { __typename: "Viewer", id: "x" }];
      const res = await t.graphql("query($r: [_Any!]!) { _entities(representations: $r) { __typename ... on Organization { id } } }", { r: reps }, bearer(key));
      expect(res.body.data?._entities?.[0]).toEqual({ __typename: "Organization", id: "acme" });
      expect(res.body.data?._entities?.[1]).toBeNull();
      expect(res.body.errors?.map((e) => [e.extensions?.code, (e as { path?: unknown }).path])).toEqual([["BAD_USER_INPUT", ["_entities", 1]]]);
    });
  });
});
