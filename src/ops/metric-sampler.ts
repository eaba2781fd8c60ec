// Live metric snapshots: a snapshot is the difference between two readings of
// cumulative counters (the router's LiveCounters and the shards' shared-memory
// counters, shared/metrics-layout.ts), so taking one never sends a message to
// a shard. Every stream subscriber and the history ring compute their
// snapshots this way, over their own interval.

import { statfsSync } from 'node:fs';
import { FSYNC_BUCKETS_MS, ShardMetric } from '../../shared/metrics-layout.js';
import type { ShardPool } from '../router/index.js';
import { LATENCY_BUCKETS, LIVE_CLASSES, quantileMs, type LiveClass, type LiveCounters } from './live-counters.js';

export type ShardSnapshot = {
  readonly id: number;
  readonly ops_per_s: number;
  readonly queue_depth: number;
  /** Bytes of WAL segments on the shard's disk now. */
  readonly wal_bytes: number;
  readonly wal_bytes_per_s: number;
  /** p99 of the fsyncs in the interval (null: none); from the shard's fsync histogram buckets. */
  readonly fsync_p99_ms: number | null;
  readonly ready: boolean;
};

export type ClassRates = { readonly requests_per_s: number; readonly errors_per_s: number };

export type MetricSnapshot = {
  readonly ts: number;
  readonly interval_ms: number;
  readonly requests_per_s: number;
  /** 5xx answers per second. */
  readonly errors_per_s: number;
  /** errors / requests over the interval (0 when there were none). */
  readonly error_ratio: number;
  readonly by_class: Readonly<Record<LiveClass, ClassRates>>;
  readonly latency_p50_ms: number | null;
  readonly latency_p95_ms: number | null;
  readonly latency_p99_ms: number | null;
  /** Router cache hits / lookups over the interval; null when there were no lookups. */
  readonly cache_hit_rate: number | null;
  readonly memory_rss_bytes: number;
  readonly memory_heap_used_bytes: number;
  readonly disk_free_bytes: number;
  readonly open_transactions: number;
  readonly connections: number;
  readonly compactions_per_s: number;
  readonly flushes_per_s: number;
  readonly wal_bytes_per_s: number;
  readonly shards: readonly ShardSnapshot[];
};

/** Cumulative figures at one moment. */
export type Reading = {
  readonly at: number;
  readonly requests: Float64Array;
  readonly errors: Float64Array;
  readonly latency: Float64Array;
  readonly cacheHits: number;
  readonly cacheLookups: number;
  readonly shards: readonly ShardReading[];
};

type ShardReading = {
  readonly frames: number;
  readonly walBytes: number;
  readonly compactions: number;
  readonly flushes: number;
  readonly fsync: Float64Array;
};

export type SamplerSources = {
  readonly pool: ShardPool;
  readonly live: LiveCounters;
  /** Open transactions (the transaction manager's count). */
  openTransactions(): number;
  /** Requests in flight plus open streams. */
  connections(): number;
  /** Where the data lives, for disk space when no shard has reported it yet. */
  readonly dataDir: string;
};

export class MetricSampler {
  constructor(private readonly src: SamplerSources) {}

  read(): Reading {
    const { live, pool } = this.src;
    let hits = 0;
    let lookups = 0;
    const shards = pool.shards.map((shard) => {
      const stats = shard.cacheStats();
      if (stats !== null) {
        hits += stats.hits;
        lookups += stats.hits + stats.misses;
      }
      const m = shard.metrics;
      const base = ShardMetric.fsync_bucket_base;
      return {
        frames: m[ShardMetric.frames_drained],
        walBytes: m[ShardMetric.wal_bytes],
        compactions: m[ShardMetric.lsm_compactions],
        flushes: m[ShardMetric.lsm_flushes],
        fsync: m.slice(base, base + FSYNC_BUCKETS_MS.length + 1),
      };
    });
    return {
      at: Date.now(),
      requests: live.requests.slice(),
      errors: live.errors.slice(),
      latency: live.latency.slice(),
      cacheHits: hits,
      cacheLookups: lookups,
      shards,
    };
  }

  /** The snapshot of the interval between two readings (`prev` older). */
  snapshot(prev: Reading, now: Reading): MetricSnapshot {
    const { pool } = this.src;
    const ms = Math.max(1, now.at - prev.at);
    const perS = (delta: number): number => round((delta * 1000) / ms, 3);
    let requests = 0;
    let errors = 0;
    const byClass = {} as Record<LiveClass, ClassRates>;
    LIVE_CLASSES.forEach((cls, i) => {
      const r = now.requests[i] - prev.requests[i];
      const e = now.errors[i] - prev.errors[i];
      requests += r;
      errors += e;
      byClass[cls] = { requests_per_s: perS(r), errors_per_s: perS(e) };
    });
    const latency = new Float64Array(LATENCY_BUCKETS);
    for (let i = 0; i < LATENCY_BUCKETS; i++) latency[i] = now.latency[i] - prev.latency[i];
    const lookups = now.cacheLookups - prev.cacheLookups;
    let diskFree = Infinity;
    let walPerS = 0;
    let compactions = 0;
    let flushes = 0;
    const shards = pool.shards.map((shard, i): ShardSnapshot => {
      const a = prev.shards[i];
      const b = now.shards[i];
      const m = shard.metrics;
      const free = m[ShardMetric.disk_free_bytes];
      if (free > 0) diskFree = Math.min(diskFree, free);
      const depth = shard.depth();
      const walDelta = a === undefined || b === undefined ? 0 : b.walBytes - a.walBytes;
      walPerS += walDelta;
      if (a !== undefined && b !== undefined) {
        compactions += b.compactions - a.compactions;
        flushes += b.flushes - a.flushes;
      }
      return {
        id: shard.id,
        ops_per_s: a === undefined || b === undefined ? 0 : perS(b.frames - a.frames),
        queue_depth: depth.inFlight + depth.queued,
        wal_bytes: m[ShardMetric.disk_wal_bytes],
        wal_bytes_per_s: perS(walDelta),
        fsync_p99_ms: a === undefined || b === undefined ? null : fsyncP99(a.fsync, b.fsync),
        ready: shard.state === 'ready',
      };
    });
    if (diskFree === Infinity) diskFree = diskFreeOf(this.src.dataDir);
    const memory = process.memoryUsage();
    return {
      ts: now.at,
      interval_ms: ms,
      requests_per_s: perS(requests),
      errors_per_s: perS(errors),
      error_ratio: requests === 0 ? 0 : round(errors / requests, 6),
      by_class: byClass,
      latency_p50_ms: roundOrNull(quantileMs(latency, 0.5)),
      latency_p95_ms: roundOrNull(quantileMs(latency, 0.95)),
      latency_p99_ms: roundOrNull(quantileMs(latency, 0.99)),
      cache_hit_rate: lookups <= 0 ? null : round((now.cacheHits - prev.cacheHits) / lookups, 4),
      memory_rss_bytes: memory.rss,
      memory_heap_used_bytes: memory.heapUsed,
      disk_free_bytes: diskFree,
      open_transactions: this.src.openTransactions(),
      connections: this.src.connections(),
      compactions_per_s: perS(compactions),
      flushes_per_s: perS(flushes),
      wal_bytes_per_s: perS(walPerS),
      shards,
    };
  }
}

/** p99 of the fsyncs between two readings of a shard's fsync histogram (upper bucket bounds, ms). */
function fsyncP99(a: Float64Array, b: Float64Array): number | null {
  let total = 0;
  const delta = new Float64Array(b.length);
  for (let i = 0; i < b.length; i++) total += delta[i] = b[i] - a[i];
  if (total <= 0) return null;
  const rank = 0.99 * total;
  let seen = 0;
  for (let i = 0; i < delta.length; i++) {
    seen += delta[i];
    if (seen >= rank) return i < FSYNC_BUCKETS_MS.length ? FSYNC_BUCKETS_MS[i] : FSYNC_BUCKETS_MS[FSYNC_BUCKETS_MS.length - 1] * 4;
  }
  return FSYNC_BUCKETS_MS[FSYNC_BUCKETS_MS.length - 1] * 4;
}

function diskFreeOf(dir: string): number {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return 0;
  }
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

function roundOrNull(v: number | null): number | null {
  return v === null ? null : round(v, 3);
}
