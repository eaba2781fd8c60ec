// Segment files: random tables round-trip through buildSegment and SegmentReader (every column,
// expiry, zone maps, footer meta == returned meta), blooms have no false negatives, corruption
// anywhere in a chunk or the footer is DATA_CORRUPT, and the pool task writes the file durably.

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeKeyCells } from '../../shared/tables/key-cells.js';
import { encodeRow, frameRows } from '../../shared/tables/row-codec.js';
import { buildSegment, decodeSegmentMeta, encodeSegmentMeta, readSegmentFooter, SegmentReader } from '../../shared/tables/segment-format.js';
import type { Cell, ColumnType, Row } from '../../shared/tables/table-types.js';
import runTask from '../../workers/pool/pool-main.js';
import { cellArb, cellOf, cellSame, typesArb } from './codec-arbitraries.js';

type Table = { types: ColumnType[]; keyColumns: number[]; keyDesc: boolean[]; rows: Row[]; expires: Float64Array | null };

/** Random tables: a 1-2 column key (non-null), rows sorted by key bytes, duplicates dropped. */
const tableArb: fc.Arbitrary<Table> = typesArb
  .chain((types) =>
    fc.record({
      types: fc.constant(types),
      keyCount: fc.integer({ min: 1, max: Math.min(2, types.length) }),
      keyDesc: fc.array(fc.boolean(), { minLength: 2, maxLength: 2 }),
      rows: fc.array(fc.tuple(...types.map((t, i) => (i < 2 ? cellArb(t, false) : cellArb(t)))), { minLength: 1, maxLength: 120 }),
      expire: fc.boolean(),
    }),
  )
  .map(({ types, keyCount, keyDesc, rows, expire }) => {
    const keyColumns = Array.from({ length: keyCount }, (_, i) => i);
    const desc = keyDesc.slice(0, keyCount);
    const keyTypes = keyColumns.map((c) => types[c]);
    const keyed = rows.map((r) => ({ r, k: Buffer.from(encodeKeyCells(keyTypes, keyColumns.map((c) => r[c]), desc)) }));
    keyed.sort((a, b) => Buffer.compare(a.k, b.k));
    const unique = keyed.filter((x, i) => i === 0 || Buffer.compare(keyed[i - 1].k, x.k) !== 0).map((x) => x.r);
    const expires = expire ? Float64Array.from(unique, (_, i) => (i % 3 === 0 ? 0 : 1_700_000_000_000 + i)) : null;
    return { types, keyColumns, keyDesc: desc, rows: unique, expires };
  });

function build(t: Table, bloomColumns: number[] = []) {
  return buildSegment({ types: t.types, rows: t.rows, keyColumns: t.keyColumns, keyDesc: t.keyDesc, bloomColumns, expiresAtMs: t.expires });
}

function checkReader(reader: SegmentReader, t: Table): void {
  expect(reader.rows).toBe(t.rows.length);
  for (let c = 0; c < t.types.length; c++) {
    const v = reader.column(c);
    expect(reader.column(c)).toBe(v); // cached
    for (let i = 0; i < t.rows.length; i++) expect(cellSame(cellOf(v, i), t.rows[i][c]), `col ${c} row ${i}`).toBe(true);
  }
  const e = reader.expiry();
  if (t.expires === null || t.expires.every((x) => x === 0)) expect(e).toBeNull();
  else expect([...(e as Float64Array)]).toEqual([...t.expires]);
}

describe('segment format', () => {
  it('round-trips random tables through bytes, footer and meta', () => {
    fc.assert(
      fc.property(tableArb, (t) => {
        const { bytes, meta } = build(t, [0, t.types.length - 1]);
        expect(meta.bytes).toBe(bytes.length);
        expect(meta.rows).toBe(t.rows.length);
        const footer = readSegmentFooter(bytes);
        expect(footer.rows).toBe(meta.rows);
        expect(Buffer.from(footer.minKey)).toEqual(Buffer.from(meta.minKey));
        expect(footer.columns.map((c) => [c.offset, c.crc, c.encoding])).toEqual(meta.columns.map((c) => [c.offset, c.crc, c.encoding]));
        checkReader(new SegmentReader(bytes), t);
        checkReader(new SegmentReader(bytes, meta), t);
        // A meta through another msgpack (the shard's LSM entry) still opens the bytes.
        const packr = new Packr({ useRecords: false, int64AsType: 'bigint', mapsAsObjects: true });
        checkReader(new SegmentReader(bytes, packr.unpack(packr.pack(meta))), t);
        const again = decodeSegmentMeta(encodeSegmentMeta(meta));
        meta.columns.forEach((c, i) => {
          // msgpack strings are UTF-8: lone surrogates do not survive it.
          if (typeof c.zone.min === 'string' && !(c.zone.min.isWellFormed() && (c.zone.max as string).isWellFormed())) return;
          expect(cellSame(again.columns[i].zone.min, c.zone.min, true)).toBe(true);
          expect(cellSame(again.columns[i].zone.max, c.zone.max, true)).toBe(true);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('blooms never deny a present value or key', () => {
    fc.assert(
      fc.property(tableArb, (t) => {
        const cols = t.types.map((_, i) => i);
        const { bytes } = build(t, cols);
        const reader = new SegmentReader(bytes);
        for (const row of t.rows) {
          for (const c of cols) expect(reader.mayContain(c, row[c])).toBe(true);
          const pk = encodeKeyCells(t.keyColumns.map((c) => t.types[c]), t.keyColumns.map((c) => row[c]), t.keyDesc);
          expect(reader.mayContainKey(pk)).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('blooms deny most absent values', () => {
    const n = 10000;
    const rows: Row[] = Array.from({ length: n }, (_, i) => [i * 2, `v${i}`]);
    const { bytes, meta } = buildSegment({ types: ['int64', 'string'], rows, keyColumns: [0], keyDesc: [false], bloomColumns: [0, 1] });
    const reader = new SegmentReader(bytes, meta);
    let falsePositives = 0;
    for (let i = 0; i < n; i++) if (reader.mayContain(0, i * 2 + 1)) falsePositives++;
    expect(falsePositives / n).toBeLessThan(0.03);
    expect(reader.mayContain(0, 2n)).toBe(true); // 2n and 2 are one value
    expect(reader.mayContain(1, 'nope')).toBe(false);
    let keyFp = 0;
    for (let i = 0; i < n; i++) if (reader.mayContainKey(encodeKeyCells(['int64'], [i * 2 + 1]))) keyFp++;
    expect(keyFp / n).toBeLessThan(0.03);
  });

  it('refuses rows out of key order or with duplicate keys', () => {
    const rows: Row[] = [[2, 'a'], [1, 'b']];
    expect(() => buildSegment({ types: ['int64', 'string'], rows, keyColumns: [0], keyDesc: [false], bloomColumns: [] })).toThrow(/order/);
    expect(() => buildSegment({ types: ['int64', 'string'], rows, keyColumns: [0], keyDesc: [true], bloomColumns: [] })).not.toThrow();
    expect(() => buildSegment({ types: ['int64'], rows: [[1], [1]], keyColumns: [0], keyDesc: [false], bloomColumns: [] })).toThrow(/order/);
  });

  it('detects corruption of any chunk or of the footer', () => {
    const rows: Row[] = Array.from({ length: 500 }, (_, i) => [i, `name ${i % 17}`, i * 0.5, i % 2 === 0, null]);
    const types: ColumnType[] = ['int64', 'string', 'float64', 'boolean', 'binary'];
    const expires = Float64Array.from(rows, (_, i) => 1e12 + i);
    const { bytes, meta } = buildSegment({ types, rows, keyColumns: [0], keyDesc: [false], bloomColumns: [1], expiresAtMs: expires });
    const refs = [...meta.columns, ...meta.blooms, meta.keyBloom, meta.expiry].filter((r) => r !== null);
    for (const ref of refs) {
      const bad = bytes.slice();
      bad[ref.offset + Math.floor(ref.length / 2)] ^= 0x40;
      const reader = new SegmentReader(bad, meta);
      expect(() => reader.verify()).toThrow(expect.objectContaining({ code: 'DATA_CORRUPT' }));
    }
    const col = meta.columns[1];
    const bad = bytes.slice();
    bad[col.offset + col.length - 1] ^= 1;
    expect(() => new SegmentReader(bad, meta).column(1)).toThrow(expect.objectContaining({ code: 'DATA_CORRUPT' }));
    expect(() => new SegmentReader(bad, meta).column(0)).not.toThrow();
    const footerBad = bytes.slice();
    footerBad[bytes.length - 20] ^= 1;
    expect(() => new SegmentReader(footerBad)).toThrow(expect.objectContaining({ code: 'DATA_CORRUPT' }));
    expect(() => new SegmentReader(bytes.subarray(0, bytes.length - 1))).toThrow(expect.objectContaining({ code: 'DATA_CORRUPT' }));
    expect(() => new SegmentReader(bytes.subarray(0, bytes.length - 1), meta)).toThrow(expect.objectContaining({ code: 'DATA_CORRUPT' }));
  });

  it('stores a full 65,536-row segment compactly', () => {
    const n = 65536;
    const rows: Row[] = Array.from({ length: n }, (_, k) => [k, k % 100, k * 1.25, ['a', 'b', 'c'][k % 3], 1_700_000_000_000_000 + k * 1000]);
    const types: ColumnType[] = ['int64', 'int64', 'float64', 'string', 'timestamp'];
    const { bytes, meta } = buildSegment({ types, rows, keyColumns: [0], keyDesc: [false], bloomColumns: [] });
    const plain = meta.columns.reduce((s, c) => s + c.plainBytes, 0);
    console.log(`65,536 rows: ${bytes.length} bytes (plain ${plain}); ${meta.columns.map((c) => `${c.encoding} ${c.length}`).join(', ')}`);
    expect(bytes.length).toBeLessThan(plain / 4);
    const reader = new SegmentReader(bytes, meta);
    const t0 = process.hrtime.bigint();
    for (let c = 0; c < types.length; c++) reader.column(c);
    console.log(`decode all 5 columns: ${(Number(process.hrtime.bigint() - t0) / 1e3).toFixed(0)} µs`);
    expect(cellOf(reader.column(3), 65535)).toBe('a');
  });
});

describe('segment pool task', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mantis-seg-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('builds the file from framed rows through pool-main, durably and whole', () => {
    const types: ColumnType[] = ['string', 'int64', 'float64'];
    const rows: Row[] = Array.from({ length: 1000 }, (_, i) => [`k${String(i).padStart(4, '0')}`, i % 7 === 0 ? null : BigInt(i) * 10n ** 15n, i / 3]);
    const old: Cell[] = ['k9999', 5]; // a row stored before the third column was added
    const framed = frameRows([...rows.map((r) => encodeRow(types, r)), encodeRow(types.slice(0, 2), old)]);
    const path = join(dir, 't1', 's1.seg');
    const expires = new Float64Array(1001);
    expires[3] = 123;
    const result = runTask({ kind: 'table-segment', path, types, keyColumns: [0], keyDesc: [false], bloomColumns: [1], rows: framed, count: 1001, expiresAtMs: expires });
    expect(result.kind).toBe('table-segment');
    if (result.kind !== 'table-segment') return;
    expect(readdirSync(join(dir, 't1'))).toEqual(['s1.seg']);
    const file = readFileSync(path);
    const reader = new SegmentReader(new Uint8Array(file.buffer, file.byteOffset, file.byteLength), result.meta);
    reader.verify();
    expect(reader.rows).toBe(1001);
    expect(cellOf(reader.column(1), 15)).toBe(15n * 10n ** 15n);
    expect(cellOf(reader.column(1), 999)).toBe(999n * 10n ** 15n);
    expect(cellOf(reader.column(1), 7)).toBeNull();
    expect(cellOf(reader.column(2), 1000)).toBeNull();
    expect(reader.expiry()?.[3]).toBe(123);
    expect(reader.mayContain(1, 20n * 10n ** 15n)).toBe(true);
  });

  it('fails without leaving a file when the rows are not in key order', () => {
    const types: ColumnType[] = ['int64'];
    const framed = frameRows([encodeRow(types, [2]), encodeRow(types, [1])]);
    const path = join(dir, 't2', 's1.seg');
    expect(() => runTask({ kind: 'table-segment', path, types, keyColumns: [0], keyDesc: [false], bloomColumns: [], rows: framed, count: 2, expiresAtMs: null })).toThrow(/order/);
    expect(() => readdirSync(join(dir, 't2'))).toThrow();
  });
});
