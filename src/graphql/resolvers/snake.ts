/** Field resolvers that read a snake_case source field for each camelCase GraphQL field. */
export function snakeCaseFields<K extends string>(fields: readonly K[]): Record<K, (parent: Record<string, unknown>) => unknown> {
  const out = {} as Record<K, (parent: Record<string, unknown>) => unknown>;
  for (const field of fields) {
    const source = field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    out[field] = (parent) => parent[source];
  }
  return out;
}
