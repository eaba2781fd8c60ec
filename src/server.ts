// Composition root: data directory lock → shard actors (WAL replay) → routes
// → listener. stop() is the graceful path SIGTERM/SIGINT take: stop
// accepting, let in-flight requests finish, flush every WAL, end the shards.

import { LIMITS } from '../shared/limits.js';
import type { Config } from './config.js';
import { defaultShardCount } from './config.js';
import { lockDataDir, resolveShardCount, type DataDirLock } from './data-dir.js';
import { createHonoApp } from './http/hono-app.js';
import { createKvHandlers } from './http/kv-handlers.js';
import { listen, type Listener } from './http/uws-server.js';
import { KvService } from './kv/index.js';
import type { Logger } from './log.js';
import { createMetrics } from './metrics/metrics.js';
import { ShardPool } from './router/index.js';
import { createInterest } from '../shared/cache/invalidation.js';
import { InvalidationHub } from './cache/invalidation-hub.js';
import { HitRateMonitor } from './cache/hit-rate-monitor.js';
import { attachInvalidationStreams } from './http/invalidation-streams.js';

export type Server = {
  readonly url: string;
  readonly port: number;
  readonly shards: number;
  stop(): Promise<void>;
};

export async function startServer(config: Config, log: Logger): Promise<Server> {
  const lock: DataDirLock = await lockDataDir(config.dataDir);
  let pool: ShardPool | null = null;
  const cacheEvents = createInterest();
  const hub = new InvalidationHub(cacheEvents);
  try {
    const shards = resolveShardCount(config.dataDir, config.shards, defaultShardCount());
    pool = new ShardPool({
      shards,
      dataDir: config.dataDir,
      fsync: config.fsync,
      fsyncBatchMs: config.fsyncBatchMs,
      logLevel: config.logLevel,
      log,
      storage: config.storage,
      cacheBytes: config.cacheBytes,
      cacheEvents,
      cachePolicies: [],
      writeBackMs: config.writeBackMs,
    });
    await pool.start();
    const metrics = createMetrics(pool);
    const kv = createKvHandlers(new KvService(pool), config.maxValueBytes, log);
    const app = createHonoApp({ kv, pool, metrics, log });
    const listener: Listener = await listen({
      host: config.host,
      port: config.port,
      fastPath: config.httpFastPath,
      maxValueBytes: config.maxValueBytes,
      kv,
      app,
      metrics: metrics.http,
      log,
      attach: (uws) => attachInvalidationStreams(uws, { hub, log, registry: metrics.registry }),
    });
    const monitor = new HitRateMonitor({ shards: pool.shards, hub, log, registry: metrics.registry, threshold: config.cacheHitRateWarn, windowS: config.cacheHitRateWindowS });
    monitor.start();
    const running = pool;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    return {
      url: `http://${host}:${listener.port}`,
      port: listener.port,
      shards,
      stop: async () => {
        monitor.stop();
        await stopServer(listener, running, lock, log);
        hub.close();
      },
    };
  } catch (error) {
    hub.close();
    await pool?.stop(LIMITS.shutdown_drain_timeout_ms).catch(() => undefined);
    lock.release();
    throw error;
  }
}

async function stopServer(listener: Listener, pool: ShardPool, lock: DataDirLock, log: Logger): Promise<void> {
  listener.stopAccepting();
  const drained = await listener.drained(LIMITS.shutdown_drain_timeout_ms);
  if (!drained) log.warn('in-flight requests did not finish before the shutdown timeout');
  await pool.stop(LIMITS.shutdown_drain_timeout_ms);
  lock.release();
}
