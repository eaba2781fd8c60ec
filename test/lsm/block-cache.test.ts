// BlockCache: bounded in bytes under any sequence of operations, LRU order, evictFile.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BlockCache, CACHE_ENTRY_OVERHEAD_BYTES } from '../../workers/lsm/block-cache.js';

const block = (bytes: number, fill = 0): Uint8Array => new Uint8Array(bytes).fill(fill);

describe('block cache', () => {
  it('never holds more bytes than its capacity, and counts what it holds', () => {
    const opArb = fc.oneof(
      fc.record({ op: fc.constant('set' as const), file: fc.integer({ min: 1, max: 5 }), offset: fc.integer({ min: 0, max: 40 }), bytes: fc.integer({ min: 0, max: 3000 }) }),
      fc.record({ op: fc.constant('get' as const), file: fc.integer({ min: 1, max: 5 }), offset: fc.integer({ min: 0, max: 40 }) }),
      fc.record({ op: fc.constant('evict' as const), file: fc.integer({ min: 1, max: 5 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 20_000 }), fc.array(opArb, { maxLength: 300 }), (capacity, ops) => {
        const cache = new BlockCache(capacity);
        const model = new Map<string, number>();
        for (const o of ops) {
          if (o.op === 'set') {
            cache.set(o.file, o.offset, block(o.bytes));
            if (o.bytes + CACHE_ENTRY_OVERHEAD_BYTES <= capacity / 8) model.set(`${o.file}:${o.offset}`, o.bytes);
          } else if (o.op === 'get') {
            const got = cache.get(o.file, o.offset);
            // A hit is always the last block set at that place.
            if (got !== undefined) expect(got.length).toBe(model.get(`${o.file}:${o.offset}`));
          } else {
            cache.evictFile(o.file);
            for (const k of [...model.keys()]) if (k.startsWith(`${o.file}:`)) model.delete(k);
            expect(cache.get(o.file, 0)).toBeUndefined();
          }
          expect(cache.bytes).toBeLessThanOrEqual(capacity);
          expect(cache.bytes).toBeGreaterThanOrEqual(cache.entries * CACHE_ENTRY_OVERHEAD_BYTES);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('evicts the least recently used block first (a hit earns a second chance)', () => {
    const cache = new BlockCache(8 * (1000 + CACHE_ENTRY_OVERHEAD_BYTES) * 4); // room for 32 blocks of 1000
    for (let i = 0; i < 32; i++) cache.set(1, i, block(1000, i));
    expect(cache.entries).toBe(32);
    expect(cache.get(1, 0)?.[0]).toBe(0); // 0 becomes the most recent
    cache.set(2, 0, block(1000)); // evicts 1:1, the oldest untouched
    expect(cache.get(1, 1)).toBeUndefined();
    expect(cache.get(1, 0)).toBeDefined();
    expect(cache.get(1, 2)).toBeDefined();
    expect(cache.evictions).toBe(1);
    expect(cache.hits).toBe(3);
    expect(cache.misses).toBe(1);
  });

  it('does not cache a block larger than capacity / 8', () => {
    const cache = new BlockCache(80_000);
    cache.set(1, 0, block(10_000));
    expect(cache.entries).toBe(0);
    cache.set(1, 0, block(9_000));
    expect(cache.entries).toBe(1);
  });

  it('evictFile drops every block of one table and no other', () => {
    const cache = new BlockCache(1 << 20);
    for (let i = 0; i < 10; i++) {
      cache.set(7, i * 4096, block(100));
      cache.set(8, i * 4096, block(100));
    }
    cache.evictFile(7);
    expect(cache.entries).toBe(10);
    expect(cache.bytes).toBe(10 * (100 + CACHE_ENTRY_OVERHEAD_BYTES));
    expect(cache.get(7, 0)).toBeUndefined();
    expect(cache.get(8, 9 * 4096)).toBeDefined();
  });

  it('keys large file numbers and offsets apart', () => {
    const cache = new BlockCache(1 << 20);
    cache.set(2 ** 22, 5, block(1, 1));
    cache.set(1, 2 ** 33, block(1, 2));
    cache.set(1, 5, block(1, 3));
    expect(cache.get(2 ** 22, 5)?.[0]).toBe(1);
    expect(cache.get(1, 2 ** 33)?.[0]).toBe(2);
    expect(cache.get(1, 5)?.[0]).toBe(3);
  });
});
