/**
 * CSV export of every usage GET (DESIGN §10): which format a request asks for, how a cell is
 * written, and how a whole answer is streamed. Each surface's columns and rows live in
 * `csv/<vendor>.ts`; this module knows nothing about any of them.
 */
import { pipeline, Readable } from "node:stream";
import { type Stringifier, stringify } from "csv-stringify";
import type { FastifyReply, FastifyRequest } from "fastify";
import { badInput } from "../errors.js";
import { renewedBudget } from "../request-budget.js";
import type { RawQuery } from "./query-params.js";

export type CsvValue = string | number | bigint | boolean | null | undefined;
export type CsvRow = CsvValue[];

/** A whole answer as CSV: its columns, and its rows produced on demand (page by page). */
export interface CsvAnswer {
  /** Names the file: `<endpoint>-<from>-<to>.csv`. */
  endpoint: string;
  from: Date;
  to: Date;
  columns: readonly string[];
  rows: AsyncIterable<CsvRow> | Iterable<CsvRow>;
}

/**
 * How a surface reports a problem with the request: the status it uses for bad input and the
 * issue type its envelope shows (MIOSA shows an issue's type as its error `code`).
 */
export interface CsvSurface {
  badInputStatus: 400 | 422;
  formatIssueType: string;
}

/**
 * `format=csv`/`json` decides; without it, `Accept` does (text/csv unless JSON is preferred). The
 * reply says it varies with Accept, so a cache never hands the CSV to a client that asked for JSON.
 */
export function wantsCsv(request: FastifyRequest, reply: FastifyReply, surface: CsvSurface): boolean {
  reply.header("vary", "Accept");
  const raw = (request.query as RawQuery).format;
  if (raw !== undefined) {
    const format = [raw].flat();
    if (format.length === 1 && (format[0] === "csv" || format[0] === "json")) return format[0] === "csv";
    const msg = "format must be 'json' or 'csv' (given once)";
    throw badInput(msg, [{ loc: ["query", "format"], msg, type: surface.formatIssueType }], surface.badInputStatus);
  }
  const accept = request.headers.accept;
  if (!accept) return false;
  const q = acceptQualities(accept);
  const csv = q.get("text/csv") ?? 0;
  return csv > 0 && csv >= (q.get("application/json") ?? 0);
}

/** Quality of each media type named in an Accept header (wildcards are not a request for CSV). */
function acceptQualities(accept: string): Map<string, number> {
  const q = new Map<string, number>();
  for (const part of accept.split(",")) {
    const [type, ...params] = part.split(";").map((s) => s.trim().toLowerCase());
    if (!type) continue;
    const qParam = params.find((p) => p.startsWith("q="));
    const value = qParam ? Number(qParam.slice(2)) : 1;
    q.set(type, Number.isFinite(value) ? value : 0);
  }
  return q;
}

/**
 * A number exactly as the JSON answer writes it (JSON.stringify and String agree on every finite
 * number; a bigint, should a sum become one, is written in full). Never prefixed: -5 stays -5.
 */
export function formatNumber(n: number | bigint): string {
  if (typeof n === "bigint") return n.toString();
  return Number.isFinite(n) ? String(n) : "";
}

/** A text cell a spreadsheet would run as a formula (DESIGN §10) gets a leading `'`. */
const FORMULA_START = /^[=+\-@\t\r]/;
export const neutralizeFormula = (s: string): string => (FORMULA_START.test(s) ? `'${s}` : s);

/** RFC 4180: a header row, CRLF after every record, fields quoted when needed and quotes doubled. */
export function csvStringifier(columns: readonly string[]): Stringifier {
  return stringify({
    header: true,
    columns: [...columns],
    record_delimiter: "\r\n",
    // Given a record delimiter, csv-stringify would quote only fields holding it whole: a lone CR
    // or LF in a tag value must be quoted too.
    quote_record_delimiter: true,
    cast: {
      string: neutralizeFormula,
      number: formatNumber,
      bigint: formatNumber,
      // As JSON writes them, not csv-stringify's default "1"/"".
      boolean: (b: boolean) => (b ? "true" : "false"),
    },
  });
}

/** `2026-05-01T00:00:00Z` → `20260501T000000Z`: an ISO 8601 basic-format instant, safe in a file name. */
export const fileTime = (t: Date): string => t.toISOString().replace(/\.\d{3}Z$/, "Z").replace(/[-:]/g, "");

/** Characters of an id that may not go into a quoted file name as they are. */
const fileNameUnsafe = /[^A-Za-z0-9._-]/g;
export const fileNamePart = (s: string): string => s.replace(fileNameUnsafe, "_");

/**
 * The refusal of an answer known, before anything is sent, to hold more rows than a CSV answer
 * may: in the surface's envelope, naming the parameter that narrows it.
 */
export function tooManyRows(rows: number, maxRows: number, surface: CsvSurface, param: string, opts: { atLeast?: boolean } = {}) {
  const msg = `this CSV export would have ${opts.atLeast ? "at least " : ""}${rows.toLocaleString("en-US")} rows, more than the ${maxRows.toLocaleString("en-US")} a CSV answer may hold; ask for a narrower window`;
  return badInput(msg, [{ loc: ["query", param], msg, type: "too_many_rows" }], surface.badInputStatus);
}

/** Thrown while streaming when the rows outgrow the limit after the header was sent. */
export class CsvRowLimitExceeded extends Error {
  constructor(maxRows: number) {
    super(`CSV export stopped: more than ${maxRows} rows; the client must ask for a narrower window`);
  }
}

async function* limited(rows: CsvAnswer["rows"], maxRows: number): AsyncGenerator<CsvRow> {
  let n = 0;
  const it: AsyncIterator<CsvRow> | Iterator<CsvRow> = Symbol.asyncIterator in rows ? rows[Symbol.asyncIterator]() : rows[Symbol.iterator]();
  let done = false;
  try {
    for (;;) {
      // Each pull (and the page query it may start) runs with a database budget of its own.
      const next = await renewedBudget(() => it.next());
      if (next.done) {
        done = true;
        return;
      }
      if (++n > maxRows) throw new CsvRowLimitExceeded(maxRows);
      yield next.value;
    }
  } finally {
    if (!done) await it.return?.();
  }
}

/**
 * Streams `answer`: rows are produced only as fast as the client reads them, so memory stays flat
 * whatever the number of pages. A failure once the header is out (a page query, more than
 * `maxRows` rows) destroys the body, and Fastify then cuts the connection: the client sees a
 * broken transfer, never a short file that looks whole.
 */
export function sendCsv(reply: FastifyReply, answer: CsvAnswer, maxRows: number): FastifyReply {
  const name = `${fileNamePart(answer.endpoint)}-${fileTime(answer.from)}-${fileTime(answer.to)}.csv`;
  const body = pipeline(Readable.from(limited(answer.rows, maxRows)), csvStringifier(answer.columns), () => {
    // Fastify sees the error on `body` itself and logs it once; nothing more to do here.
  });
  return reply
    .header("content-type", "text/csv; charset=utf-8")
    .header("content-disposition", `attachment; filename="${name}"`)
    .send(body);
}
