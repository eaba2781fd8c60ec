// The table benchmark's report: every figure beside its baselines (DuckDB,
// SQLite, MantisDB's own row form = the same rows as documents, KV GET for
// the point lookup) with the issue's target and whether it is met, the
// per-column compression table, and the target checks. Pure functions of the
// results, so the test checks the printing without running anything.

import type { LoopRun } from './docs-load.js';
import { fmtBytes, fmtMs, fmtRate, median } from './docs-report.js';
import type { LoadRun, QueryRuns } from './tables-phases.js';
import { table } from './report.js';

/** The issue's targets on the 2-core machine. */
export const TARGETS = {
  groupVsDuckdbMax: 2,
  groupVsSqliteMin: 20,
  filterVsRowFormMin: 10,
  compressionSavedMin: 0.9,
  diskVsDuckdbMax: 1.5,
  insertRowsPerSec: 200_000,
  lookupVsKvMin: 0.6,
  groupRows: [1_000_000, 10_000_000],
  filterRows: 10_000_000,
} as const;

/** The columns the compression target is about: low cardinality (status, 5 values) and repeated (g = k % 100). */
export const LOW_CARDINALITY_COLUMNS = ['g', 'status'] as const;

export type Systems<T> = { readonly mantis: T | null; readonly duckdb: T | null; readonly sqlite: T | null; readonly rowForm: T | null };

export type ScalePoint = {
  readonly rows: number;
  /** Loading up to this scale and moving the delta into segments (POST …/move), ms. */
  readonly moveMs: number | null;
  readonly group: Systems<QueryRuns>;
  /** count(*), sum(amount) WHERE x > k. */
  readonly filter: Systems<QueryRuns>;
  /** The matching rows (k, x) WHERE x > k. */
  readonly scan: Systems<QueryRuns>;
};

export type ColumnFigures = { readonly name: string; readonly type: string; readonly plainBytes: number; readonly storedBytes: number; readonly encodings: Readonly<Record<string, number>> };

export type DiskFigures = {
  readonly rows: number;
  readonly columns: readonly ColumnFigures[];
  /** GET …/stats bytes_on_disk: the table's segment files and delta. */
  readonly statsBytesOnDisk: number | null;
  /** The files under the data dir's shards/<id>/tables/ directories, measured here. */
  readonly tableFilesBytes: number | null;
  readonly deltaRows: number | null;
  readonly segments: number | null;
  readonly duckdbBytes: number | null;
  readonly sqliteBytes: number | null;
};

export type MemoryFigures = {
  /** MantisDB's RSS (every shard is a thread of the one process): empty, after all loads, peak during them. */
  readonly rssEmptyKiB: number | null;
  readonly rssLoadedKiB: number | null;
  readonly rssPeakKiB: number | null;
  /** This process (DuckDB and SQLite run in it, plus the load generator). */
  readonly benchRssKiB: number | null;
  /** MantisDB's whole data dir (table, row form, KV rows, WALs). */
  readonly dataDirBytes: number | null;
};

export type TablesResults = {
  readonly rows: number;
  readonly scales: readonly ScalePoint[];
  readonly insert: Systems<LoadRun> & { readonly batch: number; readonly workers: number };
  readonly disk: DiskFigures | null;
  readonly lookup: { readonly connections: number; readonly keys: number; readonly table: LoopRun | null; readonly kv: LoopRun | null };
  readonly memory: MemoryFigures;
};

export type TablesCheck = { readonly name: string; readonly goal: string; readonly actual: string; readonly met: boolean | null; readonly note: string };

const ratio = (a: number | null | undefined, b: number | null | undefined): number | null =>
  a === null || a === undefined || b === null || b === undefined || b === 0 || !Number.isFinite(a) || !Number.isFinite(b) ? null : a / b;

const fmtX = (r: number | null): string => (r === null ? '—' : `${r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`);
const pct = (x: number | null): string => (x === null ? '—' : `${(100 * x).toFixed(1)} %`);
export const fmtRows = (n: number): string => (n >= 1_000_000 ? `${(n / 1_000_000).toFixed(n % 1_000_000 === 0 ? 0 : 2)}M` : n >= 1000 ? `${(n / 1000).toFixed(n % 1000 === 0 ? 0 : 1)}k` : String(n));

/** Median engine time of our runs (stats.took_ms), else null. */
export const engineMedian = (q: QueryRuns | null): number | null => median(q?.engineMs ?? null);
/** Median wall time (for DuckDB/SQLite in process, for MantisDB over HTTP). */
export const e2eMedian = (q: QueryRuns | null): number | null => median(q?.e2eMs ?? null);

/** 1 − stored/plain, or null without plain bytes. */
export function saved(c: ColumnFigures): number | null {
  return c.plainBytes === 0 ? null : 1 - c.storedBytes / c.plainBytes;
}

/** The table's bytes on disk as the benchmark counts them: the files measured here, else the stats figure. */
export function tableBytes(d: DiskFigures): number | null {
  return d.tableFilesBytes ?? d.statsBytesOnDisk;
}

function scaleNote(rows: number, want: number): string {
  return rows === want ? '' : `over ${fmtRows(rows)} rows (the target is for ${fmtRows(want)})`;
}

function invalid(q: QueryRuns | null): string {
  return q !== null && q.problems.length > 0 ? `INVALID: wrong answer (${q.problems[0]})` : '';
}

function judge(name: string, goal: string, r: number | null, ok: (r: number) => boolean, actual: string, note: string, broken: string): TablesCheck {
  if (broken !== '') return { name, goal, actual, met: null, note: broken };
  return { name, goal, actual, met: r === null ? null : ok(r), note: r === null ? note || 'not measured' : note };
}

export function checkTargets(r: TablesResults): TablesCheck[] {
  const checks: TablesCheck[] = [];
  const wanted = TARGETS.groupRows;
  // GROUP BY at each measured scale; the judged time is the engine's (stats.took_ms) against the embedded engines' call time.
  for (const s of r.scales) {
    const want = wanted.find((w) => w === s.rows) ?? wanted[s.rows > 1_000_000 ? 1 : 0];
    const ours = engineMedian(s.group.mantis);
    const vsDuck = ratio(ours, e2eMedian(s.group.duckdb));
    const vsSqlite = ratio(e2eMedian(s.group.sqlite), ours);
    const broken = invalid(s.group.mantis) || invalid(s.group.duckdb) || invalid(s.group.sqlite);
    checks.push(judge(`GROUP BY g sum/count, ${fmtRows(s.rows)} rows, vs DuckDB`, `≤ ${TARGETS.groupVsDuckdbMax}× DuckDB's time`, vsDuck, (x) => x <= TARGETS.groupVsDuckdbMax, vsDuck === null ? '—' : `${fmtX(vsDuck)} (${fmtMs(ours)} vs ${fmtMs(e2eMedian(s.group.duckdb))})`, scaleNote(s.rows, want), broken));
    checks.push(judge(`GROUP BY g sum/count, ${fmtRows(s.rows)} rows, vs SQLite`, `≥ ${TARGETS.groupVsSqliteMin}× faster`, vsSqlite, (x) => x >= TARGETS.groupVsSqliteMin, vsSqlite === null ? '—' : `${fmtX(vsSqlite)} faster (${fmtMs(ours)} vs ${fmtMs(e2eMedian(s.group.sqlite))})`, scaleNote(s.rows, want), broken));
  }
  const last = r.scales[r.scales.length - 1];
  if (last !== undefined) {
    for (const [what, q] of [['filtered scan x > k (1 %) returning rows k, x', last.scan], ['filtered count/sum x > k (1 %)', last.filter]] as const) {
      const ours = e2eMedian(q.mantis);
      const speedup = ratio(e2eMedian(q.rowForm), ours);
      checks.push(judge(`${what}, ${fmtRows(last.rows)} rows, vs row form`, `≥ ${TARGETS.filterVsRowFormMin}× faster (both over HTTP)`, speedup, (x) => x >= TARGETS.filterVsRowFormMin,
        speedup === null ? '—' : `${fmtX(speedup)} faster (${fmtMs(ours)} vs ${fmtMs(e2eMedian(q.rowForm))})`, scaleNote(last.rows, TARGETS.filterRows), invalid(q.mantis) || invalid(q.rowForm)));
    }
  }
  const d = r.disk;
  for (const name of LOW_CARDINALITY_COLUMNS) {
    const c = d?.columns.find((x) => x.name === name) ?? null;
    const s = c === null ? null : saved(c);
    checks.push(judge(`compression of ${name} vs plain`, `≥ ${pct(TARGETS.compressionSavedMin)} smaller`, s, (x) => x >= TARGETS.compressionSavedMin, s === null ? '—' : `${pct(s)} smaller (${fmtBytes(c?.storedBytes)} vs ${fmtBytes(c?.plainBytes)})`, '', ''));
  }
  const ours = d === null ? null : tableBytes(d);
  const vsDuckDisk = ratio(ours, d?.duckdbBytes);
  checks.push(judge('table on disk vs DuckDB file', `≤ ${TARGETS.diskVsDuckdbMax}× DuckDB`, vsDuckDisk, (x) => x <= TARGETS.diskVsDuckdbMax, vsDuckDisk === null ? '—' : `${fmtX(vsDuckDisk)} (${fmtBytes(ours)} vs ${fmtBytes(d?.duckdbBytes)})`,
    d !== null && d.deltaRows !== null && d.deltaRows > 0 ? `${d.deltaRows} rows still in the delta` : '', ''));
  const ins = r.insert.mantis?.rowsPerSec ?? null;
  checks.push(judge('batched inserts', `≥ ${fmtRate(TARGETS.insertRowsPerSec)} rows/s`, ins, (x) => x >= TARGETS.insertRowsPerSec, ins === null ? '—' : `${fmtRate(ins)} rows/s`, '', ''));
  const lt = r.lookup.table;
  const lk = r.lookup.kv;
  const vsKv = ratio(lt?.opsPerSec, lk?.opsPerSec);
  const lookupBroken = (lt?.errors ?? 0) + (lk?.errors ?? 0) > 0 ? `INVALID: ${(lt?.errors ?? 0) + (lk?.errors ?? 0)} failed requests` : '';
  checks.push(judge('point lookup by pk over HTTP vs KV GET', `≥ ${TARGETS.lookupVsKvMin}× KV GET`, vsKv, (x) => x >= TARGETS.lookupVsKvMin, vsKv === null ? '—' : `${fmtX(vsKv)} (${fmtRate(lt?.opsPerSec)} vs ${fmtRate(lk?.opsPerSec)} ops/s)`, '', lookupBroken));
  return checks;
}

function outcome(checks: readonly TablesCheck[], prefix: string): string {
  return checks
    .filter((c) => c.name.startsWith(prefix))
    .map((c) => `${c.goal}: ${c.met === null ? (c.note.startsWith('INVALID') ? 'INVALID' : 'n/a') : c.met ? 'met' : 'NOT MET'}`)
    .join('; ');
}

const ms = (x: number | null): string => fmtMs(x);
const fasterThanRowForm = (q: Systems<QueryRuns>): string => {
  const r = ratio(e2eMedian(q.rowForm), e2eMedian(q.mantis));
  return r === null ? '' : `${fmtX(r)} faster than row form`;
};
const lat = (l: LoopRun | null): string => (l === null ? '—' : `${fmtMs(l.latency.p50Ms)} / ${fmtMs(l.latency.p99Ms)}`);

/** The main table: one line per figure, MantisDB beside DuckDB, SQLite and the row form (or KV), with the target. */
export function mainTable(r: TablesResults, checks: readonly TablesCheck[]): string {
  const rows: string[][] = [];
  for (const s of r.scales) {
    const n = fmtRows(s.rows);
    const prefix = `GROUP BY g sum/count, ${n} rows`;
    rows.push([`GROUP BY g sum/count, ${n} rows: engine`, ms(engineMedian(s.group.mantis)), ms(e2eMedian(s.group.duckdb)), ms(e2eMedian(s.group.sqlite)), '—', outcome(checks, prefix)]);
    rows.push([`  end to end over HTTP`, ms(e2eMedian(s.group.mantis)), ms(e2eMedian(s.group.duckdb)), ms(e2eMedian(s.group.sqlite)), ms(e2eMedian(s.group.rowForm)), fasterThanRowForm(s.group)]);
  }
  for (const [label, key, prefix] of [['WHERE x > k (1 %) rows k, x', 'scan', 'filtered scan'], ['WHERE x > k (1 %) count/sum', 'filter', 'filtered count']] as const) {
    for (const s of r.scales) {
      const q = s[key];
      const isLast = s === r.scales[r.scales.length - 1];
      const vsDuck = ratio(engineMedian(q.mantis), e2eMedian(q.duckdb));
      rows.push([`${label}, ${fmtRows(s.rows)} rows: engine`, ms(engineMedian(q.mantis)), ms(e2eMedian(q.duckdb)), ms(e2eMedian(q.sqlite)), '—', vsDuck === null ? '' : `${fmtX(vsDuck)} DuckDB's time`]);
      rows.push([`  end to end over HTTP`, ms(e2eMedian(q.mantis)), ms(e2eMedian(q.duckdb)), ms(e2eMedian(q.sqlite)), ms(e2eMedian(q.rowForm)), isLast ? outcome(checks, prefix) : fasterThanRowForm(q)]);
    }
  }
  const ins = r.insert;
  rows.push([`batched inserts, rows/s (${fmtRows(ins.batch)}-row batches, ${ins.workers} in flight)`, fmtRate(ins.mantis?.rowsPerSec), fmtRate(ins.duckdb?.rowsPerSec), fmtRate(ins.sqlite?.rowsPerSec), fmtRate(ins.rowForm?.rowsPerSec), outcome(checks, 'batched inserts')]);
  const lk = r.lookup;
  rows.push([`point lookup by pk over HTTP, ops/s (${lk.connections} connections)`, fmtRate(lk.table?.opsPerSec), '—', '—', `KV GET ${fmtRate(lk.kv?.opsPerSec)}`, outcome(checks, 'point lookup')]);
  rows.push([`  lookup p50 / p99`, lat(lk.table), '—', '—', `KV GET ${lat(lk.kv)}`, '']);
  const d = r.disk;
  rows.push([`table on disk, ${d === null ? '—' : fmtRows(d.rows)} rows`, fmtBytes(d === null ? null : tableBytes(d)), fmtBytes(d?.duckdbBytes), fmtBytes(d?.sqliteBytes), '—', outcome(checks, 'table on disk')]);
  const m = r.memory;
  rows.push([`server RSS empty / loaded / peak`, `${fmtBytes(kib(m.rssEmptyKiB))} / ${fmtBytes(kib(m.rssLoadedKiB))} / ${fmtBytes(kib(m.rssPeakKiB))}`, `bench process ${fmtBytes(kib(m.benchRssKiB))}`, '(in process)', '—', `data dir ${fmtBytes(m.dataDirBytes)} (table + row form + KV)`]);
  return table(['figure', 'MantisDB', 'DuckDB', 'SQLite', 'row form / KV', 'target'], rows, [false, true, true, true, true, false]);
}

const kib = (k: number | null): number | null => (k === null ? null : k * 1024);

/** Per column: plain vs stored bytes, the share saved, the encodings chosen. */
export function compressionTable(d: DiskFigures): string {
  const rows = d.columns.map((c) => {
    const s = saved(c);
    const judged = (LOW_CARDINALITY_COLUMNS as readonly string[]).includes(c.name);
    const encs = Object.entries(c.encodings).sort((a, b) => b[1] - a[1]).map(([e, b]) => `${e} ${fmtBytes(b)}`).join(', ');
    return [c.name, c.type, fmtBytes(c.plainBytes), fmtBytes(c.storedBytes), pct(s), encs || '—', judged ? (s === null ? 'n/a' : s >= TARGETS.compressionSavedMin ? 'met' : 'NOT MET') : ''];
  });
  const plain = d.columns.reduce((t, c) => t + c.plainBytes, 0);
  const stored = d.columns.reduce((t, c) => t + c.storedBytes, 0);
  rows.push(['all columns', '', fmtBytes(plain), fmtBytes(stored), pct(plain === 0 ? null : 1 - stored / plain), '', '']);
  return table(['column', 'type', 'plain', 'stored', 'smaller by', 'encodings (stored bytes)', `≥ ${pct(TARGETS.compressionSavedMin)}`], rows, [false, false, true, true, true, false, false]);
}

export function checksTable(checks: readonly TablesCheck[]): string {
  const rows = checks.map((c) => [c.name, c.goal, c.actual, c.met === null ? 'n/a' : c.met ? 'met' : 'NOT MET', c.note]);
  return table(['target', 'goal', 'measured', 'result', 'note'], rows, [false, false, true, false, false]);
}

/** Every run's times, for the reader who wants more than the medians. */
export function runsLines(r: TablesResults): string[] {
  const fmt = (q: QueryRuns | null, clock: 'e2e' | 'engine'): string => {
    const v = clock === 'e2e' ? q?.e2eMs : q?.engineMs;
    return v === undefined || v === null ? '—' : v.map((x) => fmtMs(x)).join(' ');
  };
  const out: string[] = [];
  for (const s of r.scales) {
    for (const [what, sys] of [['GROUP BY', s.group], ['scan', s.scan], ['count', s.filter]] as const) {
      out.push(`  ${what.padEnd(8)} ${fmtRows(s.rows).padStart(4)}: MantisDB engine ${fmt(sys.mantis, 'engine')} | HTTP ${fmt(sys.mantis, 'e2e')} | DuckDB ${fmt(sys.duckdb, 'e2e')} | SQLite ${fmt(sys.sqlite, 'e2e')} | row form ${fmt(sys.rowForm, 'e2e')}`);
      const st = sys.mantis?.stats;
      if (st !== undefined) out.push(`           MantisDB's last run: ${Object.entries(st).filter(([k]) => k !== 'took_ms').map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join(', ')}`);
    }
    if (s.moveMs !== null) out.push(`  move of the delta into segments after loading to ${fmtRows(s.rows)}: ${fmtMs(s.moveMs)}`);
  }
  return out;
}
