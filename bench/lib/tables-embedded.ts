// The table benchmark's baselines, both embedded in this process: DuckDB
// (@duckdb/node-api, a file database, 2 threads) and SQLite (better-sqlite3,
// a file database in WAL mode). Each gets the same rows as MantisDB
// (lib/tables-data.ts) in the same schema with the same primary key, and
// answers the same two questions:
//
//   SELECT g, sum(amount), count(*) FROM t GROUP BY g
//   SELECT count(*), sum(amount) FROM t WHERE x > 989999
//   SELECT k, x FROM t WHERE x > 989999          (the rows, 1 % of the table)
//
// Times are wall times of the call in this process: there is no network in
// between, so for these engines "engine time" and "end to end" are one figure.

import { statSync } from 'node:fs';
import { DuckDBInstance, timestampValue, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api';
import Database from 'better-sqlite3';
import { cityAt, columnBlock, gOf, scanOf, STATUSES, tsMicrosOf, X_THRESHOLD, type FilterAnswer, type GroupRow, type ScanAnswer } from './tables-data.js';

export type EngineName = 'DuckDB' | 'SQLite';

export interface EmbeddedEngine {
  readonly name: EngineName;
  readonly version: string;
  /** Appends rows [from, to), committed in transactions of `batch` rows (SQLite) or one appender flush (DuckDB). */
  load(from: number, to: number, batch: number): Promise<void>;
  group(): Promise<GroupRow[]>;
  filter(): Promise<FilterAnswer>;
  /** The matching rows (k, x), read into this process. */
  scan(): Promise<ScanAnswer>;
  /** Checkpoints, then the bytes of the database file(s). */
  diskBytes(): Promise<number>;
  close(): Promise<void>;
}

export const GROUP_SQL = 'SELECT g, sum(amount) AS s, count(*) AS c FROM t GROUP BY g';
export const FILTER_SQL = `SELECT count(*) AS c, sum(amount) AS s FROM t WHERE x > ${X_THRESHOLD}`;
export const SCAN_SQL = `SELECT k, x FROM t WHERE x > ${X_THRESHOLD}`;

const fileSize = (path: string): number => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};

/** Rows between appender flushes: bounds the memory the appender holds. */
const DUCK_CHUNK = 100_000;

class DuckEngine implements EmbeddedEngine {
  readonly name = 'DuckDB';

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    private readonly path: string,
    readonly version: string,
  ) {}

  static async open(path: string, threads: number): Promise<DuckEngine> {
    const instance = await DuckDBInstance.create(path, { threads: String(threads) });
    const conn = await instance.connect();
    await conn.run(
      'CREATE TABLE t (k BIGINT PRIMARY KEY, g BIGINT NOT NULL, x BIGINT NOT NULL, amount BIGINT NOT NULL, price DOUBLE NOT NULL, ' +
        'status VARCHAR NOT NULL, city VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, flag BOOLEAN NOT NULL)',
    );
    const v = await conn.runAndReadAll('SELECT version() AS v');
    return new DuckEngine(instance, conn, path, String(v.getRowObjects()[0]?.v ?? '?'));
  }

  async load(from: number, to: number): Promise<void> {
    const appender = await this.conn.createAppender('t');
    try {
      for (let start = from; start < to; start += DUCK_CHUNK) {
        appendBlock(appender, start, Math.min(to, start + DUCK_CHUNK));
        appender.flushSync();
      }
    } finally {
      appender.closeSync();
    }
  }

  async group(): Promise<GroupRow[]> {
    const r = await this.conn.runAndReadAll(GROUP_SQL);
    return r.getRows().map((row) => ({ g: Number(row[0]), sum: Number(row[1]), count: Number(row[2]) }));
  }

  async filter(): Promise<FilterAnswer> {
    const row = (await this.conn.runAndReadAll(FILTER_SQL)).getRows()[0] ?? [];
    return { count: Number(row[0] ?? 0), sum: Number(row[1] ?? 0) };
  }

  async scan(): Promise<ScanAnswer> {
    const r = await this.conn.runAndReadAll(SCAN_SQL);
    return scanOf(r.getRows());
  }

  async diskBytes(): Promise<number> {
    await this.conn.run('CHECKPOINT');
    return fileSize(this.path) + fileSize(`${this.path}.wal`);
  }

  async close(): Promise<void> {
    this.conn.closeSync();
    this.instance.closeSync();
  }
}

function appendBlock(a: DuckDBAppender, from: number, to: number): void {
  const b = columnBlock(from, to);
  for (let i = 0; i < to - from; i++) {
    const k = from + i;
    a.appendInteger(k); // an INTEGER into a BIGINT column: the appender widens it
    a.appendInteger(gOf(k));
    a.appendInteger(b.x[i]);
    a.appendInteger(b.amount[i]);
    a.appendDouble(b.price[i]);
    a.appendVarchar(STATUSES[b.status[i]]);
    a.appendVarchar(cityAt(b, i));
    a.appendTimestamp(timestampValue(BigInt(tsMicrosOf(k))));
    a.appendBoolean(b.flag[i] === 1);
    a.endRow();
  }
}

class SqliteEngine implements EmbeddedEngine {
  readonly name = 'SQLite';
  readonly version: string;
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;

  constructor(private readonly path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(
      'CREATE TABLE t (k INTEGER PRIMARY KEY, g INTEGER NOT NULL, x INTEGER NOT NULL, amount INTEGER NOT NULL, price REAL NOT NULL, ' +
        'status TEXT NOT NULL, city TEXT NOT NULL, ts INTEGER NOT NULL, flag INTEGER NOT NULL)',
    );
    this.insert = this.db.prepare('INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
    this.version = String((this.db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v);
  }

  async load(from: number, to: number, batch: number): Promise<void> {
    const insert = this.insert;
    const tx = this.db.transaction((start: number, end: number) => {
      const b = columnBlock(start, end);
      for (let i = 0; i < end - start; i++) {
        const k = start + i;
        insert.run(k, gOf(k), b.x[i], b.amount[i], b.price[i], STATUSES[b.status[i]], cityAt(b, i), tsMicrosOf(k), b.flag[i]);
      }
    });
    for (let start = from; start < to; start += batch) {
      tx(start, Math.min(to, start + batch));
      if ((start / batch) % 16 === 15) await new Promise((r) => setImmediate(r)); // let timers (progress, samplers) run
    }
  }

  async group(): Promise<GroupRow[]> {
    const rows = this.db.prepare(GROUP_SQL).raw().all() as number[][];
    return rows.map((r) => ({ g: Number(r[0]), sum: Number(r[1]), count: Number(r[2]) }));
  }

  async filter(): Promise<FilterAnswer> {
    const r = this.db.prepare(FILTER_SQL).raw().get() as number[];
    return { count: Number(r[0]), sum: Number(r[1] ?? 0) };
  }

  async scan(): Promise<ScanAnswer> {
    return scanOf(this.db.prepare(SCAN_SQL).raw().all() as number[][]);
  }

  async diskBytes(): Promise<number> {
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    return fileSize(this.path) + fileSize(`${this.path}-wal`);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

export function openDuckDB(path: string, threads: number): Promise<EmbeddedEngine> {
  return DuckEngine.open(path, threads);
}

export function openSQLite(path: string): Promise<EmbeddedEngine> {
  return Promise.resolve(new SqliteEngine(path));
}
