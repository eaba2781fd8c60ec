// Columnar table benchmark (`npm run bench:tables`, issue 12): MantisDB's
// tables over HTTP beside DuckDB (@duckdb/node-api, 2 threads) and SQLite
// (better-sqlite3), both embedded in this process, and beside MantisDB's own
// row form (the same rows as documents) to show what columns buy, on the same
// generated rows (lib/tables-data.ts: k, g = k % 100, x, amount, price,
// status, city, ts, flag), in one run:
//
//   1. batched inserts: 10,000-row batches (POST /api/v1/tables/:t/rows),
//      4 in flight, rows/s; the row form in 1000-document batches; DuckDB's
//      appender and SQLite's prepared INSERTs in 10,000-row transactions;
//   2. GROUP BY g with sum(amount) and count(*) over 1M and 10M rows: the
//      engine's own time (the query answer's stats.took_ms) and the time end to
//      end over HTTP, separately; the embedded engines' call time;
//   3. filtered scan WHERE x > 989,999 (1 % of the rows) returning the rows'
//      k and x, and the same filter under count(*) and sum(amount), at the
//      same scales, vs the row form's $match + $project / $match + $group;
//   4. compression per column vs plain (GET /api/v1/tables/:t/stats) and the
//      table's files on disk vs DuckDB's and SQLite's database files;
//   5. point lookup by primary key over HTTP (GET /api/v1/tables/:t/rows/:pk)
//      vs KV GET of the same row text, same connections, same key stream,
//      ops/s and p50/p99;
//   6. memory: the server's RSS empty, after the loads and at its peak.
//
// Every answer is checked against the generator (groups, counts, sums, the
// row a lookup returns). The table's delta is moved into column segments
// (POST …/move) after each load, before anything is measured on it.
//
//   npm run bench:tables                       # 10M rows: about 15-30 minutes
//   npm run bench:tables -- --rows 1000000     # 1M rows only
//   npm run bench:tables -- --quick            # 20k rows, short lookups: a smoke run
//
// MantisDB runs from dist/ with --shards 2 on a fresh temp data dir; the load
// and the embedded engines run in this process and share the 2 cores with it
// (nothing else runs while a system is being measured).
//
// Flags: --rows N (10000000; the GROUP BY is measured at 1M too when N > 1M),
// --quick, --runs N (3 measured query runs after --warmups N (1)),
// --connections N (32), --insert-clients N (4), --batch N (10000),
// --doc-batch N (1000), --kv-keys N (1000000, capped at --rows),
// --duration S (10) and --warmup S (2) per lookup run, --shards N (2),
// --fsync always|batch|none (batch, the server's default), --duckdb-threads N
// (2), --no-row-form, --seed N (1), --wait-idle-s N (30).
// Results: stdout and bench/results/tables-<time>.json. Exit codes: 0 ok;
// 1 a failure or a wrong answer; 2 bad flags.

import { execSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from 'undici';
import { call, dataOf, docsPath } from './lib/docs-http.js';
import { closedLoop, type LoopRun } from './lib/docs-load.js';
import { dirBytes, waitQuiet } from './lib/docs-proc.js';
import { BUSY_SHARE_MAX, procStatusKiB, RssSampler, startServer, stopServer, waitForQuietMachine, type ServerProcess, type StopOutcome } from './lib/proc.js';
import { pushProblems, resultsPath } from './lib/report.js';
import { compareFilter, compareGroups, compareScan, expectedAnswers, keyStream, type Expected } from './lib/tables-data.js';
import { openDuckDB, openSQLite, type EmbeddedEngine } from './lib/tables-embedded.js';
import {
  createTable, docsFilter, docsGroup, docsInsert, docsScan, insertRows, kvGet, kvPutRows, moveTable, rowsBody, tableFilter, tableGet, tableGroup, tableScan, tableStats, type TableStatsBody,
} from './lib/tables-http.js';
import { loadRanges, mergeLoads, queryRuns, scalesFor, type LoadRun, type QueryRuns } from './lib/tables-phases.js';
import { checksTable, checkTargets, compressionTable, fmtRows, mainTable, runsLines, type DiskFigures, type ScalePoint, type Systems, type TablesResults } from './lib/tables-report.js';
import { fmtBytes, fmtMs, fmtRate } from './lib/docs-report.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SERVER = join(ROOT, 'dist/src/main.js');
const TABLE = 'bench_rows';
const COLLECTION = 'bench_rows_docs';

type Options = {
  rows: number;
  quick: boolean;
  runs: number;
  warmups: number;
  connections: number;
  insertClients: number;
  batch: number;
  docBatch: number;
  kvKeys: number;
  durationS: number;
  warmupS: number;
  shards: number;
  fsync: 'always' | 'batch' | 'none';
  duckdbThreads: number;
  rowForm: boolean;
  seed: number;
  waitIdleS: number;
};

class UsageError extends Error {}

const QUICK: Partial<Options> = { rows: 20_000, runs: 2, warmups: 1, kvKeys: 20_000, durationS: 1, warmupS: 0.5, waitIdleS: 0 };

function parseArgs(argv: readonly string[]): Options {
  const o: Options = {
    rows: 10_000_000, quick: false, runs: 3, warmups: 1, connections: 32, insertClients: 4, batch: 10_000, docBatch: 1000, kvKeys: 1_000_000,
    durationS: 10, warmupS: 2, shards: 2, fsync: 'batch', duckdbThreads: 2, rowForm: true, seed: 1, waitIdleS: 30,
  };
  if (argv.includes('--quick')) Object.assign(o, QUICK, { quick: true });
  const int = (flag: string, raw: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const v = Number(raw);
    if (raw === undefined || !Number.isInteger(v) || v < min || v > max) throw new UsageError(`${flag} needs an integer in ${min}..${max}, got ${String(raw)}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') continue;
    else if (a === '--rows') o.rows = int(a, argv[++i], 100, 2 ** 31 - 1);
    else if (a === '--runs') o.runs = int(a, argv[++i], 1, 1000);
    else if (a === '--warmups') o.warmups = int(a, argv[++i], 0, 100);
    else if (a === '--connections') o.connections = int(a, argv[++i], 1, 1024);
    else if (a === '--insert-clients') o.insertClients = int(a, argv[++i], 1, 64);
    else if (a === '--batch') o.batch = int(a, argv[++i], 1, 10_000); // the rows route takes 1..10000
    else if (a === '--doc-batch') o.docBatch = int(a, argv[++i], 1, 1000); // the document insert route takes 1..1000
    else if (a === '--kv-keys') o.kvKeys = int(a, argv[++i], 1);
    else if (a === '--duration') o.durationS = int(a, argv[++i], 1);
    else if (a === '--warmup') o.warmupS = int(a, argv[++i], 0);
    else if (a === '--shards') o.shards = int(a, argv[++i], 1, 256);
    else if (a === '--fsync') {
      const v = argv[++i];
      if (v !== 'always' && v !== 'batch' && v !== 'none') throw new UsageError(`--fsync takes always, batch or none, got ${String(v)}`);
      o.fsync = v;
    } else if (a === '--duckdb-threads') o.duckdbThreads = int(a, argv[++i], 1, 64);
    else if (a === '--no-row-form') o.rowForm = false;
    else if (a === '--seed') o.seed = int(a, argv[++i], 0, 2 ** 31);
    else if (a === '--wait-idle-s') o.waitIdleS = int(a, argv[++i], 0);
    else if (a === '--help' || a === '-h') throw new UsageError('see the header of bench/tables-bench.ts for the flags');
    else throw new UsageError(`unknown flag ${a} (see the header of bench/tables-bench.ts)`);
  }
  o.kvKeys = Math.min(o.kvKeys, o.rows);
  return o;
}

const progress = (message: string): void => {
  process.stderr.write(`[tables-bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
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

/** Runs `work`, or records why it failed and gives null: one failed phase must not hide the others' figures. */
async function attempt<T>(problems: string[], what: string, work: () => Promise<T>): Promise<T | null> {
  try {
    return await work();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    problems.push(`${what}: ${message.split('\n').slice(0, 4).join(' ')}`);
    progress(`${what} FAILED: ${message}`);
    return null;
  }
}

const newClient = (url: string): Client => new Client(url, { keepAliveTimeout: 60_000, headersTimeout: 900_000, bodyTimeout: 900_000 });

async function withClients<T>(url: string, n: number, work: (clients: Client[]) => Promise<T>): Promise<T> {
  const clients = Array.from({ length: n }, () => newClient(url));
  try {
    return await work(clients);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

/** Bytes of the files under every shard's tables/ directory (the segment files). */
function tableFilesBytes(dataDir: string): number | null {
  const shardsDir = join(dataDir, 'shards');
  if (!existsSync(shardsDir)) return null;
  let sum = 0;
  let found = false;
  for (const shard of readdirSync(shardsDir)) {
    const dir = join(shardsDir, shard, 'tables');
    if (!existsSync(dir)) continue;
    found = true;
    sum += dirBytes(dir) ?? 0;
  }
  return found ? sum : null;
}

type Mantis = { readonly url: string; readonly pid: number; readonly tables: boolean; readonly docs: boolean };

type State = {
  readonly o: Options;
  readonly problems: string[];
  readonly mantis: Mantis | null;
  readonly duck: EmbeddedEngine | null;
  readonly sqlite: EmbeddedEngine | null;
};

async function timeLoad(rows: number, work: () => Promise<void>): Promise<LoadRun> {
  const t0 = performance.now();
  await work();
  const elapsedS = (performance.now() - t0) / 1000;
  const none = { count: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
  return { rows, batches: 1, elapsedS, rowsPerSec: rows / Math.max(elapsedS, 1e-9), batchLatency: none };
}

/** Moves the delta into segments and waits until the stats show no delta row; ms. */
async function moveAll(url: string, problems: string[]): Promise<number | null> {
  const client = newClient(url);
  try {
    const t0 = performance.now();
    await moveTable(client, TABLE);
    let stats = await tableStats(client, TABLE);
    const deadline = performance.now() + 600_000;
    while (stats.delta_rows > 0 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      await moveTable(client, TABLE);
      stats = await tableStats(client, TABLE);
    }
    if (stats.delta_rows > 0) problems.push(`the table still has ${stats.delta_rows} delta rows 10 minutes after the move`);
    return performance.now() - t0;
  } finally {
    await client.close();
  }
}

type Loads = { mantis: LoadRun[]; rowForm: LoadRun[]; duckdb: LoadRun[]; sqlite: LoadRun[] };

/** Loads rows [from, to) into every system; the table's delta is then moved into segments. */
async function loadStep(s: State, from: number, to: number, loads: Loads): Promise<number | null> {
  const { o, problems, mantis } = s;
  let moveMs: number | null = null;
  if (mantis?.tables) {
    progress(`MantisDB table: rows ${fmtRows(from)}..${fmtRows(to)}, ${fmtRows(o.batch)}-row batches, ${o.insertClients} in flight`);
    const run = await attempt(problems, 'MantisDB table insert', () =>
      withClients(mantis.url, o.insertClients, (clients) =>
        loadRanges({ from, to, batch: o.batch, workers: o.insertClients, send: (a, b, w) => insertRows(clients[w], TABLE, rowsBody(a, b), b - a), onProgress: (n) => progress(`  table: ${fmtRows(n)} rows`) })));
    if (run !== null) {
      loads.mantis.push(run);
      progress(`  ${fmtRate(run.rowsPerSec)} rows/s; moving the delta into segments`);
      moveMs = await attempt(problems, 'MantisDB move', () => moveAll(mantis.url, problems));
      progress(`  moved in ${fmtMs(moveMs)}`);
    }
  }
  if (mantis?.docs && o.rowForm) {
    progress(`MantisDB row form (documents): ${fmtRows(from)}..${fmtRows(to)}, ${o.docBatch}-document batches, ${o.insertClients} in flight`);
    const run = await attempt(problems, 'MantisDB row-form insert', () =>
      withClients(mantis.url, o.insertClients, (clients) =>
        loadRanges({ from, to, batch: o.docBatch, workers: o.insertClients, send: (a, b, w) => docsInsert(clients[w], COLLECTION, a, b), onProgress: (n) => progress(`  documents: ${fmtRows(n)}`) })));
    if (run !== null) {
      loads.rowForm.push(run);
      progress(`  ${fmtRate(run.rowsPerSec)} documents/s`);
    }
  }
  for (const [engine, list] of [[s.duck, loads.duckdb], [s.sqlite, loads.sqlite]] as const) {
    if (engine === null) continue;
    progress(`${engine.name}: rows ${fmtRows(from)}..${fmtRows(to)}`);
    const run = await attempt(problems, `${engine.name} load`, () => timeLoad(to - from, () => engine.load(from, to, o.batch)));
    if (run !== null) {
      list.push(run);
      progress(`  ${fmtRate(run.rowsPerSec)} rows/s`);
    }
  }
  if (mantis !== null) await waitQuiet(mantis.pid, o.quick ? 3000 : 60_000);
  return moveMs;
}

/** GROUP BY and the filtered scan on every system at the current scale. */
async function measureStep(s: State, rows: number, moveMs: number | null): Promise<ScalePoint> {
  const { o, problems, mantis } = s;
  const expected: Expected = expectedAnswers(rows);
  const group: { -readonly [K in keyof Systems<QueryRuns>]: QueryRuns | null } = { mantis: null, duckdb: null, sqlite: null, rowForm: null };
  const filter: { -readonly [K in keyof Systems<QueryRuns>]: QueryRuns | null } = { mantis: null, duckdb: null, sqlite: null, rowForm: null };
  const scan: { -readonly [K in keyof Systems<QueryRuns>]: QueryRuns | null } = { mantis: null, duckdb: null, sqlite: null, rowForm: null };
  const checkGroups = (who: string) => (a: Parameters<typeof compareGroups>[1]) => compareGroups(expected.groups, a).map((p) => `${who}: ${p}`);
  const checkFilter = (who: string) => (a: Parameters<typeof compareFilter>[1]) => compareFilter(expected.filter, a).map((p) => `${who}: ${p}`);
  const checkScan = (who: string) => (a: Parameters<typeof compareScan>[1]) => compareScan(expected.scan, a).map((p) => `${who}: ${p}`);
  const note = (q: QueryRuns | null): void => {
    if (q !== null && q.problems.length > 0) problems.push(`wrong answer at ${fmtRows(rows)} rows: ${q.problems.join('; ')}`);
  };
  progress(`queries over ${fmtRows(rows)} rows: ${o.warmups} warm-up + ${o.runs} measured runs each`);
  if (mantis?.tables) {
    const c = newClient(mantis.url);
    try {
      group.mantis = await attempt(problems, 'MantisDB GROUP BY', () => queryRuns(o.warmups, o.runs, () => tableGroup(c, TABLE), checkGroups('MantisDB GROUP BY')));
      filter.mantis = await attempt(problems, 'MantisDB filter', () => queryRuns(o.warmups, o.runs, () => tableFilter(c, TABLE), checkFilter('MantisDB filter')));
      scan.mantis = await attempt(problems, 'MantisDB scan', () => queryRuns(o.warmups, o.runs, () => tableScan(c, TABLE), checkScan('MantisDB scan')));
    } finally {
      await c.close();
    }
  }
  if (mantis?.docs && o.rowForm) {
    const c = newClient(mantis.url);
    // the row form reads every document (several seconds per 1M): past 1M rows, one run and no warm-up
    const [warm, runs] = rows > 1_000_000 ? [0, 1] : [o.warmups, o.runs];
    try {
      group.rowForm = await attempt(problems, 'row-form GROUP BY', () => queryRuns(warm, runs, () => docsGroup(c, COLLECTION), checkGroups('row form GROUP BY')));
      filter.rowForm = await attempt(problems, 'row-form filter', () => queryRuns(warm, runs, () => docsFilter(c, COLLECTION), checkFilter('row form filter')));
      scan.rowForm = await attempt(problems, 'row-form scan', () => queryRuns(warm, runs, () => docsScan(c, COLLECTION), checkScan('row form scan')));
    } finally {
      await c.close();
    }
  }
  for (const [engine, key] of [[s.duck, 'duckdb'], [s.sqlite, 'sqlite']] as const) {
    if (engine === null) continue;
    group[key] = await attempt(problems, `${engine.name} GROUP BY`, () => queryRuns(o.warmups, o.runs, async () => ({ answer: await engine.group() }), checkGroups(`${engine.name} GROUP BY`)));
    filter[key] = await attempt(problems, `${engine.name} filter`, () => queryRuns(o.warmups, o.runs, async () => ({ answer: await engine.filter() }), checkFilter(`${engine.name} filter`)));
    scan[key] = await attempt(problems, `${engine.name} scan`, () => queryRuns(o.warmups, o.runs, async () => ({ answer: await engine.scan() }), checkScan(`${engine.name} scan`)));
  }
  for (const q of [...Object.values(group), ...Object.values(filter), ...Object.values(scan)]) note(q);
  const med = (q: QueryRuns | null): string => (q === null ? '—' : fmtMs([...q.e2eMs].sort((a, b) => a - b)[q.e2eMs.length >> 1]));
  progress(`  GROUP BY: MantisDB ${med(group.mantis)} (engine ${group.mantis?.engineMs?.map((x) => x.toFixed(1)).join('/') ?? '—'} ms), DuckDB ${med(group.duckdb)}, SQLite ${med(group.sqlite)}, row form ${med(group.rowForm)}`);
  progress(`  scan:     MantisDB ${med(scan.mantis)} (engine ${scan.mantis?.engineMs?.map((x) => x.toFixed(1)).join('/') ?? '—'} ms), DuckDB ${med(scan.duckdb)}, SQLite ${med(scan.sqlite)}, row form ${med(scan.rowForm)}`);
  progress(`  count:    MantisDB ${med(filter.mantis)} (engine ${filter.mantis?.engineMs?.map((x) => x.toFixed(1)).join('/') ?? '—'} ms), DuckDB ${med(filter.duckdb)}, SQLite ${med(filter.sqlite)}, row form ${med(filter.rowForm)}`);
  return { rows, moveMs, group, filter, scan };
}

async function diskFigures(s: State, dataDir: string): Promise<DiskFigures> {
  let stats: TableStatsBody | null = null;
  if (s.mantis?.tables) {
    const c = newClient(s.mantis.url);
    stats = await attempt(s.problems, 'MantisDB table stats', () => tableStats(c, TABLE)).finally(() => c.close());
  }
  const duckdbBytes = s.duck === null ? null : await attempt(s.problems, 'DuckDB size', () => s.duck!.diskBytes());
  const sqliteBytes = s.sqlite === null ? null : await attempt(s.problems, 'SQLite size', () => s.sqlite!.diskBytes());
  return {
    rows: s.o.rows,
    columns: (stats?.columns ?? []).map((c) => ({ name: c.name, type: c.type, plainBytes: c.plain_bytes, storedBytes: c.stored_bytes, encodings: c.encodings })),
    statsBytesOnDisk: stats?.bytes_on_disk ?? null,
    tableFilesBytes: s.mantis?.tables ? tableFilesBytes(dataDir) : null,
    deltaRows: stats?.delta_rows ?? null,
    segments: stats?.segments ?? null,
    duckdbBytes,
    sqliteBytes,
  };
}

/** Point lookups: the table's GET by pk, then KV GET of the same row text, same connections and key stream. */
async function lookupPhase(s: State): Promise<{ table: LoopRun | null; kv: LoopRun | null }> {
  const { o, problems, mantis } = s;
  if (mantis === null) return { table: null, kv: null };
  progress(`KV: putting ${fmtRows(o.kvKeys)} rows as values (batches of 1000)`);
  const kvLoaded = await attempt(problems, 'KV load', () =>
    withClients(mantis.url, o.insertClients, (clients) => loadRanges({ from: 0, to: o.kvKeys, batch: 1000, workers: o.insertClients, send: (a, b, w) => kvPutRows(clients[w], a, b) })));
  await waitQuiet(mantis.pid, o.quick ? 3000 : 30_000);
  const run = (what: string, op: (c: Client, k: number) => Promise<void>): Promise<LoopRun | null> =>
    attempt(problems, what, () =>
      withClients(mantis.url, o.connections, (clients) => {
        const keys = clients.map((_, w) => keyStream(o.seed * 1000 + w + 1, o.kvKeys));
        return closedLoop({ workers: o.connections, warmupS: o.warmupS, durationS: o.durationS, op: (w) => op(clients[w], keys[w]()) });
      }));
  progress(`point lookups: ${o.connections} connections, ${o.warmupS} s warm-up + ${o.durationS} s, keys 0..${fmtRows(o.kvKeys)}`);
  const table = mantis.tables ? await run('table lookups', (c, k) => tableGet(c, TABLE, k)) : null;
  const kv = kvLoaded === null ? null : await run('KV lookups', (c, k) => kvGet(c, k));
  for (const [who, r] of [['table lookups', table], ['KV lookups', kv]] as const) {
    if (r !== null && r.errors > 0) problems.push(`${who}: ${r.errors} failed, e.g. ${r.errorExamples.slice(0, 3).join('; ')}`);
  }
  progress(`  table ${fmtRate(table?.opsPerSec)} ops/s, KV ${fmtRate(kv?.opsPerSec)} ops/s`);
  return { table, kv };
}

/** Whether the server serves the table routes (creates the benchmark's table) and the document routes. */
async function probe(url: string, problems: string[]): Promise<{ tables: boolean; docs: boolean }> {
  const c = newClient(url);
  try {
    const tables = (await attempt(problems, 'MantisDB has no working table routes (create table)', () => createTable(c, TABLE))) !== null;
    const docs = (await attempt(problems, 'MantisDB has no working document routes', async () => {
      await docsInsert(c, `${COLLECTION}_probe`, 0, 1);
      dataOf(await call(c, 'DELETE', docsPath(`${COLLECTION}_probe`)), 'drop the probe collection');
    })) !== null;
    return { tables, docs };
  } finally {
    await c.close();
  }
}

function describeSetup(o: Options, s: State, cores: number): string[] {
  return [
    `Rows: ${fmtRows(o.rows)} (k int64 pk, g = k % 100, x uniform 0..999,999, amount 0..9,999, price float64, status 5 values, city 1,000 values, ts timestamp, flag boolean), queries measured at ${scalesFor(o.rows).map(fmtRows).join(' and ')} rows.`,
    `MantisDB: dist/src/main.js --shards ${o.shards} --fsync ${o.fsync}, fresh temp data dir; table "${TABLE}" (primary key k) loaded in ${fmtRows(o.batch)}-row batches, ${o.insertClients} in flight, then POST …/move; row form: the same rows as documents in "${COLLECTION}" (${o.docBatch}-document batches).`,
    `DuckDB ${s.duck?.version ?? '(not opened)'}: file database, threads=${o.duckdbThreads}, same schema with PRIMARY KEY (k), loaded through the appender; SQLite ${s.sqlite?.version ?? '(not opened)'}: file database, journal_mode=WAL, synchronous=NORMAL, k INTEGER PRIMARY KEY, ts as integer µs, ${fmtRows(o.batch)}-row transactions. Both in this process: their times are the call's wall time.`,
    `Queries: SELECT g, sum(amount), count(*) GROUP BY g; SELECT k, x WHERE x > 989999; SELECT count(*), sum(amount) WHERE x > 989999 — MantisDB POST /api/v1/tables/:t/query (engine = stats.took_ms; end to end = this client's wall time over HTTP until the whole answer is in); row form: POST /api/v1/docs/:c/aggregate with $group / $match + $project / $match + $group. ${o.warmups} warm-up + ${o.runs} measured runs, median (the row form past 1M rows: 1 run, no warm-up); every answer checked against the generator.`,
    `Lookups: ${o.connections} connections, closed loop, ${o.warmupS} s warm-up + ${o.durationS} s each, keys uniform in 0..${fmtRows(o.kvKeys)}; KV values are the same row JSON. ${cores} cores shared by the server, the embedded engines and the load.`,
  ];
}

async function main(): Promise<number> {
  let o: Options;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`tables-bench: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const startedAt = new Date();
  const load = loadavg();
  const busyBefore = await waitForQuietMachine(o.waitIdleS, progress, '--wait-idle-s');
  const cores = availableParallelism();
  const problems: string[] = [];
  const tmp = mkdtempSync(join(tmpdir(), 'mantis-tables-bench-'));
  const dataDir = join(tmp, 'data');
  let server: ServerProcess | null = null;
  let stopped: StopOutcome | null = null;
  let duck: EmbeddedEngine | null = null;
  let sqlite: EmbeddedEngine | null = null;
  process.once('SIGINT', () => {
    void (async () => {
      if (server !== null && stopped === null) await stopServer(server);
      rmSync(tmp, { recursive: true, force: true });
    })().finally(() => process.exit(130));
  });

  let results: TablesResults | null = null;
  let complaints: string[] = [];
  try {
    // uniform lookups over 1M keys miss the cache by design: its low-hit-rate warning is not a problem here
    const args = ['--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir, '--log-level', 'warn', '--fsync', o.fsync, '--shards', String(o.shards), '--cache-hit-rate-warn', '0'];
    server = await startServer(`MantisDB --shards ${o.shards}`, SERVER, args, /^MantisDB listening on (http:\/\/\S+)/, 60_000);
    progress(`${server.name} at ${server.url} (pid ${server.pid}), data in ${dataDir}`);
    const routes = await probe(server.url, problems);
    const mantis: Mantis = { url: server.url, pid: server.pid, ...routes };
    duck = await attempt(problems, 'DuckDB open', () => openDuckDB(join(tmp, 'bench.duckdb'), o.duckdbThreads));
    sqlite = await attempt(problems, 'SQLite open', () => openSQLite(join(tmp, 'bench.sqlite')));
    const state: State = { o, problems, mantis, duck, sqlite };

    await waitQuiet(server.pid, 3000);
    const rssEmptyKiB = procStatusKiB(server.pid, 'VmRSS');
    const sampler = new RssSampler(server.pid);
    const loads: Loads = { mantis: [], rowForm: [], duckdb: [], sqlite: [] };
    const scales: ScalePoint[] = [];
    let loaded = 0;
    for (const rows of scalesFor(o.rows)) {
      const moveMs = await loadStep(state, loaded, rows, loads);
      loaded = rows;
      scales.push(await measureStep(state, rows, moveMs));
    }
    const rssLoadedKiB = procStatusKiB(server.pid, 'VmRSS');
    const disk = await diskFigures(state, dataDir);
    const lookup = await lookupPhase(state);
    const peak = sampler.stop();
    results = {
      rows: o.rows,
      scales,
      insert: { batch: o.batch, workers: o.insertClients, mantis: mergeLoads(loads.mantis), rowForm: mergeLoads(loads.rowForm), duckdb: mergeLoads(loads.duckdb), sqlite: mergeLoads(loads.sqlite) },
      disk,
      lookup: { connections: o.connections, keys: o.kvKeys, ...lookup },
      memory: { rssEmptyKiB, rssLoadedKiB, rssPeakKiB: peak.peakRssKiB, benchRssKiB: Math.round(process.memoryUsage().rss / 1024), dataDirBytes: dirBytes(dataDir) },
    };
  } finally {
    if (server !== null) {
      stopped = await stopServer(server);
      complaints = [...server.complaints];
    }
    await duck?.close();
    await sqlite?.close();
    rmSync(tmp, { recursive: true, force: true });
  }
  if (stopped !== null && (stopped.killed || (stopped.code !== 0 && stopped.code !== null))) problems.push(`MantisDB did not stop cleanly: code ${stopped.code}, signal ${stopped.signal}${stopped.killed ? ', SIGKILLed after 15 s' : ''}`);
  if (complaints.length > 0) problems.push(`the server logged ${complaints.length} warning/error line(s); first: ${complaints.slice(0, 3).map((l) => l.slice(0, 300)).join(' | ')}`);
  if (results === null) throw new Error('the run produced no results'); // the try block throws or sets them

  const checks = checkTargets(results);
  const out: string[] = [''];
  out.push(`MantisDB table benchmark — ${startedAt.toISOString()}, ${cores} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}, code ${gitState()}${o.quick ? ', --quick (a smoke run: figures are not meaningful)' : ''}`);
  out.push(`Load average at start ${load.map((x) => x.toFixed(2)).join(' ')}; machine ${busyBefore === null ? '?' : `${(100 * busyBefore).toFixed(0)} %`} busy in the second before${busyBefore !== null && busyBefore > BUSY_SHARE_MAX ? ' — NOT IDLE' : ''}.`);
  out.push(...describeSetup(o, { o, problems, mantis: null, duck, sqlite }, cores));
  out.push('');
  out.push('Times are medians. "engine" is the time inside the server (stats.took_ms) for MantisDB and the call time for the embedded DuckDB and SQLite; "end to end" adds HTTP for MantisDB and its row form.');
  out.push(mainTable(results, checks));
  out.push('');
  if (results.disk !== null && results.disk.columns.length > 0) {
    out.push(`Compression per column, ${fmtRows(results.disk.rows)} rows (GET /api/v1/tables/:t/stats; ${results.disk.segments ?? '?'} segments, ${results.disk.deltaRows ?? '?'} delta rows; stats bytes_on_disk ${fmtBytes(results.disk.statsBytesOnDisk)}, segment files ${fmtBytes(results.disk.tableFilesBytes)}):`);
    out.push(compressionTable(results.disk));
    out.push('');
  }
  out.push(checksTable(checks));
  out.push('');
  out.push('Every run:');
  out.push(...runsLines(results));
  const ins = results.insert;
  out.push(`Loads: MantisDB table ${fmtRate(ins.mantis?.rowsPerSec)} rows/s (batch p50 ${fmtMs(ins.mantis?.batchLatency.p50Ms)}, p99 ${fmtMs(ins.mantis?.batchLatency.p99Ms)}), row form ${fmtRate(ins.rowForm?.rowsPerSec)} docs/s, DuckDB appender ${fmtRate(ins.duckdb?.rowsPerSec)} rows/s, SQLite ${fmtRate(ins.sqlite?.rowsPerSec)} rows/s (the last two in process, no network).`);
  pushProblems(out, problems);

  const file = resultsPath(ROOT, 'tables', startedAt);
  const json = {
    benchmark: 'tables',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    code: gitState(),
    machine: { busyBefore, cores, cpu: cpus()[0]?.model ?? null, totalMemMiB: Math.round(totalmem() / 2 ** 20), loadavg: load, node: process.version },
    options: o,
    versions: { duckdb: duck?.version ?? null, sqlite: sqlite?.version ?? null },
    server: { args: ['--shards', String(o.shards), '--fsync', o.fsync], stop: stopped, complaints },
    results,
    targets: checks,
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
