/**
 * `$project` with MongoDB's semantics (projection_ast parsing, the InclusionNode and ExclusionNode
 * executors), its computed fields compiled once (expressions.ts), replacing mingo's, which
 * evaluated every field through its generic machinery and copied what it included.
 *
 * Parsing, as MongoDB parses an aggregation projection:
 * - `<path>: true` or a non-zero number (NaN too) includes, `false`/`0` excludes; an object whose
 *   only key is an operator is an expression, any other object a nested projection (`{a: {b: 1}}`
 *   is `{"a.b": 1}`); anything else (`"$x"`, `"text"`, null, arrays, dates...) is a computed field;
 * - `_id` is included unless the projection says otherwise (`_id: 0`, `_id: <expr>`, `"_id.x"`);
 *   `_id: 0` alone is an exclusion projection, `_id: 1` with exclusions is allowed;
 * - errors: exclusion in an inclusion projection 31254, inclusion in an exclusion projection 31253,
 *   an operator expression in an exclusion projection 31252 and any other computed field 31310,
 *   path collisions 31249/31250, an empty sub-projection 51270, an empty projection 51272.
 *
 * Inclusion (with computed fields): included fields come out in the input document's order, then
 * computed fields in the specification's order (a computed field under an included path is set in
 * place). Through arrays an included path applies to every element: documents are projected,
 * nested arrays recursed into, other values dropped (`{"a.b": 1}` on `{a: [1, {b: 2, c: 3}, {}]}`
 * is `{a: [{b: 2}, {}]}`); a path through a non-document is dropped (`{a: 5}` loses `a`), one into
 * a document without the field leaves `{}`. A computed dotted field is set in every element of an
 * array on its path and replaces a non-document (`{"a.b": "$x"}` on `{a: [{}, {}]}` is
 * `{a: [{b: x}, {b: x}]}`). A missing value (`"$nope"`, `"$$REMOVE"`) leaves the field out.
 *
 * Exclusion: the document less the excluded paths, in its own order; through arrays every element
 * (nested arrays too) loses the path, values that are not documents stay.
 *
 * Output documents are new objects; values that are not changed are shared with the input, which is
 * never modified (mingo's exclusion removed dotted paths from the input's nested objects).
 *
 * Where mingo differs and the engine follows MongoDB: field order (mingo: inclusions sorted by
 * path, `_id` last), a computed dotted field through arrays (mingo sets one object), a dotted
 * exclusion through nested arrays (mingo leaves nested arrays alone), the empty projection (mingo
 * passes documents through) and the error codes. Specifications this does not parse are mingo's:
 * positional `a.$`, the find-only `$slice`/`$elemMatch` projection operators, field names starting
 * with `$` or with empty parts, and a top-level value that is not an object.
 */
import { OpType } from "mingo/core";
import type { Iterator } from "mingo/lazy";
import { $project as mingoProject } from "mingo/operators/pipeline";
import type { Options } from "mingo/types";
import { type Evaluate, ExpressionCompiler } from "../expressions.js";
import { type Doc, isPlainObject } from "../paths.js";
import { exprError, isTruthy, isWideNumber, operands } from "./support.js";

/** The parsed projection (projection_ast): a tree of paths. */
type Ast = Inner | { kind: "include" } | { kind: "exclude" } | { kind: "expr"; expr: unknown };
interface Inner {
  kind: "inner";
  children: Map<string, Ast>;
}

/** What `parse` cannot handle: mingo's `$project` runs the stage. */
class Unsupported extends Error {}

const PROTOTYPE_NAMES = new Set([...Object.getOwnPropertyNames(Object.prototype), "__proto__"]);
/** mingo's find-projection operators, which MongoDB refuses in aggregation: mingo's, as before. */
const FIND_ONLY_OPERATORS = new Set(["$elemMatch", "$slice"]);

function splitPath(path: string): string[] {
  const parts = path.split(".");
  for (const p of parts) if (p === "" || p.startsWith("$") || PROTOTYPE_NAMES.has(p)) throw new Unsupported();
  return parts;
}

/** projection_ast's addNodeAtPath: a node at `path` below `root`, through (or creating) inner nodes. */
function addAt(root: Inner, path: string, parts: string[], node: Ast): void {
  let inner = root;
  for (let i = 0; i < parts.length - 1; i++) {
    const child = inner.children.get(parts[i]!);
    if (!child) {
      const created: Inner = { kind: "inner", children: new Map() };
      inner.children.set(parts[i]!, created);
      inner = created;
    } else if (child.kind === "inner") inner = child;
    else throw exprError(31249, `Path collision at ${path} remaining portion ${parts.slice(i + 1).join(".")}`);
  }
  const last = parts[parts.length - 1]!;
  if (inner.children.has(last)) throw exprError(31250, `Path collision at ${path}`);
  inner.children.set(last, node);
}

/** projection_ast's findLastInnerNodeOnPath, else a new inner node added at the path. */
function innerAt(root: Inner, path: string, parts: string[]): Inner {
  let found: Inner | null = root;
  for (const p of parts) {
    const child: Ast | undefined = found.children.get(p);
    if (child?.kind !== "inner") {
      found = null;
      break;
    }
    found = child;
  }
  if (found) return found;
  const created: Inner = { kind: "inner", children: new Map() };
  addAt(root, path, parts, created);
  return created;
}

interface Parsed {
  type: "inclusion" | "exclusion";
  root: Inner;
}

/** A projection specification parsed as MongoDB parses it (projection_parser.cpp), or Unsupported. */
function parse(spec: Doc, context: Options["context"]): Parsed {
  const keys = Object.keys(spec);
  if (keys.length === 0) throw exprError(51272, "projection specification must have at least one field");
  const root: Inner = { kind: "inner", children: new Map() };
  let type: "inclusion" | "exclusion" | null = null;
  let idSpecified = false;
  let idIncluded = false;
  let idExcluded = false;

  const element = (key: string, value: unknown, parent: Inner, topLevel: boolean): void => {
    if (key.endsWith(".$") || key.includes(".$.")) throw new Unsupported();
    const parts = splitPath(key);
    if (isPlainObject(value)) {
      const subKeys = Object.keys(value);
      if (subKeys.length === 0) throw exprError(51270, `Invalid empty sub-projection: ${key}`);
      if (subKeys.length === 1 && subKeys[0]!.startsWith("$")) {
        const op = subKeys[0]!;
        // mingo's find-projection $slice takes numbers only (else it is the $slice expression).
        const findOnly = op === "$slice" ? operands(value[op]).every((x) => typeof x === "number") : FIND_ONLY_OPERATORS.has(op);
        if (findOnly && context.getOperator(OpType.PROJECTION, op)) throw new Unsupported();
        if (type === "exclusion") throw exprError(31252, "Cannot use expression other than $meta in exclusion projection");
        type = "inclusion";
        addAt(parent, key, parts, { kind: "expr", expr: value });
        return;
      }
      const inner = innerAt(parent, key, parts);
      for (const k of subKeys) element(k, value[k], inner, false);
      return;
    }
    const isId = topLevel && key === "_id";
    if (typeof value === "boolean" || typeof value === "number" || isWideNumber(value)) {
      if (isTruthy(value)) {
        addAt(parent, key, parts, { kind: "include" });
        if (isId) idIncluded = true;
        else {
          if (type === "exclusion") throw exprError(31253, `Cannot do inclusion on field ${key} in exclusion projection`);
          type = "inclusion";
        }
      } else {
        addAt(parent, key, parts, { kind: "exclude" });
        if (isId) idExcluded = true;
        else {
          if (type === "inclusion") throw exprError(31254, `Cannot do exclusion on field ${key} in inclusion projection`);
          type = "exclusion";
        }
      }
      return;
    }
    addAt(parent, key, parts, { kind: "expr", expr: value });
    if (type === "exclusion") throw exprError(31310, `Cannot use an expression ${describeField(key, value)} in an exclusion projection`);
    type = "inclusion";
  };

  for (const key of keys) {
    if (key === "_id" || key.startsWith("_id.")) idSpecified = true;
    element(key, spec[key], root, true);
  }
  // Only _id: {_id: 1} includes, {_id: 0} excludes.
  const resolved: "inclusion" | "exclusion" = type ?? (idIncluded ? "inclusion" : idExcluded ? "exclusion" : "exclusion");
  if (!idSpecified && resolved === "inclusion") root.children.set("_id", { kind: "include" });
  if (resolved === "exclusion" && idIncluded) root.children.delete("_id");
  return { type: resolved, root };
}

function describeField(key: string, value: unknown): string {
  let shown: string;
  try {
    shown = JSON.stringify(value) ?? String(value);
  } catch {
    shown = String(value);
  }
  return `${key}: ${shown}`;
}

/** An InclusionNode: one level of an inclusion projection. */
class InclusionNode {
  /** Fields copied from the input. */
  readonly included = new Set<string>();
  readonly children = new Map<string, InclusionNode>();
  /** Computed fields at this level and children with computed fields below, in specification order. */
  readonly computed: Array<{ name: string; value: Evaluate | null; child: InclusionNode | null }> = [];
  /** How many input fields this level reads (it stops looking once it has found them all). */
  fieldsToProject = 0;
  hasComputed = false;

  constructor(ast: Inner, compile: (expr: unknown) => Evaluate) {
    for (const [name, node] of ast.children) {
      if (node.kind === "include") this.included.add(name);
      else if (node.kind === "expr") {
        this.computed.push({ name, value: compile(node.expr), child: null });
        this.hasComputed = true;
      } else if (node.kind === "inner") {
        const child = new InclusionNode(node, compile);
        this.children.set(name, child);
        if (child.hasComputed) {
          this.computed.push({ name, value: null, child });
          this.hasComputed = true;
        }
      }
      // An excluded _id in an inclusion projection is simply not included.
    }
    this.fieldsToProject = this.included.size + this.children.size;
  }

  /** The included fields of `input` into `out`, in the input's order. */
  project(input: Doc, out: Doc): void {
    const wanted = this.fieldsToProject;
    if (wanted === 0) return;
    let found = 0;
    const included = this.included;
    const children = this.children;
    for (const key in input) {
      if (included.has(key)) {
        const v = input[key];
        if (v !== undefined) out[key] = v;
      } else {
        const child = children.get(key);
        if (child === undefined) continue;
        const v = child.projectValue(input[key]);
        if (v !== undefined) out[key] = v;
      }
      if (++found === wanted) break;
    }
  }

  /** applyProjectionsToValue: a document projected, an array element by element, anything else dropped. */
  projectValue(v: unknown): unknown {
    if (isPlainObject(v)) {
      const out: Doc = {};
      this.project(v, out);
      return out;
    }
    if (Array.isArray(v)) {
      const out: unknown[] = [];
      for (const x of v) {
        const y = this.projectValue(x);
        if (y !== undefined) out.push(y);
      }
      return out;
    }
    return undefined;
  }

  /** applyExpressions: the computed fields of this level into `out` (a document this projection made). */
  compute(root: Doc, out: Doc): void {
    const computed = this.computed;
    for (let i = 0; i < computed.length; i++) {
      const c = computed[i]!;
      const v = c.value ? c.value(root) : c.child!.computeValue(root, out[c.name]);
      if (v === undefined) delete out[c.name];
      else out[c.name] = v;
    }
  }

  /** applyExpressionsToValue: into a document, into each element of an array, else a new document. */
  computeValue(root: Doc, v: unknown): unknown {
    if (isPlainObject(v)) {
      this.compute(root, v);
      return v;
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) v[i] = this.computeValue(root, v[i]);
      return v;
    }
    const out: Doc = {};
    this.compute(root, out);
    return out;
  }
}

/** An ExclusionNode: one level of an exclusion projection. */
class ExclusionNode {
  readonly excluded = new Set<string>();
  readonly children = new Map<string, ExclusionNode>();

  constructor(ast: Inner) {
    for (const [name, node] of ast.children) {
      if (node.kind === "exclude") this.excluded.add(name);
      else if (node.kind === "inner") this.children.set(name, new ExclusionNode(node));
    }
  }

  project(input: Doc): Doc {
    const out: Doc = {};
    const excluded = this.excluded;
    const children = this.children;
    for (const key in input) {
      if (excluded.has(key)) continue;
      const v = input[key];
      if (v === undefined) continue;
      const child = children.get(key);
      out[key] = child === undefined ? v : child.projectValue(v);
    }
    return out;
  }

  projectValue(v: unknown): unknown {
    if (isPlainObject(v)) return this.project(v);
    if (Array.isArray(v)) return v.map((x) => this.projectValue(x));
    return v;
  }
}

/**
 * The stage's function of a document, or null when mingo's `$project` must run it. Throws
 * MongoDB's errors for specifications MongoDB refuses.
 */
export function compileProjection(spec: unknown, options: Options): ((doc: Doc) => Doc) | null {
  if (!isPlainObject(spec)) return null;
  let parsed: Parsed;
  try {
    parsed = parse(spec, options.context);
  } catch (err) {
    if (err instanceof Unsupported) return null;
    throw err;
  }
  if (parsed.type === "exclusion") {
    const node = new ExclusionNode(parsed.root);
    return (doc) => node.project(doc);
  }
  const compiler = new ExpressionCompiler(options);
  const node = new InclusionNode(parsed.root, (expr) => compiler.compile(expr));
  if (!node.hasComputed) {
    return (doc) => {
      const out: Doc = {};
      node.project(doc, out);
      return out;
    };
  }
  return (doc) => {
    const out: Doc = {};
    node.project(doc, out);
    node.compute(doc, out);
    return out;
  };
}

/**
 * Whether mingo's `$project` would run `spec` (a specification this module does not parse) and
 * could write into the input's nested objects doing so (a dotted or nested path).
 */
export function projectionMayWriteNested(spec: unknown, options: Options): boolean {
  if (!isPlainObject(spec)) return false;
  try {
    parse(spec, options.context);
    return false;
  } catch (err) {
    if (!(err instanceof Unsupported)) return false;
    return Object.entries(spec).some(([k, v]) => k.includes(".") || isPlainObject(v));
  }
}

export function $project(collection: Iterator, spec: unknown, options: Options): Iterator {
  const project = compileProjection(spec, options);
  if (!project) return mingoProject(collection, spec as Doc, options);
  return collection.map((doc) => project(doc as Doc));
}
