// The memory layout of one shard's cache segment (a SharedArrayBuffer).
// Loaded by both threads: the owning shard writes the segment, the router
// reads hits out of it directly. This file owns only the layout, its sizing
// and the counters in the header; it imports nothing of ours.
//
// Segment (all offsets in bytes, little-endian as the platform's typed arrays):
//
//   [0, 512)          header, 128 i32 words on 64-byte lines:
//                       line 0  magic, layout version, capacity, slot count,
//                               slot/read-buffer/arena offsets and sizes,
//                               max entries, max block, max probe distance
//                       line 1  written by the shard: logical bytes, entries,
//                               evictions, expirations, refused (u64 as lo/hi)
//                       line 2  written by the router: hits, misses, fallbacks
//                       line 3  read-buffer head (router)
//                       line 4  read-buffer tail (shard)
//   [512, ...)        hash index: slotCount slots of 4 i32 words
//                       [seq][hash][entry offset, 0 = empty][policy node id]
//                     seq is a seqlock: odd while the shard rewrites the slot.
//                     Linear probing from home(hash); deletion shifts back.
//   read buffer       READ_BUFFER_SLOTS i32 slot indices: a lossy SPSC ring the
//                     router appends hits to and the shard drains (its policy).
//   arena             entries in buddy blocks (64 B minimum, 64-aligned):
//                       +0  f64 expiresAtMs (0 = never)
//                       +8  u32 value length
//                       +12 u16 key length
//                       +14 u8  content-type length (printable ASCII)
//                       +15 u8  reserved (0)
//                       +16 key bytes, content-type bytes, value bytes
//
// Sizing: capacityBytes is the LOGICAL budget, the exact cap on the sum over
// entries of key + value + content type + ENTRY_OVERHEAD_BYTES. The arena is
// 1.25 × capacity (buddy blocks round up to a power of two), the index holds
// at most one entry per 96 logical bytes at a load factor ≤ 0.7. The whole
// segment is about 1.5 × capacity; `cacheCapacityForSegmentBytes` inverts it.

export const CACHE_MAGIC = 0x4d435331; // 'MCS1'
export const CACHE_LAYOUT_VERSION = 1;

export const HEADER_BYTES = 512;
export const SLOT_WORDS = 4;
export const SLOT_SEQ = 0;
export const SLOT_HASH = 1;
export const SLOT_ENTRY = 2;
export const SLOT_NODE = 3;

export const ENTRY_HEADER_BYTES = 16;
/**
 * Counted per entry on top of key + value + content type: the 16-byte arena
 * header, the 16-byte index slot and 16 bytes toward the shard's policy node.
 */
export const ENTRY_OVERHEAD_BYTES = 48;
export const BLOCK_BYTES_MIN = 64;
export const READ_BUFFER_SLOTS = 4096;
export const KEY_BYTES_MAX = 0xffff;
export const CONTENT_TYPE_BYTES_MAX = 255;
export const CACHE_CAPACITY_BYTES_MIN = 4096;
export const CACHE_CAPACITY_BYTES_MAX = 1024 * 1024 * 1024;

const LOAD_FACTOR_MAX = 0.7;
const LOGICAL_BYTES_PER_ENTRY_MIN = 96;
const ARENA_PER_CAPACITY = 1.25;
/** One entry may use at most this fraction of the capacity (larger is refused). */
const ENTRY_CAPACITY_DIVISOR = 8;

/** Header word indices (i32). */
export const H = Object.freeze({
  magic: 0,
  version: 1,
  capacityBytes: 2,
  slotCount: 3,
  slotsOffset: 4,
  readBufferOffset: 5,
  readBufferSlots: 6,
  arenaOffset: 7,
  arenaBytes: 8,
  entriesMax: 9,
  blockBytesMax: 10,
  probeMax: 11,
  // shard-written (line 1)
  logicalBytes: 16,
  entries: 17,
  evictions: 18, // u64 lo/hi
  expirations: 20,
  refused: 22,
  // router-written (line 2)
  hits: 32,
  misses: 34,
  fallbacks: 36,
  // read buffer control (lines 3 and 4)
  readHead: 48,
  readTail: 64,
});

export interface CacheLayout {
  readonly capacityBytes: number;
  readonly slotCount: number;
  readonly slotsOffset: number;
  readonly readBufferOffset: number;
  readonly readBufferSlots: number;
  readonly arenaOffset: number;
  readonly arenaBytes: number;
  readonly entriesMax: number;
  readonly blockBytesMax: number;
  readonly segmentBytes: number;
}

const roundUp = (n: number, to: number): number => Math.ceil(n / to) * to;
const nextPow2 = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/** REQUIRES: capacityBytes an integer in [CACHE_CAPACITY_BYTES_MIN, CACHE_CAPACITY_BYTES_MAX]. */
export function computeCacheLayout(capacityBytes: number): CacheLayout {
  if (!Number.isInteger(capacityBytes) || capacityBytes < CACHE_CAPACITY_BYTES_MIN || capacityBytes > CACHE_CAPACITY_BYTES_MAX) {
    throw new RangeError(`cache capacity must be an integer in [${CACHE_CAPACITY_BYTES_MIN}, ${CACHE_CAPACITY_BYTES_MAX}] bytes, got ${capacityBytes}`);
  }
  const entriesMax = Math.max(16, Math.floor(capacityBytes / LOGICAL_BYTES_PER_ENTRY_MIN));
  const slotCount = Math.ceil(entriesMax / LOAD_FACTOR_MAX);
  const slotsOffset = HEADER_BYTES;
  const readBufferOffset = roundUp(slotsOffset + slotCount * SLOT_WORDS * 4, 64);
  const arenaOffset = roundUp(readBufferOffset + READ_BUFFER_SLOTS * 4, 64);
  const blockBytesMax = nextPow2(Math.ceil(capacityBytes / ENTRY_CAPACITY_DIVISOR));
  const arenaBytes = roundUp(Math.max(capacityBytes * ARENA_PER_CAPACITY, blockBytesMax), BLOCK_BYTES_MIN);
  return {
    capacityBytes, slotCount, slotsOffset, readBufferOffset, readBufferSlots: READ_BUFFER_SLOTS,
    arenaOffset, arenaBytes, entriesMax, blockBytesMax, segmentBytes: arenaOffset + arenaBytes,
  };
}

/** Bytes of shared memory a segment with this logical capacity takes. */
export function cacheSegmentBytes(capacityBytes: number): number {
  return computeCacheLayout(capacityBytes).segmentBytes;
}

/** The largest logical capacity whose segment fits in `segmentBytes` (0 if none does). */
export function cacheCapacityForSegmentBytes(segmentBytes: number): number {
  let low = CACHE_CAPACITY_BYTES_MIN;
  let high = Math.min(CACHE_CAPACITY_BYTES_MAX, Math.floor(segmentBytes));
  if (high < low || cacheSegmentBytes(low) > segmentBytes) return 0;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (cacheSegmentBytes(mid) <= segmentBytes) low = mid;
    else high = mid - 1;
  }
  return low;
}

/** A fresh, empty segment. Run by whoever creates the shard (the router). */
export function createCacheSegment(capacityBytes: number): SharedArrayBuffer {
  const layout = computeCacheLayout(capacityBytes);
  const sab = new SharedArrayBuffer(layout.segmentBytes);
  const header = new Int32Array(sab, 0, HEADER_BYTES / 4);
  header[H.version] = CACHE_LAYOUT_VERSION;
  header[H.capacityBytes] = layout.capacityBytes;
  header[H.slotCount] = layout.slotCount;
  header[H.slotsOffset] = layout.slotsOffset;
  header[H.readBufferOffset] = layout.readBufferOffset;
  header[H.readBufferSlots] = layout.readBufferSlots;
  header[H.arenaOffset] = layout.arenaOffset;
  header[H.arenaBytes] = layout.arenaBytes;
  header[H.entriesMax] = layout.entriesMax;
  header[H.blockBytesMax] = layout.blockBytesMax;
  Atomics.store(header, H.magic, CACHE_MAGIC);
  return sab;
}

/** The layout recorded in a segment's header; throws if it is not a cache segment. */
export function readCacheLayout(sab: SharedArrayBuffer): CacheLayout {
  if (sab.byteLength < HEADER_BYTES) throw new RangeError('not a cache segment: too small');
  const header = new Int32Array(sab, 0, HEADER_BYTES / 4);
  if (Atomics.load(header, H.magic) !== CACHE_MAGIC || header[H.version] !== CACHE_LAYOUT_VERSION) {
    throw new RangeError('not a cache segment: bad magic or layout version');
  }
  const layout = computeCacheLayout(header[H.capacityBytes]);
  if (layout.segmentBytes !== sab.byteLength || layout.slotCount !== header[H.slotCount]) {
    throw new RangeError('cache segment header does not match its size');
  }
  return layout;
}

/** The index's home slot of a hash: multiply-shift onto [0, slotCount). */
export function homeSlot(hash: number, slotCount: number): number {
  return Math.floor(((hash >>> 0) * slotCount) / 4294967296);
}

/** Adds n to a u64 counter kept as lo/hi words. Only one thread adds to a given counter. */
export function addCounter(header: Int32Array, lo: number, n: number): void {
  const old = Atomics.add(header, lo, n) >>> 0;
  if (old + n > 0xffffffff) Atomics.add(header, lo + 1, 1);
}

/**
 * Reads a u64 lo/hi counter from any thread. At the instant the low word
 * wraps, a read may come out 2^32 low once; it is otherwise exact.
 */
export function readCounter(header: Int32Array, lo: number): number {
  let value = 0;
  for (let attempt = 0; attempt < 4; attempt++) {
    const high = Atomics.load(header, lo + 1) >>> 0;
    value = high * 4294967296 + (Atomics.load(header, lo) >>> 0);
    if ((Atomics.load(header, lo + 1) >>> 0) === high) break;
  }
  return value;
}

export interface CacheSegmentStats {
  readonly capacityBytes: number;
  readonly bytes: number;
  readonly entries: number;
  readonly hits: number;
  readonly misses: number;
  readonly fallbacks: number;
  readonly evictions: number;
  readonly expirations: number;
  readonly refused: number;
}

/** Counters of one segment, readable from any thread (metrics, /cache/stats). */
export function readCacheStats(sab: SharedArrayBuffer): CacheSegmentStats {
  const header = new Int32Array(sab, 0, HEADER_BYTES / 4);
  return {
    capacityBytes: header[H.capacityBytes],
    bytes: Atomics.load(header, H.logicalBytes) >>> 0,
    entries: Atomics.load(header, H.entries) >>> 0,
    hits: readCounter(header, H.hits),
    misses: readCounter(header, H.misses),
    fallbacks: readCounter(header, H.fallbacks),
    evictions: readCounter(header, H.evictions),
    expirations: readCounter(header, H.expirations),
    refused: readCounter(header, H.refused),
  };
}
