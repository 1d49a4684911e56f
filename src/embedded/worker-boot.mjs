// Worker threads do not inherit tsx's module hooks on Node 20, so a worker's entry is this
// plain-JS file: it registers tsx and then imports the TypeScript module it was given.
import { register } from "tsx/esm/api";
import { workerData } from "node:worker_threads";

register();
await import(workerData.entry);
