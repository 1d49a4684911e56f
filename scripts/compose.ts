/**
 * Prints the supergraph SDL composed from this subgraph (for Apollo Router's `--supergraph`, or
 * Apollo Gateway's `supergraphSdl`), or the composition errors and exit code 1.
 *
 *   npm run compose [-- --url http://usage:4001/graphql] > supergraph.graphql
 *
 * To compose with other subgraphs, use `rover supergraph compose` with this subgraph's
 * `_service { sdl }` (or `composeSupergraph` below, which the federation tests use).
 */
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";
import { subgraphSdl } from "../src/graphql/schema.js";

export interface SubgraphSource {
  name: string;
  url: string;
  sdl: string;
}

export type Composition = { ok: true; supergraphSdl: string } | { ok: false; errors: string[] };

export function composeSupergraph(subgraphs: SubgraphSource[]): Composition {
  const result = composeServices(subgraphs.map((s) => ({ name: s.name, url: s.url, typeDefs: parse(s.sdl) })));
  if (result.errors) return { ok: false, errors: result.errors.map((e) => e.message) };
  return { ok: true, supergraphSdl: result.supergraphSdl };
}

export const USAGE_SUBGRAPH = "usage";

function urlArg(argv: string[]): string {
  const i = argv.indexOf("--url");
  return (i >= 0 ? argv[i + 1] : undefined) ?? process.env.SUBGRAPH_URL ?? "http://127.0.0.1:4001/graphql";
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = composeSupergraph([{ name: USAGE_SUBGRAPH, url: urlArg(process.argv.slice(2)), sdl: subgraphSdl() }]);
  if (!result.ok) {
    console.error(`composition failed:\n${result.errors.map((e) => `  - ${e}`).join("\n")}`);
    process.exit(1);
  }
  process.stdout.write(result.supergraphSdl.endsWith("\n") ? result.supergraphSdl : `${result.supergraphSdl}\n`);
}
