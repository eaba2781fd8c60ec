// HitRateMonitor driven sample by sample over fake shard counters: the
// warning needs a full window below the threshold with enough lookups, fires
// once, re-arms only on a window with enough lookups at or above it, and is
// off at threshold 0 or without a cache.

import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { CacheSegmentStats } from '../../shared/cache/index.js';
import { HitRateMonitor, type MonitoredShard } from '../../src/cache/hit-rate-monitor.js';
import type { HitRateWarning } from '../../src/cache/invalidation-hub.js';
import type { Logger } from '../../src/log.js';
import { metricValue } from '../helpers/prom-values.js';

class FakeShard implements MonitoredShard {
  hits = 0;
  misses = 0;
  constructor(
    readonly id: number,
    private readonly cached = true,
  ) {}
  cacheStats(): CacheSegmentStats | null {
    if (!this.cached) return null;
    return { capacityBytes: 1, bytes: 0, entries: 0, hits: this.hits, misses: this.misses, fallbacks: 0, evictions: 0, expirations: 0, refused: 0 };
  }
  /** One second of traffic. */
  lookups(hits: number, misses: number): void {
    this.hits += hits;
    this.misses += misses;
  }
}

function setup(threshold: number, windowS: number, shards: FakeShard[]) {
  const registry = new client.Registry();
  const warnings: HitRateWarning[] = [];
  const logged: { level: string; fields: Record<string, unknown> }[] = [];
  const log = {
    warn: (fields: Record<string, unknown>) => logged.push({ level: 'warn', fields }),
    info: (fields: Record<string, unknown>) => logged.push({ level: 'info', fields }),
  } as unknown as Logger;
  const monitor = new HitRateMonitor({ shards, hub: { publishWarning: (w) => warnings.push(w) }, log, threshold, windowS, registry });
  const low = (shard: number): Promise<number> => metricValue(registry, 'mantis_cache_hit_rate_low', { shard: String(shard) });
  const count = (shard: number): Promise<number> => metricValue(registry, 'mantis_cache_hit_rate_warnings_total', { shard: String(shard) });
  return { monitor, warnings, logged, low, count, registry };
}

describe('HitRateMonitor', () => {
  it('warns once when the rate over a full window is below the threshold, then re-arms on recovery', async () => {
    const shard = new FakeShard(3);
    const { monitor, warnings, logged, low, count } = setup(0.5, 3, [shard]);
    monitor.sample(1000);
    // Two seconds of misses: the window (3 s) is not full yet.
    for (let s = 0; s < 2; s++) {
      shard.lookups(10, 90);
      monitor.sample(2000 + s);
    }
    expect(warnings).toEqual([]);
    shard.lookups(10, 90);
    monitor.sample(5000);
    expect(warnings).toEqual([{ type: 'warning', reason: 'low_hit_rate', shard: 3, hit_rate: 0.1, threshold: 0.5, window_s: 3, ts: 5000 }]);
    expect(logged).toEqual([{ level: 'warn', fields: { shard: 3, hit_rate: 0.1, threshold: 0.5, window_s: 3, lookups: 300 } }]);
    expect(await low(3)).toBe(1);
    expect(await count(3)).toBe(1);
    // Still low: nothing new.
    for (let s = 0; s < 5; s++) {
      shard.lookups(0, 100);
      monitor.sample();
    }
    expect(warnings).toHaveLength(1);
    // Recovering: the window must reach the threshold (100 of 300, then 200 of 300).
    shard.lookups(100, 0);
    monitor.sample();
    expect(await low(3)).toBe(1);
    shard.lookups(100, 0);
    monitor.sample();
    expect(await low(3)).toBe(0);
    expect(logged.at(-1)).toMatchObject({ level: 'info', fields: { shard: 3, hit_rate: 0.6667 } });
    // Low again: a second warning.
    for (let s = 0; s < 3; s++) {
      shard.lookups(0, 200);
      monitor.sample();
    }
    expect(warnings).toHaveLength(2);
    expect(await count(3)).toBe(2);
  });

  it('decides nothing on a window with fewer lookups than the minimum', async () => {
    const shard = new FakeShard(0);
    const { monitor, warnings, low } = setup(0.9, 2, [shard]);
    monitor.sample();
    for (let s = 0; s < 10; s++) {
      shard.lookups(0, 49); // 98 per window: under 100
      monitor.sample();
    }
    expect(warnings).toEqual([]);
    shard.lookups(0, 60);
    monitor.sample();
    expect(warnings).toHaveLength(1);
    // Idle afterwards: the warning stands (no evidence either way).
    for (let s = 0; s < 5; s++) monitor.sample();
    expect(await low(0)).toBe(1);
  });

  it('keeps shards apart and starts a window over if the counters ever go back', () => {
    const a = new FakeShard(0);
    const b = new FakeShard(1);
    const { monitor, warnings } = setup(0.5, 1, [a, b]);
    monitor.sample();
    a.lookups(0, 200);
    b.lookups(200, 0);
    monitor.sample();
    expect(warnings.map((w) => w.shard)).toEqual([0]);
    b.hits = 0;
    b.misses = 0;
    monitor.sample(); // b restarts its window
    b.lookups(0, 200);
    monitor.sample();
    expect(warnings.map((w) => w.shard)).toEqual([0, 1]);
  });

  it('is off at threshold 0 and for shards without a cache', async () => {
    const off = setup(0, 1, [new FakeShard(0)]);
    expect(off.monitor.enabled).toBe(false);
    expect(off.registry.getSingleMetric('mantis_cache_hit_rate_low')).toBeUndefined();
    const uncached = setup(0.5, 1, [new FakeShard(0, false)]);
    expect(uncached.monitor.enabled).toBe(false);
    uncached.monitor.start();
    uncached.monitor.stop();
    const on = setup(0.5, 1, [new FakeShard(0)]);
    expect(on.monitor.enabled).toBe(true);
    on.monitor.start();
    on.monitor.stop();
  });
});
