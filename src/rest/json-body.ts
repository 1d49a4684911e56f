/**
 * The JSON body parser for routes whose bodies carry caller-chosen keys (ingest tags, PUT tags).
 * Fastify's default refuses any `__proto__` key as "prototype poisoning"; here it is data: the
 * text goes to plain JSON.parse, which makes every key an own property (never a prototype), and
 * the code that reads such objects copies them with Object.keys into null-prototype objects.
 * A leading UTF-8 byte-order mark is skipped, as RFC 8259 §8.1 lets a parser do.
 */
import type { FastifyInstance } from "fastify";
import { AppError } from "../errors.js";

export const stripBom = (text: string) => (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);

export function parseJsonBody(text: string): unknown {
  const body = stripBom(text);
  if (body.trim() === "") throw new AppError("BAD_USER_INPUT", "Request body is empty", [{ loc: ["body"], msg: "Field required", type: "missing" }]);
  try {
    return JSON.parse(body);
  } catch (err) {
    throw new AppError("BAD_USER_INPUT", "Request body is not valid JSON", [{ loc: ["body"], msg: `JSON decode error: ${(err as Error).message}`, type: "json_invalid" }]);
  }
}

/** Replaces `application/json` parsing in this (encapsulated) scope. */
export function keyPreservingJson(app: FastifyInstance): void {
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}
