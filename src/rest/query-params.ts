/**
 * Query-string parsing with FastAPI's rules and error types: the last value of a repeated scalar
 * wins, lists may repeat or comma-separate, integers and booleans as pydantic parses them.
 */
import type { InputIssue } from "../errors.js";

export type RawQuery = Record<string, string | string[] | undefined>;

export class QueryParser {
  readonly issues: InputIssue[] = [];
  /** Parameters that were present but unparseable (so they are not also reported as missing). */
  readonly failed = new Set<string>();

  constructor(private readonly query: RawQuery) {}

  private last(name: string): string | undefined {
    const v = this.query[name];
    return Array.isArray(v) ? v[v.length - 1] : v;
  }

  string(name: string): string | undefined {
    return this.last(name);
  }

  int(name: string): number | undefined {
    const raw = this.last(name);
    if (raw === undefined) return undefined;
    const s = raw.trim();
    if (/^[+-]?\d{1,16}$/.test(s) && Number.isSafeInteger(Number(s))) return Number(s);
    this.failed.add(name);
    this.issues.push({ loc: ["query", name], msg: "Input should be a valid integer, unable to parse string as an integer", type: "int_parsing" });
    return undefined;
  }

  bool(name: string): boolean | undefined {
    const raw = this.last(name);
    if (raw === undefined) return undefined;
    const s = raw.trim().toLowerCase();
    if (["true", "1", "yes", "on", "t", "y"].includes(s)) return true;
    if (["false", "0", "no", "off", "f", "n"].includes(s)) return false;
    this.failed.add(name);
    this.issues.push({ loc: ["query", name], msg: "Input should be a valid boolean, unable to interpret input", type: "bool_parsing" });
    return undefined;
  }

  /** `a&a` and `a,b` both give a list; empty items are dropped. */
  list(name: string): string[] | undefined {
    const v = this.query[name];
    if (v === undefined) return undefined;
    return [v]
      .flat()
      .flatMap((s) => s.split(","))
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  }
}
