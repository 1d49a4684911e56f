/**
 * Every collection has a documented shard key (src/db/shard-keys.ts) that a sharded cluster can
 * enforce: each unique index starts with it (MongoDB refuses to shard otherwise, or cannot keep the
 * index unique across shards), and no pipeline writes with `$merge`, whose `on` fields would also
 * have to contain it (derived records are written by the ingest transaction instead).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { COLLECTIONS, INDEX_SPECS } from "../../src/db/collections.js";
import { SHARD_KEYS } from "../../src/db/shard-keys.js";

const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith(".ts") ? [path] : [];
  });

describe("shard keys", () => {
  it("name one for every collection", () => {
    expect(Object.keys(SHARD_KEYS).sort()).toEqual(Object.values(COLLECTIONS).sort());
  });

  for (const [collection, key] of Object.entries(SHARD_KEYS)) {
    it(`${collection}: every unique index starts with ${JSON.stringify(key)}`, () => {
      const fields = Object.keys(key);
      for (const index of INDEX_SPECS[collection] ?? []) {
        if (!index.unique) continue;
        expect(Object.keys(index.key).slice(0, fields.length), index.name).toEqual(fields);
      }
      // `{_id: 1}`: the _id index is the only unique one.
      if (fields[0] === "_id") expect((INDEX_SPECS[collection] ?? []).filter((i) => i.unique)).toEqual([]);
    });
  }

  it("leave no $merge in the service (its `on` would have to contain the target's shard key)", () => {
    const offenders = files("src").filter((f) => !f.startsWith(join("src", "embedded")) && /\$merge\b/.test(readFileSync(f, "utf8")));
    expect(offenders).toEqual([]);
  });
});
