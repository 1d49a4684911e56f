/**
 * Every relative link in the README and the docs resolves in a clone: the file exists, and a
 * `#fragment` names a heading of it (GitHub's anchors). Nothing may point outside the repository.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/service-process.js";

const DOCUMENTS = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`), "src/embedded/README.md"].filter((f) =>
  existsSync(join(ROOT, f)),
);

/** GitHub's heading anchor: lower case, punctuation dropped (but `-` and `_`), spaces to `-`. */
export function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  // Headings outside fenced code.
  const text = markdown.replace(/^```[\s\S]*?^```/gm, "");
  for (const m of text.matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    const base = anchorOf(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Markdown links `[text](target)` outside fenced code and inline code spans. */
function links(markdown: string): string[] {
  const text = markdown.replace(/^```[\s\S]*?^```/gm, "").replace(/`[^`\n]*`/g, "");
  return [...text.matchAll(/\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!);
}

describe("documentation links", () => {
  it("covers the README and every doc", () => {
    expect(DOCUMENTS).toEqual(expect.arrayContaining(["README.md", "docs/api.md", "docs/operations.md", "docs/supergraph.md", "docs/benchmarks.md"]));
  });

  it("computes GitHub's anchors", () => {
    expect(anchorOf("`GET /api/v1/org/{org}/sandboxes/usage`")).toBe("get-apiv1orgorgsandboxesusage");
    expect(anchorOf("A real MongoDB or Atlas")).toBe("a-real-mongodb-or-atlas");
    expect(anchorOf("Corrections (voiding events)")).toBe("corrections-voiding-events");
  });

  describe.each(DOCUMENTS)("%s", (doc) => {
    const markdown = readFileSync(join(ROOT, doc), "utf8");
    const relativeLinks = links(markdown).filter((l) => !/^[a-z][a-z0-9+.-]*:/i.test(l));

    it("never points at anything outside the repository", () => {
      for (const link of relativeLinks) {
        const path = link.split("#")[0]!;
        if (path === "") continue;
        const target = resolve(dirname(join(ROOT, doc)), decodeURIComponent(path));
        expect(relative(ROOT, target).startsWith(".."), `${doc}: ${link}`).toBe(false);
      }
      expect(markdown).not.toMatch(/\.\.\/shared|\/work\/shared|specs\/00\d/);
    });

    it("links only to files and headings that exist", () => {
      for (const link of relativeLinks) {
        const [path, fragment] = link.split("#") as [string, string | undefined];
        const target = path === "" ? join(ROOT, doc) : resolve(dirname(join(ROOT, doc)), decodeURIComponent(path));
        expect(existsSync(target), `${doc}: ${link} (no such file)`).toBe(true);
        if (fragment !== undefined && statSync(target).isFile() && target.endsWith(".md")) {
          expect([...anchors(readFileSync(target, "utf8"))], `${doc}: ${link} (no such heading)`).toContain(fragment);
        }
      }
    });
  });
});
