/** zod issues as FastAPI-style `{loc, msg, type}` entries: one shape for every validation error. */
import type { z } from "zod";
import type { InputIssue } from "./errors.js";

export function toInputIssues(error: z.ZodError, prefix: Array<string | number>): InputIssue[] {
  const out: InputIssue[] = [];
  for (const issue of error.issues) {
    const loc = [...prefix, ...issue.path.map((p) => (typeof p === "symbol" ? String(p) : p))];
    switch (issue.code) {
      case "unrecognized_keys":
        for (const key of issue.keys) out.push({ loc: [...loc, key], msg: "Extra inputs are not permitted", type: "extra_forbidden" });
        break;
      case "invalid_type":
        out.push(
          /received undefined$|^Field required$/.test(issue.message)
            ? { loc, msg: "Field required", type: "missing" }
            : { loc, msg: issue.message, type: `${issue.expected}_type` },
        );
        break;
      case "too_small":
        out.push({ loc, msg: issue.message, type: issue.origin === "string" || issue.origin === "array" ? "too_short" : "greater_than_equal" });
        break;
      case "too_big":
        out.push({ loc, msg: issue.message, type: issue.origin === "string" || issue.origin === "array" ? "too_long" : "less_than_equal" });
        break;
      case "invalid_value":
        out.push({ loc, msg: issue.message, type: "enum" });
        break;
      case "invalid_union":
        out.push({ loc, msg: issue.message, type: "union_tag_invalid" });
        break;
      default:
        out.push({ loc, msg: issue.message, type: "value_error" });
    }
  }
  return out;
}
