// Shard side: the writer's half of a segment's hash index (linear probing in
// shared memory). Only the owning shard calls it. Every slot change is
// bracketed by its seq: Atomics.add makes it odd, the plain word writes follow,
// Atomics.add makes it even again. An atomic read-modify-write is a full
// barrier, so bytes written before it (a new entry in the arena) are visible
// before the slot points at them, and the slot's seq has moved before any
// memory it stopped pointing at is freed and reused.
//
// Deletion shifts later entries of the probe run back into the hole (no
// tombstones). A reader probing while an entry moves may walk past it and
// report a miss; it can never see a wrong value, because every slot it reads
// is validated by that slot's own seq and a key lives in one slot at a time
// (during a move, two slots briefly hold the same entry).

import { H, SLOT_ENTRY, SLOT_HASH, SLOT_NODE, SLOT_WORDS, homeSlot } from '../../shared/cache/cache-layout.js';
import { ENTRY_HEADER_BYTES } from '../../shared/cache/cache-layout.js';
import { entryKeyLength, type SegmentViews } from '../../shared/cache/segment-views.js';

export const NO_SLOT = -1;

export class CacheIndex {
  readonly slotCount: number;
  private readonly views: SegmentViews;
  private readonly slots: Int32Array;
  /** Where each policy node's entry sits now (kept as entries shift). */
  private readonly slotOfNode: Int32Array;
  private probeMax = 0;

  constructor(views: SegmentViews, nodeCapacity: number) {
    this.views = views;
    this.slots = views.slots;
    this.slotCount = views.layout.slotCount;
    this.slotOfNode = new Int32Array(nodeCapacity).fill(NO_SLOT);
    this.clearAll();
  }

  find(key: Uint8Array, hash: number): number {
    const wanted = hash | 0;
    let slot = homeSlot(hash, this.slotCount);
    for (let p = 0; p <= this.probeMax; p++) {
      const base = slot * SLOT_WORDS;
      const entry = this.slots[base + SLOT_ENTRY];
      if (entry === 0) return NO_SLOT;
      if (this.slots[base + SLOT_HASH] === wanted && this.keyAt(entry, key)) return slot;
      slot = this.nextSlot(slot);
    }
    return NO_SLOT;
  }

  entryAt(slot: number): number {
    return this.slots[slot * SLOT_WORDS + SLOT_ENTRY];
  }

  nodeAt(slot: number): number {
    return this.slots[slot * SLOT_WORDS + SLOT_NODE];
  }

  slotOf(node: number): number {
    return this.slotOfNode[node];
  }

  /** REQUIRES: the key is not in the index and a slot is free (load ≤ 0.7). */
  insert(hash: number, entry: number, node: number): number {
    const home = homeSlot(hash, this.slotCount);
    let slot = home;
    while (this.slots[slot * SLOT_WORDS + SLOT_ENTRY] !== 0) slot = this.nextSlot(slot);
    const distance = this.distance(home, slot);
    if (distance > this.probeMax) {
      this.probeMax = distance;
      Atomics.store(this.views.header, H.probeMax, distance);
    }
    this.writeSlot(slot, hash | 0, entry, node);
    return slot;
  }

  /** Points an occupied slot at a new entry of the same key (an overwrite). */
  replaceEntry(slot: number, entry: number): void {
    const base = slot * SLOT_WORDS;
    this.writeSlot(slot, this.slots[base + SLOT_HASH], entry, this.slots[base + SLOT_NODE]);
  }

  /** Empties a slot, shifting the rest of its probe run back. */
  remove(slot: number): void {
    this.slotOfNode[this.nodeAt(slot)] = NO_SLOT;
    let hole = slot;
    let next = this.nextSlot(hole);
    for (;;) {
      const base = next * SLOT_WORDS;
      const entry = this.slots[base + SLOT_ENTRY];
      if (entry === 0) break;
      const hash = this.slots[base + SLOT_HASH];
      const home = homeSlot(hash >>> 0, this.slotCount);
      if (this.distance(home, next) >= this.distance(hole, next)) {
        this.writeSlot(hole, hash, entry, this.slots[base + SLOT_NODE]);
        hole = next;
      }
      next = this.nextSlot(next);
    }
    this.writeSlot(hole, 0, 0, 0);
  }

  private writeSlot(slot: number, hash: number, entry: number, node: number): void {
    const base = slot * SLOT_WORDS;
    Atomics.add(this.slots, base, 1);
    this.slots[base + SLOT_HASH] = hash;
    this.slots[base + SLOT_ENTRY] = entry;
    this.slots[base + SLOT_NODE] = node;
    Atomics.add(this.slots, base, 1);
    if (entry !== 0) this.slotOfNode[node] = slot;
  }

  /** A new writer starts from an empty index, bumping the seq of any slot a previous writer left. */
  private clearAll(): void {
    for (let slot = 0; slot < this.slotCount; slot++) {
      // A writer that died inside writeSlot (a crashed shard) left an odd seq: even it out first.
      if ((Atomics.load(this.slots, slot * SLOT_WORDS) & 1) !== 0) Atomics.add(this.slots, slot * SLOT_WORDS, 1);
      if (this.slots[slot * SLOT_WORDS + SLOT_ENTRY] !== 0) this.writeSlot(slot, 0, 0, 0);
    }
    Atomics.store(this.views.header, H.probeMax, 0);
  }

  private keyAt(entry: number, key: Uint8Array): boolean {
    if (entryKeyLength(this.views, entry) !== key.length) return false;
    const bytes = this.views.bytes;
    const start = entry + ENTRY_HEADER_BYTES;
    for (let i = 0; i < key.length; i++) if (bytes[start + i] !== key[i]) return false;
    return true;
  }

  private nextSlot(slot: number): number {
    return slot + 1 === this.slotCount ? 0 : slot + 1;
  }

  private distance(from: number, to: number): number {
    return to >= from ? to - from : to + this.slotCount - from;
  }
}
