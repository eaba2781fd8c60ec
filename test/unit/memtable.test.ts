// workers/store/memtable.ts: point lookups, ordered listing and TTL expiry,
// checked against a plain Map plus a sorted array.
import { describe, expect, it } from 'vitest';
import { binaryToKey, keyToBinary, KIND_PUT, Memtable, type Entry } from '../../workers/store/memtable.js';
import { Xorshift32 } from './support/prng.js';

const ALPHABET = ['\x00', '\x01', 'a', 'b', '\x7f', '\x80', '\xfe', '\xff'];
const T0 = 1_700_000_000_000;

const entry = (value: string, expiresAtMs = 0, contentType = 'text/plain'): Entry => ({
  value: new Uint8Array(Buffer.from(value)),
  contentType,
  expiresAtMs,
  seq: 1,
  kind: KIND_PUT,
});

const live = (e: Entry, nowMs: number): boolean => e.expiresAtMs === 0 || e.expiresAtMs > nowMs;

function randomString(rng: Xorshift32, minLength: number, maxLength: number): string {
  let s = '';
  const length = rng.range(minLength, maxLength);
  for (let i = 0; i < length; i++) s += rng.pick(ALPHABET);
  return s;
}

class Model {
  readonly entries = new Map<string, Entry>();

  liveSorted(nowMs: number): string[] {
    return [...this.entries].filter(([, e]) => live(e, nowMs)).map(([k]) => k).sort();
  }

  list(prefix: string, after: string | null, skip: number, limit: number, nowMs: number): { keys: string[]; more: boolean } {
    const matching = this.liveSorted(nowMs)
      .filter((k) => k.startsWith(prefix) && (after === null || k > after))
      .slice(skip);
    return { keys: matching.slice(0, limit), more: matching.length > limit };
  }

  count(prefix: string, nowMs: number): number {
    return this.liveSorted(nowMs).filter((k) => k.startsWith(prefix)).length;
  }
}

function checkAgainstModel(table: Memtable, model: Model, rng: Xorshift32, nowMs: number, queries: number): void {
  expect(table.size).toBe(model.entries.size);
  for (const [key, e] of model.entries) {
    expect(table.raw(key)).toBe(e);
    expect(table.get(key, nowMs)).toBe(live(e, nowMs) ? e : undefined);
  }
  for (let q = 0; q < queries; q++) {
    const prefix = rng.chance(0.2) ? '' : rng.chance(0.2) ? rng.pick(['\xff', '\xff\xff', 'a\xff', '\x00']) : randomString(rng, 1, 2);
    const after = rng.chance(0.5) ? null : randomString(rng, 0, 4);
    const skip = rng.chance(0.6) ? 0 : rng.range(0, 30);
    const limit = rng.range(0, 40);
    const label = `list(${JSON.stringify(prefix)}, ${JSON.stringify(after)}, ${skip}, ${limit})`;
    expect(table.list(prefix, after, skip, limit, nowMs), label).toEqual(model.list(prefix, after, skip, limit, nowMs));
    expect(table.count(prefix, nowMs), `count(${JSON.stringify(prefix)})`).toBe(model.count(prefix, nowMs));
  }
}

describe('binary keys', () => {
  it('map every byte to one char and back, so string order is byte order', () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const asString = keyToBinary(bytes);
    expect(asString.length).toBe(256);
    expect(Array.from(binaryToKey(asString))).toEqual(Array.from(bytes));
    // a view into a larger buffer converts only its own bytes
    expect(keyToBinary(bytes.subarray(250, 253))).toBe('\xfa\xfb\xfc');
    const utf8Keys = ['a', 'z', '\u00e9', '\uffff', '\u{10000}', 'ab', '\u0080'];
    const byBytes = [...utf8Keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    const byBinary = utf8Keys.map((k) => keyToBinary(Buffer.from(k))).sort();
    expect(byBinary).toEqual(byBytes.map((k) => keyToBinary(Buffer.from(k))));
  });
});

describe('Memtable against a model', () => {
  it('agrees on get, list and count under random puts, overwrites, deletes, TTLs and sweeps', () => {
    const rng = new Xorshift32(0x3e3);
    const table = new Memtable();
    const model = new Model();
    let nowMs = T0;
    let sweptTotal = 0;
    for (let step = 0; step < 12_000; step++) {
      const key = randomString(rng, 1, 4);
      const roll = rng.int(100);
      if (roll < 55) {
        const ttl = rng.chance(0.3) ? nowMs + rng.range(1, 200) : 0;
        const e = entry(`v${step}`.repeat(rng.range(0, 3)), ttl, rng.pick(['text/plain', 'application/json']));
        expect(table.set(key, e)).toBe(model.entries.get(key));
        model.entries.set(key, e);
      } else if (roll < 80) {
        expect(table.set(key, undefined)).toBe(model.entries.get(key));
        model.entries.delete(key);
      } else if (roll < 97) {
        nowMs += rng.range(0, 20);
      } else {
        const max = rng.range(0, 50);
        const expired = [...model.entries].filter(([, e]) => !live(e, nowMs));
        const removed = table.sweepExpired(nowMs, max);
        expect(removed).toBe(Math.min(max, expired.length));
        const gone = expired.filter(([k]) => table.raw(k) === undefined);
        const left = expired.filter(([k]) => table.raw(k) !== undefined);
        expect(gone.length).toBe(removed);
        // Earliest deadlines go first.
        if (gone.length > 0 && left.length > 0) {
          expect(Math.max(...gone.map(([, e]) => e.expiresAtMs))).toBeLessThanOrEqual(Math.min(...left.map(([, e]) => e.expiresAtMs)));
        }
        for (const [k] of gone) model.entries.delete(k);
        sweptTotal += removed;
      }
      if (step % 500 === 499) checkAgainstModel(table, model, rng, nowMs, 40);
      if (table.size === 0) expect(table.bytes).toBe(0);
    }
    expect(sweptTotal).toBeGreaterThan(0);
    expect(model.entries.size).toBeGreaterThan(512); // enough keys for several chunks
    checkAgainstModel(table, model, rng, nowMs, 200);
    // Also read at other instants: get/list/count are pure in nowMs.
    checkAgainstModel(table, model, rng, nowMs - 100, 50);
    checkAgainstModel(table, model, rng, nowMs + 1000, 50);

    for (const key of [...model.entries.keys()]) table.set(key, undefined);
    expect(table.size).toBe(0);
    expect(table.bytes).toBe(0);
    expect(table.list('', null, 0, 10, nowMs)).toEqual({ keys: [], more: false });
    expect(table.count('', nowMs)).toBe(0);
  });

  it('lists and counts more than 512 keys under one prefix (chunk splits) with skip and cursor paging', () => {
    const table = new Memtable();
    const keys: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const key = `p:${String((i * 1237) % 3000).padStart(4, '0')}`;
      table.set(key, entry('x'));
      keys.push(key);
    }
    table.set('o:other', entry('x'));
    table.set('q:other', entry('x'));
    keys.sort();
    expect(table.count('p:', T0)).toBe(3000);
    expect(table.count('', T0)).toBe(3002);
    expect(table.list('p:', null, 1000, 5, T0)).toEqual({ keys: keys.slice(1000, 1005), more: true });
    // Page through with cursors.
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page = table.list('p:', after, 0, 700, T0);
      seen.push(...page.keys);
      if (!page.more) break;
      after = page.keys[page.keys.length - 1];
    }
    expect(seen).toEqual(keys);
    expect(table.list('p:', 'p:2999', 0, 10, T0)).toEqual({ keys: [], more: false });
    expect(table.list('p:', 'p:2998', 0, 10, T0)).toEqual({ keys: ['p:2999'], more: false });
    expect(table.list('p:', 'a', 0, 2, T0)).toEqual({ keys: keys.slice(0, 2), more: true });
    expect(table.list('p:', 'p:', 0, 2, T0)).toEqual({ keys: keys.slice(0, 2), more: true });
    expect(table.list('p:', 'z', 0, 2, T0)).toEqual({ keys: [], more: false });
  });

  it('handles prefixes ending in 0xFF', () => {
    const table = new Memtable();
    const all = ['a', 'a\xfe', 'a\xff', 'a\xff\x00', 'a\xff\xff', 'a\xff\xff\xff', 'b', '\xff', '\xff\x00', '\xff\xff', '\xff\xff\x01'];
    for (const key of all) table.set(key, entry(key));
    expect(table.list('a\xff', null, 0, 100, T0).keys).toEqual(['a\xff', 'a\xff\x00', 'a\xff\xff', 'a\xff\xff\xff']);
    expect(table.count('a\xff', T0)).toBe(4);
    expect(table.list('\xff', null, 0, 100, T0).keys).toEqual(['\xff', '\xff\x00', '\xff\xff', '\xff\xff\x01']);
    expect(table.count('\xff', T0)).toBe(4);
    expect(table.list('\xff\xff', '\xff\xff', 0, 100, T0).keys).toEqual(['\xff\xff\x01']);
    expect(table.count('\xff\xff', T0)).toBe(2);
    expect(table.count('', T0)).toBe(all.length);
  });

  it('treats limit 0 as "none, but say whether there are more"', () => {
    const table = new Memtable();
    table.set('a', entry('1'));
    expect(table.list('', null, 0, 0, T0)).toEqual({ keys: [], more: true });
    expect(table.list('', null, 1, 0, T0)).toEqual({ keys: [], more: false });
    expect(table.list('', null, 0, 1, T0)).toEqual({ keys: ['a'], more: false });
  });
});

describe('Memtable TTL', () => {
  it('get returns the entry until its expiry instant, then undefined; raw still has it', () => {
    const table = new Memtable();
    const e = entry('v', T0 + 1000);
    table.set('k', e);
    expect(table.get('k', T0)).toBe(e);
    expect(table.get('k', T0 + 999)).toBe(e);
    expect(table.get('k', T0 + 1000)).toBeUndefined();
    expect(table.get('k', T0 + 5000)).toBeUndefined();
    expect(table.raw('k')).toBe(e);
    expect(table.get('missing', T0)).toBeUndefined();
  });

  it('list and count skip expired keys', () => {
    const table = new Memtable();
    table.set('a:1', entry('1'));
    table.set('a:2', entry('2', T0 + 10));
    table.set('a:3', entry('3', T0 + 20));
    table.set('a:4', entry('4'));
    expect(table.count('a:', T0)).toBe(4);
    expect(table.list('a:', null, 0, 10, T0 + 10).keys).toEqual(['a:1', 'a:3', 'a:4']);
    expect(table.count('a:', T0 + 10)).toBe(3);
    expect(table.list('a:', null, 1, 1, T0 + 20)).toEqual({ keys: ['a:4'], more: false });
    expect(table.list('a:', null, 0, 1, T0 + 20)).toEqual({ keys: ['a:1'], more: true });
    expect(table.count('a:', T0 + 20)).toBe(2);
  });

  it('sweepExpired removes only expired entries, earliest first, at most max per call', () => {
    const table = new Memtable();
    for (let i = 0; i < 10; i++) table.set(`t${i}`, entry('v', T0 + 100 * (10 - i)));
    table.set('forever', entry('v'));
    table.set('later', entry('v', T0 + 10_000));
    expect(table.sweepExpired(T0 + 99, 100)).toBe(0);
    // Deadlines T0+100 (t9) .. T0+1000 (t0); at T0+500, t5..t9 are expired.
    expect(table.sweepExpired(T0 + 500, 2)).toBe(2);
    expect(table.raw('t9')).toBeUndefined();
    expect(table.raw('t8')).toBeUndefined();
    expect(table.raw('t7')).toBeDefined();
    expect(table.sweepExpired(T0 + 500, 0)).toBe(0);
    expect(table.sweepExpired(T0 + 500, 100)).toBe(3);
    expect(table.size).toBe(7);
    expect(table.sweepExpired(T0 + 500, 100)).toBe(0);
    expect(table.sweepExpired(T0 + 1000, 100)).toBe(5);
    expect([...['forever', 'later']].map((k) => table.raw(k) !== undefined)).toEqual([true, true]);
    expect(table.size).toBe(2);
  });

  it('keeps a TTL key overwritten with a non-TTL entry, or with a later deadline', () => {
    const table = new Memtable();
    table.set('k', entry('old', T0 + 10));
    const kept = entry('new');
    table.set('k', kept);
    table.set('m', entry('old', T0 + 10));
    const extended = entry('new', T0 + 1000);
    table.set('m', extended);
    expect(table.sweepExpired(T0 + 500, 100)).toBe(0);
    expect(table.get('k', T0 + 500)).toBe(kept);
    expect(table.get('m', T0 + 500)).toBe(extended);
    expect(table.count('', T0 + 500)).toBe(2);
    expect(table.sweepExpired(T0 + 1000, 100)).toBe(1);
    expect(table.get('k', T0 + 10_000)).toBe(kept);
    expect(table.raw('m')).toBeUndefined();
  });

  it('stays right through many TTL overwrites (stale deadlines rebuilt away)', () => {
    const table = new Memtable();
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 100; i++) table.set(`k${i}`, entry('v', T0 + 1000 + round));
    }
    table.set('k0', entry('v')); // no TTL now
    expect(table.sweepExpired(T0 + 1000 + 48, 10_000)).toBe(0);
    expect(table.sweepExpired(T0 + 1000 + 49, 10_000)).toBe(99);
    expect(table.size).toBe(1);
    expect(table.get('k0', T0 + 1e9)).toBeDefined();
    table.set('k0', undefined);
    expect(table.bytes).toBe(0);
  });

  it('accounts bytes symmetrically: overwrites change it by the size difference, deletes return it to 0', () => {
    const table = new Memtable();
    expect(table.bytes).toBe(0);
    table.set('k', entry('12345'));
    const one = table.bytes;
    expect(one).toBeGreaterThanOrEqual(1 + 5 + 'text/plain'.length);
    table.set('k', entry('1234567890'));
    expect(table.bytes).toBe(one + 5);
    table.set('k', entry('1234567890', T0 + 1));
    expect(table.bytes).toBe(one + 5);
    table.set('kk', entry(''));
    expect(table.sweepExpired(T0 + 1, 10)).toBe(1);
    table.set('kk', undefined);
    expect(table.bytes).toBe(0);
    expect(table.set('kk', undefined)).toBeUndefined();
    expect(table.bytes).toBe(0);
  });
});
