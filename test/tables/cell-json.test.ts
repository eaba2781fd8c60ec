// cell-json: JSON ⇄ cells for every column type (round trips, strict refusals),
// and cells.ts' orders (code point string order, float total order, mixed
// number/bigint int64 cells).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MantisError } from '../../shared/errors.js';
import { cellFromJson, cellToJson, formatRfc3339, parseRfc3339 } from '../../shared/tables/cell-json.js';
import { cellsEqual, checkCell, compareCells, compareStrings, tupleKey } from '../../shared/tables/cells.js';
import type { Cell, ColumnDef, ColumnType } from '../../shared/tables/table-types.js';
import { INT64_MAX, INT64_MIN, normalizeInt64 } from '../../shared/tables/table-types.js';

const col = (type: ColumnType, name = 'c'): ColumnDef => ({ name, type, nullable: true, default: null });

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof MantisError ? e.code : 'NOT_MANTIS';
  }
  return undefined;
}

const int64Cell = fc.bigInt({ min: INT64_MIN, max: INT64_MAX }).map(normalizeInt64);
const timestampCell = fc.oneof(
  fc.bigInt({ min: -62135596800000000n, max: 253402300799999999n }).map(normalizeInt64), // years 0001..9999
  fc.bigInt({ min: INT64_MIN, max: INT64_MAX }).map(normalizeInt64), // any: expanded years beyond
);

describe('cellFromJson / cellToJson', () => {
  it('round-trips every type through JSON text', () => {
    const cases: [ColumnType, fc.Arbitrary<Cell>][] = [
      ['int64', int64Cell],
      ['timestamp', timestampCell],
      ['float64', fc.double({ noNaN: true, noDefaultInfinity: true })],
      ['string', fc.string({ unit: 'grapheme', maxLength: 20 })],
      ['boolean', fc.boolean()],
      ['binary', fc.uint8Array({ maxLength: 40 })],
    ];
    for (const [type, arb] of cases) {
      fc.assert(
        fc.property(fc.option(arb), (cell) => {
          const json = JSON.parse(JSON.stringify(cellToJson(type, cell))) as unknown;
          const back = cellFromJson(col(type), json);
          expect(checkCell(type, back)).toBe(true);
          expect(cellsEqual(back, cell)).toBe(true);
        }),
        { numRuns: 300 },
      );
    }
  });

  it('int64: numbers when safe, decimal strings beyond 2^53', () => {
    expect(cellToJson('int64', 2n ** 60n)).toBe('1152921504606846976');
    expect(cellToJson('int64', 42)).toBe(42);
    expect(cellFromJson(col('int64'), '9223372036854775807')).toBe(INT64_MAX);
    expect(cellFromJson(col('int64'), '-9223372036854775808')).toBe(INT64_MIN);
    expect(cellFromJson(col('int64'), '12')).toBe(12);
    expect(codeOf(() => cellFromJson(col('int64'), '9223372036854775808'))).toBe('TYPE_MISMATCH');
    expect(codeOf(() => cellFromJson(col('int64'), 1.5))).toBe('TYPE_MISMATCH');
    expect(codeOf(() => cellFromJson(col('int64'), 2 ** 60))).toBe('TYPE_MISMATCH');
    expect(codeOf(() => cellFromJson(col('int64'), '1e3'))).toBe('TYPE_MISMATCH');
    expect(codeOf(() => cellFromJson(col('int64'), true))).toBe('TYPE_MISMATCH');
  });

  it('names the column in the error', () => {
    try {
      cellFromJson(col('boolean', 'flag'), 'yes');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(MantisError);
      expect((e as MantisError).details).toEqual({ column: 'flag' });
      expect((e as MantisError).message).toContain('flag');
    }
  });

  it('timestamps: RFC 3339 in, microseconds kept, one output form', () => {
    expect(cellFromJson(col('timestamp'), '1970-01-01T00:00:00Z')).toBe(0);
    expect(cellFromJson(col('timestamp'), '2024-01-02T03:04:05.123456Z')).toBe(1704164645123456);
    expect(cellFromJson(col('timestamp'), '2024-01-02T05:04:05.123456789+02:00')).toBe(1704164645123456);
    expect(cellFromJson(col('timestamp'), '2024-01-02 03:04:05.1z')).toBe(1704164645100000);
    expect(cellToJson('timestamp', 1704164645123456)).toBe('2024-01-02T03:04:05.123456Z');
    expect(cellToJson('timestamp', 1704164645000000)).toBe('2024-01-02T03:04:05Z');
    expect(cellToJson('timestamp', -1)).toBe('1969-12-31T23:59:59.999999Z');
    expect(formatRfc3339(INT64_MAX)).toMatch(/^\+294247-01-10T04:00:54.775807Z$/);
    expect(parseRfc3339('2024-02-30T00:00:00Z')).toBeNull();
    expect(parseRfc3339('2023-02-29T00:00:00Z')).toBeNull();
    expect(parseRfc3339('2024-02-29T00:00:00Z')).not.toBeNull();
    expect(parseRfc3339('2024-01-02T24:00:00Z')).toBeNull();
    expect(parseRfc3339('2024-01-02T03:04:05')).toBeNull();
    expect(codeOf(() => cellFromJson(col('timestamp'), 1704164645))).toBe('TYPE_MISMATCH');
    expect(cellFromJson(col('timestamp'), '9999-12-31T23:59:59.999999Z')).toBe(253402300799999999n);
    // What comes out goes back in: years past 9999 or before 0000 as ISO 8601 expanded years.
    const late = cellFromJson(col('timestamp'), '9999-12-31T23:59:59-14:00') as bigint;
    expect(cellToJson('timestamp', late)).toBe('+010000-01-01T13:59:59Z');
    expect(cellFromJson(col('timestamp'), '+010000-01-01T13:59:59Z')).toBe(late);
    expect(cellToJson('timestamp', cellFromJson(col('timestamp'), '0000-01-01T00:00:00+14:00'))).toBe('-000001-12-31T10:00:00Z');
    expect(cellFromJson(col('timestamp'), '-000001-12-31T10:00:00Z')).toBe(cellFromJson(col('timestamp'), '0000-01-01T00:00:00+14:00'));
    expect(cellFromJson(col('timestamp'), formatRfc3339(INT64_MIN))).toBe(INT64_MIN);
    expect(codeOf(() => cellFromJson(col('timestamp'), '+294248-01-01T00:00:00Z'))).toBe('TYPE_MISMATCH');
    expect(codeOf(() => cellFromJson(col('timestamp'), '10000-01-01T00:00:00Z'))).toBe('TYPE_MISMATCH');
    // Agrees with Date for millisecond values.
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), (ms) => {
        const iso = new Date(ms).toISOString();
        if (!iso.startsWith('+') && !iso.startsWith('-')) expect(parseRfc3339(iso)).toBe(normalizeInt64(BigInt(ms) * 1000n));
      }),
    );
  });

  it('float64, binary, string, boolean refusals', () => {
    expect(codeOf(() => cellFromJson(col('float64'), 'NaN'))).toBe('TYPE_MISMATCH');
    expect(cellToJson('float64', NaN)).toBe('NaN');
    expect(cellToJson('float64', -Infinity)).toBe('-Infinity');
    expect(cellFromJson(col('binary'), 'AQID')).toEqual(new Uint8Array([1, 2, 3]));
    expect(cellFromJson(col('binary'), 'AQI')).toEqual(new Uint8Array([1, 2]));
    expect(codeOf(() => cellFromJson(col('binary'), 'A$==='))).toBe('TYPE_MISMATCH');
    expect(codeOf(() => cellFromJson(col('binary'), 'A'))).toBe('TYPE_MISMATCH');
    expect(codeOf(() => cellFromJson(col('string'), 5))).toBe('TYPE_MISMATCH');
    expect(codeOf(() => cellFromJson(col('boolean'), 0))).toBe('TYPE_MISMATCH');
    expect(cellFromJson(col('string'), null)).toBeNull();
    // Lone surrogates have no UTF-8 form (they would be stored as U+FFFD and collide).
    for (const bad of ['a\ud800', 'a\udc00', '\udfff\ud800']) expect(codeOf(() => cellFromJson(col('string'), bad))).toBe('TYPE_MISMATCH');
    expect(cellFromJson(col('string'), 'a\ud83d\ude00')).toBe('a\u{1f600}');
  });
});

describe('cells', () => {
  it('strings compare in code point order (UTF-8 byte order)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        const bytes = Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
        expect(Math.sign(compareStrings(a, b))).toBe(bytes);
      }),
    );
    expect(compareStrings('\uffff', '\u{10000}')).toBe(-1);
  });

  it('float64 total order: NaN last and equal to itself, -0 == 0', () => {
    expect(compareCells(NaN, Infinity)).toBe(1);
    expect(compareCells(NaN, NaN)).toBe(0);
    expect(compareCells(-0, 0)).toBe(0);
    expect(tupleKey([-0])).toBe(tupleKey([0]));
  });

  it('int64 number and bigint forms compare numerically', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: INT64_MIN, max: INT64_MAX }), fc.bigInt({ min: INT64_MIN, max: INT64_MAX }), (a, b) => {
        const expected = a < b ? -1 : a > b ? 1 : 0;
        expect(compareCells(normalizeInt64(a), normalizeInt64(b))).toBe(expected);
        expect(compareCells(a, normalizeInt64(b))).toBe(expected);
      }),
    );
    expect(tupleKey([5n])).toBe(tupleKey([5]));
    expect(tupleKey(['a\u0000b', 'c'])).not.toBe(tupleKey(['a', 'b\u0000c']));
  });
});
