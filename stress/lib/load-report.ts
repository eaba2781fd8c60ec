// The load harness's results: one JSON file with everything, and one
// self-contained HTML page (inline SVG charts, no scripts, no CDN) with the
// summary, errors by code, and throughput, latency and RSS over time.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { PhaseResult } from './open-loop.js';
import type { RssPoint, RssTrend } from './rss-trend.js';
import type { ServerView } from './server-metrics.js';
import { escapeXml, lineChart } from './svg-chart.js';

export type FindMaxStep = {
  readonly rate: number;
  readonly achievedRate: number;
  readonly p99Ms: number;
  readonly errorShare: number;
  readonly passed: boolean;
  readonly why: string;
};

export type FindMaxResult = {
  readonly p99BoundMs: number;
  readonly steps: readonly FindMaxStep[];
  /** The highest rate whose step held (p99 within the bound, errors ≤ 0.1%, ≥ 95% of the rate achieved). */
  readonly maxRate: number | null;
};

export type LoadResult = {
  readonly kind: 'load' | 'find-max';
  readonly startedAt: string;
  readonly command: string;
  readonly settings: Record<string, string | number | boolean | null>;
  readonly target: { readonly url: string; readonly startedHere: boolean; readonly pid: number | null };
  readonly machine: { readonly cores: number; readonly node: string; readonly loadAverage: readonly number[] };
  readonly client: string;
  readonly preload: { readonly keys: number; readonly ms: number } | null;
  readonly run: PhaseResult | null;
  readonly findMax: FindMaxResult | null;
  readonly rss: RssTrend;
  readonly rssPoints: readonly RssPoint[];
  /** The server's own account of the measured part (null when it could not be scraped). */
  readonly server: ServerView | null;
  /** CPU time this harness process used, ms (user + system): it shares the machine with the server. */
  readonly harnessCpuMs: number;
};

function row(cells: readonly (string | number | null)[], header = false): string {
  const tag = header ? 'th' : 'td';
  return `<tr>${cells.map((c) => `<${tag}>${escapeXml(c === null ? '—' : String(c))}</${tag}>`).join('')}</tr>`;
}

function summaryTable(r: LoadResult): string {
  const rows: (string | number | null)[][] = [
    ['command', r.command],
    ['target', `${r.target.url}${r.target.startedHere ? ' (started by the harness)' : ''}`],
    ['machine', `${r.machine.cores} cores, Node ${r.machine.node}, load average ${r.machine.loadAverage.map((l) => l.toFixed(2)).join(' ')}`],
    ['client', r.client],
    ['preload', r.preload === null ? null : `${r.preload.keys} keys in ${(r.preload.ms / 1000).toFixed(1)} s`],
  ];
  if (r.run !== null) {
    const l = r.run.latency;
    rows.push(
      ['target rate', `${r.run.targetRate} ops/s for ${r.run.durationMs / 1000} s`],
      ['achieved rate', `${r.run.achievedRate} ops/s (${r.run.completed} of ${r.run.sent} sent)`],
      ['latency (from intended send time)', `p50 ${l.p50Ms} ms · p90 ${l.p90Ms} ms · p99 ${l.p99Ms} ms · p99.9 ${l.p999Ms} ms · max ${l.maxMs} ms`],
      ['errors', `${r.run.errorCount} (${((r.run.errorCount / Math.max(1, r.run.sent)) * 100).toFixed(3)}%)`],
      ['harness event-loop delay', `p99 ${r.run.loopDelayMs.p99} ms · max ${r.run.loopDelayMs.max} ms`],
    );
  }
  if (r.findMax !== null) rows.push(['highest rate that held', r.findMax.maxRate === null ? 'none' : `${r.findMax.maxRate} ops/s (p99 ≤ ${r.findMax.p99BoundMs} ms)`]);
  rows.push(
    ['server RSS', r.rss.samples === 0 ? r.rss.note : `${r.rss.firstMiB} → ${r.rss.lastMiB} MiB (peak ${r.rss.peakMiB})`],
    ['RSS slope', r.rss.slopeMiBPerMin === null ? null : `${r.rss.slopeMiBPerMin} MiB/min (second half: ${r.rss.secondHalfSlopeMiBPerMin} MiB/min)`],
    ['harness CPU', `${(r.harnessCpuMs / 1000).toFixed(1)} s`],
    ['server side', serverLine(r.server)],
  );
  return `<table>${rows.map((c) => row(c)).join('')}</table>`;
}

export function serverLine(v: ServerView | null): string {
  if (v === null) return 'not scraped';
  const bound = (ms: number | null): string => (ms === null ? '—' : `≤ ${ms} ms`);
  return `HTTP p50 ${bound(v.httpP50UpperMs)}, p99 ${bound(v.httpP99UpperMs)}, p99.9 ${bound(v.httpP999UpperMs)} (histogram buckets, ${v.httpRequests} requests); ` +
    `${v.flushes} flushes, ${v.compactions} compactions (${v.compactionMiBRead} MiB read), ${v.writeStalls} write stalls`;
}

function errorTable(errors: Record<string, number>): string {
  const entries = Object.entries(errors).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return '<p>No errors.</p>';
  return `<table>${row(['code', 'count'], true)}${entries.map(([code, n]) => row([code, n])).join('')}</table>`;
}

function runCharts(run: PhaseResult): string {
  const s = run.seconds;
  const throughput = lineChart({
    title: 'Throughput',
    xLabel: 'seconds',
    yLabel: 'ops/s',
    series: [
      { name: 'completed', color: '#1f77b4', points: s.map((x) => [x.t, x.completed]) },
      { name: 'sent', color: '#aaa', points: s.map((x) => [x.t, x.sent]) },
      { name: 'target', color: '#d62728', dashed: true, points: s.map((x) => [x.t, run.targetRate]) },
    ],
  });
  const latency = lineChart({
    title: 'Latency per second (from intended send time)',
    xLabel: 'seconds',
    yLabel: 'ms (log)',
    logY: true,
    series: [
      { name: 'p50', color: '#2ca02c', points: s.map((x) => [x.t, x.p50Ms]) },
      { name: 'p90', color: '#1f77b4', points: s.map((x) => [x.t, x.p90Ms]) },
      { name: 'p99', color: '#ff7f0e', points: s.map((x) => [x.t, x.p99Ms]) },
      { name: 'p99.9', color: '#d62728', points: s.map((x) => [x.t, x.p999Ms]) },
      { name: 'max', color: '#9467bd', points: s.map((x) => [x.t, x.maxMs]) },
    ],
  });
  return throughput + latency;
}

function rssChart(points: readonly RssPoint[], trend: RssTrend): string {
  if (points.length === 0) return `<p>Server RSS was not sampled: ${escapeXml(trend.note ?? '')}</p>`;
  const first = points[0];
  const last = points[points.length - 1];
  const slopePerSecond = (trend.slopeMiBPerMin ?? 0) / 60;
  const meanT = points.reduce((a, p) => a + p.t, 0) / points.length;
  const meanY = points.reduce((a, p) => a + p.rssMiB, 0) / points.length;
  const fit = (t: number): number => meanY + slopePerSecond * (t - meanT);
  return lineChart({
    title: `Server RSS (slope ${trend.slopeMiBPerMin ?? '—'} MiB/min)`,
    xLabel: 'seconds',
    yLabel: 'MiB',
    series: [
      { name: 'RSS', color: '#1f77b4', points: points.map((p) => [p.t, p.rssMiB]) },
      { name: 'least-squares fit', color: '#d62728', dashed: true, points: [[first.t, fit(first.t)], [last.t, fit(last.t)]] },
    ],
  });
}

function findMaxSection(f: FindMaxResult): string {
  const steps = f.steps.map((s) => row([s.rate, s.achievedRate, s.p99Ms, (s.errorShare * 100).toFixed(3) + '%', s.passed ? 'held' : 'failed', s.why]));
  const sorted = [...f.steps].sort((a, b) => a.rate - b.rate);
  const chart = lineChart({
    title: `p99 by offered rate (bound ${f.p99BoundMs} ms)`,
    xLabel: 'offered ops/s',
    yLabel: 'p99 ms (log)',
    logY: true,
    series: [
      { name: 'p99', color: '#ff7f0e', points: sorted.map((s) => [s.rate, s.p99Ms]) },
      { name: 'bound', color: '#d62728', dashed: true, points: sorted.map((s) => [s.rate, f.p99BoundMs]) },
    ],
  });
  return `<h2>find-max steps</h2><table>${row(['offered ops/s', 'achieved ops/s', 'p99 ms', 'errors', 'outcome', 'why'], true)}${steps.join('')}</table>${chart}`;
}

export function renderHtml(r: LoadResult): string {
  const style = 'body{font-family:sans-serif;margin:24px;max-width:960px}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px}';
  const body = [
    `<h1>MantisDB ${r.kind === 'load' ? 'load run' : 'find-max run'}, ${escapeXml(r.startedAt)}</h1>`,
    summaryTable(r),
    r.run === null ? '' : `<h2>Errors by code</h2>${errorTable(r.run.errors)}${runCharts(r.run)}`,
    r.findMax === null ? '' : findMaxSection(r.findMax),
    `<h2>Server memory</h2>${rssChart(r.rssPoints, r.rss)}`,
  ];
  return `<!doctype html><html><head><meta charset="utf-8"><title>MantisDB ${r.kind}</title><style>${style}</style></head><body>${body.join('\n')}</body></html>`;
}

export function writeReports(outDir: string, r: LoadResult): { json: string; html: string } {
  mkdirSync(outDir, { recursive: true });
  const stem = `${r.kind}-${r.startedAt.replace(/[:.]/g, '-')}`;
  const json = resolve(join(outDir, `${stem}.json`));
  const html = resolve(join(outDir, `${stem}.html`));
  writeFileSync(json, JSON.stringify(r, null, 2));
  writeFileSync(html, renderHtml(r));
  return { json, html };
}
