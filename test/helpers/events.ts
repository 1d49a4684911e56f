/**
 * Builders for usage events as a client sends them (DESIGN §2), so fixtures read like a timeline:
 * `start("s1", "2026-05-01T10:00:00Z", { vcpus: 2 })`, `stop("s1", "2026-05-01T11:00:00Z")`.
 */
import { expect } from "vitest";
import type { TestApp } from "./app.js";
import { bearer } from "./app.js";

type Fields = Record<string, unknown>;

let seq = 0;
const nextId = (prefix: string) => `${prefix}-${++seq}`;

/** An operation on a session; `session` also names its sandbox unless `sandbox_id` is given. */
export function operation(session: string, operation: string, at: string, fields: Fields = {}): Fields {
  return {
    id: nextId(`${session}-${operation}`),
    type: "sandbox.operation",
    timestamp: at,
    sandbox_id: `sb-${session}`,
    session_id: session,
    user_id: "alice",
    provider: "aws",
    session_kind: "standard",
    operation,
    ...fields,
  };
}

/** A session_start: 1 vCPU and 1024 MiB unless `fields` says otherwise. */
export const start = (session: string, at: string, fields: Fields = {}) =>
  operation(session, "session_start", at, { vcpus: 1, memory_mb: 1024, ...fields });

/** The stop of a session; `fields` must repeat what identifies its sandbox/user when not defaults. */
export const stop = (session: string, at: string, fields: Fields = {}) => operation(session, "session_stop", at, fields);

export const memorySample = (sandbox: string, at: string, usedMb: number, fields: Fields = {}): Fields => ({
  id: nextId(`mem-${sandbox}`),
  type: "sandbox.memory",
  timestamp: at,
  sandbox_id: sandbox,
  used_memory_mb: usedMb,
  ...fields,
});

/** Sends events through the ingest endpoint and insists every one is stored. */
export async function ingest(t: TestApp, key: string, events: Fields[]): Promise<void> {
  const res = await t.app.inject({
    method: "POST",
    url: "/api/v1/usage/events",
    headers: { ...bearer(key), "content-type": "application/json" },
    payload: JSON.stringify({ events }),
  });
  expect(res.json()).toEqual({ accepted: events.length, duplicates: 0 });
}
