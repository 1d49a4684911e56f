/**
 * Budgets and their webhook deliveries (DESIGN §11) over REST, with MIOSA's error envelope
 * `{"error":{"code","message"}}`. Parsing and rules live in budgets/service.ts, shared with GraphQL.
 */
import type { FastifyInstance } from "fastify";
import { createBudget, currentPeriod, deleteBudget, getBudget, listBudgets, listDeliveries, toBudgetView } from "../budgets/service.js";
import type { AppDeps } from "../deps.js";
import type { AppError } from "../errors.js";
import { principalOf } from "./auth.js";
import { vendorErrorHandler } from "./errors.js";
import { miosaErrorBody } from "./miosa.js";

/** MIOSA's envelope; a 422 here is about the budget, so its code says so rather than a rollup code. */
function budgetErrorBody(err: AppError | null, status: number) {
  return status === 422 ? { error: { code: "invalid_request", message: err?.message ?? "Invalid request" } } : miosaErrorBody(err, status);
}

const ORG = ["path", "org"];
type OrgParams = { Params: { org: string } };
type BudgetParams = { Params: { org: string; id: string } };

export async function budgetRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  app.setErrorHandler(vendorErrorHandler(budgetErrorBody, { authScheme: "Bearer" }));
  const principal = (request: Parameters<typeof principalOf>[1]) => principalOf(deps, request);

  app.post<OrgParams>("/api/v1/orgs/:org/budgets", async (request, reply) => {
    const created = await createBudget(deps, await principal(request), request.params.org, request.body, { org: ORG, body: ["body"] });
    return reply.status(201).send(toBudgetView(created));
  });

  app.get<OrgParams>("/api/v1/orgs/:org/budgets", async (request) => {
    const budgets = await listBudgets(deps, await principal(request), request.params.org, ORG);
    return { budgets: budgets.map(toBudgetView) };
  });

  app.get<BudgetParams>("/api/v1/orgs/:org/budgets/:id", async (request) => {
    const b = await getBudget(deps, await principal(request), request.params.org, request.params.id, ORG);
    return { ...toBudgetView(b), current_period: await currentPeriod(deps, b) };
  });

  app.delete<BudgetParams>("/api/v1/orgs/:org/budgets/:id", async (request, reply) => {
    await deleteBudget(deps, await principal(request), request.params.org, request.params.id, ORG);
    return reply.status(204).send();
  });

  app.get<BudgetParams>("/api/v1/orgs/:org/budgets/:id/deliveries", async (request) => ({
    deliveries: await listDeliveries(deps, await principal(request), request.params.org, request.params.id, ORG),
  }));
}
