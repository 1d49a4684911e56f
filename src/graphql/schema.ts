/** The subgraph schema: every schema/*.graphql file, with the resolvers, built for Federation 2. */
import { readdirSync, readFileSync } from "node:fs";
import { buildSubgraphSchema } from "@apollo/subgraph";
import type { GraphQLResolverMap } from "@apollo/subgraph/dist/schema-helper/resolverMap.js";
import { type GraphQLFieldResolver, type GraphQLSchema, isUnionType, parse } from "graphql";
import { badInput } from "../errors.js";
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
  const schema = buildSubgraphSchema({ typeDefs: parse(loadTypeDefs()), resolvers: resolvers as GraphQLResolverMap<unknown> });
  guardEntities(schema);
  return schema;
}

/**
 * `_entities` answers only for the members of `_Entity`. @apollo/subgraph itself passes any object
 * type through (`Viewer`, `Query`, `__Schema`, …), which then fails `_Entity`'s type resolution as
 * an internal error; such a representation is the caller's mistake, refused as BAD_USER_INPUT for
 * its own list item while the others still resolve.
 */
function guardEntities(schema: GraphQLSchema): void {
  const field = schema.getQueryType()?.getFields()._entities;
  const union = schema.getType("_Entity");
  if (!field?.resolve || !isUnionType(union)) return;
  const entityTypes = new Set(union.getTypes().map((t) => t.name));
  const original: GraphQLFieldResolver<unknown, unknown> = field.resolve;
  field.resolve = (source, args: { representations?: unknown }, ctx, info) => {
    const reps = Array.isArray(args.representations) ? (args.representations as unknown[]) : [];
    const refused = reps.map((rep) => {
      const name = rep !== null && typeof rep === "object" ? (rep as { __typename?: unknown }).__typename : undefined;
      if (typeof name === "string" && entityTypes.has(name)) return null;
      const shown = typeof name === "string" ? JSON.stringify(name.slice(0, 100)) : "a missing or non-string __typename";
      return badInput(`an entity representation's __typename must name an entity (${[...entityTypes].join(", ")}); got ${shown}`, [
        { loc: ["representations", "__typename"], msg: "not an entity type", type: "enum" },
      ]);
    });
    if (refused.every((r) => r === null)) return original(source, args, ctx, info);
    const kept = reps.filter((_, i) => refused[i] === null);
    const resolved = kept.length > 0 ? (original(source, { ...args, representations: kept }, ctx, info) as unknown[]) : [];
    let next = 0;
    // graphql-js reports an Error returned as a list item as that item's error.
    return refused.map((err) => err ?? resolved[next++]);
  };
}

/** The subgraph SDL exactly as `_service { sdl }` serves it (what a router composes). */
export function subgraphSdl(): string {
  // Asked of the `_service` resolver itself, so it is the served text byte for byte.
  const service = buildSchema().getQueryType()?.getFields()._service?.resolve?.(undefined, {}, undefined, undefined as never) as { sdl?: unknown } | undefined;
  if (typeof service?.sdl !== "string") throw new Error("the subgraph schema has no _service { sdl }");
  return service.sdl;
}
