// The columnar tables over HTTP (issue 12). JSON bodies and answers in the
// usual envelope {success, data, meta}; cells over JSON as cell-json.ts says
// (int64 beyond 2^53 as a decimal string, timestamps RFC 3339, binary base64).
//
//   POST   /api/v1/tables                        {name, columns:[{name,type,nullable,default}], primary_key, default_ttl_seconds, if_not_exists} → 201 the table
//   GET    /api/v1/tables                        every table's schema
//   GET    /api/v1/tables/:t                     schema, indexes and stats
//   DELETE /api/v1/tables/:t                     drops it (?if_exists=true: no 404)
//   POST   /api/v1/tables/:t/columns             {name, type, nullable, default} adds a column (no segment is rewritten)
//   POST   /api/v1/tables/:t/rows                {rows:[{…}] (1..10000), on_conflict: error|replace|ignore, ttl_seconds} → {inserted, replaced, ignored}
//   GET    /api/v1/tables/:t/rows/:pk            one row by primary key (:pk a JSON array of the key cells, or the single key value as text)
//   POST   /api/v1/tables/:t/update              {where, set:{…}, ttl_seconds} → {affected}
//   POST   /api/v1/tables/:t/delete              {where} → {affected}
//   POST   /api/v1/tables/:t/query               {columns, where, order_by:[{column,desc}], limit, offset, cursor, group_by, aggregates:[{fn,column,as}], hint}
//                                                → {columns, rows:[[…]], next_cursor, stats}
//   POST   /api/v1/tables/:t/indexes             {name, columns, type: btree|hash|bloom, unique} → 201 the index, once built
//   DELETE /api/v1/tables/:t/indexes/:name
//   GET    /api/v1/tables/:t/stats               rows, bytes, compression per column and encoding, segments, hit counts, last mover run
//   POST   /api/v1/tables/:t/move                runs the mover now (the delta into column segments)
//
// Errors name the column and the row index in the error object (`column`,
// `row`) besides the message. With a Mantis-Txn header the row routes (POST
// rows, GET rows/:pk, update, delete, query) run inside that transaction
// (src/tables/table-txn.ts); the others answer 400 INVALID_PARAMETER.

import type { Context, Hono } from 'hono';
import { MantisError } from '../../shared/errors.js';
import { cellFromJson, cellToJson } from '../../shared/tables/cell-json.js';
import { parseWhere } from '../../shared/tables/where.js';
import { AGGREGATE_FNS, COLUMN_TYPES, type AggregateFn, type AggregateSpec, type Cell, type ColumnType, type OrderBy, type Row, type TableIndexDef, type TableIndexType, type TableInfo } from '../../shared/tables/table-types.js';
import type { OnConflict } from '../../shared/tables/table-protocol.js';
import { deadlineFromHeader, type DeadlineHeader } from '../kv/index.js';
import type { Logger } from '../log.js';
import { aggregateType, decodeCursor, encodeCursor, queryFingerprint } from '../tables/table-query.js';
import { cellOf, rowFromJson, shapeOf } from '../tables/table-rows.js';
import { checkName, tableNameOf, type ColumnInput, type CreateTableInput } from '../tables/table-schema.js';
import type { QueryResult, TableService } from '../tables/table-service.js';
import type { Bindings } from './hono-app.js';
import { toResponse } from './hono-app.js';
import { jsonBody, onlyFields } from './json-body.js';
import { guarded, okReply, type HttpReply } from './reply.js';
import { TABLES_PATH } from './routes.js';
import { TXN_HEADER, txnIdOf } from './txn-routes.js';
import { notInTxn } from '../docs/txn-doc-commands.js';
import type { AuthStore } from '../security/auth-store.js';
import type { Principal } from '../security/principal.js';
import {
  any,
  arr,
  bool as boolean,
  closed,
  DEADLINE,
  dispatch,
  enumOf,
  freeObject,
  int,
  jsonBody as jsonBodySpec,
  nullable,
  obj,
  ok,
  oneOf,
  pathParam,
  queryParam,
  ref,
  SHARD_READ,
  SHARD_WRITE,
  str,
  TXN,
  TXN_ERRORS,
  type ErrorList,
  type ParamSpec,
  type RouteSpec,
} from './api-spec.js';

export type TableRequestParts = {
  readonly method: string;
  readonly rawPath: string;
  readonly rawQuery: string;
  readonly contentType: string | undefined;
  readonly txn: string | undefined;
  readonly deadline: DeadlineHeader;
  readonly body: Uint8Array;
  /** Who is asking (undefined: the system, when auth is off); row-level security reads it. */
  readonly principal?: Principal;
};

export type TableHandlers = { handle(parts: TableRequestParts): Promise<HttpReply> };

export const INSERT_ROWS_MAX = 10_000;
export const QUERY_LIMIT_DEFAULT = 1000;
export const QUERY_LIMIT_MAX = 100_000;
export const QUERY_OFFSET_MAX = 100_000;
const TTL_SECONDS_MAX = 630_720_000;
const ACTIONS = ['columns', 'rows', 'update', 'delete', 'query', 'indexes', 'move'];
/** The actions that run inside a transaction (with the Mantis-Txn header). */
const ROW_ACTIONS = ['rows', 'update', 'delete', 'query'];
const ON_CONFLICT: readonly OnConflict[] = ['error', 'replace', 'ignore'];
const INDEX_TYPES: readonly TableIndexType[] = ['btree', 'hash', 'bloom'];

/** With auth on: which tables have row-level security (and their policies to drop with them). */
export type TableSecurity = { readonly store: Pick<AuthStore, 'rlsEnabled' | 'forgetTable'> };

export function createTableHandlers(tables: TableService, log: Logger, security?: TableSecurity): TableHandlers {
  const guard = guarded((error) => log.error({ err: error }, 'unexpected error in a table route'));
  return { handle: (parts) => guard(() => route(tables, parts, security)) };
}

async function route(tables: TableService, p: TableRequestParts, security?: TableSecurity): Promise<HttpReply> {
  const rest = p.rawPath.slice(TABLES_PATH.length);
  const segments = rest === '' || rest === '/' ? [] : rest.slice(1).split('/');
  const method = p.method === 'HEAD' ? 'GET' : p.method;
  if (segments.some((s) => s === '')) throw new MantisError('NOT_FOUND', `no route for ${p.method} ${p.rawPath}`);
  const txn = p.txn === undefined ? null : txnIdOf(p.txn);
  const deadlineMs = deadlineFromHeader(p.deadline);
  // Inside a transaction: the row routes (insert, get, update, delete, query); schema changes,
  // stats and the mover are not transactional.
  const rowRoute = segments.length >= 2 && ((segments.length === 2 && ROW_ACTIONS.includes(segments[1])) || (segments.length === 3 && segments[1] === 'rows'));
  if (txn !== null && !rowRoute) throw notInTxn(`${p.method} ${p.rawPath}`);
  if (segments.length === 0) {
    if (method === 'GET') {
      const principal = p.principal;
      // The listing shows only the tables the caller may read.
      const all = principal === undefined ? tables.list() : tables.list().filter((t) => principal.can(`tables:${t.name}`, 'read'));
      return okReply(all.map(tableJson), { count: all.length });
    }
    if (method === 'POST') {
      const { created, info } = await tables.createTable(createInput(body(p)), deadlineMs);
      return okReply(tableJson(info), { created }, created ? 201 : 200);
    }
    throw notAllowed(p.method, 'GET or POST', TABLES_PATH);
  }
  const name = tableNameOf(decodeSegment(segments[0], 'table name'));
  if (security !== undefined && p.principal !== undefined && !p.principal.bypassRls && security.store.rlsEnabled(name)) {
    // Row-level security is applied by the SQL binder; the REST row, stats and schema routes would bypass it.
    throw new MantisError('FORBIDDEN', `table "${name}" has row-level security: read and write it through SQL (POST /api/v1/sql)`);
  }
  if (segments.length === 1) {
    if (method === 'GET') {
      const info = tables.info(name);
      return okReply({ ...tableJson(info), stats: await tables.stats(name, deadlineMs) });
    }
    if (method === 'DELETE') {
      const ifExists = flag(new URLSearchParams(p.rawQuery), 'if_exists');
      const { dropped } = await tables.dropTable(name, { ifExists }, deadlineMs);
      if (dropped) await security?.store.forgetTable(name);
      return okReply({ name, dropped });
    }
    throw notAllowed(p.method, 'GET or DELETE', '/api/v1/tables/:t (POST goes to /rows, /query, …)');
  }
  const action = decodeSegment(segments[1], 'path');
  if (segments.length === 2) {
    if (action === 'stats') {
      if (method !== 'GET') throw notAllowed(p.method, 'GET', '/api/v1/tables/:t/stats');
      return okReply(await tables.stats(name, deadlineMs));
    }
    if (!ACTIONS.includes(action)) throw new MantisError('NOT_FOUND', `no route for ${p.method} ${p.rawPath}; POST one of ${ACTIONS.join(', ')} or GET stats`);
    if (method !== 'POST') throw notAllowed(p.method, 'POST', `/api/v1/tables/:t/${action}`);
    return actionRoute(tables, name, action, p, deadlineMs, txn);
  }
  if (segments.length === 3 && action === 'rows') {
    if (method !== 'GET') throw notAllowed(p.method, 'GET', '/api/v1/tables/:t/rows/:pk');
    return getRow(tables, name, decodeSegment(segments[2], 'primary key'), deadlineMs, txn);
  }
  if (segments.length === 3 && action === 'indexes') {
    if (method !== 'DELETE') throw notAllowed(p.method, 'DELETE', '/api/v1/tables/:t/indexes/:name');
    const index = decodeSegment(segments[2], 'index name');
    const ifExists = flag(new URLSearchParams(p.rawQuery), 'if_exists');
    const { dropped } = await tables.dropIndex(name, index, { ifExists }, deadlineMs);
    return okReply({ name: index, dropped });
  }
  throw new MantisError('NOT_FOUND', `no route for ${p.method} ${p.rawPath}`);
}

async function actionRoute(tables: TableService, name: string, action: string, p: TableRequestParts, deadlineMs: number, txn: string | null): Promise<HttpReply> {
  switch (action) {
    case 'columns': {
      const info = await tables.addColumn(name, columnInput(body(p), 'column: '), deadlineMs);
      return okReply(tableJson(info));
    }
    case 'rows': {
      const b = body(p);
      onlyFields(b, ['rows', 'on_conflict', 'ttl_seconds']);
      const info = tables.info(name);
      const rows = b.rows;
      if (!Array.isArray(rows) || rows.length === 0) throw new MantisError('INVALID_PARAMETER', '"rows" must be a non-empty array of objects');
      if (rows.length > INSERT_ROWS_MAX) throw new MantisError('INVALID_PARAMETER', `"rows" holds ${rows.length} rows; the limit is ${INSERT_ROWS_MAX} per request`);
      const onConflict = b.on_conflict ?? 'error';
      if (!ON_CONFLICT.includes(onConflict as OnConflict)) throw new MantisError('INVALID_PARAMETER', `"on_conflict" must be one of ${ON_CONFLICT.join(', ')}`);
      const full: Row[] = new Array<Row>(rows.length);
      for (let i = 0; i < rows.length; i++) full[i] = rowFromJson(info, rows[i], i);
      const outcome = await tables.insertRows(info, full, { onConflict: onConflict as OnConflict, ttlMs: ttlMsOf(b) }, deadlineMs, txn);
      return okReply(outcome, { count: rows.length });
    }
    case 'update': {
      const b = body(p);
      onlyFields(b, ['where', 'set', 'ttl_seconds']);
      const info = tables.info(name);
      const where = parseWhere(b.where, info);
      const setJson = b.set;
      if (typeof setJson !== 'object' || setJson === null || Array.isArray(setJson)) throw new MantisError('INVALID_PARAMETER', '"set" must be an object of column values');
      const set: Record<string, Cell> = {};
      const shape = shapeOf(info);
      for (const [column, json] of Object.entries(setJson as Record<string, unknown>)) {
        const at = shape.byName.get(column);
        if (at === undefined) throw new MantisError('UNKNOWN_COLUMN', `table "${name}" has no column ${JSON.stringify(column)}`, { column });
        set[column] = cellOf(info, at, json, null);
      }
      const ttlMs = b.ttl_seconds === undefined ? undefined : ttlMsOf(b);
      return okReply(await tables.update(name, where, set, { ttlMs }, deadlineMs, txn));
    }
    case 'delete': {
      const b = body(p);
      onlyFields(b, ['where']);
      return okReply(await tables.delete(name, parseWhere(b.where, tables.info(name)), deadlineMs, txn));
    }
    case 'query':
      return query(tables, name, body(p), deadlineMs, txn);
    case 'indexes': {
      const b = body(p);
      onlyFields(b, ['name', 'columns', 'type', 'unique', 'if_not_exists']);
      const type = b.type ?? 'btree';
      if (!INDEX_TYPES.includes(type as TableIndexType)) throw new MantisError('INVALID_SCHEMA', `"type" must be one of ${INDEX_TYPES.join(', ')}`);
      const columns = b.columns;
      if (!Array.isArray(columns) || columns.some((c) => typeof c !== 'string')) throw new MantisError('INVALID_SCHEMA', '"columns" must be an array of column names');
      const { created, index } = await tables.createIndex(
        name,
        { name: checkName(b.name, 'an index name'), columns: columns as string[], type: type as TableIndexType, unique: bool(b, 'unique', false), ifNotExists: bool(b, 'if_not_exists', false) },
        deadlineMs,
      );
      return okReply(indexJson(index), { created }, created ? 201 : 200);
    }
    case 'move':
      await tables.move(name, deadlineMs);
      return okReply({ moved: true });
    default:
      throw new Error(`assertion failed: table action ${action}`);
  }
}

// ---- query ----------------------------------------------------------------------------

const QUERY_FIELDS = ['columns', 'where', 'order_by', 'limit', 'offset', 'cursor', 'group_by', 'aggregates', 'hint'];

async function query(tables: TableService, name: string, b: Record<string, unknown>, deadlineMs: number, txn: string | null): Promise<HttpReply> {
  onlyFields(b, QUERY_FIELDS);
  const info = tables.info(name);
  const shape = shapeOf(info);
  const position = (column: unknown, where: string): number => {
    if (typeof column !== 'string') throw new MantisError('BAD_QUERY', `${where} names a column (a string)`);
    const at = shape.byName.get(column);
    if (at === undefined) throw new MantisError('UNKNOWN_COLUMN', `${where}: table "${name}" has no column ${JSON.stringify(column)}`, { column });
    return at;
  };
  const list = (field: string): unknown[] | null => {
    const v = b[field];
    if (v === undefined || v === null) return null;
    if (!Array.isArray(v)) throw new MantisError('BAD_QUERY', `"${field}" must be an array`);
    return v;
  };
  const groupBy = (list('group_by') ?? []).map((c, i) => position(c, `group_by[${i}]`));
  const aggregates = (list('aggregates') ?? []).map((a, i) => aggregateOf(info, a, i, position));
  const aggregating = groupBy.length > 0 || aggregates.length > 0;
  const outNames = [...groupBy.map((g) => info.columns[g].name), ...aggregates.map((a) => a.as)];
  if (new Set(outNames).size !== outNames.length) throw new MantisError('BAD_QUERY', 'the output columns (group_by columns and aggregate names) must have distinct names');
  const columnsJson = list('columns');
  let columns: number[];
  if (aggregating) {
    if (columnsJson !== null && columnsJson.some((c, i) => !groupBy.includes(position(c, `columns[${i}]`)))) {
      throw new MantisError('BAD_QUERY', 'with group_by or aggregates, "columns" may only name group_by columns (the answer is the group_by columns, then the aggregates)');
    }
    columns = [];
  } else {
    columns = columnsJson === null ? info.columns.map((_, i) => i) : columnsJson.map((c, i) => position(c, `columns[${i}]`));
    if (columns.length === 0) throw new MantisError('BAD_QUERY', '"columns" names at least one column');
  }
  const orderBy: OrderBy[] = (list('order_by') ?? []).map((o, i) => {
    const spec = typeof o === 'string' ? { column: o } : o;
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new MantisError('BAD_QUERY', `order_by[${i}] must be {"column","desc"} or a column name`);
    onlyFields(spec as Record<string, unknown>, ['column', 'desc'], `order_by[${i}]: `);
    const { column, desc } = spec as { column?: unknown; desc?: unknown };
    if (desc !== undefined && typeof desc !== 'boolean') throw new MantisError('BAD_QUERY', `order_by[${i}].desc must be true or false`);
    if (!aggregating) return { col: position(column, `order_by[${i}]`), desc: desc === true };
    const at = outNames.indexOf(column as string);
    if (at < 0) throw new MantisError('UNKNOWN_COLUMN', `order_by[${i}]: an aggregating query orders by a group_by column or an aggregate's name; ${JSON.stringify(column)} is neither`, { column: String(column) });
    return { col: at, desc: desc === true };
  });
  const limit = intField(b, 'limit', aggregating ? 0 : QUERY_LIMIT_DEFAULT, 1, QUERY_LIMIT_MAX);
  const where = parseWhere(b.where, info);
  const hint = b.hint === undefined || b.hint === null ? null : b.hint;
  if (hint !== null && typeof hint !== 'string') throw new MantisError('BAD_QUERY', '"hint" names an index (or "$scan")');
  if (typeof hint === 'string' && hint !== '$scan' && !info.indexes.some((i) => i.name === hint)) throw new MantisError('INDEX_NOT_FOUND', `"hint": table "${name}" has no index ${JSON.stringify(hint)}`);
  const fingerprint = queryFingerprint(info.id, [b.columns ?? null, b.where ?? null, b.order_by ?? null, b.group_by ?? null, b.aggregates ?? null]);
  const cursor = b.cursor;
  const after = cursor === undefined || cursor === null ? null : decodeCursor(cursor, fingerprint);
  if (after !== null && aggregating) throw new MantisError('CURSOR_INVALID', 'an aggregating query has no cursor; use "offset" and "limit"');
  const offset = after === null ? intField(b, 'offset', 0, 0, QUERY_OFFSET_MAX) : 0;
  const result = await tables.query(name, { columns, where, groupBy, aggregates, orderBy, limit, offset, after, hint }, deadlineMs, txn);
  const types: ColumnType[] = aggregating ? [...groupBy.map((g) => info.columns[g].type), ...aggregates.map((a) => aggregateType(info, a))] : columns.map((c) => info.columns[c].type);
  return okReply(
    {
      columns: result.columns,
      rows: rowsJson(result, types),
      next_cursor: result.nextCursor === null ? null : encodeCursor(fingerprint, result.nextCursor),
      stats: result.stats,
    },
    { count: result.rows.length },
  );
}

function aggregateOf(info: TableInfo, json: unknown, i: number, position: (c: unknown, where: string) => number): AggregateSpec {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new MantisError('BAD_QUERY', `aggregates[${i}] must be {"fn","column","as"}`);
  const a = json as Record<string, unknown>;
  onlyFields(a, ['fn', 'column', 'as'], `aggregates[${i}]: `);
  if (!AGGREGATE_FNS.includes(a.fn as AggregateFn)) throw new MantisError('BAD_QUERY', `aggregates[${i}].fn must be one of ${AGGREGATE_FNS.join(', ')}`);
  const fn = a.fn as AggregateFn;
  const col = a.column === undefined || a.column === null || a.column === '*' ? null : position(a.column, `aggregates[${i}].column`);
  if (col === null && fn !== 'count') throw new MantisError('BAD_QUERY', `aggregates[${i}]: ${fn} needs a "column"`);
  if (a.as !== undefined && (typeof a.as !== 'string' || a.as === '')) throw new MantisError('BAD_QUERY', `aggregates[${i}].as must be a non-empty string`);
  const as = (a.as as string | undefined) ?? (col === null ? fn : `${fn}_${info.columns[col].name}`);
  return { fn, col, as };
}

function rowsJson(result: QueryResult, types: readonly ColumnType[]): unknown[][] {
  const out = new Array<unknown[]>(result.rows.length);
  const n = types.length;
  for (let r = 0; r < result.rows.length; r++) {
    const row = result.rows[r];
    const json = new Array<unknown>(n);
    for (let c = 0; c < n; c++) json[c] = row[c] === null ? null : cellToJson(types[c], row[c]);
    out[r] = json;
  }
  return out;
}

// ---- point lookup -------------------------------------------------------------------------

async function getRow(tables: TableService, name: string, text: string, deadlineMs: number, txn: string | null): Promise<HttpReply> {
  const info = tables.info(name);
  const key = keyFromText(info, text);
  const [row] = await tables.get(name, [key], deadlineMs, txn);
  if (row === null) throw new MantisError('KEY_NOT_FOUND', `table "${name}" has no row with primary key ${text}`);
  return okReply(rowObject(info, row));
}

/** :pk → key cells: a JSON array of the key cells, or (one key column) the value as text. */
export function keyFromText(info: TableInfo, text: string): Cell[] {
  const keys = shapeOf(info).keys;
  if (text.startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (Array.isArray(parsed)) {
      if (parsed.length !== keys.length) throw new MantisError('BAD_QUERY', `the primary key of table "${info.name}" has ${keys.length} cell(s): ${info.primaryKey.join(', ')}`);
      return parsed.map((json, i) => cellFromJson(info.columns[keys[i]], json));
    }
  }
  if (keys.length !== 1) throw new MantisError('BAD_QUERY', `the primary key of table "${info.name}" has ${keys.length} cells: give them as a JSON array`);
  const col = info.columns[keys[0]];
  let json: unknown = text;
  if (col.type === 'float64') json = text.trim() === '' ? text : Number(text);
  else if (col.type === 'boolean') json = text === 'true' ? true : text === 'false' ? false : text;
  else if (col.type === 'int64' && /^-?\d{1,15}$/.test(text)) json = Number(text);
  return [cellFromJson(col, json)];
}

function rowObject(info: TableInfo, row: Row): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < info.columns.length; i++) {
    const cell = i < row.length ? row[i] : null;
    out[info.columns[i].name] = cell === null ? null : cellToJson(info.columns[i].type, cell);
  }
  return out;
}

// ---- bodies ----------------------------------------------------------------------------

function body(p: TableRequestParts): Record<string, unknown> {
  return jsonBody(p.contentType, p.body, true);
}

function createInput(b: Record<string, unknown>): CreateTableInput {
  onlyFields(b, ['name', 'columns', 'primary_key', 'default_ttl_seconds', 'if_not_exists']);
  const name = checkName(b.name, 'a table name');
  const columns = b.columns;
  if (!Array.isArray(columns) || columns.length === 0) throw new MantisError('INVALID_SCHEMA', '"columns" must be a non-empty array of {"name","type","nullable","default"}');
  const primaryKey = b.primary_key;
  if (!Array.isArray(primaryKey) || primaryKey.length === 0 || primaryKey.some((k) => typeof k !== 'string')) {
    throw new MantisError('INVALID_SCHEMA', '"primary_key" must be a non-empty array of column names');
  }
  const ttl = b.default_ttl_seconds ?? 0;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0 || ttl > TTL_SECONDS_MAX) throw new MantisError('INVALID_SCHEMA', `"default_ttl_seconds" must be an integer in 0..${TTL_SECONDS_MAX}`);
  return {
    name,
    columns: columns.map((c, i) => columnInput(c, `columns[${i}]: `, (primaryKey as string[]).includes((c as { name?: string } | null)?.name ?? ''))),
    primaryKey: primaryKey as string[],
    defaultTtlSeconds: ttl,
    ifNotExists: bool(b, 'if_not_exists', false),
  };
}

function columnInput(json: unknown, where: string, inKey = false): ColumnInput {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new MantisError('INVALID_SCHEMA', `${where}a column is {"name","type","nullable","default"}`);
  const c = json as Record<string, unknown>;
  try {
    onlyFields(c, ['name', 'type', 'nullable', 'default'], where);
  } catch (error) {
    if (error instanceof MantisError) throw new MantisError('INVALID_SCHEMA', error.message);
    throw error;
  }
  const name = checkName(c.name, `${where}a column name`);
  if (!COLUMN_TYPES.includes(c.type as ColumnType)) {
    throw new MantisError('INVALID_SCHEMA', `${where}column "${name}": "type" must be one of ${COLUMN_TYPES.join(', ')}; got ${JSON.stringify(c.type)}`, { column: name });
  }
  const type = c.type as ColumnType;
  if (c.nullable !== undefined && typeof c.nullable !== 'boolean') throw new MantisError('INVALID_SCHEMA', `${where}column "${name}": "nullable" must be true or false`, { column: name });
  const nullable = inKey ? false : c.nullable !== false;
  const def: Cell = c.default === undefined || c.default === null ? null : cellFromJson({ name, type, nullable, default: null }, c.default);
  return { name, type, nullable, default: def };
}

function ttlMsOf(b: Record<string, unknown>): number {
  const ttl = b.ttl_seconds ?? 0;
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0 || ttl > TTL_SECONDS_MAX) throw new MantisError('INVALID_TTL', `"ttl_seconds" must be an integer in 0..${TTL_SECONDS_MAX}`);
  return ttl * 1000;
}

function intField(b: Record<string, unknown>, field: string, fallback: number, min: number, max: number): number {
  const v = b[field];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new MantisError('BAD_QUERY', `"${field}" must be an integer in ${min}..${max}`);
  return v;
}

function bool(b: Record<string, unknown>, field: string, fallback: boolean): boolean {
  const v = b[field];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new MantisError('INVALID_PARAMETER', `"${field}" must be true or false`);
  return v;
}

function flag(query: URLSearchParams, name: string): boolean {
  const v = query.get(name);
  if (v === null || v === 'false') return false;
  if (v === 'true') return true;
  throw new MantisError('INVALID_PARAMETER', `"${name}" must be true or false`);
}

function decodeSegment(segment: string, what: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new MantisError('INVALID_PARAMETER', `the ${what} in the path is not valid percent-encoded UTF-8`);
  }
}

function notAllowed(method: string, allowed: string, where: string): MantisError {
  return new MantisError('METHOD_NOT_ALLOWED', `${method} is not allowed on ${where}; use ${allowed}`);
}

// ---- JSON shapes ------------------------------------------------------------------------

export function indexJson(index: TableIndexDef): Record<string, unknown> {
  return { name: index.name, type: index.type, columns: index.columns, unique: index.unique, state: index.state };
}

export function tableJson(info: TableInfo): Record<string, unknown> {
  return {
    name: info.name,
    columns: info.columns.map((c) => ({
      name: c.name,
      type: c.type,
      nullable: c.nullable,
      default: c.default === null ? null : cellToJson(c.type, c.default),
      ...(c.cqlType === undefined ? {} : { cql_type: c.cqlType }),
    })),
    primary_key: info.primaryKey,
    partition_key_length: info.partitionKeyLength,
    ...(info.keyDesc.some((d) => d) ? { key_desc: info.keyDesc } : {}),
    indexes: info.indexes.map(indexJson),
    default_ttl_seconds: info.defaultTtlSeconds,
    cql: info.cql,
    created_at: new Date(info.createdAtMs).toISOString(),
    catalog_version: info.version,
  };
}

// ---- route specs (the OpenAPI description is built from these; see api-spec.ts) --------------

const TABLE: ParamSpec = pathParam('t', 'The table: 1–128 letters, digits or _, not starting with a digit.', 'people', { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}$' });
const COMMON = [TXN, DEADLINE];
const IF_EXISTS = queryParam('if_exists', 'true: no 404 when it does not exist (dropped is then false).', enumOf(['true', 'false']), 'true');
const BODY_ERRORS: ErrorList = ['INVALID_JSON', 'UNSUPPORTED_MEDIA_TYPE', 'INVALID_PARAMETER'];
const NOT_IN_TXN = 'Not transactional: with Mantis-Txn it is 400 INVALID_PARAMETER.';
const ROW_TXN = 'With Mantis-Txn it runs inside that transaction.';
const RLS = 'A table with row-level security is refused here (403) to callers that do not bypass it: use SQL.';
const ROW_ERRORS: ErrorList = [...BODY_ERRORS, 'FORBIDDEN', 'TABLE_NOT_FOUND', 'UNKNOWN_COLUMN', 'TYPE_MISMATCH', 'BAD_QUERY', ...TXN_ERRORS];
const SCHEMA_ERRORS: ErrorList = [...BODY_ERRORS, 'FORBIDDEN', 'INVALID_SCHEMA', 'SHARD_UNAVAILABLE', 'SHARD_BUSY', 'STORAGE_IO', 'STORAGE_FULL'];
const ID_COLUMN = { name: 'id', type: 'int64', nullable: false, default: null };
const PEOPLE = {
  name: 'people',
  columns: [ID_COLUMN, { name: 'name', type: 'string', nullable: false, default: null }, { name: 'age', type: 'int64', nullable: true, default: null }, { name: 'city', type: 'string', nullable: true, default: null }],
  primary_key: ['id'],
  partition_key_length: 1,
  indexes: [],
  default_ttl_seconds: 0,
  cql: false,
  created_at: '2026-12-07T10:00:00.000Z',
  catalog_version: 1,
};
const STATS = freeObject('rows, delta_rows, segments, segment_rows, deleted_rows, bytes on disk and in memory, compression per column and per encoding, zone-map, bloom and index hits, the last mover run, and each shard\'s own figures');
const STATS_EXAMPLE = { table: 'people', rows: 2, delta_rows: 2, segments: 0, segment_rows: 0, deleted_rows: 0, bytes_on_disk: 0 };
const TTL_SECONDS = int(undefined, { minimum: 0, maximum: TTL_SECONDS_MAX });
const CITY_INDEX = { name: 'by_city', type: 'hash', columns: ['city'], unique: false, state: 'ready' };

const tableAction = (action: string, summary: string, description: string, body: ReturnType<typeof jsonBodySpec> | undefined, response: ReturnType<typeof ok>, read: boolean, errors: ErrorList): RouteSpec => ({
  method: 'POST',
  path: `/api/v1/tables/{t}/${action}`,
  tag: 'Tables',
  summary,
  description: `${description} ${RLS}`,
  params: [TABLE, ...COMMON],
  ...(body === undefined ? {} : { body }),
  responses: [response],
  errors,
  permission: read ? 'tables:{t}:read' : 'tables:{t}:write',
});

export const TABLE_ROUTE_SPECS: readonly RouteSpec[] = [
  {
    method: 'POST',
    path: '/api/v1/tables',
    tag: 'Tables',
    summary: 'Create a table',
    description: 'Key columns are always NOT NULL; other columns are nullable unless nullable: false. 201 with the table; with if_not_exists an existing table answers 200 instead of 409. ' + NOT_IN_TXN,
    params: COMMON,
    body: jsonBodySpec(
      closed(
        {
          name: str(undefined, { pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}$' }),
          columns: arr(ref('ColumnInput'), undefined, { minItems: 1 }),
          primary_key: arr(str(), 'column names', { minItems: 1 }),
          default_ttl_seconds: TTL_SECONDS,
          if_not_exists: boolean(),
        },
        ['name', 'columns', 'primary_key'],
      ),
      {
        name: 'people',
        primary_key: ['id'],
        columns: [{ name: 'id', type: 'int64' }, { name: 'name', type: 'string', nullable: false }, { name: 'age', type: 'int64' }, { name: 'city', type: 'string' }],
      },
      { lenient: true },
    ),
    responses: [
      ok('Created.', ref('TableInfo'), PEOPLE, { status: 201, meta: closed({ created: { const: true } }, ['created']), metaExample: { created: true } }),
      ok('It existed (if_not_exists).', ref('TableInfo'), PEOPLE, { meta: closed({ created: { const: false } }, ['created']), metaExample: { created: false } }),
    ],
    errors: [...SCHEMA_ERRORS, 'TABLE_EXISTS'],
    permission: 'tables:*:write',
  },
  {
    method: 'GET',
    path: '/api/v1/tables',
    tag: 'Tables',
    summary: 'Every table\'s schema',
    description: 'With auth on, only the tables the caller may read. ' + NOT_IN_TXN,
    params: COMMON,
    responses: [ok('The tables.', arr(ref('TableInfo')), [PEOPLE], { meta: closed({ count: int() }, ['count']), metaExample: { count: 1 } })],
    errors: ['INVALID_PARAMETER'],
    permission: 'authenticated',
  },
  {
    method: 'GET',
    path: '/api/v1/tables/{t}',
    tag: 'Tables',
    summary: 'A table\'s schema, indexes and stats',
    description: `${NOT_IN_TXN} ${RLS}`,
    params: [TABLE, ...COMMON],
    responses: [ok('The table.', { allOf: [ref('TableInfo'), obj({ stats: STATS }, ['stats'])] }, { ...PEOPLE, stats: STATS_EXAMPLE })],
    errors: ['INVALID_PARAMETER', 'FORBIDDEN', 'TABLE_NOT_FOUND', ...SHARD_READ],
    permission: 'tables:{t}:read',
  },
  {
    method: 'DELETE',
    path: '/api/v1/tables/{t}',
    tag: 'Tables',
    summary: 'Drop a table',
    description: `${NOT_IN_TXN} ${RLS}`,
    params: [TABLE, IF_EXISTS, ...COMMON],
    responses: [ok('Dropped (false: it did not exist, with if_exists).', closed({ name: str(), dropped: boolean() }, ['name', 'dropped']), { name: 'people', dropped: true })],
    errors: ['INVALID_PARAMETER', 'FORBIDDEN', 'TABLE_NOT_FOUND', 'SHARD_UNAVAILABLE', 'SHARD_BUSY', 'STORAGE_IO', 'STORAGE_FULL'],
    permission: 'tables:{t}:write',
  },
  tableAction(
    'columns',
    'Add a column',
    'No segment is rewritten; a NOT NULL column needs a default. Answers the table. ' + NOT_IN_TXN,
    jsonBodySpec(ref('ColumnInput'), { name: 'email', type: 'string' }, { lenient: true }),
    ok('Added.', ref('TableInfo'), { ...PEOPLE, columns: [...PEOPLE.columns, { name: 'email', type: 'string', nullable: true, default: null }], catalog_version: 2 }),
    false,
    [...SCHEMA_ERRORS, 'TABLE_NOT_FOUND', 'COLUMN_EXISTS', 'TYPE_MISMATCH'],
  ),
  tableAction(
    'rows',
    'Insert rows',
    `1..10,000 rows, all or nothing. on_conflict: error (the default: 409 DUPLICATE_KEY), replace or ignore. ${ROW_TXN}`,
    jsonBodySpec(
      closed({ rows: arr(freeObject('column name → cell'), undefined, { minItems: 1, maxItems: INSERT_ROWS_MAX }), on_conflict: enumOf(['error', 'replace', 'ignore']), ttl_seconds: TTL_SECONDS }, ['rows']),
      { rows: [{ id: 1, name: 'Ada', age: 36, city: 'London' }, { id: 2, name: 'Alan', age: 41 }] },
      { lenient: true },
    ),
    ok('Inserted.', closed({ inserted: int(), replaced: int(), ignored: int() }, ['inserted', 'replaced', 'ignored']), { inserted: 2, replaced: 0, ignored: 0 }, {
      meta: closed({ count: int() }, ['count']),
      metaExample: { count: 2 },
    }),
    false,
    [...ROW_ERRORS, 'INVALID_TTL', 'NOT_NULL_VIOLATION', 'KEY_TOO_LARGE', 'DUPLICATE_KEY', ...SHARD_WRITE],
  ),
  tableAction(
    'update',
    'Update rows by filter',
    `Primary-key columns cannot be set. ${ROW_TXN}`,
    jsonBodySpec(closed({ where: nullable(ref('Where')), set: freeObject('column name → new cell'), ttl_seconds: TTL_SECONDS }, ['set']), { where: { col: 'city', op: '=', value: 'London' }, set: { city: 'LDN' } }, { lenient: true }),
    ok('Updated.', closed({ affected: int() }, ['affected']), { affected: 1 }),
    false,
    [...ROW_ERRORS, 'INVALID_SCHEMA', 'INVALID_TTL', 'NOT_NULL_VIOLATION', 'DUPLICATE_KEY', ...SHARD_WRITE],
  ),
  tableAction(
    'delete',
    'Delete rows by filter',
    ROW_TXN,
    jsonBodySpec(closed({ where: nullable(ref('Where')) }), { where: { col: 'age', op: '<', value: 18 } }, { lenient: true }),
    ok('Deleted.', closed({ affected: int() }, ['affected']), { affected: 0 }),
    false,
    [...ROW_ERRORS, ...SHARD_WRITE],
  ),
  tableAction(
    'query',
    'Query rows',
    `order_by takes {"column","desc"} objects or column names; limit 1..100000 (default 1000), offset 0..100000 (first page). An aggregating query (group_by or aggregates) answers the group_by columns then the aggregates, and has no cursor (page it with offset). hint is an index name or "$scan". ${ROW_TXN}`,
    jsonBodySpec(
      closed({
        columns: nullable(arr(str())),
        where: nullable(ref('Where')),
        order_by: nullable(arr(oneOf(str(), closed({ column: str(), desc: boolean() }, ['column'])))),
        limit: nullable(int(undefined, { minimum: 1, maximum: QUERY_LIMIT_MAX })),
        offset: nullable(int(undefined, { minimum: 0, maximum: QUERY_OFFSET_MAX })),
        cursor: nullable(str('next_cursor of the previous page')),
        group_by: nullable(arr(str())),
        aggregates: nullable(arr(ref('AggregateSpec'))),
        hint: nullable(str()),
      }),
      { columns: ['id', 'name'], where: { col: 'age', op: '>', value: 30 }, order_by: [{ column: 'age', desc: true }], limit: 100 },
      { lenient: true },
    ),
    ok(
      'The rows.',
      closed({ columns: arr(str()), rows: arr(arr(any('a cell'))), next_cursor: nullable(str()), stats: ref('QueryStats') }, ['columns', 'rows', 'next_cursor', 'stats']),
      {
        columns: ['id', 'name'],
        rows: [[2, 'Alan'], [1, 'Ada']],
        next_cursor: null,
        stats: { took_ms: 0.84, shards: 2, segments_scanned: 0, segments_pruned: 0, rows_scanned: 2, plan: 'SCAN' },
      },
      { meta: closed({ count: int() }, ['count']), metaExample: { count: 2 } },
    ),
    true,
    [...ROW_ERRORS, 'CURSOR_INVALID', 'INDEX_NOT_FOUND', ...SHARD_READ],
  ),
  tableAction(
    'indexes',
    'Create an index',
    'type is btree (the default), hash or bloom; unique with btree or hash. 201 once built; with if_not_exists an existing one answers 200. ' + NOT_IN_TXN,
    jsonBodySpec(
      closed({ name: str(), columns: arr(str(), undefined, { minItems: 1 }), type: enumOf(['btree', 'hash', 'bloom']), unique: boolean(), if_not_exists: boolean() }, ['name', 'columns']),
      { name: 'by_city', columns: ['city'], type: 'hash' },
      { lenient: true },
    ),
    ok('Built.', ref('TableIndex'), CITY_INDEX, { status: 201, meta: closed({ created: boolean() }, ['created']), metaExample: { created: true } }),
    false,
    [...SCHEMA_ERRORS, 'TABLE_NOT_FOUND', 'UNKNOWN_COLUMN', 'INDEX_EXISTS', 'DUPLICATE_KEY'],
  ),
  tableAction(
    'move',
    'Run the mover now',
    'Moves the row delta into column segments. ' + NOT_IN_TXN,
    undefined,
    ok('Moved.', closed({ moved: { const: true } }, ['moved']), { moved: true }),
    false,
    ['INVALID_PARAMETER', 'FORBIDDEN', 'TABLE_NOT_FOUND', ...SHARD_WRITE],
  ),
  {
    method: 'GET',
    path: '/api/v1/tables/{t}/rows/{pk}',
    tag: 'Tables',
    summary: 'One row by primary key',
    description: `404 KEY_NOT_FOUND when absent. ${ROW_TXN} ${RLS}`,
    params: [TABLE, pathParam('pk', 'The key value as text (one key column), or a JSON array of the key\'s cells (percent-encoded).', '1'), ...COMMON],
    responses: [ok('The row.', freeObject('column name → cell'), { id: 1, name: 'Ada', age: 36, city: 'London' })],
    errors: ['INVALID_PARAMETER', 'FORBIDDEN', 'TABLE_NOT_FOUND', 'BAD_QUERY', 'TYPE_MISMATCH', 'KEY_TOO_LARGE', 'KEY_NOT_FOUND', ...SHARD_READ, ...TXN_ERRORS],
    permission: 'tables:{t}:read',
  },
  {
    method: 'DELETE',
    path: '/api/v1/tables/{t}/indexes/{name}',
    tag: 'Tables',
    summary: 'Drop an index',
    description: `${NOT_IN_TXN} ${RLS}`,
    params: [TABLE, pathParam('name', 'The index.', 'by_city'), IF_EXISTS, ...COMMON],
    responses: [ok('Dropped (false: it did not exist, with if_exists).', closed({ name: str(), dropped: boolean() }, ['name', 'dropped']), { name: 'by_city', dropped: true })],
    errors: ['INVALID_PARAMETER', 'FORBIDDEN', 'TABLE_NOT_FOUND', 'INDEX_NOT_FOUND', 'SHARD_UNAVAILABLE', 'SHARD_BUSY', 'STORAGE_IO', 'STORAGE_FULL'],
    permission: 'tables:{t}:write',
  },
  {
    method: 'GET',
    path: '/api/v1/tables/{t}/stats',
    tag: 'Tables',
    summary: 'A table\'s storage figures',
    description: `${NOT_IN_TXN} ${RLS}`,
    params: [TABLE, ...COMMON],
    responses: [ok('The figures, summed over the shards.', STATS, STATS_EXAMPLE)],
    errors: ['INVALID_PARAMETER', 'FORBIDDEN', 'TABLE_NOT_FOUND', ...SHARD_READ],
    permission: 'tables:{t}:read',
  },
];

// ---- Hono --------------------------------------------------------------------------------

export function registerTableRoutes(app: Hono<{ Bindings: Bindings }>, handlers: TableHandlers): void {
  const serve = async (c: Context<{ Bindings: Bindings }>): Promise<Response> =>
    toResponse(
      await handlers.handle({
        principal: c.env.principal,
        method: c.req.method,
        rawPath: c.env.rawPath,
        rawQuery: c.env.rawQuery,
        contentType: c.req.header('content-type'),
        txn: c.req.header(TXN_HEADER),
        deadline: { header: c.req.header('mantis-deadline-ms'), receivedAtMs: c.env.receivedAtMs },
        body: new Uint8Array(await c.req.arrayBuffer()),
      }),
    );
  dispatch(app, [TABLES_PATH, `${TABLES_PATH}/*`], TABLE_ROUTE_SPECS, serve);
}
