/**
 * The error envelopes of DESIGN §5 as predicates, so security suites can insist that every
 * refusal is in its surface's own shape.
 */
export type Envelope = (status: number, body: unknown) => boolean;

export const isObj = (b: unknown): b is Record<string, unknown> => b !== null && typeof b === "object" && !Array.isArray(b);

export const ENVELOPES = {
  fastapi: (_s, b) =>
    isObj(b) &&
    (typeof b.detail === "string" || (Array.isArray(b.detail) && b.detail.every((d) => isObj(d) && Array.isArray(d.loc) && typeof d.msg === "string" && typeof d.type === "string"))),
  miosa: (_s, b) => isObj(b) && isObj(b.error) && typeof b.error.code === "string" && typeof b.error.message === "string",
  dreadnode: (s, b) => isObj(b) && b.code === s && typeof b.detail === "string" && typeof b.type === "string" && (b.errors === null || Array.isArray(b.errors)),
  opencomputer: (_s, b) => isObj(b) && typeof b.error === "string",
} satisfies Record<string, Envelope>;
