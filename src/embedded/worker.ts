/** Worker-thread entry: runs an EmbeddedMongoServer off the main thread and reports its port. */
import { parentPort, workerData } from "node:worker_threads";
import { EmbeddedMongoServer } from "./server.js";

const server = new EmbeddedMongoServer();
const port = await server.listen({ port: (workerData as { port?: number }).port ?? 0 });
parentPort!.postMessage({ type: "listening", port });
parentPort!.on("message", async (msg: { type: string }) => {
  if (msg.type === "stop") {
    await server.close();
    parentPort!.postMessage({ type: "stopped" });
  }
});
