// Shard side: this shard's cache segment, kept exact with its LSM store. Runs
// on the shard thread, the segment's only writer (the router only reads hits
// out of it). Write-through: every applied put and delete updates the cache
// before the write can be acknowledged, so a read issued after an ack finds
// the new value or nothing. A rolled-back write (failed WAL write or fsync)
// drops its keys, so the next read falls back to the store and sees the truth.
// Read-through: a GET the store answers loads the value. Values too large for
// the segment are simply not cached (CacheWriter refuses them and drops any
// older entry for the key).

import { LIMITS } from '../../shared/limits.js';
import { CacheWriter } from '../cache/index.js';
import type { Undo } from '../lsm/index.js';
import { binaryToKey } from '../store/memtable.js';

export class ShardCache {
  private readonly writer: CacheWriter;

  /** Takes the segment over: whatever a previous shard generation left in it is cleared. */
  constructor(segment: SharedArrayBuffer) {
    this.writer = new CacheWriter(segment);
  }

  /** Write-through of an applied put (and read-through of a stored value: the same operation). */
  store(key: Uint8Array, value: Uint8Array, contentType: string, expiresAtMs: number): void {
    this.writer.set(key, value, contentType, expiresAtMs);
  }

  remove(key: Uint8Array): void {
    this.writer.delete(key);
  }

  /** The writes in `undo` are being rolled back: none of their keys may stay cached. */
  forget(undo: readonly Undo[]): void {
    for (const entry of undo) this.writer.delete(binaryToKey(entry.key));
  }

  /**
   * The sweeper tick: removes expired entries (at most LIMITS.cache_sweep_slots_max
   * index slots examined, so a tick holds the shard for a bounded time) and
   * feeds the router's recorded hits to the eviction policy.
   */
  tick(nowMs: number): void {
    this.writer.sweepExpired(nowMs, LIMITS.cache_sweep_slots_max);
    this.writer.drainReadBuffer();
  }
}
