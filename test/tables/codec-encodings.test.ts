// Column chunk encodings: every type round-trips with nulls anywhere, in the chosen encoding and
// in each encoding forced (with and without lz4); empty and all-null chunks; zone maps agree
// with the data; the choice picks the compact encodings on typical data; decode is fast.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeColumn, encodeColumn, type BaseEncoding } from '../../shared/tables/encodings.js';
import type { Cell, ColumnType } from '../../shared/tables/table-types.js';
import { cellArb, cellOf, cellSame, compareCellRef, int64Arb, typeArb, vectorOf } from './codec-arbitraries.js';

const APPLICABLE: Record<ColumnType, BaseEncoding[]> = {
  int64: ['plain', 'bitpack', 'delta', 'rle', 'dictionary'],
  timestamp: ['plain', 'bitpack', 'delta', 'rle', 'dictionary'],
  float64: ['plain', 'bitpack', 'delta', 'rle', 'dictionary', 'decimal'],
  boolean: ['bitpack'],
  string: ['plain', 'dictionary'],
  binary: ['plain'],
};

function roundTrip(type: ColumnType, cells: Cell[], encoding?: BaseEncoding, lz4?: boolean): string {
  const enc = encodeColumn(type, vectorOf(type, cells), cells.length, { encoding, lz4 });
  const v = decodeColumn(type, enc.bytes, cells.length);
  expect(v.type).toBe(type);
  for (let i = 0; i < cells.length; i++) {
    const got = cellOf(v, i);
    expect(cellSame(got, cells[i]), `${type} ${enc.encoding} row ${i}: ${String(got)} vs ${String(cells[i])}`).toBe(true);
  }
  // zone map
  const live = cells.filter((c) => c !== null);
  expect(enc.zone.nullCount).toBe(cells.length - live.length);
  expect(enc.zone.rowCount).toBe(cells.length);
  if (live.length === 0) {
    expect(enc.zone.min).toBeNull();
    expect(enc.zone.max).toBeNull();
  } else if (type !== 'string' || live.every((c) => (c as string).isWellFormed())) {
    // (Lone surrogates: zone maps follow cells.ts' compareStrings, which ranks them as astral.)
    const sorted = [...live].sort((a, b) => compareCellRef(type, a, b));
    const long = (c: Cell) => (typeof c === 'string' || c instanceof Uint8Array) && c.length > 128;
    // Long strings / bytes get shortened bounds: min ≤ every value ≤ max.
    if (long(sorted[0])) expect(compareCellRef(type, enc.zone.min, sorted[0])).toBe(-1);
    else expect(compareCellRef(type, enc.zone.min, sorted[0])).toBe(0);
    if (long(sorted[sorted.length - 1])) expect(compareCellRef(type, enc.zone.max, sorted[sorted.length - 1])).toBe(1);
    else expect(compareCellRef(type, enc.zone.max, sorted[sorted.length - 1])).toBe(0);
    expect(enc.zone.distinct).toBeGreaterThanOrEqual(1);
    expect(enc.zone.distinct).toBeLessThanOrEqual(live.length);
  }
  return enc.encoding;
}

/** Does a forced encoding apply to these cells? (mirrors the encoder's rules) */
function applies(type: ColumnType, cells: Cell[], e: BaseEncoding): boolean {
  const live = cells.filter((c) => c !== null);
  if (live.length === 0) return false;
  if (type === 'int64' || type === 'timestamp' || type === 'float64') {
    if (live.some((c) => typeof c === 'bigint')) return e === 'plain';
    const nums = live as number[];
    const negZero = nums.some((x) => Object.is(x, -0));
    if (e === 'rle') return !negZero;
    if (e === 'decimal') return type === 'float64' && decimalFits(nums, cells);
    if (e === 'dictionary') return !negZero && new Set(nums).size <= 4096;
    if (e === 'bitpack' || e === 'delta') {
      if (negZero || !nums.every((x) => Number.isSafeInteger(x))) return false;
      if (e === 'bitpack') return Math.max(...nums) - Math.min(...nums) <= Number.MAX_SAFE_INTEGER;
      return cells.length >= 2 && deltaFits(cells as (number | null)[]);
    }
    return true;
  }
  return APPLICABLE[type].includes(e);
}

function decimalFits(nums: number[], cells: Cell[]): boolean {
  if (nums.some((x) => Number.isNaN(x) || Object.is(x, -0)) || nums.every((x) => Number.isSafeInteger(x))) return false;
  const first = nums[0];
  const filled = cells.map((c) => (c === null ? first : (c as number)));
  for (let e = 1; e <= 6; e++) {
    const p = 10 ** e;
    const ms = filled.map((v) => Math.round(v * p));
    if (ms.every((m, i) => m / p === filled[i] && Math.abs(m) <= Number.MAX_SAFE_INTEGER)) return Math.max(...ms) - Math.min(...ms) <= Number.MAX_SAFE_INTEGER;
  }
  return false;
}

function deltaFits(cells: (number | null)[]): boolean {
  const first = cells.find((c) => c !== null) as number;
  let prev = first;
  const filled = cells.map((c) => (c === null ? prev : (prev = c)));
  const d = filled.slice(1).map((x, i) => x - filled[i]);
  const min = Math.min(...d);
  const max = Math.max(...d);
  return Math.abs(min) <= Number.MAX_SAFE_INTEGER && Math.abs(max) <= Number.MAX_SAFE_INTEGER && max - min <= Number.MAX_SAFE_INTEGER;
}

const chunkArb = typeArb.chain((t) => fc.tuple(fc.constant(t), fc.array(cellArb(t), { maxLength: 300 })));

/** Numbers shaped like real columns: sorted, small ranges, few distinct, runs. */
const shapedIntsArb: fc.Arbitrary<Cell[]> = fc.oneof(
  fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 400 }).map((xs) => xs.map((x, i) => 1_700_000_000_000_000 + i * 1000 + x)),
  fc.array(fc.integer({ min: -50, max: 50 }), { maxLength: 400 }),
  fc.array(fc.constantFrom(3, 7, 7, 7, 2 ** 40), { maxLength: 400 }),
  fc.array(fc.option(fc.constantFrom(1, 2), { nil: null }), { maxLength: 400 }).map((xs) => xs.sort()),
  fc.array(int64Arb, { maxLength: 50 }),
  fc.array(fc.option(fc.integer({ min: -1_000_000, max: 1_000_000 }).map((x) => x / 100), { nil: null }), { maxLength: 300 }),
  fc.array(fc.integer({ min: 0, max: 1000 }).map((x) => x * 1.25 + 0.001), { maxLength: 100 }),
);

describe('column encodings', () => {
  it('round-trips every type, nulls anywhere, chosen encoding', () => {
    fc.assert(fc.property(chunkArb, ([type, cells]) => void roundTrip(type, cells)), { numRuns: 1500 });
  });

  it('round-trips each applicable encoding forced, with and without lz4', () => {
    fc.assert(
      fc.property(chunkArb, fc.boolean(), ([type, cells], lz4) => {
        for (const e of APPLICABLE[type]) if (applies(type, cells, e)) roundTrip(type, cells, e, lz4);
      }),
      { numRuns: 800 },
    );
    fc.assert(
      fc.property(shapedIntsArb, fc.constantFrom<ColumnType>('int64', 'timestamp', 'float64'), fc.boolean(), (cells, type, lz4) => {
        if (type === 'float64' && cells.some((c) => typeof c === 'bigint')) return;
        if (type !== 'float64' && cells.some((c) => typeof c === 'number' && !Number.isInteger(c))) return;
        roundTrip(type, cells);
        for (const e of APPLICABLE[type]) if (applies(type, cells, e)) roundTrip(type, cells, e, lz4);
      }),
      { numRuns: 800 },
    );
  });

  it('encodes empty and all-null chunks', () => {
    for (const t of ['int64', 'float64', 'string', 'boolean', 'binary', 'timestamp'] as ColumnType[]) {
      expect(roundTrip(t, [])).toBe('null');
      expect(roundTrip(t, [null, null, null, null, null, null, null, null, null])).toBe('null');
    }
  });

  it('chooses compact encodings for typical columns', () => {
    const n = 65536;
    const seq = Array.from({ length: n }, (_, i) => 1_000_000 + i);
    const enc = (t: ColumnType, cells: Cell[]) => encodeColumn(t, vectorOf(t, cells), cells.length);
    expect(enc('int64', seq).encoding).toMatch(/^delta/);
    expect(enc('int64', seq).bytes.length).toBeLessThan(200);
    const mod = seq.map((x) => x % 100);
    expect(enc('int64', mod).bytes.length).toBeLessThan(n);
    const few = seq.map((x) => ['red', 'green', 'blue'][x % 3]);
    const e = enc('string', few);
    expect(e.encoding).toMatch(/^dictionary/);
    expect(e.bytes.length).toBeLessThan(n / 4);
    const runs = seq.map((x) => Math.floor(x / 1000) * 1.5);
    expect(enc('float64', runs).encoding).toMatch(/^rle/);
    const prices = seq.map((x) => (x % 10000) / 100);
    expect(enc('float64', prices).encoding).toMatch(/^decimal/);
    expect(enc('float64', prices).bytes.length).toBeLessThan(n * 2);
    const random = seq.map((x) => Math.sin(x) * 1e6);
    expect(enc('float64', random).encoding).toBe('plain');
    expect(enc('float64', random).plainBytes).toBe(n * 8);
    const dv = decodeColumn('string', e.bytes, n);
    expect('codes' in dv && dv.dict.length === 3).toBe(true);
  });

  it('packs the codes of a small string dictionary at its bit width (skewed random 5 values: ≥ 90 % smaller than plain)', () => {
    const n = 65536;
    let seed = 7;
    const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const statuses = ['active', 'pending', 'shipped', 'cancelled', 'returned'];
    const cells: Cell[] = Array.from({ length: n }, () => { const r = rand(); return statuses[r < 0.6 ? 0 : r < 0.8 ? 1 : r < 0.9 ? 2 : r < 0.97 ? 3 : 4]; });
    for (let i = 0; i < n; i += 97) cells[i] = null;
    const e = encodeColumn('string', vectorOf('string', cells), n);
    expect(e.encoding).toMatch(/^dictionary/);
    expect(e.bytes.length).toBeLessThan(e.plainBytes * 0.1);
    roundTrip('string', cells);
    // Every dictionary size around the widths' edges round-trips, nulls included.
    for (const size of [1, 2, 3, 4, 5, 8, 9, 16, 17, 128, 129, 255, 256, 257]) {
      const chunk: Cell[] = Array.from({ length: 1000 }, (_, i) => (i % 13 === 5 ? null : `v${i % size}`));
      roundTrip('string', chunk, 'dictionary');
      roundTrip('string', chunk, 'dictionary', true);
    }
  });

  it('shortens zone bounds of long strings and bytes', () => {
    const long = ['a'.repeat(500), 'b'.repeat(300) + '\uffff', 'a\ud7ff'.repeat(100), '\u{1f600}'.repeat(100)];
    for (const s of long) {
      const e = encodeColumn('string', vectorOf('string', [s]), 1);
      expect((e.zone.min as string).length).toBeLessThanOrEqual(128);
      expect((e.zone.max as string).length).toBeLessThanOrEqual(128);
      expect(compareCellRef('string', e.zone.min, s)).toBe(-1);
      expect(compareCellRef('string', e.zone.max, s)).toBe(1);
    }
    const b = new Uint8Array(400).fill(0xff);
    b[3] = 7;
    const e = encodeColumn('binary', vectorOf('binary', [b]), 1);
    expect(compareCellRef('binary', e.zone.max, b)).toBe(1);
    expect((e.zone.max as Uint8Array).length).toBe(4);
  });

  it('reports DATA_CORRUPT on malformed chunks', () => {
    const e = encodeColumn('int64', vectorOf('int64', [1, 2, 3, 1000]), 4, { encoding: 'plain' });
    expect(() => decodeColumn('int64', e.bytes.subarray(0, 10), 4)).toThrow(/truncated/);
    expect(() => decodeColumn('int64', Uint8Array.of(99, 0, 1, 2), 4)).toThrow(expect.objectContaining({ code: 'DATA_CORRUPT' }));
    const s = encodeColumn('string', vectorOf('string', ['ab', 'cd']), 2, { encoding: 'plain', lz4: true });
    const broken = s.bytes.slice(0, s.bytes.length - 2);
    expect(() => decodeColumn('string', broken, 2)).toThrow(expect.objectContaining({ code: 'DATA_CORRUPT' }));
  });

  it('decodes 65,536-row numeric columns in about 100 µs', () => {
    const n = 65536;
    const cases: [string, Cell[], BaseEncoding | undefined][] = [
      ['int64 plain', Array.from({ length: n }, () => Math.floor(Math.random() * 2 ** 52)), 'plain'],
      ['int64 bitpack', Array.from({ length: n }, () => Math.floor(Math.random() * 1e6)), undefined],
      ['int64 delta', Array.from({ length: n }, (_, i) => 1e15 + i * 7 + (i % 3)), undefined],
      ['float64 plain', Array.from({ length: n }, () => Math.random()), undefined],
      ['float64 decimal', Array.from({ length: n }, () => Math.floor(Math.random() * 1e6) / 100), undefined],
    ];
    for (const [name, cells, e] of cases) {
      const type: ColumnType = name.startsWith('float') ? 'float64' : 'int64';
      const enc = encodeColumn(type, vectorOf(type, cells), n, { encoding: e, lz4: false });
      for (let i = 0; i < 50; i++) decodeColumn(type, enc.bytes, n);
      const rounds = 200;
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < rounds; i++) decodeColumn(type, enc.bytes, n);
      const us = Number(process.hrtime.bigint() - t0) / 1000 / rounds;
      console.log(`decode ${name} (${enc.encoding}, ${enc.bytes.length} bytes): ${us.toFixed(1)} µs`);
      expect(us).toBeLessThan(10_000); // generous bound for loaded machines; ~100 µs expected on a quiet one
    }
  });
});
