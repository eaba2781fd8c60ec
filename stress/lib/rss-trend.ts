// The server's resident memory over a run and its trend: a least-squares line
// through (minutes, MiB) samples. A leak shows as a slope that stays positive
// once the server has warmed up, so the slope is also given for the second
// half of the run alone, and — the soak's verdict — after the warm-up window:
// the first 10% of the run or its first 5 minutes, whichever is shorter
// (6 s of a 60 s run, 5 min of a 1 h run). RSS is flat when that slope is
// under 1 MiB per 10 minutes.

import { procStatusKiB } from '../../bench/lib/proc.js';

export type RssPoint = { readonly t: number; readonly rssMiB: number };

/** Warm-up, skipped by the post-warm-up slope: this share of the run, at most WARMUP_MAX_S. */
export const WARMUP_SHARE = 0.1;
export const WARMUP_MAX_S = 300;
/** RSS is flat when the post-warm-up slope is under this. */
export const FLAT_MIB_PER_10MIN = 1;

/** The warm-up window of a run lasting `runS` seconds: min(10% of it, 5 minutes). */
export function warmupSeconds(runS: number): number {
  return Math.round(Math.min(runS * WARMUP_SHARE, WARMUP_MAX_S) * 10) / 10;
}

export type RssTrend = {
  readonly samples: number;
  readonly firstMiB: number | null;
  readonly lastMiB: number | null;
  readonly peakMiB: number | null;
  /** Fitted slope over the whole run, MiB per minute. */
  readonly slopeMiBPerMin: number | null;
  /** Fitted slope over the second half of the run, MiB per minute. */
  readonly secondHalfSlopeMiBPerMin: number | null;
  /** Seconds at the start left out of the post-warm-up slope: min(10% of the run, 300 s). */
  readonly warmupS: number | null;
  /** Samples after the warm-up. */
  readonly samplesAfterWarmup: number;
  /** Fitted slope after the warm-up, MiB per 10 minutes. */
  readonly slopeMiBPer10Min: number | null;
  /** slopeMiBPer10Min < FLAT_MIB_PER_10MIN; null without enough samples. */
  readonly flat: boolean | null;
  /** Why there are no samples, when there are none. */
  readonly note: string | null;
};

export function rssMiB(pid: number): number | null {
  const kib = procStatusKiB(pid, 'VmRSS');
  return kib === null ? null : Math.round((kib / 1024) * 10) / 10;
}

/** Least-squares slope of y over x, with x in seconds and the result per minute. */
export function slopePerMinute(points: readonly RssPoint[]): number | null {
  const perSecond = slopePerSecond(points);
  return perSecond === null ? null : Math.round(perSecond * 60 * 100) / 100;
}

/** Least-squares slope, MiB per second (unrounded); null with fewer than 3 points. */
export function slopePerSecond(points: readonly RssPoint[]): number | null {
  if (points.length < 3) return null;
  const n = points.length;
  const meanX = points.reduce((s, p) => s + p.t, 0) / n;
  const meanY = points.reduce((s, p) => s + p.rssMiB, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.t - meanX) * (p.rssMiB - meanY);
    sxx += (p.t - meanX) ** 2;
  }
  if (sxx === 0) return null;
  return sxy / sxx;
}

/** The least-squares line through the points after the warm-up: slope (MiB/s) and intercept. */
export function fitAfterWarmup(points: readonly RssPoint[], warmupS: number): { slopePerS: number; at: (t: number) => number } | null {
  const after = points.filter((p) => p.t >= warmupS);
  const slope = slopePerSecond(after);
  if (slope === null) return null;
  const meanT = after.reduce((a, p) => a + p.t, 0) / after.length;
  const meanY = after.reduce((a, p) => a + p.rssMiB, 0) / after.length;
  return { slopePerS: slope, at: (t) => meanY + slope * (t - meanT) };
}

export function rssTrend(points: readonly RssPoint[], note: string | null): RssTrend {
  if (points.length === 0) {
    return { samples: 0, firstMiB: null, lastMiB: null, peakMiB: null, slopeMiBPerMin: null, secondHalfSlopeMiBPerMin: null, warmupS: null, samplesAfterWarmup: 0, slopeMiBPer10Min: null, flat: null, note };
  }
  const half = points[points.length - 1].t / 2;
  const warmupS = warmupSeconds(points[points.length - 1].t);
  const fit = fitAfterWarmup(points, warmupS);
  const per10Min = fit === null ? null : Math.round(fit.slopePerS * 600 * 100) / 100;
  return {
    samples: points.length,
    firstMiB: points[0].rssMiB,
    lastMiB: points[points.length - 1].rssMiB,
    peakMiB: Math.max(...points.map((p) => p.rssMiB)),
    slopeMiBPerMin: slopePerMinute(points),
    secondHalfSlopeMiBPerMin: slopePerMinute(points.filter((p) => p.t >= half)),
    warmupS,
    samplesAfterWarmup: points.filter((p) => p.t >= warmupS).length,
    slopeMiBPer10Min: per10Min,
    flat: per10Min === null ? null : per10Min < FLAT_MIB_PER_10MIN,
    note,
  };
}
