/** All databases of one embedded server, by name, and their collections. */
import { Collection } from "./collection.js";
import { ErrorCodes, MongoCommandError } from "./errors.js";

const NAME_FORBIDDEN = /[\0$]/;

export class Store {
  readonly dbs = new Map<string, Map<string, Collection>>();

  collection(db: string, name: string): Collection | undefined {
    return this.dbs.get(db)?.get(name);
  }

  /** The collection, created (implicitly, as MongoDB does on first write) when missing. */
  ensureCollection(db: string, name: string): { coll: Collection; created: boolean } {
    const existing = this.collection(db, name);
    if (existing) return { coll: existing, created: false };
    validateNames(db, name);
    let colls = this.dbs.get(db);
    if (!colls) {
      colls = new Map();
      this.dbs.set(db, colls);
    }
    const coll = new Collection(db, name);
    colls.set(name, coll);
    return { coll, created: true };
  }

  /** Puts `coll` in place of whatever had its name (the atomic swap behind `$out`). */
  install(coll: Collection): void {
    this.ensureCollection(coll.db, coll.name);
    this.dbs.get(coll.db)!.set(coll.name, coll);
  }

  dropCollection(db: string, name: string): boolean {
    const colls = this.dbs.get(db);
    const dropped = colls?.delete(name) ?? false;
    if (colls && colls.size === 0) this.dbs.delete(db);
    return dropped;
  }

  dropDatabase(db: string): void {
    this.dbs.delete(db);
  }
}

function validateNames(db: string, name: string): void {
  if (!db || NAME_FORBIDDEN.test(db) || /[/\\. "]/.test(db)) {
    throw new MongoCommandError(ErrorCodes.InvalidNamespace, "InvalidNamespace", `Invalid database name: '${db}'`);
  }
  if (!name || NAME_FORBIDDEN.test(name) || name.startsWith("system.")) {
    throw new MongoCommandError(ErrorCodes.InvalidNamespace, "InvalidNamespace", `Invalid collection name: '${name}'`);
  }
}
