// Prometheus metrics via prom-client. HTTP metrics are recorded on the router;
// per-shard figures are read at scrape time from the SharedArrayBuffer each
// shard writes (no messages), and ring depths straight from the rings.

import client, { type Metric, type MetricObjectWithValues, type MetricValueWithName } from 'prom-client';
import type { CacheSegmentStats } from '../../shared/cache/index.js';
import { FSYNC_BUCKETS_MS, ShardMetric } from '../../shared/metrics-layout.js';
import type { ShardPool } from '../router/index.js';
import type { RouteLabel } from '../http/routes.js';
import { LiveCounters } from '../ops/live-counters.js';

export type HttpMetrics = {
  observe(route: string, method: string, status: number, seconds: number): void;
};

export type Metrics = {
  readonly registry: client.Registry;
  readonly http: HttpMetrics;
  /** The same requests as cumulative counters by route class, for the live snapshots (src/ops/). */
  readonly live: LiveCounters;
};

const SHARD_OPS = ['get', 'head', 'put', 'delete', 'list', 'batch'] as const;

export function createMetrics(pool: ShardPool): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'mantis_process_' });
  const live = new LiveCounters();
  const http = httpMetrics(registry, live);
  shardMetrics(registry, pool);
  txnShardMetrics(registry, pool);
  cacheMetrics(registry, pool);
  registry.registerMetric(fsyncHistogram(pool) as unknown as Metric);
  return { registry, http, live };
}

const LATENCY_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];

/**
 * HTTP counters and latency histograms kept in plain arrays: prom-client's
 * labelled observe() hashes its labels on every call, which costs more than
 * the rest of a cache-hit GET. The registry reads these at scrape time.
 */
function httpMetrics(registry: client.Registry, live: LiveCounters): HttpMetrics {
  const requests = new Map<string, { labels: Record<string, string>; count: number }>();
  const latency = new Map<string, { buckets: Float64Array; sum: number; count: number }>();
  registry.registerMetric(
    new ArrayMetric('mantis_http_requests_total', 'HTTP requests by route template, method and status', 'counter', () =>
      [...requests.values()].map((r) => ({ labels: r.labels, value: r.count })),
    ) as unknown as Metric,
  );
  registry.registerMetric(
    new ArrayMetric('mantis_http_request_duration_seconds', 'HTTP request latency by route template', 'histogram', () =>
      [...latency].flatMap(([route, h]) => histogramValues('mantis_http_request_duration_seconds', { route }, LATENCY_BUCKETS_S, h.buckets, h.sum, h.count)),
    ) as unknown as Metric,
  );
  return {
    observe(route, method, status, seconds) {
      live.observe(route as RouteLabel, method, status, seconds);
      const id = route + ' ' + method + ' ' + status;
      const counter = requests.get(id);
      if (counter === undefined) requests.set(id, { labels: { route, method: method.toUpperCase(), status: String(status) }, count: 1 });
      else counter.count++;
      let h = latency.get(route);
      if (h === undefined) latency.set(route, (h = { buckets: new Float64Array(LATENCY_BUCKETS_S.length + 1), sum: 0, count: 0 }));
      let i = 0;
      while (i < LATENCY_BUCKETS_S.length && seconds > LATENCY_BUCKETS_S[i]) i++;
      h.buckets[i]++;
      h.sum += seconds;
      h.count++;
    },
  };
}

type Sample = MetricValueWithName<string>;

/** Cumulative Prometheus histogram samples from per-bucket counts (last = +Inf). */
function histogramValues(name: string, labels: Record<string, string>, bounds: readonly number[], buckets: ArrayLike<number>, sum: number, count: number): Sample[] {
  const values: Sample[] = [];
  let cumulative = 0;
  bounds.forEach((le, i) => {
    cumulative += buckets[i];
    values.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: cumulative });
  });
  values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: cumulative + buckets[bounds.length] });
  values.push({ metricName: `${name}_sum`, labels, value: sum });
  values.push({ metricName: `${name}_count`, labels, value: count });
  return values;
}

/** A metric whose samples are computed at scrape time from our own arrays or shared memory. */
class ArrayMetric {
  readonly aggregator = 'sum';
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
    private readonly read: () => Sample[] | { labels: Record<string, string>; value: number }[],
  ) {}

  collect(): void {}

  async get(): Promise<MetricObjectWithValues<Sample>> {
    return {
      name: this.name,
      help: this.help,
      type: this.type as unknown as client.MetricType,
      aggregator: 'sum',
      collect: () => undefined,
      values: this.read() as Sample[],
    };
  }
}

function shardCounter(registry: client.Registry, pool: ShardPool, name: string, help: string, slot: number): void {
  new client.Counter({
    name,
    help,
    labelNames: ['shard'],
    registers: [registry],
    collect() {
      this.reset();
      for (const shard of pool.shards) this.inc({ shard: String(shard.id) }, shard.metrics[slot]);
    },
  });
}

function shardGauge(registry: client.Registry, pool: ShardPool, name: string, help: string, read: (s: ShardPool['shards'][number]) => number): void {
  new client.Gauge({
    name,
    help,
    labelNames: ['shard'],
    registers: [registry],
    collect() {
      for (const shard of pool.shards) this.set({ shard: String(shard.id) }, read(shard));
    },
  });
}

function shardMetrics(registry: client.Registry, pool: ShardPool): void {
  new client.Counter({
    name: 'mantis_shard_ops_total',
    help: 'Requests applied by each shard, by operation',
    labelNames: ['shard', 'op'],
    registers: [registry],
    collect() {
      this.reset();
      for (const shard of pool.shards) {
        for (const op of SHARD_OPS) this.inc({ shard: String(shard.id), op }, shard.metrics[ShardMetric[`ops_${op}`]]);
      }
    },
  });
  shardCounter(registry, pool, 'mantis_shard_batch_items_total', 'Operations inside batch requests', ShardMetric.ops_batch_items);
  shardCounter(registry, pool, 'mantis_shard_errors_total', 'Requests that failed inside a shard', ShardMetric.ops_error);
  shardCounter(registry, pool, 'mantis_shard_batches_total', 'Ring batches drained by each shard', ShardMetric.batches_drained);
  shardCounter(registry, pool, 'mantis_shard_frames_total', 'Request frames drained by each shard', ShardMetric.frames_drained);
  shardCounter(registry, pool, 'mantis_wal_bytes_total', 'Bytes appended to the write-ahead log', ShardMetric.wal_bytes);
  shardCounter(registry, pool, 'mantis_wal_writes_total', 'WAL writes (one per drained batch with writes)', ShardMetric.wal_writes);
  shardCounter(registry, pool, 'mantis_shard_restarts_total', 'Times a shard thread died and was restarted', ShardMetric.restarts);
  shardCounter(registry, pool, 'mantis_ttl_expired_total', 'Expired keys removed by the TTL sweeper', ShardMetric.ttl_expired);
  shardCounter(registry, pool, 'mantis_wal_replay_dropped_bytes_total', 'Torn or corrupt WAL bytes dropped at replay', ShardMetric.replay_dropped_bytes);
  shardCounter(registry, pool, 'mantis_write_stalls_total', 'Write requests held while the LSM could not take writes', ShardMetric.write_stalls);
  shardCounter(registry, pool, 'mantis_corrupt_reads_total', 'Reads refused because a table block failed its checksum', ShardMetric.corrupt_reads);
  shardCounter(registry, pool, 'mantis_lsm_corruptions_total', 'Checksum failures seen by flushes and compactions', ShardMetric.lsm_corruptions);
  shardCounter(registry, pool, 'mantis_lsm_flushes_total', 'Memtables flushed to level-0 tables', ShardMetric.lsm_flushes);
  shardCounter(registry, pool, 'mantis_lsm_compactions_total', 'Compactions that merged tables into the next level', ShardMetric.lsm_compactions);
  shardCounter(registry, pool, 'mantis_lsm_user_bytes_total', 'Key and value bytes written by clients', ShardMetric.lsm_user_bytes);
  shardCounter(registry, pool, 'mantis_lsm_table_bytes_written_total', 'Table bytes written by flushes and compactions', ShardMetric.lsm_disk_bytes_written);
  shardCounter(registry, pool, 'mantis_lsm_compaction_bytes_read_total', 'Table bytes read by compactions', ShardMetric.lsm_compaction_bytes_read);
  shardCounter(registry, pool, 'mantis_block_cache_hits_total', 'Table block reads served from the block cache', ShardMetric.block_cache_hits);
  shardCounter(registry, pool, 'mantis_block_cache_misses_total', 'Table block reads that went to disk', ShardMetric.block_cache_misses);
  shardGauge(registry, pool, 'mantis_lsm_quarantined_tables', 'Tables a compaction found corrupt; compactions skip them (repair needed)', (s) => s.metrics[ShardMetric.lsm_quarantined_tables]);
  shardCounter(registry, pool, 'mantis_shard_deadline_exceeded_total', 'Requests a shard refused because their deadline (Mantis-Deadline-Ms) had passed', ShardMetric.deadline_exceeded);
  shardCounter(registry, pool, 'mantis_cache_write_back_flushes_total', 'Batches of write-back writes handed to the WAL', ShardMetric.write_back_flushes);
  shardGauge(registry, pool, 'mantis_cache_write_back_pending', 'Write-back requests acknowledged and not yet in the WAL', (s) => s.metrics[ShardMetric.write_back_pending]);
  shardGauge(registry, pool, 'mantis_lsm_tables', 'Live SSTables', (s) => s.metrics[ShardMetric.lsm_tables]);
  shardGauge(registry, pool, 'mantis_lsm_level0_tables', 'Live level-0 SSTables (writes stall when too many)', (s) => s.metrics[ShardMetric.lsm_level0_tables]);
  shardGauge(registry, pool, 'mantis_lsm_table_bytes', 'Bytes of live SSTables on disk', (s) => s.metrics[ShardMetric.lsm_table_bytes]);
  shardGauge(registry, pool, 'mantis_lsm_memory_bytes', 'Memtables + block cache + table indexes and filters', (s) => s.metrics[ShardMetric.lsm_memory_bytes]);
  shardGauge(registry, pool, 'mantis_block_cache_bytes', 'Bytes held by the block cache', (s) => s.metrics[ShardMetric.block_cache_bytes]);
  shardGauge(registry, pool, 'mantis_disk_wal_bytes', 'Bytes of WAL segments on disk', (s) => s.metrics[ShardMetric.disk_wal_bytes]);
  shardGauge(registry, pool, 'mantis_disk_free_bytes', 'Free bytes on the file system of the shard directory', (s) => s.metrics[ShardMetric.disk_free_bytes]);
  shardGauge(registry, pool, 'mantis_shard_keys', 'Keys held by each shard', (s) => s.metrics[ShardMetric.keys]);
  shardGauge(registry, pool, 'mantis_shard_memtable_bytes', 'Approximate memtable bytes', (s) => s.metrics[ShardMetric.memtable_bytes]);
  shardGauge(registry, pool, 'mantis_shard_ready', '1 when the shard has replayed its WAL and serves', (s) => (s.state === 'ready' ? 1 : 0));
  shardGauge(registry, pool, 'mantis_shard_storage_failed', '1 when a WAL or table write failed and the shard refuses writes (until its probe sees the disk usable)', (s) => s.metrics[ShardMetric.storage_failed]);
  shardGauge(registry, pool, 'mantis_shard_inflight_requests', 'Requests sent to the shard and not yet answered', (s) => s.depth().inFlight);
  shardGauge(registry, pool, 'mantis_shard_queued_requests', 'Requests waiting for ring space', (s) => s.depth().queued);
  new client.Gauge({
    name: 'mantis_ring_used_bytes',
    help: 'Bytes waiting in each shard ring',
    labelNames: ['shard', 'direction'],
    registers: [registry],
    collect() {
      for (const shard of pool.shards) {
        const depth = shard.depth();
        this.set({ shard: String(shard.id), direction: 'request' }, depth.requestRingBytes);
        this.set({ shard: String(shard.id), direction: 'response' }, depth.responseRingBytes);
      }
    },
  });
}

/** The shards' transaction participants (workers/txn/txn-participant.ts), from the shared counters. */
function txnShardMetrics(registry: client.Registry, pool: ShardPool): void {
  shardGauge(registry, pool, 'mantis_txn_version_keys', 'Keys the MVCC version store tracks (committed after the oldest live snapshot)', (s) => s.metrics[ShardMetric.txn_version_keys]);
  shardGauge(registry, pool, 'mantis_txn_versions', 'Older versions the MVCC version store keeps for live snapshots', (s) => s.metrics[ShardMetric.txn_versions]);
  shardGauge(registry, pool, 'mantis_txn_version_bytes', 'Approximate bytes held by the MVCC version store (records, older values, write intents)', (s) => s.metrics[ShardMetric.txn_version_bytes]);
  shardGauge(registry, pool, 'mantis_txn_intents', 'Intents held by prepared transactions (write and read keys, range prefixes)', (s) => s.metrics[ShardMetric.txn_intents]);
  shardCounter(registry, pool, 'mantis_txn_shard_commits_total', 'One-shard transaction commits applied', ShardMetric.txn_commits);
  shardCounter(registry, pool, 'mantis_txn_shard_prepares_total', 'Two-phase commit prepares voted yes', ShardMetric.txn_prepares);
  const labelled = (name: string, help: string, label: string, slots: Record<string, number>): void => {
    new client.Counter({
      name,
      help,
      labelNames: ['shard', label],
      registers: [registry],
      collect() {
        this.reset();
        for (const shard of pool.shards) {
          for (const [value, slot] of Object.entries(slots)) this.inc({ shard: String(shard.id), [label]: value }, shard.metrics[slot]);
        }
      },
    });
  };
  labelled('mantis_txn_shard_decisions_total', 'Decisions applied to transactions prepared on the shard', 'outcome', {
    commit: ShardMetric.txn_decided_commit,
    abort: ShardMetric.txn_decided_abort,
  });
  labelled('mantis_txn_shard_conflicts_total', 'Transaction validations the shard refused, by reason', 'reason', {
    write: ShardMetric.txn_conflicts_write,
    read: ShardMetric.txn_conflicts_read,
    range: ShardMetric.txn_conflicts_range,
    locked: ShardMetric.txn_conflicts_locked,
  });
}

/** Per-shard cache figures, read from each segment's header at scrape time (no series when the cache is off). */
function cacheMetrics(registry: client.Registry, pool: ShardPool): void {
  const series = (read: (s: CacheSegmentStats) => number) => (): { labels: Record<string, string>; value: number }[] =>
    pool.shards.flatMap((shard) => {
      const stats = shard.cacheStats();
      return stats === null ? [] : [{ labels: { shard: String(shard.id) }, value: read(stats) }];
    });
  const figures: [string, string, 'counter' | 'gauge', (s: CacheSegmentStats) => number][] = [
    ['mantis_cache_hits_total', 'GETs and HEADs answered from the cache segment by the router (no thread hop)', 'counter', (s) => s.hits],
    ['mantis_cache_misses_total', 'Router cache lookups that went on to the shard ring', 'counter', (s) => s.misses],
    ['mantis_cache_fallbacks_total', 'Lookups that gave up on an entry the shard kept rewriting (counted as misses too)', 'counter', (s) => s.fallbacks],
    ['mantis_cache_evictions_total', 'Entries evicted to make room (W-TinyLFU)', 'counter', (s) => s.evictions],
    ['mantis_cache_expirations_total', 'Expired entries removed by the sweeper', 'counter', (s) => s.expirations],
    ['mantis_cache_refused_total', 'Values too large for the cache segment (served from storage instead)', 'counter', (s) => s.refused],
    ['mantis_cache_bytes', 'Logical bytes cached (key + value + content type + per-entry overhead)', 'gauge', (s) => s.bytes],
    ['mantis_cache_entries', 'Entries cached', 'gauge', (s) => s.entries],
    ['mantis_cache_capacity_bytes', 'Logical capacity of the cache segment', 'gauge', (s) => s.capacityBytes],
  ];
  for (const [name, help, type, read] of figures) registry.registerMetric(new ArrayMetric(name, help, type, series(read)) as unknown as Metric);
}

function fsyncHistogram(pool: ShardPool): ArrayMetric {
  const name = 'mantis_wal_fsync_duration_seconds';
  const bounds = FSYNC_BUCKETS_MS.map((ms) => ms / 1000);
  return new ArrayMetric(name, 'WAL fsync latency', 'histogram', () =>
    pool.shards.flatMap((shard) => {
      const m = shard.metrics;
      const base = ShardMetric.fsync_bucket_base;
      return histogramValues(name, { shard: String(shard.id) }, bounds, m.subarray(base, base + bounds.length + 1), m[ShardMetric.fsync_seconds_sum], m[ShardMetric.fsync_count]);
    }),
  );
}
