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
