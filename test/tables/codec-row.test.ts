// The row codec: every type round-trips with nulls anywhere, rows written before columns were
// added decode with nulls for the new columns, and int64 cells keep their normalized form.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRow, encodeRow, encodeRowView } from '../../shared/tables/row-codec.js';
import type { ColumnType, Row } from '../../shared/tables/table-types.js';
import { cellSame, rowArb, typedRowArb, typesArb } from './codec-arbitraries.js';

function sameRow(a: Row, b: Row): boolean {
  return a.length === b.length && a.every((c, i) => cellSame(c, b[i]));
}

describe('row codec', () => {
  it('round-trips every type with nulls anywhere', () => {
    fc.assert(
      fc.property(typedRowArb, ({ types, row }) => {
        const back = decodeRow(types, encodeRow(types, row));
        expect(sameRow(back, row), `${String(row)} -> ${String(back)}`).toBe(true);
        expect(sameRow(decodeRow(types, encodeRowView(types, row).slice()), row)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('decodes rows stored before columns were added with null trailing cells', () => {
    fc.assert(
      fc.property(
        typesArb.chain((types) => fc.tuple(fc.constant(types), typesArb, rowArb(types))),
        ([types, added, row]) => {
          const back = decodeRow([...types, ...added], encodeRow(types, row));
          expect(back.length).toBe(types.length + added.length);
          expect(sameRow(back.slice(0, types.length), row)).toBe(true);
          expect(back.slice(types.length).every((c) => c === null)).toBe(true);
        },
      ),
    );
  });

  it('keeps int64 forms at the edges and is compact', () => {
    const types: ColumnType[] = ['int64', 'timestamp', 'int64', 'int64', 'int64'];
    const row: Row = [2n ** 63n - 1n, -(2n ** 63n), 9007199254740991, -9007199254740991, 2n ** 53n];
    const back = decodeRow(types, encodeRow(types, row));
    expect(back).toEqual(row);
    expect(encodeRow(['int64', 'string', 'boolean'], [5, 'ab', true]).length).toBe(1 + 1 + 1 + 3 + 1);
    expect(encodeRow(['int64', 'int64'], [null, null]).length).toBe(2);
  });

  it('refuses truncated bytes', () => {
    const types: ColumnType[] = ['string', 'float64'];
    const bytes = encodeRow(types, ['hello', 1.5]);
    expect(() => decodeRow(types, bytes.subarray(0, bytes.length - 3))).toThrow();
  });

  it('handles long strings and strings whose UTF-8 outgrows a one-byte length', () => {
    const types: ColumnType[] = ['string', 'string', 'string', 'binary'];
    const row: Row = ['é'.repeat(100), 'x'.repeat(100_000), 'a\ud800'.repeat(50), new Uint8Array(300).fill(7)];
    expect(sameRow(decodeRow(types, encodeRow(types, row)), row)).toBe(true);
  });
});
