/**
 * Aggregation expressions compiled once per stage into functions of the document, for stages that
 * evaluate the same expression over many documents (`$group`, `$addFields`/`$set`, `$merge`'s
 * whenMatched pipeline). The common shapes are evaluated here without mingo's generic machinery:
 * a field path (`"$a.b"`, `"$$ROOT.a"`), a `let` variable (`"$$v.a"`), a literal, an object or
 * array of expressions, mingo's `$ifNull`, `$cond` and `$literal` (recognised by identity in the
 * Context, with mingo's semantics), and the engine's operators that compute from their evaluated
 * arguments (`valueOperator`: `$dateTrunc`, the comparisons); any other operator is called directly
 * from the Context with mingo's options, and anything else goes to mingo's `evalExpr`.
 * A path answers exactly as mingo's resolution does: it walks plain documents itself and hands
 * the document to mingo when the path meets an array (or any non-document object) on the way.
 *
 * Two deliberate differences from mingo, both MongoDB's behaviour: an object expression leaves
 * out a field whose value is missing (mingo sets it to `undefined`), and an array expression holds
 * null for a missing element (mingo holds `undefined`). Once sent to a client the results are the same.
 */
import { evalExpr, OpType } from "mingo/core";
import { $cond, $ifNull, $literal } from "mingo/operators/expression";
import type { Options } from "mingo/types";
import { type Doc, isPlainObject } from "./paths.js";

export type Evaluate = (doc: Doc) => unknown;

type OperatorFn = (obj: unknown, expr: unknown, options: Options) => unknown;

/**
 * Marks an engine operator that evaluates its arguments with mingo and then computes from the
 * values only: the compiler evaluates the arguments itself and calls this with them.
 */
export const APPLY_TO_VALUES = Symbol("applyToValues");

export interface ValueOperator extends OperatorFn {
  [APPLY_TO_VALUES]: (args: unknown) => unknown;
}

/** `fn` as an operator whose result depends only on its evaluated arguments, computed by `apply`. */
export function valueOperator(fn: OperatorFn, apply: (args: unknown) => unknown): ValueOperator {
  return Object.assign(fn, { [APPLY_TO_VALUES]: apply });
}

/** What the engine uses of mingo's ComputeOptions (a class mingo does not export). */
export interface ComputeOptions extends Options {
  readonly local: { root?: unknown; groupId?: unknown; [key: string]: unknown };
  update(locals: Record<string, unknown>): ComputeOptions;
}

/**
 * A private copy of the options a stage received (always one of mingo's ComputeOptions), with
 * its own locals: mingo's `ComputeOptions.init`.
 */
export function computeOptionsFrom(options: Options): ComputeOptions {
  const cls = options.constructor as unknown as { init?: (o: Options) => ComputeOptions };
  if (typeof cls.init !== "function") throw new Error("expected mingo's ComputeOptions");
  return cls.init(options);
}

/** Variables mingo binds itself. */
const SYSTEM_VARIABLES = new Set(["ROOT", "CURRENT", "REMOVE", "NOW", "KEEP", "PRUNE", "DESCEND", "CLUSTER_TIME", "SEARCH_META", "USER_ROLES"]);

/** What a path walk answers when it meets an array or another non-document object: let mingo resolve it. */
const FALLBACK = Symbol("fallback");

/** Reads `parts` below a value through plain documents: undefined past a scalar, FALLBACK at anything else. */
function walker(parts: string[]): (v: unknown) => unknown {
  const n = parts.length;
  if (n === 0) return (v) => v;
  return (start) => {
    let v = start;
    for (let i = 0; i < n; i++) {
      if (v === null || typeof v !== "object") return undefined;
      if (!isDocument(v)) return FALLBACK;
      v = v[parts[i]!];
    }
    return v;
  };
}

/** Field names mingo will not read through a plain lookup (it guards the prototype's properties). */
const PROTOTYPE_NAMES = new Set([...Object.getOwnPropertyNames(Object.prototype), "__proto__"]);

function isDocument(v: unknown): v is Doc {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

export class ExpressionCompiler {
  private readonly copts: ComputeOptions;

  constructor(options: Options) {
    this.copts = computeOptionsFrom(options);
  }

  /** The function computing `expr` for a document (the expression's `$$ROOT` and `$$CURRENT`). */
  compile(expr: unknown): Evaluate {
    if (typeof expr === "string") return expr.startsWith("$") ? this.compileVariable(expr) : () => expr;
    if (Array.isArray(expr)) {
      const items = expr.map((e) => this.compile(e));
      return (doc) => {
        const out = new Array(items.length);
        for (let i = 0; i < items.length; i++) {
          const v = items[i]!(doc);
          out[i] = v === undefined ? null : v;
        }
        return out;
      };
    }
    if (isPlainObject(expr)) {
      const keys = Object.keys(expr);
      if (keys.length === 0) return () => ({});
      if (keys[0]!.startsWith("$")) return keys.length === 1 ? this.compileOperator(keys[0]!, expr[keys[0]!], expr) : this.generic(expr);
      if (keys.some((k) => k.startsWith("$") || k === "__proto__")) return this.generic(expr);
      const fields = keys.map((k) => this.compile(expr[k]));
      return (doc) => {
        const out: Doc = {};
        for (let i = 0; i < keys.length; i++) {
          const v = fields[i]!(doc);
          if (v !== undefined) out[keys[i]!] = v;
        }
        return out;
      };
    }
    // Numbers, booleans, null, dates and other BSON values are literals (mingo returns them as they are).
    return () => expr;
  }

  private compileVariable(expr: string): Evaluate {
    let path: string;
    if (expr.startsWith("$$")) {
      const dot = expr.indexOf(".");
      const name = dot < 0 ? expr : expr.slice(0, dot);
      if (name !== "$$ROOT" && name !== "$$CURRENT") return this.compileUserVariable(expr, name.slice(2), dot < 0 ? null : expr.slice(dot + 1));
      if (dot < 0) return (doc) => doc;
      path = expr.slice(dot + 1);
    } else {
      path = expr.slice(1);
    }
    const parts = path.split(".");
    if (parts.some((p) => p === "" || PROTOTYPE_NAMES.has(p))) return this.generic(expr);
    const slow = this.generic(expr);
    const first = parts[0]!;
    if (parts.length === 1) return (doc) => (isDocument(doc) ? doc[first] : slow(doc));
    const rest = walker(parts.slice(1));
    return (doc) => {
      if (!isDocument(doc)) return slow(doc);
      const v = rest(doc[first]);
      return v === FALLBACK ? slow(doc) : v;
    };
  }

  /**
   * `$$name` or `$$name.path`: a `let` variable (of a `$lookup`, a `$merge`, the command), looked
   * up as mingo does (the innermost `let` first, then `$$this`, then the command's), at each
   * evaluation. System variables and names mingo would refuse go to mingo.
   */
  private compileUserVariable(expr: string, name: string, path: string | null): Evaluate {
    const parts = path === null ? [] : path.split(".");
    if (SYSTEM_VARIABLES.has(name) || name === "" || parts.some((p) => p === "" || PROTOTYPE_NAMES.has(p))) return this.generic(expr);
    const slow = this.generic(expr);
    const copts = this.copts;
    const rest = walker(parts);
    const hasOwn = Object.prototype.hasOwnProperty;
    return (doc) => {
      const locals = copts.local.variables as Doc | undefined;
      let base: unknown;
      if (locals && hasOwn.call(locals, name)) base = locals[name];
      else if (name === "this") base = doc;
      else {
        const globals = copts.variables as Doc | undefined;
        if (!globals || !hasOwn.call(globals, name)) return slow(doc);
        base = globals[name];
      }
      const v = rest(base);
      return v === FALLBACK ? slow(doc) : v;
    };
  }

  private compileOperator(op: string, args: unknown, expr: Doc): Evaluate {
    const copts = this.copts;
    const fn = copts.context.getOperator(OpType.EXPRESSION, op) as OperatorFn | null;
    if (!fn) return this.generic(expr);
    // Operators known by identity (so a Context that replaces one is never bypassed).
    const special = fn === $literal ? () => args : fn === $ifNull ? this.compileIfNull(args) : fn === $cond ? this.compileCond(args) : null;
    if (special) return special;
    const apply = (fn as Partial<ValueOperator>)[APPLY_TO_VALUES];
    if (apply) {
      const values = this.compileArguments(args);
      return (doc) => apply(values(doc));
    }
    return (doc) => {
      copts.local.root = doc;
      return fn(doc, args, copts);
    };
  }

  /** mingo's `$ifNull`: the first value that is neither null nor missing, else the last value. */
  private compileIfNull(args: unknown): Evaluate | null {
    if (!Array.isArray(args) || args.length === 0) return null;
    const items = args.map((e) => this.compile(e));
    const last = items.length - 1;
    return (doc) => {
      for (let i = 0; i < last; i++) {
        const v = items[i]!(doc);
        if (v !== null && v !== undefined) return v;
      }
      return items[last]!(doc);
    };
  }

  /** mingo's `$cond` (`[if, then, else]` or `{if, then, else}`), with mingo's truthiness (strict mode: "" is true). */
  private compileCond(args: unknown): Evaluate | null {
    let parts: unknown[];
    if (Array.isArray(args)) {
      if (args.length !== 3) return null;
      parts = args;
    } else if (isPlainObject(args)) {
      parts = [args.if, args.then, args.else];
    } else return null;
    const [test, then, otherwise] = parts.map((e) => this.compile(e)) as [Evaluate, Evaluate, Evaluate];
    const strict = this.copts.useStrictMode;
    return (doc) => {
      const c = test(doc);
      return !!c || (strict && c === "") ? then(doc) : otherwise(doc);
    };
  }

  /**
   * The arguments of an operator, as mingo's `evalExpr` gives them to it: an array of values
   * (missing stays missing), an object of values, or one value.
   */
  private compileArguments(args: unknown): Evaluate {
    if (Array.isArray(args)) {
      const items = args.map((e) => this.compile(e));
      return (doc) => {
        const out = new Array(items.length);
        for (let i = 0; i < items.length; i++) out[i] = items[i]!(doc);
        return out;
      };
    }
    return this.compile(args);
  }

  /** mingo's evaluation of `expr` with the document as `$$ROOT`. */
  generic(expr: unknown): Evaluate {
    const copts = this.copts;
    return (doc) => {
      copts.local.root = doc;
      return evalExpr(doc, expr, copts);
    };
  }
}
