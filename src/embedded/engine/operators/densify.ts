/**
 * `$densify` with MongoDB's semantics, replacing mingo's (which stops at the last input document
 * instead of filling explicit bounds up to the upper bound, and yields nothing for empty input).
 *
 * The grid starts at the lower bound (explicit), the global minimum (`full`) or each partition's
 * minimum (`partition`) and advances by `step` (in `unit` for dates, UTC calendar for month and
 * longer). Grid values already held by a document are not generated again; documents off the grid,
 * outside the bounds, or without the field pass through. Explicit bounds are [lower, upper) and are
 * filled for every partition seen, or for the whole input when there are no partitions (even when
 * it is empty); `full` and `partition` fill up to and including the maximum. Generated documents
 * carry only the field and the partition fields. Output is sorted by partition fields, then field.
 */
import { Lazy } from "mingo/lazy";
import { compareValues } from "../compare.js";
import { MongoCommandError } from "../errors.js";
import { parameters } from "../limits.js";
import { type Doc, valuesAtPath } from "../paths.js";
import { docComparator } from "../sort.js";


const FIXED_MS: Record<string, number> = {
  millisecond: 1,
  second: 1_000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  week: 604_800_000,
};
const MONTHS: Record<string, number> = { month: 1, quarter: 3, year: 12 };

interface DensifySpec {
  field: string;
  partitionByFields?: string[];
  range: { step: number; unit?: string; bounds: "full" | "partition" | [unknown, unknown] };
}

type Value = number | Date;

/** MongoDB reports $densify problems under numbered "Location" codes. */
const densifyError = (code: number, message: string) => new MongoCommandError(code, `Location${code}`, message);

function check(spec: DensifySpec): void {
  if (spec === null || typeof spec !== "object" || typeof spec.field !== "string" || spec.field.length === 0) {
    throw densifyError(40414, "$densify requires a 'field' string");
  }
  const range = spec.range;
  if (range === null || typeof range !== "object") throw densifyError(40414, "$densify requires a 'range' object");
  if (typeof range.step !== "number" || !(range.step > 0)) throw densifyError(5733401, "the step parameter in a range statement must be a strictly positive numeric value");
  if (range.unit !== undefined) {
    if (!(range.unit in FIXED_MS) && !(range.unit in MONTHS)) throw new MongoCommandError(9, "FailedToParse", `unknown time unit value: ${range.unit}`);
    if (!Number.isInteger(range.step)) throw densifyError(5733402, "The step parameter in a range satement must be a whole number when densifying a date range");
  }
  const b = range.bounds;
  if (Array.isArray(b)) {
    const dates = b.length === 2 && b.every((x) => x instanceof Date);
    const numbers = b.length === 2 && b.every((x) => typeof x === "number");
    if (!dates && !numbers) throw densifyError(5733403, "a bounding array in a range statement must have exactly two elements of the same type");
    if (dates !== (range.unit !== undefined)) throw densifyError(5733412, "a bounding array must contain dates if and only if a unit is specified");
    if (compareValues(b[0], b[1]) > 0) throw densifyError(5733402, "the lower bound must be less than or equal to the upper bound");
  } else if (b !== "full" && b !== "partition") {
    throw densifyError(5946800, "bounds must be 'full', 'partition' or an array of two values");
  }
}

function stepper(step: number, unit: string | undefined): (v: Value) => Value {
  if (unit === undefined) return (v) => (v as number) + step;
  const fixed = FIXED_MS[unit];
  if (fixed !== undefined) return (v) => new Date((v as Date).getTime() + step * fixed);
  const months = MONTHS[unit]! * step;
  return (v) => {
    const d = v as Date;
    const target = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1, d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds()));
    // Clamp the day to the target month's length, as $dateAdd does (Jan 31 + 1 month = Feb 28/29).
    const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
    target.setUTCDate(Math.min(d.getUTCDate(), lastDay));
    return target;
  };
}

const key = (v: Value) => (v instanceof Date ? v.getTime() : v);

/** The first value at `path` (a top-level field read directly). */
function firstValue(doc: Doc, path: string): unknown {
  return path.indexOf(".") < 0 ? (Array.isArray(doc[path]) ? valuesAtPath(doc, path).values[0] : doc[path]) : valuesAtPath(doc, path).values[0];
}

function fieldValue(doc: Doc, field: string, unit: string | undefined): Value | null {
  const v = firstValue(doc, field);
  if (v === undefined || v === null) return null;
  if (unit === undefined ? typeof v !== "number" : !(v instanceof Date)) {
    throw densifyError(5733201, "Densify field type must be numeric with 'unit' unspecified, or a date with 'unit' specified");
  }
  return v as Value;
}

function setPath(target: Doc, path: string, value: unknown): void {
  const parts = path.split(".");
  let at = target;
  for (const p of parts.slice(0, -1)) at = (at[p] ??= {}) as Doc;
  at[parts[parts.length - 1]!] = value;
}

export function densify(docs: Doc[], spec: DensifySpec): Doc[] {
  check(spec);
  const { field, range } = spec;
  const partitions = spec.partitionByFields ?? [];
  const next = stepper(range.step, range.unit);
  const sortSpec: Record<string, number> = {};
  for (const p of partitions) sortSpec[p] = 1;
  sortSpec[field] = 1;
  const sorted = [...docs].sort(docComparator(sortSpec));

  // Group by partition (consecutive after the sort), remembering each partition's values.
  interface Group { template: Doc; values: Value[] }
  const groups = new Map<string, Group>();
  let globalMin: Value | null = null;
  let globalMax: Value | null = null;
  // The partition values of the previous document and its group: documents come sorted by
  // partition, so a run of identical partition values is looked up once.
  let previous: unknown[] | null = null;
  let g: Group | undefined;
  for (const doc of sorted) {
    const v = fieldValue(doc, field, range.unit);
    if (v === null) continue;
    const pvs = partitions.map((p) => firstValue(doc, p));
    if (!previous || !g || pvs.some((x, i) => x !== previous![i])) {
      const id = JSON.stringify(pvs.map((x) => x ?? null));
      g = groups.get(id);
      if (!g) {
        const template: Doc = {};
        partitions.forEach((p, i) => {
          if (pvs[i] !== undefined) setPath(template, p, pvs[i]);
        });
        groups.set(id, (g = { template, values: [] }));
      }
      previous = pvs;
    }
    g.values.push(v);
    if (globalMin === null || compareValues(v, globalMin) < 0) globalMin = v;
    if (globalMax === null || compareValues(v, globalMax) > 0) globalMax = v;
  }
  if (Array.isArray(range.bounds) && partitions.length === 0 && groups.size === 0) groups.set("[]", { template: {}, values: [] });

  const generated: Doc[] = [];
  // internalQueryMaxAllowedDensifyDocs (limits.ts), read once per run as mongod does per stage.
  const maxGenerated = parameters.internalQueryMaxAllowedDensifyDocs;
  for (const g of groups.values()) {
    let from: Value;
    let to: Value;
    let inclusive: boolean;
    if (Array.isArray(range.bounds)) [from, to, inclusive] = [range.bounds[0] as Value, range.bounds[1] as Value, false];
    else if (range.bounds === "full") [from, to, inclusive] = [globalMin!, globalMax!, true];
    else [from, to, inclusive] = [g.values[0]!, g.values[g.values.length - 1]!, true];
    const present = new Set(g.values.map(key));
    for (let v = from; inclusive ? compareValues(v, to) <= 0 : compareValues(v, to) < 0; v = next(v)) {
      if (present.has(key(v))) continue;
      if (generated.length >= maxGenerated) {
        throw densifyError(5897900, `Generated ${generated.length + 1} documents in $densify, which is over the limit of ${maxGenerated}. `
          + "Increase the 'internalQueryMaxAllowedDensifyDocs' parameter to allow more generated documents");
      }
      const doc: Doc = structuredClone(g.template);
      setPath(doc, field, v);
      generated.push(doc);
    }
  }
  if (generated.length === 0) return sorted;
  // Merge generated documents in: stable, so input documents keep their order among equals.
  return [...sorted, ...generated].sort(docComparator(sortSpec));
}

/** The `$densify` pipeline stage for mingo's Context. */
export function $densify(collection: { transform(fn: (items: unknown[]) => unknown): unknown }, spec: DensifySpec): unknown {
  return collection.transform((items) => Lazy(densify(items as Doc[], spec)));
}
