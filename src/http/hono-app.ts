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

  app.get('/health/live', () => toResponse(okReply({ live: true })));
  app.get('/health/ready', () => toResponse(readiness(deps.pool)));
  app.get('/api/metrics/prometheus', async (c) => {
    const text = await deps.metrics.registry.metrics();
    return c.body(text, 200, { 'Content-Type': deps.metrics.registry.contentType });
  });

  app.get('/api/v1/cache/stats', () => toResponse(cacheStatsReply(deps.pool)));
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
  const accessOf = (c: Context<AppEnv>) => kvAccessFor(deps.auth?.security, c.env.principal);
  // A Mantis-Txn header sends a KV route into that transaction (txn-routes.ts).
  app.get('/api/v1/kv', async (c) => {
    const txn = txnOf(c);
    return toResponse(txn === undefined ? await kv.list(c.env.rawQuery, deadlineOf(c), accessOf(c)) : await txnKv.list(txn, c.env.rawQuery, deadlineOf(c), accessOf(c)));
  });
  app.post('/api/v1/kv/batch', async (c) =>
    toResponse(txnOf(c) === undefined ? await kv.batch(c.req.header('content-type'), await bodyOf(c), deadlineOf(c), accessOf(c)) : await txnKv.batch()),
  );
  // Hono answers HEAD with the GET route; the handler skips the value for HEAD.
  app.get('/api/v1/kv/*', async (c) => {
    const txn = txnOf(c);
    const head = c.req.method === 'HEAD';
    return toResponse(txn === undefined ? await kv.get(rawKey(c), head, deadlineOf(c)) : await txnKv.get(txn, rawKey(c), head, deadlineOf(c)));
  });
  app.put('/api/v1/kv/*', async (c) => {
    const txn = txnOf(c);
    const contentType = c.req.header('content-type');
    return toResponse(
      txn === undefined
        ? await kv.put(rawKey(c), c.env.rawQuery, contentType, await bodyOf(c), deadlineOf(c))
        : await txnKv.put(txn, rawKey(c), c.env.rawQuery, contentType, await bodyOf(c)),
    );
  });
  app.delete('/api/v1/kv/*', async (c) => {
    const txn = txnOf(c);
    return toResponse(txn === undefined ? await kv.delete(rawKey(c), deadlineOf(c)) : await txnKv.delete(txn, rawKey(c), deadlineOf(c)));
  });
  app.all('/api/v1/kv/*', (c) =>
    toResponse(errorReply(new MantisError('METHOD_NOT_ALLOWED', methodNotAllowed(c.req.method, c.env.rawPath)))),
  );

  app.notFound((c) => toResponse(errorReply(new MantisError('NOT_FOUND', `no route for ${c.req.method} ${c.env.rawPath}`))));
  app.onError((error) => toResponse(replyForError(error, (e) => deps.log.error({ err: e }, 'unexpected error in a route'))));
  return app;
}
