// Every route of the server declared in one Hono app. The uWebSockets.js
// listener hands requests to it (or, for the hot KV routes, calls the same
// handlers directly). Bindings carry the raw path and query as received, so
// keys are decoded exactly once and the same way on both paths.

import { Hono, type Context } from 'hono';
import { MantisError } from '../../shared/errors.js';
import { ShardMetric } from '../../shared/metrics-layout.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics/metrics.js';
import type { ShardPool } from '../router/index.js';
import type { DeadlineHeader } from '../kv/index.js';
import { cacheStatsReply } from './cache-stats.js';
import { registerCacheRoutes } from './cache-routes.js';
import type { CacheControl } from '../cache/cache-control.js';
import type { KvHandlers } from './kv-handlers.js';
import { registerTxnRoutes, TXN_HEADER, type TxnKvHandlers, type TxnRouteHandlers } from './txn-routes.js';
import { registerDocRoutes, type DocHandlers } from './doc-routes.js';
import { registerTableRoutes, type TableHandlers } from './table-routes.js';
import { registerCqlRoutes, type CqlHandler } from './cql-routes.js';
import { registerSqlRoutes, type SqlHandler } from './sql-routes.js';
import { errorReply, okReply, replyForError, type HttpReply } from './reply.js';
import { KV_ITEM_PREFIX } from './routes.js';
import type { Principal } from '../security/principal.js';
import { kvAccessFor } from '../security/kv-access.js';
import { actorOf, registerAuthRoutes, type AuthRouteDeps } from './auth-routes.js';
import { SYSTEM } from '../security/principal.js';
import { registerOpsRoutes, type OpsRouteDeps } from './ops-routes.js';
import { registerBackupRoutes, type BackupRouteDeps } from './backup-routes.js';
import { registerAdminStatic } from './admin-static.js';
import {
  any,
  arr,
  bool,
  closed,
  DEADLINE,
  empty,
  fallback,
  int,
  nullable,
  obj,
  ok,
  oneOf,
  queryParam,
  raw,
  ref,
  route,
  SHARD_READ,
  SHARD_WRITE,
  str,
  TXN,
  TXN_ERRORS,
  dateTime,
  type ParamSpec,
  type RouteSpec,
} from './api-spec.js';
import { registerApiDocs } from './openapi.js';

/** receivedAtMs: when the listener got the request; a Mantis-Deadline-Ms budget counts from it. */
export type Bindings = {
  readonly rawPath: string;
  readonly rawQuery: string;
  readonly receivedAtMs: number;
  /** Who is asking, settled by the listener's gate (undefined: the system, when auth is off). */
  readonly principal?: Principal;
  /** The client's address (auth routes: brute-force counters, the audit log). */
  readonly ip?: string;
};
type AppEnv = { Bindings: Bindings };

export type AppDeps = {
  readonly kv: KvHandlers;
  readonly pool: ShardPool;
  readonly metrics: Metrics;
  readonly log: Logger;
  readonly cache: CacheControl;
  readonly txnKv: TxnKvHandlers;
  readonly txnRoutes: TxnRouteHandlers;
  readonly docs: DocHandlers;
  readonly tables: TableHandlers;
  readonly cql: CqlHandler;
  readonly sql?: SqlHandler;
  readonly auth?: AuthRouteDeps;
  /** Metric history, alerts, backups and storage (absent in tools that build the app alone). */
  readonly ops?: Omit<OpsRouteDeps, 'audit'>;
  readonly backups?: Omit<BackupRouteDeps, 'audit'>;
  /** The routes served outside Hono (the native streams), for the OpenAPI description. */
  readonly native?: readonly RouteSpec[];
};

export function toResponse(reply: HttpReply): Response {
  const headers = new Headers(reply.headers?.map(([k, v]) => [k, v]));
  headers.set('Content-Type', reply.contentType);
  if (reply.headLength !== undefined) {
    headers.set('Content-Length', String(reply.headLength));
    return new Response(null, { status: reply.status, headers });
  }
  return new Response(reply.body, { status: reply.status, headers });
}

// ---- route specs (the OpenAPI description is built from these; see api-spec.ts) --------------

const HEALTH_LIVE: RouteSpec = {
  method: 'GET',
  path: '/health/live',
  tag: 'Health',
  summary: 'Liveness',
  description: '200 while the process runs.',
  responses: [ok('The process runs.', closed({ live: { const: true } }, ['live']), { live: true })],
  errors: [],
  permission: 'public',
};

const READY_EXAMPLE = {
  id: 0,
  state: 'ready',
  keys: 2,
  restarts: 0,
  storage_failed: false,
  quarantined_tables: 0,
  disk: { table_bytes: 0, wal_bytes: 4096, free_bytes: 52613349376 },
  replay: { segments: 1, records: 12, bytes: 4096, lastLsn: 12, droppedBytes: 0, truncatedReason: null, durationMs: 4 },
};

const HEALTH_READY: RouteSpec = {
  method: 'GET',
  path: '/health/ready',
  tag: 'Health',
  summary: 'Readiness: every shard has replayed its WAL',
  description: '200 once every shard has replayed its WAL; until then 503 SHARD_UNAVAILABLE with the same `data`.',
  responses: [
    ok('Every shard is ready.', closed({ ready: { const: true }, shards: arr(ref('ShardHealth')) }, ['ready', 'shards']), { ready: true, shards: [READY_EXAMPLE] }),
    {
      status: 503,
      description: 'Not every shard is ready: the error envelope with `data` as in the 200 answer.',
      content: {
        'application/json': {
          schema: { allOf: [ref('ErrorEnvelope'), obj({ data: closed({ ready: { const: false }, shards: arr(ref('ShardHealth')) }, ['ready', 'shards']) }, ['data'])] },
          example: {
            success: false,
            error: { code: 'SHARD_UNAVAILABLE', message: 'not every shard has replayed its WAL', retryable: true },
            data: { ready: false, shards: [{ ...READY_EXAMPLE, state: 'starting', replay: null }] },
          },
        },
      },
    },
  ],
  errors: ['SHARD_UNAVAILABLE'],
  permission: 'public',
};

const PROMETHEUS: RouteSpec = {
  method: 'GET',
  path: '/api/metrics/prometheus',
  tag: 'Health',
  summary: 'Prometheus metrics',
  description: 'The Prometheus text exposition format (version 0.0.4). docs/operations.md lists the metric families.',
  responses: [raw(200, 'The metrics.', 'text/plain', str('Prometheus text format'), 'mantis_shard_ready{shard="0"} 1\nmantis_shard_ready{shard="1"} 1\n')],
  errors: [],
  permission: 'admin:read',
};

const CACHE_STATS: RouteSpec = {
  method: 'GET',
  path: '/api/v1/cache/stats',
  tag: 'Cache',
  summary: 'Cache counters per shard and in total',
  description: 'Read from the shards\' cache segments in shared memory (no shard message). `hit_rate` is null before the first lookup.',
  responses: [
    ok(
      'The counters.',
      closed({ enabled: bool(), total: ref('CacheFigures'), shards: arr({ allOf: [obj({ id: int() }, ['id']), ref('CacheFigures')] }) }, ['enabled', 'total', 'shards']),
      {
        enabled: true,
        total: { hits: 9120, misses: 310, hit_rate: 0.967, evictions: 0, expirations: 4, refused: 0, fallbacks: 0, bytes: 1048576, entries: 9000, capacity: 44739242 },
        shards: [{ id: 0, hits: 9120, misses: 310, hit_rate: 0.967, evictions: 0, expirations: 4, refused: 0, fallbacks: 0, bytes: 1048576, entries: 9000, capacity: 44739242 }],
      },
    ),
  ],
  errors: [],
  permission: 'cache:read',
};

const KEY_PARAM: ParamSpec = {
  name: 'key',
  in: 'path',
  rest: true,
  required: true,
  description: 'The key: 1–1024 bytes of UTF-8, percent-decoded.',
  schema: str(undefined, { minLength: 1 }),
  example: 'user:1',
};
const EXPIRES_HEADER = { description: 'When the key expires (RFC 3339), when it has a TTL.', schema: dateTime() };
const VERSION_HEADER = { description: 'Inside a transaction: the version of the value read (for a txn/execute condition); absent for the transaction\'s own writes.', schema: str() };
const KV_READ_ERRORS = ['INVALID_KEY', 'KEY_TOO_LARGE', 'KEY_NOT_FOUND', ...SHARD_READ, ...TXN_ERRORS] as const;

const KV_GET: RouteSpec = {
  method: 'GET',
  path: '/api/v1/kv/{key}',
  tag: 'Key-value',
  summary: 'Read a key',
  description:
    'The raw value, with the Content-Type it was stored with (default application/octet-stream). A missing or expired key is 404 KEY_NOT_FOUND. With Mantis-Txn the read is at the transaction\'s snapshot and sees its own writes.',
  params: [KEY_PARAM, TXN, DEADLINE],
  responses: [
    raw(200, 'The value as stored.', '*/*', any('the value\'s bytes'), '{"name":"Ada"}', {
      'Mantis-Expires-At': EXPIRES_HEADER,
      'Mantis-Version': VERSION_HEADER,
    }),
  ],
  errors: [...KV_READ_ERRORS],
  permission: 'kv:{key}:read',
};

const KV_HEAD: RouteSpec = {
  ...KV_GET,
  method: 'HEAD',
  summary: 'A key\'s headers, without the value',
  description: 'As GET, with no body: the Content-Type the value was stored with, Content-Length (the value\'s size), Mantis-Expires-At. A missing key is 404 with an empty body.',
  responses: [
    empty(200, 'The key exists.', {
      'Content-Length': { description: 'The value\'s size in bytes.', schema: int() },
      'Mantis-Expires-At': EXPIRES_HEADER,
      'Mantis-Version': VERSION_HEADER,
    }),
    empty(404, 'No such key (or it expired).'),
  ],
};

const KV_PUT: RouteSpec = {
  method: 'PUT',
  path: '/api/v1/kv/{key}',
  tag: 'Key-value',
  summary: 'Write a key',
  description:
    'Stores the body as the value with its Content-Type (printable ASCII, at most 255 bytes; default application/octet-stream). Note that PUT, GET and DELETE /api/v1/kv/batch address the key named "batch". With Mantis-Txn the write is buffered in the transaction (no ?tags=).',
  params: [
    KEY_PARAM,
    queryParam('ttl', 'Seconds until the key expires, 1..315360000. Without it the key has no TTL (a PUT without ttl removes an earlier one).', int(undefined, { minimum: 1, maximum: 315_360_000 }), 3600),
    queryParam('tags', 'Comma-separated cache tags (at most 32, each 1–256 printable ASCII characters without spaces or commas); a PUT replaces the key\'s tags. Not inside a transaction.', str(), 'users,profile'),
    TXN,
    DEADLINE,
  ],
  body: { description: 'The value: any bytes, up to --max-value-bytes (default 16 MiB).', required: true, content: { '*/*': { schema: any('the value'), example: '{"name":"Ada"}' } } },
  responses: [
    ok(
      'Written (acknowledged once durable under the --fsync policy).',
      closed(
        {
          key: str(),
          bytes: int(),
          expires_at: nullable(dateTime()),
          tags: arr(str(), 'the tags given with ?tags='),
          txn: str('the transaction, inside one'),
        },
        ['key', 'bytes', 'expires_at'],
      ),
      { key: 'user:1', bytes: 14, expires_at: '2026-12-07T11:15:00.000Z' },
    ),
  ],
  errors: ['INVALID_KEY', 'KEY_TOO_LARGE', 'INVALID_TTL', 'INVALID_CONTENT_TYPE', 'INVALID_PARAMETER', 'VALUE_TOO_LARGE', 'TAG_LIMIT', ...SHARD_WRITE, ...TXN_ERRORS],
  permission: 'kv:{key}:write',
};

const KV_DELETE: RouteSpec = {
  method: 'DELETE',
  path: '/api/v1/kv/{key}',
  tag: 'Key-value',
  summary: 'Delete a key',
  description: '`deleted` is false when the key did not exist.',
  params: [KEY_PARAM, TXN, DEADLINE],
  responses: [ok('Deleted.', closed({ key: str(), deleted: bool(), txn: str('the transaction, inside one') }, ['key', 'deleted']), { key: 'user:1', deleted: true })],
  errors: ['INVALID_KEY', 'KEY_TOO_LARGE', ...SHARD_WRITE, ...TXN_ERRORS],
  permission: 'kv:{key}:write',
};

const KV_LIST: RouteSpec = {
  method: 'GET',
  path: '/api/v1/kv',
  tag: 'Key-value',
  summary: 'List keys by prefix',
  description:
    'Keys under a prefix, merged across every shard in byte order. Inside a transaction only prefix and limit are allowed, meta.more says whether more keys exist and next_cursor is null. With row-level KV policies, only the keys the caller may read are listed and total is null.',
  params: [
    queryParam('prefix', 'Keys starting with this (default "": every key).', str(), 'user:'),
    queryParam('limit', 'Keys per page, 1.. (default 100); served as at most 1000.', int(undefined, { minimum: 1 }), 2),
    queryParam('offset', 'Keys to skip, 0..100000 (not with cursor).', int(undefined, { minimum: 0, maximum: 100_000 })),
    queryParam('cursor', 'The next_cursor of the previous page.', str(undefined, { pattern: '^[A-Za-z0-9_-]+$' })),
    TXN,
    DEADLINE,
  ],
  responses: [
    ok('The keys.', arr(str()), ['user:1', 'user:2'], {
      meta: closed(
        {
          count: int(),
          total: nullable(int('keys under the prefix')),
          page: nullable(int()),
          per_page: int(),
          next_cursor: nullable(str()),
          more: bool('inside a transaction: whether more keys exist'),
          txn: str(),
        },
        ['count', 'total', 'page', 'per_page', 'next_cursor'],
      ),
      metaExample: { count: 2, total: 2500, page: 1, per_page: 2, next_cursor: 'dXNlcjoy' },
    }),
  ],
  errors: ['INVALID_PARAMETER', ...SHARD_READ, ...TXN_ERRORS],
  permission: 'kv:{prefix}:read',
};

const BATCH_OP = oneOf(
  obj({ op: { enum: ['get', 'delete'] }, key: str() }, ['op', 'key']),
  obj(
    {
      op: { const: 'put' },
      key: str(),
      value: any('a string (stored as text/plain; charset=utf-8), base64 with encoding, or another JSON value (stored as application/json)'),
      ttl: oneOf(int(undefined, { minimum: 1 }), str(undefined, { pattern: '^[0-9]+$' })),
      content_type: str(),
      encoding: { const: 'base64' },
    },
    ['op', 'key', 'value'],
  ),
);
const BATCH_RESULT = obj(
  {
    op: { enum: ['get', 'put', 'delete'] },
    key: str(),
    ok: { const: true },
    found: bool(),
    content_type: str(),
    value: str(),
    encoding: { const: 'base64' },
    deleted: bool(),
    error: ref('ErrorObject'),
  },
  ['op', 'key'],
);

const KV_BATCH: RouteSpec = {
  method: 'POST',
  path: '/api/v1/kv/batch',
  tag: 'Key-value',
  summary: 'Many gets, puts and deletes in one request',
  description:
    'Up to 1000 ops, atomic per shard, results in order. A get whose value is not UTF-8 comes back as base64 with "encoding":"base64". With Content-Type: application/msgpack the body and the answer are MessagePack and values are raw bytes. If one shard fails, the answer has that shard\'s error status, success: false, the results, and an `error` on each op of that shard; ops on other shards were applied. Mantis-Txn is refused here: use POST /api/v1/txn/execute.',
  params: [DEADLINE],
  body: {
    description: 'JSON (also read without a Content-Type, as text/plain or as application/x-www-form-urlencoded) or MessagePack (application/msgpack).',
    required: true,
    content: {
      'application/json': {
        schema: obj({ ops: arr(BATCH_OP, undefined, { maxItems: 1000 }) }, ['ops']),
        example: { ops: [{ op: 'put', key: 'a', value: 'text', ttl: 60 }, { op: 'get', key: 'a' }, { op: 'delete', key: 'a' }] },
      },
      'application/msgpack': { schema: any('the same object in MessagePack; values may be binary') },
    },
  },
  responses: [
    ok(
      'Every op applied.',
      arr(BATCH_RESULT),
      [
        { op: 'put', key: 'a', ok: true },
        { op: 'get', key: 'a', found: true, content_type: 'text/plain; charset=utf-8', value: 'text' },
        { op: 'delete', key: 'a', deleted: true },
      ],
      { meta: closed({ count: int() }, ['count']), metaExample: { count: 3 } },
    ),
  ],
  errors: [
    'INVALID_JSON',
    'INVALID_BATCH',
    'BATCH_TOO_LARGE',
    'UNSUPPORTED_MEDIA_TYPE',
    'INVALID_KEY',
    'KEY_TOO_LARGE',
    'INVALID_TTL',
    'INVALID_CONTENT_TYPE',
    'INVALID_PARAMETER',
    'VALUE_TOO_LARGE',
    'FORBIDDEN',
    ...SHARD_WRITE,
    'DATA_CORRUPT',
  ],
  permission: 'authenticated',
  permissionNote: 'Each op\'s key needs kv:<key> read (get) or write (put, delete); one refused key refuses the batch.',
};

const rawKey = (c: Context<AppEnv>): string => c.env.rawPath.slice(KV_ITEM_PREFIX.length);
const deadlineOf = (c: Context<AppEnv>): DeadlineHeader => ({ header: c.req.header('mantis-deadline-ms'), receivedAtMs: c.env.receivedAtMs });
const bodyOf = async (c: Context<AppEnv>): Promise<Uint8Array> => new Uint8Array(await c.req.arrayBuffer());

export function readiness(pool: ShardPool): HttpReply {
  const shards = pool.shards.map((shard) => ({
    id: shard.id,
    state: shard.state,
    keys: shard.metrics[ShardMetric.keys],
    restarts: shard.restarts,
    storage_failed: shard.metrics[ShardMetric.storage_failed] === 1,
    quarantined_tables: shard.metrics[ShardMetric.lsm_quarantined_tables],
    disk: {
      table_bytes: shard.metrics[ShardMetric.lsm_table_bytes],
      wal_bytes: shard.metrics[ShardMetric.disk_wal_bytes],
      free_bytes: shard.metrics[ShardMetric.disk_free_bytes],
    },
    replay: shard.lastReplay,
  }));
  if (pool.allReady()) return okReply({ ready: true, shards });
  const reply = errorReply(new MantisError('SHARD_UNAVAILABLE', 'not every shard has replayed its WAL'));
  const body = JSON.parse(reply.body as string) as Record<string, unknown>;
  return { ...reply, body: JSON.stringify({ ...body, data: { ready: false, shards } }) };
}

function methodNotAllowed(method: string, path: string): string {
  if (path === '/api/v1/kv' || path === '/api/v1/kv/') return `${method} is not allowed on /api/v1/kv; use GET to list keys`;
  if (path === '/api/v1/kv/batch') return `${method} is not allowed on /api/v1/kv/batch; use POST`;
  return `${method} is not allowed on a key; use GET, HEAD, PUT or DELETE`;
}

export function createHonoApp(deps: AppDeps): Hono<AppEnv> {
  // Route on the raw path as received: building a Request normalizes dot
  // segments ("a/../b"), which would make Hono see another key than the fast path.
  const app = new Hono<AppEnv>({ getPath: (request, options) => options?.env?.rawPath ?? new URL(request.url).pathname });
  const { kv, txnKv } = deps;
  const txnOf = (c: Context<AppEnv>): string | undefined => c.req.header(TXN_HEADER);

  route(app, HEALTH_LIVE, () => toResponse(okReply({ live: true })));
  route(app, HEALTH_READY, () => toResponse(readiness(deps.pool)));
  route(app, PROMETHEUS, async (c) => {
    const text = await deps.metrics.registry.metrics();
    return c.body(text, 200, { 'Content-Type': deps.metrics.registry.contentType });
  });

  route(app, CACHE_STATS, () => toResponse(cacheStatsReply(deps.pool)));
  registerCacheRoutes(app, deps.cache, (c) => {
    const access = kvAccessFor(deps.auth?.security, c.env.principal);
    if (access === undefined) return undefined;
    return { access, restricted: access.visible !== null };
  }, (c, action, details) => {
    const security = deps.auth?.security;
    if (security === undefined || !security.authOn) return;
    security.audit.record({ action, outcome: 'success', actor: actorOf(c.env.principal ?? SYSTEM), ...(c.env.ip === undefined ? {} : { ip: c.env.ip }), details });
  });
  registerTxnRoutes(app, deps.txnRoutes, (c) => kvAccessFor(deps.auth?.security, c.env.principal));
  registerDocRoutes(app, deps.docs);
  registerTableRoutes(app, deps.tables);
  registerCqlRoutes(app, deps.cql);
  if (deps.sql !== undefined) registerSqlRoutes(app, deps.sql);
  if (deps.auth !== undefined) registerAuthRoutes(app, deps.auth);
  const audit = (c: Context<AppEnv>, action: string, details: Record<string, unknown>): void => {
    const security = deps.auth?.security;
    if (security === undefined || !security.authOn) return;
    security.audit.record({ action, outcome: 'success', actor: actorOf(c.env.principal ?? SYSTEM), ...(c.env.ip === undefined ? {} : { ip: c.env.ip }), details });
  };
  if (deps.ops !== undefined) registerOpsRoutes(app, { ...deps.ops, audit });
  if (deps.backups !== undefined) registerBackupRoutes(app, { ...deps.backups, audit });
  registerAdminStatic(app);
  registerApiDocs(app, deps.native ?? []);
  const accessOf = (c: Context<AppEnv>) => kvAccessFor(deps.auth?.security, c.env.principal);
  // A Mantis-Txn header sends a KV route into that transaction (txn-routes.ts).
  route(app, KV_LIST, async (c) => {
    const txn = txnOf(c);
    return toResponse(txn === undefined ? await kv.list(c.env.rawQuery, deadlineOf(c), accessOf(c)) : await txnKv.list(txn, c.env.rawQuery, deadlineOf(c), accessOf(c)));
  });
  route(app, KV_BATCH, async (c) =>
    toResponse(txnOf(c) === undefined ? await kv.batch(c.req.header('content-type'), await bodyOf(c), deadlineOf(c), accessOf(c)) : await txnKv.batch()),
  );
  // Hono answers HEAD with the GET route; the handler skips the value for HEAD.
  route(app, [KV_GET, KV_HEAD], async (c) => {
    const txn = txnOf(c);
    const head = c.req.method === 'HEAD';
    return toResponse(txn === undefined ? await kv.get(rawKey(c), head, deadlineOf(c)) : await txnKv.get(txn, rawKey(c), head, deadlineOf(c)));
  });
  route(app, KV_PUT, async (c) => {
    const txn = txnOf(c);
    const contentType = c.req.header('content-type');
    return toResponse(
      txn === undefined
        ? await kv.put(rawKey(c), c.env.rawQuery, contentType, await bodyOf(c), deadlineOf(c))
        : await txnKv.put(txn, rawKey(c), c.env.rawQuery, contentType, await bodyOf(c)),
    );
  });
  route(app, KV_DELETE, async (c) => {
    const txn = txnOf(c);
    return toResponse(txn === undefined ? await kv.delete(rawKey(c), deadlineOf(c)) : await txnKv.delete(txn, rawKey(c), deadlineOf(c)));
  });
  // Any other method on a key (or on /api/v1/kv/batch) is 405 naming the methods that work.
  fallback(app, '/api/v1/kv/*', (c) =>
    toResponse(errorReply(new MantisError('METHOD_NOT_ALLOWED', methodNotAllowed(c.req.method, c.env.rawPath)))),
  );

  app.notFound((c) => toResponse(errorReply(new MantisError('NOT_FOUND', `no route for ${c.req.method} ${c.env.rawPath}`))));
  app.onError((error) => toResponse(replyForError(error, (e) => deps.log.error({ err: e }, 'unexpected error in a route'))));
  return app;
}
