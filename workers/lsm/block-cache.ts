// Decompressed, checksum-verified blocks of one shard's tables, bounded in bytes.
// Second-chance LRU (CLOCK) over a Map's insertion order: a hit only sets a
// referenced bit (no reordering on the read path); eviction takes from the front,
// moving referenced blocks to the back once with the bit cleared. Runs on the
// shard's thread only (not shared across threads).

/** Per-entry bookkeeping charged against the capacity besides the block bytes. */
export const CACHE_ENTRY_OVERHEAD_BYTES = 80;

type CacheEntry = { readonly fileNumber: number; readonly block: Uint8Array; readonly charge: number; referenced: boolean };

const TWO_32 = 2 ** 32;
const FILE_NUMBER_PACKED_MAX = 2 ** 21;

export class BlockCache {
  readonly capacityBytes: number;
  hits = 0;
  misses = 0;
  evictions = 0;
  private readonly map = new Map<number | string, CacheEntry>();
  private used = 0;

  constructor(capacityBytes: number) {
    if (!Number.isFinite(capacityBytes) || capacityBytes < 0) {
      throw new RangeError(`block cache capacity must be a byte count ≥ 0, got ${capacityBytes}`);
    }
    this.capacityBytes = capacityBytes;
  }

  /** Bytes charged (blocks + per-entry overhead); never above capacityBytes. */
  get bytes(): number {
    return this.used;
  }

  get entries(): number {
    return this.map.size;
  }

  get(fileNumber: number, offset: number): Uint8Array | undefined {
    const key = cacheKey(fileNumber, offset);
    const entry = this.map.get(key);
    if (entry === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    entry.referenced = true;
    return entry.block;
  }

  /** Caches a block unless it is larger than capacity/8. The caller must not modify it afterwards. */
  set(fileNumber: number, offset: number, block: Uint8Array): void {
    const charge = block.byteLength + CACHE_ENTRY_OVERHEAD_BYTES;
    if (charge > this.capacityBytes / 8) return;
    const key = cacheKey(fileNumber, offset);
    const old = this.map.get(key);
    if (old !== undefined) {
      this.map.delete(key);
      this.used -= old.charge;
    }
    while (this.used + charge > this.capacityBytes) this.evictOldest();
    this.map.set(key, { fileNumber, block, charge, referenced: false });
    this.used += charge;
  }

  /** Drops every block of a table (when the table is deleted). */
  evictFile(fileNumber: number): void {
    for (const [key, entry] of this.map) {
      if (entry.fileNumber === fileNumber) {
        this.map.delete(key);
        this.used -= entry.charge;
      }
    }
  }

  clear(): void {
    this.map.clear();
    this.used = 0;
  }

  /** Evicts the first unreferenced block from the front, giving referenced ones a second chance. */
  private evictOldest(): void {
    for (const [key, entry] of this.map) {
      this.map.delete(key);
      if (entry.referenced) {
        entry.referenced = false;
        this.map.set(key, entry);
        continue;
      }
      this.used -= entry.charge;
      this.evictions++;
      return;
    }
  }
}

/** A number when (fileNumber, offset) packs into 2^53, else a string. */
function cacheKey(fileNumber: number, offset: number): number | string {
  if (fileNumber < FILE_NUMBER_PACKED_MAX && offset < TWO_32) return fileNumber * TWO_32 + offset;
  return `${fileNumber}:${offset}`;
}
