/**
 * FastAPI's error envelope, used by MKA1 and by this service's own platform endpoints (ingest,
 * API keys, prices): `422 {"detail":[{loc,msg,type}]}` for invalid input, `{"detail":"…"}` otherwise.
 */
import type { AppError } from "../errors.js";
import { vendorErrorHandler } from "./errors.js";

export const fastApiErrorBody = (err: AppError | null) =>
  err === null ? { detail: "Internal Server Error" } : { detail: err.issues.length > 0 ? err.issues : err.message };

export const sendFastApiError = vendorErrorHandler(fastApiErrorBody, { authScheme: "Bearer" });
