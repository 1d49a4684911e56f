/**
 * A collection's records by record id. A B+tree rather than a Map: ids only grow, so its order is
 * insertion order (as a Map's), and `clone()` is O(1) copy-on-write — a transaction's snapshot of
 * a collection of any size costs nothing until one side writes.
 */
import { BTree } from "./btree.js";

export class RecordMap<V> extends BTree<number, V> {
  [Symbol.iterator](): IterableIterator<[number, V]> {
    return this.entries();
  }
}
