/**
 * From anything a REST handler throws to one AppError, so every vendor adapter only decides how
 * its envelope looks. Unknown errors are bugs: logged, and rendered as the vendor's 500.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { AppError, asAppError } from "../errors.js";

/** Fastify's own failures before a handler runs (body parsing, size, media type) as AppErrors. */
export function fromFastifyError(err: FastifyError): AppError | null {
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new AppError("PAYLOAD_TOO_LARGE", "Request body is too large");
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new AppError("BAD_USER_INPUT", `Unsupported Content-Type; send application/json or application/x-ndjson`, [], 415);
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new AppError("BAD_USER_INPUT", "Request body is empty", [{ loc: ["body"], msg: "Field required", type: "missing" }]);
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new AppError("BAD_USER_INPUT", "Content-Length does not match the body", [], 400);
  }
  if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON|prototype|constructor/i.test(err.message))) {
    return new AppError("BAD_USER_INPUT", "Request body is not valid JSON", [{ loc: ["body"], msg: `JSON decode error: ${err.message}`, type: "json_invalid" }]);
  }
  if (err.statusCode === 429) return new AppError("RATE_LIMITED", err.message);
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return new AppError("BAD_USER_INPUT", err.message, [], err.statusCode);
  }
  return null;
}

/** A vendor's error body for an AppError, or for an unexpected failure (`null`, status 500). */
export type Envelope = (err: AppError | null, status: number) => unknown;

/**
 * `authScheme`: sent in WWW-Authenticate with a 401. `badInputStatus`: the status a vendor uses for
 * invalid input where the default is FastAPI's 422 (OpenComputer answers 400).
 */
export function vendorErrorHandler(envelope: Envelope, opts: { authScheme?: string; badInputStatus?: number } = {}) {
  return (err: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const app = asAppError(err) ?? fromFastifyError(err as FastifyError);
    if (!app) {
      request.log.error({ err }, "unhandled error");
      return reply.status(500).send(envelope(null, 500));
    }
    if (app.kind === "UNAUTHENTICATED" && opts.authScheme) reply.header("www-authenticate", opts.authScheme);
    const status = app.kind === "BAD_USER_INPUT" && app.status === 422 && opts.badInputStatus ? opts.badInputStatus : app.status;
    return reply.status(status).send(envelope(app, status));
  };
}
