// The document benchmark's report: the figures beside their baselines
// (PostgreSQL JSONB, mingo) with the ratio and the issue's target, the target
// checks, and the per-filter table. Pure functions of the results, so the
// test can check the formatting without running anything.

import type { FilterPhase } from './docs-filter.js';
import type { LoadRun, LoopRun } from './docs-load.js';
import type { PgSizes } from './docs-pg.js';
import { table } from './report.js';

/** The issue's targets on the 2-core machine. */
export const TARGETS = {
  insertRatio: 1.0,
  insertDocsPerSec: 50_000,
  lookupRatio: 1.0,
  lookupP99Ms: 5,
  groupRatio: 1.0,
  groupDocs: 1_000_000,
  filterSpeedup: 3,
} as const;

export type MemoryFigures = {
  readonly docs: number;
  /** MantisDB's RSS (all shard threads are in the one process) on the empty server and after the load. */
  readonly rssBeforeKiB: number | null;
  readonly rssAfterKiB: number | null;
  /** Bytes of the data directory after the load (WAL + SSTables). */
  readonly mantisDiskBytes: number | null;
  /** PostgreSQL after the load and its index. */
  readonly pg: PgSizes | null;
};

export type DocsResults = {
  readonly docs: number;
  readonly insert: { readonly mantis: LoadRun | null; readonly pg: LoadRun | null };
  /** Building the lookup index on the loaded collection, ms (MantisDB: until explain shows the index in use). */
  readonly indexBuildMs: { readonly mantis: number | null; readonly pg: number | null };
  readonly lookup: { readonly mantis: LoopRun | null; readonly pg: LoopRun | null };
  /** Wall times of the measured aggregation runs, ms. */
  readonly group: { readonly mantis: readonly number[] | null; readonly pg: readonly number[] | null };
  readonly filter: FilterPhase | null;
  readonly memory: MemoryFigures;
};

/** A target: met true/false, or null when it could not be judged (no baseline, phase not run). */
export type DocsCheck = { readonly name: string; readonly goal: string; readonly actual: string; readonly met: boolean | null; readonly note: string };

export function fmtRate(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  if (n >= 1_000_000) return `${(n / 1_000_000).toFixed(2)}M`;
  if (n >= 10_000) return `${(n / 1000).toFixed(1)}k`;
  return n.toFixed(0);
}

export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 1) return `${(ms * 1000).toFixed(0)} µs`;
  if (ms < 100) return `${ms.toFixed(2)} ms`;
  if (ms < 10_000) return `${ms.toFixed(0)} ms`;
  return `${(ms / 1000).toFixed(1)} s`;
}

export function fmtBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '—';
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  return `${(bytes / 1024).toFixed(0)} KiB`;
}

export function fmtRatio(r: number | null): string {
  return r === null || !Number.isFinite(r) ? '—' : `${r.toFixed(2)}×`;
}

const ratio = (a: number | null | undefined, b: number | null | undefined): number | null =>
  a === null || a === undefined || b === null || b === undefined || b === 0 ? null : a / b;

export function median(values: readonly number[] | null): number | null {
  if (values === null || values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Scales a per-`docs` quantity to per 1M documents. */
export function perMillion(value: number | null, docs: number): number | null {
  return value === null || docs <= 0 ? null : (value * 1_000_000) / docs;
}

/** MantisDB's RSS growth from the load, bytes. */
export function rssGrowth(m: MemoryFigures): number | null {
  return m.rssBeforeKiB === null || m.rssAfterKiB === null ? null : (m.rssAfterKiB - m.rssBeforeKiB) * 1024;
}

/**
 * The growth per 1M documents, scaled linearly: only a fair figure near 1M,
 * since much of a small load's growth is memtables and caches filling up to
 * their budgets, which does not grow with the data.
 */
export function rssPerMillion(m: MemoryFigures): number | null {
  return perMillion(rssGrowth(m), m.docs);
}

export function checkTargets(r: DocsResults): DocsCheck[] {
  const checks: DocsCheck[] = [];
  const ins = r.insert;
  const insRatio = ratio(ins.mantis?.docsPerSec, ins.pg?.docsPerSec);
  checks.push({
    name: 'batched inserts vs PostgreSQL',
    goal: `≥ ${TARGETS.insertRatio.toFixed(1)}×`,
    actual: fmtRatio(insRatio),
    met: insRatio === null ? null : insRatio >= TARGETS.insertRatio,
    note: ins.pg === null ? 'no PostgreSQL figure' : '',
  });
  checks.push({
    name: 'batched inserts, absolute',
    goal: `≥ ${fmtRate(TARGETS.insertDocsPerSec)} docs/s`,
    actual: `${fmtRate(ins.mantis?.docsPerSec)} docs/s`,
    met: ins.mantis === null ? null : ins.mantis.docsPerSec >= TARGETS.insertDocsPerSec,
    note: '',
  });
  const lk = r.lookup;
  const lkRatio = ratio(lk.mantis?.opsPerSec, lk.pg?.opsPerSec);
  const lkValid = lk.mantis !== null && lk.mantis.errors === 0;
  checks.push({
    name: 'indexed nested lookup vs PostgreSQL',
    goal: `≥ ${TARGETS.lookupRatio.toFixed(1)}×`,
    actual: fmtRatio(lkRatio),
    met: lkRatio === null || !lkValid ? null : lkRatio >= TARGETS.lookupRatio,
    note: lk.mantis !== null && lk.mantis.errors > 0 ? `INVALID: ${lk.mantis.errors} failed requests` : lk.pg === null ? 'no PostgreSQL figure' : '',
  });
  checks.push({
    name: 'indexed nested lookup p99',
    goal: `≤ ${TARGETS.lookupP99Ms} ms`,
    actual: fmtMs(lk.mantis?.latency.p99Ms),
    met: lk.mantis === null || !lkValid ? null : lk.mantis.latency.p99Ms <= TARGETS.lookupP99Ms,
    note: lk.mantis !== null && lk.mantis.errors > 0 ? `INVALID: ${lk.mantis.errors} failed requests` : '',
  });
  const grRatio = ratio(median(r.group.mantis), median(r.group.pg));
  checks.push({
    name: '$match + $group time vs PostgreSQL GROUP BY',
    goal: `≤ ${TARGETS.groupRatio.toFixed(1)}×`,
    actual: fmtRatio(grRatio),
    met: grRatio === null ? null : grRatio <= TARGETS.groupRatio,
    note: r.docs < TARGETS.groupDocs ? `over ${fmtRate(r.docs)} documents (the target is for 1M)` : r.group.pg === null ? 'no PostgreSQL figure' : '',
  });
  const fs = r.filter?.geomeanSpeedup ?? null;
  checks.push({
    name: 'filter evaluation vs mingo (geometric mean)',
    goal: `≥ ${TARGETS.filterSpeedup}×`,
    actual: fmtRatio(fs),
    met: fs === null ? null : fs >= TARGETS.filterSpeedup,
    note: r.filter !== null && r.filter.rows.some((row) => !row.agree) ? 'match counts differ on some filters (see the filter table)' : '',
  });
  return checks;
}

const verdict = (c: DocsCheck): string => (c.met === null ? 'n/a' : c.met ? 'met' : 'NOT MET');

/** The main table: each figure beside its baseline, the ratio and the target. */
export function mainTable(r: DocsResults, checks: readonly DocsCheck[]): string {
  const byName = new Map(checks.map((c) => [c.name, c]));
  const res = (name: string): string => {
    const c = byName.get(name);
    return c === undefined ? '' : `${c.goal}: ${verdict(c)}`;
  };
  const ins = r.insert;
  const lk = r.lookup;
  const gm = median(r.group.mantis);
  const gp = median(r.group.pg);
  const m = r.memory;
  const pgTotal = m.pg === null ? null : m.pg.totalBytes;
  const rows: string[][] = [
    ['batched inserts (docs/s)', fmtRate(ins.mantis?.docsPerSec), fmtRate(ins.pg?.docsPerSec), fmtRatio(ratio(ins.mantis?.docsPerSec, ins.pg?.docsPerSec)), `${res('batched inserts vs PostgreSQL')}; ${res('batched inserts, absolute')}`],
    ['  batch of 1000: p50 / p99', pair(ins.mantis?.batchLatency.p50Ms, ins.mantis?.batchLatency.p99Ms), pair(ins.pg?.batchLatency.p50Ms, ins.pg?.batchLatency.p99Ms), '', ''],
    ['lookup index build', fmtMs(r.indexBuildMs.mantis), fmtMs(r.indexBuildMs.pg), fmtRatio(ratio(r.indexBuildMs.pg, r.indexBuildMs.mantis)), ''],
    ['indexed nested lookup (ops/s)', fmtRate(lk.mantis?.opsPerSec), fmtRate(lk.pg?.opsPerSec), fmtRatio(ratio(lk.mantis?.opsPerSec, lk.pg?.opsPerSec)), res('indexed nested lookup vs PostgreSQL')],
    ['  lookup p50', fmtMs(lk.mantis?.latency.p50Ms), fmtMs(lk.pg?.latency.p50Ms), '', ''],
    ['  lookup p99', fmtMs(lk.mantis?.latency.p99Ms), fmtMs(lk.pg?.latency.p99Ms), '', res('indexed nested lookup p99')],
    [`$match + $group over ${fmtRate(r.docs)} docs (median)`, fmtMs(gm), fmtMs(gp), fmtRatio(ratio(gm, gp)), res('$match + $group time vs PostgreSQL GROUP BY')],
    ['filter evaluation (geomean ns/doc)', fmtNs(geomean(r.filter, 0)), fmtNs(geomean(r.filter, 1)), r.filter === null ? '—' : `${fmtRatio(r.filter.geomeanSpeedup)} faster`, res('filter evaluation vs mingo (geometric mean)')],
    [`memory for ${fmtRate(m.docs)} docs (RSS growth | PG table+indexes)`, fmtBytes(rssGrowth(m)), fmtBytes(pgTotal), fmtRatio(ratio(rssGrowth(m), pgTotal)), 'printed'],
    [`  per 1M docs${m.docs === 1_000_000 ? '' : ` (scaled from ${fmtRate(m.docs)})`}`, fmtBytes(rssPerMillion(m)), fmtBytes(perMillion(pgTotal, m.pg?.rows ?? m.docs)), '', ''],
    [`disk for ${fmtRate(m.docs)} docs (data dir | PG relation)`, fmtBytes(m.mantisDiskBytes), fmtBytes(pgTotal), fmtRatio(ratio(m.mantisDiskBytes, pgTotal)), ''],
  ];
  return table(['figure', 'MantisDB', 'baseline', 'ratio', 'target'], rows, [false, true, true, true, false]);
}

function pair(a: number | undefined, b: number | undefined): string {
  return a === undefined || b === undefined ? '—' : `${fmtMs(a)} / ${fmtMs(b)}`;
}

function fmtNs(ns: number | null): string {
  return ns === null ? '—' : `${ns.toFixed(0)} ns`;
}

/** Geometric mean of one engine's ns/doc over the filters. */
function geomean(f: FilterPhase | null, engine: number): number | null {
  if (f === null || f.rows.length === 0) return null;
  return Math.exp(f.rows.reduce((s, row) => s + Math.log(row.nsPerDoc[engine]), 0) / f.rows.length);
}

export function filterTable(f: FilterPhase): string {
  const rows = f.rows.map((row) => [
    row.name,
    `${row.nsPerDoc[0].toFixed(0)} ns`,
    `${row.nsPerDoc[1].toFixed(0)} ns`,
    fmtRatio(row.speedup),
    row.agree ? String(row.matches[0]) : `!! ${row.matches[0]} vs ${row.matches[1]}`,
  ]);
  return table(['filter', `${f.engines[0]} per doc`, `${f.engines[1]} per doc`, 'speed-up', 'matches'], rows, [false, true, true, true, true]);
}

export function checksTable(checks: readonly DocsCheck[]): string {
  const rows = checks.map((c) => [c.name, c.goal, c.actual, verdict(c), c.note]);
  return table(['target', 'goal', 'measured', 'result', 'note'], rows, [false, false, true, false, false]);
}

/**
 * Closed-loop clients make latency and throughput two views of one figure
 * (Little's law: mean latency = connections / throughput), so the p99 target
 * at 64 connections is also a throughput target; say so beside the figures.
 */
export function littleLawLine(r: DocsResults, connections: number, p99TargetMs = TARGETS.lookupP99Ms): string {
  const mean = (run: { opsPerSec: number } | null): string => (run === null || run.opsPerSec === 0 ? '—' : fmtMs((connections / run.opsPerSec) * 1000));
  return (
    `Lookups at ${connections} closed-loop connections: mean latency = ${connections} / throughput (Little's law) — MantisDB ${mean(r.lookup.mantis)}, PostgreSQL ${mean(r.lookup.pg)}; ` +
    `a p99 ≤ ${p99TargetMs} ms needs a mean well under it, i.e. more than ${fmtRate((connections * 1000) / p99TargetMs)} lookups/s.`
  );
}
