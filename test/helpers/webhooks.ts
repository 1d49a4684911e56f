/**
 * A webhook receiver on 127.0.0.1 for tests (the service must run with WEBHOOK_ALLOW_PRIVATE=true
 * to reach it): records every request's headers and raw body, answers with the statuses it is told.
 */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

export interface Receiver {
  url: string;
  received: ReceivedWebhook[];
  /** Statuses for the next requests, in order; after them every request gets `fallback`. */
  respond(statuses: number[], fallback?: number): void;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const received: ReceivedWebhook[] = [];
  let queue: number[] = [];
  let fallback = 200;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const status = queue.shift() ?? fallback;
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), status });
      res.writeHead(status, { "content-type": "text/plain" }).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/usage`,
    received,
    respond(statuses, fb = 200) {
      queue = [...statuses];
      fallback = fb;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A mutable clock: tests move time forward to make retries due. */
export class ManualClock {
  constructor(private t: Date) {}
  now(): Date {
    return new Date(this.t);
  }
  set(at: Date | string): void {
    this.t = new Date(at);
  }
  advance(ms: number): void {
    this.t = new Date(this.t.getTime() + ms);
  }
}
