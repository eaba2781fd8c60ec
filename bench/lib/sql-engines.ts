// The SQL benchmark's baselines: DuckDB (@duckdb/node-api, a file database,
// 2 threads) and SQLite (better-sqlite3, WAL) embedded in this process, and
// PostgreSQL in a throwaway cluster with its default configuration
// (lib/pgbench.ts startTempPostgres), driven by `pg` over TCP from this
// process. Each gets the same rows (lib/sql-tpch.ts) and runs the same query
// text (SQLite: with `date '…'` literals as text, its only change).
//
// Loads (not the point of this benchmark, but timed): the TPC-H tables go
// through CSV files made once by the generator — DuckDB's COPY, PostgreSQL's
// \copy through psql (primary keys added after the load, then VACUUM
// ANALYZE) — and SQLite's prepared INSERTs in 10,000-row transactions straight
// from the generator. The GROUP BY table is made by each engine's own SQL
// from the same formula (INSERT … SELECT over a series).
//
// Times are wall times in this process: the call for the embedded engines,
// the round trip over the protocol for PostgreSQL.

import { spawn } from 'node:child_process';
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { TempPostgres } from './pgbench.js';
import { createSql, csvRows, forSqlite, G_SELECT_EXPR, G_TABLE, maxRowsPerUnit, sqliteRow, tableDef, tpchBlock, unitsOf, type TpchSpec } from './sql-tpch.js';

export type Cell = number | string | null;
export type Answer = { readonly columns: string[]; readonly rows: Cell[][] };
export type EngineName = 'DuckDB' | 'SQLite' | 'PostgreSQL';

export interface SqlEngine {
  readonly name: EngineName;
  readonly version: string;
  /** Creates and fills the TPC-H tables; `csvDir` holds <table>.csv for each (see writeCsv). */
  loadTpch(spec: TpchSpec, tables: readonly string[], csvDir: string): Promise<void>;
  /** Creates and fills the GROUP BY table g with ids 0..rows-1. */
  loadG(rows: number): Promise<void>;
  query(sql: string): Promise<Answer>;
  close(): Promise<void>;
}

const NUMERIC_TEXT = /^-?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const DATE_TEXT = /^(\d{4}-\d{2}-\d{2})(?:[T ]00:00:00(?:\.0+)?(?:Z|[+-]00(?::?00)?)?)?$/;

/** One cell as a number (numbers, bigints, numeric text), a "YYYY-MM-DD" date, other text, or null. */
export function normCell(v: unknown): Cell {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (v instanceof Date) return v.toISOString().slice(0, 10);
  if (typeof v === 'string') {
    if (NUMERIC_TEXT.test(v)) return Number(v);
    const d = DATE_TEXT.exec(v);
    return d === null ? v : d[1];
  }
  if (typeof v === 'object' && typeof (v as { toDouble?: unknown }).toDouble === 'function') return (v as { toDouble: () => number }).toDouble();
  return normCell(String(v));
}

/** <table>.csv in `dir` for each table, from the generator; returns the rows written per table. */
export function writeCsv(spec: TpchSpec, tables: readonly string[], dir: string, onProgress?: (table: string, rows: number) => void): Record<string, number> {
  const written: Record<string, number> = {};
  for (const table of tables) {
    const def = tableDef(table);
    const fd = openSync(join(dir, `${table}.csv`), 'w');
    let rows = 0;
    try {
      const units = unitsOf(spec, table);
      const step = Math.max(1, Math.floor(20_000 / maxRowsPerUnit(table)));
      for (let from = 0; from < units; from += step) {
        const b = tpchBlock(spec, table, from, Math.min(units, from + step));
        writeSync(fd, csvRows(def, b));
        rows += b.rows;
      }
    } finally {
      closeSync(fd);
    }
    written[table] = rows;
    onProgress?.(table, rows);
  }
  return written;
}

const sqlString = (s: string): string => `'${s.replaceAll("'", "''")}'`;

// ---- DuckDB ----

class DuckEngine implements SqlEngine {
  readonly name = 'DuckDB';

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    readonly version: string,
  ) {}

  static async open(path: string, threads: number): Promise<DuckEngine> {
    const instance = await DuckDBInstance.create(path, { threads: String(threads) });
    const conn = await instance.connect();
    const v = await conn.runAndReadAll('SELECT version() AS v');
    return new DuckEngine(instance, conn, String(v.getRowObjects()[0]?.v ?? '?'));
  }

  async loadTpch(_spec: TpchSpec, tables: readonly string[], csvDir: string): Promise<void> {
    for (const table of tables) {
      const def = tableDef(table);
      await this.conn.run(`DROP TABLE IF EXISTS ${table}`);
      await this.conn.run(createSql(def, 'duckdb'));
      await this.conn.run(`COPY ${table} FROM ${sqlString(join(csvDir, `${table}.csv`))} (FORMAT csv, HEADER false, DELIMITER ',')`);
    }
    await this.conn.run('CHECKPOINT');
  }

  async loadG(rows: number): Promise<void> {
    await this.conn.run('DROP TABLE IF EXISTS g');
    await this.conn.run(createSql(G_TABLE, 'duckdb'));
    await this.conn.run(`INSERT INTO g SELECT ${G_SELECT_EXPR} FROM range(${rows}) t(i)`);
    await this.conn.run('CHECKPOINT');
  }

  async query(sql: string): Promise<Answer> {
    const r = await this.conn.runAndReadAll(sql);
    return { columns: r.columnNames(), rows: r.getRowsJson().map((row) => row.map(normCell)) };
  }

  async close(): Promise<void> {
    this.conn.closeSync();
    this.instance.closeSync();
  }
}

// ---- SQLite ----

/** Rows per SQLite transaction during a load. */
const SQLITE_TXN_ROWS = 10_000;

class SqliteEngine implements SqlEngine {
  readonly name = 'SQLite';
  readonly version: string;
  private readonly db: Database.Database;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.version = String((this.db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v);
  }

  async loadTpch(spec: TpchSpec, tables: readonly string[]): Promise<void> {
    for (const table of tables) {
      const def = tableDef(table);
      this.db.exec(`DROP TABLE IF EXISTS ${table}`);
      this.db.exec(createSql(def, 'sqlite'));
      const insert = this.db.prepare(`INSERT INTO ${table} VALUES (${def.columns.map(() => '?').join(', ')})`);
      const units = unitsOf(spec, table);
      const step = Math.max(1, Math.floor(SQLITE_TXN_ROWS / maxRowsPerUnit(table)));
      const tx = this.db.transaction((from: number, to: number) => {
        const b = tpchBlock(spec, table, from, to);
        for (let i = 0; i < b.rows; i++) insert.run(sqliteRow(def, b, i));
      });
      for (let from = 0, n = 0; from < units; from += step, n++) {
        tx(from, Math.min(units, from + step));
        if (n % 16 === 15) await new Promise((r) => setImmediate(r)); // let timers run
      }
    }
    this.db.exec('ANALYZE');
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  async loadG(rows: number): Promise<void> {
    this.db.exec('DROP TABLE IF EXISTS g');
    // id INTEGER PRIMARY KEY: the rowid, SQLite's own primary-key form
    this.db.exec('CREATE TABLE g (id INTEGER PRIMARY KEY, k INTEGER NOT NULL, v INTEGER NOT NULL)');
    this.db.exec(`INSERT INTO g WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < ${rows - 1}) SELECT ${G_SELECT_EXPR} FROM s`);
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  async query(sql: string): Promise<Answer> {
    const stmt = this.db.prepare(forSqlite(sql));
    const columns = stmt.columns().map((c) => c.name);
    return { columns, rows: (stmt.raw().all() as unknown[][]).map((row) => row.map(normCell)) };
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

// ---- PostgreSQL ----

/** Dates as their text, not JS Dates in the local time zone. */
pg.types.setTypeParser(1082, (v: string) => v);

/** libpq's settings for a temp cluster (without the caller's own PG* variables). */
export function pgEnv(cluster: TempPostgres): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) env[k] = v;
  return { ...env, PGHOST: cluster.host, PGPORT: String(cluster.port), PGUSER: cluster.user, PGDATABASE: cluster.database, PGCONNECT_TIMEOUT: '10' };
}

/** Runs a PostgreSQL client tool (psql, pgbench) against the cluster; stdout, or a throw with its output. */
export function pgTool(cluster: TempPostgres, tool: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { cwd: cluster.dir, env: pgEnv(cluster), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${tool} ${args.slice(0, 6).join(' ')} failed (${signal ?? `exit ${code}`}): ${`${out}\n${err}`.trim().split('\n').slice(-8).join(' | ')}`));
    });
  });
}

class PgEngine implements SqlEngine {
  readonly name = 'PostgreSQL';

  private constructor(
    private readonly cluster: TempPostgres,
    private readonly client: pg.Client,
    readonly version: string,
  ) {}

  static async open(cluster: TempPostgres): Promise<PgEngine> {
    const client = new pg.Client({ host: cluster.host, port: cluster.port, user: cluster.user, database: cluster.database });
    await client.connect();
    const v = await client.query<{ v: string }>('SHOW server_version');
    return new PgEngine(cluster, client, `PostgreSQL ${v.rows[0]?.v ?? cluster.install.version}`);
  }

  async loadTpch(_spec: TpchSpec, tables: readonly string[], csvDir: string): Promise<void> {
    for (const table of tables) {
      const def = tableDef(table);
      await this.client.query(`DROP TABLE IF EXISTS ${table}`);
      await this.client.query(createSql(def, 'postgres', false));
      await pgTool(this.cluster, this.cluster.install.tools.psql, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', `\\copy ${table} FROM ${sqlString(join(csvDir, `${table}.csv`))} WITH (FORMAT csv)`], 3_600_000);
      await this.client.query(`ALTER TABLE ${table} ADD PRIMARY KEY (${def.primaryKey.join(', ')})`);
      await this.client.query(`VACUUM ANALYZE ${table}`);
    }
  }

  async loadG(rows: number): Promise<void> {
    await this.client.query('DROP TABLE IF EXISTS g');
    await this.client.query(createSql(G_TABLE, 'postgres', false));
    await this.client.query(`INSERT INTO g SELECT ${G_SELECT_EXPR} FROM generate_series(0::bigint, ${rows - 1}::bigint) AS s(i)`);
    await this.client.query('ALTER TABLE g ADD PRIMARY KEY (id)');
    await this.client.query('VACUUM ANALYZE g');
  }

  async query(sql: string): Promise<Answer> {
    const r = await this.client.query({ text: sql, rowMode: 'array' });
    return { columns: r.fields.map((f) => f.name), rows: (r.rows as unknown[][]).map((row) => row.map(normCell)) };
  }

  /** Settings that shape its query plans, as the server reports them. */
  async settings(): Promise<Record<string, string>> {
    const names = ['shared_buffers', 'work_mem', 'max_parallel_workers_per_gather', 'effective_cache_size', 'jit'];
    const r = await this.client.query<{ name: string; setting: string }>(`SELECT name, current_setting(name) AS setting FROM pg_settings WHERE name = ANY($1)`, [names]);
    return Object.fromEntries(r.rows.map((x) => [x.name, x.setting]));
  }

  async close(): Promise<void> {
    await this.client.end();
  }
}

export function openDuckDB(path: string, threads: number): Promise<SqlEngine> {
  return DuckEngine.open(path, threads);
}

export function openSQLite(path: string): Promise<SqlEngine> {
  return Promise.resolve(new SqliteEngine(path));
}

export type PgSqlEngine = SqlEngine & { settings(): Promise<Record<string, string>> };

export function openPostgres(cluster: TempPostgres): Promise<PgSqlEngine> {
  return PgEngine.open(cluster);
}
