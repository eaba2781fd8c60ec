// Transactions over HTTP.
//   POST /api/v1/txn                  {"isolation"?, "timeout_ms"?} → {id, isolation, timeout_ms, snapshot_ts}
//   POST /api/v1/txn/:id/commit       → {id, committed: true, commit_ts}; 409 TXN_CONFLICT names the key
//   POST /api/v1/txn/:id/rollback     → {id, rolled_back: true}
//   POST /api/v1/txn/execute          {"isolation"?, "conditions"?, "operations"} one-shot, atomic
// and the KV routes with a `Mantis-Txn: <id>` header (createTxnKvHandlers),
// which both listeners call: GET/HEAD/PUT/DELETE of a key and the prefix
// listing read and write inside the transaction.

import type { Context, Hono } from 'hono';
import { MantisError } from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';
import { ISOLATION_LEVELS, isIsolation, type Isolation } from '../../shared/txn/txn-wire.js';
import type { Logger } from '../log.js';
import { contentTypeOf, deadlineFromHeader, expiryFromTtl, keyFromPath, keyFromString, parseListParams, type DeadlineHeader } from '../kv/index.js';
import type { Condition, ExecuteOp, ExecuteResult, ReadResult, TxnManager } from '../txn/txn-manager.js';
import { toResponse, type Bindings } from './hono-app.js';
import { jsonBody, keyField, onlyFields } from './json-body.js';
import { valueTooLarge } from './kv-handlers.js';
import { TXN_PREFIX } from './routes.js';
import { errorReply, guarded, okReply, type HttpReply } from './reply.js';
import {
  any,
  arr,
  bool,
  closed,
  DEADLINE,
  int,
  JSON_ERRORS,
  jsonBody as jsonBodySpec,
  ok,
  oneOf,
  pathParam,
  ref,
  route,
  SHARD_WRITE,
  str,
  type RouteSpec,
} from './api-spec.js';

import type { KvAccess } from '../security/kv-access.js';

export const TXN_HEADER = 'mantis-txn';
const TXN_ID_MAX_CHARS = 255;
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export type TxnKvHandlers = ReturnType<typeof createTxnKvHandlers>;

/** The Mantis-Txn header's id (non-empty, printable, at most 255 characters). */
export function txnIdOf(header: string): string {
  const id = header.trim();
  if (id === '' || id.length > TXN_ID_MAX_CHARS || !/^[\x21-\x2e\x30-\x7e]+$/.test(id)) {
    throw new MantisError('INVALID_PARAMETER', `a transaction id (Mantis-Txn, or in the path) is the id POST /api/v1/txn returned: 1–${TXN_ID_MAX_CHARS} printable characters, no "/"`);
  }
  return id;
}

export function createTxnKvHandlers(txns: TxnManager, maxValueBytes: number, log: Logger) {
  const report = (error: unknown): void => log.error({ err: error }, 'unexpected error in a transaction route');
  const guard = guarded(report);
  return {
    get: (header: string, rawKey: string, head: boolean, deadline: DeadlineHeader): Promise<HttpReply> =>
      guard(async () => {
        const deadlineMs = deadlineFromHeader(deadline);
        const read = await txns.get(txnIdOf(header), keyFromPath(rawKey), deadlineMs);
        if (read === null) {
          const missing = errorReply(new MantisError('KEY_NOT_FOUND', 'no such key in this transaction\'s view (or it expired)'));
          return head ? { ...missing, body: '' } : missing;
        }
        const headers: [string, string][] = [];
        if (read.version !== null) headers.push(['Mantis-Version', read.version]);
        if (read.entry.expiresAtMs !== 0) headers.push(['Mantis-Expires-At', new Date(read.entry.expiresAtMs).toISOString()]);
        if (head) return { status: 200, contentType: read.entry.contentType, body: '', headLength: read.entry.value.length, headers };
        return { status: 200, contentType: read.entry.contentType, body: read.entry.value, headers };
      }),

    put: (header: string, rawKey: string, rawQuery: string, contentTypeHeader: string | undefined, body: Uint8Array): Promise<HttpReply> =>
      guard(async () => {
        const id = txnIdOf(header);
        const key = keyFromPath(rawKey);
        const query = new URLSearchParams(rawQuery);
        if (query.has('tags')) throw new MantisError('INVALID_PARAMETER', '?tags= is not supported inside a transaction');
        const expiresAtMs = expiryFromTtl(query.get('ttl'), Date.now());
        const contentType = contentTypeOf(contentTypeHeader);
        if (body.length > maxValueBytes) throw valueTooLarge(body.length, maxValueBytes);
        await txns.put(id, key, contentType, expiresAtMs, body);
        return okReply({ key: Buffer.from(key).toString('utf8'), bytes: body.length, expires_at: expiresAtMs === 0 ? null : new Date(expiresAtMs).toISOString(), txn: id });
      }),

    delete: (header: string, rawKey: string, deadline: DeadlineHeader): Promise<HttpReply> =>
      guard(async () => {
        const deadlineMs = deadlineFromHeader(deadline);
        const id = txnIdOf(header);
        const key = keyFromPath(rawKey);
        const existed = await txns.delete(id, key, deadlineMs);
        return okReply({ key: Buffer.from(key).toString('utf8'), deleted: existed, txn: id });
      }),

    list: (header: string, rawQuery: string, deadline: DeadlineHeader, access?: KvAccess): Promise<HttpReply> =>
      guard(async () => {
        const deadlineMs = deadlineFromHeader(deadline);
        const id = txnIdOf(header);
        const params = parseListParams(new URLSearchParams(rawQuery));
        if (params.cursor !== null || params.offset !== 0) {
          throw new MantisError('INVALID_PARAMETER', 'cursor and offset paging are not supported inside a transaction; list with prefix and limit');
        }
        const listed = await txns.list(id, params.prefix, params.limit, deadlineMs);
        const more = listed.more;
        const keys = access?.visible == null ? listed.keys : listed.keys.filter(access.visible);
        return okReply(
          keys.map((k) => Buffer.from(k).toString('utf8')),
          { count: keys.length, total: null, page: 1, per_page: params.limit, next_cursor: null, more, txn: id },
        );
      }),

    batch: (): Promise<HttpReply> =>
      guard(async () => {
        throw new MantisError('INVALID_PARAMETER', 'POST /api/v1/kv/batch does not take Mantis-Txn; use POST /api/v1/txn/execute for an atomic batch');
      }),
  };
}

export type TxnRouteHandlers = ReturnType<typeof createTxnRouteHandlers>;

/** The four transaction routes as plain functions (the uWS fast path calls them directly; Hono through registerTxnRoutes). */
export function createTxnRouteHandlers(txns: TxnManager, maxValueBytes: number, log: Logger) {
  const guard = guarded((error) => log.error({ err: error }, 'unexpected error in a transaction route'));
  return {
    begin: (contentType: string | undefined, raw: Uint8Array): Promise<HttpReply> =>
      guard(async () => {
        const body = raw.length === 0 ? {} : jsonBody(contentType, raw, true);
        onlyFields(body, ['isolation', 'timeout_ms']);
        const isolation = isolationOf(body.isolation);
        const timeoutMs = body.timeout_ms === undefined ? LIMITS.txn_timeout_ms_default : body.timeout_ms;
        if (typeof timeoutMs !== 'number' || !Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > LIMITS.txn_timeout_ms_max) {
          throw new MantisError('INVALID_PARAMETER', `"timeout_ms" must be a whole number of ms from 1 to ${LIMITS.txn_timeout_ms_max}`);
        }
        const info = txns.begin(isolation, timeoutMs);
        return okReply({ id: info.id, isolation: info.isolation, timeout_ms: info.timeoutMs, snapshot_ts: info.snapshotTs });
      }),

    /** access: every condition's and operation's key is checked before anything runs. */
    execute: (contentType: string | undefined, raw: Uint8Array, deadline: DeadlineHeader, access?: KvAccess): Promise<HttpReply> =>
      guard(async () => {
        const deadlineMs = deadlineFromHeader(deadline);
        const body = jsonBody(contentType, raw, true);
        onlyFields(body, ['isolation', 'conditions', 'operations']);
        const isolation = isolationOf(body.isolation);
        const conditions = arrayField(body, 'conditions', false).map((c, i) => conditionOf(c, `conditions[${i}]: `));
        const operations = arrayField(body, 'operations', true).map((o, i) => operationOf(o, `operations[${i}]: `, maxValueBytes));
        if (access !== undefined) {
          for (const c of conditions) access.check(c.key, false);
          for (const o of operations) access.check(o.key, o.kind !== 'get');
        }
        const { commit, results } = await txns.execute(isolation, conditions, operations, deadlineMs);
        return okReply({ committed: true, commit_ts: commit.commitTs, results: results.map(resultJson) });
      }),

    /** rawPath: /api/v1/txn/<id>/commit as received. */
    commit: (rawPath: string): Promise<HttpReply> =>
      guard(async () => {
        const id = txnIdOf(idOfPath(rawPath, '/commit'));
        const result = await txns.commit(id);
        return okReply({ id, committed: true, commit_ts: result.commitTs });
      }),

    rollback: (rawPath: string): Promise<HttpReply> =>
      guard(async () => {
        const id = txnIdOf(idOfPath(rawPath, '/rollback'));
        await txns.rollback(id);
        return okReply({ id, rolled_back: true });
      }),
  };
}

/** The id segment of /api/v1/txn/<id>/<action>, percent-decoded. */
function idOfPath(rawPath: string, action: string): string {
  const raw = rawPath.slice(TXN_PREFIX.length, rawPath.length - action.length);
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new MantisError('INVALID_PARAMETER', 'the transaction id in the path is not valid percent-encoding');
  }
}


// ---- route specs (the OpenAPI description is built from these; see api-spec.ts) --------------

const OWNER_NOTE = 'With auth on, a transaction belongs to the identity that began it; another identity gets 403.';
const TXN_ID = pathParam('id', 'The transaction id POST /api/v1/txn answered (percent-encoded).', 'tmiv2c8w-0');

const BEGIN: RouteSpec = {
  method: 'POST',
  path: '/api/v1/txn',
  tag: 'Transactions',
  summary: 'Begin a transaction',
  description:
    'Answers the id to send as the Mantis-Txn header on KV, document, table-row and SQL requests, then commit or roll back. Reads see the snapshot and the transaction\'s own writes; writes are invisible to others until the commit. `timeout_ms` is the idle timeout.',
  body: jsonBodySpec(
    closed({ isolation: ref('Isolation'), timeout_ms: int('idle timeout, default 5000', { minimum: 1, maximum: LIMITS.txn_timeout_ms_max }) }),
    { isolation: 'serializable', timeout_ms: 5000 },
    { required: false, lenient: true, description: 'Optional; an empty body takes the defaults.' },
  ),
  responses: [
    ok(
      'Begun.',
      closed({ id: str(), isolation: ref('Isolation'), timeout_ms: int(), snapshot_ts: int() }, ['id', 'isolation', 'timeout_ms', 'snapshot_ts']),
      { id: 'tmiv2c8w-0', isolation: 'serializable', timeout_ms: 5000, snapshot_ts: 1042 },
    ),
  ],
  errors: [...JSON_ERRORS, 'TXN_LIMIT'],
  permission: 'authenticated',
  permissionNote: OWNER_NOTE,
};

const CONDITION = oneOf(
  closed({ key: str(), value: str('the value, as a string, must equal this') }, ['key', 'value']),
  closed({ key: str(), version: str('the Mantis-Version the key must still have') }, ['key', 'version']),
  closed({ key: str(), exists: bool() }, ['key', 'exists']),
);
const OPERATION = oneOf(
  closed({ op: { enum: ['get', 'delete'] }, key: str() }, ['op', 'key']),
  closed(
    {
      op: { const: 'put' },
      key: str(),
      value: str(),
      content_type: str('default text/plain; charset=utf-8'),
      ttl: oneOf(int(undefined, { minimum: 1 }), str(undefined, { pattern: '^[0-9]+$' })),
    },
    ['op', 'key', 'value'],
  ),
);

const EXECUTE: RouteSpec = {
  method: 'POST',
  path: '/api/v1/txn/execute',
  tag: 'Transactions',
  summary: 'Check conditions and apply operations atomically',
  description:
    'One atomic request: every condition is checked, then the operations run (at most 1000 of each). A failed condition is 409 TXN_CONFLICT with reason "condition". A get whose value is not UTF-8 comes back as base64 with "encoding":"base64".',
  params: [DEADLINE],
  body: jsonBodySpec(
    closed(
      {
        isolation: ref('Isolation'),
        conditions: arr(CONDITION, undefined, { maxItems: LIMITS.txn_execute_items_max }),
        operations: arr(OPERATION, undefined, { minItems: 1, maxItems: LIMITS.txn_execute_items_max }),
      },
      ['operations'],
    ),
    {
      conditions: [{ key: 'acct:a', exists: false }],
      operations: [{ op: 'put', key: 'acct:a', value: '90' }, { op: 'put', key: 'acct:b', value: '110' }, { op: 'get', key: 'acct:c' }],
    },
    { lenient: true },
  ),
  responses: [
    ok(
      'Committed.',
      closed(
        {
          committed: { const: true },
          commit_ts: int(),
          results: arr(
            closed(
              { op: { enum: ['get', 'put', 'delete'] }, key: str(), found: bool(), content_type: str(), version: any('the value\'s version'), value: str(), encoding: { const: 'base64' }, deleted: bool() },
              ['op', 'key'],
            ),
          ),
        },
        ['committed', 'commit_ts', 'results'],
      ),
      {
        committed: true,
        commit_ts: 1060,
        results: [
          { op: 'put', key: 'acct:a' },
          { op: 'put', key: 'acct:b' },
          { op: 'get', key: 'acct:c', found: true, content_type: 'text/plain; charset=utf-8', version: '1042', value: '7' },
        ],
      },
    ),
  ],
  errors: [
    ...JSON_ERRORS,
    'BATCH_TOO_LARGE',
    'INVALID_KEY',
    'KEY_TOO_LARGE',
    'INVALID_TTL',
    'INVALID_CONTENT_TYPE',
    'VALUE_TOO_LARGE',
    'FORBIDDEN',
    'TXN_CONFLICT',
    'TXN_ABORTED',
    'TXN_LIMIT',
    'TXN_OUTCOME_UNKNOWN',
    ...SHARD_WRITE,
    'DATA_CORRUPT',
  ],
  permission: 'authenticated',
  permissionNote: 'Each condition\'s key needs kv:<key> read, each operation\'s key read (get) or write (put, delete), all checked before anything runs.',
};

const COMMIT: RouteSpec = {
  method: 'POST',
  path: '/api/v1/txn/{id}/commit',
  tag: 'Transactions',
  summary: 'Commit a transaction',
  description: 'A conflict is 409 TXN_CONFLICT naming the key and the reason (write, read, range, locked): retry the whole transaction. TXN_OUTCOME_UNKNOWN: the commit may or may not have happened.',
  params: [TXN_ID],
  responses: [ok('Committed.', closed({ id: str(), committed: { const: true }, commit_ts: int() }, ['id', 'committed', 'commit_ts']), { id: 'tmiv2c8w-0', committed: true, commit_ts: 1057 })],
  errors: ['INVALID_PARAMETER', 'FORBIDDEN', 'TXN_NOT_FOUND', 'TXN_CONFLICT', 'TXN_ABORTED', 'TXN_EXPIRED', 'TXN_SNAPSHOT_TOO_OLD', 'TXN_OUTCOME_UNKNOWN', ...SHARD_WRITE],
  permission: 'authenticated',
  permissionNote: OWNER_NOTE,
};

const ROLLBACK: RouteSpec = {
  method: 'POST',
  path: '/api/v1/txn/{id}/rollback',
  tag: 'Transactions',
  summary: 'Roll a transaction back',
  params: [TXN_ID],
  responses: [ok('Rolled back.', closed({ id: str(), rolled_back: { const: true } }, ['id', 'rolled_back']), { id: 'tmiv2c8w-0', rolled_back: true })],
  errors: ['INVALID_PARAMETER', 'FORBIDDEN', 'TXN_NOT_FOUND', 'TXN_ABORTED', 'TXN_EXPIRED', 'SHARD_UNAVAILABLE', 'SHARD_BUSY'],
  permission: 'authenticated',
  permissionNote: OWNER_NOTE,
};

export function registerTxnRoutes(app: Hono<{ Bindings: Bindings }>, handlers: TxnRouteHandlers, accessOf: (c: Context<{ Bindings: Bindings }>) => KvAccess | undefined = () => undefined): void {
  const bodyOf = async (request: Request): Promise<Uint8Array> => new Uint8Array(await request.arrayBuffer());
  route(app, BEGIN, async (c) => toResponse(await handlers.begin(c.req.header('content-type'), await bodyOf(c.req.raw))));
  route(app, EXECUTE, async (c) =>
    toResponse(await handlers.execute(c.req.header('content-type'), await bodyOf(c.req.raw), { header: c.req.header('mantis-deadline-ms'), receivedAtMs: c.env.receivedAtMs }, accessOf(c))),
  );
  route(app, COMMIT, async (c) => toResponse(await handlers.commit(c.env.rawPath)));
  route(app, ROLLBACK, async (c) => toResponse(await handlers.rollback(c.env.rawPath)));
}

function isolationOf(value: unknown): Isolation {
  if (value === undefined) return 'serializable';
  if (!isIsolation(value)) throw new MantisError('INVALID_PARAMETER', `"isolation" must be one of ${ISOLATION_LEVELS.map((l) => `"${l}"`).join(', ')}`);
  return value;
}

function arrayField(body: Record<string, unknown>, name: string, required: boolean): Record<string, unknown>[] {
  const value = body[name];
  if (value === undefined && !required) return [];
  if (!Array.isArray(value) || (required && value.length === 0)) throw new MantisError('INVALID_PARAMETER', `"${name}" must be a${required ? ' non-empty' : 'n'} array`);
  if (value.length > LIMITS.txn_execute_items_max) throw new MantisError('BATCH_TOO_LARGE', `"${name}" has ${value.length} items; the limit is ${LIMITS.txn_execute_items_max}`);
  return value.map((item, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new MantisError('INVALID_PARAMETER', `${name}[${i}] must be an object`);
    return item as Record<string, unknown>;
  });
}

function conditionOf(c: Record<string, unknown>, where: string): Condition {
  onlyFields(c, ['key', 'value', 'version', 'exists'], where);
  const key = keyFromString(keyField(c, 'key', where));
  const given = ['value', 'version', 'exists'].filter((f) => c[f] !== undefined);
  if (given.length !== 1) throw new MantisError('INVALID_PARAMETER', `${where}give exactly one of "value", "version" or "exists"`);
  if (c.value !== undefined) {
    if (typeof c.value !== 'string') throw new MantisError('INVALID_PARAMETER', `${where}"value" must be a string`);
    return { key, kind: 'value', value: utf8.encode(c.value) };
  }
  if (c.version !== undefined) {
    if (typeof c.version !== 'string' || c.version === '') throw new MantisError('INVALID_PARAMETER', `${where}"version" must be a version string (Mantis-Version)`);
    return { key, kind: 'version', version: c.version };
  }
  if (typeof c.exists !== 'boolean') throw new MantisError('INVALID_PARAMETER', `${where}"exists" must be true or false`);
  return { key, kind: 'exists', exists: c.exists };
}

function operationOf(o: Record<string, unknown>, where: string, maxValueBytes: number): ExecuteOp {
  switch (o.op) {
    case 'get':
    case 'delete':
      onlyFields(o, ['op', 'key'], where);
      return { kind: o.op, key: keyFromString(keyField(o, 'key', where)) };
    case 'put': {
      onlyFields(o, ['op', 'key', 'value', 'content_type', 'ttl'], where);
      const key = keyFromString(keyField(o, 'key', where));
      if (typeof o.value !== 'string') throw new MantisError('INVALID_PARAMETER', `${where}"value" must be a string`);
      const value = utf8.encode(o.value);
      if (value.length > maxValueBytes) throw valueTooLarge(value.length, maxValueBytes);
      if (o.content_type !== undefined && typeof o.content_type !== 'string') throw new MantisError('INVALID_PARAMETER', `${where}"content_type" must be a string`);
      const contentType = contentTypeOf(o.content_type ?? 'text/plain; charset=utf-8');
      const expiresAtMs = o.ttl === undefined ? 0 : expiryFromTtl(typeof o.ttl === 'number' ? String(o.ttl) : o.ttl, Date.now());
      return { kind: 'put', key, contentType, expiresAtMs, value };
    }
    default:
      throw new MantisError('INVALID_PARAMETER', `${where}"op" must be "get", "put" or "delete"`);
  }
}

function resultJson(result: ExecuteResult): Record<string, unknown> {
  const key = Buffer.from(result.key).toString('utf8');
  switch (result.kind) {
    case 'get':
      return readJson(key, result.read);
    case 'put':
      return { op: 'put', key };
    case 'delete':
      return { op: 'delete', key, deleted: result.existed };
  }
}

function readJson(key: string, read: ReadResult): Record<string, unknown> {
  if (read === null) return { op: 'get', key, found: false };
  const out: Record<string, unknown> = { op: 'get', key, found: true, content_type: read.entry.contentType, version: read.version };
  try {
    out.value = strictUtf8.decode(read.entry.value);
  } catch {
    out.value = Buffer.from(read.entry.value).toString('base64');
    out.encoding = 'base64';
  }
  return out;
}
