/**
 * The memory series of one sandbox built from the rows of pipelines/memory.ts (DESIGN §3): every
 * minute of the window gets a point, zeros where nothing was provisioned.
 *
 * Overlapping sessions of one sandbox (docs/memory.md): the sandbox is one machine, so it is
 * provisioned over the *union* of its sessions, and at any instant its allocated memory is the
 * largest `memory_mb` among the sessions running then. A minute's uptime therefore never exceeds
 * the minute, and memoryAllocatedGbSeconds / allocatedMemoryMb agree with uptimeSeconds.
 *
 * Integrals are summed in whole milliseconds × MiB (exact in a double) and rounded once per point,
 * as MongoDB's `$round` does (half to even on the decimal value): GiB-seconds to 2 decimals (the
 * document's 35.86), seconds to milliseconds. Totals are the sums of the rounded points, so a
 * client summing `points[]` reproduces them exactly.
 */
import { roundDouble } from "../embedded/engine/round.js";
import type { MemorySampleRow, MemorySessionRow } from "../pipelines/memory.js";
import { MS_PER_MINUTE } from "../time.js";

const GIB_SECOND_DECIMALS = 2;
const SECONDS_DECIMALS = 3;
const MB_DECIMALS = 2;
/** MiB × ms per GiB-second. */
const MB_MS_PER_GIB_SECOND = 1024 * 1000;

export interface MemoryPoint {
  ts: Date;
  memoryAllocatedGbSeconds: number;
  memoryUsedGbSeconds: number;
  uptimeSeconds: number;
  allocatedMemoryMb: number;
  usedMemoryMbAvg: number;
  usedMemoryMbPeak: number;
}

export interface MemoryTotals {
  memoryAllocatedGbSeconds: number;
  memoryUsedGbSeconds: number;
  uptimeSeconds: number;
  memoryAllocatedPeakMb: number;
  memoryUsedPeakMb: number;
}

/** A stretch of time [s, e) (ms) during which the sandbox ran at `mb`. */
export interface Coverage {
  s: number;
  e: number;
  mb: number;
}

/**
 * The union of the intervals, cut where the largest running `mb` changes: disjoint, in time order.
 * Touching intervals at the same `mb` make one stretch; nested ones add nothing unless larger.
 */
export function coverage(intervals: ReadonlyArray<{ s: number; e: number; mb: number }>): Coverage[] {
  const edges: Array<[number, number, number]> = [];
  for (const { s, e, mb } of intervals) if (s < e) edges.push([s, 1, mb], [e, -1, mb]);
  edges.sort((a, b) => a[0] - b[0]);
  const running = new Map<number, number>();
  const out: Coverage[] = [];
  let i = 0;
  while (i < edges.length) {
    const t = edges[i]![0];
    for (; i < edges.length && edges[i]![0] === t; i++) {
      const [, d, mb] = edges[i]!;
      const n = (running.get(mb) ?? 0) + d;
      if (n === 0) running.delete(mb);
      else running.set(mb, n);
    }
    if (running.size === 0 || i === edges.length) continue;
    const mb = Math.max(...running.keys());
    const next = edges[i]![0];
    const last = out[out.length - 1];
    if (last && last.e === t && last.mb === mb) last.e = next;
    else out.push({ s: t, e: next, mb });
  }
  return out;
}

/** Double-double summation (as MongoDB's `$sum`), so totals do not drift with the number of points. */
function sum(xs: Float64Array): number {
  let hi = 0;
  let lo = 0;
  for (const x of xs) {
    const s = hi + x;
    const bp = s - hi;
    lo += hi - (s - bp) + (x - bp);
    hi = s;
  }
  return hi + lo;
}

/**
 * The points and totals of one sandbox over the minutes [first, end) (ms, minute-aligned), from
 * its sample rows and its sessions already clamped to the window. Memory is a few arrays of one
 * number per minute (43,200 for 30 days), whatever the number of samples or sessions.
 */
export function memorySeries(first: number, end: number, samples: Iterable<MemorySampleRow>, sessions: readonly MemorySessionRow[]): { points: MemoryPoint[]; totals: MemoryTotals } {
  const minutes = Math.max(0, Math.round((end - first) / MS_PER_MINUTE));
  const up = new Float64Array(minutes);
  const mbms = new Float64Array(minutes);
  for (const c of coverage(sessions.map((x) => ({ s: x.s.getTime(), e: x.e.getTime(), mb: x.mb })))) {
    for (let i = Math.floor((c.s - first) / MS_PER_MINUTE); i < minutes && first + i * MS_PER_MINUTE < c.e; i++) {
      const start = first + i * MS_PER_MINUTE;
      const ms = Math.min(c.e, start + MS_PER_MINUTE) - Math.max(c.s, start);
      up[i]! += ms;
      mbms[i]! += c.mb * ms;
    }
  }
  const used = new Float64Array(minutes);
  const count = new Float64Array(minutes);
  const peak = new Float64Array(minutes);
  for (const r of samples) {
    const i = (r.t.getTime() - first) / MS_PER_MINUTE;
    if (!(i >= 0 && i < minutes)) continue;
    used[i] = r.used;
    count[i] = r.n;
    peak[i] = r.peak;
  }
  const a = new Float64Array(minutes);
  const u = new Float64Array(minutes);
  const s = new Float64Array(minutes);
  let allocatedPeak = 0;
  let usedPeak = 0;
  const points: MemoryPoint[] = new Array(minutes);
  for (let i = 0; i < minutes; i++) {
    const ms = up[i]!;
    const avg = ms > 0 && count[i]! > 0 ? used[i]! / count[i]! : 0;
    const m = ms > 0 ? roundDouble(mbms[i]! / ms, MB_DECIMALS) : 0;
    const p = ms > 0 ? peak[i]! : 0;
    a[i] = roundDouble(mbms[i]! / MB_MS_PER_GIB_SECOND, GIB_SECOND_DECIMALS);
    u[i] = roundDouble((avg * ms) / MB_MS_PER_GIB_SECOND, GIB_SECOND_DECIMALS);
    s[i] = roundDouble(ms / 1000, SECONDS_DECIMALS);
    if (m > allocatedPeak) allocatedPeak = m;
    if (p > usedPeak) usedPeak = p;
    points[i] = {
      ts: new Date(first + i * MS_PER_MINUTE),
      memoryAllocatedGbSeconds: a[i]!,
      memoryUsedGbSeconds: u[i]!,
      uptimeSeconds: s[i]!,
      allocatedMemoryMb: m,
      usedMemoryMbAvg: roundDouble(avg, MB_DECIMALS),
      usedMemoryMbPeak: p,
    };
  }
  return {
    points,
    totals: {
      memoryAllocatedGbSeconds: roundDouble(sum(a), GIB_SECOND_DECIMALS),
      memoryUsedGbSeconds: roundDouble(sum(u), GIB_SECOND_DECIMALS),
      uptimeSeconds: roundDouble(sum(s), SECONDS_DECIMALS),
      memoryAllocatedPeakMb: allocatedPeak,
      memoryUsedPeakMb: usedPeak,
    },
  };
}
