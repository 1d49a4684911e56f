/**
 * The background side of budgets in one service process: the evaluator, the delivery worker and a
 * periodic sweep, each on its own timer (a slow receiver must not delay evaluation). Started by
 * runtime.ts when BUDGET_WORKER is on; every replica may run one — leases and the unique index
 * keep them from doing the same work twice. Tests drive BudgetEvaluator/DeliveryWorker directly.
 */
import { randomUUID } from "node:crypto";
import type { FastifyBaseLogger } from "fastify";
import type { AppDeps } from "../deps.js";
import { DeliveryWorker, type DeliveryWorkerOptions } from "./delivery.js";
import { BudgetEvaluator } from "./evaluator.js";
import { noteUsage } from "./marks.js";

export interface BudgetWorker {
  stop(): Promise<void>;
}

/**
 * Open sessions keep adding runtime without any ingest: every sweep interval each org with budgets
 * is marked for its current periods, so a threshold an open session reaches still fires.
 */
export async function sweepOrgsWithBudgets(deps: AppDeps): Promise<number> {
  const now = deps.clock.now();
  const orgs = await deps.cols.budgets.distinct("org_id");
  for (const org of orgs) await noteUsage(deps, org, { minTs: now, maxTs: now });
  return orgs.length;
}

export function startBudgetWorker(deps: AppDeps, log: FastifyBaseLogger, opts: Pick<DeliveryWorkerOptions, "onAttempt"> = {}): BudgetWorker {
  const owner = `worker-${randomUUID()}`;
  const interval = deps.config.BUDGET_POLL_INTERVAL_MS;
  const evaluator = new BudgetEvaluator(deps, { owner, minIntervalMs: deps.config.BUDGET_EVALUATE_INTERVAL_MS });
  const delivery = new DeliveryWorker(deps, { owner, onAttempt: opts.onAttempt });
  let stopped = false;
  const running = new Set<Promise<void>>();

  const loop = (name: string, everyMs: number, step: () => Promise<unknown>) => {
    let timer: NodeJS.Timeout | null = null;
    const tick = () => {
      const p = step()
        .then(
          () => undefined,
          (err) => log.warn({ err, loop: name }, "budget worker step failed; retrying at the next tick"),
        )
        .finally(() => {
          running.delete(p);
          if (!stopped) timer = setTimeout(tick, everyMs);
        });
      running.add(p);
    };
    timer = setTimeout(tick, everyMs);
    return () => timer && clearTimeout(timer);
  };
  const cancels = [
    loop("evaluate", interval, () => evaluator.runOnce()),
    loop("deliver", interval, () => delivery.runOnce()),
    loop("sweep", deps.config.BUDGET_SWEEP_INTERVAL_MS, () => sweepOrgsWithBudgets(deps)),
  ];
  return {
    async stop() {
      stopped = true;
      for (const cancel of cancels) cancel();
      await Promise.all([...running]);
    },
  };
}
