/** What the services need from the outside world, built once at start and shared by every request. */
import type { Db, MongoClient } from "mongodb";
import type { Clock } from "./clock.js";
import type { Config } from "./config.js";
import type { Collections } from "./db/collections.js";
import type { PageTokens } from "./paging.js";

export interface AppDeps {
  config: Config;
  client: MongoClient;
  db: Db;
  cols: Collections;
  clock: Clock;
  pageTokens: PageTokens;
}
