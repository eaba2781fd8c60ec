// Shard side: the only writer of one cache segment. Runs on the owning shard's
// thread and owns everything in the segment except the router's counters and
// the producer end of the read buffer: the index, the arena (through the buddy
// allocator), the W-TinyLFU policy, and the exact logical-byte accounting
// (key + value + content type + ENTRY_OVERHEAD_BYTES per entry, never above
// the capacity after any call returns).
//
// The policy weighs an entry by its CHARGE: the largest of its logical bytes,
// its arena block scaled to the capacity (block × capacity / arena), and
// capacity / entriesMax. Keeping the charges within the capacity therefore
// keeps the logical bytes, the arena and the index all within bounds, so
// W-TinyLFU's admission duel decides nearly every eviction; the allocator
// failing (external fragmentation) only adds plain evictions.
//
// Publishing protocol: a new entry's bytes are written into a block no slot
// references, then the slot is switched to it under its seqlock; the block an
// entry leaves (overwrite, delete, eviction, expiry) is freed only after the
// slot that referenced it has bumped its seq. So a router copy that overlaps
// any reuse of that memory fails validation.

import { cacheHash } from '../../shared/cache/cache-hash.js';
import {
  ENTRY_HEADER_BYTES, ENTRY_OVERHEAD_BYTES, H, KEY_BYTES_MAX, addCounter, readCounter,
} from '../../shared/cache/cache-layout.js';
import type { CacheHit } from '../../shared/cache/cache-reader.js';
import {
  entryContentTypeLength, entryExpiresAtMs, entryKeyLength, entryValueLength, segmentViews, type SegmentViews,
} from '../../shared/cache/segment-views.js';
import { BuddyAllocator } from './buddy-allocator.js';
import { ContentTypeEncoder, copyEntryKey, entryContentType, writeEntry } from './cache-entry-codec.js';
import { CacheIndex, NO_SLOT } from './cache-index.js';
import { NO_NODE } from './node-lists.js';
import { TinyLfuPolicy, type PolicyTuning, type PolicyWeights } from './tiny-lfu-policy.js';

export type CacheWriterOptions = PolicyTuning;

export interface CacheSetResult {
  /** False: the key is NOT in the cache afterwards (refused, or lost admission). */
  readonly stored: boolean;
  /** The entry was too large to cache (over capacity/8 or a field limit). */
  readonly refused: boolean;
  /** Keys evicted to make room (copies). Never includes the key being set. */
  readonly evicted: Uint8Array[];
}

export interface CacheWriterStats {
  readonly capacityBytes: number;
  readonly bytes: number;
  /** Sum of policy charges (≥ bytes; see the header comment). */
  readonly chargedBytes: number;
  readonly entries: number;
  readonly entriesMax: number;
  readonly evictions: number;
  readonly expirations: number;
  readonly refused: number;
  readonly arenaBytes: number;
  readonly arenaFreeBytes: number;
  readonly policy: PolicyWeights;
  readonly readBufferDrained: number;
}

export class CacheWriter {
  private readonly views: SegmentViews;
  private readonly capacityBytes: number;
  private readonly entryBytesMax: number;
  private readonly arenaStart: number;
  private readonly allocator: BuddyAllocator;
  private readonly index: CacheIndex;
  private readonly policy: TinyLfuPolicy;
  private readonly types = new ContentTypeEncoder();
  private readonly nodeBytes: Float64Array;
  private readonly nodeCharge: Float64Array;
  private readonly chargeMin: number;
  private chargedBytes = 0;
  private readonly freeNodes: Int32Array;
  private freeNodeCount: number;
  private logicalBytes = 0;
  private entries = 0;
  private sweepCursor = 0;
  private readBufferDrained = 0;

  /** Takes over the segment: whatever a previous writer left is dropped. */
  constructor(sab: SharedArrayBuffer, options: CacheWriterOptions = {}) {
    this.views = segmentViews(sab);
    const { layout } = this.views;
    this.capacityBytes = layout.capacityBytes;
    this.entryBytesMax = Math.floor(layout.capacityBytes / 8);
    this.arenaStart = layout.arenaOffset;
    this.allocator = new BuddyAllocator(layout.arenaBytes, layout.blockBytesMax);
    const nodeCapacity = layout.entriesMax + 1;
    this.index = new CacheIndex(this.views, nodeCapacity);
    this.policy = new TinyLfuPolicy(nodeCapacity, layout.capacityBytes, layout.entriesMax, options);
    this.nodeBytes = new Float64Array(nodeCapacity);
    this.nodeCharge = new Float64Array(nodeCapacity);
    this.chargeMin = Math.ceil(layout.capacityBytes / layout.entriesMax);
    this.freeNodes = Int32Array.from({ length: nodeCapacity }, (_, i) => nodeCapacity - 1 - i);
    this.freeNodeCount = nodeCapacity;
    const header = this.views.header;
    Atomics.store(header, H.readTail, Atomics.load(header, H.readHead));
    this.publish();
  }

  /**
   * Caches key → value until expiresAtMs (0 = never), replacing any entry for
   * the key. REQUIRES: expiresAtMs finite and ≥ 0; contentType printable ASCII.
   * `force`: admit the entry whatever the policy thinks of it (evicting others): a cache-only
   * value has nowhere else to live, so the admission duel must not turn it away.
   */
  set(key: Uint8Array, value: Uint8Array, contentType: string, expiresAtMs: number, force = false): CacheSetResult {
    if (!(expiresAtMs >= 0) || !Number.isFinite(expiresAtMs)) throw new RangeError(`bad expiresAtMs ${expiresAtMs}`);
    this.drainReadBuffer();
    const type = this.types.encode(contentType);
    const hash = cacheHash(key);
    const slot = this.index.find(key, hash);
    const payload = key.length + type.length + value.length;
    const evicted: Uint8Array[] = [];
    if (!this.fits(key, payload)) {
      if (slot !== NO_SLOT) this.removeSlot(slot);
      addCounter(this.views.header, H.refused, 1);
      this.publish();
      return { stored: false, refused: true, evicted };
    }
    const logical = payload + ENTRY_OVERHEAD_BYTES;
    const entry = { key, type, value, expiresAtMs, logical, charge: this.chargeOf(logical, payload + ENTRY_HEADER_BYTES) };
    let stored = slot !== NO_SLOT && this.overwrite(slot, entry, evicted);
    if (!stored) {
      if (slot !== NO_SLOT) this.removeSlot(this.index.find(key, hash));
      stored = this.insert(hash, entry, evicted, force);
    }
    addCounter(this.views.header, H.evictions, evicted.length);
    this.publish();
    return { stored, refused: false, evicted };
  }

  delete(key: Uint8Array): boolean {
    const slot = this.index.find(key, cacheHash(key));
    if (slot === NO_SLOT) return false;
    this.removeSlot(slot);
    this.publish();
    return true;
  }

  /** The most entries the segment's index holds. */
  get entriesMax(): number {
    return this.views.layout.entriesMax;
  }

  /** Whether set() would store this entry (false: too large for the segment, it would be refused). */
  accepts(key: Uint8Array, value: Uint8Array, contentType: string): boolean {
    return this.fits(key, key.length + this.types.encode(contentType).length + value.length);
  }

  /**
   * Removes the entries whose key starts with `prefix` (bytes) among index slots from `fromSlot`,
   * examining at most `budget` of them; returns their keys and the slot to go on from (-1: the
   * end). Between slices, writes may shift an entry backwards across the cursor (backward-shift
   * deletion), so a scan in slices can miss an entry written before it started.
   */
  removeByPrefix(prefix: Uint8Array, fromSlot = 0, budget = Number.MAX_SAFE_INTEGER): { keys: Uint8Array[]; next: number } {
    const removed: Uint8Array[] = [];
    const { bytes } = this.views;
    const end = Math.min(this.index.slotCount, fromSlot + budget);
    let slot = fromSlot;
    while (slot < end && this.entries > 0) {
      const entry = this.index.entryAt(slot);
      if (entry !== 0 && entryKeyLength(this.views, entry) >= prefix.length) {
        const start = entry + ENTRY_HEADER_BYTES;
        let match = true;
        for (let i = 0; i < prefix.length; i++) {
          if (bytes[start + i] !== prefix[i]) {
            match = false;
            break;
          }
        }
        if (match) {
          removed.push(copyEntryKey(this.views, entry));
          this.removeSlot(slot); // the run shifts back into this slot: look at it again
          continue;
        }
      }
      slot++;
    }
    if (removed.length > 0) this.publish();
    return { keys: removed, next: slot >= this.index.slotCount || this.entries === 0 ? -1 : slot };
  }

  /** Removes the key's entry because its TTL ran out (counted as an expiration); true when one was there. */
  expire(key: Uint8Array): boolean {
    const slot = this.index.find(key, cacheHash(key));
    if (slot === NO_SLOT) return false;
    this.removeSlot(slot);
    addCounter(this.views.header, H.expirations, 1);
    this.publish();
    return true;
  }

  /** The expiry of the key's entry (0 = never), or -1 when not cached; not an access. */
  expiryOf(key: Uint8Array): number {
    const slot = this.index.find(key, cacheHash(key));
    return slot === NO_SLOT ? -1 : entryExpiresAtMs(this.views, this.index.entryAt(slot));
  }

  /** The shard's own lookup (counts as an access). Expired entries read as absent. */
  get(key: Uint8Array, nowMs: number): CacheHit | null {
    const slot = this.index.find(key, cacheHash(key));
    if (slot === NO_SLOT) return null;
    const entry = this.index.entryAt(slot);
    const expiresAtMs = entryExpiresAtMs(this.views, entry);
    if (expiresAtMs !== 0 && expiresAtMs <= nowMs) return null;
    this.policy.access(this.index.nodeAt(slot));
    const length = entryValueLength(this.views, entry);
    const start = entry + ENTRY_HEADER_BYTES + key.length + entryContentTypeLength(this.views, entry);
    return { value: this.views.bytes.slice(start, start + length), contentType: entryContentType(this.views, entry), expiresAtMs };
  }

  /**
   * Removes entries with expiresAtMs ≤ nowMs, examining at most `budget`
   * index slots (resuming where the last sweep stopped). Returns their keys.
   */
  sweepExpired(nowMs: number, budget: number): Uint8Array[] {
    const removed: Uint8Array[] = [];
    for (let examined = 0; examined < budget && this.entries > 0; examined++) {
      const slot = this.sweepCursor;
      const entry = this.index.entryAt(slot);
      const expiresAtMs = entry === 0 ? 0 : entryExpiresAtMs(this.views, entry);
      if (expiresAtMs !== 0 && expiresAtMs <= nowMs) {
        removed.push(copyEntryKey(this.views, entry));
        this.removeSlot(slot); // the run shifts back into this slot: look at it again
      } else {
        this.sweepCursor = slot + 1 === this.index.slotCount ? 0 : slot + 1;
      }
    }
    if (removed.length > 0) {
      addCounter(this.views.header, H.expirations, removed.length);
      this.publish();
    }
    return removed;
  }

  /** Feeds the router's recorded hits to the policy. Returns how many were read. */
  drainReadBuffer(): number {
    const { header, readBuffer } = this.views;
    const head = Atomics.load(header, H.readHead);
    const mask = readBuffer.length - 1;
    let count = 0;
    for (let tail = header[H.readTail]; tail !== head; tail = (tail + 1) | 0) {
      const slot = readBuffer[tail & mask];
      if (slot >= 0 && slot < this.index.slotCount && this.index.entryAt(slot) !== 0) {
        this.policy.access(this.index.nodeAt(slot));
      }
      count++;
    }
    Atomics.store(header, H.readTail, head);
    this.readBufferDrained += count;
    return count;
  }

  stats(): CacheWriterStats {
    const header = this.views.header;
    return {
      capacityBytes: this.capacityBytes,
      bytes: this.logicalBytes,
      chargedBytes: this.chargedBytes,
      entries: this.entries,
      entriesMax: this.views.layout.entriesMax,
      evictions: readCounter(header, H.evictions),
      expirations: readCounter(header, H.expirations),
      refused: readCounter(header, H.refused),
      arenaBytes: this.allocator.arenaBytes,
      arenaFreeBytes: this.allocator.freeBytes,
      policy: this.policy.weightsNow(),
      readBufferDrained: this.readBufferDrained,
    };
  }

  private chargeOf(logical: number, physical: number): number {
    const block = this.allocator.blockBytesFor(physical);
    return Math.max(logical, this.chargeMin, Math.ceil((block * this.capacityBytes) / this.allocator.arenaBytes));
  }

  private fits(key: Uint8Array, payload: number): boolean {
    return key.length <= KEY_BYTES_MAX
      && payload + ENTRY_OVERHEAD_BYTES <= this.entryBytesMax
      && this.allocator.blockBytesFor(payload + ENTRY_HEADER_BYTES) > 0;
  }

  /** Copy-then-switch in the same slot; false when only this entry could make room. */
  private overwrite(slot: number, entry: NewEntry, evicted: Uint8Array[]): boolean {
    const node = this.index.nodeAt(slot);
    const oldBytes = this.nodeBytes[node];
    const oldCharge = this.nodeCharge[node];
    this.policy.access(node);
    this.policy.resize(node, entry.charge);
    const block = this.makeRoom(entry.logical - oldBytes, entry.charge - oldCharge, 0, entry, node, NO_NODE, evicted);
    if (block < 0) {
      this.policy.resize(node, oldCharge);
      return false;
    }
    const at = this.arenaStart + block;
    writeEntry(this.views, at, entry.key, entry.type, entry.value, entry.expiresAtMs);
    const liveSlot = this.index.slotOf(node);
    const oldEntry = this.index.entryAt(liveSlot);
    this.index.replaceEntry(liveSlot, at);
    this.allocator.free(oldEntry - this.arenaStart);
    this.nodeBytes[node] = entry.logical;
    this.nodeCharge[node] = entry.charge;
    this.logicalBytes += entry.logical - oldBytes;
    this.chargedBytes += entry.charge - oldCharge;
    return true;
  }

  private insert(hash: number, entry: NewEntry, evicted: Uint8Array[], force: boolean): boolean {
    const node = this.freeNodes[--this.freeNodeCount];
    this.policy.insert(node, hash, entry.charge);
    // Forced: the newcomer is pinned, so only others are evicted.
    const block = this.makeRoom(entry.logical, entry.charge, 1, entry, force ? node : NO_NODE, force ? NO_NODE : node, evicted);
    if (block < 0) {
      this.policy.remove(node);
      this.freeNodes[this.freeNodeCount++] = node;
      return false;
    }
    const at = this.arenaStart + block;
    writeEntry(this.views, at, entry.key, entry.type, entry.value, entry.expiresAtMs);
    this.index.insert(hash, at, node);
    this.nodeBytes[node] = entry.logical;
    this.nodeCharge[node] = entry.charge;
    this.logicalBytes += entry.logical;
    this.chargedBytes += entry.charge;
    this.entries++;
    return true;
  }

  /**
   * Evicts until `addedBytes` more logical bytes, `addedCharge` more charge and
   * `addedEntries` more entries fit and a block for the entry is allocated; returns its arena
   * offset, or -1 when the policy would rather evict `newcomer` (or nothing
   * but `pinned` is left).
   */
  private makeRoom(
    addedBytes: number, addedCharge: number, addedEntries: number,
    entry: NewEntry, pinned: number, newcomer: number, evicted: Uint8Array[],
  ): number {
    const physical = ENTRY_HEADER_BYTES + entry.key.length + entry.type.length + entry.value.length;
    const { entriesMax } = this.views.layout;
    for (;;) {
      if (this.logicalBytes + addedBytes <= this.capacityBytes && this.chargedBytes + addedCharge <= this.capacityBytes
        && this.entries + addedEntries <= entriesMax) {
        const block = this.allocator.alloc(physical);
        if (block >= 0) return block;
      }
      const victim = this.policy.selectVictim(pinned);
      if (victim === NO_NODE || victim === newcomer) return -1;
      const slot = this.index.slotOf(victim);
      evicted.push(copyEntryKey(this.views, this.index.entryAt(slot)));
      this.removeSlot(slot);
    }
  }

  /** Unindexes the entry (bumping seqs), then frees its block and node. */
  private removeSlot(slot: number): void {
    const entry = this.index.entryAt(slot);
    const node = this.index.nodeAt(slot);
    this.index.remove(slot);
    this.allocator.free(entry - this.arenaStart);
    this.policy.remove(node);
    this.logicalBytes -= this.nodeBytes[node];
    this.chargedBytes -= this.nodeCharge[node];
    this.entries--;
    this.freeNodes[this.freeNodeCount++] = node;
  }

  private publish(): void {
    Atomics.store(this.views.header, H.logicalBytes, this.logicalBytes);
    Atomics.store(this.views.header, H.entries, this.entries);
  }
}

interface NewEntry {
  readonly key: Uint8Array;
  readonly type: Uint8Array;
  readonly value: Uint8Array;
  readonly expiresAtMs: number;
  readonly logical: number;
  readonly charge: number;
}
