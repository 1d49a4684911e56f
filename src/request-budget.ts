/**
 * One database time budget per request (REQUEST_DB_TIME_MS), shared by every query the request
 * makes — GraphQL resolvers, DataLoader batches and REST handlers alike — so that many cheap
 * queries in one request cannot add up to minutes of database time. The budget travels with the
 * request's async context (set once where the request enters, in server.ts), so the services that
 * run queries need no extra parameter: `queryOptions` (deps.ts) asks it what is left.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { performance } from "node:perf_hooks";
import { AppError } from "./errors.js";

interface Budget {
  /** performance.now() past which the request may not start or continue database work. */
  deadline: number;
  /** The budget's size, for renewedBudget. */
  ms: number;
}

const current = new AsyncLocalStorage<Budget>();

/** Runs `fn` (and everything it starts) within a budget of `ms` milliseconds of database time. */
export function withRequestBudget<T>(ms: number, fn: () => T): T {
  return current.run({ deadline: performance.now() + ms, ms }, fn);
}

/**
 * Runs `fn` with a budget of the current one's full size: for a CSV export, which is the whole
 * answer however many pages it takes (DESIGN §10) — each page gets a budget, not the export.
 */
export function renewedBudget<T>(fn: () => T): T {
  const budget = current.getStore();
  return budget ? withRequestBudget(budget.ms, fn) : fn();
}

export const budgetSpent = () => new AppError("TIMEOUT", "The request exceeded its database time budget");

/**
 * The maxTimeMS for the next query: `perQueryMs`, or less when the request's budget has less left.
 * Throws TIMEOUT (504) once the budget is spent — maxTimeMS 0 would mean "no limit".
 */
export function maxTimeMS(perQueryMs: number): number {
  const budget = current.getStore();
  if (!budget) return perQueryMs;
  const left = Math.floor(budget.deadline - performance.now());
  if (left < 1) throw budgetSpent();
  return Math.min(perQueryMs, left);
}
