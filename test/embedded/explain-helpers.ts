import type { Document } from "mongodb";

/**
 * Reading explain output the same way against a real mongod and the embedded server: searches
 * the whole document, so it does not matter whether a plan sits at `queryPlanner.winningPlan`,
 * under `stages[0].$cursor`, inside a `$unionWith` sub-pipeline, or in a `$lookup`'s `indexesUsed`.
 */

function walk(node: unknown, visit: (doc: Document) => void): void {
  if (Array.isArray(node)) {
    for (const x of node) walk(x, visit);
    return;
  }
  if (node === null || typeof node !== "object" || node instanceof Date) return;
  visit(node as Document);
  for (const v of Object.values(node)) walk(v, visit);
}

/** Every index the explain output names: IXSCAN `indexName`s and `$lookup` `indexesUsed`, in order of appearance, without repeats. */
export function indexesUsed(explain: unknown): string[] {
  const names: string[] = [];
  walk(explain, (doc) => {
    if (typeof doc.indexName === "string") names.push(doc.indexName);
    if (Array.isArray(doc.indexesUsed)) names.push(...doc.indexesUsed.filter((n): n is string => typeof n === "string"));
  });
  return [...new Set(names)];
}

/** Whether any plan in the explain output scans a whole collection. */
export function scansCollection(explain: unknown): boolean {
  let found = false;
  walk(explain, (doc) => {
    if (doc.stage === "COLLSCAN" || (typeof doc.collectionScans === "number" && doc.collectionScans > 0)) found = true;
  });
  return found;
}

/** The first stage of an aggregate explain (`stages`, at any depth) whose operator is `name`, e.g. "$unionWith". */
export function stageNamed(explain: unknown, name: string): Document | undefined {
  let hit: Document | undefined;
  walk(explain, (doc) => {
    if (!hit && name in doc && Object.keys(doc)[0] === name) hit = doc;
  });
  return hit;
}

/** `totalDocsExamined` of every executionStats (or `$lookup` stage) inside `node`, summed. */
export function docsExamined(node: unknown): number {
  let total = 0;
  walk(node, (doc) => {
    if (typeof doc.totalDocsExamined === "number") total += doc.totalDocsExamined;
  });
  return total;
}
