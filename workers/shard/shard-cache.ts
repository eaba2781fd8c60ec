// Shard side: this shard's cache segment, kept exact with its LSM store. Runs
// on the shard thread, the segment's only writer (the router only reads hits
// out of it). Write-through: every applied put and delete updates the cache
// before the write can be acknowledged, so a read issued after an ack finds
// the new value or nothing. A rolled-back write (failed WAL write or fsync)
// drops its keys, so the next read falls back to the store and sees the truth.
// Read-through: a GET the store answers loads the value. Values too large for
// the segment are simply not cached (CacheWriter refuses them and drops any
// older entry for the key). Entries leaving on their own — evicted to make
// room, expired by the sweeper — are reported as invalidation events.

import { LIMITS } from '../../shared/limits.js';
import type { CacheHit } from '../../shared/cache/index.js';
import { CacheWriter } from '../cache/index.js';
import type { Undo } from '../lsm/index.js';
import { binaryToKey, DeadlineHeap, keyToBinary } from '../store/memtable.js';
import type { ShardEvents } from './shard-events.js';


export class ShardCache {
  private readonly writer: CacheWriter;
  /**
   * Entries stored with a TTL, by deadline, so an expiry is reported within a tick rather than when
   * the budgeted slot sweep comes round (tens of seconds on a large segment). Items whose entry was
   * overwritten or removed are skipped when they come due.
   */
  private readonly deadlines = new DeadlineHeap();
  /**
   * Deadlines tracked at most: twice what the segment can hold (stale items of overwritten entries
   * take the rest); beyond, the slot sweep finds the expired entries.
   */
  private readonly deadlinesMax: number;

  /** Takes the segment over: whatever a previous shard generation left in it is cleared. */
  constructor(
    segment: SharedArrayBuffer,
    private readonly events: ShardEvents | null = null,
  ) {
    this.writer = new CacheWriter(segment);
    this.deadlinesMax = 2 * this.writer.entriesMax;
  }

  /**
   * Write-through of an applied put (and read-through of a stored value: the same operation).
   * False: not stored (too large, or turned away by the admission policy unless `force`).
   */
  store(key: Uint8Array, value: Uint8Array, contentType: string, expiresAtMs: number, force = false): boolean {
    const result = this.writer.set(key, value, contentType, expiresAtMs, force);
    if (result.stored && expiresAtMs !== 0 && this.deadlines.size < this.deadlinesMax) this.deadlines.push(expiresAtMs, keyToBinary(key));
    if (result.evicted.length > 0 && this.events?.active === true) {
      const now = Date.now();
      for (const evicted of result.evicted) this.events.emit(evicted, 'eviction', now);
    }
    return result.stored;
  }

  /** Whether store() would take the entry (a cache-only put must not be acknowledged otherwise). */
  accepts(key: Uint8Array, value: Uint8Array, contentType: string): boolean {
    return this.writer.accepts(key, value, contentType);
  }

  /** The shard's own lookup: cache-only keys are answered from here. */
  get(key: Uint8Array, nowMs: number): CacheHit | null {
    return this.writer.get(key, nowMs);
  }

  /** True when an entry was removed. */
  remove(key: Uint8Array): boolean {
    return this.writer.delete(key);
  }

  /** The key expired (the store's sweep found it): out of the cache too, counted as an expiration. */
  expire(key: Uint8Array): void {
    this.writer.expire(key);
  }

  /** Removes the entries under `prefix` in a slice of the index (see CacheWriter.removeByPrefix). */
  removeByPrefix(prefix: Uint8Array, fromSlot: number, budget: number): { keys: Uint8Array[]; next: number } {
    return this.writer.removeByPrefix(prefix, fromSlot, budget);
  }

  /** The writes in `undo` are being rolled back: none of their keys may stay cached. */
  forget(undo: readonly Undo[]): void {
    for (const entry of undo) this.writer.delete(binaryToKey(entry.key));
  }

  /**
   * The sweeper tick: removes expired entries — those due in the deadline heap, then a
   * budgeted slot sweep (at most LIMITS.cache_sweep_slots_max of each, so a tick holds the
   * shard for a bounded time) — reports them unless `reported` (binary keys the store's own
   * sweep just reported) has them, and feeds the router's recorded hits to the eviction policy.
   */
  tick(nowMs: number, reported: ReadonlySet<string> = new Set()): void {
    const expired: Uint8Array[] = [];
    for (let n = 0; n < LIMITS.cache_sweep_slots_max; n++) {
      const top = this.deadlines.peek();
      if (top === undefined || top.atMs > nowMs) break;
      this.deadlines.pop();
      const key = binaryToKey(top.key);
      if (this.writer.expiryOf(key) !== top.atMs) continue; // overwritten, removed or evicted since
      this.writer.expire(key);
      if (!reported.has(top.key)) expired.push(key);
    }
    for (const key of this.writer.sweepExpired(nowMs, LIMITS.cache_sweep_slots_max)) {
      if (!reported.has(keyToBinary(key))) expired.push(key);
    }
    if (expired.length > 0 && this.events !== null && this.events.refresh()) {
      for (const key of expired) this.events.emit(key, 'ttl', nowMs);
      this.events.post();
    }
    this.writer.drainReadBuffer();
  }
}
