// Composition root: data directory lock → cache policies and dependency log →
// shard actors (WAL replay) → routes
// → listener. stop() is the graceful path SIGTERM/SIGINT take: stop
// accepting, let in-flight requests finish, flush every WAL, end the shards.

import { join } from 'node:path';
import { createInterest } from '../shared/cache/invalidation.js';
import { LIMITS } from '../shared/limits.js';
import { CacheControl } from './cache/cache-control.js';
import { DependencyGraph } from './cache/dependency-graph.js';
import { HitRateMonitor } from './cache/hit-rate-monitor.js';
import { InvalidationHub } from './cache/invalidation-hub.js';
import { PolicyFileError, PolicyStore } from './cache/policy-store.js';
import { TagIndex } from './cache/tag-index.js';
import { ConfigError, defaultShardCount, type Config } from './config.js';
import { lockDataDir, resolveShardCount, type DataDirLock } from './data-dir.js';
import { prefixProblem } from './http/cache-routes.js';
import { createHonoApp } from './http/hono-app.js';
import { attachInvalidationStreams, STREAM_ROUTES } from './http/invalidation-streams.js';
import { routeLabelOf } from './http/api-spec.js';
import { createKvHandlers } from './http/kv-handlers.js';
import { listen, type Listener } from './http/uws-server.js';
import { OverloadGuard, registerShedMetric } from './http/overload.js';
import { KvService } from './kv/index.js';
import type { Logger } from './log.js';
import { createMetrics } from './metrics/metrics.js';
import { ShardPool } from './router/index.js';
import { TimestampReserver } from '../shared/txn/timestamp-oracle.js';
import { CoordinatorLog } from './txn/coordinator-log.js';
import type { TxnManager } from './txn/txn-manager.js';
import { changeSource, DocService, DocTxnManager } from './docs/index.js';
import { createDocHandlers } from './http/doc-routes.js';
import { createTableHandlers } from './http/table-routes.js';
import { createCqlHandler } from './http/cql-routes.js';
import { createSqlHandler } from './http/sql-routes.js';
import { SqlExecutor } from './sql/sql-exec.js';
import { loadSqlParser } from './sql/sql-parse.js';
import { TableService } from './tables/table-service.js';
import { createTxnMetrics } from './txn/txn-metrics.js';
import { createTxnKvHandlers, createTxnRouteHandlers } from './http/txn-routes.js';
import { openSecurity, publicUrlOf, type SecurityParts } from './security/setup.js';
import { SYSTEM, type Principal } from './security/principal.js';
import { actorOf } from './http/auth-routes.js';
import type { Streams } from './http/invalidation-streams.js';
import { Alerts } from './ops/alerts.js';
import { MetricFeed, registerConnectionGauges, registerFeedGauge } from './ops/metric-feed.js';
import { MetricSampler } from './ops/metric-sampler.js';
import { BackupManager } from './ops/backups.js';
import { readTimeline } from './ops/backup-format.js';

export type Server = {
  readonly url: string;
  readonly port: number;
  readonly shards: number;
  /** The transaction manager, for in-process use (bench/txn-engine.ts drives it without HTTP). */
  readonly txns: TxnManager;
  /** The shard for a key. */
  shardOf(key: Uint8Array): number;
  /** SIGHUP: re-read secrets (files, Vault) and the TLS certificate. */
  reload(): Promise<void>;
  stop(): Promise<void>;
};

export async function startServer(config: Config, log: Logger): Promise<Server> {
  const lock: DataDirLock = await lockDataDir(config.dataDir);
  let pool: ShardPool | null = null;
  let sec: SecurityParts | null = null;
  const cacheEvents = createInterest();
  const hub = new InvalidationHub(cacheEvents);
  let graph: DependencyGraph | null = null;
  let timestamps: TimestampReserver | null = null;
  let coordinator: CoordinatorLog | null = null;
  let txns: TxnManager | null = null;
  let docs: DocService | null = null;
  let opsParts: { feed: MetricFeed; alerts: Alerts; backups: BackupManager } | null = null;
  // In-doubt transactions reported by shards that became ready before the manager existed.
  const earlyInDoubt: [number, readonly string[]][] = [];
  try {
    const shards = resolveShardCount(config.dataDir, config.shards, defaultShardCount());
    // Secrets, profile checks, users and keys come first: an unsafe configuration stops here (exit 2).
    sec = await openSecurity(config, log);
    const security = sec.security;
    const authOn = security.authOn;
    let streamMetrics = true;
    const policies = await openPolicies(config);
    if (policies.ignoredConfigFile !== null) {
      log.warn({ file: policies.ignoredConfigFile }, 'cache policies come from the data directory (saved by PUT /api/v1/cache/policies); the --cache-policies file is not read');
    }
    graph = await DependencyGraph.open(join(config.dataDir, 'cache'), { maxEdges: LIMITS.cache_dependencies_max, log });
    timestamps = await TimestampReserver.open(join(config.dataDir, 'txn'), { log });
    coordinator = await CoordinatorLog.open(join(config.dataDir, 'txn'), { log });
    const timeline = await readTimeline(config.dataDir);
    pool = new ShardPool({
      shards,
      oracle: timestamps.buffer,
      onShardReady: (shard, _generation, inDoubt) => {
        if (inDoubt.length === 0) return;
        if (txns === null) earlyInDoubt.push([shard, inDoubt]);
        else void txns.resolveInDoubt(shard, inDoubt);
      },
      dataDir: config.dataDir,
      fsync: config.fsync,
      fsyncBatchMs: config.fsyncBatchMs,
      logLevel: config.logLevel,
      log,
      storage: config.storage,
      cacheBytes: config.cacheBytes,
      cacheEvents,
      cachePolicies: policies.rules,
      writeBackMs: config.writeBackMs,
      walArchive: config.ops.walArchive,
      timeline,
      onShardCrash: (shard) => hub.publishReset(shard),
      // TTL expiry and other changes a shard makes on its own, for the change streams.
      onDocChanges: (_shard, changes) => docs?.shardChanges(changes),
    });
    await pool.start();
    const metrics = createMetrics(pool);
    // Live snapshots (streams, history, alerts) read the same counters; the listener and streams come later.
    let listenerRef: Listener | null = null;
    let streamsRef: Streams | null = null;
    const connections = (): number => (listenerRef?.load().inFlight ?? 0) + (streamsRef?.count() ?? 0);
    // The admission limit (with its environment override) is also the connection alert's ceiling.
    const overload = new OverloadGuard({ pool });
    registerShedMetric(metrics.registry, overload);
    const connectionsMax = overload.thresholds.inFlightMax;
    registerConnectionGauges(metrics.registry, connections, connectionsMax);
    const manager = new DocTxnManager({
      pool,
      oracle: timestamps.buffer,
      log: coordinator,
      logger: log,
      metrics: createTxnMetrics(metrics.registry),
      maxAgeMs: config.txnMaxAgeMs,
      fault: process.env.MANTIS_FAULT_TXN,
    });
    txns = manager;
    // Every shard is ready: finish the logged commits, then decide what else their WALs hold prepared.
    const resent = await manager.recover();
    for (const [shard, inDoubt] of earlyInDoubt.splice(0)) await manager.resolveInDoubt(shard, inDoubt);
    if (resent > 0) log.info({ decisions: resent }, 'two-phase commit decisions from before the restart were sent again');
    // The document catalog agrees on every shard before the first request.
    const documents = new DocService({ pool, txns: manager, log, dataDir: config.dataDir });
    await documents.start();
    docs = documents;
    // The table catalog too (interrupted index builds go on in the background).
    const tables = new TableService({ pool, log, txns: manager });
    await tables.start();
    const feed = new MetricFeed(
      new MetricSampler({ pool, live: metrics.live, openTransactions: () => manager.activeCount, connections, dataDir: config.dataDir }),
    );
    registerFeedGauge(metrics.registry, feed);
    const retryBaseMs = Number(process.env.MANTIS_ALERT_RETRY_BASE_MS ?? '');
    const alerts = await Alerts.open({
      dataDir: config.dataDir,
      feed,
      log,
      registry: metrics.registry,
      webhooks: config.ops.alertWebhooks,
      connectionsMax,
      // Tests shorten the webhook backoff (500 ms doubling, 5 retries, by default).
      ...(Number.isInteger(retryBaseMs) && retryBaseMs > 0 ? { retryDelaysMs: [1, 2, 4, 8, 16].map((f) => f * retryBaseMs) } : {}),
    });
    const backups = new BackupManager({
      dataDir: config.dataDir,
      backupDir: config.ops.backupDir,
      walArchive: config.ops.walArchive,
      timeline,
      pool,
      oracle: timestamps.buffer,
      coordinator,
      log,
      registry: metrics.registry,
      retention: { keepLast: config.ops.backupKeepLast, keepDaily: config.ops.backupKeepDaily, keepWeekly: config.ops.backupKeepWeekly },
      schedule: config.ops.backupSchedule,
      ...(authOn ? { audit: (action: string, details: Record<string, unknown>) => security.audit.record({ action, outcome: 'success', actor: actorOf(SYSTEM), details }) } : {}),
    });
    await backups.start();
    opsParts = { feed, alerts, backups };
    const cache = new CacheControl(pool, hub, graph, new TagIndex({ maxKeys: LIMITS.cache_tagged_keys_max }), policies, config.cacheBytes > 0, log);
    const kvService = new KvService(pool);
    const kv = createKvHandlers(kvService, config.maxValueBytes, log, cache.keyHooks());
    const txnKv = createTxnKvHandlers(manager, config.maxValueBytes, log);
    const txnRoutes = createTxnRouteHandlers(manager, config.maxValueBytes, log);
    const docHandlers = createDocHandlers(documents, log, authOn ? { store: security.store } : undefined);
    const tableHandlers = createTableHandlers(tables, log, authOn ? { store: security.store } : undefined);
    const cqlHandler = createCqlHandler(tables, log, authOn ? { store: security.store } : undefined);
    await loadSqlParser();
    const sqlHandler = createSqlHandler(
      new SqlExecutor({
        tables,
        txns: manager,
        memoryBytes: config.sqlMemoryMb * 1024 * 1024,
        nextId: () => manager.nextTimestamp(),
        docs: documents,
        kv: kvService,
        ...(authOn
          ? {
              security: {
                store: security.store,
                audit: (action: string, principal: Principal, target: string, details: Readonly<Record<string, unknown>>) =>
                  security.audit.record({ action, outcome: 'success', actor: actorOf(principal), target, details }),
              },
            }
          : {}),
      }),
      log,
    );
    const app = createHonoApp({
      kv,
      pool,
      metrics,
      log,
      cache,
      txnKv,
      txnRoutes,
      docs: docHandlers,
      tables: tableHandlers,
      cql: cqlHandler,
      sql: sqlHandler,
      ops: { feed, alerts, log },
      backups: { backups, dataDir: config.dataDir, log },
      native: STREAM_ROUTES,
      auth: {
        security,
        configDump: () => sec?.configDump() ?? {},
        // Hono's route table, then the streams served natively (their specs are in invalidation-streams.ts).
        routes: () => [...app.routes.map((r) => `${r.method} ${r.path}`), ...STREAM_ROUTES.map(routeLabelOf)],
        oauth: sec.oauth,
        secureCookies: config.security.tls || config.security.publicUrl.startsWith('https:'),
      },
    });
    const listener: Listener = await listen({
      host: config.host,
      port: config.port,
      fastPath: config.httpFastPath,
      maxValueBytes: config.maxValueBytes,
      kv,
      txnKv,
      txnRoutes,
      docs: docHandlers,
      tables: tableHandlers,
      cql: cqlHandler,
      sql: sqlHandler,
      app,
      metrics: metrics.http,
      log,
      security,
      overload,
      tls: config.security.tls ? { certFile: config.security.tlsCert, keyFile: config.security.tlsKey } : undefined,
      // A TLS reload attaches the streams to the new app too; their metrics are registered once.
      attach: (uws) => {
        const streams = attachInvalidationStreams(uws, {
          hub,
          log,
          registry: streamMetrics ? metrics.registry : undefined,
          changes: changeSource(documents.hub, authOn ? { store: security.store } : undefined),
          security,
          metrics: feed,
        });
        streamMetrics = false;
        streamsRef = streams;
        return streams;
      },
    });
    listenerRef = listener;
    feed.start();
    const monitor = new HitRateMonitor({ shards: pool.shards, hub, log, registry: metrics.registry, threshold: config.cacheHitRateWarn, windowS: config.cacheHitRateWindowS });
    monitor.start();
    const running = pool;
    const reserver = timestamps;
    const decisions = coordinator;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = `${config.security.tls ? 'https' : 'http'}://${host}:${listener.port}`;
    publicUrlOf.value = config.security.publicUrl !== '' ? config.security.publicUrl : url;
    const parts = sec;
    return {
      url,
      reload: async () => {
        await parts.reload();
        await listener.reloadTls();
      },
      port: listener.port,
      shards,
      txns: manager,
      shardOf: (key) => running.shardFor(key).id,
      stop: async () => {
        monitor.stop();
        feed.stop();
        alerts.close();
        backups.stop();
        await backups.idle();
        // The dependency log is closed before the data-dir lock is released.
        manager.close();
        await stopServer(listener, running, lock, log, async () => {
          await cache.close();
          await decisions.close();
          await reserver.close();
        });
        hub.close();
        await parts.close();
      },
    };
  } catch (error) {
    opsParts?.feed.stop();
    opsParts?.alerts.close();
    opsParts?.backups.stop();
    await sec?.close().catch(() => undefined);
    await graph?.close().catch(() => undefined);
    txns?.close();
    await coordinator?.close().catch(() => undefined);
    await timestamps?.close().catch(() => undefined);
    hub.close();
    await pool?.stop(LIMITS.shutdown_drain_timeout_ms).catch(() => undefined);
    lock.release();
    throw error;
  }
}

async function stopServer(listener: Listener, pool: ShardPool, lock: DataDirLock, log: Logger, beforeUnlock: () => Promise<void>): Promise<void> {
  listener.stopAccepting();
  const drained = await listener.drained(LIMITS.shutdown_drain_timeout_ms);
  if (!drained) log.warn('in-flight requests did not finish before the shutdown timeout');
  await pool.stop(LIMITS.shutdown_drain_timeout_ms);
  await beforeUnlock().catch((error: unknown) => log.error({ err: error }, 'closing the cache dependency log, the coordinator log or the timestamp reservation failed'));
  lock.release();
}

/** The cache policies: a bad --cache-policies file is a configuration error (exit 2). */
async function openPolicies(config: Config): Promise<PolicyStore> {
  try {
    return await PolicyStore.open(config.dataDir, config.cachePoliciesFile, prefixProblem);
  } catch (error) {
    if (error instanceof PolicyFileError && error.source === 'config-file') throw new ConfigError(error.message);
    throw error;
  }
}
