// The router's own cumulative counters for the live metric snapshots
// (src/ops/metric-sampler.ts): requests and 5xx answers by route class and a
// log-bucketed latency histogram fine enough for p50/p95/p99. observe() is on
// every request's path, so it is a few array increments and one Math.log.

import type { RouteLabel } from '../http/routes.js';
import { routeClassOf } from '../security/rate-limit.js';

export const LIVE_CLASSES = ['read', 'write', 'query', 'auth', 'admin', 'other'] as const;
export type LiveClass = (typeof LIVE_CLASSES)[number];

/** Bucket i holds latencies in (LOWEST·RATIO^(i-1), LOWEST·RATIO^i] ms; bucket 0 everything ≤ LOWEST. */
const LOWEST_MS = 0.01;
const RATIO = 1.08;
const LOG_RATIO = Math.log(RATIO);
export const LATENCY_BUCKETS = 200; // LOWEST·1.08^199 ≈ 43 minutes: the last bucket is open-ended

export function bucketOf(ms: number): number {
  if (!(ms > LOWEST_MS)) return 0;
  const i = Math.ceil(Math.log(ms / LOWEST_MS) / LOG_RATIO);
  return i >= LATENCY_BUCKETS ? LATENCY_BUCKETS - 1 : i;
}

/** The upper bound of bucket i, ms. */
export function bucketUpperMs(i: number): number {
  return LOWEST_MS * RATIO ** i;
}

/**
 * The q-quantile (0..1) of a histogram given as per-bucket counts, interpolated
 * geometrically inside the bucket; null when the histogram is empty.
 */
export function quantileMs(counts: ArrayLike<number>, q: number): number | null {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (c === 0) continue;
    if (seen + c >= rank) {
      if (i === 0) return LOWEST_MS;
      const lower = bucketUpperMs(i - 1);
      const within = Math.min(1, Math.max(0, (rank - seen) / c));
      return lower * RATIO ** within;
    }
    seen += c;
  }
  return bucketUpperMs(counts.length - 1);
}

export class LiveCounters {
  readonly requests = new Float64Array(LIVE_CLASSES.length);
  readonly errors = new Float64Array(LIVE_CLASSES.length);
  readonly latency = new Float64Array(LATENCY_BUCKETS);
  private readonly classOf = new Map<string, number>();

  observe(route: RouteLabel, method: string, status: number, seconds: number): void {
    const id = route + ' ' + method;
    let cls = this.classOf.get(id);
    if (cls === undefined) {
      cls = LIVE_CLASSES.indexOf(route === 'unmatched' ? 'other' : routeClassOf(route, method, route));
      this.classOf.set(id, cls);
    }
    this.requests[cls]++;
    if (status >= 500) this.errors[cls]++;
    this.latency[bucketOf(seconds * 1000)]++;
  }
}
