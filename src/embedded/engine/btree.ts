/**
 * sorted-btree is CommonJS with an ES-style `default` export, which Node's ESM loader wraps once
 * more (`ns.default.default`); this module unwraps it so the rest of the code sees the class.
 */
import * as sortedBtree from "sorted-btree";

type BTreeClass = typeof sortedBtree.default.default;
export const BTree: BTreeClass = sortedBtree.default.default;
export type BTree<K, V> = import("sorted-btree/b+tree.js").default<K, V>;
