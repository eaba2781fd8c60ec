// Entry point of one shard actor (a worker thread). It replays the shard's
// WAL into a fresh memtable, tells the router it is ready, then serves the
// request ring until the router terminates it. Administration (stats, flush,
// close) is exposed over comlink on a dedicated MessagePort.

import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { join } from 'node:path';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import { LIMITS } from '../shared/limits.js';
import { ShardMetric, FSYNC_BUCKETS_MS } from '../shared/metrics-layout.js';
import { RingReader, RingWriter } from '../shared/ring.js';
import type { ReplaySummary, ShardAdmin, ShardInit, ShardLifecycle, ShardStats } from '../shared/shard-contract.js';
import { decodeWriteOps, WAL_KV_OPS } from '../shared/wire.js';
import { Memtable } from './store/memtable.js';
import { replayWal, WalWriter, type ReplayResult } from './wal/index.js';
import { ResponseSender } from './shard/response-sender.js';
import { publishTableSize, ShardActor } from './shard/shard-actor.js';
import { ShardOps } from './shard/shard-ops.js';
import { createShardLog } from './shard/shard-log.js';

type WorkerInput = ShardInit & { readonly adminPort: MessagePort };

const init = workerData as WorkerInput;
const log = createShardLog(init.shardId, init.logLevel);
const metrics = new Float64Array(init.metrics);

function post(message: ShardLifecycle): void {
  parentPort?.postMessage(message);
}

function replay(ops: ShardOps, walDir: string): { summary: ReplaySummary; result: ReplayResult } {
  const started = performance.now();
  const nowMs = Date.now();
  const result = replayWal(
    walDir,
    (type, _lsn, payload) => {
      if (type !== WAL_KV_OPS) throw new Error(`unknown WAL record type ${type}`);
      for (const op of decodeWriteOps(payload)) ops.replay(op, nowMs);
    },
    log,
  );
  const summary = {
    segments: result.segments,
    records: result.records,
    bytes: result.bytes,
    lastLsn: result.lastLsn,
    droppedBytes: result.truncated?.droppedBytes ?? 0,
    truncatedReason: result.truncated?.reason ?? null,
    durationMs: performance.now() - started,
  };
  return { summary, result };
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

async function main(): Promise<void> {
  const table = new Memtable();
  const ops = new ShardOps(table);
  const walDir = join(init.dir, 'wal');
  const { summary, result: replayResult } = replay(ops, walDir);
  const wal = WalWriter.open(
    {
      dir: walDir,
      fsync: init.fsync,
      fsyncBatchMs: init.fsyncBatchMs,
      segmentBytesMax: init.walSegmentBytes,
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
  publishTableSize(metrics, table);

  const actor = new ShardActor({
    reader: new RingReader(init.requestRing),
    sender: new ResponseSender(new RingWriter(init.responseRing)),
    ops,
    table,
    wal,
    metrics,
    log,
    crashKey: process.env.MANTIS_FAULT_SHARD_CRASH_KEY ?? null,
    delayMs: faultDelayMs(process.env.MANTIS_FAULT_SHARD_DELAY_MS),
  });

  const sweep = setInterval(() => {
    metrics[ShardMetric.ttl_expired] += table.sweepExpired(Date.now(), LIMITS.ttl_sweep_entries_max);
    publishTableSize(metrics, table);
  }, LIMITS.ttl_sweep_interval_ms);
  sweep.unref();

  const admin: ShardAdmin = {
    stats: (): ShardStats => {
      const w = wal.stats();
      return {
        shardId: init.shardId,
        keys: table.size,
        memtableBytes: table.bytes,
        wal: { ...w, failure: wal.failure?.message ?? null },
        replay: summary,
      };
    },
    flush: () => wal.flush(),
    close: async () => {
      actor.stop();
      clearInterval(sweep);
      await wal.close();
    },
  };
  Comlink.expose(admin, nodeEndpoint(init.adminPort));

  post({ kind: 'ready', generation: init.generation, replay: summary, keys: table.size });
  log('info', 'shard ready', { keys: table.size, replayRecords: summary.records, replayMs: Math.round(summary.durationMs) });
  await actor.run();
}

main().catch((error: unknown) => {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  post({ kind: 'fatal', generation: init.generation, message });
  throw error;
});
