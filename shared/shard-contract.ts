// What the router and a shard actor agree on besides the ring wire format:
// the data a shard starts with, its lifecycle messages, and the admin API it
// exposes over comlink (control plane, never on the hot path).

import type { PolicyRule } from './cache/policy.js';

export type FsyncPolicy = 'always' | 'batch' | 'none';

export type ShardInit = {
  readonly shardId: number;
  readonly generation: number;
  /** router → shard requests. */
  readonly requestRing: SharedArrayBuffer;
  /** shard → router responses. */
  readonly responseRing: SharedArrayBuffer;
  readonly metrics: SharedArrayBuffer;
  /** This shard's own directory inside the data directory. */
  readonly dir: string;
  readonly fsync: FsyncPolicy;
  readonly fsyncBatchMs: number;
  readonly walSegmentBytes: number;
  readonly logLevel: string;
  readonly storage: StorageInit;
  /**
   * This shard's cache segment (shared/cache), or null when the cache is off.
   * Created by the router and kept across restarts: the shard's CacheWriter
   * clears it when it starts, and only the shard writes it.
   */
  readonly cache: SharedArrayBuffer | null;
  /** The shared interest word of the invalidation channel (shared/cache/invalidation.ts). */
  readonly cacheEvents: SharedArrayBuffer;
  /** Cache policies by key prefix in force when the shard starts (setCachePolicies changes them). */
  readonly cachePolicies: readonly PolicyRule[];
  /** write-back: acknowledged writes reach the WAL within this many ms. */
  readonly writeBackMs: number;
  /** The timestamp oracle (shared/txn/timestamp-oracle.ts): commit timestamps and the oldest live snapshot. */
  readonly oracle: SharedArrayBuffer;
  /** Where this shard keeps retired WAL segments (--wal-archive DIR/shard-<id>); null = deleted. */
  readonly walArchive: string | null;
};

/** LSM sizing for one shard (flags --memory-budget-mb, --block-bytes, --level1-mb, --level-multiplier). */
export type StorageInit = {
  /** This shard's share of the process memory budget. */
  readonly memoryBudgetBytes: number;
  readonly blockBytes: number;
  /** null = derived from the memtable size. */
  readonly level1Bytes: number | null;
  readonly levelMultiplier: number;
};

export type ReplaySummary = {
  readonly segments: number;
  readonly records: number;
  readonly bytes: number;
  readonly lastLsn: number;
  readonly droppedBytes: number;
  readonly truncatedReason: string | null;
  readonly durationMs: number;
};

export type ShardLifecycle =
  | {
      readonly kind: 'ready';
      readonly generation: number;
      readonly replay: ReplaySummary;
      readonly keys: number;
      /** Transactions prepared in the WAL with no decision after replay (re-locked; the router must decide them). */
      readonly inDoubt: readonly string[];
    }
  | { readonly kind: 'fatal'; readonly generation: number; readonly message: string }
  /** Document changes the shard made on its own (TTL expiry): `changes` is an encoded DocChange[] (doc-codec). */
  | { readonly kind: 'doc-changes'; readonly generation: number; readonly changes: Uint8Array };

export type ShardStats = {
  readonly shardId: number;
  readonly keys: number;
  readonly memtableBytes: number;
  /** The LSM store's own figures (levels, tables, cache, amplification counters). */
  readonly lsm: Record<string, unknown>;
  readonly wal: {
    readonly lsn: number;
    readonly durableLsn: number;
    readonly segment: number;
    readonly segmentBytes: number;
    readonly bytesWritten: number;
    readonly fsyncs: number;
    readonly failure: string | null;
  };
  readonly replay: ReplaySummary;
};

export interface ShardAdmin {
  stats(): ShardStats;
  /** Makes everything written so far durable, whatever the fsync policy. */
  flush(): Promise<void>;
  /** Replaces the cache policies (the router's table, which it persists). */
  setCachePolicies(rules: readonly PolicyRule[]): void;
  /** Flushes and closes the WAL; the shard refuses writes afterwards. */
  close(): Promise<void>;
}
