// Key cells: byte order is cell order (nulls last ascending, first descending; number and bigint
// int64 forms mixed; float total order), encodings are prefix-free, descending columns invert,
// and keys decode back. Table keys carry their slot and parts.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { slotOfKey } from '../../shared/slot.js';
import { compareNullsLast } from '../../shared/tables/cells.js';
import { decodeKeyCells, decodeKeyCellsAt, encodeKeyCells, skipKeyCells } from '../../shared/tables/key-cells.js';
import {
  deleteMarkKey,
  deleteMarkPrefix,
  encodePk,
  indexEntryBody,
  indexEntryKey,
  indexPrefix,
  parseDeleteMarkKey,
  pkFromRowKey,
  prefixEnd,
  rowKey,
  rowPrefix,
  rowSlot,
  segIdFromKey,
  segmentKey,
  tableCatalogKey,
  nameFromCatalogKey,
  tableKeyTag,
  uniqueKey,
  valueSlot,
} from '../../shared/tables/table-keys.js';
import type { Cell, ColumnType, TableInfo } from '../../shared/tables/table-types.js';
import { cellArb, cellSame, compareCellRef, typeArb, typesArb } from './codec-arbitraries.js';

const sign = (x: number): number => (x < 0 ? -1 : x > 0 ? 1 : 0);
const isPrefix = (a: Uint8Array, b: Uint8Array): boolean => a.length < b.length && Buffer.compare(a, b.subarray(0, a.length)) === 0;

function compareTuples(types: readonly ColumnType[], desc: readonly boolean[], a: readonly Cell[], b: readonly Cell[]): number {
  for (let i = 0; i < types.length; i++) {
    const c = compareCellRef(types[i], a[i], b[i]);
    if (c !== 0) return desc[i] ? -c : c;
  }
  return 0;
}

const tuplePairArb = fc
  .tuple(typesArb, fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }))
  .chain(([types, desc]) =>
    fc.tuple(fc.constant(types), fc.constant(desc.slice(0, types.length)), fc.tuple(...types.map((t) => cellArb(t))), fc.tuple(...types.map((t) => cellArb(t)))),
  );

describe('key cells', () => {
  it('byte order is tuple order, ascending and descending', () => {
    fc.assert(
      fc.property(tuplePairArb, ([types, desc, a, b]) => {
        const ka = encodeKeyCells(types, a, desc);
        const kb = encodeKeyCells(types, b, desc);
        expect(sign(Buffer.compare(ka, kb))).toBe(sign(compareTuples(types, desc, a, b)));
        expect(isPrefix(ka, kb) || isPrefix(kb, ka)).toBe(false);
      }),
      { numRuns: 5000 },
    );
  });

  it('single cells of one type order like the reference (dense values)', () => {
    fc.assert(
      fc.property(typeArb.chain((t) => fc.tuple(fc.constant(t), cellArb(t), cellArb(t), fc.boolean())), ([t, a, b, desc]) => {
        const ka = encodeKeyCells([t], [a], [desc]);
        const kb = encodeKeyCells([t], [b], [desc]);
        const ref = compareCellRef(t, a, b);
        expect(sign(Buffer.compare(ka, kb))).toBe(sign(desc ? -ref : ref));
      }),
      { numRuns: 5000 },
    );
  });

  it('decodes back (-0 as 0, any NaN as NaN) and skips exactly', () => {
    fc.assert(
      fc.property(tuplePairArb, ([types, desc, a]) => {
        const bytes = encodeKeyCells(types, a, desc);
        const back = decodeKeyCells(types, bytes, desc);
        for (let i = 0; i < types.length; i++) expect(cellSame(back[i], a[i], true), `${types[i]} ${String(a[i])}`).toBe(true);
        for (const c of back) if (typeof c === 'number') expect(Object.is(c, -0)).toBe(false);
        const padded = new Uint8Array([9, ...bytes, 7]);
        expect(skipKeyCells(types, padded, 1, desc)).toBe(bytes.length + 1);
        expect(decodeKeyCellsAt(types, padded, 1, desc).end).toBe(bytes.length + 1);
      }),
      { numRuns: 3000 },
    );
  });

  it('agrees with cells.ts compareNullsLast for well-formed values', () => {
    fc.assert(
      fc.property(typeArb.chain((t) => fc.tuple(fc.constant(t), cellArb(t), cellArb(t))), ([t, a, b]) => {
        if ((typeof a === 'string' && !a.isWellFormed()) || (typeof b === 'string' && !b.isWellFormed())) return;
        expect(sign(Buffer.compare(encodeKeyCells([t], [a]), encodeKeyCells([t], [b])))).toBe(sign(compareNullsLast(a, b)));
      }),
      { numRuns: 5000 },
    );
  });

  it('mixes number and bigint int64 forms', () => {
    const t: ColumnType[] = ['int64'];
    const ks = [-(2n ** 63n), -(2n ** 53n), -9007199254740991, -1, 0, 1, 9007199254740991, 2n ** 53n, 2n ** 63n - 1n].map((v) => encodeKeyCells(t, [v]));
    for (let i = 1; i < ks.length; i++) expect(Buffer.compare(ks[i - 1], ks[i])).toBe(-1);
    expect(decodeKeyCells(t, encodeKeyCells(t, [2n ** 53n]))).toEqual([2n ** 53n]);
    expect(decodeKeyCells(t, encodeKeyCells(t, [-(2n ** 53n)]))).toEqual([-(2n ** 53n)]);
    expect(decodeKeyCells(t, encodeKeyCells(t, [-(2n ** 63n)]))).toEqual([-(2n ** 63n)]);
    expect(Buffer.compare(encodeKeyCells(['float64'], [-0]), encodeKeyCells(['float64'], [0]))).toBe(0);
  });

  it('encodes a shorter tuple as a prefix of the longer', () => {
    const types: ColumnType[] = ['string', 'int64'];
    const full = encodeKeyCells(types, ['a', 5], [false, true]);
    const head = encodeKeyCells(types, ['a'], [false, true]);
    expect(isPrefix(head, full)).toBe(true);
  });
});

function table(over: Partial<TableInfo> = {}): TableInfo {
  return {
    name: 't',
    id: 7,
    version: 1,
    createdAtMs: 0,
    columns: [
      { name: 'p', type: 'string', nullable: false, default: null },
      { name: 'v', type: 'float64', nullable: true, default: null },
      { name: 'c', type: 'int64', nullable: false, default: null },
    ],
    primaryKey: ['p', 'c'],
    partitionKeyLength: 1,
    keyDesc: [false, true],
    indexes: [],
    nextIndexId: 1,
    defaultTtlSeconds: 0,
    cql: true,
    ...over,
  };
}

describe('table keys', () => {
  it('places rows by partition key and keeps pk order within a table', () => {
    const info = table();
    expect(rowSlot(info, ['a', 1])).toBe(rowSlot(info, ['a', 2]));
    const slot = rowSlot(info, ['a', 1]);
    const k1 = rowKey(info.id, encodePk(info, ['a', 1]), slot);
    const k2 = rowKey(info.id, encodePk(info, ['a', 2]), slot);
    expect(Buffer.compare(k2, k1)).toBe(-1); // c descending
    expect(slotOfKey(k1)).toBe(slot);
    expect(isPrefix(rowPrefix(info.id), k1)).toBe(true);
    expect(Buffer.from(pkFromRowKey(k1))).toEqual(Buffer.from(encodePk(info, ['a', 1])));
    expect(tableKeyTag(k1)).toBe('R');
    const end = prefixEnd(rowPrefix(info.id)) as Uint8Array;
    expect(Buffer.compare(k1, end)).toBe(-1);
    expect(Buffer.compare(rowPrefix(info.id + 1), end)).toBe(0);
  });

  it('builds delete marks, segments, index and unique entries and catalog keys', () => {
    const dm = deleteMarkKey(3, 12, 65535, 999);
    expect(parseDeleteMarkKey(dm)).toEqual({ segId: 12, rowIdx: 65535 });
    expect(slotOfKey(dm)).toBe(999);
    expect(isPrefix(deleteMarkPrefix(3, 12), dm)).toBe(true);
    expect(isPrefix(deleteMarkPrefix(3), deleteMarkPrefix(3, 12))).toBe(true);
    expect(segIdFromKey(segmentKey(3, 0xfffffffe))).toBe(0xfffffffe);
    const value = encodeKeyCells(['string'], ['x']);
    const pk = encodeKeyCells(['int64'], [1]);
    const ie = indexEntryKey(3, 2, value, pk, 5);
    expect(isPrefix(indexPrefix(3, 2, value), ie)).toBe(true);
    expect(isPrefix(indexPrefix(3, 2), ie)).toBe(true);
    expect(Buffer.from(indexEntryBody(ie))).toEqual(Buffer.concat([value, pk]));
    const uq = uniqueKey(3, 2, value, valueSlot(value));
    expect(slotOfKey(uq)).toBe(valueSlot(value));
    expect(tableKeyTag(uq)).toBe('Q');
    expect(nameFromCatalogKey(tableCatalogKey('événements'))).toBe('événements');
    expect(prefixEnd(Uint8Array.of(0xff, 0xff))).toBeNull();
  });
});
