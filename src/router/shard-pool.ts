// All shard actors of this process and the slot map that routes a key to one
// of them. The slot map is data (slot → shard index), never arithmetic spread
// through the code, so slots can later move between shards or machines.

import { join, resolve } from 'node:path';
import type { DocChange } from '../../shared/docs/doc-protocol.js';
import { buildSlotMap, shardOfKey, type SlotMap } from '../../shared/slot.js';
import { createShardMetrics } from '../../shared/metrics-layout.js';
import { LIMITS } from '../../shared/limits.js';
import { cacheCapacityForSegmentBytes, createCacheSegment } from '../../shared/cache/index.js';
import type { FsyncPolicy, StorageInit } from '../../shared/shard-contract.js';
import type { PolicyRule } from '../../shared/cache/policy.js';
import type { Logger } from '../log.js';
import { TaskPool } from '../pool/task-pool.js';
import { ShardClient, withTimeout } from './shard-client.js';

export type ShardPoolOptions = {
  readonly shards: number;
  readonly dataDir: string;
  readonly fsync: FsyncPolicy;
  readonly fsyncBatchMs: number;
  readonly logLevel: string;
  readonly log: Logger;
  /** Storage sizing for the whole process; the memory budget is split evenly across shards. */
  readonly storage: StorageInit;
  /** Shared memory for the cache across all shards (--cache-mb); 0 = no cache. */
  readonly cacheBytes: number;
  /** The invalidation channel's shared interest word. */
  readonly cacheEvents: SharedArrayBuffer;
  readonly cachePolicies: readonly PolicyRule[];
  readonly writeBackMs: number;
  /** A shard thread died unexpectedly (it is being restarted). */
  readonly onShardCrash?: (shard: number) => void;
  /** The timestamp oracle's buffer (shared/txn/timestamp-oracle.ts), given to every shard. */
  readonly oracle: SharedArrayBuffer;
  /** A shard generation is ready, with the transactions it holds prepared and undecided. */
  readonly onShardReady?: (shard: number, generation: number, inDoubt: readonly string[]) => void;
  /** Document changes a shard made on its own (TTL expiry, posted over the worker port), for change streams. */
  readonly onDocChanges?: (shard: number, changes: DocChange[]) => void;
  /** --wal-archive: each shard keeps its retired WAL segments in <walArchive>/shard-<id>; '' or absent = none. */
  readonly walArchive?: string;
  /** The data directory's timeline: a restored one archives under <walArchive>/timeline-<id>/. */
  readonly timeline?: string | null;
};

export class ShardPool {
  readonly shards: readonly ShardClient[];
  private readonly slotMap: SlotMap;
  /** Flushes and compactions of every shard run here. */
  readonly tasks = new TaskPool();

  constructor(options: ShardPoolOptions) {
    this.slotMap = buildSlotMap(options.shards);
    const storage = { ...options.storage, memoryBudgetBytes: Math.floor(options.storage.memoryBudgetBytes / options.shards) };
    const cacheCapacityBytes = cacheCapacityForSegmentBytes(Math.floor(options.cacheBytes / options.shards));
    this.shards = Array.from({ length: options.shards }, (_, shardId) => {
      const client = new ShardClient(
        {
          shardId,
          dir: join(options.dataDir, 'shards', String(shardId)),
          fsync: options.fsync,
          fsyncBatchMs: options.fsyncBatchMs,
          walSegmentBytes: LIMITS.wal_segment_bytes_max,
          logLevel: options.logLevel,
          log: options.log,
          pool: this.tasks,
          storage,
          // One segment per shard for the life of the process: a restarted shard takes it over.
          cache: cacheCapacityBytes > 0 ? createCacheSegment(cacheCapacityBytes) : null,
          cacheEvents: options.cacheEvents,
          cachePolicies: options.cachePolicies,
          writeBackMs: options.writeBackMs,
          onCrash: options.onShardCrash,
          onReady: options.onShardReady,
          onDocChanges: options.onDocChanges,
          oracle: options.oracle,
          walArchive: options.walArchive === undefined || options.walArchive === '' ? null : join(resolve(options.walArchive), options.timeline === undefined || options.timeline === null ? '' : `timeline-${options.timeline}`, `shard-${shardId}`),
          ringBytes: LIMITS.ring_bytes, // larger frames are fragmented
        },
        createShardMetrics(),
      );
      return client;
    });
  }

  async start(): Promise<void> {
    await Promise.all(
      this.shards.map((shard) => withTimeout(shard.start(), LIMITS.shard_start_timeout_ms, `shard ${shard.id} start (WAL replay)`)),
    );
  }

  /** Sends new cache policies to every shard (a restarting shard starts with them). */
  async setCachePolicies(rules: readonly PolicyRule[]): Promise<void> {
    await Promise.all(this.shards.map((shard) => shard.setCachePolicies(rules)));
  }

  shardFor(key: Uint8Array): ShardClient {
    return this.shards[shardOfKey(this.slotMap, key)];
  }

  allReady(): boolean {
    return this.shards.every((shard) => shard.state === 'ready');
  }

  async stop(timeoutMs: number): Promise<void> {
    await Promise.all(this.shards.map((shard) => shard.stop(timeoutMs)));
    await this.tasks.close();
  }
}
