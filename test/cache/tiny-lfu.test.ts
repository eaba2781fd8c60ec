// W-TinyLFU in CacheWriter: frequently used keys survive a one-time scan, the
// read buffer (router hits) counts as use, and the policy beats LRU's
// behaviour of keeping whatever came last.
import { describe, expect, it } from 'vitest';
import { cacheHash } from '../../shared/cache/index.js';
import { bytes, makeSegment } from './support.js';

const CAPACITY = 64 * 1024;
const VALUE = new Uint8Array(100);

function fill(s: ReturnType<typeof makeSegment>, prefix: string, count: number): void {
  for (let i = 0; i < count; i++) s.writer.set(bytes(`${prefix}${i}`), VALUE, '', 0);
}

function survivors(s: ReturnType<typeof makeSegment>, prefix: string, count: number): number {
  let n = 0;
  for (let i = 0; i < count; i++) if (s.writer.get(bytes(`${prefix}${i}`), 0) !== null) n++;
  return n;
}

describe('W-TinyLFU', () => {
  it('keeps a hot set through a one-time scan of 20x the capacity (shard-side accesses)', () => {
    const s = makeSegment(CAPACITY);
    const hot = 150; // about a third of what fits
    fill(s, 'hot', hot);
    for (let round = 0; round < 5; round++) for (let i = 0; i < hot; i++) s.writer.get(bytes(`hot${i}`), 0);
    fill(s, 'scan', 20 * 400);
    expect(survivors(s, 'hot', hot)).toBeGreaterThanOrEqual(hot * 0.95);
    expect(s.writer.stats().evictions).toBeGreaterThan(7000);
  });

  it('counts router hits drained from the read buffer as accesses', () => {
    const s = makeSegment(CAPACITY);
    const hot = 150;
    fill(s, 'hot', hot);
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < hot; i++) {
        const key = bytes(`hot${i}`);
        expect(s.reader.get(key, cacheHash(key), 0)).not.toBeNull();
      }
      expect(s.writer.drainReadBuffer()).toBe(hot);
    }
    fill(s, 'scan', 20 * 400);
    expect(survivors(s, 'hot', hot)).toBeGreaterThanOrEqual(hot * 0.95);
  });

  it('without accesses, a scan replaces older entries (nothing is pinned forever)', () => {
    const s = makeSegment(CAPACITY);
    fill(s, 'old', 150);
    for (let round = 0; round < 30; round++) fill(s, `scan${round}-`, 400);
    expect(survivors(s, 'old', 150)).toBeLessThan(15);
  });

  it('admits a newcomer used more often than the victim and rejects one used less', () => {
    const s = makeSegment(CAPACITY);
    fill(s, 'base', 430); // a little over what fits: the cache is full
    for (let round = 0; round < 2; round++) for (let i = 0; i < 430; i++) s.writer.get(bytes(`base${i}`), 0);
    s.writer.set(bytes('once'), VALUE, '', 0);
    s.writer.set(bytes('often'), VALUE, '', 0);
    for (let i = 0; i < 5; i++) s.writer.get(bytes('often'), 0);
    fill(s, 'filler', 20);
    expect(s.writer.get(bytes('once'), 0)).toBeNull();
    expect(s.writer.get(bytes('often'), 0)).not.toBeNull();
    expect(survivors(s, 'filler', 20)).toBeLessThan(5);
  });

  it('admits a forced newcomer (a cache-only value) even when the duel would turn it away', () => {
    const s = makeSegment(CAPACITY);
    // Values larger than the window (about 1 % of the capacity) go straight to the duel.
    const big = new Uint8Array(2000);
    for (let i = 0; i < 40; i++) s.writer.set(bytes(`base${i}`), big, '', 0);
    for (let round = 0; round < 3; round++) for (let i = 0; i < 40; i++) s.writer.get(bytes(`base${i}`), 0);
    let turnedAway = 0;
    for (let i = 0; i < 20; i++) {
      if (!s.writer.set(bytes(`plain${i}`), big, '', 0).stored) turnedAway++;
      const forced = s.writer.set(bytes(`forced${i}`), big, '', 0, true);
      expect(forced.stored).toBe(true);
      expect(s.writer.get(bytes(`forced${i}`), 0)).not.toBeNull();
    }
    expect(turnedAway, 'without force, new keys lose the duel').toBeGreaterThan(10);
  });
});
