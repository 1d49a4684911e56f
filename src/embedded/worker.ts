/** Worker-thread entry: runs an EmbeddedMongoServer off the main thread and reports its port. */
import { parentPort, workerData } from "node:worker_threads";
import { EmbeddedMongoServer } from "./server.js";

const data = workerData as { port?: number; dataDir?: string };
const server = new EmbeddedMongoServer({ dataDir: data.dataDir });
const port = await server.listen({ port: data.port ?? 0 });
parentPort!.postMessage({ type: "listening", port, replayed: server.replayed });
parentPort!.on("message", async (msg: { type: string }) => {
  if (msg.type === "stop") {
    await server.close();
    parentPort!.postMessage({ type: "stopped" });
  }
});
