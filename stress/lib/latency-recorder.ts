// Latencies in HDR histograms (hdr-histogram-js), recorded in microseconds:
// one for the whole run and one per one-second interval, which is snapshot
// and reset every second for the timeline.

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

export class LatencyRecorder {
  private readonly total = histogram();
  private readonly interval = histogram();

  record(latencyMs: number): void {
    const us = Math.max(1, Math.round(latencyMs * 1000));
    this.total.recordValue(us);
    this.interval.recordValue(us);
  }

  /** The interval since the last call, then starts a new one. */
  takeInterval(): Percentiles {
    const p = percentilesOf(this.interval);
    this.interval.reset();
    return p;
  }

  summary(): Percentiles {
    return percentilesOf(this.total);
  }

  destroy(): void {
    this.total.destroy();
    this.interval.destroy();
  }
}
