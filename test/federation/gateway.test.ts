/**
 * Federation for real: this subgraph's `_service { sdl }` composed with a second subgraph written
 * here ("inventory", which owns the sandboxes' and users' names), both served on loopback behind
 * Apollo Gateway. The query planner must fetch `_entities` from this subgraph for 100 sandboxes and
 * their owners, and every per-entity field must cost one database command for all of them.
 *
 * Fixture (org "fed", clock 2026-05-20T12:00Z): sandbox i (sb-000 … sb-099) ran one session of
 * n = i + 1 minutes from 10:00, 1 vCPU, 1024 MiB, disk 22528 MiB (2 GiB over the included 20 GiB),
 * owned by user u-(i mod 5), with one memory sample of 512 MiB at 10:00:30.
 */
import type { AddressInfo } from "node:net";
import { ApolloGateway, RemoteGraphQLDataSource } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginInlineTraceDisabled } from "@apollo/server/plugin/disabled";
import { startStandaloneServer } from "@apollo/server/standalone";
import { buildSubgraphSchema } from "@apollo/subgraph";
import { parse } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { composeSupergraph, USAGE_SUBGRAPH } from "../../scripts/compose.js";
import { fixedClock } from "../../src/clock.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { recordCommands } from "../helpers/commands.js";
import { ingest, memorySample, start, stop } from "../helpers/events.js";

const N = 100;
const USERS = 5;
const sbId = (i: number) => `sb-${String(i).padStart(3, "0")}`;
const WINDOW = { from: "2026-05-20T10:00:00Z", to: "2026-05-20T12:00:00Z" };

const INVENTORY_SDL = /* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])

  type Sandbox @key(fields: "id") {
    id: ID!
    name: String!
    owner: User!
  }

  type User @key(fields: "id") {
    id: ID!
    displayName: String!
  }

  type Organization @key(fields: "id") {
    id: ID!
    name: String!
  }

  type Query {
    sandboxes(first: Int!): [Sandbox!]!
    organization(id: ID!): Organization
  }
`;

const inventoryResolvers = {
  Query: {
    sandboxes: (_: unknown, { first }: { first: number }) =>
      Array.from({ length: first }, (_, i) => ({ id: sbId(i), name: `Sandbox ${i}`, owner: { id: `u-${i % USERS}` } })),
    organization: (_: unknown, { id }: { id: string }) => ({ id, name: `Org ${id}` }),
  },
  User: { displayName: (u: { id: string }) => `User ${u.id}` },
  Organization: { name: (o: { id: string }) => `Org ${o.id}` },
};

/** The API key the gateway forwards to this subgraph, per operation. */
interface GatewayContext {
  apiKey?: string;
}

describe("behind Apollo Gateway with a second subgraph", () => {
  let t: TestApp;
  let readKey: string;
  let inventory: ApolloServer;
  let gateway: ApolloServer<GatewayContext>;
  let supergraphSdl: string;

  beforeAll(async () => {
    t = await startTestApp({ clock: fixedClock("2026-05-20T12:00:00Z"), label: "federation", monitorCommands: true });
    const ingestKey = await t.key("fed", "loader", ["ingest"]);
    readKey = await t.key("fed", "u-0", ["read"]);
    const events = [];
    for (let i = 0; i < N; i++) {
      const fields = { sandbox_id: sbId(i), user_id: `u-${i % USERS}` };
      events.push(start(`fed-${i}`, "2026-05-20T10:00:00Z", { ...fields, disk_mb: 22528 }));
      events.push(stop(`fed-${i}`, new Date(Date.parse("2026-05-20T10:00:00Z") + (i + 1) * 60_000).toISOString(), fields));
      events.push(memorySample(sbId(i), "2026-05-20T10:00:30Z", 512));
    }
    await ingest(t, ingestKey, events);

    await t.app.listen({ host: "127.0.0.1", port: 0 });
    const usageUrl = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/graphql`;
    inventory = new ApolloServer({
      schema: buildSubgraphSchema({ typeDefs: parse(INVENTORY_SDL), resolvers: inventoryResolvers }),
      plugins: [ApolloServerPluginInlineTraceDisabled()],
    });
    const { url: inventoryUrl } = await startStandaloneServer(inventory, { listen: { host: "127.0.0.1", port: 0 } });

    const sdl = (await t.graphql("{ _service { sdl } }")).body.data!._service.sdl as string;
    const composed = composeSupergraph([
      { name: USAGE_SUBGRAPH, url: usageUrl, sdl },
      { name: "inventory", url: inventoryUrl, sdl: INVENTORY_SDL },
    ]);
    if (!composed.ok) throw new Error(`composition failed:\n${composed.errors.join("\n")}`);
    supergraphSdl = composed.supergraphSdl;

    gateway = new ApolloServer<GatewayContext>({
      gateway: new ApolloGateway({
        supergraphSdl,
        buildService: ({ url }) =>
          new RemoteGraphQLDataSource<GatewayContext>({
            url,
            willSendRequest({ request, context }) {
              if (context.apiKey) request.http?.headers.set("x-api-key", context.apiKey);
            },
          }),
      }),
    });
    await gateway.start();
  }, 60_000);

  afterAll(async () => {
    await gateway?.stop();
    await inventory?.stop();
    await t?.close();
  });

  async function viaGateway(query: string, variables: Record<string, unknown>, apiKey = readKey) {
    const res = await gateway.executeOperation({ query, variables }, { contextValue: { apiKey } });
    if (res.body.kind !== "single") throw new Error("expected a single result");
    return res.body.singleResult;
  }

  it("composes: the supergraph joins both subgraphs on Sandbox, User and Organization", () => {
    expect(supergraphSdl).toContain('USAGE @join__graph(name: "usage"');
    expect(supergraphSdl).toContain('INVENTORY @join__graph(name: "inventory"');
    for (const entity of ["Sandbox", "User", "Organization"]) {
      expect(supergraphSdl).toMatch(new RegExp(`type ${entity}\\s+@join__type\\(graph: INVENTORY, key: "id"\\)\\s+@join__type\\(graph: USAGE, key: "id"\\)`));
    }
  });

  it("answers 100 sandboxes' usage and their owners' runtime through the query planner, one command per field", async () => {
    const commands = recordCommands(t.mongo.client);
    const result = await viaGateway(
      /* GraphQL */ `
        query ($first: Int!, $from: String, $to: String) {
          sandboxes(first: $first) {
            id
            name
            memoryUsage(from: $from, to: $to) { totals { memoryAllocatedGbSeconds memoryUsedGbSeconds uptimeSeconds } points { ts } }
            usage(from: $from, to: $to) { memoryGbSeconds diskOverageGbSeconds }
            owner { id displayName runtimeSummary { sessionsCount totalRuntimeSeconds currentMonthSeconds } }
          }
        }
      `,
      { first: N, ...WINDOW },
    );
    commands.stop();
    expect(result.errors).toBeUndefined();
    const sandboxes = (result.data as { sandboxes: any[] }).sandboxes;
    expect(sandboxes).toHaveLength(N);
    sandboxes.forEach((s, i) => {
      const n = i + 1;
      expect(s.id).toBe(sbId(i));
      expect(s.name).toBe(`Sandbox ${i}`);
      // 1024 MiB for n minutes: 60·n GiB-s; the one 512 MiB sample makes its minute 30 GiB-s used.
      expect(s.memoryUsage.totals).toEqual({ memoryAllocatedGbSeconds: 60 * n, memoryUsedGbSeconds: 30, uptimeSeconds: 60 * n });
      expect(s.memoryUsage.points).toHaveLength(120); // every minute of 10:00–12:00
      // 2 GiB of disk over the included 20 GiB for 60·n s.
      expect(s.usage).toEqual({ memoryGbSeconds: 60 * n, diskOverageGbSeconds: 120 * n });
      // u-k owns sandboxes k, k+5, …, k+95: 20 sessions, Σ(i+1) = 20k + 970 minutes.
      const k = i % USERS;
      expect(s.owner).toEqual({
        id: `u-${k}`,
        displayName: `User u-${k}`,
        runtimeSummary: { sessionsCount: 20, totalRuntimeSeconds: 60 * (20 * k + 970), currentMonthSeconds: 60 * (20 * k + 970) },
      });
    });
    // One find for the 100 sandbox references, one aggregation per usage field, whatever N is.
    expect(commands.count("find", "sandboxes")).toBe(1);
    expect(commands.count("aggregate", "usage_memory_1m")).toBe(1); // memoryUsage, from its per-minute rollup
    expect(commands.count("aggregate", "sessions")).toBe(2); // usage, runtimeSummary
    expect(commands.sent.filter((c) => c.name === "aggregate")).toHaveLength(3);
  });

  it("an organization's rollup through the gateway, and FORBIDDEN for another organization's", async () => {
    const query = /* GraphQL */ `
      query ($id: ID!) {
        organization(id: $id) { id name usageRollup(period: "custom", start: "2026-05-20", end: "2026-05-21") { periodStart results { key sandboxSeconds creditCents } } }
      }
    `;
    const own = await viaGateway(query, { id: "fed" });
    expect(own.errors).toBeUndefined();
    // Σ 60·n over n = 1…100 = 303,000 vCPU-s (no external user: one null row); at the default
    // 5¢ per vCPU-hour: 303000 / 3600 × 5 = 420.83 → 421.
    expect(own.data).toEqual({
      organization: { id: "fed", name: "Org fed", usageRollup: { periodStart: "2026-05-20T00:00:00.000Z", results: [{ key: null, sandboxSeconds: 303_000, creditCents: 421 }] } },
    });
    const foreign = await viaGateway(query, { id: "globex" });
    expect(foreign.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect(JSON.stringify(foreign.data)).not.toContain("303000");
  });

  it("without a key the subgraph's UNAUTHENTICATED reaches the client, and no usage leaks", async () => {
    const result = await viaGateway(`{ sandboxes(first: 2) { id usage { memoryGbSeconds } } }`, {}, "");
    expect(result.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    expect(JSON.stringify(result.data ?? null)).not.toContain("memoryGbSeconds\":");
  });
});
