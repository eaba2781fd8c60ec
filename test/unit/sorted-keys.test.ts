// workers/store/sorted-keys.ts: the chunked ordered key set, checked against a sorted array.
import { describe, expect, it } from 'vitest';
import { prefixEnd, SortedKeys } from '../../workers/store/sorted-keys.js';
import { Xorshift32 } from './support/prng.js';

const CHUNK_MAX = 512;
/** Byte values that stress ordering: the extremes, ASCII, and both sides of 0x80. */
const ALPHABET = ['\x00', '\x01', 'a', 'b', '\x7f', '\x80', '\xfe', '\xff'];

function randomKey(rng: Xorshift32, maxLength = 5): string {
  let key = '';
  const length = rng.range(1, maxLength);
  for (let i = 0; i < length; i++) key += rng.pick(ALPHABET);
  return key;
}

function randomBound(rng: Xorshift32): string {
  let key = '';
  const length = rng.range(0, 3);
  for (let i = 0; i < length; i++) key += rng.pick(ALPHABET);
  return key;
}

/** The chunk structure, read for invariant checks only. */
function chunksOf(keys: SortedKeys): string[][] {
  return (keys as unknown as { chunks: string[][] }).chunks;
}

function expectInvariants(keys: SortedKeys, model: readonly string[]): void {
  const chunks = chunksOf(keys);
  for (const chunk of chunks) {
    expect(chunk.length).toBeGreaterThan(0);
    expect(chunk.length).toBeLessThanOrEqual(CHUNK_MAX);
  }
  expect(keys.size).toBe(model.length);
  expect(chunks.flat()).toEqual(model);
}

function sortedInsert(model: string[], key: string): void {
  let lo = 0;
  let hi = model.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (model[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  model.splice(lo, 0, key);
}

function modelRange(model: readonly string[], start: string, exclusive: boolean, end: string | null): string[] {
  return model.filter((k) => (exclusive ? k > start : k >= start) && (end === null || k < end));
}

function checkQueries(keys: SortedKeys, model: readonly string[], rng: Xorshift32, rounds: number): void {
  for (let q = 0; q < rounds; q++) {
    const start = rng.chance(0.3) && model.length > 0 ? rng.pick(model) : randomBound(rng);
    const exclusive = rng.chance(0.5);
    let end = rng.chance(0.2) ? null : rng.chance(0.5) ? prefixEnd(start) : randomBound(rng);
    // Inverted bounds are covered by their own test below.
    if (end !== null && end < start) end = start + end;
    const want = modelRange(model, start, exclusive, end);
    expect([...keys.range(start, exclusive, end)], `range(${JSON.stringify(start)}, ${exclusive}, ${JSON.stringify(end)})`).toEqual(want);
    const countWant = modelRange(model, start, false, end).length;
    expect(keys.count(start, end), `count(${JSON.stringify(start)}, ${JSON.stringify(end)})`).toBe(countWant);
  }
}

describe('prefixEnd', () => {
  it('is the smallest string above every string with the prefix', () => {
    expect(prefixEnd('')).toBeNull();
    expect(prefixEnd('a')).toBe('b');
    expect(prefixEnd('ab')).toBe('ac');
    expect(prefixEnd('a\xff')).toBe('b');
    expect(prefixEnd('a\xff\xff')).toBe('b');
    expect(prefixEnd('\xff')).toBeNull();
    expect(prefixEnd('\xff\xff')).toBeNull();
    expect(prefixEnd('\x00')).toBe('\x01');
    expect(prefixEnd('a\xfe')).toBe('a\xff');
  });

  it('bounds exactly the strings that start with the prefix', () => {
    const rng = new Xorshift32(3);
    for (let i = 0; i < 5000; i++) {
      const prefix = randomBound(rng);
      const key = randomKey(rng, 4);
      const end = prefixEnd(prefix);
      const inRange = key >= prefix && (end === null || key < end);
      expect(inRange, `${JSON.stringify(prefix)} vs ${JSON.stringify(key)}`).toBe(key.startsWith(prefix));
    }
  });
});

describe('SortedKeys', () => {
  it('starts empty', () => {
    const keys = new SortedKeys();
    expect(keys.size).toBe(0);
    expect([...keys.range('', false, null)]).toEqual([]);
    expect(keys.count('', null)).toBe(0);
    expect(() => keys.delete('a')).toThrow(/not in SortedKeys/);
  });

  it('counts an inverted or empty interval as 0, as range() yields nothing for it', () => {
    const keys = new SortedKeys();
    for (const key of ['a', 'b', 'c', 'd']) keys.insert(key);
    expect([...keys.range('c', false, 'b')]).toEqual([]);
    expect(keys.count('b', 'b')).toBe(0);
    expect(keys.count('c', 'b')).toBe(0);
  });

  it('splits chunks past 512 keys, in ascending, descending and random insertion orders', () => {
    const orders: Record<string, (i: number) => number> = {
      ascending: (i) => i,
      descending: (i) => 4999 - i,
      scattered: (i) => (i * 7919) % 5000,
    };
    for (const [name, index] of Object.entries(orders)) {
      const keys = new SortedKeys();
      const model: string[] = [];
      for (let i = 0; i < 5000; i++) {
        const key = `k${String(index(i)).padStart(5, '0')}`;
        keys.insert(key);
        sortedInsert(model, key);
      }
      expect(chunksOf(keys).length, name).toBeGreaterThanOrEqual(Math.ceil(5000 / CHUNK_MAX));
      expectInvariants(keys, model);
      expect(keys.count('k01', 'k02')).toBe(1000);
      expect([...keys.range('k04999', true, null)]).toEqual([]);
      expect([...keys.range('k04998', true, null)]).toEqual(['k04999']);
    }
  });

  it('drops emptied chunks and stays correct as keys are deleted down to none', () => {
    const rng = new Xorshift32(11);
    const keys = new SortedKeys();
    const model: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const key = `key:${String(i).padStart(4, '0')}`;
      keys.insert(key);
      sortedInsert(model, key);
    }
    // Delete a contiguous run (empties whole chunks), then the rest at random.
    for (const key of model.splice(500, 1200)) keys.delete(key);
    expectInvariants(keys, model);
    checkQueries(keys, model, rng, 200);
    while (model.length > 0) {
      const [key] = model.splice(rng.int(model.length), 1);
      keys.delete(key);
      if (model.length % 97 === 0) checkQueries(keys, model, rng, 20);
    }
    expectInvariants(keys, model);
    expect(chunksOf(keys)).toEqual([]);
    keys.insert('again');
    expect([...keys.range('', false, null)]).toEqual(['again']);
  });

  it('matches a sorted-array model under random inserts and deletes of binary keys', () => {
    const rng = new Xorshift32(0x5041);
    const keys = new SortedKeys();
    const model: string[] = [];
    const present = new Set<string>();
    for (let step = 0; step < 20_000; step++) {
      const key = randomKey(rng);
      if (present.has(key)) {
        if (rng.chance(0.6)) {
          keys.delete(key);
          present.delete(key);
          model.splice(model.indexOf(key), 1);
        }
      } else {
        keys.insert(key);
        present.add(key);
        sortedInsert(model, key);
      }
      if (step % 1000 === 999) {
        expectInvariants(keys, model);
        checkQueries(keys, model, rng, 50);
      }
    }
    expect(model.length).toBeGreaterThan(CHUNK_MAX * 4);
    expectInvariants(keys, model);
  });
});
