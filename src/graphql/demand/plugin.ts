/**
 * Demand control inside the subgraph: an operation whose measured demand (cost.ts) is over a limit
 * is refused after validation and before anything executes, as a validation failure
 * (400 GRAPHQL_VALIDATION_FAILED) — introspection included, whatever key is presented or none.
 *
 * It runs as a plugin rather than a validation rule because Apollo Server's validation rules do
 * not see the variables, and windows and page sizes usually arrive as variables.
 */
import type { ApolloServerPlugin } from "@apollo/server";
import { ApolloServerErrorCode } from "@apollo/server/errors";
import { GraphQLError } from "graphql";
import type { Config } from "../../config.js";
import type { GraphQLContext } from "../context.js";
import { type Demand, measureOperation } from "./cost.js";

export type DemandLimits = Pick<Config, "GRAPHQL_MAX_COST" | "GRAPHQL_MAX_ALIASES" | "GRAPHQL_MAX_INTROSPECTION_FIELDS">;

const n = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "unbounded");

/** Each limit the demand is over, said so a caller knows what to change. */
export function overLimits(d: Demand, limits: DemandLimits): string[] {
  const over: string[] = [];
  if (d.aliases > limits.GRAPHQL_MAX_ALIASES) over.push(`it uses ${n(d.aliases)} aliases, more than the ${n(limits.GRAPHQL_MAX_ALIASES)} allowed per operation`);
  if (d.introspectionFields > limits.GRAPHQL_MAX_INTROSPECTION_FIELDS) {
    over.push(`it selects __schema or __type ${n(d.introspectionFields)} times, more than the ${n(limits.GRAPHQL_MAX_INTROSPECTION_FIELDS)} allowed per operation`);
  }
  if (!(d.cost <= limits.GRAPHQL_MAX_COST)) {
    over.push(`its estimated cost is ${n(d.cost)}, more than the ${n(limits.GRAPHQL_MAX_COST)} allowed (ask for shorter windows, wider buckets, smaller pages or fewer fields)`);
  }
  return over;
}

export function demandControlPlugin(limits: DemandLimits): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operation, request, contextValue }) {
          if (!operation) return; // Apollo itself refuses a request whose operation it cannot resolve.
          const demand = measureOperation(schema, document, operation, request.variables, contextValue.deps.clock.now());
          const over = overLimits(demand, limits);
          if (over.length === 0) return;
          throw new GraphQLError(`Operation refused before it ran: ${over.join("; ")}`, {
            extensions: {
              code: ApolloServerErrorCode.GRAPHQL_VALIDATION_FAILED,
              demand: {
                cost: Number.isFinite(demand.cost) ? Math.round(demand.cost) : null,
                maxCost: limits.GRAPHQL_MAX_COST,
                aliases: demand.aliases,
                maxAliases: limits.GRAPHQL_MAX_ALIASES,
                introspectionFields: demand.introspectionFields,
                maxIntrospectionFields: limits.GRAPHQL_MAX_INTROSPECTION_FIELDS,
              },
              http: { status: 400 },
            },
          });
        },
      };
    },
  };
}
