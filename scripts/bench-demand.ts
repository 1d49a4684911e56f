/**
 * How fast the subgraph refuses the operations demand control exists for, over real HTTP to a
 * started service (embedded MongoDB, no data: a refusal touches no database). Prints a table.
 *
 *   npm run bench:demand [-- --runs 20]
 */
import { getIntrospectionQuery } from "graphql";
import { loadConfig } from "../src/config.js";
import { startService } from "../src/runtime.js";

const runsArg = process.argv.indexOf("--runs");
const RUNS = runsArg >= 0 ? Number(process.argv[runsArg + 1]) : 10;

const aliased = (n: number, field: (i: number) => string) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field(i)}`).join(" ")} }`;
const now = Date.now();
const memory30d = (i: number) => {
  const to = new Date(now - i * 60_000);
  return `sandbox(id: "sb-1") { memoryUsage(from: "${new Date(to.getTime() - 30 * 86_400_000).toISOString()}", to: "${to.toISOString()}") { totals { uptimeSeconds } } }`;
};
const nowS = Math.floor(now / 1000);

const CASES: Array<[string, string]> = [
  ["60,000 aliased __schema { ...F } (1.5 MB)", `${aliased(60_000, () => "__schema { ...F }")} fragment F on __Schema { types { name } }`],
  ["10,000 aliased __schema", aliased(10_000, () => "__schema { queryType { name } }")],
  ["300 aliases of a 30-day memoryUsage", aliased(300, memory30d)],
  ["300 aliases of a 30-day sandboxUsage", aliased(300, () => `sandboxUsage(startTime: ${nowS - 30 * 86_400}) { data { startTime results { numOperations } } }`)],
  ["4 full pages of 1m buckets", aliased(4, (i) => `sandboxUsage(startTime: ${nowS - (i + 1) * 86_400}, bucketWidth: "1m", limit: 1440) { data { startTime results { numOperations } } }`)],
  ["getIntrospectionQuery() (accepted)", getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, inputValueDeprecation: true, directiveIsRepeatable: true })],
];

const config = loadConfig({ ...process.env, PORT: "0", HOST: "127.0.0.1", DEMO_DATA: "false", LOG_LEVEL: "silent", RATE_LIMIT_MAX: "0", MONGODB_URI: "" });
const service = await startService(config);
try {
  const rows: string[][] = [];
  for (const [name, query] of CASES) {
    const body = JSON.stringify({ query });
    const times: number[] = [];
    let status = 0;
    let code = "";
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const res = await fetch(`${service.url}/graphql`, { method: "POST", headers: { "content-type": "application/json" }, body });
      const answer = (await res.json()) as { errors?: Array<{ extensions?: { code?: string } }> };
      times.push(performance.now() - t0);
      status = res.status;
      code = answer.errors?.[0]?.extensions?.code ?? "-";
    }
    times.sort((a, b) => a - b);
    const p = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!.toFixed(1);
    rows.push([name, (body.length / 1024).toFixed(0), String(status), code, p(0.5), p(1)]);
  }
  const head = ["operation", "KiB", "status", "code", "median ms", "max ms"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ")} |`;
  console.log(line(head));
  console.log(`| ${widths.map((w, i) => (i === 0 ? "-".repeat(w) : `${"-".repeat(w - 1)}:`)).join(" | ")} |`);
  for (const r of rows) console.log(line(r));
  console.log(`\n${RUNS} runs each; rss ${(process.memoryUsage().rss / 1024 / 1024).toFixed(0)} MB at the end`);
} finally {
  await service.stop();
}
