/**
 * sorted-btree is CommonJS with an ES-style `default` export. Node's ESM loader wraps it once more
 * (`ns.default.default`) while bundlers such as Vite unwrap it (`ns.default`): accept both.
 */
import * as sortedBtree from "sorted-btree";

type BTreeClass = typeof sortedBtree.default.default;
const exported = sortedBtree.default as unknown as BTreeClass | { default: BTreeClass };
export const BTree: BTreeClass = typeof exported === "function" ? exported : exported.default;
export type BTree<K, V> = import("sorted-btree/b+tree.js").default<K, V>;
