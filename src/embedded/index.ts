/**
 * Starting the embedded MongoDB-compatible server. It runs in a worker thread, so a long
 * aggregation never stalls the HTTP server that shares the process, and the two use both cores.
 */
import { Worker } from "node:worker_threads";

export interface EmbeddedMongo {
  /** A plain `mongodb://127.0.0.1:PORT` URI for the official driver. */
  uri: string;
  port: number;
  /** Commands replayed from the data directory's journal at start. */
  replayed: number;
  stop(): Promise<void>;
}

export interface StartEmbeddedOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Journal writes here and replay them at start; unset: in memory only. */
  dataDir?: string;
}

export async function startEmbeddedMongo(opts: StartEmbeddedOptions = {}): Promise<EmbeddedMongo> {
  const worker = new Worker(new URL("./worker-boot.mjs", import.meta.url), {
    workerData: { entry: new URL("./worker.js", import.meta.url).href.replace(/\.js$/, ".ts"), port: opts.port ?? 0, dataDir: opts.dataDir },
  });
  const { port, replayed } = await new Promise<{ port: number; replayed: number }>((resolve, reject) => {
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`embedded MongoDB worker exited with code ${code}`)));
    worker.once("message", (msg: { type: string; port: number; replayed: number }) => resolve(msg));
  });
  worker.removeAllListeners("exit");
  let stopped: Promise<void> | null = null;
  return {
    uri: `mongodb://127.0.0.1:${port}`,
    port,
    replayed,
    stop() {
      stopped ??= (async () => {
        const done = new Promise<void>((resolve) => worker.once("message", () => resolve()));
        worker.postMessage({ type: "stop" });
        await Promise.race([done, new Promise((r) => setTimeout(r, 2_000))]);
        await worker.terminate();
      })();
      return stopped;
    },
  };
}

export { EmbeddedMongoServer } from "./server.js";
