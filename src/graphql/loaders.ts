/**
 * Per-request DataLoaders: every entity reference and every per-entity usage field is answered for
 * all the entities of a request at once — N representations, one database command per field,
 * whatever N is. Loaders of fields with arguments are kept per argument set, since different
 * arguments are different questions.
 *
 * `load` is called synchronously by resolvers and the batch functions authenticate (once per
 * request, memoized), so every load of a tick lands in the same batch.
 */
import DataLoader from "dataloader";
import type { Principal } from "../auth/principal.js";
import { forbidden } from "../errors.js";
import type { SandboxDoc } from "../db/collections.js";
import type { AppDeps } from "../deps.js";
import type { Quantities } from "../pipelines/usageAggregate.js";
import type { RuntimeSummaryRow } from "../pipelines/runtime.js";
import { memoryUsageOfMany, memoryWindow, type SandboxMemoryUsage, type WindowRequest } from "../services/memoryUsage.js";
import { runtimeSummaries } from "../services/runtimeSummary.js";
import { findSandboxesById, sandboxOrg, sandboxQuantities, unknownSandbox } from "../services/sandboxes.js";
import { type UsageRollupReport, type UsageRollupRequest, usageRollups, validateRollupRequest } from "../services/usageRollup.js";

/** Far more than one query plan fetches at once; bounds one pipeline's `$in`. */
const MAX_BATCH = 1000;

export class Loaders {
  private readonly loaders = new Map<string, DataLoader<unknown, unknown, unknown>>();

  constructor(
    private readonly deps: AppDeps,
    private readonly principal: () => Promise<Principal>,
  ) {}

  private loader<K, V, C = K>(name: string, args: unknown, batch: (keys: readonly K[], p: Principal) => Promise<Array<V | Error>>, cacheKeyFn?: (key: K) => C): DataLoader<K, V, C> {
    const id = JSON.stringify([name, args ?? null]);
    let found = this.loaders.get(id) as DataLoader<K, V, C> | undefined;
    if (!found) {
      found = new DataLoader<K, V, C>(async (keys) => batch(keys, await this.principal()), { maxBatchSize: MAX_BATCH, cacheKeyFn });
      this.loaders.set(id, found as DataLoader<unknown, unknown, unknown>);
    }
    return found;
  }

  /**
   * A sandbox by id in the caller's org: its document, or — for an id another subgraph knows and
   * this one has never seen — an empty one, whose usage is all zeros. One `find` per batch.
   */
  sandbox(): DataLoader<string, SandboxDoc> {
    return this.loader<string, SandboxDoc>("sandbox", null, async (ids, p) => {
      const found = await findSandboxesById(this.deps.cols, p, ids);
      return ids.map((id) => found.get(id) ?? unknownSandbox(sandboxOrg(p), id));
    });
  }

  /** `Sandbox.memoryUsage(from, to)`: one aggregation per batch. */
  memoryUsage(args: WindowRequest): DataLoader<SandboxDoc, SandboxMemoryUsage, string> {
    return this.loader<SandboxDoc, SandboxMemoryUsage, string>(
      "memoryUsage",
      args,
      async (sandboxes, p) => {
        const { window, now } = memoryWindow(this.deps, args);
        return memoryUsageOfMany(this.deps, p, sandboxes, window, now);
      },
      (s) => s._id,
    );
  }

  /** `Sandbox.usage(from, to)`: one aggregation per batch. */
  sandboxUsage(args: WindowRequest): DataLoader<SandboxDoc, Quantities, string> {
    return this.loader<SandboxDoc, Quantities, string>("sandboxUsage", args, (sandboxes, p) => sandboxQuantities(this.deps, p, sandboxes, args), (s) => s._id);
  }

  /** `User.runtimeSummary`: users of the caller's org, one aggregation per batch. */
  runtimeSummary(): DataLoader<string, RuntimeSummaryRow> {
    return this.loader<string, RuntimeSummaryRow>("runtimeSummary", null, async (userIds, p) => {
      if (p.orgId === null) throw forbidden("This key belongs to no organization; a user's runtime is read within the key's organization");
      return runtimeSummaries(this.deps, p, p.orgId, userIds);
    });
  }

  /** `Organization.usageRollup(...)`: the orgs the caller may read in one aggregation; the others FORBIDDEN. */
  orgRollup(args: UsageRollupRequest): DataLoader<string, UsageRollupReport> {
    return this.loader<string, UsageRollupReport>("orgRollup", args, async (orgIds, p) => {
      const v = validateRollupRequest(args);
      const readable = orgIds.filter((org) => p.clusterAdmin || p.orgId === org);
      // An org whose usage cannot be priced exactly is an error at its own field only.
      const reports = new Map((await usageRollups(this.deps, p, readable, v)).map((r, i) => [readable[i]!, r]));
      return orgIds.map((org) => reports.get(org) ?? forbidden(`This API key cannot read the usage of organization '${org}'`));
    });
  }
}
