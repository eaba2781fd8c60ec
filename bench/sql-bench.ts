// SQL benchmark (`npm run bench:sql`): MantisDB's SQL (POST /api/v1/sql)
// beside DuckDB (@duckdb/node-api, 2 threads) and SQLite (better-sqlite3),
// both embedded in this process, and PostgreSQL (a throwaway cluster with its
// default configuration, lib/pgbench.ts), all measured in the same run on the
// same rows (lib/sql-tpch.ts):
//
//   1. TPC-H Q1, Q3, Q5, Q6 at a scale factor (SF 1: ≈6M lineitems) from a
//      deterministic seeded generator close to dbgen; the standard query
//      texts with the interval arithmetic precomputed into date literals, the
//      same text on every engine (SQLite: `date '…'` → '…', its dates being
//      ISO text). Decimals are numeric(15,2) in PostgreSQL and DuckDB, float8
//      in MantisDB, REAL in SQLite;
//   2. GROUP BY over a simple table g (id int8 primary key, k = 1,000 groups,
//      v): SELECT k, count(*), sum(v) FROM g GROUP BY k ORDER BY k, 10M rows;
//   3. point selects by primary key over HTTP at 64 connections
//      (SELECT * FROM g WHERE id = $1 with params, ids uniform), closed loop,
//      vs PostgreSQL's `pgbench -S` at 64 clients on the same machine.
//
// Each query: 1 warm-up run, then 3 measured runs (best and median). MantisDB
// prints two times: its engine's ("Execution Time" of EXPLAIN (ANALYZE,
// FORMAT JSON) <query>, run as many times after the measured runs; n/a when
// EXPLAIN fails) and end to end over HTTP. The embedded engines' time is the
// call's, PostgreSQL's the round trip through `pg`. Every engine's answer is
// checked against the others (row count, first row within 1e-6 relative;
// the reference is DuckDB's answer), the GROUP BY answer against the
// generator's; a difference is a warning. The targets are judged on medians of
// MantisDB's end-to-end time: Q1 and Q6 ≤ 3× DuckDB and ≥ 5× faster than
// SQLite and PostgreSQL; Q3 and Q5 faster than PostgreSQL; point selects
// ≥ 1.0× pgbench -S tps.
//
// MantisDB's tables are created with SQL CREATE TABLE … PRIMARY KEY, filled
// through the tables API's batch route (POST /api/v1/tables/:t/rows, 10,000
// rows per request, 4 in flight), then moved into column segments.
//
//   npm run bench:sql                                  # SF 1, 10M-row GROUP BY: about 30-60 minutes
//   npm run bench:sql -- --sf 0.01 --rows 100000 --duration 3      # a smoke run
//   npm run bench:sql -- --only q1,q6 --systems mantis,duckdb
//   npm run bench:sql -- --url http://127.0.0.1:8080 --skip-load   # a running server, tables already loaded
//
// Flags: --sf N (1; fractions allowed), --rows N (10,000,000: the GROUP BY
// table and the point selects' key range), --duration S (10) and --warmup S
// (2) for the point selects, --only q1,q3,q5,q6,groupby,point (all),
// --systems mantis,duckdb,sqlite,pg (all), --skip-load (MantisDB's tables
// are there already: with --url), --url URL (a running MantisDB instead of a
// fresh one), --runs N (3), --warmups N (1), --connections N (64),
// --insert-clients N (4), --batch N (10000), --shards N (2), --fsync
// always|batch|none (batch), --duckdb-threads N (2), --pgbench-scale N (10),
// --seed N (1), --wait-idle-s N (30).
// Results: stdout and bench/results/sql-<time>.json. Exit codes: 0 ok; 1 a
// failure or a differing answer; 2 bad flags.

import { execSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from 'undici';
import { closedLoop } from './lib/docs-load.js';
import { waitQuiet } from './lib/docs-proc.js';
import { fmtMs, fmtRate } from './lib/docs-report.js';
import { startTempPostgres, type TempPostgres } from './lib/pgbench.js';
import { BUSY_SHARE_MAX, procStatusKiB, RssSampler, startServer, stopServer, waitForQuietMachine, type ServerProcess, type StopOutcome } from './lib/proc.js';
import { pushProblems, resultsPath } from './lib/report.js';
import { openDuckDB, openPostgres, openSQLite, writeCsv, type Answer, type PgSqlEngine, type SqlEngine } from './lib/sql-engines.js';
import { createSqlTable, explainAnalyzeMs, loadTable, pointSelect, probeSql, sql } from './lib/sql-mantis.js';
import { runSelectOnly } from './lib/sql-pgbench.js';
import {
  checkTargets, compareAll, compareAnswers, pointTable, queriesTable, runsLines, runsOf, SYSTEM_LABEL, targetsTable,
  type EngineTimes, type PointResult, type QueryResult, type Runs, type System,
} from './lib/sql-report.js';
import { G_QUERY, G_TABLE, gExpected, POINT_QUERY, QUERY_IDS, QUERY_TABLES, TPCH_QUERIES, TPCH_TABLES, tableDef, tpchSpec, type QueryId } from './lib/sql-tpch.js';
import { keyStream } from './lib/tables-data.js';
import { queryRuns } from './lib/tables-phases.js';
import { fmtRows } from './lib/tables-report.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SERVER = join(ROOT, 'dist/src/main.js');

type Part = QueryId | 'groupby' | 'point';
const PARTS: readonly Part[] = [...QUERY_IDS, 'groupby', 'point'];
const ALL_SYSTEMS: readonly System[] = ['mantis', 'duckdb', 'sqlite', 'pg'];

type Options = {
  sf: number;
  rows: number;
  durationS: number;
  warmupS: number;
  only: Part[];
  systems: System[];
  skipLoad: boolean;
  url: string | null;
  runs: number;
  warmups: number;
  connections: number;
  insertClients: number;
  batch: number;
  shards: number;
  fsync: 'always' | 'batch' | 'none';
  duckdbThreads: number;
  pgbenchScale: number;
  seed: number;
  waitIdleS: number;
};

class UsageError extends Error {}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = {
    sf: 1, rows: 10_000_000, durationS: 10, warmupS: 2, only: [...PARTS], systems: [...ALL_SYSTEMS], skipLoad: false, url: null, runs: 3, warmups: 1,
    connections: 64, insertClients: 4, batch: 10_000, shards: 2, fsync: 'batch', duckdbThreads: 2, pgbenchScale: 10, seed: 1, waitIdleS: 30,
  };
  const int = (flag: string, raw: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const v = Number(raw);
    if (raw === undefined || !Number.isInteger(v) || v < min || v > max) throw new UsageError(`${flag} needs an integer in ${min}..${max}, got ${String(raw)}`);
    return v;
  };
  const list = <T extends string>(flag: string, raw: string | undefined, allowed: readonly T[]): T[] => {
    const items = (raw ?? '').split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
    const bad = items.filter((s) => !(allowed as readonly string[]).includes(s));
    if (items.length === 0 || bad.length > 0) throw new UsageError(`${flag} takes a comma-separated list of ${allowed.join(', ')}; got ${String(raw)}`);
    return [...new Set(items)] as T[];
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--sf') {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0 || v > 100) throw new UsageError(`--sf needs a number in (0, 100], got ${String(argv[i])}`);
      o.sf = v;
    } else if (a === '--rows') o.rows = int(a, argv[++i], 1000, 2 ** 31 - 1);
    else if (a === '--duration') o.durationS = int(a, argv[++i], 1);
    else if (a === '--warmup') o.warmupS = int(a, argv[++i], 0);
    else if (a === '--only') o.only = list(a, argv[++i], PARTS);
    else if (a === '--systems') o.systems = list(a, argv[++i], ALL_SYSTEMS);
    else if (a === '--skip-load') o.skipLoad = true;
    else if (a === '--url') {
      const v = argv[++i];
      if (v === undefined || !/^https?:\/\/\S+$/.test(v)) throw new UsageError(`--url needs http://host:port, got ${String(v)}`);
      o.url = v.replace(/\/+$/, '');
    } else if (a === '--runs') o.runs = int(a, argv[++i], 1, 1000);
    else if (a === '--warmups') o.warmups = int(a, argv[++i], 0, 100);
    else if (a === '--connections') o.connections = int(a, argv[++i], 1, 1024);
    else if (a === '--insert-clients') o.insertClients = int(a, argv[++i], 1, 64);
    else if (a === '--batch') o.batch = int(a, argv[++i], 1, 10_000); // the rows route takes 1..10000
    else if (a === '--shards') o.shards = int(a, argv[++i], 1, 256);
    else if (a === '--fsync') {
      const v = argv[++i];
      if (v !== 'always' && v !== 'batch' && v !== 'none') throw new UsageError(`--fsync takes always, batch or none, got ${String(v)}`);
      o.fsync = v;
    } else if (a === '--duckdb-threads') o.duckdbThreads = int(a, argv[++i], 1, 64);
    else if (a === '--pgbench-scale') o.pgbenchScale = int(a, argv[++i], 1, 10_000);
    else if (a === '--seed') o.seed = int(a, argv[++i], 0, 2 ** 31);
    else if (a === '--wait-idle-s') o.waitIdleS = int(a, argv[++i], 0);
    else if (a === '--help' || a === '-h') throw new UsageError('see the header of bench/sql-bench.ts for the flags');
    else throw new UsageError(`unknown flag ${a} (see the header of bench/sql-bench.ts)`);
  }
  if (o.skipLoad && o.url === null) throw new UsageError('--skip-load needs --url: a fresh server has no tables');
  return o;
}

const progress = (message: string): void => {
  process.stderr.write(`[sql-bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
};

function gitState(): string {
  try {
    const head = execSync('git rev-parse --short HEAD', { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execSync('git status --porcelain -- src workers shared', { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty === '' ? head : `${head} + uncommitted changes in src/workers/shared`;
  } catch {
    return 'unknown';
  }
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error)).split('\n').slice(0, 4).join(' ');

/** Runs `work`, or records why it failed and gives null: one failed phase must not hide the others' figures. */
async function attempt<T>(problems: string[], what: string, work: () => Promise<T>): Promise<T | null> {
  try {
    return await work();
  } catch (error) {
    problems.push(`${what}: ${messageOf(error)}`);
    progress(`${what} FAILED: ${messageOf(error)}`);
    return null;
  }
}

const newClient = (url: string): Client => new Client(url, { keepAliveTimeout: 60_000, headersTimeout: 3_600_000, bodyTimeout: 3_600_000 });

async function withClients<T>(url: string, n: number, work: (clients: Client[]) => Promise<T>): Promise<T> {
  const clients = Array.from({ length: n }, () => newClient(url));
  try {
    return await work(clients);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

type Baselines = Partial<Record<Exclude<System, 'mantis'>, SqlEngine>>;

type State = {
  readonly o: Options;
  readonly problems: string[];
  readonly tmp: string;
  /** MantisDB's URL when its SQL route answers, else null. */
  readonly mantisUrl: string | null;
  readonly mantisPid: number | null;
  readonly engines: Baselines;
  /** Seconds per system and table. */
  readonly loads: Record<string, Record<string, number>>;
};

const noteLoad = (s: State, who: string, table: string, seconds: number): void => {
  (s.loads[who] ??= {})[table] = Math.round(seconds * 1000) / 1000;
};

async function timed(work: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await work();
  return (performance.now() - t0) / 1000;
}

/** The TPC-H tables the chosen queries read, into every system. */
async function loadTpch(s: State, tables: readonly string[]): Promise<void> {
  const { o, problems } = s;
  const spec = tpchSpec(o.sf, o.seed);
  progress(`TPC-H SF ${o.sf}: ${fmtRows(spec.orders)} orders, ${fmtRows(spec.customers)} customers, ${fmtRows(spec.suppliers)} suppliers; tables ${tables.join(', ')}`);
  const csvDir = join(s.tmp, 'csv');
  if (s.engines.duckdb !== undefined || s.engines.pg !== undefined) {
    mkdirSync(csvDir, { recursive: true });
    const seconds = await timed(async () => {
      const rows = writeCsv(spec, tables, csvDir);
      progress(`  CSV written: ${Object.entries(rows).map(([t, n]) => `${t} ${fmtRows(n)}`).join(', ')}`);
    });
    noteLoad(s, 'generator (CSV)', 'all', seconds);
  }
  for (const [key, engine] of Object.entries(s.engines) as [Exclude<System, 'mantis'>, SqlEngine][]) {
    progress(`${engine.name}: loading`);
    const seconds = await attempt(problems, `${engine.name} TPC-H load`, () => timed(() => engine.loadTpch(spec, tables, csvDir)));
    if (seconds === null) delete s.engines[key];
    else {
      noteLoad(s, engine.name, 'tpch', seconds);
      progress(`  ${engine.name} loaded in ${seconds.toFixed(1)} s`);
    }
  }
  rmSync(csvDir, { recursive: true, force: true });
  if (s.mantisUrl !== null && !o.skipLoad) {
    const url = s.mantisUrl;
    for (const table of tables) {
      progress(`MantisDB: CREATE TABLE ${table} and load through the rows route`);
      const ok = await attempt(problems, `MantisDB load of ${table}`, () =>
        withClients(url, o.insertClients, async (clients) => {
          await createSqlTable(clients[0], tableDef(table));
          // lineitem is loaded by ranges of orders: its figures count orders (1..7 lines each)
          const unit = table === 'lineitem' ? "orders' lines" : 'rows';
          const run = await loadTable(clients, table, spec, 0, o.batch, (n) => progress(`  ${table}: ${fmtRows(n)} ${unit}`));
          noteLoad(s, 'MantisDB', table, run.elapsedS);
          progress(`  ${table}: ${fmtRows(run.rows)} ${unit} in ${run.elapsedS.toFixed(1)} s (${fmtRate(run.rowsPerSec)} ${table === 'lineitem' ? 'orders' : 'rows'}/s)`);
        }));
      if (ok === null) break;
    }
    if (s.mantisPid !== null) await waitQuiet(s.mantisPid, 30_000);
  }
}

/** One query on every system: warm-ups, measured runs, MantisDB's EXPLAIN ANALYZE, answers compared. */
async function runQuery(s: State, id: string, text: string, expected: number[][] | null): Promise<QueryResult> {
  const { o, problems } = s;
  const runs: Partial<Record<System, Runs>> = {};
  const answers: Partial<Record<System, Answer>> = {};
  let mantisEngine: EngineTimes | null = null;
  const measure = async (who: System, once: () => Promise<{ answer: Answer; e2eMs?: number }>): Promise<void> => {
    let last: Answer | null = null;
    try {
      const q = await queryRuns(o.warmups, o.runs, once, (a) => {
        last = a;
        return [];
      });
      runs[who] = runsOf(q.e2eMs, last, null);
      if (last !== null) answers[who] = last;
    } catch (error) {
      runs[who] = runsOf([], null, messageOf(error));
      problems.push(`${id} on ${SYSTEM_LABEL[who]}: ${messageOf(error)}`);
      progress(`  ${SYSTEM_LABEL[who]} FAILED: ${messageOf(error)}`);
    }
  };
  progress(`${id}: ${o.warmups} warm-up + ${o.runs} runs per system`);
  if (s.mantisUrl !== null) {
    const c = newClient(s.mantisUrl);
    try {
      const serverMs: number[] = [];
      await measure('mantis', async () => {
        const r = await sql(c, text);
        const took = r.meta?.took_ms;
        if (typeof took === 'number') serverMs.push(took);
        return { answer: r.answer, e2eMs: r.e2eMs };
      });
      if (runs.mantis !== undefined) runs.mantis = { ...runs.mantis, serverMs: serverMs.slice(o.warmups) };
      if (runs.mantis?.error === null) {
        const executionMs: number[] = [];
        const planningMs: number[] = [];
        let error: string | null = null;
        for (let i = 0; i < o.runs && error === null; i++) {
          try {
            const e = await explainAnalyzeMs(c, text);
            executionMs.push(e.executionMs);
            if (e.planningMs !== null) planningMs.push(e.planningMs);
          } catch (err) {
            error = messageOf(err);
            problems.push(`${id}: EXPLAIN (ANALYZE, FORMAT JSON) on MantisDB: ${error}`);
          }
        }
        mantisEngine = { executionMs: error === null ? executionMs : [], planningMs, error };
      }
    } finally {
      await c.close();
    }
  }
  for (const [key, engine] of Object.entries(s.engines) as [Exclude<System, 'mantis'>, SqlEngine][]) {
    await measure(key, async () => ({ answer: await engine.query(text) }));
  }
  const mismatches: string[] = [];
  if (expected !== null) {
    for (const [who, a] of Object.entries(answers) as [System, Answer][]) mismatches.push(...compareAll(SYSTEM_LABEL[who], expected, a));
  } else {
    const refKey = (['duckdb', 'pg', 'sqlite', 'mantis'] as const).find((k) => answers[k] !== undefined);
    if (refKey !== undefined) {
      for (const [who, a] of Object.entries(answers) as [System, Answer][]) {
        if (who !== refKey) mismatches.push(...compareAnswers(SYSTEM_LABEL[refKey], answers[refKey]!, SYSTEM_LABEL[who], a));
      }
    }
  }
  for (const m of mismatches) {
    problems.push(`${id}: answers differ: ${m}`);
    progress(`  WARNING ${id}: ${m}`);
  }
  const line = (Object.entries(runs) as [System, Runs][]).map(([who, r]) => `${SYSTEM_LABEL[who]} ${r.error === null ? fmtMs(r.medianMs) : 'FAILED'}`).join(', ');
  const engine = mantisEngine as EngineTimes | null;
  progress(`  ${line}${engine === null ? '' : `; MantisDB engine ${engine.executionMs.length === 0 ? 'n/a' : engine.executionMs.map((x) => fmtMs(x)).join('/')}`}`);
  return { id, sql: text, runs, mantisEngine, mismatches };
}

/** The GROUP BY table g into every system that needs it (the baselines only for the GROUP BY). */
async function loadG(s: State, baselines: boolean): Promise<void> {
  const { o, problems } = s;
  if (baselines) {
    for (const [key, engine] of Object.entries(s.engines) as [Exclude<System, 'mantis'>, SqlEngine][]) {
      progress(`${engine.name}: g, ${fmtRows(o.rows)} rows`);
      const seconds = await attempt(problems, `${engine.name} load of g`, () => timed(() => engine.loadG(o.rows)));
      if (seconds === null) delete s.engines[key];
      else noteLoad(s, engine.name, 'g', seconds);
    }
  }
  if (s.mantisUrl !== null && !o.skipLoad) {
    const url = s.mantisUrl;
    progress(`MantisDB: CREATE TABLE g, ${fmtRows(o.rows)} rows through the rows route`);
    await attempt(problems, 'MantisDB load of g', () =>
      withClients(url, o.insertClients, async (clients) => {
        await createSqlTable(clients[0], G_TABLE);
        const run = await loadTable(clients, 'g', null, o.rows, o.batch, (n) => progress(`  g: ${fmtRows(n)} rows`));
        noteLoad(s, 'MantisDB', 'g', run.elapsedS);
        progress(`  g: ${fmtRate(run.rowsPerSec)} rows/s`);
      }));
    if (s.mantisPid !== null) await waitQuiet(s.mantisPid, 30_000);
  }
}

async function pointPhase(s: State, pg: TempPostgres | null): Promise<PointResult> {
  const { o, problems } = s;
  let mantis: PointResult['mantis'] = null;
  let mantisError: string | null = null;
  if (s.mantisUrl !== null) {
    const url = s.mantisUrl;
    progress(`point selects: ${POINT_QUERY} over HTTP, ${o.connections} connections, ${o.warmupS} s warm-up + ${o.durationS} s, ids 0..${fmtRows(o.rows)}`);
    const run = await attempt(problems, 'MantisDB point selects', () =>
      withClients(url, o.connections, (clients) => {
        const keys = clients.map((_, w) => keyStream(o.seed * 1000 + w + 1, o.rows));
        return closedLoop({ workers: o.connections, warmupS: o.warmupS, durationS: o.durationS, op: (w) => pointSelect(clients[w], POINT_QUERY, keys[w]()) });
      }));
    if (run === null) mantisError = problems[problems.length - 1];
    else {
      mantis = { opsPerSec: run.opsPerSec, ops: run.ops, errors: run.errors, errorExamples: run.errorExamples, latency: run.latency };
      if (run.errors > 0) problems.push(`MantisDB point selects: ${run.errors} failed, e.g. ${run.errorExamples.slice(0, 3).join('; ')}`);
      progress(`  MantisDB ${fmtRate(run.opsPerSec)} ops/s, p50 ${fmtMs(run.latency.p50Ms)}, p99 ${fmtMs(run.latency.p99Ms)}, ${run.errors} errors`);
    }
  }
  let pgbench: PointResult['pgbench'] = null;
  let pgbenchError: string | null = null;
  if (pg !== null) {
    progress(`pgbench -S: scale ${o.pgbenchScale}, ${o.connections} clients, ${o.durationS} s`);
    const r = await attempt(problems, 'pgbench -S', () => runSelectOnly(pg, { clients: o.connections, durationS: o.durationS, scale: o.pgbenchScale }));
    if (r === null) pgbenchError = problems[problems.length - 1];
    else {
      pgbench = { tps: r.tps, clients: r.clients, threads: r.threads, scale: r.scale, failed: r.failedTransactions, latency: r.latency, queryMode: r.queryMode };
      progress(`  pgbench -S ${fmtRate(r.tps)} tps, p50 ${fmtMs(r.latency.p50Ms)}, p99 ${fmtMs(r.latency.p99Ms)}`);
    }
  }
  return { connections: o.connections, durationS: o.durationS, mantis, mantisError, pgbench, pgbenchError };
}

async function main(): Promise<number> {
  let o: Options;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`sql-bench: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const startedAt = new Date();
  const load = loadavg();
  const busyBefore = await waitForQuietMachine(o.waitIdleS, progress, '--wait-idle-s');
  const cores = availableParallelism();
  const problems: string[] = [];
  const tmp = mkdtempSync(join(tmpdir(), 'mantis-sql-bench-'));
  const dataDir = join(tmp, 'data');
  let server: ServerProcess | null = null;
  let stopped: StopOutcome | null = null;
  let pg: TempPostgres | null = null;
  const engines: Baselines = {};
  const closeAll = async (): Promise<void> => {
    for (const e of Object.values(engines)) await e.close().catch(() => undefined);
    await pg?.stop().catch(() => undefined);
  };
  process.once('SIGINT', () => {
    void (async () => {
      if (server !== null && stopped === null) await stopServer(server);
      await closeAll();
      rmSync(tmp, { recursive: true, force: true });
    })().finally(() => process.exit(130));
  });

  const queries: QueryResult[] = [];
  let group: QueryResult | null = null;
  let point: PointResult | null = null;
  let versions: Record<string, string | null> = {};
  let pgSettings: Record<string, string> | null = null;
  let rss: { emptyKiB: number | null; loadedKiB: number | null; peakKiB: number | null } = { emptyKiB: null, loadedKiB: null, peakKiB: null };
  let complaints: string[] = [];
  const loads: Record<string, Record<string, number>> = {};
  try {
    let mantisUrl: string | null = null;
    let mantisPid: number | null = null;
    if (o.systems.includes('mantis')) {
      if (o.url !== null) mantisUrl = o.url;
      else {
        const args = ['--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--log-level', 'warn', '--fsync', o.fsync, '--shards', String(o.shards), '--cache-hit-rate-warn', '0'];
        server = await startServer(`MantisDB --shards ${o.shards}`, SERVER, args, /^MantisDB listening on (http:\/\/\S+)/, 60_000);
        progress(`${server.name} at ${server.url} (pid ${server.pid}), data in ${dataDir}`);
        mantisUrl = server.url;
        mantisPid = server.pid;
      }
      const c = newClient(mantisUrl);
      const why = await probeSql(c).finally(() => c.close());
      if (why !== null) {
        problems.push(`MantisDB's SQL route does not answer SELECT 1: ${why}`);
        progress(`MantisDB's SQL route does not answer (${why}): the baselines alone`);
        mantisUrl = null;
      }
    }
    if (o.systems.includes('duckdb')) {
      const e = await attempt(problems, 'DuckDB open', () => openDuckDB(join(tmp, 'bench.duckdb'), o.duckdbThreads));
      if (e !== null) engines.duckdb = e;
    }
    if (o.systems.includes('sqlite')) {
      const e = await attempt(problems, 'SQLite open', () => openSQLite(join(tmp, 'bench.sqlite')));
      if (e !== null) engines.sqlite = e;
    }
    if (o.systems.includes('pg')) {
      pg = await attempt(problems, 'PostgreSQL start', () => startTempPostgres());
      if (pg !== null) {
        const cluster = pg;
        const e = await attempt(problems, 'PostgreSQL connect', () => openPostgres(cluster));
        if (e !== null) {
          engines.pg = e;
          pgSettings = await (e as PgSqlEngine).settings().catch(() => null);
        }
      }
    }
    versions = { duckdb: engines.duckdb?.version ?? null, sqlite: engines.sqlite?.version ?? null, postgres: engines.pg?.version ?? null };
    const state: State = { o, problems, tmp, mantisUrl, mantisPid, engines, loads };
    if (mantisPid !== null) rss.emptyKiB = procStatusKiB(mantisPid, 'VmRSS');
    const sampler = mantisPid === null ? null : new RssSampler(mantisPid);

    const chosen = QUERY_IDS.filter((q) => o.only.includes(q));
    if (chosen.length > 0) {
      const needed = new Set(chosen.flatMap((q) => QUERY_TABLES[q]));
      await loadTpch(state, TPCH_TABLES.map((t) => t.name).filter((t) => needed.has(t as never)));
      for (const q of chosen) queries.push(await runQuery(state, q, TPCH_QUERIES[q], null));
    }
    if (o.only.includes('groupby') || o.only.includes('point')) {
      await loadG(state, o.only.includes('groupby'));
      if (o.only.includes('groupby')) group = await runQuery(state, `GROUP BY (${fmtRows(o.rows)} rows)`, G_QUERY, gExpected(o.rows));
    }
    if (mantisPid !== null) rss.loadedKiB = procStatusKiB(mantisPid, 'VmRSS');
    if (o.only.includes('point')) {
      // the embedded engines sit idle; PostgreSQL's cluster serves pgbench after MantisDB's run
      point = await pointPhase(state, o.systems.includes('pg') ? pg : null);
    }
    rss = { ...rss, peakKiB: sampler?.stop().peakRssKiB ?? null };
  } finally {
    if (server !== null) {
      stopped = await stopServer(server);
      complaints = [...server.complaints];
    }
    await closeAll();
    rmSync(tmp, { recursive: true, force: true });
  }
  if (stopped !== null && (stopped.killed || (stopped.code !== 0 && stopped.code !== null))) problems.push(`MantisDB did not stop cleanly: code ${stopped.code}, signal ${stopped.signal}${stopped.killed ? ', SIGKILLed after 15 s' : ''}`);
  if (complaints.length > 0) problems.push(`the server logged ${complaints.length} warning/error line(s); first: ${complaints.slice(0, 3).map((l) => l.slice(0, 300)).join(' | ')}`);

  const all = group === null ? queries : [...queries, group];
  const targets = checkTargets(all, point);
  const out: string[] = [''];
  out.push(`MantisDB SQL benchmark — ${startedAt.toISOString()}, ${cores} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}, code ${gitState()}`);
  out.push(`Load average at start ${load.map((x) => x.toFixed(2)).join(' ')}; machine ${busyBefore === null ? '?' : `${(100 * busyBefore).toFixed(0)} %`} busy in the second before${busyBefore !== null && busyBefore > BUSY_SHARE_MAX ? ' — NOT IDLE' : ''}.`);
  const ran = [
    ...(queries.length > 0 ? [`TPC-H-like data at SF ${o.sf} (seed ${o.seed}; lib/sql-tpch.ts)`] : []),
    ...(o.only.includes('groupby') || o.only.includes('point') ? [`table g of ${fmtRows(o.rows)} rows (1,000 groups)`] : []),
  ];
  out.push(`${ran.join(', ')}. MantisDB: ${o.url ?? `dist/src/main.js --shards ${o.shards} --fsync ${o.fsync}`}, decimals float8; DuckDB ${versions.duckdb ?? '(not run)'} (threads=${o.duckdbThreads}, file database) and SQLite ${versions.sqlite ?? '(not run)'} (WAL, decimals REAL, dates text) in this process; ${versions.postgres ?? 'PostgreSQL (not run)'} in a temp cluster with its default configuration${pgSettings === null ? '' : ` (${Object.entries(pgSettings).map(([k, v]) => `${k}=${v}`).join(', ')})`}, through pg over TCP. Decimals numeric(15,2) in DuckDB and PostgreSQL.`);
  out.push(`Each query: ${o.warmups} warm-up + ${o.runs} measured runs, median (best). MantisDB engine = "Execution Time" of EXPLAIN (ANALYZE, FORMAT JSON), run ${o.runs} times after; over HTTP = this client's wall time for POST /api/v1/sql. Targets use the medians over HTTP. ${cores} cores shared by every system and this process.`);
  out.push('');
  if (all.length > 0) {
    out.push(queriesTable(all));
    out.push('');
  }
  if (point !== null) {
    out.push(pointTable(point));
    out.push('');
  }
  out.push(targetsTable(targets));
  out.push('');
  out.push('Every run:');
  out.push(...runsLines(all));
  out.push(`Loads (s): ${Object.entries(loads).map(([who, t]) => `${who} ${Object.entries(t).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(' ')}`).join('; ') || '—'}`);
  if (rss.emptyKiB !== null) out.push(`MantisDB RSS: empty ${((rss.emptyKiB ?? 0) / 1024).toFixed(0)} MiB, loaded ${((rss.loadedKiB ?? 0) / 1024).toFixed(0)} MiB, peak ${((rss.peakKiB ?? 0) / 1024).toFixed(0)} MiB.`);
  pushProblems(out, problems);

  const file = resultsPath(ROOT, 'sql', startedAt);
  const json = {
    benchmark: 'sql',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    code: gitState(),
    machine: { busyBefore, cores, cpu: cpus()[0]?.model ?? null, totalMemMiB: Math.round(totalmem() / 2 ** 20), loadavg: load, node: process.version },
    options: o,
    versions,
    pgSettings,
    server: { args: o.url ?? ['--shards', String(o.shards), '--fsync', o.fsync], stop: stopped, complaints },
    results: { queries, groupBy: group, point, loadsSeconds: loads, mantisRssKiB: rss },
    targets,
    problems,
  };
  writeFileSync(file, JSON.stringify(json, null, 2) + '\n');
  out.push('');
  out.push(`Results written to ${file}`);
  process.stdout.write(out.join('\n') + '\n');
  return problems.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    progress(`FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
