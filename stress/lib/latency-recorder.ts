// Latencies in HDR histograms (hdr-histogram-js), recorded in microseconds:
// one for the whole run and one per one-second interval, which is snapshot
// and reset every second for the timeline; and the same pair for the served
// requests alone (answered without an error), so shed 503s — answered in
// microseconds — do not hide the latency of the requests that were served.

import { build, type Histogram } from 'hdr-histogram-js';

export type Percentiles = {
  readonly count: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
};

function histogram(): Histogram {
  // 1 µs .. 1 h, 3 significant digits; grows if something takes longer.
  return build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
}

const ms = (us: number): number => Math.round(us) / 1000;

export function percentilesOf(h: Histogram): Percentiles {
  if (h.totalCount === 0) return { count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0, meanMs: 0 };
  return {
    count: h.totalCount,
    p50Ms: ms(h.getValueAtPercentile(50)),
    p90Ms: ms(h.getValueAtPercentile(90)),
    p99Ms: ms(h.getValueAtPercentile(99)),
    p999Ms: ms(h.getValueAtPercentile(99.9)),
    maxMs: ms(h.maxValue),
    meanMs: ms(h.mean),
  };
}

/** One interval's latencies: every request, and the served ones alone (answered without an error). */
export type IntervalLatency = { readonly all: Percentiles; readonly served: Percentiles };

export class LatencyRecorder {
  private readonly total = histogram();
  private readonly interval = histogram();
  private readonly servedTotal = histogram();
  private readonly servedInterval = histogram();

  /** served: answered without an error (a shed 503 or a failure is recorded in the totals only). */
  record(latencyMs: number, served = true): void {
    const us = Math.max(1, Math.round(latencyMs * 1000));
    this.total.recordValue(us);
    this.interval.recordValue(us);
    if (!served) return;
    this.servedTotal.recordValue(us);
    this.servedInterval.recordValue(us);
  }

  /** The interval since the last call, then starts a new one. */
  takeInterval(): IntervalLatency {
    const all = percentilesOf(this.interval);
    const served = percentilesOf(this.servedInterval);
    this.interval.reset();
    this.servedInterval.reset();
    return { all, served };
  }

  summary(): Percentiles {
    return percentilesOf(this.total);
  }

  /** The served requests alone. */
  servedSummary(): Percentiles {
    return percentilesOf(this.servedTotal);
  }

  destroy(): void {
    this.total.destroy();
    this.interval.destroy();
    this.servedTotal.destroy();
    this.servedInterval.destroy();
  }
}
