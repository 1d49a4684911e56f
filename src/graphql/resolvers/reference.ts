import { badInput } from "../../errors.js";

const MAX_ID_LENGTH = 256;

/**
 * The `id` of an entity representation. Representations are `_Any`, so GraphQL has not coerced
 * them: anything but a plain string (an object such as {"$gt": ""} above all) is refused before it
 * can reach a query.
 */
export function referenceId(ref: { id?: unknown }): string {
  const id = ref.id;
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_ID_LENGTH) {
    throw badInput(`an entity representation's id must be a string of 1-${MAX_ID_LENGTH} characters`, [
      { loc: ["representations", "id"], msg: "must be a string", type: "string_type" },
    ]);
  }
  return id;
}
