/**
 * The one mapping from domain errors to GraphQL: `extensions.code` (BAD_USER_INPUT,
 * UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, …) plus the input issues, and the HTTP status for a
 * database that is down (503) or a query over its time budget (504).
 */
import type { ApolloServerPlugin } from "@apollo/server";
import { unwrapResolverError } from "@apollo/server/errors";
import type { GraphQLFormattedError } from "graphql";
import { type AppError, asAppError } from "../errors.js";

const CODE: Record<AppError["kind"], string> = {
  BAD_USER_INPUT: "BAD_USER_INPUT",
  UNAUTHENTICATED: "UNAUTHENTICATED",
  FORBIDDEN: "FORBIDDEN",
  NOT_FOUND: "NOT_FOUND",
  PAYLOAD_TOO_LARGE: "BAD_USER_INPUT",
  RATE_LIMITED: "RATE_LIMITED",
  UNAVAILABLE: "SERVICE_UNAVAILABLE",
  TIMEOUT: "TIMEOUT",
};

/** snake_case → camelCase, so issue locations name the GraphQL argument fields. */
const camel = (s: string | number) => (typeof s === "string" ? s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) : s);

/**
 * An issue location as GraphQL names it: field names camel-cased, data left as sent — a tag key
 * (the segment after `tags`) is the caller's string, and `__typename` is already a GraphQL name.
 */
const graphqlLoc = (loc: ReadonlyArray<string | number>) =>
  loc.map((seg, i) => (typeof seg !== "string" || seg.startsWith("_") || loc[i - 1] === "tags" ? seg : camel(seg)));

/** graphql-js's words (sic) when a document has more than parseOptions.maxTokens tokens. */
const TOO_MANY_TOKENS = /Document contains more th\w+ (\d+) tokens/;

export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  // A document over the token limit is refused for its size, like any other demand limit.
  const tooLong = formatted.extensions?.code === "GRAPHQL_PARSE_FAILED" ? TOO_MANY_TOKENS.exec(formatted.message) : null;
  if (tooLong) {
    return { message: `Operation refused before it ran: the document has more than ${tooLong[1]} tokens`, extensions: { code: "GRAPHQL_VALIDATION_FAILED" } };
  }
  const original = unwrapResolverError(error);
  // @apollo/subgraph throws a plain Error for a representation whose __typename is not an entity.
  if (original instanceof Error && original.message.startsWith("The _entities resolver tried to load an entity for type")) {
    return { message: original.message, locations: formatted.locations, path: formatted.path, extensions: { code: "BAD_USER_INPUT" } };
  }
  const app = asAppError(original);
  if (!app) {
    // Errors GraphQL itself raised (parse, validation, variable coercion) keep their own codes.
    if (formatted.extensions?.code && formatted.extensions.code !== "INTERNAL_SERVER_ERROR") return formatted;
    return { message: "Internal server error", locations: formatted.locations, path: formatted.path, extensions: { code: "INTERNAL_SERVER_ERROR" } };
  }
  return {
    message: app.message,
    locations: formatted.locations,
    path: formatted.path,
    extensions: {
      code: CODE[app.kind],
      ...(app.issues.length > 0 && { issues: app.issues.map((i) => ({ ...i, loc: graphqlLoc(i.loc) })) }),
    },
  };
}

/** Sets 503/504 on the HTTP response when a resolver met an unavailable or slow database. */
export const httpStatusPlugin: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async willSendResponse({ response, errors }) {
        for (const err of errors ?? []) {
          const app = asAppError(unwrapResolverError(err));
          if (app && (app.status === 503 || app.status === 504)) response.http.status = app.status;
        }
      },
    };
  },
};

/** A GraphQL response body for an error raised outside execution (rate limit, body parsing). */
export function graphqlErrorBody(err: AppError | null, message: string) {
  return { errors: [{ message, extensions: { code: err ? CODE[err.kind] : "BAD_REQUEST" } }] };
}
