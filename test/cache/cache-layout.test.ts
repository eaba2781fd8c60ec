// shared/cache/cache-layout.ts: sizing of a segment from its logical capacity
// and back, validation of capacities and of foreign buffers, the key hash.
import { describe, expect, it } from 'vitest';
import {
  CACHE_CAPACITY_BYTES_MIN, CacheReader, cacheCapacityForSegmentBytes, cacheHash, cacheSegmentBytes,
  computeCacheLayout, createCacheSegment,
} from '../../shared/cache/index.js';
import { bytes } from './support.js';

describe('cache layout', () => {
  it('sizes index and arena from the capacity, with a load factor of at most 0.7', () => {
    for (const capacity of [CACHE_CAPACITY_BYTES_MIN, 100_000, 1 << 20, 64 << 20]) {
      const layout = computeCacheLayout(capacity);
      expect(layout.entriesMax / layout.slotCount).toBeLessThanOrEqual(0.7);
      expect(layout.arenaBytes).toBeGreaterThanOrEqual(capacity);
      expect(layout.arenaOffset % 64).toBe(0);
      expect(layout.blockBytesMax).toBeGreaterThanOrEqual(capacity / 8);
      expect(layout.segmentBytes).toBeLessThan(capacity * 1.6 + 32 * 1024);
      expect(createCacheSegment(capacity).byteLength).toBe(layout.segmentBytes);
    }
  });

  it('inverts the segment size: the largest capacity that fits a byte budget', () => {
    for (const budget of [64 * 1024, 1 << 20, 10_000_000]) {
      const capacity = cacheCapacityForSegmentBytes(budget);
      expect(cacheSegmentBytes(capacity)).toBeLessThanOrEqual(budget);
      expect(cacheSegmentBytes(capacity + 1)).toBeGreaterThan(budget);
    }
    expect(cacheCapacityForSegmentBytes(1000)).toBe(0);
  });

  it('rejects bad capacities and buffers that are not segments', () => {
    for (const bad of [0, 4095, 4096.5, 2 ** 31, Number.NaN]) expect(() => computeCacheLayout(bad), String(bad)).toThrow(RangeError);
    expect(() => new CacheReader(new SharedArrayBuffer(4096))).toThrow(/not a cache segment/);
  });

  it('hashes keys to u32s that differ for different keys', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) {
      const hash = cacheHash(bytes(`key:${i}`));
      expect(hash >>> 0).toBe(hash);
      seen.add(hash);
    }
    expect(seen.size).toBeGreaterThan(9_990);
    expect(cacheHash(new Uint8Array(0))).toBe(cacheHash(new Uint8Array(0)));
  });
});
