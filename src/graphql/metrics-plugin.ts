/** Counts GraphQL operations in `graphql_operations_total` by name and outcome (success, or the first error's code). */
import type { ApolloServerPlugin } from "@apollo/server";
import type { GraphQLContext } from "./context.js";
import type { Metrics } from "../metrics.js";

export function graphqlMetricsPlugin(metrics: Metrics): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response, operationName, request }) {
          // The formatted answer, so the outcome is the code the caller saw.
          const errors = response.body.kind === "single" ? response.body.singleResult.errors : undefined;
          const code = errors?.[0]?.extensions?.code;
          const outcome = errors && errors.length > 0 ? (typeof code === "string" ? code : "INTERNAL_SERVER_ERROR") : "success";
          metrics.graphqlOperations.inc({ operation: metrics.operationLabel(operationName ?? request.operationName), outcome });
        },
      };
    },
  };
}
