/**
 * How one CSV cell is written (DESIGN §10): numbers exactly as JSON writes them and never prefixed,
 * text that a spreadsheet would run as a formula prefixed with `'`, RFC 4180 quoting and CRLF.
 */
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import { csvStringifier, fileTime, formatNumber, neutralizeFormula } from "../../src/rest/csv.js";

const write = (columns: string[], rows: unknown[][]) => text(Readable.from(rows).pipe(csvStringifier(columns)));

describe("CSV cells", () => {
  it("writes numbers as JSON.stringify does, bigints in full, and never prefixes a negative number", async () => {
    for (const n of [0, -0, -5, 1.5, 0.1 + 0.2, 1e21, 123456789012345.67, Number.MAX_SAFE_INTEGER]) expect(formatNumber(n)).toBe(JSON.stringify(n));
    expect(formatNumber(2n ** 70n)).toBe("1180591620717411303424");
    expect(formatNumber(-7n)).toBe("-7");
    expect(await write(["n", "s", "b", "big", "none"], [[-5, "-5", true, -12n, null]])).toBe("n,s,b,big,none\r\n-5,'-5,true,-12,\r\n");
  });

  it("prefixes text starting with = + - @ tab or CR, and nothing else", () => {
    for (const s of ["=1+1", "+1", "-x", "@SUM(A1)", "\tx", "\rx"]) expect(neutralizeFormula(s)).toBe(`'${s}`);
    for (const s of ["a=1", "1-2", " =1", "", "'=1", "\nx"]) expect(neutralizeFormula(s)).toBe(s);
  });

  it("quotes fields with a comma, a quote, CR or LF (quotes doubled) and ends every record with CRLF", async () => {
    const values = ["a,b", 'say "hi"', "one\ntwo", "one\rtwo", "one\r\ntwo", "plain"];
    const out = await write(values.map((_, i) => `c${i}`), [values]);
    expect(out).toBe(`c0,c1,c2,c3,c4,c5\r\n"a,b","say ""hi""","one\ntwo","one\rtwo","one\r\ntwo",plain\r\n`);
    expect(parse(out, { record_delimiter: "\r\n" })).toEqual([values.map((_, i) => `c${i}`), values]);
  });

  it("names files by ISO 8601 basic-format instants", () => {
    expect(fileTime(new Date("2026-05-27T09:00:00Z"))).toBe("20260527T090000Z");
    expect(fileTime(new Date("2026-05-27T09:00:00.250Z"))).toBe("20260527T090000Z");
  });
});
