// Warns when a shard's cache hit rate stays low. Once a second it reads every
// shard's hit and miss counters from the cache segment header (shared memory,
// no message to the shard) and keeps the trailing window of samples. A shard
// whose window is full (observed for the whole --cache-hit-rate-window-s),
// holds at least MIN_LOOKUPS lookups and whose hit rate over it is below
// --cache-hit-rate-warn goes low: one pino warn, mantis_cache_hit_rate_low 1,
// mantis_cache_hit_rate_warnings_total + 1, and a warning event to every
// invalidation subscriber. It re-arms (gauge 0) once a window with enough
// lookups shows the rate at or above the threshold; a window with fewer
// lookups decides nothing either way. Threshold 0 turns it off.

import client from 'prom-client';
import type { CacheSegmentStats } from '../../shared/cache/index.js';
import type { Logger } from '../log.js';
import type { HitRateWarning, InvalidationHub } from './invalidation-hub.js';

/** Fewer lookups than this in a window say nothing about the hit rate (an idle cache never warns). */
export const MIN_LOOKUPS = 100;
const SAMPLE_INTERVAL_MS = 1_000;

export type MonitoredShard = { readonly id: number; cacheStats(): CacheSegmentStats | null };

export type HitRateMonitorOptions = {
  readonly shards: readonly MonitoredShard[];
  readonly hub: Pick<InvalidationHub, 'publishWarning'>;
  readonly log: Logger;
  /** 0..1; 0 = off. */
  readonly threshold: number;
  readonly windowS: number;
  readonly registry?: client.Registry;
  readonly minLookups?: number;
  readonly sampleIntervalMs?: number;
};

/** One shard's trailing samples: a ring of windowS + 1 cumulative (hits, misses) pairs. */
class ShardWindow {
  private readonly hits: Float64Array;
  private readonly misses: Float64Array;
  private next = 0;
  private count = 0;
  low = false;
  warnings = 0;

  constructor(
    readonly shard: MonitoredShard,
    readonly samples: number,
  ) {
    this.hits = new Float64Array(samples);
    this.misses = new Float64Array(samples);
  }

  /** Records a sample; returns the window's lookups and hit rate once it spans the whole window. */
  add(hits: number, misses: number): { lookups: number; rate: number } | null {
    const last = (this.next + this.samples - 1) % this.samples;
    // The counters only grow; should they ever go back, start the window over.
    if (this.count > 0 && (hits < this.hits[last] || misses < this.misses[last])) this.count = 0;
    this.hits[this.next] = hits;
    this.misses[this.next] = misses;
    this.next = (this.next + 1) % this.samples;
    this.count = Math.min(this.count + 1, this.samples);
    if (this.count < this.samples) return null;
    // Full: the oldest sample is the one the next write replaces.
    const hitDelta = hits - this.hits[this.next];
    const lookups = hitDelta + misses - this.misses[this.next];
    return { lookups, rate: lookups === 0 ? 1 : hitDelta / lookups };
  }
}

export class HitRateMonitor {
  private readonly windows: ShardWindow[];
  private timer: NodeJS.Timeout | null = null;
  private readonly minLookups: number;

  constructor(private readonly options: HitRateMonitorOptions) {
    this.minLookups = options.minLookups ?? MIN_LOOKUPS;
    const enabled = options.threshold > 0;
    this.windows = enabled ? options.shards.filter((s) => s.cacheStats() !== null).map((s) => new ShardWindow(s, options.windowS + 1)) : [];
    if (enabled && options.registry !== undefined) this.registerMetrics(options.registry);
  }

  /** Whether anything is monitored (threshold above 0 and a cache). */
  get enabled(): boolean {
    return this.windows.length > 0;
  }

  start(): void {
    if (!this.enabled || this.timer !== null) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.options.sampleIntervalMs ?? SAMPLE_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** One sample of every shard (the timer calls this; exposed for tests). */
  sample(nowMs = Date.now()): void {
    for (const w of this.windows) {
      const stats = w.shard.cacheStats();
      if (stats === null) continue;
      const window = w.add(stats.hits, stats.misses);
      if (window === null || window.lookups < this.minLookups) continue;
      if (!w.low && window.rate < this.options.threshold) this.warn(w, window.rate, window.lookups, nowMs);
      else if (w.low && window.rate >= this.options.threshold) this.recover(w, window.rate, window.lookups);
    }
  }

  private warn(w: ShardWindow, rate: number, lookups: number, ts: number): void {
    const { threshold, windowS } = this.options;
    w.low = true;
    w.warnings++;
    const hitRate = Math.round(rate * 10_000) / 10_000;
    this.options.log.warn(
      { shard: w.shard.id, hit_rate: hitRate, threshold, window_s: windowS, lookups },
      `cache hit rate of shard ${w.shard.id} has stayed below ${threshold} for ${windowS} s`,
    );
    const warning: HitRateWarning = { type: 'warning', reason: 'low_hit_rate', shard: w.shard.id, hit_rate: hitRate, threshold, window_s: windowS, ts };
    this.options.hub.publishWarning(warning);
  }

  private recover(w: ShardWindow, rate: number, lookups: number): void {
    w.low = false;
    this.options.log.info(
      { shard: w.shard.id, hit_rate: Math.round(rate * 10_000) / 10_000, threshold: this.options.threshold, window_s: this.options.windowS, lookups },
      `cache hit rate of shard ${w.shard.id} is back at or above the threshold`,
    );
  }

  private registerMetrics(registry: client.Registry): void {
    const windows = this.windows;
    new client.Gauge({
      name: 'mantis_cache_hit_rate_low',
      help: `1 while the shard's cache hit rate over the window is below --cache-hit-rate-warn (${this.options.threshold})`,
      labelNames: ['shard'],
      registers: [registry],
      collect() {
        for (const w of windows) this.set({ shard: String(w.shard.id) }, w.low ? 1 : 0);
      },
    });
    new client.Counter({
      name: 'mantis_cache_hit_rate_warnings_total',
      help: 'Times a shard\'s cache hit rate went below --cache-hit-rate-warn for a whole window',
      labelNames: ['shard'],
      registers: [registry],
      collect() {
        this.reset();
        for (const w of windows) this.inc({ shard: String(w.shard.id) }, w.warnings);
      },
    });
  }
}
