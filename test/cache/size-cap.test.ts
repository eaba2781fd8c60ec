// CacheWriter under random sizes, against a model of the last value set per
// key: the logical bytes never exceed the capacity after any call, evictions
// happen and are reported, and the cache never holds a value other than the
// last one set (it may have dropped the key).
import { describe, expect, it } from 'vitest';
import { ENTRY_OVERHEAD_BYTES, readCacheStats } from '../../shared/cache/index.js';
import { Xorshift32 } from '../unit/support/prng.js';
import { bytes, makeSegment, text } from './support.js';

const CAPACITY = 256 * 1024;

function valueFor(key: number, version: number, length: number): Uint8Array {
  const value = new Uint8Array(length);
  for (let i = 0; i < length; i++) value[i] = (key * 31 + version * 7 + i) & 0xff;
  return value;
}

describe('size cap', () => {
  it('holds exactly under random sizes, overwrites and deletes', () => {
    const rng = new Xorshift32(0xcafe_0001);
    const s = makeSegment(CAPACITY);
    const model = new Map<number, { version: number; length: number }>();
    let evictions = 0;
    let refused = 0;
    for (let step = 0; step < 20_000; step++) {
      const key = rng.int(3000);
      if (rng.chance(0.1)) {
        const had = s.writer.delete(bytes(`k${key}`));
        expect(had).toBe(s.writer.get(bytes(`k${key}`), 0) === null && had);
        model.delete(key);
      } else {
        const length = rng.chance(0.05) ? rng.range(2000, CAPACITY / 6) : rng.range(0, 900);
        const version = step;
        const result = s.writer.set(bytes(`k${key}`), valueFor(key, version, length), 'application/x-test', 0);
        if (result.refused) refused++;
        evictions += result.evicted.length;
        for (const evictedKey of result.evicted) {
          expect(text(evictedKey)).not.toBe(`k${key}`);
          expect(s.read(text(evictedKey))).toBeNull();
        }
        if (result.stored) model.set(key, { version, length });
        else model.delete(key);
      }
      const stats = s.writer.stats();
      expect(stats.bytes).toBeLessThanOrEqual(CAPACITY);
      expect(stats.chargedBytes).toBeLessThanOrEqual(CAPACITY);
      expect(stats.chargedBytes).toBeGreaterThanOrEqual(stats.bytes);
      expect(stats.entries).toBeLessThanOrEqual(stats.entriesMax);
    }
    expect(evictions).toBeGreaterThan(1000);
    expect(refused).toBeGreaterThan(0);
    let expectedBytes = 0;
    let present = 0;
    for (let key = 0; key < 3000; key++) {
      const hit = s.read(`k${key}`);
      const want = model.get(key);
      if (hit === null) continue;
      expect(want, `k${key} is cached but was deleted or evicted`).toBeDefined();
      if (want === undefined) continue;
      expect(Buffer.from(hit.value).equals(Buffer.from(valueFor(key, want.version, want.length)))).toBe(true);
      expectedBytes += `k${key}`.length + want.length + 'application/x-test'.length + ENTRY_OVERHEAD_BYTES;
      present++;
    }
    expect(s.writer.stats()).toMatchObject({ bytes: expectedBytes, entries: present });
    expect(readCacheStats(s.sab)).toMatchObject({ bytes: expectedBytes, entries: present, evictions });
  });

  it('fills to within one entry of the capacity with equal-size entries', () => {
    const s = makeSegment(CAPACITY);
    const size = 200;
    for (let i = 0; i < 5000; i++) s.writer.set(bytes(`key:${String(i).padStart(6, '0')}`), new Uint8Array(size), '', 0);
    const perEntry = 10 + size + ENTRY_OVERHEAD_BYTES;
    const { bytes: used } = s.writer.stats();
    expect(used).toBeLessThanOrEqual(CAPACITY);
    expect(used).toBeGreaterThan(CAPACITY - perEntry);
  });
});
