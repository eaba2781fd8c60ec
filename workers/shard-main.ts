// Entry point of one shard actor (a worker thread). It opens the shard's LSM
// tables, replays the WAL tail they do not cover into a fresh memtable, tells
// the router it is ready, then serves the request ring until the router
// terminates it. Transactions: the WAL's txn records are folded by the
// participant during replay (prepared transactions left undecided are in
// doubt: re-locked and reported in `ready`), a flush keeps the WAL segment of
// every undecided PREPARE, and the sweep tick collects old versions.
// Administration (stats, flush, close) is exposed over comlink
// on a dedicated MessagePort; flushes and compactions go to the task pool
// through another.

import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { closeSync, copyFileSync, fsyncSync, linkSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { LIMITS } from '../shared/limits.js';
import { encodeClock, WAL_END } from '../shared/wire.js';
import { ShardMetric, FSYNC_BUCKETS_MS } from '../shared/metrics-layout.js';
import { RingReader, RingWriter } from '../shared/ring.js';
import type { ShardAdmin, ShardInit, ShardLifecycle, ShardStats } from '../shared/shard-contract.js';
import { TimestampOracle } from '../shared/txn/timestamp-oracle.js';
import { TxnParticipant } from './txn/txn-participant.js';
import { LsmStore, tuningFromBudget } from './lsm/index.js';
import { WalWriter } from './wal/index.js';
import { replayShardWal } from './shard/shard-replay.js';
import { PoolClient } from './shard/pool-client.js';
import { ResponseSender } from './shard/response-sender.js';
import { ShardActor } from './shard/shard-actor.js';
import { probeStorage, publishDisk, publishMemory } from './shard/storage-health.js';
import { ShardOps } from './shard/shard-ops.js';
import { ShardCache } from './shard/shard-cache.js';
import { ShardEvents } from './shard/shard-events.js';
import { binaryToKey } from './store/memtable.js';
import { DocShard } from './docs/doc-shard.js';
import { TableShard } from './tables/table-shard.js';
import { INTERNAL_KEY_BYTE } from '../shared/slot.js';
import { encodeValue } from '../shared/docs/doc-codec.js';
import type { DocValue } from '../shared/docs/doc-types.js';
import { PolicyTable } from '../shared/cache/policy.js';
import { createShardLog } from './shard/shard-log.js';

type WorkerInput = ShardInit & { readonly adminPort: MessagePort; readonly poolPort: MessagePort };

const init = workerData as WorkerInput;
const log = createShardLog(init.shardId, init.logLevel);
const metrics = new Float64Array(init.metrics);

function post(message: ShardLifecycle): void {
  parentPort?.postMessage(message);
}

function observeFsync(durationMs: number): void {
  metrics[ShardMetric.fsync_count]++;
  metrics[ShardMetric.fsync_seconds_sum] += durationMs / 1000;
  let bucket = FSYNC_BUCKETS_MS.findIndex((le) => durationMs <= le);
  if (bucket < 0) bucket = FSYNC_BUCKETS_MS.length;
  metrics[ShardMetric.fsync_bucket_base + bucket]++;
}

/** Test-only fault hook: a whole number of ms, or absent/empty for none. */
function faultDelayMs(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 0;
  const ms = Number(raw);
  if (!Number.isSafeInteger(ms) || ms < 0) throw new Error(`MANTIS_FAULT_SHARD_DELAY_MS must be a whole number of ms, got "${raw}"`);
  return ms;
}

type Refs = { wal: WalWriter | null; txn: TxnParticipant | null };

/** With a WAL archive an idle shard still stamps its log this often, so a restore can tell how far it reaches. */
const ARCHIVE_CLOCK_MS = 1000;

/** A table segment file into <archive>/tables/… (a hard link; a copy on another file system), durably. */
function archiveTableFile(shardDir: string, archive: string, path: string): void {
  const dest = join(archive, relative(shardDir, path));
  mkdirSync(dirname(dest), { recursive: true });
  rmSync(dest, { force: true });
  try {
    linkSync(path, dest);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    copyFileSync(path, dest);
    const fd = openSync(dest, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  const dir = openSync(dirname(dest), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

function openStore(wake: () => void, walRef: Refs, pool: PoolClient): LsmStore {
  const s = init.storage;
  const tuning = tuningFromBudget(s.memoryBudgetBytes, {
    blockBytes: s.blockBytes,
    level1Bytes: s.level1Bytes ?? undefined,
    levelMultiplier: s.levelMultiplier,
  });
  return LsmStore.open({
    dir: join(init.dir, 'sst'),
    tuning,
    runTask: (task, transfer) => pool.run(task, transfer, task.kind === 'flush' ? 'urgent' : 'background'),
    log,
    onFlushed: (_lsn, segment) => {
      // The segment of a PREPARE still undecided stays: its writes are in no table.
      const before = walRef.txn?.keepSegmentsFrom(segment) ?? segment;
      const removed = walRef.wal?.removeSegmentsBefore(before) ?? 0;
      if (removed > 0) log('info', 'wal: removed segments now held in tables', { removed, before });
    },
    onProgress: wake,
  });
}

async function main(): Promise<void> {
  const walRef: Refs = { wal: null, txn: null };
  let actor: ShardActor | null = null;
  // One client on the pool port: the LSM's flushes and compactions, the table mover's segment builds.
  const pool = new PoolClient(init.poolPort);
  const store = openStore(
    () => {
      actor?.wake();
      metrics[ShardMetric.storage_failed] = walRef.wal?.failure != null || store.failure !== null ? 1 : 0;
    },
    walRef,
    pool,
  );
  // Clears whatever a previous generation of this shard left in the segment, before ready is posted.
  const events = new ShardEvents(init.shardId, init.cacheEvents);
  const cache = init.cache === null ? null : new ShardCache(init.cache, events);
  const ops = new ShardOps(store, cache, events);
  ops.setPolicies(new PolicyTable(init.cachePolicies));
  const oracle = new TimestampOracle(init.oracle);
  const txn = new TxnParticipant({
    store,
    ops,
    oracle,
    currentSegment: () => walRef.wal?.currentSegment ?? 0,
    metrics,
    log,
    versionBytesMax: init.storage.memoryBudgetBytes,
  });
  ops.setTxnHook(txn);
  walRef.txn = txn;
  const walDir = join(init.dir, 'wal');
  const { summary, result: replayed, inDoubt } = replayShardWal(ops, txn, walDir, store.flushedLsn, log);
  // After a flush retired every segment the log may be empty: it continues above the tables.
  const replayResult = { ...replayed, lastLsn: Math.max(replayed.lastLsn, store.flushedLsn) };
  const wal = WalWriter.open(
    {
      dir: walDir,
      fsync: init.fsync,
      fsyncBatchMs: init.fsyncBatchMs,
      segmentBytesMax: init.walSegmentBytes,
      ...(init.walArchive === null ? {} : { archiveDir: init.walArchive }),
      metrics: {
        onWrite: (bytes) => {
          metrics[ShardMetric.wal_bytes] += bytes;
          metrics[ShardMetric.wal_writes]++;
        },
        onFsync: observeFsync,
      },
      log,
    },
    replayResult,
  );
  if (summary.droppedBytes > 0) log('warn', 'WAL replay dropped a torn or corrupt tail', { ...summary });
  metrics[ShardMetric.replay_dropped_bytes] += summary.droppedBytes;
  walRef.wal = wal;
  publishMemory(metrics, store);
  publishDisk(metrics, init.dir, wal, store);

  // The document engine reads its catalog from the replayed store.
  const docs = new DocShard({
    store,
    ops,
    postChanges: (changes) => post({ kind: 'doc-changes', generation: init.generation, changes: encodeValue(changes as unknown as DocValue).slice() }),
    log,
  });
  docs.open(Date.now());

  // The table engine: catalog, segments and pending drops from the replayed store; orphan segment
  // files (a crash between a segment build and its commit) removed.
  const tables = new TableShard({
    store,
    ops,
    dataDir: init.dir,
    log,
    mover: {
      runPool: (task, transfer) => pool.run(task, transfer, 'background'),
      queueInternal: (task) => (actor as ShardActor).runInternal(task),
      // Everything logged so far (the commit just queued runs in the next turn) is durable.
      afterDurable: (cb) =>
        setTimeout(() => {
          wal.whenDurable(wal.stats().lsn, (error) => {
            if (error === null) cb();
          });
        }, 10),
      fault: process.env.MANTIS_FAULT_TABLE_MOVE_CRASH ?? null,
      ...(init.walArchive === null ? {} : { archiveFile: (path: string) => archiveTableFile(init.dir, init.walArchive as string, path) }),
    },
    emitExpired: (name, nowMs) => events.emit(Buffer.from(name), 'ttl', nowMs),
    txn: { versions: () => txn.versions, currentTs: () => oracle.current(), oldestSnapshot: () => oracle.oldestSnapshot() },
  });
  tables.open(Date.now());
  txn.setAppliedHook(
    (writes, nowMs) => tables.txnApplied(writes, nowMs),
    () => {
      for (const t of tables.data.values()) t.forgetMarks();
    },
  );

  actor = new ShardActor({
    reader: new RingReader(init.requestRing),
    sender: new ResponseSender(new RingWriter(init.responseRing)),
    ops,
    txn,
    store,
    wal,
    metrics,
    log,
    crashKey: process.env.MANTIS_FAULT_SHARD_CRASH_KEY ?? null,
    delayMs: faultDelayMs(process.env.MANTIS_FAULT_SHARD_DELAY_MS),
    events,
    writeBackMs: init.writeBackMs,
    shard: { id: init.shardId, dir: init.dir },
    clockEveryMs: init.walArchive === null ? 0 : ARCHIVE_CLOCK_MS,
    docs,
    tables,
  });
  let docWorkQueued = false;
  const docWork = (): void => {
    if (docWorkQueued) return;
    docWorkQueued = true;
    (actor as ShardActor).runInternal((nowMs, undo) => {
      docWorkQueued = false;
      const step = docs.background.step(nowMs, undo);
      // Backfills and drops go on at once (one bounded step per turn); TTL waits for the next tick.
      if (step.more) setImmediate(docWork);
      return step.writes;
    });
  };
  let tableWorkQueued = false;
  const tableWork = (): void => {
    if (tableWorkQueued) return;
    tableWorkQueued = true;
    (actor as ShardActor).runInternal((nowMs, undo) => {
      tableWorkQueued = false;
      const step = tables.background.step(nowMs, undo);
      if (step.more) setImmediate(tableWork);
      return step.writes;
    });
  };

  const sweep = setInterval(() => {
    const nowMs = Date.now();
    // Keys expired in the memtable are reported here (and dropped from the cache at once); the
    // cache's own tick reports cached keys that expire outside the memtable, each key once.
    const reported = new Set<string>();
    const listening = events.refresh();
    metrics[ShardMetric.ttl_expired] += store.sweepExpired(nowMs, LIMITS.ttl_sweep_entries_max, (key) => {
      const bytes = binaryToKey(key);
      cache?.expire(bytes);
      if (listening) {
        reported.add(key);
        if (bytes[0] !== INTERNAL_KEY_BYTE) events.emit(bytes, 'ttl', nowMs);
        else {
          // A table row's TTL: named tbl/<table>/<pk as JSON> (other internal keys have no readers).
          const name = tables.background.expiredKeyName(key);
          if (name !== null) events.emit(Buffer.from(name), 'ttl', nowMs);
        }
      }
    });
    events.post();
    cache?.tick(nowMs, reported);
    txn.gc(oracle.oldestSnapshot());
    txn.publish();
    publishMemory(metrics, store);
    docWork();
    tableWork();
    tables.background.tick(nowMs);
  }, LIMITS.ttl_sweep_interval_ms);
  sweep.unref();
  const health = setInterval(() => {
    publishDisk(metrics, init.dir, wal, store); // before the probe, so a failure shows at least one tick
    if (wal.failure !== null || store.failure !== null) recoverStorage(wal, store, actor as ShardActor);
  }, LIMITS.storage_probe_interval_ms);
  health.unref();

  const admin: ShardAdmin = {
    stats: (): ShardStats => {
      const w = wal.stats();
      const lsm = store.stats();
      return {
        shardId: init.shardId,
        keys: lsm.keys,
        memtableBytes: lsm.memtableBytes,
        lsm,
        wal: { ...w, failure: wal.failure?.message ?? null },
        replay: summary,
      };
    },
    flush: () => {
      actor?.flushWriteBack();
      return wal.flush();
    },
    setCachePolicies: (rules) => {
      // Pending write-back writes go to the WAL under the policy they were acknowledged with.
      actor?.flushWriteBack();
      ops.setPolicies(new PolicyTable(rules));
    },
    close: async () => {
      actor?.stop();
      events.close();
      clearInterval(sweep);
      clearInterval(health);
      // With an archive, a clean shutdown says so in the log: point-in-time recovery knows nothing follows.
      if (init.walArchive !== null && wal.failure === null) {
        try {
          wal.append([{ type: WAL_END, payload: encodeClock(Date.now()) }]);
        } catch {
          // the log failed just now: close() reports it
        }
      }
      await wal.close();
      await store.close();
    },
  };
  Comlink.expose(admin, nodeEndpoint(init.adminPort));

  const opened = store.stats();
  const keys = opened.keys;
  txn.publish();
  post({ kind: 'ready', generation: init.generation, replay: summary, keys, inDoubt });
  log('info', 'shard ready', { keys, tables: opened.levels.map((l) => l.tables), replayRecords: summary.records, replayMs: Math.round(summary.durationMs) });
  await actor.run();
}

/** The disk failed earlier: when the probe says it takes writes again, resume the WAL and the LSM. */
function recoverStorage(wal: WalWriter, store: LsmStore, actor: ShardActor): void {
  const reason = probeStorage(init.dir, store.failure?.freeBytesNeeded ?? 0);
  if (reason !== null) return;
  try {
    wal.recover();
  } catch (error) {
    log('warn', 'storage probe passed but the WAL still fails', { error: String(error) });
    return;
  }
  store.retry();
  actor.wake();
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  post({ kind: 'fatal', generation: init.generation, message });
  throw error;
});
