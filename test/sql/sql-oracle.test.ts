// Differential test of our SQL (POST /api/v1/sql) against real PostgreSQL as
// the oracle. The same seeded data (test/sql/oracle-gen.ts) goes into a
// throwaway PostgreSQL cluster (C locale: text sorts by code point, as ours) and
// into a real MantisDB server, through SQL; then every generated case runs on
// both and the answers must agree:
// - rows identical: in order when the case's ORDER BY fixes the order
//   completely, else as multisets; integers exactly, other numbers within a
//   relative 1e-9 (our numeric is a double, PostgreSQL's is exact);
// - when PostgreSQL errors, we error too, with the same SQLSTATE.
// One `it` per family; it fails with the first mismatches (seed, SQL, both answers).
//
// Knobs (environment):
//   SQL_ORACLE_CASE=joins:1000123   run only that case (the seed a failure prints)
//   SQL_ORACLE_SCALE=0.2            run a fraction (or a multiple) of each family
//   SQL_ORACLE_DUMP=/tmp/dir        write every mismatch as <family>.json there
//   SQL_ORACLE_SELF=1               no MantisDB: compare PostgreSQL with itself (the rows
//                                   inserted in reverse order, other plans) to check that
//                                   every case is valid and deterministic
//   SQL_ORACLE_DATA_SEED=n          another data set

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPostgres, startTempPostgres, type TempPostgres } from '../../bench/lib/pgbench.js';
import { cleanup, startServer, type ServerProcess } from '../helpers/server-process.js';
import { FAMILIES, FAMILY_SIZES, generateCase, generateData, generateFamily, loadStatements, type Case, type Cell, type Family } from './oracle-gen.js';

afterAll(cleanup);

const install = findPostgres();
const SKIP = install === null ? ' — skipped: PostgreSQL not installed (apt-get install postgresql)' : '';
const SELF = process.env.SQL_ORACLE_SELF === '1';
const SCALE = Number(process.env.SQL_ORACLE_SCALE ?? '1');
const ONLY = process.env.SQL_ORACLE_CASE;
const DUMP = process.env.SQL_ORACLE_DUMP;
const DATA_SEED = Number(process.env.SQL_ORACLE_DATA_SEED ?? '20240611');
const CONCURRENCY = 4;
const REPORT_MAX = 10;
const REL_TOLERANCE = 1e-9;

// ---------------------------------------------------------------------------
// Answers

type Outcome = { readonly ok: true; readonly width: number; readonly rows: Cell[][] } | { readonly ok: false; readonly sqlstate: string; readonly message: string };
type Side = { run(sql: string): Promise<Outcome> };

/** int8 as a number while exact, else its decimal string (our answer's form); numeric as a double. */
const PG_PARSERS: Record<number, (text: string) => Cell> = {
  20: (v) => (Number.isSafeInteger(Number(v)) ? Number(v) : v),
  1700: (v) => Number.parseFloat(v),
};
const pgTypes = {
  getTypeParser: ((oid: number, format?: string) => PG_PARSERS[oid] ?? pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

function pgSide(pool: pg.Pool): Side {
  return {
    async run(sql) {
      try {
        const res = await pool.query<Cell[]>({ text: sql, rowMode: 'array' });
        return { ok: true, width: res.fields.length, rows: res.rows };
      } catch (e) {
        const err = e as { code?: string; message?: string };
        return { ok: false, sqlstate: err.code ?? 'NO_SQLSTATE', message: err.message ?? String(e) };
      }
    },
  };
}

type OurAnswer = { success: boolean; data?: { columns?: unknown[]; rows?: Cell[][] }; error?: { code?: string; message?: string; sqlstate?: string } };

function mantisSide(url: string, agent: Agent): Side {
  return {
    async run(sql) {
      let res: Awaited<ReturnType<typeof request>>;
      let text: string;
      try {
        res = await request(`${url}/api/v1/sql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: sql }), dispatcher: agent });
        text = await res.body.text();
      } catch (e) {
        // The server died or hung: every later case says so too.
        return { ok: false, sqlstate: 'TRANSPORT', message: (e as Error).message };
      }
      let json: OurAnswer;
      try {
        json = JSON.parse(text) as OurAnswer;
      } catch {
        return { ok: false, sqlstate: `HTTP ${res.statusCode}`, message: text.slice(0, 300) };
      }
      if (json.success && Array.isArray(json.data?.rows)) return { ok: true, width: json.data.columns?.length ?? -1, rows: json.data.rows };
      const e = json.error ?? {};
      return { ok: false, sqlstate: e.sqlstate ?? `HTTP ${res.statusCode} ${e.code ?? ''}`.trim(), message: e.message ?? text.slice(0, 300) };
    },
  };
}

// ---------------------------------------------------------------------------
// Comparison

function isNumericText(v: Cell): v is string {
  return typeof v === 'string' && /^-?\d+(\.\d+)?(e[-+]?\d+)?$/i.test(v);
}

function numbersEqual(p: number, o: number): boolean {
  if (Number.isInteger(p) && Number.isInteger(o) && Math.abs(p) <= Number.MAX_SAFE_INTEGER && Math.abs(o) <= Number.MAX_SAFE_INTEGER) return p === o;
  return Math.abs(p - o) <= REL_TOLERANCE * Math.max(1, Math.abs(p), Math.abs(o));
}

function cellsEqual(p: Cell, o: Cell): boolean {
  if (p === null || o === null) return p === o;
  if (typeof p === 'number' && typeof o === 'number') return numbersEqual(p, o);
  // A value past 2^53: a decimal string on one side, a (rounded) number on the other (numeric is a double here).
  if (typeof p === 'number' && isNumericText(o) && Math.abs(p) > Number.MAX_SAFE_INTEGER) return numbersEqual(p, Number(o));
  if (typeof o === 'number' && isNumericText(p) && Math.abs(o) > Number.MAX_SAFE_INTEGER) return numbersEqual(Number(p), o);
  return p === o;
}

function rowsEqual(p: readonly Cell[], o: readonly Cell[]): boolean {
  return p.length === o.length && p.every((v, i) => cellsEqual(v, o[i]));
}

/** A sort key that ignores float noise: non-integers rounded to 10 significant digits, -0 as 0. */
function rowKey(row: readonly Cell[]): string {
  return JSON.stringify(row.map((v) => (typeof v === 'number' && !Number.isSafeInteger(v) ? Number(v.toPrecision(10)) : v)));
}

function sortRows(rows: readonly Cell[][]): Cell[][] {
  return rows
    .map((row) => [rowKey(row), row] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, row]) => row);
}

/** Rows of `a` not matched in `b` (multiset difference by key). */
function missing(a: readonly Cell[][], b: readonly Cell[][]): Cell[][] {
  const counts = new Map<string, number>();
  for (const row of b) counts.set(rowKey(row), (counts.get(rowKey(row)) ?? 0) + 1);
  const out: Cell[][] = [];
  for (const row of a) {
    const k = rowKey(row);
    const n = counts.get(k) ?? 0;
    if (n > 0) counts.set(k, n - 1);
    else out.push(row);
  }
  return out;
}

const show = (rows: readonly Cell[][], max = 6): string => rows.slice(0, max).map((r) => JSON.stringify(r)).join(' ') + (rows.length > max ? ` … (${rows.length})` : '');

function sameRows(ordered: boolean, p: readonly Cell[][], o: readonly Cell[][]): boolean {
  if (p.length !== o.length) return false;
  if (ordered) return p.every((row, i) => rowsEqual(row, o[i]));
  const sp = sortRows(p);
  const so = sortRows(o);
  return sp.every((row, i) => rowsEqual(row, so[i]));
}

/** Why the two answers differ, or null when they agree. */
function compareOutcomes(c: Pick<Case, 'ordered'>, p: Outcome, o: Outcome): string | null {
  if (!p.ok) {
    if (o.ok) return `PostgreSQL fails with ${p.sqlstate} (${p.message}); we answer ${o.rows.length} rows`;
    return o.sqlstate === p.sqlstate ? null : `SQLSTATE: PostgreSQL ${p.sqlstate} (${p.message}); ours ${o.sqlstate} (${o.message})`;
  }
  if (!o.ok) return `we fail with ${o.sqlstate}: ${o.message}`;
  if (p.width !== o.width) return `column count: PostgreSQL ${p.width}, ours ${o.width}`;
  const ragged = o.rows.find((row) => !Array.isArray(row) || row.length !== o.width);
  if (ragged !== undefined) return `a row of ours has not ${o.width} cells: ${JSON.stringify(ragged)}`;
  if (!sameRows(c.ordered, p.rows, o.rows)) {
    const onlyP = missing(p.rows, o.rows);
    const onlyO = missing(o.rows, p.rows);
    const counts = p.rows.length !== o.rows.length ? `row count: PostgreSQL ${p.rows.length}, ours ${o.rows.length}; ` : '';
    if (onlyP.length === 0 && onlyO.length === 0) {
      const i = p.rows.findIndex((r, k) => !rowsEqual(r, o.rows[k]));
      return `${counts}same rows, different order (first at row ${i}: PostgreSQL ${JSON.stringify(p.rows[i])}, ours ${JSON.stringify(o.rows[i])})`;
    }
    return `${counts}only in PostgreSQL: ${show(onlyP) || '-'}; only in ours: ${show(onlyO) || '-'}`;
  }
  return null;
}

// ---------------------------------------------------------------------------
// Running a family

type Mismatch = { family: Family; seed: number; sql: string; ordered: boolean; why: string; pg: Outcome; ours: Outcome };
type FamilyResult = { cases: number; mismatches: Mismatch[]; pgErrors: number; pgErrorCases: { seed: number; sql: string; error: string }[]; empty: number; rows: number; ms: number };

async function runCases(cases: readonly Case[], pgs: Side, ours: Side): Promise<FamilyResult> {
  const started = performance.now();
  const mismatches: Mismatch[] = [];
  let pgErrors = 0;
  const pgErrorCases: FamilyResult['pgErrorCases'] = [];
  let empty = 0;
  let rows = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < cases.length) {
      const c = cases[next++];
      const [p, o] = await Promise.all([pgs.run(c.sql), ours.run(c.sql)]);
      if (p.ok) {
        rows += p.rows.length;
        if (p.rows.length === 0) empty++;
      } else {
        pgErrors++;
        pgErrorCases.push({ seed: c.seed, sql: c.sql, error: `${p.sqlstate} ${p.message}` });
      }
      const why = compareOutcomes(c, p, o);
      if (why !== null) mismatches.push({ family: c.family, seed: c.seed, sql: c.sql, ordered: c.ordered, why, pg: p, ours: o });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  mismatches.sort((a, b) => a.seed - b.seed);
  pgErrorCases.sort((a, b) => a.seed - b.seed);
  return { cases: cases.length, mismatches, pgErrors, pgErrorCases, empty, rows, ms: performance.now() - started };
}

function describeOutcome(o: Outcome): string {
  return o.ok ? `${o.rows.length} rows ${show(o.rows, 8)}` : `error ${o.sqlstate}: ${o.message}`;
}

function report(family: Family, r: FamilyResult): string {
  const lines = [`${family}: ${r.mismatches.length} of ${r.cases} cases disagree with PostgreSQL (first ${Math.min(REPORT_MAX, r.mismatches.length)}):`];
  r.mismatches.slice(0, REPORT_MAX).forEach((m, i) => {
    lines.push(
      `#${i + 1} seed ${m.seed} (SQL_ORACLE_CASE=${m.family}:${m.seed})${m.ordered ? ' [ordered]' : ''}`,
      `   SQL:  ${m.sql}`,
      `   why:  ${m.why}`,
      `   PG:   ${describeOutcome(m.pg)}`,
      `   ours: ${describeOutcome(m.ours)}`,
    );
  });
  return lines.join('\n');
}

function casesFor(family: Family): Case[] {
  if (ONLY !== undefined) {
    const [f, seed] = ONLY.split(':');
    return f === family ? [generateCase(family, Number(seed))] : [];
  }
  return generateFamily(family, Math.max(1, Math.round(FAMILY_SIZES[family] * SCALE)));
}

// ---------------------------------------------------------------------------
// The test

describe.skipIf(install === null)(`SQL answers agree with PostgreSQL${SELF ? ' (self-check: PostgreSQL against itself)' : ''}${SKIP}`, () => {
  let cluster: TempPostgres | null = null;
  let server: ServerProcess | null = null;
  let agent: Agent | null = null;
  const pools: pg.Pool[] = [];
  let pgs: Side;
  let ours: Side;

  beforeAll(async () => {
    cluster = await startTempPostgres({ install, serverSettings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } });
    const conn = { host: cluster.host, port: cluster.port, user: cluster.user, database: cluster.database, types: pgTypes, max: CONCURRENCY };
    const oracle = new pg.Pool({ ...conn, options: '-c statement_timeout=10000' });
    pools.push(oracle);
    const collate = await oracle.query<{ c: string }>('SELECT datcollate AS c FROM pg_database WHERE datname = current_database()');
    expect(collate.rows[0].c, 'the cluster must sort text by code point (initdb --no-locale)').toBe('C');
    const data = generateData(DATA_SEED);
    for (const stmt of loadStatements(data)) await oracle.query(stmt);
    await oracle.query('ANALYZE');
    pgs = pgSide(oracle);

    if (SELF) {
      // The same rows inserted in reverse order, in another schema, planned differently.
      await oracle.query('CREATE SCHEMA rev');
      const loader = await oracle.connect();
      try {
        await loader.query('SET search_path = rev');
        for (const stmt of loadStatements(data, { reverse: true })) await loader.query(stmt);
        await loader.query('ANALYZE');
      } finally {
        loader.release();
      }
      const other = new pg.Pool({
        ...conn,
        options: '-c search_path=rev -c statement_timeout=10000 -c enable_hashjoin=off -c enable_hashagg=off -c enable_indexscan=off -c enable_bitmapscan=off -c work_mem=64kB',
      });
      pools.push(other);
      ours = pgSide(other);
      return;
    }

    server = await startServer({ shards: 2, fsync: 'none' });
    agent = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 60_000, headersTimeout: 30_000, bodyTimeout: 30_000 });
    ours = mantisSide(server.url, agent);
    for (const stmt of loadStatements(data)) {
      const r = await ours.run(stmt);
      if (!r.ok) throw new Error(`loading the data into MantisDB failed: ${r.sqlstate} ${r.message}\n  ${stmt.slice(0, 300)}`);
    }
  });

  afterAll(async () => {
    for (const p of pools) await p.end();
    await agent?.close();
    await cluster?.stop();
  });

  for (const family of FAMILIES) {
    const cases = casesFor(family);
    if (cases.length === 0) continue;
    it(`${family}: ${cases.length} generated cases agree with PostgreSQL`, { timeout: 300_000 }, async () => {
      const r = await runCases(cases, pgs, ours);
      const expectErrors = family === 'errors' ? ` (PostgreSQL errors: ${r.pgErrors})` : r.pgErrors > 0 ? ` (PostgreSQL errors in a family meant to be valid: ${r.pgErrors})` : '';
      console.log(`[sql-oracle] ${family}: ${r.cases} cases, ${r.mismatches.length} mismatches, ${(r.ms / 1000).toFixed(1)} s; PostgreSQL: ${r.rows} rows, ${r.empty} empty answers${expectErrors}`);
      if (DUMP !== undefined) {
        mkdirSync(DUMP, { recursive: true });
        writeFileSync(join(DUMP, `${family}.json`), JSON.stringify({ ...r, mismatches: r.mismatches }, null, 1));
      }
      if (r.mismatches.length > 0) expect.fail(report(family, r));
      if (SELF) {
        // The self-check also proves the generator: only the errors family may make PostgreSQL fail, and it always must.
        const wrong = family === 'errors' ? r.cases - r.pgErrors : r.pgErrors;
        const list = family === 'errors' ? 'cases PostgreSQL accepted' : r.pgErrorCases.slice(0, REPORT_MAX).map((e) => `seed ${e.seed}: ${e.error}\n   ${e.sql}`).join('\n');
        expect(wrong, `${family}: ${wrong} ${family === 'errors' ? list : `PostgreSQL errors:\n${list}`}`).toBe(0);
      }
    });
  }
});
