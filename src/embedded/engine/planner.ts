/**
 * Chooses an index for a filter. Only conditions that are sure to narrow the result are used:
 * top-level equality, `$eq`, `$in` (without regexes) and ranges (`$gt`/`$gte`/`$lt`/`$lte`),
 * also inside a top-level `$and`. The caller re-applies the filter to what the index returns, so
 * the plan only has to return a superset of the matching records; only the top-level equalities
 * the scan answers exactly are not checked again (`residualFilter`).
 */
import { ObjectId } from "bson";
import { HIGHEST, LOWEST, compareValues } from "./compare.js";
import { CARTESIAN_LIMIT, type FieldBounds, type Index } from "./indexes.js";
import { type Doc, isPlainObject } from "./paths.js";

type Condition = { points: unknown[] } | { low: unknown; high: unknown };

function isIndexableScalar(v: unknown): boolean {
  return !(v instanceof RegExp) && !Array.isArray(v) && v !== undefined;
}

function mergeCondition(into: Map<string, Condition>, field: string, cond: Condition): void {
  const prev = into.get(field);
  if (!prev) {
    into.set(field, cond);
    return;
  }
  // Equality wins over a range: a point is the tighter bound, and the filter re-check keeps it exact.
  if ("points" in prev) return;
  if ("points" in cond) {
    into.set(field, cond);
    return;
  }
  const low = compareValues(cond.low, prev.low) > 0 ? cond.low : prev.low;
  const high = compareValues(cond.high, prev.high) < 0 ? cond.high : prev.high;
  into.set(field, { low, high });
}

function collect(filter: Doc, into: Map<string, Condition>): void {
  for (const [field, value] of Object.entries(filter)) {
    if (field === "$and" && Array.isArray(value)) {
      for (const sub of value) if (isPlainObject(sub)) collect(sub, into);
      continue;
    }
    if (field.startsWith("$")) continue;
    if (isPlainObject(value)) {
      const ops = Object.keys(value);
      if (ops.length === 0 || !ops.every((k) => k.startsWith("$"))) {
        // Equality with an embedded document.
        into.set(field, { points: [value] });
        continue;
      }
      let low: unknown = LOWEST;
      let high: unknown = HIGHEST;
      let ranged = false;
      for (const [op, arg] of Object.entries(value)) {
        if (op === "$eq" && isIndexableScalar(arg)) mergeCondition(into, field, { points: [arg] });
        else if (op === "$in" && Array.isArray(arg) && arg.every(isIndexableScalar)) {
          mergeCondition(into, field, { points: arg.map((v) => (v === undefined ? null : v)) });
        } else if ((op === "$gt" || op === "$gte") && isIndexableScalar(arg) && arg !== null) {
          low = arg;
          ranged = true;
        } else if ((op === "$lt" || op === "$lte") && isIndexableScalar(arg) && arg !== null) {
          high = arg;
          ranged = true;
        }
      }
      if (ranged) mergeCondition(into, field, { low, high });
    } else if (isIndexableScalar(value)) {
      into.set(field, { points: [value] });
    }
  }
}

export interface Plan {
  index: Index;
  bounds: FieldBounds[];
}

/**
 * Whether every document the filter can match is in a partial index: here, when the partial
 * filter is plain equalities that the query's own top-level equalities repeat (as MongoDB needs
 * the query to imply the partial filter). No partial filter: always.
 */
function coversPartial(filter: Doc, partial: unknown): boolean {
  if (partial === undefined || partial === null) return true;
  if (typeof partial !== "object") return false;
  return Object.entries(partial as Doc).every(([field, value]) => isIndexableScalar(value) && value !== null && filter[field] === value);
}

/** The index that pins down the longest prefix of its fields (equalities first), if any. */
export function planFilter(filter: Doc, indexes: Iterable<Index>): Plan | null {
  const conditions = new Map<string, Condition>();
  collect(filter, conditions);
  if (conditions.size === 0) return null;
  let best: Plan | null = null;
  let bestScore = 0;
  for (const index of indexes) {
    if (index.multikey || index.spec.sparse || !coversPartial(filter, index.spec.partialFilterExpression)) continue;
    const bounds: FieldBounds[] = [];
    let score = 0;
    let points = 1;
    for (const field of index.fields) {
      const cond = conditions.get(field);
      if (!cond) break;
      // A long `$in` on a later field would multiply the point prefixes: leave it to the re-check.
      if ("points" in cond && bounds.length > 0 && points * cond.points.length > CARTESIAN_LIMIT) break;
      bounds.push(cond);
      if ("points" in cond) {
        points *= Math.max(1, cond.points.length);
        score += 2;
      } else {
        score += 1;
        break;
      }
    }
    if (score > bestScore || (score === bestScore && best && index.unique && !best.index.unique)) {
      best = { index, bounds };
      bestScore = score;
    }
  }
  return best;
}

/**
 * Values whose index point holds exactly the documents the filter's equality matches: strings,
 * booleans, dates and ObjectIds, which equal only values of their own type. Not numbers: the
 * index equates 1, 1.0, Long 1 and Decimal128 1 as MongoDB does while the filter's equality
 * (mingo's) does not, and both must keep giving one answer, index or not.
 */
function isExactPoint(v: unknown): boolean {
  if (typeof v === "string" || typeof v === "boolean" || v instanceof Date || v instanceof ObjectId) return true;
  // An embedded document equals another exactly when both have the same fields in the same order
  // with equal values, which is also the index's comparison when every value is itself exact.
  if (isPlainObject(v)) {
    const entries = Object.entries(v);
    return entries.length > 0 && entries.every(([k, x]) => !k.startsWith("$") && isExactPoint(x));
  }
  return false;
}

/** `{$in: [...]}` and nothing else, every value exact, as many as the bound's points: the scan answers it. */
function isExactIn(v: unknown, points: readonly unknown[]): boolean {
  if (!isPlainObject(v)) return false;
  const keys = Object.keys(v);
  if (keys.length !== 1 || keys[0] !== "$in") return false;
  const list = v.$in;
  return Array.isArray(list) && list.length === points.length && list.every(isExactPoint);
}

/**
 * What of `filter` is left to check on the documents `plan` returns: the filter without its
 * top-level equalities `{field: value}` that the plan's index scan answers exactly. A document
 * whose key is that point holds, at that field, one value equal to it by MongoDB's comparison
 * (the index is not multikey, so no array lies on the path), which is exactly when the equality
 * matches for the values `isExactPoint` allows.
 */
export function residualFilter(filter: Doc, plan: Plan | null): Doc {
  if (!plan || plan.index.multikey) return filter;
  let residual: Doc | null = null;
  plan.bounds.forEach((bound, i) => {
    const field = plan.index.fields[i]!;
    if (!("points" in bound) || !Object.prototype.hasOwnProperty.call(filter, field)) return;
    const v = filter[field];
    // A list of exact points (`$in`): the scan visited exactly those keys. Only when this field's
    // condition is the plan's (an equality elsewhere in an $and could have narrowed the points).
    const exactIn = isExactIn(v, bound.points) && !Array.isArray(filter.$and);
    if (!exactIn && (bound.points.length !== 1 || !isExactPoint(v) || compareValues(v, bound.points[0]) !== 0)) return;
    residual ??= { ...filter };
    delete residual[field];
  });
  return residual ?? filter;
}

/**
 * The index a `$lookup` on `foreignField` joins through: one whose first field is `foreignField`,
 * that no document made multikey (so each foreign document has exactly one key, the value the
 * join compares), and that indexes every document (not partial or sparse). Unique ones first,
 * then the shortest.
 */
export function joinIndex(foreignField: string, indexes: Iterable<Index>): Index | null {
  let best: Index | null = null;
  for (const index of indexes) {
    if (index.fields[0] !== foreignField || index.multikey || index.spec.partialFilterExpression || index.spec.sparse) continue;
    if (!best || (index.unique && !best.unique) || (index.unique === best.unique && index.fields.length < best.fields.length)) best = index;
  }
  return best;
}
