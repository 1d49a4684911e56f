/**
 * Aggregation expressions compiled once per stage into functions of the document, for stages that
 * evaluate the same expression over many documents (`$group`, `$project`, `$addFields`/`$set`,
 * `$replaceWith`/`$replaceRoot`, `$match`'s `$expr`, `$merge`'s whenMatched pipeline). What is
 * evaluated here without mingo's generic machinery:
 * - a field path (`"$a.b"`, `"$$ROOT.a"`), a variable (`"$$v.a"`), a literal, an object or array
 *   of expressions;
 * - the engine's operators that compile themselves (`engineOperator`, the `COMPILE` hook): the
 *   arithmetic, logic, array, variable and conditional operators of operators/arithmetic.ts,
 *   logic.ts and arrays.ts, with MongoDB's semantics. Their sub-expressions are compiled in the
 *   operator's scope: `$let`, `$map`, `$filter` and `$reduce` bind their variables to cells the
 *   compiled sub-expressions read (lexical scoping, as MongoDB resolves variables at parse time);
 * - the engine's operators that compute from their evaluated arguments (`valueOperator`:
 *   `$dateTrunc`, the comparisons).
 * Any other operator is called directly from the Context with mingo's options, and anything else
 * goes to mingo's `evalExpr`; inside a scope, mingo is given the scope's variables as `let`
 * variables of its own. Each engine operator also works when mingo evaluates it (its plain
 * `(obj, expr, options)` form compiles against mingo's evaluation), so both paths agree.
 * A path answers exactly as mingo's resolution does: it walks plain documents itself and hands
 * the document to mingo when the path meets an array (or any non-document object) on the way.
 *
 * Two deliberate differences from mingo, both MongoDB's behaviour: an object expression leaves
 * out a field whose value is missing (mingo sets it to `undefined`), and an array expression holds
 * null for a missing element (mingo holds `undefined`). Once sent to a client the results are the same.
 */
import { evalExpr, OpType } from "mingo/core";
import type { Options } from "mingo/types";
import { type Doc, isPlainObject } from "./paths.js";

export type Evaluate = (doc: Doc) => unknown;

/** An operator as mingo calls it. */
export type OperatorFn = (obj: unknown, expr: unknown, options: Options) => unknown;

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

/** A variable's value while a scope that binds it is being evaluated. */
export interface Cell {
  value: unknown;
}

/** Where an operator compiles its sub-expressions. */
export interface Scope {
  /** mingo's options of the stage (for the operators handed back to mingo with their values). */
  readonly options: ComputeOptions;
  compile(expr: unknown): Evaluate;
  /** A scope inside this one where `names` are bound to the returned cells (in order). */
  bind(names: readonly string[]): { scope: Scope; cells: Cell[] };
}

/** Marks an engine operator that compiles itself: its argument as written and the scope, to a function of the document (null: mingo's). */
export const COMPILE = Symbol("compile");
export type OperatorCompiler = (args: unknown, scope: Scope) => Evaluate | null;

export interface EngineOperator extends OperatorFn {
  [COMPILE]: OperatorCompiler;
}

/**
 * An expression operator defined once by how it compiles. Evaluated by mingo (inside a stage the
 * engine does not compile, or a mingo operator's arguments), it compiles against mingo's evaluation
 * of its operands; a shape `compile` leaves alone (null) is `fallback`'s, and so is any call where
 * mingo evaluates the operator over an array of documents (an accumulator, in `$bucket`).
 */
export function engineOperator(compile: OperatorCompiler, fallback: OperatorFn): EngineOperator {
  const fn: OperatorFn = (obj, expr, options) => {
    if (Array.isArray(obj)) return fallback(obj, expr, options);
    const evaluate = compile(expr, new MingoScope(obj, options as ComputeOptions));
    return evaluate ? evaluate(obj as Doc) : fallback(obj, expr, options);
  };
  return Object.assign(fn, { [COMPILE]: compile });
}

/** What the engine uses of mingo's ComputeOptions (a class mingo does not export). */
export interface ComputeOptions extends Options {
  readonly local: { root?: unknown; groupId?: unknown; variables?: Doc; [key: string]: unknown };
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

/** Whether `options` are mingo's ComputeOptions (what the compiler needs). */
export function isComputeOptions(options: Options): boolean {
  return typeof (options?.constructor as unknown as { init?: unknown })?.init === "function";
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

/** The variables bound by the compiled scopes around an expression, innermost first. */
interface Bindings {
  readonly cells: ReadonlyMap<string, Cell>;
  readonly parent: Bindings | null;
}

function lookup(bindings: Bindings | null, name: string): Cell | undefined {
  for (let b = bindings; b; b = b.parent) {
    const cell = b.cells.get(name);
    if (cell) return cell;
  }
  return undefined;
}

/** The bound variables as one object, inner bindings over outer ones. */
function variablesOf(bindings: Bindings): Doc {
  const chain: Bindings[] = [];
  for (let b: Bindings | null = bindings; b; b = b.parent) chain.push(b);
  const out: Doc = {};
  for (let i = chain.length - 1; i >= 0; i--) for (const [name, cell] of chain[i]!.cells) out[name] = cell.value;
  return out;
}

export class ExpressionCompiler {
  private readonly copts: ComputeOptions;
  private readonly rootScope: Scope;

  constructor(options: Options) {
    this.copts = computeOptionsFrom(options);
    this.rootScope = this.scope(null);
  }

  /** The function computing `expr` for a document (the expression's `$$ROOT` and `$$CURRENT`). */
  compile(expr: unknown): Evaluate {
    return this.compileIn(expr, null);
  }

  private scope(bindings: Bindings | null): Scope {
    return {
      options: this.copts,
      compile: (expr) => this.compileIn(expr, bindings),
      bind: (names) => {
        const cells = names.map((): Cell => ({ value: undefined }));
        const map = new Map<string, Cell>();
        names.forEach((n, i) => map.set(n, cells[i]!));
        return { scope: this.scope({ cells: map, parent: bindings }), cells };
      },
    };
  }

  private compileIn(expr: unknown, bindings: Bindings | null): Evaluate {
    if (typeof expr === "string") return expr.startsWith("$") ? this.compileVariable(expr, bindings) : () => expr;
    if (Array.isArray(expr)) {
      const items = expr.map((e) => this.compileIn(e, bindings));
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
      if (keys[0]!.startsWith("$")) return keys.length === 1 ? this.compileOperator(keys[0]!, expr[keys[0]!], expr, bindings) : this.generic(expr, bindings);
      if (keys.some((k) => k.startsWith("$") || k === "__proto__")) return this.generic(expr, bindings);
      const fields = keys.map((k) => this.compileIn(expr[k], bindings));
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

  private compileVariable(expr: string, bindings: Bindings | null): Evaluate {
    let path: string;
    if (expr.startsWith("$$")) {
      const dot = expr.indexOf(".");
      const name = dot < 0 ? expr : expr.slice(0, dot);
      if (name !== "$$ROOT" && name !== "$$CURRENT") return this.compileUserVariable(expr, name.slice(2), dot < 0 ? null : expr.slice(dot + 1), bindings);
      if (dot < 0) return (doc) => doc;
      path = expr.slice(dot + 1);
    } else {
      path = expr.slice(1);
    }
    const parts = path.split(".");
    if (parts.some((p) => p === "" || PROTOTYPE_NAMES.has(p))) return this.generic(expr, bindings);
    const slow = this.generic(expr, bindings);
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
   * `$$name` or `$$name.path`: a variable of a compiled `$let`/`$map`/`$filter`/`$reduce` around
   * the expression, else a `let` variable (of a `$lookup`, a `$merge`, the command), looked up as
   * mingo does (the innermost `let` first, then `$$this`, then the command's), at each evaluation.
   * System variables and names mingo would refuse go to mingo.
   */
  private compileUserVariable(expr: string, name: string, path: string | null, bindings: Bindings | null): Evaluate {
    const parts = path === null ? [] : path.split(".");
    if (SYSTEM_VARIABLES.has(name) || name === "" || parts.some((p) => p === "" || PROTOTYPE_NAMES.has(p))) return this.generic(expr, bindings);
    const slow = this.generic(expr, bindings);
    const rest = walker(parts);
    const cell = lookup(bindings, name);
    if (cell) {
      return (doc) => {
        const v = rest(cell.value);
        return v === FALLBACK ? slow(doc) : v;
      };
    }
    const copts = this.copts;
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

  private compileOperator(op: string, args: unknown, expr: Doc, bindings: Bindings | null): Evaluate {
    const copts = this.copts;
    const fn = copts.context.getOperator(OpType.EXPRESSION, op) as OperatorFn | null;
    if (!fn) return this.generic(expr, bindings);
    const compile = (fn as Partial<EngineOperator>)[COMPILE];
    if (compile) {
      const evaluate = compile(args, bindings ? this.scope(bindings) : this.rootScope);
      if (evaluate) return evaluate;
    }
    const apply = (fn as Partial<ValueOperator>)[APPLY_TO_VALUES];
    if (apply) {
      const values = this.compileArguments(args, bindings);
      return (doc) => apply(values(doc));
    }
    if (bindings) return this.generic(expr, bindings);
    return (doc) => {
      copts.local.root = doc;
      return fn(doc, args, copts);
    };
  }

  /**
   * The arguments of an operator, as mingo's `evalExpr` gives them to it: an array of values
   * (missing stays missing), an object of values, or one value.
   */
  private compileArguments(args: unknown, bindings: Bindings | null): Evaluate {
    if (Array.isArray(args)) {
      const items = args.map((e) => this.compileIn(e, bindings));
      return (doc) => {
        const out = new Array(items.length);
        for (let i = 0; i < items.length; i++) out[i] = items[i]!(doc);
        return out;
      };
    }
    return this.compileIn(args, bindings);
  }

  /** mingo's evaluation of `expr` with the document as `$$ROOT` (and the scope's variables as its own). */
  generic(expr: unknown, bindings: Bindings | null = null): Evaluate {
    const copts = this.copts;
    if (bindings) {
      return (doc) => {
        const options = computeOptionsFrom(copts).update({ root: doc, variables: variablesOf(bindings) });
        return evalExpr(doc, expr, options);
      };
    }
    return (doc) => {
      copts.local.root = doc;
      return evalExpr(doc, expr, copts);
    };
  }
}

/** The scope of an operator mingo evaluates: its operands are mingo's evaluation, its variables mingo's `let` variables. */
class MingoScope implements Scope {
  constructor(
    private readonly obj: unknown,
    readonly options: ComputeOptions,
    private readonly bound: ReadonlyArray<readonly [string, Cell]> = [],
  ) {}

  compile(expr: unknown): Evaluate {
    const obj = this.obj;
    if (this.bound.length === 0) {
      const options = this.options;
      return () => evalExpr(obj, expr, options);
    }
    const bound = this.bound;
    const options = computeOptionsFrom(this.options).update({ variables: {} });
    return () => {
      const variables = options.local.variables as Doc;
      for (const [name, cell] of bound) variables[name] = cell.value;
      return evalExpr(obj, expr, options);
    };
  }

  bind(names: readonly string[]): { scope: Scope; cells: Cell[] } {
    const cells = names.map((): Cell => ({ value: undefined }));
    const bound = [...this.bound, ...names.map((n, i) => [n, cells[i]!] as const)];
    return { scope: new MingoScope(this.obj, this.options, bound), cells };
  }
}
