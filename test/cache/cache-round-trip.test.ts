// shared/cache + workers/cache on one thread: set/get/delete/overwrite round
// trips through the writer and the router's reader, TTL boundaries, refusal of
// oversized entries, and the shared counters.
import { describe, expect, it } from 'vitest';
import { ENTRY_OVERHEAD_BYTES, cacheHash, readCacheStats } from '../../shared/cache/index.js';
import { bytes, makeSegment, text } from './support.js';

const MIB = 1024 * 1024;

describe('round trips', () => {
  it('reads back what was set, on both sides, with content type and expiry', () => {
    const s = makeSegment(MIB);
    expect(s.writer.set(bytes('a'), bytes('alpha'), 'text/plain', 0)).toEqual({ stored: true, refused: false, evicted: [] });
    s.writer.set(bytes('b'), new Uint8Array(0), 'application/octet-stream', 5000);
    const a = s.read('a');
    expect(a && text(a.value)).toBe('alpha');
    expect(a?.contentType).toBe('text/plain');
    expect(a?.expiresAtMs).toBe(0);
    const b = s.read('b', 10);
    expect(b?.value.length).toBe(0);
    expect(b?.contentType).toBe('application/octet-stream');
    expect(b?.expiresAtMs).toBe(5000);
    expect(text(s.writer.get(bytes('a'), 0)?.value ?? new Uint8Array())).toBe('alpha');
    expect(s.read('c')).toBeNull();
    expect(s.writer.get(bytes('c'), 0)).toBeNull();
  });

  it('returns a private copy of the value', () => {
    const s = makeSegment(MIB);
    s.writer.set(bytes('k'), bytes('one'), 'text/plain', 0);
    const hit = s.read('k');
    s.writer.set(bytes('k'), bytes('two'), 'text/plain', 0);
    expect(text(hit?.value ?? new Uint8Array())).toBe('one');
    expect(text(s.read('k')?.value ?? new Uint8Array())).toBe('two');
  });

  it('lends a reused buffer when asked to borrow: exact until the next read, small and large values alike', () => {
    const s = makeSegment(MIB);
    const big = new Uint8Array(10_000).map((_, i) => i % 251);
    s.writer.set(bytes('small'), bytes('tiny'), 'text/plain', 0);
    s.writer.set(bytes('big'), big, 'application/octet-stream', 0);
    const get = (key: string) => s.reader.get(bytes(key), cacheHash(bytes(key)), 0, true);
    const small = get('small');
    expect(text(small?.value ?? new Uint8Array())).toBe('tiny');
    const large = get('big');
    expect(Buffer.from(large?.value ?? []).equals(Buffer.from(big))).toBe(true);
    expect(text(get('small')?.value ?? new Uint8Array())).toBe('tiny');
    expect(large?.value.buffer).toBe(get('small')?.value.buffer); // the same scratch buffer, reused
  });

  it('overwrites in place, deletes, and reports whether a delete found the key', () => {
    const s = makeSegment(MIB);
    for (let version = 0; version < 50; version++) {
      s.writer.set(bytes('k'), bytes(`v${version}`.repeat(version + 1)), `type/${version % 3}`, 0);
      expect(text(s.read('k')?.value ?? new Uint8Array())).toBe(`v${version}`.repeat(version + 1));
      expect(s.read('k')?.contentType).toBe(`type/${version % 3}`);
    }
    expect(s.writer.stats().entries).toBe(1);
    expect(s.writer.delete(bytes('k'))).toBe(true);
    expect(s.writer.delete(bytes('k'))).toBe(false);
    expect(s.read('k')).toBeNull();
    expect(s.writer.stats()).toMatchObject({ entries: 0, bytes: 0 });
    expect(s.writer.stats().arenaFreeBytes).toBe(s.writer.stats().arenaBytes);
  });

  it('keeps colliding keys apart and finds every key after deletes shift probe runs', () => {
    const s = makeSegment(4 * MIB);
    const keys = Array.from({ length: 3000 }, (_, i) => `key:${i}`);
    for (const key of keys) s.writer.set(bytes(key), bytes(`value of ${key}`), 'text/plain', 0);
    for (let i = 0; i < keys.length; i += 3) expect(s.writer.delete(bytes(keys[i]))).toBe(true);
    for (let i = 0; i < keys.length; i++) {
      const hit = s.read(keys[i]);
      if (i % 3 === 0) expect(hit, keys[i]).toBeNull();
      else expect(text(hit?.value ?? new Uint8Array()), keys[i]).toBe(`value of ${keys[i]}`);
    }
  });

  it('accounts logical bytes exactly: key + value + content type + overhead', () => {
    const s = makeSegment(MIB);
    s.writer.set(bytes('abc'), new Uint8Array(100), 'text/plain', 0);
    expect(s.writer.stats().bytes).toBe(3 + 100 + 10 + ENTRY_OVERHEAD_BYTES);
    s.writer.set(bytes('abc'), new Uint8Array(7), '', 0);
    expect(s.writer.stats().bytes).toBe(3 + 7 + ENTRY_OVERHEAD_BYTES);
    expect(readCacheStats(s.sab)).toMatchObject({ bytes: 3 + 7 + ENTRY_OVERHEAD_BYTES, entries: 1, capacityBytes: MIB });
  });
});

describe('removeByPrefix', () => {
  it('removes exactly the keys under the prefix, slice by slice, and says where to go on', () => {
    const s = makeSegment(256 * 1024);
    const value = new Uint8Array(40);
    for (let i = 0; i < 600; i++) s.writer.set(bytes(`${i % 3 === 0 ? 'a:' : 'b:'}${i}`), value, '', 0);
    const removed: string[] = [];
    let slices = 0;
    for (let from = 0; from !== -1; slices++) {
      const slice = s.writer.removeByPrefix(bytes('a:'), from, 97);
      for (const key of slice.keys) removed.push(Buffer.from(key).toString());
      expect(slice.next === -1 || slice.next > from).toBe(true);
      from = slice.next;
    }
    expect(slices).toBeGreaterThan(3);
    expect(removed.sort()).toEqual(Array.from({ length: 200 }, (_, k) => `a:${3 * k}`).sort());
    for (let i = 0; i < 600; i++) expect(s.writer.get(bytes(`${i % 3 === 0 ? 'a:' : 'b:'}${i}`), 0) === null).toBe(i % 3 === 0);
    expect(s.writer.removeByPrefix(bytes('zz')).keys).toEqual([]);
    expect(s.writer.removeByPrefix(new Uint8Array(0)).keys.length).toBe(400);
    expect(s.writer.stats().entries).toBe(0);
  });
});

describe('TTL', () => {
  it('is a miss once expiresAtMs <= now, on both sides, and a hit one ms before', () => {
    const s = makeSegment(MIB);
    s.writer.set(bytes('t'), bytes('x'), 'text/plain', 1000);
    expect(s.read('t', 999)).not.toBeNull();
    expect(s.writer.get(bytes('t'), 999)).not.toBeNull();
    expect(s.read('t', 1000)).toBeNull();
    expect(s.writer.get(bytes('t'), 1000)).toBeNull();
    expect(s.read('t', 1001)).toBeNull();
  });

  it('resets on overwrite (to a later deadline or to never)', () => {
    const s = makeSegment(MIB);
    s.writer.set(bytes('t'), bytes('x'), 'text/plain', 1000);
    s.writer.set(bytes('t'), bytes('y'), 'text/plain', 5000);
    expect(text(s.read('t', 2000)?.value ?? new Uint8Array())).toBe('y');
    s.writer.set(bytes('t'), bytes('z'), 'text/plain', 0);
    expect(text(s.read('t', 1e12)?.value ?? new Uint8Array())).toBe('z');
  });

  it('sweeps expired entries within the budget of slots, resuming where it stopped', () => {
    const s = makeSegment(4 * MIB);
    for (let i = 0; i < 2000; i++) s.writer.set(bytes(`k${i}`), bytes('v'), 'text/plain', i % 2 === 0 ? 100 : 0);
    const slotCount = Math.ceil(Math.floor((4 * MIB) / 96) / 0.7);
    const swept = new Set<string>();
    let sweeps = 0;
    while (swept.size < 1000 && sweeps < 1000) {
      const removed = s.writer.sweepExpired(100, 512);
      expect(removed.length).toBeLessThanOrEqual(512);
      for (const key of removed) swept.add(text(key));
      sweeps++;
    }
    expect(swept.size).toBe(1000);
    expect(sweeps).toBeGreaterThanOrEqual(Math.floor(slotCount / 512) - 1);
    expect([...swept].every((key) => Number(key.slice(1)) % 2 === 0)).toBe(true);
    expect(s.writer.stats()).toMatchObject({ entries: 1000, expirations: 1000 });
    for (let i = 1; i < 2000; i += 2) expect(s.read(`k${i}`, 200), `k${i}`).not.toBeNull();
  });

  it('rejects a bad expiresAtMs', () => {
    const s = makeSegment(MIB);
    expect(() => s.writer.set(bytes('k'), bytes('v'), 'text/plain', Number.NaN)).toThrow(RangeError);
    expect(() => s.writer.set(bytes('k'), bytes('v'), 'text/plain', -1)).toThrow(RangeError);
  });
});

describe('limits and counters', () => {
  it('refuses an entry over capacity/8 and drops the key it would have replaced', () => {
    const s = makeSegment(MIB);
    s.writer.set(bytes('big'), bytes('small'), 'text/plain', 0);
    const result = s.writer.set(bytes('big'), new Uint8Array(MIB / 8), 'text/plain', 0);
    expect(result).toEqual({ stored: false, refused: true, evicted: [] });
    expect(s.read('big')).toBeNull();
    const justFits = MIB / 8 - ENTRY_OVERHEAD_BYTES - 3 - 10;
    expect(s.writer.set(bytes('big'), new Uint8Array(justFits), 'text/plain', 0).stored).toBe(true);
    expect(s.read('big')?.value.length).toBe(justFits);
    expect(readCacheStats(s.sab).refused).toBe(1);
  });

  it('counts router hits and misses in the segment header', () => {
    const s = makeSegment(MIB);
    s.writer.set(bytes('h'), bytes('v'), 'text/plain', 0);
    s.read('h');
    s.read('h');
    s.read('nope');
    expect(readCacheStats(s.sab)).toMatchObject({ hits: 2, misses: 1, fallbacks: 0 });
    expect(s.reader.stats()).toMatchObject({ lookups: 3, hits: 2, retries: 0 });
    const key = bytes('h');
    expect(cacheHash(key)).toBe(cacheHash(bytes('h')));
  });

  it('a new writer on an old segment starts empty', async () => {
    const s = makeSegment(MIB);
    s.writer.set(bytes('k'), bytes('v'), 'text/plain', 0);
    const { CacheWriter } = await import('../../workers/cache/index.js');
    const again = new CacheWriter(s.sab);
    expect(s.read('k')).toBeNull();
    expect(again.stats().entries).toBe(0);
    expect(readCacheStats(s.sab).entries).toBe(0);
  });
});
