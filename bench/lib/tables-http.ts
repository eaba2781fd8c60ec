// MantisDB's side of the table benchmark, over HTTP (undici, one keep-alive
// connection per client), in the usual envelope { success, data } (lib/docs-http):
//
//   POST /api/v1/tables                  {"name","columns":[…],"primary_key":["k"]}
//   POST /api/v1/tables/:t/rows          {"rows":[…],"on_conflict":"error"}   → data.inserted
//   POST /api/v1/tables/:t/move          the delta into column segments, on every shard
//   POST /api/v1/tables/:t/query         {"where","group_by","aggregates"}    → data {columns, rows, stats.took_ms}
//   GET  /api/v1/tables/:t/stats         rows, delta rows, bytes, per column plain/stored bytes and encodings
//   GET  /api/v1/tables/:t/rows/:pk      one row by primary key
//
// and the same rows as documents ("row form"), and as KV values for the
// lookup baseline:
//
//   POST /api/v1/docs/:c/insert          {"documents":[…]}
//   POST /api/v1/docs/:c/aggregate       {"pipeline":[…]}
//   POST /api/v1/kv/batch                {"ops":[{"op":"put","key","value"}]}
//   GET  /api/v1/kv/:key

import type { Client } from 'undici';
import { call, dataOf, docsPath } from './docs-http.js';
import { rowJson, rowsJson, scanOf, TABLE_COLUMNS, X_THRESHOLD, type FilterAnswer, type GroupRow, type ScanAnswer } from './tables-data.js';

export const tablesPath = (table?: string, action?: string): string =>
  `/api/v1/tables${table === undefined ? '' : `/${encodeURIComponent(table)}`}${action === undefined ? '' : `/${action}`}`;

export const TABLE_CREATE_BODY = {
  columns: TABLE_COLUMNS.map((c) => ({ name: c.name, type: c.type, nullable: false })),
  primary_key: ['k'],
};

export async function createTable(client: Client, table: string): Promise<void> {
  dataOf(await call(client, 'POST', tablesPath(), JSON.stringify({ name: table, ...TABLE_CREATE_BODY })), `create table ${table}`);
}

export async function dropTable(client: Client, table: string): Promise<void> {
  dataOf(await call(client, 'DELETE', tablesPath(table)), `drop table ${table}`);
}

/** `{"rows":[…]}` for rows [from, to). */
export function rowsBody(from: number, to: number): string {
  return `{"rows":[${rowsJson(from, to)}],"on_conflict":"error"}`;
}

export async function insertRows(client: Client, table: string, body: string, count: number): Promise<void> {
  const data = dataOf(await call(client, 'POST', tablesPath(table, 'rows'), body), `insert of ${count} rows`) as { inserted?: unknown } | null;
  if (data?.inserted !== count) throw new Error(`insert of ${count} rows: data.inserted is ${String(data?.inserted)}`);
}

export async function moveTable(client: Client, table: string): Promise<void> {
  dataOf(await call(client, 'POST', tablesPath(table, 'move'), '{}'), `move ${table}`);
}

/** The part of GET /api/v1/tables/:t/stats the benchmark reads. */
export type TableStatsBody = {
  readonly rows: number;
  readonly delta_rows: number;
  readonly segments: number;
  readonly bytes_on_disk: number;
  readonly bytes_in_memory: number;
  readonly plain_bytes: number;
  readonly stored_bytes: number;
  readonly columns: readonly { readonly name: string; readonly type: string; readonly plain_bytes: number; readonly stored_bytes: number; readonly encodings: Readonly<Record<string, number>> }[];
};

export async function tableStats(client: Client, table: string): Promise<TableStatsBody> {
  const data = dataOf(await call(client, 'GET', tablesPath(table, 'stats')), `stats of ${table}`) as TableStatsBody | null;
  if (data === null || typeof data.rows !== 'number' || !Array.isArray(data.columns)) throw new Error(`stats of ${table}: unexpected body ${JSON.stringify(data).slice(0, 200)}`);
  return data;
}

export type QueryAnswer = { readonly columns: string[]; readonly rows: unknown[][]; readonly next_cursor?: unknown; readonly stats: { readonly took_ms: number } & Record<string, unknown> };

/** A query answer with its two clocks: engine (stats.took_ms, inside the server) and end to end (this client). */
export type Timed<T> = { readonly answer: T; readonly engineMs: number; readonly e2eMs: number; readonly stats: Record<string, unknown> };

async function query(client: Client, table: string, body: unknown): Promise<{ answer: QueryAnswer; e2eMs: number }> {
  const t0 = performance.now();
  const reply = await call(client, 'POST', tablesPath(table, 'query'), JSON.stringify(body));
  const e2eMs = performance.now() - t0;
  const answer = dataOf(reply, `query ${table}`) as QueryAnswer | null;
  if (answer === null || !Array.isArray(answer.rows) || typeof answer.stats?.took_ms !== 'number') throw new Error(`query ${table}: unexpected answer ${JSON.stringify(answer).slice(0, 200)}`);
  return { answer, e2eMs };
}

const num = (cell: unknown): number => (typeof cell === 'string' ? Number(cell) : (cell as number)); // int64 past 2^53 travels as a decimal string

function column(answer: QueryAnswer, name: string): number {
  const at = answer.columns.indexOf(name);
  if (at < 0) throw new Error(`query answer has no column ${name} (columns ${answer.columns.join(', ')})`);
  return at;
}

export const GROUP_QUERY = { group_by: ['g'], aggregates: [{ fn: 'sum', column: 'amount', as: 's' }, { fn: 'count', as: 'c' }] };
export const FILTER_QUERY = { where: { col: 'x', op: '>', value: X_THRESHOLD }, aggregates: [{ fn: 'count', as: 'c' }, { fn: 'sum', column: 'amount', as: 's' }] };

/** The query route's largest page (rows); the scan pages through its cursor beyond it. */
export const SCAN_PAGE_ROWS = 100_000;
export const SCAN_QUERY = { columns: ['k', 'x'], where: { col: 'x', op: '>', value: X_THRESHOLD }, limit: SCAN_PAGE_ROWS };

/** The matching rows, page after page (one page up to 10M rows: 1 % is under 100k); the times summed over the pages. */
export async function tableScan(client: Client, table: string, pageRows = SCAN_PAGE_ROWS): Promise<Timed<ScanAnswer>> {
  const first = pageRows === SCAN_PAGE_ROWS ? SCAN_QUERY : { ...SCAN_QUERY, limit: pageRows };
  let count = 0;
  let sumK = 0;
  let sumX = 0;
  let engineMs = 0;
  let e2eMs = 0;
  let cursor: unknown = null;
  let stats: Record<string, unknown> = {};
  for (let page = 0; ; page++) {
    const r = await query(client, table, cursor === null ? first : { ...first, cursor });
    const part = scanOf(r.answer.rows, column(r.answer, 'k'), column(r.answer, 'x'));
    count += part.count;
    sumK += part.sumK;
    sumX += part.sumX;
    engineMs += r.answer.stats.took_ms;
    e2eMs += r.e2eMs;
    stats = { ...r.answer.stats, pages: page + 1 };
    cursor = r.answer.next_cursor ?? null;
    if (cursor === null) break;
    if (page > 100_000) throw new Error('scan: the cursor never ends');
  }
  return { answer: { count, sumK, sumX }, engineMs, e2eMs, stats };
}

export async function tableGroup(client: Client, table: string): Promise<Timed<GroupRow[]>> {
  const { answer, e2eMs } = await query(client, table, GROUP_QUERY);
  const [g, s, c] = [column(answer, 'g'), column(answer, 's'), column(answer, 'c')];
  const rows = answer.rows.map((r) => ({ g: num(r[g]), sum: num(r[s]), count: num(r[c]) }));
  return { answer: rows, engineMs: answer.stats.took_ms, e2eMs, stats: answer.stats };
}

export async function tableFilter(client: Client, table: string): Promise<Timed<FilterAnswer>> {
  const { answer, e2eMs } = await query(client, table, FILTER_QUERY);
  const row = answer.rows[0] ?? [];
  return { answer: { count: num(row[column(answer, 'c')] ?? 0), sum: num(row[column(answer, 's')] ?? 0) }, engineMs: answer.stats.took_ms, e2eMs, stats: answer.stats };
}

/** GET /api/v1/tables/:t/rows/:k; throws unless the answer is that row. */
export async function tableGet(client: Client, table: string, k: number): Promise<void> {
  const res = await client.request({ method: 'GET', path: `${tablesPath(table, 'rows')}/${k}` });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET row ${k}: HTTP ${res.statusCode} ${text.slice(0, 200)}`);
  if (!text.includes(`"k":${k},`) && !text.includes(`"k":${k}}`) && !text.includes(`[${k},`)) throw new Error(`GET row ${k}: the answer is not that row: ${text.slice(0, 200)}`);
}

// ---- the row form: the same rows as documents ----

export async function docsInsert(client: Client, collection: string, from: number, to: number): Promise<void> {
  const data = dataOf(await call(client, 'POST', docsPath(collection, 'insert'), `{"documents":[${rowsJson(from, to)}]}`), `insert of ${to - from} documents`);
  const ids = (data as { inserted_ids?: unknown } | null)?.inserted_ids;
  if (!Array.isArray(ids) || ids.length !== to - from) throw new Error(`insert of ${to - from} documents: data.inserted_ids has ${Array.isArray(ids) ? ids.length : 'no'} ids`);
}

export const DOCS_GROUP_PIPELINE = [{ $group: { _id: '$g', s: { $sum: '$amount' }, c: { $sum: 1 } } }];
export const DOCS_FILTER_PIPELINE = [{ $match: { x: { $gt: X_THRESHOLD } } }, { $group: { _id: null, c: { $sum: 1 }, s: { $sum: '$amount' } } }];

async function aggregate(client: Client, collection: string, pipeline: unknown): Promise<{ rows: Record<string, unknown>[]; e2eMs: number }> {
  const t0 = performance.now();
  const reply = await call(client, 'POST', docsPath(collection, 'aggregate'), JSON.stringify({ pipeline }));
  const e2eMs = performance.now() - t0;
  const data = dataOf(reply, `aggregate ${collection}`);
  if (!Array.isArray(data)) throw new Error('aggregate: data is not an array');
  return { rows: data as Record<string, unknown>[], e2eMs };
}

export const DOCS_SCAN_PIPELINE = [{ $match: { x: { $gt: X_THRESHOLD } } }, { $project: { _id: 0, k: 1, x: 1 } }];

export async function docsScan(client: Client, collection: string): Promise<{ answer: ScanAnswer; e2eMs: number }> {
  const { rows, e2eMs } = await aggregate(client, collection, DOCS_SCAN_PIPELINE);
  return { answer: scanOf(rows.map((r) => [r.k, r.x])), e2eMs };
}

export async function docsGroup(client: Client, collection: string): Promise<{ answer: GroupRow[]; e2eMs: number }> {
  const { rows, e2eMs } = await aggregate(client, collection, DOCS_GROUP_PIPELINE);
  return { answer: rows.map((r) => ({ g: Number(r._id), sum: Number(r.s), count: Number(r.c) })), e2eMs };
}

export async function docsFilter(client: Client, collection: string): Promise<{ answer: FilterAnswer; e2eMs: number }> {
  const { rows, e2eMs } = await aggregate(client, collection, DOCS_FILTER_PIPELINE);
  const r = rows[0] ?? { c: 0, s: 0 };
  return { answer: { count: Number(r.c), sum: Number(r.s) }, e2eMs };
}

// ---- KV: the point-lookup baseline, the same row text as the value ----

export const kvKeyOf = (k: number): string => `row-${k}`;

export async function kvPutRows(client: Client, from: number, to: number): Promise<void> {
  const ops = [];
  for (let k = from; k < to; k++) ops.push({ op: 'put', key: kvKeyOf(k), value: rowJson(k) });
  const data = dataOf(await call(client, 'POST', '/api/v1/kv/batch', JSON.stringify({ ops })), `KV batch of ${to - from} puts`);
  const results = (data as { results?: unknown } | null)?.results ?? data;
  if (Array.isArray(results) && results.some((r) => (r as { error?: unknown } | null)?.error !== undefined)) throw new Error(`KV batch: ${JSON.stringify(results.find((r) => (r as { error?: unknown }).error !== undefined))}`);
}

export async function kvGet(client: Client, k: number): Promise<void> {
  const res = await client.request({ method: 'GET', path: `/api/v1/kv/${kvKeyOf(k)}` });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET ${kvKeyOf(k)}: HTTP ${res.statusCode} ${text.slice(0, 200)}`);
  if (!text.startsWith(`{"k":${k},`)) throw new Error(`GET ${kvKeyOf(k)}: not that row: ${text.slice(0, 200)}`);
}
