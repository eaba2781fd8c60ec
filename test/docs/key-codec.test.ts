// The order-preserving key encoding: byte order is compareValues order for
// every pair, encodings are prefix-free, equal values have equal bytes,
// descending components invert, and index values decode back.

import { Decimal128, ObjectId } from 'bson';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareValues, valuesEqual } from '../../shared/docs/compare.js';
import type { DocValue } from '../../shared/docs/doc-types.js';
import {
  decodeIndexValue,
  decodeIndexValueAt,
  encodeIndexKey,
  encodeIndexValue,
  prefixEnd,
  valueEqualityKey,
} from '../../shared/docs/key-codec.js';
import { numberArb, scalarArb, valueArb } from './codec-arbitraries.js';

function sign(x: number): number {
  return x < 0 ? -1 : x > 0 ? 1 : 0;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

function isPrefix(a: Uint8Array, b: Uint8Array): boolean {
  return a.length < b.length && Buffer.compare(a, b.subarray(0, a.length)) === 0;
}

function checkPair(a: DocValue, b: DocValue): void {
  const ea = encodeIndexValue(a);
  const eb = encodeIndexValue(b);
  expect(sign(compareBytes(ea, eb))).toBe(sign(compareValues(a, b)));
  expect(isPrefix(ea, eb) || isPrefix(eb, ea)).toBe(false);
}

const dec = (s: string): Decimal128 => Decimal128.fromString(s);

describe('key-codec order', () => {
  it('orders generated values as compareValues does, without prefixes', () => {
    fc.assert(fc.property(valueArb, valueArb, checkPair), { numRuns: 2000 });
  });

  it('orders numbers of every kind exactly, across kinds', () => {
    fc.assert(fc.property(numberArb, numberArb, checkPair), { numRuns: 3000 });
  });

  it('orders numbers near each other (floors shared by Int64 and Decimal128)', () => {
    const near = fc.bigInt({ min: -5n, max: 5n }).chain((delta) =>
      fc.constantFrom(2n ** 53n, 2n ** 62n, -(2n ** 60n), 10n ** 18n).map((base) => base + delta),
    );
    const kinds = near.chain((n) => fc.constantFrom<DocValue>(n, Number(n), dec(n.toString()), dec(`${n}.5`), dec(`${n}.0000000001`)));
    fc.assert(fc.property(kinds, kinds, checkPair), { numRuns: 2000 });
  });

  it('handles the hand-picked corners', () => {
    const values: DocValue[] = [
      NaN, dec('NaN'), -Infinity, dec('-1E+400'), -Number.MAX_VALUE, -(2n ** 63n), -1, dec('-1E-400'), -Number.MIN_VALUE,
      0, -0, 0n, dec('0'), dec('-0E+5'), dec('1E-400'), Number.MIN_VALUE, 0.1, dec('0.1'), 1, 1n, dec('1.00'),
      2 ** 53, 2n ** 53n + 1n, 2 ** 53 + 2, 2n ** 63n - 1n, Number.MAX_VALUE, dec('1E+400'), Infinity, dec('Infinity'),
      '', '\u0000', '\u0001', '\u0002', 'a', 'a\u0000', 'a\u0001', 'ab', '\uffff', '\ud83d\ude00',
      {}, { a: 1 }, { a: 'x' }, { b: 1 }, { a: 1, b: 1 }, [], [null], [1], [1, 2], [[]],
      new ObjectId('000000000000000000000000'), new ObjectId('ffffffffffffffffffffffff'),
      false, true, new Date(-1), new Date(0), new Date(NaN), null,
    ];
    for (const a of values) for (const b of values) checkPair(a, b);
  });

  it('gives equal values equal bytes', () => {
    const same: DocValue[][] = [
      [1, 1n, dec('1'), dec('1.000'), 1.0],
      [0, -0, 0n, dec('-0'), dec('0E-20')],
      [NaN, dec('NaN'), dec('-NaN')],
      [2 ** 60, 2n ** 60n],
      [{ a: 1 }, { a: 1n }],
    ];
    for (const group of same) {
      for (const v of group) expect(Buffer.from(encodeIndexValue(v)).toString('hex')).toBe(Buffer.from(encodeIndexValue(group[0])).toString('hex'));
    }
    expect(encodeIndexValue(undefined)).toEqual(encodeIndexValue(null));
  });
});

describe('compound keys', () => {
  it('order tuples component by component, descending components reversed', () => {
    const tuple = fc.tuple(scalarArb, scalarArb);
    fc.assert(
      fc.property(tuple, tuple, fc.tuple(fc.boolean(), fc.boolean()), (a, b, desc) => {
        const first = compareValues(a[0], b[0]) * (desc[0] ? -1 : 1);
        const expected = first !== 0 ? first : compareValues(a[1], b[1]) * (desc[1] ? -1 : 1);
        const actual = compareBytes(encodeIndexKey(a, desc), encodeIndexKey(b, desc));
        expect(sign(actual)).toBe(sign(expected));
      }),
      { numRuns: 2000 },
    );
  });

  it('decode each component, inverted or not', () => {
    fc.assert(
      fc.property(valueArb, valueArb, fc.boolean(), (a, b, d) => {
        const key = encodeIndexKey([a, b], [d, !d]);
        const first = decodeIndexValueAt(key, 0, d);
        const second = decodeIndexValueAt(key, first.end, !d);
        expect(second.end).toBe(key.length);
        expect(valuesEqual(first.value, a)).toBe(true);
        expect(valuesEqual(second.value, b)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('decodeIndexValue', () => {
  it('gives back an equal value, of the same type except numbers', () => {
    fc.assert(
      fc.property(valueArb, (v) => {
        const back = decodeIndexValue(encodeIndexValue(v));
        expect(compareValues(back, v)).toBe(0);
        if (typeof v === 'string' || v instanceof ObjectId || v instanceof Date) expect(back).toStrictEqual(v);
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps number types where they are recoverable', () => {
    expect(decodeIndexValue(encodeIndexValue(1.5))).toBe(1.5);
    expect(decodeIndexValue(encodeIndexValue(2n ** 53n + 1n))).toBe(2n ** 53n + 1n);
    expect(decodeIndexValue(encodeIndexValue(-(2n ** 63n)))).toBe(-(2 ** 63)); // an exact double
    expect(decodeIndexValue(encodeIndexValue(2n ** 63n - 1n))).toBe(2n ** 63n - 1n);
    expect((decodeIndexValue(encodeIndexValue(dec('0.1'))) as Decimal128).toString()).toBe(dec('0.1').toString());
    expect(decodeIndexValue(encodeIndexValue('a\u0000\u0001b\ud800'))).toBe('a\u0000\u0001b\ud800');
  });
});

describe('valueEqualityKey', () => {
  it('is equal exactly when valuesEqual is', () => {
    fc.assert(
      fc.property(valueArb, valueArb, (a, b) => {
        expect(valueEqualityKey(a) === valueEqualityKey(b)).toBe(valuesEqual(a, b));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(numberArb, numberArb, (a, b) => {
        expect(valueEqualityKey(a) === valueEqualityKey(b)).toBe(valuesEqual(a, b));
      }),
      { numRuns: 2000 },
    );
    expect(valueEqualityKey(1)).toBe(valueEqualityKey(dec('1.0')));
    expect(valueEqualityKey(null)).toBe(valueEqualityKey(undefined));
    expect(valueEqualityKey('1')).not.toBe(valueEqualityKey(1));
  });
});

describe('prefixEnd', () => {
  it('is above every extension of the prefix and below the next prefix', () => {
    expect([...prefixEnd(Uint8Array.of(1, 2, 0xff, 0xff))]).toEqual([1, 3]);
    const p = encodeIndexValue('abc');
    const end = prefixEnd(p);
    expect(compareBytes(Buffer.concat([p, Buffer.of(0xff, 0xff)]), end)).toBeLessThan(0);
    expect(compareBytes(encodeIndexValue('abd'), end)).toBeGreaterThanOrEqual(0);
  });
});
