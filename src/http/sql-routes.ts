// SQL over HTTP (issue 13):
//
//   POST /api/v1/sql  {"query": "SELECT …", "params": [...]}
//     → {"success":true,"data":{"command":"SELECT","columns":[{"name","type"}],"rows":[[…]],"row_count":N},"meta":{…}}
//
// One statement per request; `$1…` bind `params` in order. DDL and DML answer
// their command tag with row_count = rows affected (and the RETURNING rows).
// BEGIN answers the new transaction's id in meta.txn and the Mantis-Txn
// header; later statements of it send that header; COMMIT/ROLLBACK end it.
// Errors: {"success":false,"error":{"code","message","sqlstate","position"?}}.
// Accept: application/x-ndjson answers a header line, one JSON array per row
// and a trailer line; Accept: application/vnd.apache.arrow.stream answers
// Arrow IPC (one record batch stream).

import type { Context, Hono } from 'hono';
import { makeData, makeVector, tableToIPC, vectorFromArray, Table, Utf8, Float64, Int64, Bool, Int32, Int16, Float32, TimestampMicrosecond, DateDay, Binary, type DataType } from 'apache-arrow';
import { ErrorCode, MantisError } from '../../shared/errors.js';
import { deadlineFromHeader, type DeadlineHeader } from '../kv/index.js';
import type { Logger } from '../log.js';
import { toSqlError, type SqlAnswer, type SqlExecutor } from '../sql/sql-exec.js';
import { valueToJson } from '../sql/sql-cast.js';
import { formatInterval } from '../sql/sql-cast.js';
import { Interval, Jsonb, type SqlType, type Value } from '../sql/sql-types.js';
import type { Bindings } from './hono-app.js';
import { toResponse } from './hono-app.js';
import { jsonBody, onlyFields } from './json-body.js';
import { guarded, type HttpReply } from './reply.js';
import { SQL_PATH } from './routes.js';
import { TXN_HEADER } from './txn-routes.js';
import type { Principal } from '../security/principal.js';
import { any, arr, closed, DEADLINE, dispatch, headerParam, int, jsonBody as jsonBodySpec, num, ok, SHARD_WRITE, str, TXN, type RouteSpec } from './api-spec.js';

export type SqlRequestParts = {
  readonly method: string;
  readonly contentType: string | undefined;
  readonly accept: string | undefined;
  readonly txn: string | undefined;
  readonly deadline: DeadlineHeader;
  readonly body: Uint8Array;
  readonly signal?: AbortSignal;
  /** Who is asking (undefined: the system, when auth is off); row-level security reads it. */
  readonly principal?: Principal;
};

export type SqlHandler = { handle(parts: SqlRequestParts): Promise<HttpReply> };

/** Parameters one statement may bind. */
const PARAMS_MAX = 65_535;
const NDJSON = 'application/x-ndjson';
const ARROW = 'application/vnd.apache.arrow.stream';

export function createSqlHandler(executor: SqlExecutor, log: Logger): SqlHandler {
  const guard = guarded((error) => log.error({ err: error }, 'unexpected error in the SQL route'));
  // Every error answer carries a SQLSTATE, request-level ones too (08P01, 22023…).
  return {
    handle: (parts) =>
      guard(async () => {
        try {
          return await serve(executor, parts);
        } catch (e) {
          throw e instanceof MantisError ? toSqlError(e) : e;
        }
      }),
  };
}

async function serve(executor: SqlExecutor, p: SqlRequestParts): Promise<HttpReply> {
  if (p.method !== 'POST') throw new MantisError('METHOD_NOT_ALLOWED', `${p.method} is not allowed on ${SQL_PATH}; use POST`);
  const deadlineMs = deadlineFromHeader(p.deadline);
  const body = jsonBody(p.contentType, p.body, true);
  onlyFields(body, ['query', 'params']);
  if (typeof body.query !== 'string') throw new MantisError('INVALID_PARAMETER', '"query" must be one SQL statement (a string)', { sqlstate: '22023' });
  const params = body.params ?? [];
  if (!Array.isArray(params)) throw new MantisError('INVALID_PARAMETER', '"params" must be an array (its items bind $1, $2, …)', { sqlstate: '22023' });
  if (params.length > PARAMS_MAX) throw new MantisError('INVALID_PARAMETER', `at most ${PARAMS_MAX} params`, { sqlstate: '54000' });
  const accept = (p.accept ?? '').toLowerCase();
  const txn = p.txn === undefined || p.txn === '' ? null : p.txn;
  const started = performance.now();
  const answer = await executor.execute({
    query: body.query,
    params,
    txn,
    deadlineMs,
    ...(p.signal === undefined ? {} : { signal: p.signal }),
    ...(p.principal === undefined ? {} : { principal: p.principal }),
  });
  const tookMs = Math.round((performance.now() - started) * 1000) / 1000;
  const headers: [string, string][] = [];
  if (answer.txn !== undefined) headers.push([TXN_HEADER, answer.txn]);
  if (accept.includes(NDJSON)) return ndjsonReply(answer, tookMs, headers);
  if (accept.includes(ARROW)) return arrowReply(answer, headers);
  const meta: Record<string, unknown> = { took_ms: tookMs, parse_ms: round(answer.timing.parseMs), plan_ms: round(answer.timing.planMs), exec_ms: round(answer.timing.execMs) };
  if (answer.txn !== undefined) meta.txn = answer.txn;
  if (answer.notice !== undefined) meta.notice = answer.notice;
  const data = { command: answer.command, columns: answer.columns, rows: jsonRows(answer), row_count: answer.rowCount };
  return { status: 200, contentType: 'application/json; charset=utf-8', body: JSON.stringify({ success: true, data, meta }), headers };
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;

function jsonRows(a: SqlAnswer): unknown[][] {
  const types = a.types;
  return a.rows.map((r) => r.map((v, i) => (v === null ? null : valueToJson(v, types[i]))));
}

function ndjsonReply(a: SqlAnswer, tookMs: number, headers: [string, string][]): HttpReply {
  const lines = [JSON.stringify({ command: a.command, columns: a.columns })];
  for (const r of jsonRows(a)) lines.push(JSON.stringify(r));
  lines.push(JSON.stringify({ row_count: a.rowCount, took_ms: tookMs }));
  return { status: 200, contentType: `${NDJSON}; charset=utf-8`, body: `${lines.join('\n')}\n`, headers };
}

/** Arrow IPC stream: one column per result column, Arrow types from the SQL types. */
function arrowReply(a: SqlAnswer, headers: [string, string][]): HttpReply {
  const columns: Record<string, unknown> = {};
  const used = new Set<string>();
  a.columns.forEach((c, i) => {
    let name = c.name;
    for (let n = 1; used.has(name); n++) name = `${c.name}_${n}`;
    used.add(name);
    const t = a.types[i];
    if (t === 'timestamptz' || t === 'timestamp') {
      // Microseconds straight into the Int64 buffer (the builder takes milliseconds as doubles).
      const data = new BigInt64Array(a.rows.length);
      const nulls = new Uint8Array((a.rows.length + 7) >> 3);
      let nullCount = 0;
      a.rows.forEach((r, j) => {
        const v = r[i];
        if (v === null) nullCount++;
        else {
          data[j] = typeof v === 'bigint' ? v : BigInt(Math.trunc(v as number));
          nulls[j >> 3] |= 1 << (j & 7);
        }
      });
      columns[name] = makeVector(makeData({ type: new TimestampMicrosecond(), length: a.rows.length, nullCount, nullBitmap: nullCount > 0 ? nulls : null, data }));
      return;
    }
    const values = a.rows.map((r) => arrowValue(r[i], t));
    columns[name] = vectorFromArray(values, arrowType(t));
  });
  const table = a.columns.length === 0 ? new Table() : new Table(columns as unknown as Record<string, ReturnType<typeof vectorFromArray>>);
  return { status: 200, contentType: ARROW, body: tableToIPC(table, 'stream'), headers };
}

function arrowType(t: SqlType): DataType {
  switch (t) {
    case 'bool':
      return new Bool();
    case 'int2':
      return new Int16();
    case 'int4':
      return new Int32();
    case 'int8':
      return new Int64();
    case 'float4':
      return new Float32();
    case 'float8':
    case 'numeric':
      return new Float64();
    case 'timestamptz':
    case 'timestamp':
      return new TimestampMicrosecond();
    case 'date':
      return new DateDay();
    case 'bytea':
      return new Binary();
    default:
      return new Utf8();
  }
}

function arrowValue(v: Value, t: SqlType): unknown {
  if (v === null) return null;
  switch (t) {
    case 'int8':
      return typeof v === 'bigint' ? v : BigInt(v as number);
    case 'timestamptz':
    case 'timestamp':
      return typeof v === 'bigint' ? v : BigInt(Math.trunc(v as number));
    case 'date':
      return new Date(Math.floor((v as number) / 1000));
    case 'interval':
      return formatInterval(v as Interval);
    case 'jsonb':
      return JSON.stringify((v as Jsonb).value);
    default:
      return v;
  }
}

// ---- route spec (the OpenAPI description is built from it; see api-spec.ts) -------------------

const SQL_CODES = Object.keys(ErrorCode).filter((c) => c.startsWith('SQL_')) as ErrorCode[];

const SQL_OK = ok(
  'The result (JSON; NDJSON or Arrow as Accept asks).',
  closed(
    { command: str('the command tag: SELECT, INSERT, BEGIN …'), columns: arr(closed({ name: str(), type: str() }, ['name', 'type'])), rows: arr(arr(any())), row_count: int() },
    ['command', 'columns', 'rows', 'row_count'],
  ),
  { command: 'SELECT', columns: [{ name: 'city', type: 'text' }, { name: 'count', type: 'int8' }], rows: [['Lyon', 1], ['Paris', 1]], row_count: 2 },
  {
    meta: closed({ took_ms: num(), parse_ms: num(), plan_ms: num(), exec_ms: num(), txn: str('after BEGIN: the transaction id'), notice: str() }, ['took_ms', 'parse_ms', 'plan_ms', 'exec_ms']),
    metaExample: { took_ms: 2.1, parse_ms: 0.1, plan_ms: 0.3, exec_ms: 1.6 },
    headers: { 'Mantis-Txn': { description: 'After BEGIN: the new transaction\'s id.', schema: str() } },
  },
);
const SQL_OTHER_FORMATS = {
  [NDJSON]: {
    schema: str('a header line {command, columns}, one JSON array per row, a trailer line {row_count, took_ms}'),
    example: '{"command":"SELECT","columns":[{"name":"city","type":"text"}]}\n["Lyon"]\n{"row_count":1,"took_ms":0.8}\n',
  },
  [ARROW]: { schema: any('an Arrow IPC stream, one column per result column') },
};

export const SQL_SPEC: RouteSpec = {
  method: 'POST',
  path: SQL_PATH,
  tag: 'SQL',
  summary: 'Run one SQL statement',
  description:
    'One PostgreSQL-dialect statement; $1, $2 … bind params in order (at most 65,535). DDL and DML answer their command tag with row_count = rows affected (and the RETURNING rows). BEGIN answers the new transaction\'s id in meta.txn and the Mantis-Txn response header; later statements send that header; COMMIT or ROLLBACK end it. Every error carries error.sqlstate (and error.position where PostgreSQL gives one). Accept: application/x-ndjson answers a header line, one JSON array per row and a trailer line; Accept: application/vnd.apache.arrow.stream answers an Arrow IPC stream. Other methods are 405.',
  params: [TXN, DEADLINE, headerParam('Accept', 'application/x-ndjson or application/vnd.apache.arrow.stream for another answer format (default JSON).', str())],
  body: jsonBodySpec(closed({ query: str('one SQL statement'), params: arr(any(), 'bind values for $1, $2 …', { maxItems: PARAMS_MAX }) }, ['query']), {
    query: 'SELECT city, count(*) FROM people WHERE age > $1 GROUP BY city ORDER BY 2 DESC',
    params: [2],
  }, { lenient: true }),
  responses: [{ ...SQL_OK, content: { ...SQL_OK.content, ...SQL_OTHER_FORMATS } }],
  errors: [
    ...SQL_CODES,
    'INVALID_PARAMETER',
    'INVALID_JSON',
    'UNSUPPORTED_MEDIA_TYPE',
    'FORBIDDEN',
    'TABLE_NOT_FOUND',
    'DUPLICATE_KEY',
    'NOT_NULL_VIOLATION',
    'TYPE_MISMATCH',
    'KEY_TOO_LARGE',
    'TXN_CONFLICT',
    'TXN_ABORTED',
    'TXN_NOT_FOUND',
    'TXN_EXPIRED',
    'TXN_SNAPSHOT_TOO_OLD',
    'TXN_OUTCOME_UNKNOWN',
    'TXN_LIMIT',
    ...SHARD_WRITE,
    'DATA_CORRUPT',
  ],
  permission: 'sql:read',
  permissionNote: 'Each statement also needs the permissions of what it reads and writes (tables:<t>, docs:<c>, kv:<prefix>), and row-level security applies.',
};

// ---- Hono ----

export function registerSqlRoutes(app: Hono<{ Bindings: Bindings }>, handler: SqlHandler): void {
  dispatch(app, [SQL_PATH], [SQL_SPEC], async (c: Context<{ Bindings: Bindings }>) =>
    toResponse(
      await handler.handle({
        principal: c.env.principal,
        method: c.req.method,
        contentType: c.req.header('content-type'),
        accept: c.req.header('accept'),
        txn: c.req.header(TXN_HEADER),
        deadline: { header: c.req.header('mantis-deadline-ms'), receivedAtMs: c.env.receivedAtMs },
        body: new Uint8Array(await c.req.arrayBuffer()),
        signal: c.req.raw.signal,
      }),
    ),
  );
}
