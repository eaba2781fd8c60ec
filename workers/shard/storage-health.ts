// A shard's storage gauges (published to the shared metrics buffer) and the
// probe that decides when a failed disk is usable again. Runs in the shard.

import * as fs from 'node:fs';
import { join } from 'node:path';
import { LIMITS } from '../../shared/limits.js';
import { ShardMetric } from '../../shared/metrics-layout.js';
import type { LsmStore } from '../lsm/index.js';
import type { WalWriter } from '../wal/index.js';

/** Bytes of the files directly inside dir (0 if it is missing). */
function dirBytes(dir: string): number {
  let total = 0;
  try {
    for (const name of fs.readdirSync(dir)) {
      try {
        total += fs.statSync(join(dir, name)).size;
      } catch {
        // removed while we looked
      }
    }
  } catch {
    return 0;
  }
  return total;
}

export function freeBytes(dir: string): number {
  const st = fs.statfsSync(dir);
  return st.bavail * st.bsize;
}

/** The cheap gauges: keys and memory. Called often. */
export function publishMemory(m: Float64Array, store: LsmStore): void {
  const s = store.stats();
  m[ShardMetric.keys] = s.keys;
  m[ShardMetric.memtable_bytes] = s.memtableBytes;
  m[ShardMetric.lsm_memory_bytes] = s.memoryBytes;
  m[ShardMetric.block_cache_bytes] = s.blockCacheBytes;
  m[ShardMetric.block_cache_hits] = s.blockCacheHits;
  m[ShardMetric.block_cache_misses] = s.blockCacheMisses;
  m[ShardMetric.blocks_read] = s.reads.blocksRead;
  m[ShardMetric.lsm_flushes] = s.flushes;
  m[ShardMetric.lsm_compactions] = s.compactions;
  m[ShardMetric.lsm_tables] = s.levels.reduce((n, l) => n + l.tables, 0);
  m[ShardMetric.lsm_level0_tables] = s.levels[0].tables;
  m[ShardMetric.lsm_table_bytes] = s.tableBytes;
  m[ShardMetric.lsm_user_bytes] = s.userBytes;
  m[ShardMetric.lsm_disk_bytes_written] = s.diskBytesWritten;
  m[ShardMetric.lsm_compaction_bytes_read] = s.compactionBytesRead;
  m[ShardMetric.lsm_corruptions] = s.corruptions;
  m[ShardMetric.lsm_quarantined_tables] = s.quarantinedTables.length;
}

/** The gauges that touch the file system: disk usage and free space. About once a second. */
export function publishDisk(m: Float64Array, shardDir: string, wal: WalWriter, store: LsmStore): void {
  m[ShardMetric.disk_wal_bytes] = dirBytes(join(shardDir, 'wal'));
  try {
    m[ShardMetric.disk_free_bytes] = freeBytes(shardDir);
  } catch {
    m[ShardMetric.disk_free_bytes] = 0;
  }
  m[ShardMetric.storage_failed] = wal.failure !== null || store.failure !== null ? 1 : 0;
}

/**
 * Whether the disk under dir takes writes again: enough free space, and a
 * small file written, fsynced and removed. Returns null when usable, else why not.
 */
export function probeStorage(dir: string, freeBytesNeeded: number): string | null {
  const probe = join(dir, '.probe');
  try {
    const free = freeBytes(dir);
    const needed = Math.max(LIMITS.storage_probe_free_bytes_min, freeBytesNeeded);
    if (free < needed) return `only ${free} bytes free, ${needed} needed`;
    const fd = fs.openSync(probe, 'w');
    try {
      fs.writeSync(fd, Buffer.alloc(64 * 1024));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
      fs.rmSync(probe, { force: true });
    }
    return null;
  } catch (error) {
    return String(error);
  }
}
