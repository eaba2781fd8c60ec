// compareValues (MongoDB's BSON order), bson-types and the dotted-path helpers.

import { Binary, BSONRegExp, Decimal128, ObjectId } from 'bson';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalOrder, typeName } from '../../shared/docs/bson-types.js';
import { compareValues, valuesEqual } from '../../shared/docs/compare.js';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';
import {
  getPath,
  lookupForQuery,
  setPath,
  setPathCopy,
  unsetPath,
  unsetPathCopy,
} from '../../shared/docs/paths.js';

const dec = (s: string): Decimal128 => Decimal128.fromString(s);
const oid = (hex: string): ObjectId => ObjectId.createFromHexString(hex);

describe('typeName / canonicalOrder', () => {
  it('names every type as $type does', () => {
    expect(typeName(1)).toBe('int');
    expect(typeName(-0)).toBe('double');
    expect(typeName(2 ** 31)).toBe('double');
    expect(typeName(1.5)).toBe('double');
    expect(typeName(1n)).toBe('long');
    expect(typeName(dec('1'))).toBe('decimal');
    expect(typeName('x')).toBe('string');
    expect(typeName({})).toBe('object');
    expect(typeName([])).toBe('array');
    expect(typeName(new Binary(Buffer.from('a')))).toBe('binData');
    expect(typeName(new ObjectId())).toBe('objectId');
    expect(typeName(true)).toBe('bool');
    expect(typeName(new Date(0))).toBe('date');
    expect(typeName(null)).toBe('null');
    expect(typeName(new BSONRegExp('a', 'i'))).toBe('regex');
  });

  it('orders classes null < numbers < string < object < array < binData < objectId < bool < date < regex', () => {
    const ladder: DocValue[] = [
      null,
      -Infinity,
      'a',
      {},
      [],
      new Binary(Buffer.from('')),
      new ObjectId(),
      false,
      new Date(0),
      new BSONRegExp('a', ''),
    ];
    for (let i = 1; i < ladder.length; i++) {
      expect(canonicalOrder(ladder[i - 1]) < canonicalOrder(ladder[i])).toBe(true);
      expect(compareValues(ladder[i - 1], ladder[i])).toBe(-1);
      expect(compareValues(ladder[i], ladder[i - 1])).toBe(1);
    }
    expect(compareValues(undefined, null)).toBe(0);
  });
});

describe('compareValues', () => {
  it('compares numbers of every kind exactly', () => {
    expect(compareValues(1, 1n)).toBe(0);
    expect(compareValues(1, dec('1.000'))).toBe(0);
    expect(compareValues(1.5, 1n)).toBe(1);
    expect(compareValues(-1.5, -1n)).toBe(-1);
    expect(compareValues(2n ** 53n + 1n, 2 ** 53)).toBe(1);
    expect(compareValues(dec('0.1'), 0.1)).toBe(-1); // 0.1 as a double is 0.1000000000000000055…
    expect(compareValues(dec('9223372036854775807'), 2n ** 63n - 1n)).toBe(0);
    expect(compareValues(NaN, -Infinity)).toBe(-1);
    expect(compareValues(NaN, NaN)).toBe(0);
    expect(compareValues(dec('NaN'), NaN)).toBe(0);
    expect(compareValues(dec('-Infinity'), -Infinity)).toBe(0);
    expect(compareValues(dec('Infinity'), 2n ** 62n)).toBe(1);
    expect(compareValues(-0, 0)).toBe(0);
    expect(valuesEqual(NaN, NaN)).toBe(true);
    expect(valuesEqual(1, dec('1E0'))).toBe(true);
  });

  it('orders strings by code point, not UTF-16 unit', () => {
    expect(compareValues('\uffff', '\u{10000}')).toBe(-1);
    expect(compareValues('a', 'ab')).toBe(-1);
    expect(compareValues('B', 'a')).toBe(-1);
    const codePoints = fc.string({ unit: 'grapheme' });
    fc.assert(
      fc.property(codePoints, codePoints, (a, b) => {
        const byBytes = Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
        expect(compareValues(a, b)).toBe(byBytes);
      }),
      { numRuns: 500 },
    );
  });

  it('compares documents by element type, then name, then value', () => {
    expect(compareValues({ a: 1 }, { b: 1 })).toBe(-1);
    expect(compareValues({ b: 1 }, { a: 'x' })).toBe(-1); // number class before string class
    expect(compareValues({ a: 1 }, { a: 1, b: 1 })).toBe(-1);
    expect(compareValues({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(-1);
    expect(valuesEqual({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(false);
    expect(valuesEqual({ a: 1, b: [1, { c: 2 }] }, { a: 1n, b: [1.0, { c: dec('2') }] })).toBe(true);
  });

  it('compares arrays, binData, ObjectIds, booleans, dates, regexes', () => {
    expect(compareValues([1, 2], [1, 2, 0])).toBe(-1);
    expect(compareValues([2], [1, 9])).toBe(1);
    expect(compareValues(new Binary(Buffer.from([9])), new Binary(Buffer.from([0, 0])))).toBe(-1);
    expect(compareValues(new Binary(Buffer.from([1]), 5), new Binary(Buffer.from([2]), 0))).toBe(1);
    expect(compareValues(oid('000000000000000000000001'), oid('000000000000000000000100'))).toBe(-1);
    expect(compareValues(oid('ff0000000000000000000000'), oid('0fffffffffffffffffffffff'))).toBe(1);
    expect(compareValues(false, true)).toBe(-1);
    expect(compareValues(new Date(-5), new Date(3))).toBe(-1);
    expect(compareValues(new BSONRegExp('a', 'i'), new BSONRegExp('a', 'm'))).toBe(-1);
  });

  it('is a total order on generated values (antisymmetric, transitive)', () => {
    const leaf = fc.oneof(
      fc.constant(null),
      fc.integer(),
      fc.double(),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      fc.string({ maxLength: 3 }),
      fc.boolean(),
    );
    const value = fc.letrec<{ v: DocValue }>((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(fc.constantFrom('a', 'b'), tie('v'), { maxKeys: 2 })),
    })).v;
    fc.assert(
      fc.property(value, value, value, (a, b, c) => {
        expect(compareValues(a, b)).toBe(-compareValues(b, a) || 0);
        if (compareValues(a, b) <= 0 && compareValues(b, c) <= 0) expect(compareValues(a, c)).toBeLessThanOrEqual(0);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('lookupForQuery (MongoDB path traversal)', () => {
  it('walks objects and yields missing for a gap', () => {
    expect(lookupForQuery({ a: { b: 1 } }, 'a.b')).toEqual([1]);
    expect(lookupForQuery({ a: 5 }, 'a.b')).toEqual([undefined]);
    expect(lookupForQuery({}, 'a.b')).toEqual([undefined]);
  });

  it('yields leaf array elements then the array', () => {
    expect(lookupForQuery({ a: [1, [2]] }, 'a')).toEqual([1, [2], [1, [2]]]);
    expect(lookupForQuery({ a: [1, [2]] }, 'a', false)).toEqual([[1, [2]]]);
  });

  it('traverses arrays of documents, not nested arrays or scalars', () => {
    expect(lookupForQuery({ a: [{ b: 1 }, { c: 1 }, 5, [{ b: 9 }]] }, 'a.b')).toEqual([1, undefined]);
    expect(lookupForQuery({ a: [1] }, 'a.b')).toEqual([]);
    expect(lookupForQuery({ a: [] }, 'a.b')).toEqual([]);
    expect(lookupForQuery({ a: [{ b: [1, 2] }] }, 'a.b')).toEqual([1, 2, [1, 2]]);
  });

  it('handles numeric positions as MongoDB does', () => {
    expect(lookupForQuery({ a: [5, 6] }, 'a.1')).toEqual([6]);
    expect(lookupForQuery({ a: [[1, 2]] }, 'a.0')).toEqual([[1, 2]]);
    expect(lookupForQuery({ a: [[1, 2]] }, 'a.0.1')).toEqual([2]);
    expect(lookupForQuery({ a: [{ b: 1 }] }, 'a.0.b')).toEqual([undefined, 1]);
    expect(lookupForQuery({ a: [{ '0': 7 }] }, 'a.0')).toEqual([7, { '0': 7 }]);
    expect(lookupForQuery({ a: { '1': 3 } }, 'a.1')).toEqual([3]);
    expect(lookupForQuery({ a: [5, 6] }, 'a.01')).toEqual([]);
  });

  it("agrees with MongoDB's own path iterator tests (matcher/path_test.cpp)", () => {
    // Nested1
    expect(lookupForQuery({ a: [{ b: 5 }, 3, {}, { b: [9, 11] }, { b: 7 }] }, 'a.b')).toEqual([5, undefined, 9, 11, [9, 11], 7]);
    // NestedNoLeaf1
    expect(lookupForQuery({ a: [{ b: 5 }, 3, {}, { b: [9, 11] }, { b: 7 }] }, 'a.b', false)).toEqual([5, undefined, [9, 11], 7]);
    // NestedPartialMatchScalar, NestedPartialMatchArray, NestedEmptyArray
    expect(lookupForQuery({ a: 4 }, 'a.b')).toEqual([undefined]);
    expect(lookupForQuery({ a: [4] }, 'a.b')).toEqual([]);
    expect(lookupForQuery({ a: { b: [] } }, 'a.b')).toEqual([[]]);
    // ArrayIndex1-3, ArrayIndexNested1-2
    expect(lookupForQuery({ a: [5, 7, 3] }, 'a.1')).toEqual([7]);
    expect(lookupForQuery({ a: [5, [2, 4], 3] }, 'a.1')).toEqual([[2, 4]]);
    expect(lookupForQuery({ a: [5, { '1': 4 }, 3] }, 'a.1')).toEqual([4, { '1': 4 }]);
    expect(lookupForQuery({ a: [5, { b: 4 }, 3] }, 'a.1.b')).toEqual([undefined, 4]);
    expect(lookupForQuery({ a: [5, [{ b: 4 }], 3] }, 'a.1.b')).toEqual([4]);
    // NestedArrayImplicitTraversal, ArrayOffsetWithImplicitAndExplicitTraversal
    expect(lookupForQuery({ a: [{ b: [2, 3] }, { b: [4, 5] }] }, 'a.b')).toEqual([2, 3, [2, 3], 4, 5, [4, 5]]);
    expect(lookupForQuery({ a: [{ b: [2, 3] }, { b: [4, 5] }] }, 'a.0.b')).toEqual([undefined, 2, 3, [2, 3], undefined]);
  });

  it('ignores inherited names', () => {
    expect(lookupForQuery({}, 'constructor')).toEqual([undefined]);
    expect(lookupForQuery(JSON.parse('{"__proto__": 5}') as Doc, '__proto__')).toEqual([5]);
    expect(getPath({ a: {} }, 'a.toString')).toBeUndefined();
  });
});

describe('getPath / setPath / unsetPath', () => {
  it('gets by field and numeric position only', () => {
    expect(getPath({ a: [{ b: 1 }, { b: 2 }] }, 'a.1.b')).toBe(2);
    expect(getPath({ a: [{ b: 1 }] }, 'a.b')).toBeUndefined();
  });

  it('sets, creating documents and padding arrays with null', () => {
    const d: Doc = { a: [1] };
    setPath(d, 'a.3.x', 5);
    setPath(d, 'b.c', true);
    expect(d).toEqual({ a: [1, null, null, { x: 5 }], b: { c: true } });
    expect(() => setPath({ a: 5 }, 'a.b', 1)).toThrow(/Cannot create field 'b'/);
    expect(() => setPath({ a: [] }, 'a.x', 1)).toThrow(/Cannot create field 'x'/);
  });

  it('copy-on-write variants leave the input untouched and share the rest', () => {
    const shared = { deep: [1, 2] };
    const d: Doc = { a: { b: 1 }, s: shared };
    const e = setPathCopy(d, 'a.c', 2);
    expect(d).toEqual({ a: { b: 1 }, s: shared });
    expect(e).toEqual({ a: { b: 1, c: 2 }, s: shared });
    expect(e.s).toBe(shared);
    const f = unsetPathCopy(e, 'a.b');
    expect(f).toEqual({ a: { c: 2 }, s: shared });
    expect(e).toEqual({ a: { b: 1, c: 2 }, s: shared });
    expect(unsetPathCopy(f, 'x.y')).toBe(f);
  });

  it('unsets fields and nulls array positions', () => {
    const d: Doc = { a: [1, 2], b: { c: 1 } };
    expect(unsetPath(d, 'a.0')).toBe(true);
    expect(unsetPath(d, 'b.c')).toBe(true);
    expect(unsetPath(d, 'b.zz')).toBe(false);
    expect(d).toEqual({ a: [null, 2], b: {} });
  });
});
