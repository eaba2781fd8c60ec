// Conformance of compileFilter with MongoDB's documented query semantics:
// every operator, null vs missing, arrays (implicit traversal, arrays of
// arrays, numeric positions), type bracketing, and the errors MongoDB gives.
// Cases marked "jstests" come from MongoDB's own test suite
// (jstests/core/null_query_semantics.js, null2.js, all5.js and others).

import { Binary, BSONRegExp, Decimal128, ObjectId } from 'bson';
import { describe, expect, it } from 'vitest';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';
import { parseEjson } from '../../shared/docs/ejson.js';
import { compileFilter } from '../../shared/docs/filter.js';
import { MantisError } from '../../shared/errors.js';

const dec = (s: string): Decimal128 => Decimal128.fromString(s);

/** The ids of `docs` that `filter` matches. */
function ids(filter: Doc, docs: readonly Doc[]): DocValue[] {
  const p = compileFilter(filter);
  return docs.filter((d) => p(d)).map((d) => d._id);
}

function matches(filter: Doc, doc: Doc): boolean {
  return compileFilter(filter)(doc);
}

function refusal(filter: Doc): string {
  try {
    compileFilter(filter);
  } catch (e) {
    if (e instanceof MantisError && e.code === 'BAD_QUERY') return e.message;
    throw e;
  }
  throw new Error(`accepted: ${JSON.stringify(filter)}`);
}

// jstests/core/null_query_semantics.js, both halves.
const NULL_DOCS: Doc[] = [
  { _id: 'a_empty_subobject', a: {} },
  { _id: 'a_null', a: null },
  { _id: 'a_number', a: 4 },
  { _id: 'a_subobject_b_not_null', a: { b: 'hi' } },
  { _id: 'a_subobject_b_null', a: { b: null } },
  { _id: 'no_a' },
  { _id: 'a_double_array', a: [[]] },
  { _id: 'a_empty_array', a: [] },
  { _id: 'a_object_array_all_b_nulls', a: [{ b: null }, { b: null }, {}] },
  { _id: 'a_object_array_no_b_nulls', a: [{ b: 1 }, { b: 3 }, { b: 'string' }] },
  { _id: 'a_object_array_some_b_nulls', a: [{ b: null }, { b: 3 }, { b: null }] },
  { _id: 'a_object_array_some_b_missing', a: [{ b: 3 }, {}] },
  { _id: 'a_value_array_all_nulls', a: [null, null] },
  { _id: 'a_value_array_no_nulls', a: [1, 'string', 4] },
  { _id: 'a_value_array_with_null', a: [1, 'string', null, 4] },
];

describe('null and missing (jstests null_query_semantics)', () => {
  it('{a: null} / {a: {$eq: null}}', () => {
    const expected = ['a_null', 'no_a', 'a_value_array_all_nulls', 'a_value_array_with_null'];
    expect(ids({ a: null }, NULL_DOCS).sort()).toEqual(expected.sort());
    expect(ids({ a: { $eq: null } }, NULL_DOCS).sort()).toEqual(expected.sort());
    expect(ids({ a: { $in: [null, 75] } }, NULL_DOCS).sort()).toEqual(expected.sort());
    expect(ids({ $or: [{ a: null }, { a: 75 }] }, NULL_DOCS).sort()).toEqual(expected.sort());
  });

  it('{a: {$ne: null}} and {a: {$not: {$gte: null}}} are the complement', () => {
    const eq = new Set(ids({ a: null }, NULL_DOCS));
    const rest = NULL_DOCS.map((d) => d._id).filter((id) => !eq.has(id));
    expect(ids({ a: { $ne: null } }, NULL_DOCS)).toEqual(rest);
    expect(ids({ a: { $not: { $gte: null } } }, NULL_DOCS)).toEqual(rest);
    expect(ids({ a: { $nin: [null, 75] } }, NULL_DOCS)).toEqual(rest);
  });

  it('{"a.b": null} through objects and arrays', () => {
    expect(ids({ 'a.b': null }, NULL_DOCS).sort()).toEqual(
      [
        'a_empty_subobject',
        'a_null',
        'a_number',
        'a_subobject_b_null',
        'no_a',
        'a_object_array_all_b_nulls',
        'a_object_array_some_b_nulls',
        'a_object_array_some_b_missing',
      ].sort(),
    );
  });

  it('{"a.b": {$exists: false}}', () => {
    expect(ids({ 'a.b': { $exists: false } }, NULL_DOCS).sort()).toEqual(
      ['a_empty_subobject', 'a_null', 'a_number', 'no_a', 'a_double_array', 'a_empty_array', 'a_value_array_all_nulls', 'a_value_array_no_nulls', 'a_value_array_with_null'].sort(),
    );
    expect(ids({ a: { $exists: false } }, NULL_DOCS)).toEqual(['no_a']);
  });

  it('$elemMatch needs an array', () => {
    const noArrays = NULL_DOCS.slice(0, 6);
    for (const q of <Doc[]>[
      { a: { $elemMatch: { $eq: null } } },
      { a: { $elemMatch: { $ne: null } } },
      { 'a.b': { $elemMatch: { $eq: null } } },
      { a: { $elemMatch: { b: { $eq: null } } } },
    ]) {
      expect(ids(q, noArrays)).toEqual([]);
    }
  });

  it('jstests null2.js: scalars in arrays yield no missing', () => {
    const docs: Doc[] = [
      { _id: 1, a: [{ b: 5 }] },
      { _id: 2, a: [{}] },
      { _id: 3, a: [] },
      { _id: 4, a: [{}, { b: 5 }] },
      { _id: 5, a: [5, { b: 5 }] },
    ];
    expect(ids({ 'a.b': null }, docs)).toEqual([2, 4]);
    expect(ids({ 'a.b': { $in: [null] } }, docs)).toEqual([2, 4]);
  });

  it('jstests all5.js: $all with $elemMatch on null', () => {
    const q = { a: { $all: [{ $elemMatch: { b: null } }] } };
    expect(matches(q, {})).toBe(false);
    expect(matches(q, { a: 1 })).toBe(false);
    expect(matches(q, { a: [{}] })).toBe(true);
    expect(matches(q, { a: [{ c: 1 }] })).toBe(true);
    expect(matches(q, { a: [{ b: null }] })).toBe(true);
    expect(matches(q, { a: [{ b: 1 }] })).toBe(false);
  });
});

describe('equality and arrays', () => {
  it('matches an element or the whole array, not nested elements', () => {
    expect(matches({ a: 1 }, { a: [1, 2] })).toBe(true);
    expect(matches({ a: [1, 2] }, { a: [1, 2] })).toBe(true);
    expect(matches({ a: [1, 2] }, { a: [[1, 2], 3] })).toBe(true);
    expect(matches({ a: [2, 1] }, { a: [1, 2] })).toBe(false);
    expect(matches({ a: 1 }, { a: [[1]] })).toBe(false);
    expect(matches({ a: [] }, { a: [] })).toBe(true);
    expect(matches({ a: [] }, { a: [[]] })).toBe(true);
  });

  it('compares documents exactly (field order matters)', () => {
    expect(matches({ a: { x: 1, y: 2 } }, { a: { x: 1, y: 2 } })).toBe(true);
    expect(matches({ a: { x: 1, y: 2 } }, { a: { y: 2, x: 1 } })).toBe(false);
    expect(matches({ a: { x: 1 } }, { a: { x: 1, y: 2 } })).toBe(false);
    expect(matches({ a: { x: 1 } }, { a: [{ x: 1 }, 3] })).toBe(true);
    expect(matches({ 'a.x': 1 }, { a: [{ x: 2 }, { x: 1 }] })).toBe(true);
  });

  it('numbers are equal across kinds', () => {
    expect(matches({ a: 1 }, { a: 1n })).toBe(true);
    expect(matches({ a: 1n }, { a: 1.0 })).toBe(true);
    expect(matches({ a: dec('1.00') }, { a: 1 })).toBe(true);
    expect(matches({ a: 0.5 }, { a: dec('0.5') })).toBe(true);
    expect(matches({ a: NaN }, { a: NaN })).toBe(true);
    expect(matches({ a: NaN }, { a: dec('NaN') })).toBe(true);
    expect(matches({ a: 1 }, { a: '1' })).toBe(false);
    expect(matches({ a: { $in: [1n, 'x'] } }, { a: 1 })).toBe(true);
    expect(matches({ a: { $in: [2n ** 60n + 1n] } }, { a: 2 ** 60 })).toBe(false);
    expect(matches({ a: { $in: [2n ** 60n] } }, { a: 2 ** 60 })).toBe(true);
    expect(matches({ a: { $in: [2] } }, { a: dec('2.0') })).toBe(true);
  });

  it('numeric path parts index arrays and name object fields', () => {
    expect(matches({ 'a.1': 6 }, { a: [5, 6] })).toBe(true);
    expect(matches({ 'a.1': 5 }, { a: [5, 6] })).toBe(false);
    expect(matches({ 'a.0.b': 1 }, { a: [{ b: 1 }, { b: 2 }] })).toBe(true);
    expect(matches({ 'a.1.b': 1 }, { a: [{ b: 1 }, { b: 2 }] })).toBe(false);
    expect(matches({ 'a.0': 7 }, { a: [{ '0': 7 }] })).toBe(true);
    expect(matches({ 'a.1': 3 }, { a: { '1': 3 } })).toBe(true);
    expect(matches({ 'a.0.0': 1 }, { a: [[1, 2]] })).toBe(true);
    // The element at a position is one value: not expanded (MongoDB's path iterator).
    expect(matches({ 'a.0': 1 }, { a: [[1, 2]] })).toBe(false);
    expect(matches({ 'a.0': [1, 2] }, { a: [[1, 2]] })).toBe(true);
    expect(matches({ 'tags.0': 'x' }, { tags: ['x', 'y'] })).toBe(true);
  });

  it('does not traverse nested arrays for field names', () => {
    expect(matches({ 'a.b': 1 }, { a: [[{ b: 1 }]] })).toBe(false);
    expect(matches({ 'a.b': 1 }, { a: [{ b: [1, 2] }] })).toBe(true);
    expect(matches({ 'a.b.c': 1 }, { a: [{ b: [{ c: 1 }] }] })).toBe(true);
  });

  it('ignores inherited property names', () => {
    expect(matches({ constructor: { $exists: true } }, {})).toBe(false);
    expect(matches({ 'a.toString': null }, { a: {} })).toBe(true);
    expect(matches({ hasOwnProperty: 5 }, { hasOwnProperty: 5 })).toBe(true);
  });

  it('bson values', () => {
    const id = new ObjectId();
    expect(matches({ _id: ObjectId.createFromHexString(id.toHexString()) }, { _id: id })).toBe(true);
    expect(matches({ d: new Date(5) }, { d: new Date(5) })).toBe(true);
    expect(matches({ b: new Binary(Buffer.from('x')) }, { b: new Binary(Buffer.from('x')) })).toBe(true);
    expect(matches({ r: { $eq: new BSONRegExp('a', 'i') } }, { r: new BSONRegExp('a', 'i') })).toBe(true);
    expect(matches({ r: { $eq: new BSONRegExp('a', 'i') } }, { r: 'a' })).toBe(false);
  });
});

describe('comparison and type bracketing', () => {
  const docs: Doc[] = [
    { _id: 1, a: 1 },
    { _id: 2, a: 5n },
    { _id: 3, a: 'x' },
    { _id: 4, a: [3, 'z'] },
    { _id: 5, a: null },
    { _id: 6 },
    { _id: 7, a: new Date(10) },
    { _id: 8, a: NaN },
    { _id: 9, a: [[10]] },
    { _id: 10, a: true },
  ];

  it('range operators only match values of the operand class', () => {
    expect(ids({ a: { $gt: 2 } }, docs)).toEqual([2, 4]);
    expect(ids({ a: { $gte: 1, $lt: 5 } }, docs)).toEqual([1, 4]);
    expect(ids({ a: { $lt: 'y' } }, docs)).toEqual([3]);
    expect(ids({ a: { $gt: 'a' } }, docs)).toEqual([3, 4]);
    expect(ids({ a: { $gt: new Date(0) } }, docs)).toEqual([7]);
    expect(ids({ a: { $gte: false } }, docs)).toEqual([10]);
    expect(ids({ a: { $gt: [5] } }, docs)).toEqual([9]);
    expect(ids({ a: { $lt: [5] } }, docs)).toEqual([4]);
  });

  it('null operand: $gte/$lte are equality, $gt/$lt match nothing', () => {
    expect(ids({ a: { $gte: null } }, docs)).toEqual([5, 6]);
    expect(ids({ a: { $lte: null } }, docs)).toEqual([5, 6]);
    expect(ids({ a: { $gt: null } }, docs)).toEqual([]);
    expect(ids({ a: { $lt: null } }, docs)).toEqual([]);
  });

  it('NaN equals NaN and fails every other comparison', () => {
    expect(ids({ a: { $lt: 100 } }, docs)).toEqual([1, 2, 4]);
    expect(ids({ a: { $gte: NaN } }, docs)).toEqual([8]);
    expect(ids({ a: { $gt: NaN } }, docs)).toEqual([]);
    expect(ids({ a: { $lte: -Infinity } }, docs)).toEqual([]);
  });

  it('conditions on one path hold independently over array elements', () => {
    expect(matches({ a: { $gt: 1, $lt: 5 } }, { a: [0, 10] })).toBe(true);
    expect(matches({ a: { $elemMatch: { $gt: 1, $lt: 5 } } }, { a: [0, 10] })).toBe(false);
    expect(matches({ a: { $elemMatch: { $gt: 1, $lt: 5 } } }, { a: [0, 3] })).toBe(true);
  });

  it('compares Int64, Decimal128 and doubles exactly', () => {
    expect(matches({ a: { $gt: 9007199254740992 } }, { a: 9007199254740993n })).toBe(true);
    expect(matches({ a: { $lt: dec('0.3') } }, { a: 0.1 + 0.2 })).toBe(false);
    expect(matches({ a: { $gt: 1n } }, { a: 1.5 })).toBe(true);
    expect(matches({ a: { $gt: 1 } }, { a: dec('NaN') })).toBe(false);
  });
});

describe('$in, $nin, $ne', () => {
  it('$in with regexes and arrays', () => {
    expect(matches({ a: { $in: [new BSONRegExp('^x', 'i')] } }, { a: 'X1' })).toBe(true);
    expect(matches({ a: { $in: [[1, 2]] } }, { a: [1, 2] })).toBe(true);
    expect(matches({ a: { $in: [[1, 2]] } }, { a: [[1, 2]] })).toBe(true);
    expect(matches({ a: { $in: [] } }, { a: 1 })).toBe(false);
    expect(matches({ a: { $nin: [] } }, { a: 1 })).toBe(true);
    expect(matches({ a: { $in: [{ b: 1 }] } }, { a: { b: 1 } })).toBe(true);
    expect(matches({ a: { $in: [true] } }, { a: [false, true] })).toBe(true);
  });

  it('$ne and $nin reject a document when any candidate is equal', () => {
    expect(matches({ a: { $ne: 2 } }, { a: [1, 2] })).toBe(false);
    expect(matches({ a: { $ne: 3 } }, { a: [1, 2] })).toBe(true);
    expect(matches({ a: { $ne: 3 } }, {})).toBe(true);
    expect(matches({ a: { $nin: [2, 3] } }, { a: [1, 2] })).toBe(false);
    expect(matches({ 'a.b': { $ne: 1 } }, { a: [{ b: 1 }, { b: 2 }] })).toBe(false);
  });
});

describe('$exists, $type, $size, $mod, $regex', () => {
  it('$exists', () => {
    expect(matches({ a: { $exists: true } }, { a: null })).toBe(true);
    expect(matches({ a: { $exists: 1 } }, {})).toBe(false);
    expect(matches({ a: { $exists: 0 } }, {})).toBe(true);
    expect(matches({ 'a.b': { $exists: true } }, { a: [{ c: 1 }, { b: 1 }] })).toBe(true);
    expect(matches({ 'a.1': { $exists: true } }, { a: [1] })).toBe(false);
    expect(matches({ 'a.0': { $exists: true } }, { a: [1] })).toBe(true);
  });

  it('$type with aliases, numbers and lists', () => {
    expect(matches({ a: { $type: 'int' } }, { a: 1 })).toBe(true);
    expect(matches({ a: { $type: 'double' } }, { a: 1.5 })).toBe(true);
    expect(matches({ a: { $type: 'long' } }, { a: 1n })).toBe(true);
    expect(matches({ a: { $type: 'number' } }, { a: dec('1') })).toBe(true);
    expect(matches({ a: { $type: 2 } }, { a: 'x' })).toBe(true);
    expect(matches({ a: { $type: ['string', 'bool'] } }, { a: false })).toBe(true);
    expect(matches({ a: { $type: 'array' } }, { a: [1] })).toBe(true);
    expect(matches({ a: { $type: 'array' } }, { a: [] })).toBe(true);
    expect(matches({ a: { $type: 'string' } }, { a: [1, 'x'] })).toBe(true);
    expect(matches({ a: { $type: 'null' } }, {})).toBe(false);
    expect(matches({ a: { $type: 'null' } }, { a: null })).toBe(true);
    expect(matches({ a: { $type: 'objectId' } }, { a: new ObjectId() })).toBe(true);
    expect(matches({ a: { $type: 'timestamp' } }, { a: 1 })).toBe(false);
  });

  it('$size does not traverse a leaf array', () => {
    expect(matches({ a: { $size: 2 } }, { a: [1, 2] })).toBe(true);
    expect(matches({ a: { $size: 1 } }, { a: [[1, 2]] })).toBe(true);
    expect(matches({ a: { $size: 2 } }, { a: [[1, 2]] })).toBe(false);
    expect(matches({ a: { $size: 0 } }, { a: [] })).toBe(true);
    expect(matches({ a: { $size: 0 } }, {})).toBe(false);
    expect(matches({ 'a.b': { $size: 2 } }, { a: [{ b: [1, 2] }] })).toBe(true);
  });

  it('$mod truncates toward zero', () => {
    expect(matches({ a: { $mod: [4, 0] } }, { a: 8 })).toBe(true);
    expect(matches({ a: { $mod: [4, 1] } }, { a: 9.9 })).toBe(true);
    expect(matches({ a: { $mod: [4, -1] } }, { a: -5 })).toBe(true);
    expect(matches({ a: { $mod: [4.5, 1] } }, { a: 5 })).toBe(true);
    expect(matches({ a: { $mod: [3, 1] } }, { a: 10n })).toBe(true);
    expect(matches({ a: { $mod: [3, 1] } }, { a: '10' })).toBe(false);
    expect(matches({ a: { $mod: [3, 1] } }, { a: NaN })).toBe(false);
  });

  it('$regex in its forms', () => {
    expect(matches({ a: new BSONRegExp('^ab', '') }, { a: 'abc' })).toBe(true);
    expect(matches({ a: { $regex: '^AB', $options: 'i' } }, { a: 'abc' })).toBe(true);
    expect(matches({ a: { $regex: new BSONRegExp('^AB', 'i') } }, { a: 'abc' })).toBe(true);
    expect(matches({ a: { $regex: 'b$', $options: 'm' } }, { a: 'ab\ncd' })).toBe(true);
    expect(matches({ a: { $regex: 'a b # comment', $options: 'x' } }, { a: 'ab' })).toBe(true);
    expect(matches({ a: { $regex: 'a.c', $options: 's' } }, { a: 'a\nc' })).toBe(true);
    expect(matches({ a: { $regex: 'x' } }, { a: ['y', 'xx'] })).toBe(true);
    expect(matches({ a: { $regex: 'x' } }, { a: 5 })).toBe(false);
    expect(matches({ a: new BSONRegExp('x', '') }, { a: new BSONRegExp('x', '') })).toBe(true);
    expect(matches({ a: { $regex: 'x', $options: 'mi' } }, { a: new BSONRegExp('x', 'im') })).toBe(true);
    expect(matches({ a: { $regex: 'x', $options: 'i' } }, { a: new BSONRegExp('x', 'm') })).toBe(false);
    expect(matches({ a: { $not: new BSONRegExp('^a', '') } }, { a: 'b' })).toBe(true);
    expect(matches({ a: { $not: new BSONRegExp('^a', '') } }, {})).toBe(true);
    // EJSON's legacy {$regex, $options} arrives as a BSONRegExp: same meaning.
    expect(compileFilter(parseEjson('{"a":{"$regex":"^A","$options":"i"}}') as Doc)({ a: 'abc' })).toBe(true);
  });
});

describe('$all, $elemMatch, $not', () => {
  it('$all', () => {
    expect(matches({ a: { $all: [1, 2] } }, { a: [2, 3, 1] })).toBe(true);
    expect(matches({ a: { $all: [1, 4] } }, { a: [2, 3, 1] })).toBe(false);
    expect(matches({ a: { $all: [1] } }, { a: 1 })).toBe(true);
    expect(matches({ a: { $all: [] } }, { a: [] })).toBe(false);
    expect(matches({ a: { $all: [[1, 2]] } }, { a: [1, 2] })).toBe(true);
    expect(matches({ a: { $all: [[1, 2]] } }, { a: [[1, 2], 3] })).toBe(true);
    expect(matches({ a: { $all: [new BSONRegExp('^x', '')] } }, { a: ['y', 'xa'] })).toBe(true);
    expect(
      matches({ a: { $all: [{ $elemMatch: { b: 1 } }, { $elemMatch: { c: 2 } }] } }, { a: [{ b: 1 }, { c: 2 }] }),
    ).toBe(true);
  });

  it('$elemMatch object form', () => {
    const q = { a: { $elemMatch: { b: 1, c: { $gt: 1 } } } };
    expect(matches(q, { a: [{ b: 1, c: 2 }] })).toBe(true);
    expect(matches(q, { a: [{ b: 1, c: 0 }, { b: 2, c: 2 }] })).toBe(false);
    expect(matches({ a: { $elemMatch: { $or: [{ b: 1 }, { c: 1 }] } } }, { a: [{ c: 1 }] })).toBe(true);
    expect(matches({ a: { $elemMatch: { '0': 5 } } }, { a: [[5]] })).toBe(true);
    expect(matches({ a: { $elemMatch: {} } }, { a: [1, {}] })).toBe(true);
    expect(matches({ a: { $elemMatch: {} } }, { a: [1] })).toBe(false);
    expect(matches({ 'a.b': { $elemMatch: { c: 1 } } }, { a: [{ b: [{ c: 1 }] }] })).toBe(true);
  });

  it('$elemMatch value form applies to elements without traversal', () => {
    expect(matches({ a: { $elemMatch: { $gte: 80, $lt: 85 } } }, { a: [82, 90] })).toBe(true);
    expect(matches({ a: { $elemMatch: { $eq: 1 } } }, { a: [[1, 2]] })).toBe(false);
    expect(matches({ a: { $elemMatch: { $ne: 1 } } }, { a: [1, 1] })).toBe(false);
    expect(matches({ a: { $elemMatch: { $ne: 1 } } }, { a: [1, [1]] })).toBe(true);
    expect(matches({ a: { $elemMatch: { $elemMatch: { $gt: 2 } } } }, { a: [[1], [3]] })).toBe(true);
    expect(matches({ a: { $elemMatch: { $size: 2 } } }, { a: [[1, 2]] })).toBe(true);
    expect(matches({ a: { $elemMatch: { $not: { $gt: 5 } } } }, { a: [9, 'x'] })).toBe(true);
  });

  it('$not negates the whole condition', () => {
    expect(matches({ a: { $not: { $gt: 5 } } }, { a: 3 })).toBe(true);
    expect(matches({ a: { $not: { $gt: 5 } } }, { a: [3, 7] })).toBe(false);
    expect(matches({ a: { $not: { $gt: 5 } } }, { a: 'x' })).toBe(true);
    expect(matches({ a: { $not: { $gt: 5 } } }, {})).toBe(true);
    expect(matches({ a: { $not: { $gt: 1, $lt: 5 } } }, { a: 3 })).toBe(false);
    expect(matches({ a: { $not: { $gt: 1, $lt: 5 } } }, { a: 7 })).toBe(true);
  });
});

describe('logical operators', () => {
  it('$and $or $nor', () => {
    expect(matches({ $and: [{ a: 1 }, { b: 2 }] }, { a: 1, b: 2 })).toBe(true);
    expect(matches({ $or: [{ a: 1 }, { b: 2 }] }, { b: 2 })).toBe(true);
    expect(matches({ $nor: [{ a: 1 }, { b: 2 }] }, { b: 3 })).toBe(true);
    expect(matches({ $nor: [{ a: 1 }, { b: 2 }] }, { a: [1] })).toBe(false);
    expect(matches({ a: 1, $or: [{ b: 1 }, { c: 1 }] }, { a: 1, c: 1 })).toBe(true);
    expect(matches({}, { anything: 1 })).toBe(true);
    expect(matches({ $comment: 'why', a: 1 }, { a: 1 })).toBe(true);
    expect(matches({ $alwaysFalse: 1 }, {})).toBe(false);
  });
});

describe('$expr', () => {
  it('evaluates an aggregation expression on the document', () => {
    expect(matches({ $expr: { $gt: ['$a', '$b'] } }, { a: 2, b: 1 })).toBe(true);
    expect(matches({ $expr: { $gt: ['$a', '$b'] } }, { a: 1, b: 2 })).toBe(false);
    expect(matches({ $expr: '$flag' }, { flag: 0 })).toBe(false);
    expect(matches({ $expr: '$flag' }, { flag: [] })).toBe(true);
    expect(matches({ $expr: { $eq: [{ $size: '$xs' }, 2] }, k: 1 }, { xs: [1, 2], k: 1 })).toBe(true);
    const p = compileFilter({ $expr: { $eq: ['$a', '$$want'] } }, { vars: { want: 5 } });
    expect(p({ a: 5 })).toBe(true);
    expect(p({ a: 6 })).toBe(false);
  });
});

describe('refusals (BAD_QUERY naming the operator)', () => {
  it('unknown and malformed operators', () => {
    expect(refusal({ a: { $foo: 1 } })).toMatch(/unknown operator \$foo/);
    expect(refusal({ $foo: [] })).toMatch(/unknown top level operator: \$foo/);
    expect(refusal({ a: { $gt: 1, b: 1 } })).toMatch(/unknown operator b/);
    expect(refusal({ $and: [] })).toMatch(/\$and must be a nonempty array/);
    expect(refusal({ $or: [1] as unknown as Doc[] })).toMatch(/\$or/);
    expect(refusal({ a: { $in: 1 } })).toMatch(/\$in needs an array/);
    expect(refusal({ a: { $in: [{ $gt: 1 }] } })).toMatch(/cannot nest \$ under \$in/);
    expect(refusal({ a: { $all: 1 } })).toMatch(/\$all needs an array/);
    expect(refusal({ a: { $all: [{ $gt: 1 }] } })).toMatch(/no \$ expressions in \$all/);
    expect(refusal({ a: { $size: -1 } })).toMatch(/\$size may not be negative/);
    expect(refusal({ a: { $size: 1.5 } })).toMatch(/\$size must be a whole number/);
    expect(refusal({ a: { $size: 'x' } })).toMatch(/\$size needs a number/);
    expect(refusal({ a: { $mod: [0, 1] } })).toMatch(/divisor cannot be 0/);
    expect(refusal({ a: { $mod: [1] } })).toMatch(/malformed mod/);
    expect(refusal({ a: { $type: 'nope' } })).toMatch(/unknown type name alias/);
    expect(refusal({ a: { $type: 99 } })).toMatch(/invalid numerical type code/);
    expect(refusal({ a: { $not: {} } })).toMatch(/\$not cannot be empty/);
    expect(refusal({ a: { $not: 5 } })).toMatch(/\$not needs a regex or a document/);
    expect(refusal({ a: { $not: { b: 1 } } })).toMatch(/unknown operator b/);
    expect(refusal({ a: { $elemMatch: 5 } })).toMatch(/\$elemMatch needs an Object/);
    expect(refusal({ a: { $elemMatch: { $expr: { $eq: [1, 1] } } } })).toMatch(/\$expr/);
    expect(refusal({ a: { $options: 'i' } })).toMatch(/\$options needs a \$regex/);
    expect(refusal({ $where: 'true' })).toMatch(/\$where is not supported/);
    expect(refusal({ 'a..b': 1 })).toMatch(/invalid field path/);
    expect(refusal({ $expr: { $nope: 1 } })).toMatch(/\$nope/);
  });

  it('bad regexes', () => {
    expect(refusal({ a: { $regex: '(' } })).toMatch(/\$regex/);
    expect(refusal({ a: { $regex: 'a', $options: 'q' } })).toMatch(/invalid flag/);
    expect(refusal({ a: { $regex: new BSONRegExp('a', 'i'), $options: 'm' } })).toMatch(/options set in both/);
    expect(refusal({ a: { $regex: 5 } })).toMatch(/\$regex has to be a string/);
    expect(refusal({ a: { $in: [new BSONRegExp('[', '')] } })).toMatch(/invalid regular expression/);
  });

  it('nesting deeper than 100', () => {
    let f: Doc = { a: 1 };
    for (let i = 0; i < 120; i++) f = { $and: [f] };
    expect(refusal(f)).toMatch(/depth/);
  });
});
