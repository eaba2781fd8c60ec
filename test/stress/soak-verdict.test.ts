// The soak's parts that need no server: --duration 1h and the overload flags
// parse; the RSS warm-up window is min(10% of the run, 5 minutes); the slope
// after it is in MiB per 10 minutes and `flat` is slope < 1 MiB / 10 min; the
// verdict passes only when the rate held (≥ 99%), p99 < the bound, no error
// (shed requests included) and RSS is flat.

import { describe, expect, it } from 'vitest';
import { UsageError } from '../../stress/lib/cli-args.js';
import { parseLoadOptions } from '../../stress/lib/load-options.js';
import { soakVerdict } from '../../stress/lib/load-report.js';
import type { PhaseResult } from '../../stress/lib/open-loop.js';
import { rssTrend, warmupSeconds, type RssPoint } from '../../stress/lib/rss-trend.js';

const latency = { count: 1000, p50Ms: 1, p90Ms: 2, p99Ms: 5, p999Ms: 9, maxMs: 12, meanMs: 1.2 };

function phase(over: Partial<PhaseResult> = {}): PhaseResult {
  return {
    targetRate: 5000,
    durationMs: 3_600_000,
    sent: 18_000_000,
    completed: 18_000_000,
    achievedRate: 4999,
    servedRate: 4999,
    latency,
    servedLatency: latency,
    errors: {},
    errorCount: 0,
    shed: 0,
    seconds: [],
    loopDelayMs: { p99: 1, max: 2 },
    ...over,
  };
}

/** One sample a second for `seconds`: `base` MiB plus `perTenMin` MiB per 10 minutes after `from` s. */
function samples(seconds: number, perTenMin: number, from = 0, base = 300): RssPoint[] {
  return Array.from({ length: seconds }, (_, i) => ({ t: i + 1, rssMiB: base + Math.max(0, i + 1 - from) * (perTenMin / 600) }));
}

describe('soak options', () => {
  it('parses --duration 1h and the overload phase flags', () => {
    const o = parseLoadOptions(['--duration', '1h', '--rate', '5000']);
    expect(o.durationMs).toBe(3_600_000);
    expect(o.rate).toBe(5000);
    expect(o.overloadRate).toBeNull();
    const over = parseLoadOptions(['--overload-rate', '40000', '--overload-duration', '30s']);
    expect(over).toMatchObject({ overloadRate: 40000, overloadDurationMs: 30_000, overloadConnections: 6144 });
    expect(parseLoadOptions(['--overload-rate', '1000', '--overload-connections', '100']).overloadConnections).toBe(100);
    expect(() => parseLoadOptions(['--overload-duration', '30s'])).toThrow(UsageError);
    expect(() => parseLoadOptions(['--overload-rate', '1000', '--find-max'])).toThrow(UsageError);
    expect(() => parseLoadOptions(['--duration', '1d'])).toThrow(UsageError);
  });
});

describe('RSS trend after warm-up', () => {
  it('skips min(10% of the run, 5 minutes)', () => {
    expect(warmupSeconds(60)).toBe(6);
    expect(warmupSeconds(1800)).toBe(180);
    expect(warmupSeconds(3600)).toBe(300);
    expect(warmupSeconds(36_000)).toBe(300);
  });

  it('gives the slope after warm-up in MiB per 10 minutes and the flat verdict', () => {
    const growing = rssTrend(samples(3600, 3), null);
    expect(growing.warmupS).toBe(300);
    expect(growing.slopeMiBPer10Min).toBeCloseTo(3, 1);
    expect(growing.flat).toBe(false);
    const level = rssTrend(samples(3600, 0.5), null);
    expect(level.slopeMiBPer10Min).toBeCloseTo(0.5, 1);
    expect(level.flat).toBe(true);
  });

  it('leaves the warm-up out: growth that stops within the first 5 minutes is flat', () => {
    const points = samples(3600, 0).map((p) => ({ t: p.t, rssMiB: p.t < 240 ? 200 + p.t / 2 : 320 }));
    const trend = rssTrend(points, null);
    expect(trend.slopeMiBPer10Min).toBe(0);
    expect(trend.flat).toBe(true);
    expect(trend.slopeMiBPerMin, 'the whole run still shows the warm-up growth').toBeGreaterThan(0);
  });

  it('has no verdict without samples', () => {
    expect(rssTrend([], 'no pid')).toMatchObject({ samples: 0, slopeMiBPer10Min: null, flat: null, warmupS: null });
  });
});

describe('soak verdict', () => {
  const flat = rssTrend(samples(3600, 0.2), null);

  it('passes when the rate held, p99 is under the bound, no error and RSS flat', () => {
    const v = soakVerdict(phase(), flat, 50);
    expect(v.pass).toBe(true);
    expect(v.checks.map((c) => [c.name, c.pass])).toEqual([['rate held', true], ['p99', true], ['errors', true], ['RSS flat', true]]);
  });

  it('fails on each target alone', () => {
    expect(soakVerdict(phase({ achievedRate: 4949 }), flat, 50).pass, '4949 < 99% of 5000').toBe(false);
    expect(soakVerdict(phase({ achievedRate: 4950 }), flat, 50).pass).toBe(true);
    expect(soakVerdict(phase({ latency: { ...latency, p99Ms: 50 } }), flat, 50).pass, 'p99 must be under 50').toBe(false);
    const shedOnly = soakVerdict(phase({ errors: { OVERLOADED: 3 }, errorCount: 3, shed: 3 }), flat, 50);
    expect(shedOnly.pass, 'a shed request is an error for the soak').toBe(false);
    expect(shedOnly.checks.find((c) => c.name === 'errors')?.actual).toContain('OVERLOADED 3');
    expect(soakVerdict(phase(), rssTrend(samples(3600, 2), null), 50).pass).toBe(false);
    const unsampled = soakVerdict(phase(), rssTrend([], 'the server pid is unknown'), 50);
    expect(unsampled.pass).toBe(false);
    expect(unsampled.checks.find((c) => c.name === 'RSS flat')?.actual).toContain('not sampled');
  });
});
