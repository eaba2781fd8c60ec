// CQL over HTTP (issue 12):
//
//   POST /api/v1/cql  {"query": "SELECT …", "params": [...] | {...}, "consistency": "ONE",
//                      "page_size": 5000, "paging_state": null}
//                     → {columns: [...], rows: [[...]], paging_state: string | null}
//
// One statement per request (BEGIN BATCH … APPLY BATCH counts as one).
// `params` binds `?` markers in order (an array) or `:name` markers (an
// object); cells come back as JSON the way the tables API shows them.
// `consistency` is accepted (any Cassandra level) and ignored: a single
// server has one replica. A SELECT answers at most page_size rows and a
// paging_state to send back (with the same query and params) for the next
// page. Errors carry Cassandra's classes as codes: SyntaxException (400),
// Invalid (400), AlreadyExists (409); the others are the server's usual ones.

import type { Context, Hono } from 'hono';
import { MantisError } from '../../shared/errors.js';
import { CqlExecutor, PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX, type CqlSecurityOptions } from '../cql/cql-exec.js';
import { deadlineFromHeader, type DeadlineHeader } from '../kv/index.js';
import type { Logger } from '../log.js';
import type { TableService } from '../tables/table-service.js';
import type { Bindings } from './hono-app.js';
import { toResponse } from './hono-app.js';
import { jsonBody, onlyFields } from './json-body.js';
import { guarded, okReply, type HttpReply } from './reply.js';
import { CQL_PATH } from './routes.js';
import { TXN_HEADER } from './txn-routes.js';
import type { Principal } from '../security/principal.js';
import { any, arr, closed, DEADLINE, dispatch, enumOf, int, jsonBody as jsonBodySpec, nullable, num, obj, ok, oneOf, SHARD_WRITE, str, type RouteSpec } from './api-spec.js';

export type CqlRequestParts = {
  readonly method: string;
  readonly contentType: string | undefined;
  /** The Mantis-Txn header, when given (refused: CQL does not run inside transactions). */
  readonly txn: string | undefined;
  readonly deadline: DeadlineHeader;
  readonly body: Uint8Array;
  /** Who is asking (undefined: the system, when auth is off); row-level security reads it. */
  readonly principal?: Principal;
};

export type CqlHandler = { handle(parts: CqlRequestParts): Promise<HttpReply> };

const CONSISTENCY_LEVELS = new Set(['ANY', 'ONE', 'TWO', 'THREE', 'QUORUM', 'ALL', 'LOCAL_QUORUM', 'EACH_QUORUM', 'SERIAL', 'LOCAL_SERIAL', 'LOCAL_ONE']);

/** `security` (auth on): per-statement table permissions; tables under row-level security are refused to callers under it. */
export function createCqlHandler(service: TableService, log: Logger, security?: CqlSecurityOptions): CqlHandler {
  const executor = new CqlExecutor(service, security);
  const guard = guarded((error) => log.error({ err: error }, 'unexpected error in the CQL route'));
  return { handle: (parts) => guard(() => serve(executor, parts)) };
}

async function serve(executor: CqlExecutor, p: CqlRequestParts): Promise<HttpReply> {
  if (p.method !== 'POST') throw new MantisError('METHOD_NOT_ALLOWED', `${p.method} is not allowed on ${CQL_PATH}; use POST`);
  if (p.txn !== undefined) throw new MantisError('INVALID_PARAMETER', 'CQL statements do not run inside a transaction: send them without the Mantis-Txn header');
  const deadlineMs = deadlineFromHeader(p.deadline);
  const body = jsonBody(p.contentType, p.body, true);
  onlyFields(body, ['query', 'params', 'consistency', 'serial_consistency', 'page_size', 'paging_state']);
  if (typeof body.query !== 'string') throw new MantisError('INVALID_PARAMETER', '"query" must be a CQL statement (a string)');
  for (const field of ['consistency', 'serial_consistency']) {
    const level = body[field];
    if (level !== undefined && level !== null && (typeof level !== 'string' || !CONSISTENCY_LEVELS.has(level.toUpperCase()))) {
      throw new MantisError('INVALID_PARAMETER', `"${field}" must be one of ${[...CONSISTENCY_LEVELS].join(', ')}`);
    }
  }
  const pageSize = body.page_size ?? PAGE_SIZE_DEFAULT;
  if (typeof pageSize !== 'number' || !Number.isInteger(pageSize) || pageSize < 1 || pageSize > PAGE_SIZE_MAX) {
    throw new MantisError('INVALID_PARAMETER', `"page_size" must be an integer in 1..${PAGE_SIZE_MAX}`);
  }
  const pagingState = body.paging_state ?? null;
  if (pagingState !== null && typeof pagingState !== 'string') throw new MantisError('INVALID_PARAMETER', '"paging_state" must be the paging_state string of a previous answer');
  const started = performance.now();
  const answer = await executor.execute({ query: body.query, params: body.params, pageSize, pagingState, deadlineMs, ...(p.principal === undefined ? {} : { principal: p.principal }) });
  return okReply(
    { columns: answer.columns, rows: answer.rows, paging_state: answer.pagingState },
    { count: answer.rows.length, took_ms: Math.round((performance.now() - started) * 1000) / 1000 },
  );
}

// ---- route spec (the OpenAPI description is built from it; see api-spec.ts) -------------------

export const CQL_SPEC: RouteSpec = {
  method: 'POST',
  path: CQL_PATH,
  tag: 'CQL',
  summary: 'Run one CQL statement',
  description:
    'One Cassandra Query Language statement over the tables (BEGIN BATCH … APPLY BATCH counts as one). params binds ? markers in order (an array) or :name markers (an object); cells come back as JSON the way the tables API shows them. consistency and serial_consistency are checked and ignored (one replica). A SELECT answers at most page_size rows and a paging_state to send back (with the same query and params) for the next page. Mantis-Txn is refused (400). Other methods are 405.',
  params: [DEADLINE],
  body: jsonBodySpec(
    closed(
      {
        query: str('one CQL statement'),
        params: oneOf(arr(any()), obj({})),
        consistency: nullable(enumOf([...CONSISTENCY_LEVELS], 'any case')),
        serial_consistency: nullable(enumOf([...CONSISTENCY_LEVELS], 'any case')),
        page_size: int('default 5000', { minimum: 1, maximum: PAGE_SIZE_MAX }),
        paging_state: nullable(str('paging_state of the previous answer')),
      },
      ['query'],
    ),
    { query: 'SELECT id, name, age, city FROM people WHERE id = ?', params: [1] },
    { lenient: true },
  ),
  responses: [
    ok(
      'The result.',
      closed({ columns: arr(str()), rows: arr(arr(any())), paging_state: nullable(str()) }, ['columns', 'rows', 'paging_state']),
      {
        columns: ['id', 'name', 'age', 'city'],
        rows: [[1, 'Ada', 36, 'London']],
        paging_state: null,
      },
      { meta: closed({ count: int(), took_ms: num() }, ['count', 'took_ms']), metaExample: { count: 1, took_ms: 1.2 } },
    ),
  ],
  errors: [
    'SyntaxException',
    'Invalid',
    'AlreadyExists',
    'INVALID_PARAMETER',
    'INVALID_JSON',
    'UNSUPPORTED_MEDIA_TYPE',
    'FORBIDDEN',
    'DUPLICATE_KEY',
    'KEY_TOO_LARGE',
    'INVALID_TTL',
    ...SHARD_WRITE,
    'DATA_CORRUPT',
  ],
  permission: 'sql:read',
  permissionNote: 'Each statement also needs its tables\' permissions (tables:<t> read or write); tables under row-level security are refused to callers under it.',
};

// ---- Hono ----

export function registerCqlRoutes(app: Hono<{ Bindings: Bindings }>, handler: CqlHandler): void {
  dispatch(app, [CQL_PATH], [CQL_SPEC], async (c: Context<{ Bindings: Bindings }>) =>
    toResponse(
      await handler.handle({
        principal: c.env.principal,
        method: c.req.method,
        contentType: c.req.header('content-type'),
        txn: c.req.header(TXN_HEADER),
        deadline: { header: c.req.header('mantis-deadline-ms'), receivedAtMs: c.env.receivedAtMs },
        body: new Uint8Array(await c.req.arrayBuffer()),
      }),
    ),
  );
}
