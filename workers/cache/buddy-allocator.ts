// Shard side: the buddy allocator of a cache segment's arena. Runs only on the
// owning shard's thread; its bookkeeping lives in the shard's JS heap, the
// blocks it hands out are byte ranges of the shared arena.
//
// Blocks are powers of two from BLOCK_BYTES_MIN up to `blockBytesMax`; freeing
// a block merges it with its free buddy, level by level, so fragmentation
// stays bounded (internal: < 2x per block; external: coalesced). The arena
// need not be a power of two: it is carved into aligned power-of-two blocks,
// and a block's buddy outside the arena never exists, so it never merges.
// Offsets are relative to the arena's start. Free lists are doubly linked
// through typed arrays indexed by 64-byte unit, so alloc and free are
// O(number of orders).

import { BLOCK_BYTES_MIN } from '../../shared/cache/cache-layout.js';

const UNIT_SHIFT = Math.log2(BLOCK_BYTES_MIN);
const NONE = -1;

export class BuddyAllocator {
  readonly arenaBytes: number;
  readonly blockBytesMax: number;
  private readonly orderMax: number;
  private readonly freeHead: Int32Array;
  private readonly next: Int32Array;
  private readonly prev: Int32Array;
  /** Order of the free block starting at a unit, or NONE. */
  private readonly freeOrder: Int8Array;
  /** Order of the allocated block starting at a unit, or NONE. */
  private readonly usedOrder: Int8Array;
  private freeBytesNow = 0;

  /** REQUIRES: arenaBytes a multiple of 64; blockBytesMax a power of two in [64, arenaBytes]. */
  constructor(arenaBytes: number, blockBytesMax: number) {
    if (arenaBytes % BLOCK_BYTES_MIN !== 0 || blockBytesMax < BLOCK_BYTES_MIN || blockBytesMax > arenaBytes
      || (blockBytesMax & (blockBytesMax - 1)) !== 0) {
      throw new RangeError(`bad arena ${arenaBytes} / block max ${blockBytesMax}`);
    }
    this.arenaBytes = arenaBytes;
    this.blockBytesMax = blockBytesMax;
    this.orderMax = Math.log2(blockBytesMax) - UNIT_SHIFT;
    const units = arenaBytes >>> UNIT_SHIFT;
    this.freeHead = new Int32Array(this.orderMax + 1).fill(NONE);
    this.next = new Int32Array(units);
    this.prev = new Int32Array(units);
    this.freeOrder = new Int8Array(units).fill(NONE);
    this.usedOrder = new Int8Array(units).fill(NONE);
    this.carve(units);
  }

  get freeBytes(): number {
    return this.freeBytesNow;
  }

  /** Bytes of the block that would hold `bytes`, or 0 when it is over the block maximum. */
  blockBytesFor(bytes: number): number {
    const block = Math.max(BLOCK_BYTES_MIN, 2 ** Math.ceil(Math.log2(Math.max(1, bytes))));
    return block > this.blockBytesMax ? 0 : block;
  }

  /** The arena offset of a block of at least `bytes`, or -1 when none is free. */
  alloc(bytes: number): number {
    const block = this.blockBytesFor(bytes);
    if (block === 0) return -1;
    const order = Math.log2(block) - UNIT_SHIFT;
    let found = order;
    while (found <= this.orderMax && this.freeHead[found] === NONE) found++;
    if (found > this.orderMax) return -1;
    const unit = this.freeHead[found];
    this.unlink(unit, found);
    while (found > order) {
      found--;
      this.push(unit + (1 << found), found);
    }
    this.usedOrder[unit] = order;
    this.freeBytesNow -= block;
    return unit << UNIT_SHIFT;
  }

  /** REQUIRES: offset came from alloc and was not freed since. */
  free(offset: number): void {
    let unit = offset >>> UNIT_SHIFT;
    let order = this.usedOrder[unit];
    if (order === NONE || (offset & (BLOCK_BYTES_MIN - 1)) !== 0) {
      throw new Error(`assertion failed: free of a block not allocated at ${offset}`);
    }
    this.usedOrder[unit] = NONE;
    this.freeBytesNow += BLOCK_BYTES_MIN << order;
    while (order < this.orderMax) {
      const buddy = unit ^ (1 << order);
      if (buddy >= this.freeOrder.length || this.freeOrder[buddy] !== order) break;
      this.unlink(buddy, order);
      unit = Math.min(unit, buddy);
      order++;
    }
    this.push(unit, order);
  }

  /** Bytes of the allocated block at `offset`. */
  blockBytesAt(offset: number): number {
    const order = this.usedOrder[offset >>> UNIT_SHIFT];
    return order === NONE ? 0 : BLOCK_BYTES_MIN << order;
  }

  /** Free blocks per order (index 0 = 64 B), for tests and stats. */
  freeBlockCounts(): number[] {
    const counts: number[] = [];
    for (let order = 0; order <= this.orderMax; order++) {
      let n = 0;
      for (let unit = this.freeHead[order]; unit !== NONE; unit = this.next[unit]) n++;
      counts.push(n);
    }
    return counts;
  }

  private carve(units: number): void {
    let unit = 0;
    while (unit < units) {
      let order = this.orderMax;
      while ((unit & ((1 << order) - 1)) !== 0 || unit + (1 << order) > units) order--;
      this.push(unit, order);
      this.freeBytesNow += BLOCK_BYTES_MIN << order;
      unit += 1 << order;
    }
  }

  private push(unit: number, order: number): void {
    const head = this.freeHead[order];
    this.next[unit] = head;
    this.prev[unit] = NONE;
    if (head !== NONE) this.prev[head] = unit;
    this.freeHead[order] = unit;
    this.freeOrder[unit] = order;
  }

  private unlink(unit: number, order: number): void {
    const next = this.next[unit];
    const prev = this.prev[unit];
    if (prev === NONE) this.freeHead[order] = next;
    else this.next[prev] = next;
    if (next !== NONE) this.prev[next] = prev;
    this.freeOrder[unit] = NONE;
  }
}
