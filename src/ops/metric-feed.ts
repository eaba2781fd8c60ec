// The live metric feed: a one-second tick that keeps the last hour of
// snapshots in a ring (GET /api/v1/metrics/history) and hands each one to the
// alert engine, plus stream subscribers grouped by interval: one timer and one
// reading per distinct interval, however many subscribers share it, so 100
// dashboards cost one snapshot per interval, not 100.

import client from 'prom-client';
import { MantisError } from '../../shared/errors.js';
import type { ClassRates, MetricSampler, MetricSnapshot, Reading, ShardSnapshot } from './metric-sampler.js';
import { LIVE_CLASSES, type LiveClass } from './live-counters.js';

export const INTERVAL_MS_MIN = 100;
export const INTERVAL_MS_MAX = 60_000;
export const HISTORY_MINUTES_MAX = 60;
const HISTORY_SLOTS = HISTORY_MINUTES_MAX * 60;

/** What a subscriber receives: a snapshot or an alert state change, with its JSON made once per event. */
export type FeedEvent = { readonly type: 'metrics'; readonly data: MetricSnapshot; readonly json: string } | { readonly type: 'alert'; readonly data: AlertEvent; readonly json: string };

export type AlertEvent = {
  readonly name: string;
  /** pending → firing → resolved; inactive when a pending rule's condition stops (streams only). */
  readonly state: 'pending' | 'firing' | 'resolved' | 'inactive';
  readonly value: number | null;
  readonly severity: string;
  readonly ts: number;
};

type Group = { prev: Reading; readonly timer: NodeJS.Timeout; readonly subs: Set<(e: FeedEvent) => void> };

/** ?interval_ms= (or a message's interval_ms): an integer in 100..60000; absent → 1000. */
export function checkInterval(raw: unknown): number {
  if (raw === undefined || raw === null || raw === '') return 1000;
  const value = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < INTERVAL_MS_MIN || value > INTERVAL_MS_MAX) {
    throw new MantisError('INVALID_PARAMETER', `interval_ms must be an integer from ${INTERVAL_MS_MIN} to ${INTERVAL_MS_MAX}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** The numbers of a snapshot besides its classes and shards (the history ring's columns; null is NaN). */
export const TOP_FIELDS = [
  'ts',
  'interval_ms',
  'requests_per_s',
  'errors_per_s',
  'error_ratio',
  'latency_p50_ms',
  'latency_p95_ms',
  'latency_p99_ms',
  'cache_hit_rate',
  'memory_rss_bytes',
  'memory_heap_used_bytes',
  'disk_free_bytes',
  'open_transactions',
  'connections',
  'compactions_per_s',
  'flushes_per_s',
  'wal_bytes_per_s',
] as const satisfies readonly (keyof MetricSnapshot)[];
const SHARD_FIELDS = ['id', 'ops_per_s', 'queue_depth', 'wal_bytes', 'wal_bytes_per_s', 'fsync_p99_ms', 'ready'] as const;

/**
 * The last hour of one-second snapshots as numbers in one Float64Array allocated at start, so the
 * history costs the same memory in its first minute as after an hour (no growth to mistake for a leak).
 */
class HistoryRing {
  private readonly width: number;
  private readonly cells: Float64Array;
  private next = 0;
  size = 0;

  constructor(private readonly shards: number) {
    this.width = TOP_FIELDS.length + LIVE_CLASSES.length * 2 + shards * SHARD_FIELDS.length;
    this.cells = new Float64Array(this.width * HISTORY_SLOTS);
  }

  push(s: MetricSnapshot): void {
    const c = this.cells;
    let at = this.next * this.width;
    for (const f of TOP_FIELDS) c[at++] = s[f] ?? NaN;
    for (const cls of LIVE_CLASSES) {
      c[at++] = s.by_class[cls].requests_per_s;
      c[at++] = s.by_class[cls].errors_per_s;
    }
    for (let i = 0; i < this.shards; i++) {
      const x = s.shards[i];
      for (const f of SHARD_FIELDS) c[at++] = x === undefined ? NaN : f === 'ready' ? (x.ready ? 1 : 0) : (x[f] ?? NaN);
    }
    this.next = (this.next + 1) % HISTORY_SLOTS;
    this.size = Math.min(HISTORY_SLOTS, this.size + 1);
  }

  /** The i-th snapshot, oldest first. */
  at(i: number): MetricSnapshot {
    const c = this.cells;
    let at = ((this.next - this.size + i + HISTORY_SLOTS) % HISTORY_SLOTS) * this.width;
    const num = (v: number): number | null => (Number.isNaN(v) ? null : v);
    const top: Record<string, number | null> = {};
    for (const f of TOP_FIELDS) top[f] = num(c[at++]);
    const byClass = {} as Record<LiveClass, ClassRates>;
    for (const cls of LIVE_CLASSES) byClass[cls] = { requests_per_s: c[at++], errors_per_s: c[at++] };
    const shards: ShardSnapshot[] = [];
    for (let i = 0; i < this.shards; i++) {
      const x: Record<string, number | boolean | null> = {};
      for (const f of SHARD_FIELDS) x[f] = f === 'ready' ? c[at++] === 1 : num(c[at++]);
      shards.push(x as unknown as ShardSnapshot);
    }
    const { ts, interval_ms, requests_per_s, errors_per_s, error_ratio, latency_p50_ms, latency_p95_ms, latency_p99_ms, cache_hit_rate, ...rest } = top;
    return {
      ts,
      interval_ms,
      requests_per_s,
      errors_per_s,
      error_ratio,
      by_class: byClass,
      latency_p50_ms,
      latency_p95_ms,
      latency_p99_ms,
      cache_hit_rate,
      ...rest,
      shards,
    } as unknown as MetricSnapshot;
  }
}

export class MetricFeed {
  private readonly ring: HistoryRing;
  private last: Reading;
  private tick: NodeJS.Timeout | null = null;
  private readonly groups = new Map<number, Group>();
  private readonly secondListeners: ((s: MetricSnapshot) => void)[] = [];

  constructor(private readonly sampler: MetricSampler) {
    this.last = sampler.read();
    this.ring = new HistoryRing(this.last.shards.length);
  }

  start(): void {
    if (this.tick !== null) return;
    this.last = this.sampler.read();
    this.tick = setInterval(() => this.second(), 1000);
    this.tick.unref();
  }

  stop(): void {
    if (this.tick !== null) clearInterval(this.tick);
    this.tick = null;
    for (const g of this.groups.values()) clearInterval(g.timer);
    this.groups.clear();
  }

  /** Called with each one-second snapshot (the alert engine). */
  onSecond(listener: (s: MetricSnapshot) => void): void {
    this.secondListeners.push(listener);
  }

  /** The snapshots of the last `minutes` minutes, oldest first. */
  history(minutes: number): MetricSnapshot[] {
    const since = Date.now() - minutes * 60_000;
    const out: MetricSnapshot[] = [];
    for (let i = 0; i < this.ring.size; i++) {
      const s = this.ring.at(i);
      if (s.ts >= since) out.push(s);
    }
    return out;
  }

  /** The newest one-second snapshot (null before the first second has passed). */
  latest(): MetricSnapshot | null {
    return this.ring.size === 0 ? null : this.ring.at(this.ring.size - 1);
  }

  /** Streams a snapshot every `intervalMs` (and every alert event) to `push`; returns the unsubscribe function. */
  subscribe(intervalMs: number, push: (e: FeedEvent) => void): () => void {
    let group = this.groups.get(intervalMs);
    if (group === undefined) {
      const timer = setInterval(() => this.emit(intervalMs), intervalMs);
      timer.unref();
      group = { prev: this.sampler.read(), timer, subs: new Set() };
      this.groups.set(intervalMs, group);
    }
    group.subs.add(push);
    const g = group;
    return () => {
      g.subs.delete(push);
      if (g.subs.size === 0 && this.groups.get(intervalMs) === g) {
        clearInterval(g.timer);
        this.groups.delete(intervalMs);
      }
    };
  }

  get subscribers(): number {
    let n = 0;
    for (const g of this.groups.values()) n += g.subs.size;
    return n;
  }

  /** An alert state change, to every stream subscriber. */
  publishAlert(event: AlertEvent): void {
    const e: FeedEvent = { type: 'alert', data: event, json: JSON.stringify({ type: 'alert', ...event }) };
    for (const g of this.groups.values()) for (const push of [...g.subs]) push(e);
  }

  private emit(intervalMs: number): void {
    const g = this.groups.get(intervalMs);
    if (g === undefined) return;
    const now = this.sampler.read();
    const snap = this.sampler.snapshot(g.prev, now);
    g.prev = now;
    const e: FeedEvent = { type: 'metrics', data: snap, json: JSON.stringify({ type: 'metrics', ...snap }) };
    for (const push of [...g.subs]) push(e);
  }

  private second(): void {
    const now = this.sampler.read();
    const snap = this.sampler.snapshot(this.last, now);
    this.last = now;
    this.ring.push(snap);
    for (const listener of this.secondListeners) listener(snap);
  }
}

/** mantis_http_connections (requests in flight plus open streams) and the maximum the server admits. */
export function registerConnectionGauges(registry: client.Registry, connections: () => number, max: number): void {
  new client.Gauge({
    name: 'mantis_http_connections',
    help: 'HTTP requests in flight plus open WebSocket and SSE streams',
    registers: [registry],
    collect() {
      this.set(connections());
    },
  });
  new client.Gauge({
    name: 'mantis_http_connections_max',
    help: 'Requests in flight the listener admits before it sheds load (503 OVERLOADED)',
    registers: [registry],
    collect() {
      this.set(max);
    },
  });
}

/** mantis_metric_stream_subscribers: WebSocket and SSE subscribers of the metric stream. */
export function registerFeedGauge(registry: client.Registry, feed: MetricFeed): void {
  new client.Gauge({
    name: 'mantis_metric_stream_subscribers',
    help: 'Subscribers of the live metric stream (WebSocket and SSE)',
    registers: [registry],
    collect() {
      this.set(feed.subscribers);
    },
  });
}
