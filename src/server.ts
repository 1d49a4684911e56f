/**
 * Builds the HTTP app — Fastify with Apollo Server (the subgraph at /graphql, Apollo Sandbox as
 * its landing page) and the REST adapters on the same port — without listening, so tests drive
 * it with `inject` or on an ephemeral port.
 */
import { stringifyJson } from "./int64.js";
import { randomUUID } from "node:crypto";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginCacheControlDisabled } from "@apollo/server/plugin/disabled";
import { ApolloServerPluginLandingPageLocalDefault } from "@apollo/server/plugin/landingPage/default";
import { fastifyApolloDrainPlugin, fastifyApolloHandler } from "@as-integrations/fastify";
import { maxDepthRule } from "@escape.tech/graphql-armor-max-depth";
import cors from "@fastify/cors";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from "fastify";
import type { GraphQLError, ValidationContext } from "graphql";
import type { Principal } from "./auth/principal.js";
import type { AppDeps } from "./deps.js";
import type { GraphQLContext } from "./graphql/context.js";
import { asAppError } from "./errors.js";
import { demandControlPlugin } from "./graphql/demand/plugin.js";
import { formatError, graphqlErrorBody, httpStatusPlugin } from "./graphql/errors.js";
import { Loaders } from "./graphql/loaders.js";
import { graphqlMetricsPlugin } from "./graphql/metrics-plugin.js";
import { buildSchema } from "./graphql/schema.js";
import { withRequestBudget } from "./request-budget.js";
import { installRateLimit } from "./rate-limit.js";
import { principalOf } from "./rest/auth.js";
import { fromFastifyError } from "./rest/errors.js";
import { healthRoutes } from "./rest/health.js";
import { AppError } from "./errors.js";
import { errorBodyFor, frameworkError, RouteMethods, unroutedError } from "./rest/surfaces.js";
import { budgetRoutes } from "./rest/budgets.js";
import { dreadnodeRoutes } from "./rest/dreadnode.js";
import { miosaRoutes } from "./rest/miosa.js";
import { mka1Routes } from "./rest/mka1.js";
import { openComputerRoutes } from "./rest/opencomputer.js";
import { instrumentHttp, operationsRoutes } from "./rest/operations.js";
import { platformRoutes } from "./rest/platform.js";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** graphql-armor rules throw by default, which Apollo would answer as a 500. */
const reportNotThrow = {
  propagateOnRejection: false,
  onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)],
};

/** The longest URL answered: Node's default limit on a request's whole header block. */
export const MAX_URL_LENGTH = 16 * 1024;

export interface BuiltServer {
  app: FastifyInstance;
  apollo: ApolloServer<GraphQLContext>;
}

export async function buildServer(deps: AppDeps): Promise<BuiltServer> {
  const app = Fastify({
    logger: { level: deps.config.LOG_LEVEL, base: { service: "usage-subgraph" } },
    bodyLimit: deps.config.INGEST_MAX_BODY_BYTES,
    // Keep a caller's X-Request-Id when it is sane, so logs join up across services.
    genReqId: (req) => {
      const given = req.headers["x-request-id"];
      return typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
    },
    forceCloseConnections: "idle",
    // Ids are at most 128 characters (sandboxes), 64 (orgs); anything longer is answered 414 below.
    routerOptions: { maxParamLength: 256 },
    frameworkErrors: (err, request, reply) => {
      const known = frameworkError(err as { code?: string });
      void (reply as FastifyReply).code(known.status).send(errorBodyFor(request.url, known));
    },
    // Node refuses a request line or header block over its limit (an over-long URL above all)
    // before Fastify sees a request; answered in the surface's envelope, not Fastify's own body.
    clientErrorHandler: (err, socket) => answerClientError(err as unknown as ClientError, socket),
  });
  const routes = new RouteMethods();
  routes.watch(app);
  // Sums past 2^53 are bigints: written as exact JSON numbers (int64.ts), where JSON.stringify throws.
  app.setReplySerializer((payload) => stringifyJson(payload));
  app.addHook("onRequest", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });
  // Node's parser answers a request line over its header limit (16 KiB by default) with 431 before
  // Fastify sees it (answerClientError below). The same bound is checked here, so a URL that long
  // is refused alike where no such parser stands in front (app.inject, a raised --max-http-header-size).
  app.addHook("onRequest", async (request, reply) => {
    if (request.url.length > MAX_URL_LENGTH) {
      const err = new AppError("BAD_USER_INPUT", `The URL is longer than ${MAX_URL_LENGTH} characters`, [], 431);
      return reply.code(431).header("connection", "close").send(errorBodyFor(request.url, err));
    }
  });
  instrumentHttp(app, deps);
  // Before rate limiting and every route: a preflight is answered here, and costs no key lookup.
  // An origin not in CORS_ORIGINS gets no Access-Control-Allow-Origin, so its browser refuses the answer.
  await app.register(cors, {
    origin: deps.config.CORS_ORIGINS.includes("*") ? "*" : [...deps.config.CORS_ORIGINS],
    methods: ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"],
    exposedHeaders: ["x-request-id", "retry-after"],
    maxAge: 600,
  });
  // Before every route's own hooks (and so before any body is read or key checked twice).
  installRateLimit(app, deps);
  // While shutting down, answer in-flight requests with `Connection: close` so keep-alive
  // clients (routers, fetch) let go at once instead of holding close() for the idle timeout.
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  app.addHook("onSend", async (_request, reply, payload) => {
    if (closing) reply.header("connection", "close");
    return payload;
  });
  // Every handler's database work shares one budget (request-budget.ts). Set before the handler
  // and after body parsing, whose stream events would not carry the async context along.
  app.addHook("preHandler", (_request, _reply, done) => withRequestBudget(deps.config.REQUEST_DB_TIME_MS, done));
  // No route took the request: 405 with Allow for a known path, else 404, in its surface's envelope.
  app.setNotFoundHandler((request, reply) => {
    const { error, allow } = unroutedError(routes, request.method, request.url);
    if (allow) reply.header("allow", allow);
    return reply.status(error.status).send(errorBodyFor(request.url, error));
  });
  // Root routes (/graphql, health): errors raised before a handler (rate limit, body parsing) in
  // GraphQL's shape for /graphql; each REST adapter renders its own in its scope.
  app.setErrorHandler((err, request, reply) => {
    const known = asAppError(err) ?? fromFastifyError(err as FastifyError);
    if (!known) request.log.error({ err }, "unhandled error");
    const status = known?.status ?? 500;
    const message = known?.message ?? "Internal server error";
    return reply.status(status).send(request.url.startsWith("/graphql") ? graphqlErrorBody(known, message) : { detail: message });
  });

  const apollo = new ApolloServer<GraphQLContext>({
    schema: buildSchema(),
    introspection: true,
    // Apollo's own messages go to the same structured JSON log as every request.
    logger: app.log,
    formatError,
    // As the REST replies: Int64 values past 2^53 are bigints, written as their exact digits.
    stringifyResult: (result) => `${stringifyJson(result)}\n`,
    // A document of more tokens is not parsed any further (refused as a validation failure, see
    // formatError): the size of what is parsed is bounded before any limit below can count it.
    parseOptions: { maxTokens: deps.config.GRAPHQL_MAX_TOKENS },
    // Fragments spread inside fragments multiply what validation visits; Apollo's own guard counts
    // the selections with fragments expanded (10 million at most) before the other rules run.
    maxRecursiveSelections: true,
    // Refused before execution: operations nested too deep (introspection's own nesting is bounded
    // by graphql-js's MaxIntrospectionDepthRule). Reported as 400 GRAPHQL_VALIDATION_FAILED, not thrown.
    validationRules: [maxDepthRule({ n: deps.config.GRAPHQL_MAX_DEPTH, ignoreIntrospection: true, ...reportNotThrow })],
    plugins: [
      fastifyApolloDrainPlugin(app),
      ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false }),
      // No cache hints are set or used; the plugin would otherwise wrap every field's resolver.
      ApolloServerPluginCacheControlDisabled(),
      httpStatusPlugin,
      // Too many aliases or introspection fields, or too costly: refused before execution.
      demandControlPlugin(deps.config),
      graphqlMetricsPlugin(deps.metrics),
    ],
  });
  await apollo.start();

  app.route({
    url: "/graphql",
    method: ["GET", "POST", "OPTIONS"],
    handler: fastifyApolloHandler(apollo, {
      context: async (request) => {
        let authenticated: Promise<Principal> | undefined;
        // GraphQL takes the key as every REST surface does; authenticated once, on first use.
        const principal = () => (authenticated ??= principalOf(deps, request));
        return { deps, requestId: request.id, principal, loaders: new Loaders(deps, principal) };
      },
    }),
  });

  await app.register(async (scope) => healthRoutes(scope, deps));
  await app.register(async (scope) => operationsRoutes(scope, deps));
  await app.register(async (scope) => platformRoutes(scope, deps));
  await app.register(async (scope) => mka1Routes(scope, deps));
  await app.register(async (scope) => miosaRoutes(scope, deps));
  await app.register(async (scope) => dreadnodeRoutes(scope, deps));
  await app.register(async (scope) => openComputerRoutes(scope, deps));
  await app.register(async (scope) => budgetRoutes(scope, deps));
  return { app, apollo };
}

interface ClientError extends Error {
  code?: string;
  /** The bytes Node was parsing when it gave up: the request line, when it fits in that read. */
  rawPacket?: Buffer;
}

const CLIENT_ERRORS: Record<string, { status: number; reason: string; message: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, reason: "Request Header Fields Too Large", message: "The request line and headers are too large (an over-long URL?)" },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, reason: "Request Timeout", message: "The request was not received in time" },
};

/**
 * Answers a request Node's HTTP parser refused, in the envelope of the surface its request line
 * names (FastAPI's when the line is not in the packet Node kept), then closes the connection.
 */
function answerClientError(err: ClientError, socket: import("node:stream").Duplex): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const known = CLIENT_ERRORS[err.code ?? ""] ?? { status: 400, reason: "Bad Request", message: "The request is not valid HTTP" };
  const head = err.rawPacket?.subarray(0, 2048).toString("latin1") ?? "";
  const url = /^[A-Z]{3,10} (\/\S*)/.exec(head)?.[1] ?? "/";
  const body = JSON.stringify(errorBodyFor(url, new AppError("BAD_USER_INPUT", known.message, [], known.status)));
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${known.status} ${known.reason}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}
