/** The one place mingo is configured, so queries, updates and pipelines agree on semantics. */
import { ProcessingMode } from "mingo";
import type { Options } from "mingo/types";
import type { Doc } from "./paths.js";

export function queryOptions(extra: Partial<Options> = {}): Partial<Options> {
  return {
    // `$where`, `$function` and `$accumulator` run JavaScript: never from a client.
    scriptEnabled: false,
    useStrictMode: true,
    processingMode: ProcessingMode.CLONE_OFF,
    ...extra,
  };
}

/** Stages that mingo applies by writing into nested objects of its input documents. */
const NESTED_WRITERS = new Set(["$addFields", "$set", "$unset"]);

/**
 * True when a pipeline could modify nested objects of its input in place (mingo's `$set` of a
 * dotted path does), in which case the input is cloned so stored documents stay untouched.
 */
export function pipelineWritesNested(pipeline: unknown): boolean {
  if (Array.isArray(pipeline)) return pipeline.some(pipelineWritesNested);
  if (pipeline === null || typeof pipeline !== "object") return false;
  for (const [key, value] of Object.entries(pipeline as Doc)) {
    if (NESTED_WRITERS.has(key)) {
      const fields = key === "$unset" ? [value].flat() : Object.keys((value ?? {}) as Doc);
      if (fields.some((f) => typeof f === "string" && f.includes("."))) return true;
    }
    if (typeof value === "object" && pipelineWritesNested(value)) return true;
  }
  return false;
}
