// The load harness's results: one JSON file with everything, and one
// self-contained HTML page (inline SVG charts, no scripts, no CDN) with the
// summary, the soak verdict, errors by code, and throughput, latency, shed
// load (503 OVERLOADED) and RSS over time, plus the overload phase when one ran.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BACKLOG_CODE, SHED_CODE, type PhaseResult, type SecondStats } from './open-loop.js';
import { fitAfterWarmup, FLAT_MIB_PER_10MIN, type RssPoint, type RssTrend } from './rss-trend.js';
import type { ServerView } from './server-metrics.js';
import { escapeXml, lineChart, type Series } from './svg-chart.js';

/** The soak holds when at least this share of the target rate completed. */
export const SOAK_RATE_SHARE_MIN = 0.99;

export type SoakCheck = { readonly name: string; readonly target: string; readonly actual: string; readonly pass: boolean };

/** The soak targets: rate held (≥ 99%), p99 under the bound, no errors, RSS flat after warm-up. */
export type SoakVerdict = { readonly pass: boolean; readonly checks: readonly SoakCheck[] };

export type OverloadResult = {
  readonly rate: number;
  readonly durationMs: number;
  readonly connections: number;
  readonly phase: PhaseResult;
  /** Shed requests (503 OVERLOADED) over requests sent. */
  readonly shedShare: number;
  /** The server's account of the phase (its shed counter included); null when not scraped. */
  readonly server: ServerView | null;
};

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
  readonly machine: {
    readonly cores: number;
    readonly node: string;
    readonly loadAverage: readonly number[];
    /**
     * Share (0..1) of all the machine's CPU time that processes other than this harness and its
     * server used during the measured phase (noisy neighbours); null when unknown (/proc, --url without --pid).
     */
    readonly othersCpuShare: number | null;
  };
  readonly client: string;
  readonly preload: { readonly keys: number; readonly ms: number } | null;
  readonly run: PhaseResult | null;
  /** The soak targets judged on `run`; null for --find-max. */
  readonly soak: SoakVerdict | null;
  readonly findMax: FindMaxResult | null;
  /** The --overload-rate phase after the main one; null when not asked for. */
  readonly overload: OverloadResult | null;
  readonly rss: RssTrend;
  readonly rssPoints: readonly RssPoint[];
  /** The server's own account of the measured part (null when it could not be scraped). */
  readonly server: ServerView | null;
  /** CPU time this harness process used, ms (user + system): it shares the machine with the server. */
  readonly harnessCpuMs: number;
};

export function soakVerdict(run: PhaseResult, rss: RssTrend, p99BoundMs: number): SoakVerdict {
  const minRate = Math.ceil(run.targetRate * SOAK_RATE_SHARE_MIN);
  const errors = Object.entries(run.errors).map(([code, n]) => `${code} ${n}`).join(', ');
  const checks: SoakCheck[] = [
    { name: 'rate held', target: `≥ ${minRate} ops/s (99% of ${run.targetRate})`, actual: `${run.achievedRate} ops/s`, pass: run.achievedRate >= minRate },
    { name: 'p99', target: `< ${p99BoundMs} ms`, actual: `${run.latency.p99Ms} ms`, pass: run.latency.p99Ms < p99BoundMs },
    { name: 'errors', target: '0', actual: run.errorCount === 0 ? '0' : `${run.errorCount} (${errors})`, pass: run.errorCount === 0 },
    {
      name: 'RSS flat',
      target: `slope after warm-up < ${FLAT_MIB_PER_10MIN} MiB / 10 min`,
      actual: rss.slopeMiBPer10Min === null ? (rss.samples === 0 ? `not sampled (${rss.note ?? 'no samples'})` : 'too few samples') : `${rss.slopeMiBPer10Min} MiB / 10 min (first ${rss.warmupS} s skipped)`,
      pass: rss.flat === true,
    },
  ];
  return { pass: checks.every((c) => c.pass), checks };
}

/** One line: PASS, or FAIL with the checks that failed. */
export function verdictLine(v: SoakVerdict): string {
  const failed = v.checks.filter((c) => !c.pass);
  const all = v.checks.map((c) => `${c.name} ${c.actual} (target ${c.target})`).join('; ');
  return v.pass ? `PASS — ${all}` : `FAIL — ${failed.map((c) => `${c.name} ${c.actual} (target ${c.target})`).join('; ')}`;
}

export function rssLine(rss: RssTrend): string {
  if (rss.samples === 0) return `not sampled (${rss.note})`;
  const after = rss.slopeMiBPer10Min === null ? 'too few samples after warm-up' : `${rss.slopeMiBPer10Min} MiB / 10 min after warm-up (first ${rss.warmupS} s skipped) -> ${trendWord(rss)}`;
  return `${rss.firstMiB} -> ${rss.lastMiB} MiB (peak ${rss.peakMiB}); ${after}; whole run ${rss.slopeMiBPerMin} MiB/min`;
}

/** flat (|slope| under the bound), shrinking (flat for the verdict: no growth) or growing. */
export function trendWord(rss: RssTrend): string {
  if (rss.slopeMiBPer10Min === null) return 'unknown';
  if (rss.slopeMiBPer10Min >= FLAT_MIB_PER_10MIN) return 'growing';
  return rss.slopeMiBPer10Min <= -FLAT_MIB_PER_10MIN ? 'shrinking (flat: no growth)' : 'flat';
}

export function neighboursLine(share: number | null): string {
  return share === null ? 'CPU used by other processes unknown' : `other processes used ${(share * 100).toFixed(0)}% of the machine's CPU during the run`;
}

/** Errors other than shed requests. */
function otherErrors(run: PhaseResult): number {
  return run.errorCount - run.shed;
}

function row(cells: readonly (string | number | null)[], header = false): string {
  const tag = header ? 'th' : 'td';
  return `<tr>${cells.map((c) => `<${tag}>${escapeXml(c === null ? '—' : String(c))}</${tag}>`).join('')}</tr>`;
}

function summaryTable(r: LoadResult): string {
  const rows: (string | number | null)[][] = [
    ['command', r.command],
    ['target', `${r.target.url}${r.target.startedHere ? ' (started by the harness)' : ''}`],
    ['machine', `${r.machine.cores} cores, Node ${r.machine.node}, load average ${r.machine.loadAverage.map((l) => l.toFixed(2)).join(' ')}; ${neighboursLine(r.machine.othersCpuShare)}`],
    ['client', r.client],
    ['preload', r.preload === null ? null : `${r.preload.keys} keys in ${(r.preload.ms / 1000).toFixed(1)} s`],
  ];
  if (r.run !== null) {
    const l = r.run.latency;
    const other = otherErrors(r.run);
    rows.push(
      ['target rate', `${r.run.targetRate} ops/s for ${r.run.durationMs / 1000} s`],
      ['achieved rate', `${r.run.achievedRate} ops/s (${r.run.completed} of ${r.run.sent} sent)`],
      ['latency (from intended send time)', `p50 ${l.p50Ms} ms · p90 ${l.p90Ms} ms · p99 ${l.p99Ms} ms · p99.9 ${l.p999Ms} ms · max ${l.maxMs} ms`],
      ['shed (503 OVERLOADED)', `${r.run.shed} (${((r.run.shed / Math.max(1, r.run.sent)) * 100).toFixed(3)}%)`],
      ['errors (other than shed)', `${other} (${((other / Math.max(1, r.run.sent)) * 100).toFixed(3)}%)`],
      ['harness event-loop delay', `p99 ${r.run.loopDelayMs.p99} ms · max ${r.run.loopDelayMs.max} ms`],
    );
  }
  if (r.findMax !== null) rows.push(['highest rate that held', r.findMax.maxRate === null ? 'none' : `${r.findMax.maxRate} ops/s (p99 ≤ ${r.findMax.p99BoundMs} ms)`]);
  rows.push(
    ['server RSS', r.rss.samples === 0 ? r.rss.note : `${r.rss.firstMiB} → ${r.rss.lastMiB} MiB (peak ${r.rss.peakMiB})`],
    ['RSS slope after warm-up', r.rss.slopeMiBPer10Min === null ? null : `${r.rss.slopeMiBPer10Min} MiB / 10 min (first ${r.rss.warmupS} s skipped) → ${trendWord(r.rss)} (flat: < ${FLAT_MIB_PER_10MIN} MiB / 10 min)`],
    ['RSS slope, whole run', r.rss.slopeMiBPerMin === null ? null : `${r.rss.slopeMiBPerMin} MiB/min (second half: ${r.rss.secondHalfSlopeMiBPerMin} MiB/min)`],
    ['harness CPU', `${(r.harnessCpuMs / 1000).toFixed(1)} s`],
    ['server side', serverLine(r.server)],
  );
  return `<table>${rows.map((c) => row(c)).join('')}</table>`;
}

export function serverLine(v: ServerView | null): string {
  if (v === null) return 'not scraped';
  const bound = (ms: number | null): string => (ms === null ? '—' : `≤ ${ms} ms`);
  return `HTTP p50 ${bound(v.httpP50UpperMs)}, p99 ${bound(v.httpP99UpperMs)}, p99.9 ${bound(v.httpP999UpperMs)} (histogram buckets, ${v.httpRequests} requests); ` +
    `${v.shed} shed; ${v.flushes} flushes, ${v.compactions} compactions (${v.compactionMiBRead} MiB read), ${v.writeStalls} write stalls`;
}

function errorTable(errors: Record<string, number>): string {
  const entries = Object.entries(errors).sort((a, b) => b[1] - a[1]);
  if (entries.length === 0) return '<p>No errors.</p>';
  return `<table>${row(['code', 'count'], true)}${entries.map(([code, n]) => row([code, n])).join('')}</table>`;
}

function throughputChart(title: string, s: readonly SecondStats[], targetRate: number): string {
  return lineChart({
    title,
    xLabel: 'seconds',
    yLabel: 'ops/s',
    series: [
      { name: 'completed', color: '#1f77b4', points: s.map((x) => [x.t, x.completed]) },
      { name: 'served (no error)', color: '#2ca02c', points: s.map((x) => [x.t, x.completed - x.errors]) },
      { name: 'sent', color: '#aaa', points: s.map((x) => [x.t, x.sent]) },
      { name: 'target', color: '#d62728', dashed: true, points: s.map((x) => [x.t, targetRate]) },
    ],
  });
}

/** 503 OVERLOADED per second, apart from the other errors. */
function shedChart(title: string, s: readonly SecondStats[]): string {
  return lineChart({
    title,
    xLabel: 'seconds',
    yLabel: 'requests/s',
    series: [
      { name: `shed (503 ${SHED_CODE})`, color: '#ff7f0e', points: s.map((x) => [x.t, x.shed]) },
      { name: 'other errors', color: '#d62728', points: s.map((x) => [x.t, x.errors - x.shed - x.notSent]) },
      { name: `not sent: harness backlog full (${BACKLOG_CODE})`, color: '#7f7f7f', dashed: true, points: s.map((x) => [x.t, x.notSent]) },
    ],
  });
}

function runCharts(run: PhaseResult, p99BoundMs: number): string {
  const s = run.seconds;
  const latency = lineChart({
    title: 'Latency over time, per second (from intended send time)',
    xLabel: 'seconds',
    yLabel: 'ms (log)',
    logY: true,
    series: [
      { name: 'p50', color: '#2ca02c', points: s.map((x) => [x.t, x.p50Ms]) },
      { name: 'p90', color: '#1f77b4', points: s.map((x) => [x.t, x.p90Ms]) },
      { name: 'p99', color: '#ff7f0e', points: s.map((x) => [x.t, x.p99Ms]) },
      { name: 'p99.9', color: '#d62728', points: s.map((x) => [x.t, x.p999Ms]) },
      { name: 'max', color: '#9467bd', points: s.map((x) => [x.t, x.maxMs]) },
      { name: `p99 target ${p99BoundMs} ms`, color: '#000', dashed: true, points: s.map((x) => [x.t, p99BoundMs]) },
    ],
  });
  return throughputChart('Throughput', s, run.targetRate) + latency + shedChart('Shed load (503 OVERLOADED) and other errors per second', s);
}

function rssChart(points: readonly RssPoint[], trend: RssTrend): string {
  if (points.length === 0) return `<p>Server RSS was not sampled: ${escapeXml(trend.note ?? '')}</p>`;
  const last = points[points.length - 1];
  const warmupS = trend.warmupS ?? 0;
  const fit = fitAfterWarmup(points, warmupS);
  const peak = Math.max(...points.map((p) => p.rssMiB));
  const low = Math.min(...points.map((p) => p.rssMiB));
  const series: Series[] = [
    { name: 'RSS', color: '#1f77b4', points: points.map((p) => [p.t, p.rssMiB]) },
    { name: 'end of warm-up', color: '#aaa', dashed: true, points: [[warmupS, low], [warmupS, peak]] },
  ];
  if (fit !== null) series.push({ name: 'fit after warm-up', color: '#d62728', dashed: true, points: [[warmupS, fit.at(warmupS)], [last.t, fit.at(last.t)]] });
  const verdict = trend.flat === null ? '' : ` → ${trendWord(trend)}`;
  return lineChart({
    title: `Server RSS over time (after warm-up: ${trend.slopeMiBPer10Min ?? '—'} MiB / 10 min${verdict})`,
    xLabel: 'seconds',
    yLabel: 'MiB',
    yFromData: true,
    series,
  });
}

function soakSection(v: SoakVerdict): string {
  const rows = v.checks.map((c) => row([c.name, c.target, c.actual, c.pass ? 'pass' : 'FAIL']));
  const color = v.pass ? '#2ca02c' : '#d62728';
  return `<h2>Soak targets: <span style="color:${color}">${v.pass ? 'PASS' : 'FAIL'}</span></h2><table>${row(['check', 'target', 'actual', 'outcome'], true)}${rows.join('')}</table>`;
}

function overloadSection(o: OverloadResult, p99BoundMs: number): string {
  const p = o.phase;
  const l = p.servedLatency;
  const a = p.latency;
  const other = otherErrors(p);
  const rows: (string | number | null)[][] = [
    ['offered rate', `${o.rate} ops/s for ${o.durationMs / 1000} s over ${o.connections} connections (${p.sent} sent)`],
    ['answered', `${p.achievedRate} ops/s (${p.completed} answered)`],
    ['served (no error)', `${p.servedRate} ops/s`],
    ['shed (503 OVERLOADED)', `${p.shed} (${(o.shedShare * 100).toFixed(1)}% of sent); the server counted ${o.server === null ? '—' : o.server.shed}`],
    ['errors (other than shed)', `${other}`],
    ['latency of served requests', `p50 ${l.p50Ms} ms · p90 ${l.p90Ms} ms · p99 ${l.p99Ms} ms · p99.9 ${l.p999Ms} ms · max ${l.maxMs} ms`],
    ['latency of every answer (shed included)', `p50 ${a.p50Ms} ms · p99 ${a.p99Ms} ms · max ${a.maxMs} ms`],
    ['server side', serverLine(o.server)],
    ['harness event-loop delay', `p99 ${p.loopDelayMs.p99} ms · max ${p.loopDelayMs.max} ms (high: the harness itself was saturated, and its queueing is in the latencies above)`],
  ];
  const s = p.seconds;
  const latency = lineChart({
    title: 'Overload phase: latency of served requests per second (from intended send time)',
    xLabel: 'seconds',
    yLabel: 'ms (log)',
    logY: true,
    series: [
      { name: 'served p50', color: '#2ca02c', points: s.map((x) => [x.t, x.servedP50Ms]) },
      { name: 'served p99', color: '#ff7f0e', points: s.map((x) => [x.t, x.servedP99Ms]) },
      { name: 'all p99', color: '#9467bd', points: s.map((x) => [x.t, x.p99Ms]) },
      { name: `${p99BoundMs} ms`, color: '#000', dashed: true, points: s.map((x) => [x.t, p99BoundMs]) },
    ],
  });
  return `<h2>Overload phase: shedding past capacity</h2><table>${rows.map((c) => row(c)).join('')}</table>` +
    `<h3>Errors by code</h3>${errorTable(p.errors)}` +
    throughputChart('Overload phase: throughput', s, o.rate) + shedChart('Overload phase: shed (503 OVERLOADED) and other errors per second', s) + latency;
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

function p99Bound(r: LoadResult): number {
  const bound = r.settings.p99BoundMs;
  return typeof bound === 'number' ? bound : 50;
}

export function renderHtml(r: LoadResult): string {
  const style = 'body{font-family:sans-serif;margin:24px;max-width:960px}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px}';
  const body = [
    `<h1>MantisDB ${r.kind === 'load' ? 'load run' : 'find-max run'}, ${escapeXml(r.startedAt)}</h1>`,
    summaryTable(r),
    r.soak === null ? '' : soakSection(r.soak),
    r.run === null ? '' : `<h2>Errors by code</h2>${errorTable(r.run.errors)}${runCharts(r.run, p99Bound(r))}`,
    r.findMax === null ? '' : findMaxSection(r.findMax),
    `<h2>Server memory</h2>${rssChart(r.rssPoints, r.rss)}`,
    r.overload === null ? '' : overloadSection(r.overload, p99Bound(r)),
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
