/**
 * What an operator and a first-time visitor reach without an API key: `GET /metrics`
 * (Prometheus), the landing page at `/`, and the repository's docs under `/docs/`, so the links
 * on that page work offline too.
 */
import { readFile } from "node:fs/promises";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { matchesBootstrapKey } from "../auth/keys.js";
import type { AppDeps } from "../deps.js";

/** Every request in `http_requests_total` and `http_request_duration_seconds`, by route pattern (never the raw URL: ids would explode the label set). */
export function instrumentHttp(app: FastifyInstance, deps: AppDeps): void {
  app.addHook("onResponse", async (request, reply) => {
    const labels = { method: request.method, route: request.routeOptions.url ?? "unmatched", status: String(reply.statusCode) };
    deps.metrics.httpRequests.inc(labels);
    deps.metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
  });
  const detach = deps.metrics.observeDriver(deps.client);
  app.addHook("onClose", async () => detach());
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);

/** Unset METRICS_TOKEN: loopback callers only (a sidecar or node exporter on the host). Set: that bearer token, from anywhere. */
function mayReadMetrics(request: FastifyRequest, token: string | undefined): boolean {
  if (!token) return LOOPBACK.has(request.socket.remoteAddress ?? "");
  const m = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? "");
  return m !== null && matchesBootstrapKey(m[1]!, token);
}

export const DOCS = ["api.md", "operations.md", "supergraph.md", "benchmarks.md"] as const;
const DOCS_DIR = new URL("../../docs/", import.meta.url);

export async function operationsRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  app.get("/metrics", async (request, reply) => {
    if (!mayReadMetrics(request, deps.config.METRICS_TOKEN)) {
      const reason = deps.config.METRICS_TOKEN ? "send Authorization: Bearer <METRICS_TOKEN>" : "only loopback callers may read it unless METRICS_TOKEN is set";
      return reply.status(deps.config.METRICS_TOKEN ? 401 : 403).send({ detail: `Metrics: ${reason}` });
    }
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  app.get("/", async (_request, reply) => reply.type("text/html; charset=utf-8").send(LANDING_PAGE));

  app.get<{ Params: { name: string } }>("/docs/:name", async (request, reply) => {
    const name = request.params.name;
    if (!(DOCS as readonly string[]).includes(name)) return reply.status(404).send({ detail: "Not Found" });
    // Plain text: every browser shows it (text/markdown is often downloaded instead).
    return reply.type("text/plain; charset=utf-8").send(await readFile(new URL(name, DOCS_DIR), "utf8"));
  });
}

const LANDING_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Usage subgraph</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem;color:#222}code{background:#f3f3f3;padding:0 .2rem}li{margin:.2rem 0}</style>
</head>
<body>
<h1>Usage subgraph</h1>
<p>An Apollo Federation 2 subgraph that answers questions about sandbox usage (operations, sessions,
runtime, memory, cost) from MongoDB, with REST adapters for four vendors' usage APIs on the same port.</p>
<ul>
<li><a href="/graphql">/graphql</a>: GraphQL; in a browser, Apollo Sandbox to explore the schema and run queries.
Sandbox is loaded from Apollo's CDN, so that page needs internet access. Offline, send queries with
<code>curl</code> (<code>POST /graphql</code> with a JSON body <code>{"query": "…"}</code>).</li>
<li>Docs: <a href="/docs/api.md">API reference</a> (every REST endpoint and GraphQL field),
<a href="/docs/operations.md">operations</a> (configuration, MongoDB, replicas, metrics, keys),
<a href="/docs/supergraph.md">supergraph</a> (router, gateway, headers),
<a href="/docs/benchmarks.md">benchmarks</a>.</li>
<li>Health: <a href="/healthz">/healthz</a> (the process answers), <a href="/readyz">/readyz</a> (the database answers).</li>
</ul>
<p>Every usage answer needs an API key (<code>Authorization: Bearer …</code> or <code>X-API-Key: …</code>).
<code>npm start</code> with demo data prints three; otherwise create one with <code>BOOTSTRAP_ADMIN_KEY</code>
or <code>npm run keys</code>, as the start-up banner explains.</p>
</body>
</html>
`;
