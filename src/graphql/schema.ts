/** The subgraph schema: every schema/*.graphql file, with the resolvers, built for Federation 2. */
import { readdirSync, readFileSync } from "node:fs";
import { buildSubgraphSchema } from "@apollo/subgraph";
import type { GraphQLResolverMap } from "@apollo/subgraph/dist/schema-helper/resolverMap.js";
import { type GraphQLSchema, parse } from "graphql";
import { resolvers } from "./resolvers/index.js";

const SCHEMA_DIR = new URL("../../schema/", import.meta.url);

/** The SDL files, in a stable (alphabetical) order so `_service { sdl }` never changes by accident. */
export function loadTypeDefs(): string {
  return readdirSync(SCHEMA_DIR)
    .filter((f) => f.endsWith(".graphql"))
    .sort()
    .map((f) => readFileSync(new URL(f, SCHEMA_DIR), "utf8"))
    .join("\n");
}

export function buildSchema(): GraphQLSchema {
  return buildSubgraphSchema({ typeDefs: parse(loadTypeDefs()), resolvers: resolvers as GraphQLResolverMap<unknown> });
}

/** The subgraph SDL exactly as `_service { sdl }` serves it (what a router composes). */
export function subgraphSdl(): string {
  // Asked of the `_service` resolver itself, so it is the served text byte for byte.
  const service = buildSchema().getQueryType()?.getFields()._service?.resolve?.(undefined, {}, undefined, undefined as never) as { sdl?: unknown } | undefined;
  if (typeof service?.sdl !== "string") throw new Error("the subgraph schema has no _service { sdl }");
  return service.sdl;
}
