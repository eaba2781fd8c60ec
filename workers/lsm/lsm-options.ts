// Tuning of one shard's LSM tree, derived from its share of --memory-budget-mb
// unless a flag overrides a part. Shared by the shard, the pool tasks, the
// tests and the storage benchmark.

import { DEFAULT_SST_OPTIONS, type SstOptions } from './sst-format.js';

export type LsmTuning = {
  /** The active memtable is frozen and flushed at this size (two may exist: active + flushing). */
  readonly memtableBytes: number;
  /** Decompressed data blocks kept in memory, LRU. */
  readonly blockCacheBytes: number;
  readonly sst: SstOptions;
  /** Level 0 is compacted into level 1 at this many tables… */
  readonly level0CompactTables: number;
  /** …and writes stall (bounded, then SHARD_BUSY) at this many. */
  readonly level0StallTables: number;
  /** Target size of level 1; level n+1 is levelMultiplier times level n. */
  readonly level1Bytes: number;
  readonly levelMultiplier: number;
  /** Compaction cuts output tables at about this size. */
  readonly tableTargetBytes: number;
  readonly levelCount: number;
};

export type LsmTuningOverrides = {
  readonly blockBytes?: number;
  readonly level1Bytes?: number;
  readonly levelMultiplier?: number;
  readonly tableTargetBytes?: number;
};

const MiB = 1024 * 1024;
const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x));

/**
 * Splits one shard's memory budget: a quarter for each of the two memtables
 * it may hold, a third for the block cache; the rest covers table indexes and
 * bloom filters (about 1.5 bytes per key plus one index entry per block).
 */
export function tuningFromBudget(budgetBytes: number, overrides: LsmTuningOverrides = {}): LsmTuning {
  const memtableBytes = Math.floor(clamp(budgetBytes / 4, 256 * 1024, 64 * MiB));
  const blockCacheBytes = Math.floor(Math.max(256 * 1024, budgetBytes / 3));
  const tableTargetBytes = overrides.tableTargetBytes ?? Math.floor(clamp(memtableBytes, 1 * MiB, 32 * MiB));
  return {
    memtableBytes,
    blockCacheBytes,
    sst: { ...DEFAULT_SST_OPTIONS, blockBytes: overrides.blockBytes ?? DEFAULT_SST_OPTIONS.blockBytes },
    level0CompactTables: 4,
    level0StallTables: 12,
    level1Bytes: overrides.level1Bytes ?? Math.max(4 * MiB, 4 * memtableBytes),
    levelMultiplier: overrides.levelMultiplier ?? 10,
    tableTargetBytes,
    levelCount: 7,
  };
}

/** Target bytes of level `level` (≥ 1). */
export function levelTargetBytes(t: LsmTuning, level: number): number {
  return t.level1Bytes * t.levelMultiplier ** (level - 1);
}
