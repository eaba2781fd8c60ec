// Prometheus metrics via prom-client. HTTP metrics are recorded on the router;
// per-shard figures are read at scrape time from the SharedArrayBuffer each
// shard writes (no messages), and ring depths straight from the rings.

import client, { type Metric, type MetricObjectWithValues, type MetricValueWithName } from 'prom-client';
import { FSYNC_BUCKETS_MS, ShardMetric } from '../../shared/metrics-layout.js';
import type { ShardPool } from '../router/index.js';

export type HttpMetrics = {
  observe(route: string, method: string, status: number, seconds: number): void;
};

export type Metrics = {
  readonly registry: client.Registry;
  readonly http: HttpMetrics;
};

const SHARD_OPS = ['get', 'head', 'put', 'delete', 'list', 'batch'] as const;

export function createMetrics(pool: ShardPool): Metrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry, prefix: 'mantis_process_' });
  const http = httpMetrics(registry);
  shardMetrics(registry, pool);
  registry.registerMetric(new FsyncHistogram(pool) as unknown as Metric);
  return { registry, http };
}

function httpMetrics(registry: client.Registry): HttpMetrics {
  const requests = new client.Counter({
    name: 'mantis_http_requests_total',
    help: 'HTTP requests by route template, method and status',
    labelNames: ['route', 'method', 'status'],
    registers: [registry],
  });
  const latency = new client.Histogram({
    name: 'mantis_http_request_duration_seconds',
    help: 'HTTP request latency by route template',
    labelNames: ['route'],
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [registry],
  });
  // Label lookups cost more than the increments: cache the children.
  const counters = new Map<string, client.Counter.Internal>();
  const histograms = new Map<string, client.Histogram.Internal<'route'>>();
  return {
    observe(route, method, status, seconds) {
      const id = `${route} ${method} ${status}`;
      let counter = counters.get(id);
      if (counter === undefined) counters.set(id, (counter = requests.labels(route, method, String(status))));
      counter.inc();
      let histogram = histograms.get(route);
      if (histogram === undefined) histograms.set(route, (histogram = latency.labels(route)));
      histogram.observe(seconds);
    },
  };
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
  shardGauge(registry, pool, 'mantis_shard_keys', 'Keys held by each shard', (s) => s.metrics[ShardMetric.keys]);
  shardGauge(registry, pool, 'mantis_shard_memtable_bytes', 'Approximate memtable bytes', (s) => s.metrics[ShardMetric.memtable_bytes]);
  shardGauge(registry, pool, 'mantis_shard_ready', '1 when the shard has replayed its WAL and serves', (s) => (s.state === 'ready' ? 1 : 0));
  shardGauge(registry, pool, 'mantis_shard_storage_failed', '1 when a WAL write or fsync failed and the shard refuses writes', (s) => s.metrics[ShardMetric.storage_failed]);
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

/** A histogram whose buckets the shards fill in shared memory. */
class FsyncHistogram {
  readonly name = 'mantis_wal_fsync_duration_seconds';
  readonly help = 'WAL fsync latency';
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  constructor(private readonly pool: ShardPool) {}

  collect(): void {}

  async get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const values: MetricValueWithName<string>[] = [];
    for (const shard of this.pool.shards) {
      const m = shard.metrics;
      const labels = { shard: String(shard.id) };
      let cumulative = 0;
      FSYNC_BUCKETS_MS.forEach((le, i) => {
        cumulative += m[ShardMetric.fsync_bucket_base + i];
        values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: le / 1000 }, value: cumulative });
      });
      cumulative += m[ShardMetric.fsync_bucket_base + FSYNC_BUCKETS_MS.length];
      values.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: cumulative });
      values.push({ metricName: `${this.name}_sum`, labels, value: m[ShardMetric.fsync_seconds_sum] });
      values.push({ metricName: `${this.name}_count`, labels, value: m[ShardMetric.fsync_count] });
    }
    return { name: this.name, help: this.help, type: client.MetricType.Histogram, aggregator: 'sum', collect: () => undefined, values };
  }
}
