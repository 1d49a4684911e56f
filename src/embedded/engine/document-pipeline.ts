/**
 * A pipeline that maps one document to one document (`$merge`'s whenMatched pipeline), compiled
 * once and run per document, where building and running a mingo Aggregator for each document
 * cost more than the work. Only pipelines of `$set`/`$addFields` (top-level fields) and
 * `$replaceWith`/`$replaceRoot` stages are compiled (anything else: null, and the caller runs
 * mingo); their expressions read the variables object given here at each run, so the caller
 * rebinds the variables by changing that object's fields between documents.
 */
import type { Options } from "mingo/types";
import { type Evaluate, ExpressionCompiler } from "./expressions.js";
import { checkReplacement } from "./operators/replaceRoot.js";
import { type Doc, isPlainObject } from "./paths.js";

const PROTOTYPE_NAMES = new Set([...Object.getOwnPropertyNames(Object.prototype), "__proto__"]);
const isPlainName = (name: string) => name !== "" && !name.includes(".") && !name.startsWith("$") && !PROTOTYPE_NAMES.has(name);

type Step = (doc: Doc) => Doc;

function setFields(compiler: ExpressionCompiler, spec: Doc): Step | null {
  const names = Object.keys(spec);
  if (!names.every(isPlainName)) return null;
  const values: Evaluate[] = names.map((n) => compiler.compile(spec[n]));
  return (doc) => {
    const out: Doc = { ...doc };
    for (let i = 0; i < names.length; i++) {
      const v = values[i]!(doc);
      if (v !== undefined) out[names[i]!] = v;
      else delete out[names[i]!];
    }
    return out;
  };
}

function replaceWith(compiler: ExpressionCompiler, expr: unknown, stage: "$replaceWith" | "$replaceRoot"): Step {
  const value = compiler.compile(expr);
  const what = stage === "$replaceRoot" ? "'newRoot' expression" : "'replacement document'";
  return (doc) => checkReplacement(value(doc), what, doc);
}

/** The pipeline as one function of the document, or null when it has a stage compiled nowhere here. */
export function compileDocumentPipeline(stages: Doc[], options: Options): ((doc: Doc) => Doc) | null {
  const compiler = new ExpressionCompiler(options);
  const steps: Step[] = [];
  for (const stage of stages) {
    const keys = Object.keys(stage);
    if (keys.length !== 1) return null;
    const name = keys[0]!;
    const spec = stage[name];
    let step: Step | null = null;
    if ((name === "$set" || name === "$addFields") && isPlainObject(spec)) step = setFields(compiler, spec);
    else if (name === "$replaceWith") step = replaceWith(compiler, spec, "$replaceWith");
    else if (name === "$replaceRoot" && isPlainObject(spec) && Object.keys(spec).length === 1 && "newRoot" in spec) {
      step = replaceWith(compiler, spec.newRoot, "$replaceRoot");
    }
    if (!step) return null;
    steps.push(step);
  }
  return (doc) => {
    let out = doc;
    for (const step of steps) out = step(out);
    return out;
  };
}
