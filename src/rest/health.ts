/** Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the database answers). */
import type { FastifyInstance } from "fastify";
import type { AppDeps } from "../deps.js";

const READY_TIMEOUT_MS = 1_000;

export async function healthRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async (_request, reply) => {
    const ping = deps.db.command({ ping: 1 }, { timeoutMS: READY_TIMEOUT_MS });
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timeout")), READY_TIMEOUT_MS).unref());
    try {
      await Promise.race([ping, timeout]);
      return { status: "ready" };
    } catch {
      ping.catch(() => undefined);
      return reply.status(503).send({ status: "unavailable", detail: "database not answering" });
    }
  });
}
