// The server's resident memory over a run and its trend: a least-squares line
// through (minutes, MiB) samples. A leak shows as a slope that stays positive
// once the server has warmed up, so the slope is also given for the second
// half of the run alone.

import { procStatusKiB } from '../../bench/lib/proc.js';

export type RssPoint = { readonly t: number; readonly rssMiB: number };

export type RssTrend = {
  readonly samples: number;
  readonly firstMiB: number | null;
  readonly lastMiB: number | null;
  readonly peakMiB: number | null;
  /** Fitted slope over the whole run, MiB per minute. */
  readonly slopeMiBPerMin: number | null;
  /** Fitted slope over the second half of the run, MiB per minute. */
  readonly secondHalfSlopeMiBPerMin: number | null;
  /** Why there are no samples, when there are none. */
  readonly note: string | null;
};

export function rssMiB(pid: number): number | null {
  const kib = procStatusKiB(pid, 'VmRSS');
  return kib === null ? null : Math.round((kib / 1024) * 10) / 10;
}

/** Least-squares slope of y over x, with x in seconds and the result per minute. */
export function slopePerMinute(points: readonly RssPoint[]): number | null {
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
  return Math.round((sxy / sxx) * 60 * 100) / 100;
}

export function rssTrend(points: readonly RssPoint[], note: string | null): RssTrend {
  if (points.length === 0) {
    return { samples: 0, firstMiB: null, lastMiB: null, peakMiB: null, slopeMiBPerMin: null, secondHalfSlopeMiBPerMin: null, note };
  }
  const half = points[points.length - 1].t / 2;
  return {
    samples: points.length,
    firstMiB: points[0].rssMiB,
    lastMiB: points[points.length - 1].rssMiB,
    peakMiB: Math.max(...points.map((p) => p.rssMiB)),
    slopeMiBPerMin: slopePerMinute(points),
    secondHalfSlopeMiBPerMin: slopePerMinute(points.filter((p) => p.t >= half)),
    note,
  };
}
