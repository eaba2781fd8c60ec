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


export function registerTxnRoutes(app: Hono<{ Bindings: Bindings }>, handlers: TxnRouteHandlers, accessOf: (c: Context<{ Bindings: Bindings }>) => KvAccess | undefined = () => undefined): void {
  const bodyOf = async (request: Request): Promise<Uint8Array> => new Uint8Array(await request.arrayBuffer());
  app.post('/api/v1/txn', async (c) => toResponse(await handlers.begin(c.req.header('content-type'), await bodyOf(c.req.raw))));
  app.post('/api/v1/txn/execute', async (c) =>
    toResponse(await handlers.execute(c.req.header('content-type'), await bodyOf(c.req.raw), { header: c.req.header('mantis-deadline-ms'), receivedAtMs: c.env.receivedAtMs }, accessOf(c))),
  );
  app.post('/api/v1/txn/:id/commit', async (c) => toResponse(await handlers.commit(c.env.rawPath)));
  app.post('/api/v1/txn/:id/rollback', async (c) => toResponse(await handlers.rollback(c.env.rawPath)));
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
