// MantisDB's side of the SQL benchmark, over HTTP (undici, one keep-alive
// connection per client), in the usual envelope { success, data } /
// { success: false, error: { code, message, sqlstate } }:
//
//   POST /api/v1/sql                 {"query","params"?} → data {command, columns:[{name,type}], rows:[[…]], row_count}, meta {took_ms, exec_ms, …}
//   POST /api/v1/tables/:t/rows      the batch load (up to 10,000 rows), lib/tables-http.ts
//   POST /api/v1/tables/:t/move      the delta into column segments
//   GET  /api/v1/tables/:t/stats     to wait until no delta row is left
//
// Tables are created with SQL (CREATE TABLE … PRIMARY KEY), then filled
// through the tables API, whose rows are JSON objects (decimals as float8
// numbers, dates as RFC 3339 at midnight UTC). The engine's own time of a
// query comes from EXPLAIN (ANALYZE, FORMAT JSON): one row, one column
// "QUERY PLAN", a JSON text like PostgreSQL's [{"Plan", "Planning Time",
// "Execution Time"}]; end to end is this client's wall time until the whole
// answer is in.

import type { Client } from 'undici';
import { call, dataOf } from './docs-http.js';
import { normCell, type Answer } from './sql-engines.js';
import { insertRows, moveTable, tableStats } from './tables-http.js';
import { loadRanges, type LoadRun } from './tables-phases.js';
import { createSql, gBlock, G_TABLE, jsonRows, maxRowsPerUnit, tableDef, tpchBlock, unitsOf, type Block, type TableDef, type TpchSpec } from './sql-tpch.js';

export const SQL_PATH = '/api/v1/sql';

/** The answer's columns and rows, whatever of the likely shapes it has: columns as names or {name}; rows as arrays or objects. */
export function parseSqlData(data: unknown): Answer & { readonly raw: unknown } {
  const d = (Array.isArray(data) ? { rows: data } : data) as { columns?: unknown; fields?: unknown; rows?: unknown } | null;
  if (d === null || typeof d !== 'object') throw new Error(`unexpected SQL answer ${JSON.stringify(data).slice(0, 200)}`);
  const cols = (Array.isArray(d.columns) ? d.columns : Array.isArray(d.fields) ? d.fields : []) as unknown[];
  let columns = cols.map((c) => (typeof c === 'string' ? c : String((c as { name?: unknown }).name)));
  const rawRows = Array.isArray(d.rows) ? (d.rows as unknown[]) : [];
  if (columns.length === 0 && rawRows.length > 0 && !Array.isArray(rawRows[0]) && typeof rawRows[0] === 'object') columns = Object.keys(rawRows[0] as object);
  const rows = rawRows.map((r) => (Array.isArray(r) ? r : columns.map((c) => (r as Record<string, unknown>)[c])).map(normCell));
  return { columns, rows, raw: data };
}

/** `meta` holds the route's own clocks (took_ms, parse_ms, plan_ms, exec_ms) when it sends them. */
export type SqlReply = { readonly answer: Answer; readonly e2eMs: number; readonly data: unknown; readonly meta: Record<string, unknown> | null };

/** One statement; throws with the error code, SQLSTATE and message when it fails. */
export async function sql(client: Client, text: string, params?: readonly unknown[]): Promise<SqlReply> {
  const body = JSON.stringify(params === undefined ? { query: text } : { query: text, params });
  const t0 = performance.now();
  const reply = await call(client, 'POST', SQL_PATH, body);
  const e2eMs = performance.now() - t0;
  let data: unknown;
  try {
    data = dataOf(reply, 'SQL');
  } catch (e) {
    let sqlstate = '';
    try {
      const s = (JSON.parse(reply.text) as { error?: { sqlstate?: unknown } }).error?.sqlstate;
      if (s !== undefined) sqlstate = ` [SQLSTATE ${String(s)}]`;
    } catch {
      // not JSON: dataOf's message has the text
    }
    throw new Error(`${(e as Error).message}${sqlstate}`);
  }
  let meta: Record<string, unknown> | null = null;
  try {
    const m = (JSON.parse(reply.text) as { meta?: unknown }).meta;
    if (m !== null && typeof m === 'object') meta = m as Record<string, unknown>;
  } catch {
    // dataOf parsed it already
  }
  return { answer: parseSqlData(data), e2eMs, data, meta };
}

/** "Execution Time" (ms) of EXPLAIN (ANALYZE, FORMAT JSON) <query>. */
export async function explainAnalyzeMs(client: Client, query: string): Promise<{ executionMs: number; planningMs: number | null }> {
  const { answer, data } = await sql(client, `EXPLAIN (ANALYZE, FORMAT JSON) ${query}`);
  let cell: unknown = answer.rows[0]?.[0];
  // the cell went through normCell (text stays text); an already-parsed plan arrives as the raw data
  if (typeof cell !== 'string') cell = (data as { rows?: unknown[][] } | null)?.rows?.[0]?.[0] ?? (data as { rows?: Record<string, unknown>[] } | null)?.rows?.[0]?.['QUERY PLAN'];
  const plan = typeof cell === 'string' ? (JSON.parse(cell) as unknown) : cell;
  const top = (Array.isArray(plan) ? plan[0] : plan) as { 'Execution Time'?: unknown; 'Planning Time'?: unknown } | undefined;
  const ms = top?.['Execution Time'];
  if (typeof ms !== 'number') throw new Error(`EXPLAIN answer has no "Execution Time": ${JSON.stringify(plan).slice(0, 200)}`);
  return { executionMs: ms, planningMs: typeof top?.['Planning Time'] === 'number' ? (top['Planning Time'] as number) : null };
}

/** DROP TABLE IF EXISTS (errors ignored: a fresh server has nothing to drop), then CREATE TABLE with the primary key. */
export async function createSqlTable(client: Client, def: TableDef): Promise<string> {
  await sql(client, `DROP TABLE IF EXISTS ${def.name}`).catch(() => undefined);
  const text = createSql(def, 'mantis');
  await sql(client, text).catch((e: unknown) => {
    throw new Error(`${text}: ${(e as Error).message}`);
  });
  return text;
}

const rowsBodyOf = (def: TableDef, b: Block, from: number, to: number): string => `{"rows":[${jsonRows(def, b, from, to)}],"on_conflict":"error"}`;

/** Sends a block in requests of at most `batch` rows, one after another on this client. */
async function sendBlock(client: Client, def: TableDef, b: Block, batch: number): Promise<void> {
  for (let i = 0; i < b.rows; i += batch) {
    const end = Math.min(b.rows, i + batch);
    await insertRows(client, def.name, rowsBodyOf(def, b, i, end), end - i);
  }
}

/**
 * Loads a TPC-H table (or g with `spec` null and `gRows`) through the rows route, `clients.length`
 * requests in flight, then moves the delta into segments.
 */
export async function loadTable(clients: readonly Client[], table: string, spec: TpchSpec | null, gRows: number, batch: number, onProgress?: (n: number) => void): Promise<LoadRun> {
  const def = table === 'g' ? G_TABLE : tableDef(table);
  const units = spec === null ? gRows : unitsOf(spec, table);
  // lineitem: ranges of orders of about `batch` lines on average (4 per order), split when a range makes more
  const unitBatch = table === 'lineitem' ? Math.max(1, Math.floor(batch / 4)) : Math.max(1, Math.floor(batch / maxRowsPerUnit(table)));
  const run = await loadRanges({
    from: 0,
    to: units,
    batch: unitBatch,
    workers: clients.length,
    send: (a, b, w) => sendBlock(clients[w], def, spec === null ? gBlock(a, b) : tpchBlock(spec, table, a, b), batch),
    onProgress,
  });
  await moveAndWait(clients[0], table);
  return run;
}

/** POST …/move until the stats show no delta row (10 minutes at most). */
export async function moveAndWait(client: Client, table: string): Promise<void> {
  await moveTable(client, table);
  let stats = await tableStats(client, table);
  const deadline = performance.now() + 600_000;
  while (stats.delta_rows > 0 && performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    await moveTable(client, table);
    stats = await tableStats(client, table);
  }
  if (stats.delta_rows > 0) throw new Error(`${table} still has ${stats.delta_rows} delta rows 10 minutes after the move`);
}

/** Point select by primary key; throws unless the answer is that one row. */
export async function pointSelect(client: Client, query: string, id: number): Promise<void> {
  const { answer } = await sql(client, query, [id]);
  if (answer.rows.length !== 1) throw new Error(`id ${id}: ${answer.rows.length} rows`);
  const at = answer.columns.indexOf('id');
  if (answer.rows[0][at < 0 ? 0 : at] !== id) throw new Error(`id ${id}: the answer is not that row: ${JSON.stringify(answer.rows[0])}`);
}

/** Whether the SQL route answers at all (SELECT 1). */
export async function probeSql(client: Client): Promise<string | null> {
  try {
    const r = await call(client, 'POST', SQL_PATH, JSON.stringify({ query: 'SELECT 1 AS one' }));
    if (r.status === 404 && !r.text.includes('SQL_')) return `POST ${SQL_PATH}: HTTP 404 (no SQL route) ${r.text.slice(0, 120)}`;
    dataOf(r, 'SELECT 1');
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
