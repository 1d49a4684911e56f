import { MongoServerError } from "mongodb";
import { describe, expect, it } from "vitest";
import { asAppError } from "../../src/errors.js";

const server = (code: number, labels: string[] = []) => {
  const err = new MongoServerError({ ok: 0, code, errmsg: `code ${code}`, errorLabels: labels });
  return asAppError(err)?.status ?? 500;
};

describe("database errors as HTTP statuses", () => {
  it("answers every time-limit code a mongod or mongos reports with 504", () => {
    // MaxTimeMSExpired; ExceededTimeLimit and NetworkInterfaceExceededTimeLimit from mongos.
    expect([50, 262, 202].map((c) => server(c))).toEqual([504, 504, 504]);
  });

  it("answers a stepping-down or shutting-down server, and exhausted transaction retries, with 503", () => {
    expect([91, 11600, 11602, 10107, 189, 112, 251].map((c) => server(c))).toEqual(Array(7).fill(503));
    expect(server(8000, ["TransientTransactionError"])).toBe(503);
  });

  it("leaves other server errors to the caller (a bug: logged, 500)", () => {
    expect(server(2)).toBe(500);
  });
});
