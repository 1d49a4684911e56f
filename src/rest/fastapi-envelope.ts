/**
 * FastAPI's error envelope, used by MKA1 and by this service's own platform endpoints (ingest,
 * API keys, prices): `422 {"detail":[{loc,msg,type}]}` for invalid input, `{"detail":"…"}` otherwise.
 */
import { vendorErrorHandler } from "./errors.js";

export const sendFastApiError = vendorErrorHandler(
  (err) => (err === null ? { detail: "Internal Server Error" } : { detail: err.issues.length > 0 ? err.issues : err.message }),
  { authScheme: "Bearer" },
);
