// Conformance of compileUpdate & co. with MongoDB: each operator's documented
// examples (the MongoDB manual's update operator pages), the documented edge
// cases (missing fields, arrays, type promotion, no-ops) and MongoDB's errors.
// Every input document is deep-frozen, so an update that mutated its input
// would throw here.

import { Decimal128, ObjectId } from 'bson';
import { describe, expect, test } from 'vitest';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';
import {
  compileUpdate,
  isReplacementUpdate,
  matchedArrayPosition,
  replacementDoc,
  upsertSeed,
  type UpdateResult,
} from '../../shared/docs/update.js';
import { MantisError } from '../../shared/errors.js';

const NOW = new Date('2024-05-06T07:08:09.010Z');

interface Opts {
  arrayFilters?: Doc[];
  isInsert?: boolean;
  matchedArrayIndex?: number;
  now?: Date;
}

function deepFreeze<T>(v: T): T {
  if (Array.isArray(v) || (typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype)) {
    for (const x of Object.values(v as object)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

function run(doc: Doc, update: Doc | Doc[], opts: Opts = {}): UpdateResult {
  const compiled = compileUpdate(update, opts.arrayFilters === undefined ? {} : { arrayFilters: opts.arrayFilters });
  return compiled.apply(deepFreeze(doc), {
    isInsert: opts.isInsert ?? false,
    now: opts.now ?? NOW,
    matchedArrayIndex: opts.matchedArrayIndex,
  });
}

function after(doc: Doc, update: Doc | Doc[], opts: Opts = {}): Doc {
  return run(doc, update, opts).doc;
}

/** The BAD_QUERY message an update is refused with (at compile or apply time). */
function refusal(doc: Doc, update: Doc | Doc[], opts: Opts = {}): string {
  try {
    run(doc, update, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(MantisError);
    expect((e as MantisError).code).toBe('BAD_QUERY');
    return (e as Error).message;
  }
  throw new Error('expected the update to be refused');
}

function keys(v: DocValue | undefined): string[] {
  return Object.keys(v as Doc);
}

describe('$set', () => {
  const product = (): Doc => ({
    _id: 100,
    quantity: 250,
    instock: true,
    reorder: false,
    details: { model: '14QQ', make: 'Clothes Corp' },
    tags: ['apparel', 'clothing'],
    ratings: [{ by: 'Customer007', rating: 4 }],
  });

  test('top-level fields (manual example)', () => {
    const r = run(product(), { $set: { quantity: 500, details: { model: '2600', make: 'Fashionaires' }, tags: ['coats', 'outerwear', 'clothing'] } });
    expect(r.doc).toEqual({
      ...product(),
      quantity: 500,
      details: { model: '2600', make: 'Fashionaires' },
      tags: ['coats', 'outerwear', 'clothing'],
    });
    expect(r.modified).toBe(true);
    expect(r.changed.sort()).toEqual(['details', 'quantity', 'tags']);
  });

  test('embedded document and array element (manual examples)', () => {
    expect(after(product(), { $set: { 'details.make': 'Kustom Kidz' } }).details).toEqual({ model: '14QQ', make: 'Kustom Kidz' });
    const d = after(product(), { $set: { 'tags.1': 'rain gear', 'ratings.0.rating': 2 } });
    expect(d.tags).toEqual(['apparel', 'rain gear']);
    expect(d.ratings).toEqual([{ by: 'Customer007', rating: 2 }]);
  });

  test('creates missing embedded documents along a dotted path', () => {
    expect(after({ _id: 1 }, { $set: { 'a.b.c': 1 } })).toEqual({ _id: 1, a: { b: { c: 1 } } });
    // A numeric part under a missing field makes a document field, not an array.
    expect(after({ _id: 1 }, { $set: { 'a.0': 'x' } })).toEqual({ _id: 1, a: { '0': 'x' } });
  });

  test('a position past the end pads the array with nulls', () => {
    expect(after({ a: [1] }, { $set: { 'a.3': 4 } })).toEqual({ a: [1, null, null, 4] });
    expect(after({ a: [] }, { $set: { 'a.1.b': 1 } })).toEqual({ a: [null, { b: 1 }] });
  });

  test('cannot create a field inside a scalar or name a field of an array', () => {
    expect(refusal({ _id: 1, a: 5 }, { $set: { 'a.b.c': 1 } })).toBe("Cannot create field 'b' in element {a: 5}");
    expect(refusal({ a: [1] }, { $set: { 'a.x': 1 } })).toBe("Cannot create field 'x' in element {a: [ 1 ]}");
  });

  test('setting an identical value is a no-op; a different type is not', () => {
    const same = run({ a: 1, b: { c: [1, 'x'] } }, { $set: { a: 1, b: { c: [1, 'x'] } } });
    expect(same.modified).toBe(false);
    expect(same.changed).toEqual([]);
    expect(run({ a: 1 }, { $set: { a: 1n } }).doc).toEqual({ a: 1n });
    expect(run({ a: { x: 1, y: 2 } }, { $set: { a: { y: 2, x: 1 } } }).modified).toBe(true);
  });

  test('new fields are appended in lexicographic order (MongoDB 5.0+)', () => {
    expect(keys(after({ c: 0 }, { $set: { b: 1, a: 1 } }))).toEqual(['c', 'a', 'b']);
    expect(keys(after({ c: 0 }, { $inc: { z: 1 }, $set: { y: 1 } }))).toEqual(['c', 'y', 'z']);
  });

  test('an empty operator document is a no-op (MongoDB 5.0+)', () => {
    const r = run({ a: 1 }, { $set: {} });
    expect(r).toEqual({ doc: { a: 1 }, modified: false, changed: [], removed: [] });
  });

  test('stored values are copies: two documents never share what the update wrote', () => {
    const u = compileUpdate({ $set: { v: { list: [1] } } });
    const a = u.apply({}, { isInsert: false, now: NOW }).doc;
    const b = u.apply({}, { isInsert: false, now: NOW }).doc;
    expect(a.v).toEqual(b.v);
    expect(a.v).not.toBe(b.v);
  });

  test('fields named like Object.prototype members are plain data', () => {
    expect(after({}, { $set: { constructor: 1, 'x.toString': 2 } })).toEqual({ constructor: 1, x: { toString: 2 } });
    const d = after({}, JSON.parse('{"$set": {"__proto__": {"polluted": 1}}}') as Doc);
    expect(Object.hasOwn(d, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('$unset', () => {
  test('removes fields; missing fields are a no-op (manual example)', () => {
    const r = run({ item: 'chisel', sku: 'C001', quantity: 4, instock: true }, { $unset: { quantity: '', instock: '' } });
    expect(r.doc).toEqual({ item: 'chisel', sku: 'C001' });
    expect(r.removed.sort()).toEqual(['instock', 'quantity']);
    expect(run({ a: 1 }, { $unset: { b: '', 'a.c': '', 'x.y.z': '' } }).modified).toBe(false);
  });

  test('an array element becomes null, keeping positions', () => {
    const r = run({ a: [1, 2, 3] }, { $unset: { 'a.1': 1 } });
    expect(r.doc).toEqual({ a: [1, null, 3] });
    expect(r.changed).toEqual(['a.1']);
    expect(after({ a: [{ b: 1, c: 2 }] }, { $unset: { 'a.0.b': 1 } })).toEqual({ a: [{ c: 2 }] });
    expect(run({ a: [1] }, { $unset: { 'a.5': 1, 'a.x': 1 } }).modified).toBe(false);
  });
});

describe('$inc', () => {
  test('manual example', () => {
    const d = after(
      { _id: 1, sku: 'abc123', quantity: 10, metrics: { orders: 2, ratings: 3.5 } },
      { $inc: { quantity: -2, 'metrics.orders': 1 } },
    );
    expect(d).toEqual({ _id: 1, sku: 'abc123', quantity: 8, metrics: { orders: 3, ratings: 3.5 } });
  });

  test('a missing field is created with the increment', () => {
    expect(after({}, { $inc: { 'a.b': 5n } })).toEqual({ a: { b: 5n } });
  });

  test('type promotion: int overflow becomes long; long, double and decimal widen', () => {
    expect(after({ a: 2147483647 }, { $inc: { a: 1 } }).a).toBe(2147483648n);
    expect(after({ a: -2147483648 }, { $inc: { a: -1 } }).a).toBe(-2147483649n);
    expect(after({ a: 1 }, { $inc: { a: 1n } }).a).toBe(2n);
    expect(after({ a: 5n }, { $inc: { a: 0.5 } }).a).toBe(5.5);
    expect(after({ a: 1.5 }, { $inc: { a: 1 } }).a).toBe(2.5);
    const dec = after({ a: Decimal128.fromString('1.1') }, { $inc: { a: 2 } }).a;
    expect(dec).toBeInstanceOf(Decimal128);
    expect((dec as Decimal128).toString()).toBe('3.1');
  });

  test('a 64-bit overflow is an error', () => {
    expect(refusal({ _id: 1, a: 2n ** 63n - 1n }, { $inc: { a: 1 } })).toMatch(/^Failed to apply \$inc operations to current value/);
  });

  test('incrementing by zero is a no-op', () => {
    expect(run({ a: 3 }, { $inc: { a: 0 } }).modified).toBe(false);
  });

  test('errors: non-numeric argument, non-numeric field, null field', () => {
    expect(refusal({}, { $inc: { a: 'x' } })).toBe('Cannot increment with non-numeric argument: {a: "x"}');
    expect(refusal({ _id: 1, a: 'x' }, { $inc: { a: 1 } })).toBe(
      "Cannot apply $inc to a value of non-numeric type. {_id: 1} has the field 'a' of non-numeric type string",
    );
    expect(refusal({ _id: 1, a: null }, { $inc: { a: 1 } })).toMatch(/non-numeric type null$/);
  });
});

describe('$mul', () => {
  test('manual examples', () => {
    expect(after({ _id: 1, item: 'Hats', price: 10.99, quantity: 25 }, { $mul: { price: 1.25, quantity: 2 } })).toEqual({
      _id: 1,
      item: 'Hats',
      price: 13.7375,
      quantity: 50,
    });
    // A missing field is created as zero of the multiplier's type.
    expect(after({ _id: 2, item: 'Unknown' }, { $mul: { price: 100n } })).toEqual({ _id: 2, item: 'Unknown', price: 0n });
    // Mixed types: long times int is long.
    expect(after({ _id: 3, item: 'Scarf', price: 10n }, { $mul: { price: 5 } }).price).toBe(50n);
  });

  test('int times int past int32 is long; errors name $mul', () => {
    expect(after({ a: 65536 }, { $mul: { a: 65536 } }).a).toBe(4294967296n);
    expect(refusal({}, { $mul: { a: true } })).toBe('Cannot multiply with non-numeric argument: {a: true}');
    expect(refusal({ _id: 'k', a: [] }, { $mul: { a: 2 } })).toMatch(/^Cannot apply \$mul to a value of non-numeric type/);
  });
});

describe('$min and $max', () => {
  test('manual examples', () => {
    const scores = (): Doc => ({ _id: 1, highScore: 800, lowScore: 200 });
    expect(after(scores(), { $min: { lowScore: 150 } }).lowScore).toBe(150);
    expect(run(scores(), { $min: { lowScore: 250 } }).modified).toBe(false);
    expect(after(scores(), { $max: { highScore: 950 } }).highScore).toBe(950);
    expect(run({ ...scores(), highScore: 950 }, { $max: { highScore: 870 } }).modified).toBe(false);
    const early = new Date('2013-09-25T00:00:00Z');
    const d = after(
      { dateEntered: new Date('2013-10-01T05:00:00Z'), dateExpired: new Date('2013-10-01T16:38:16Z') },
      { $min: { dateEntered: early }, $max: { dateExpired: new Date('2013-10-01T16:38:16.163Z') } },
    );
    expect(d.dateEntered).toEqual(early);
    expect((d.dateExpired as Date).getTime()).toBe(Date.parse('2013-10-01T16:38:16.163Z'));
  });

  test('BSON order across types; missing is set; equal values of another type are a no-op', () => {
    expect(after({ a: 5 }, { $max: { a: 'x' } }).a).toBe('x');
    expect(after({ a: 5 }, { $min: { a: null } }).a).toBe(null);
    expect(after({}, { $min: { a: 3 } }).a).toBe(3);
    expect(run({ a: 1 }, { $max: { a: 1n } }).modified).toBe(false);
  });
});

describe('$rename', () => {
  const student = (): Doc => ({
    _id: 1,
    alias: ['The American Cincinnatus', 'The American Fabius'],
    mobile: '555-555-5555',
    nmae: { first: 'george', last: 'washington' },
  });

  test('renames a field, appending it (manual example)', () => {
    const r = run(student(), { $rename: { nmae: 'name' } });
    expect(r.doc).toEqual({
      _id: 1,
      alias: ['The American Cincinnatus', 'The American Fabius'],
      mobile: '555-555-5555',
      name: { first: 'george', last: 'washington' },
    });
    expect(keys(r.doc)).toEqual(['_id', 'alias', 'mobile', 'name']);
    expect(r.removed).toEqual(['nmae']);
    expect(r.changed).toEqual(['name']);
  });

  test('embedded fields, into another document, onto an existing field', () => {
    const d = after({ _id: 1, name: { first: 'george', last: 'w' }, contact: {} }, { $rename: { 'name.first': 'name.fname' } });
    expect(d.name).toEqual({ last: 'w', fname: 'george' });
    const moved = after({ _id: 1, a: { b: 1 }, c: 2 }, { $rename: { 'a.b': 'c' } });
    expect(moved).toEqual({ _id: 1, a: {}, c: 1 });
    expect(after({ a: 1, b: 2 }, { $rename: { a: 'x.y' } })).toEqual({ b: 2, x: { y: 1 } });
  });

  test('a missing source is a no-op', () => {
    expect(run(student(), { $rename: { wife: 'spouse' } }).modified).toBe(false);
  });

  test('errors (MongoDB rename_node messages)', () => {
    expect(refusal({ a: 1 }, { $rename: { a: 'a' } })).toBe('The source and target field for $rename must differ: a: "a"');
    expect(refusal({ a: 1 }, { $rename: { a: 'a.b' } })).toMatch(/^The source and target field for \$rename must not be on the same path/);
    expect(refusal({ a: 1 }, { $rename: { a: 5 } })).toBe("The 'to' field for $rename must be a string: a: 5");
    expect(refusal({ a: [1] }, { $rename: { 'a.$': 'b' } })).toBe('The source field for $rename may not be dynamic: a.$');
    expect(refusal({ a: 1 }, { $rename: { a: 'b.$[]' } })).toBe('The destination field for $rename may not be dynamic: b.$[]');
    expect(refusal({ _id: 1, a: [{ b: 1 }] }, { $rename: { 'a.0.b': 'c' } })).toBe(
      "The source field cannot be an array element, 'a.0.b' in doc with _id: 1 has an array field called 'a'",
    );
    expect(refusal({ _id: 1, a: 1, b: [{}] }, { $rename: { a: 'b.0.c' } })).toMatch(/^The destination field cannot be an array element/);
    expect(refusal({ a: 1, b: 2 }, { $rename: { a: 'c' }, $set: { a: 3 } })).toBe("Updating the path 'a' would create a conflict at 'a'");
  });
});

describe('$currentDate', () => {
  test('sets the date (both $type forms store a Date)', () => {
    const r = run({ _id: 1, status: 'a', lastModified: new Date(0) }, {
      $currentDate: { lastModified: true, 'cancellation.date': { $type: 'timestamp' } },
      $set: { 'cancellation.reason': 'user request', status: 'D' },
    });
    expect(r.doc).toEqual({
      _id: 1,
      status: 'D',
      lastModified: NOW,
      cancellation: { date: NOW, reason: 'user request' },
    });
  });

  test('argument errors', () => {
    expect(refusal({}, { $currentDate: { a: 1 } })).toMatch(/^int is not valid type for \$currentDate/);
    expect(refusal({}, { $currentDate: { a: { $type: 'x' } } })).toMatch(/^The '\$type' string field is required to be 'date' or 'timestamp'/);
    expect(refusal({}, { $currentDate: { a: { $typo: 'date' } } })).toBe('Unrecognized $currentDate option: $typo');
  });
});

describe('$setOnInsert', () => {
  test('applies only when inserting (manual example with upsert)', () => {
    const update: Doc = { $set: { item: 'apple' }, $setOnInsert: { defaultQty: 100 } };
    const seed = upsertSeed({ _id: 1 });
    expect(after(seed, update, { isInsert: true })).toEqual({ _id: 1, item: 'apple', defaultQty: 100 });
    expect(after({ _id: 1, item: 'pear' }, update)).toEqual({ _id: 1, item: 'apple' });
  });

  test('conflicts with another operator on the same path', () => {
    expect(refusal({}, { $set: { a: 1 }, $setOnInsert: { a: 2 } })).toBe("Updating the path 'a' would create a conflict at 'a'");
  });
});

describe('$bit', () => {
  test('and, or, xor (manual examples); long stays long', () => {
    expect(after({ expdata: 13 }, { $bit: { expdata: { and: 10 } } }).expdata).toBe(8);
    expect(after({ expdata: 3 }, { $bit: { expdata: { or: 5 } } }).expdata).toBe(7);
    expect(after({ expdata: 1 }, { $bit: { expdata: { xor: 5 } } }).expdata).toBe(4);
    expect(after({ expdata: 3n }, { $bit: { expdata: { or: 4 } } }).expdata).toBe(7n);
    expect(refusal({ a: 1.5 }, { $bit: { a: { and: 1 } } })).toMatch(/^Cannot apply \$bit to a value of non-integral type/);
  });
});

describe('$push', () => {
  test('appends a value, or an array as one element', () => {
    expect(after({ _id: 1, scores: [44, 78, 38, 80] }, { $push: { scores: 89 } }).scores).toEqual([44, 78, 38, 80, 89]);
    expect(after({ a: [1] }, { $push: { a: [2, 3] } }).a).toEqual([1, [2, 3]]);
    expect(after({ a: [] }, { $push: { a: { b: 1 } } }).a).toEqual([{ b: 1 }]);
    expect(after({}, { $push: { a: 1 } })).toEqual({ a: [1] });
  });

  test('$each (manual example)', () => {
    expect(after({ name: 'joe', scores: [1] }, { $push: { scores: { $each: [90, 92, 85] } } }).scores).toEqual([1, 90, 92, 85]);
    expect(run({ a: [1] }, { $push: { a: { $each: [] } } }).modified).toBe(false);
    expect(after({}, { $push: { a: { $each: [] } } })).toEqual({ a: [] });
  });

  test('$each with $sort and $slice (manual example)', () => {
    const d = after(
      {
        _id: 5,
        quizzes: [
          { wk: 1, score: 10 },
          { wk: 2, score: 8 },
          { wk: 3, score: 5 },
          { wk: 4, score: 6 },
        ],
      },
      {
        $push: {
          quizzes: {
            $each: [
              { wk: 5, score: 8 },
              { wk: 6, score: 7 },
              { wk: 7, score: 6 },
            ],
            $sort: { score: -1 },
            $slice: 3,
          },
        },
      },
    );
    expect(d.quizzes).toEqual([
      { wk: 1, score: 10 },
      { wk: 2, score: 8 },
      { wk: 5, score: 8 },
    ]);
  });

  test('$position (manual examples)', () => {
    expect(after({ scores: [100] }, { $push: { scores: { $each: [50, 60, 70], $position: 0 } } }).scores).toEqual([50, 60, 70, 100]);
    expect(after({ scores: [50, 60, 70, 100] }, { $push: { scores: { $each: [20, 30], $position: 2 } } }).scores).toEqual([
      50, 60, 20, 30, 70, 100,
    ]);
    expect(after({ scores: [50, 60, 20, 30, 70, 100] }, { $push: { scores: { $each: [90, 80], $position: -2 } } }).scores).toEqual([
      50, 60, 20, 30, 90, 80, 70, 100,
    ]);
    expect(after({ a: [1, 2] }, { $push: { a: { $each: [9], $position: -5 } } }).a).toEqual([9, 1, 2]);
    expect(after({ a: [1, 2] }, { $push: { a: { $each: [9], $position: 7 } } }).a).toEqual([1, 2, 9]);
  });

  test('$slice and $sort variants (manual examples)', () => {
    expect(after({ scores: [40, 50, 60] }, { $push: { scores: { $each: [80, 78, 86], $slice: -5 } } }).scores).toEqual([
      50, 60, 80, 78, 86,
    ]);
    expect(after({ scores: [89, 90] }, { $push: { scores: { $each: [100, 20], $slice: 3 } } }).scores).toEqual([89, 90, 100]);
    expect(after({ a: [1, 2] }, { $push: { a: { $each: [3], $slice: 0 } } }).a).toEqual([]);
    expect(after({ tests: [89, 70, 89, 50] }, { $push: { tests: { $each: [40, 60], $sort: 1 } } }).tests).toEqual([
      40, 50, 60, 70, 89, 89,
    ]);
    expect(after({ tests: [89, 70, 100, 20] }, { $push: { tests: { $each: [], $sort: -1 } } }).tests).toEqual([100, 89, 70, 20]);
    // Sorting by a field: non-documents and documents without it sort as null.
    expect(after({ a: [{ x: 2 }, 5, { x: 1 }, {}] }, { $push: { a: { $each: [], $sort: { x: 1 } } } }).a).toEqual([5, {}, { x: 1 }, { x: 2 }]);
  });

  test('errors', () => {
    expect(refusal({ _id: 1, a: 'x' }, { $push: { a: 1 } })).toBe("The field 'a' must be an array but is of type string in document {_id: 1}");
    expect(refusal({}, { $push: { a: { $each: [1], $foo: 1 } } })).toBe('Unrecognized clause in $push: $foo');
    expect(refusal({}, { $push: { a: { $each: 1 } } })).toBe('The argument to $each in $push must be an array but it was of type: int');
    expect(refusal({}, { $push: { a: { $each: [1], $slice: 'x' } } })).toMatch(/^The value for \$slice must be an integer value/);
    expect(refusal({}, { $push: { a: { $each: [1], $sort: 2 } } })).toBe('The $sort element value must be either 1 or -1');
    expect(refusal({}, { $push: { a: { $each: [1], $sort: 'x' } } })).toMatch(/^The \$sort is invalid/);
    expect(refusal({}, { $push: { a: { $each: [1], $sort: {} } } })).toBe('The $sort pattern is empty when it should be a set of fields.');
    expect(refusal({}, { $push: { a: { $each: [1], $position: 1.5 } } })).toMatch(/^The value for \$position must be an integer value/);
  });
});

describe('$addToSet', () => {
  test('adds a value unless present; an array is one element (manual examples)', () => {
    expect(after({ _id: 1, letters: ['a', 'b'] }, { $addToSet: { letters: ['c', 'd'] } }).letters).toEqual(['a', 'b', ['c', 'd']]);
    expect(after({ _id: 1, item: 'polarizing_filter', tags: ['electronics', 'camera'] }, { $addToSet: { tags: 'accessories' } }).tags).toEqual([
      'electronics',
      'camera',
      'accessories',
    ]);
    expect(run({ tags: ['electronics', 'camera'] }, { $addToSet: { tags: 'camera' } }).modified).toBe(false);
  });

  test('$each (manual example), duplicates within $each, numeric equality across types', () => {
    expect(
      after({ _id: 2, item: 'cable', tags: ['electronics', 'supplies'] }, { $addToSet: { tags: { $each: ['camera', 'electronics', 'accessories'] } } }).tags,
    ).toEqual(['electronics', 'supplies', 'camera', 'accessories']);
    expect(after({}, { $addToSet: { a: { $each: [1, 1, 2, 1n] } } }).a).toEqual([1, 2]);
    expect(run({ a: [1] }, { $addToSet: { a: 1.0 } }).modified).toBe(false);
    expect(run({ a: [1] }, { $addToSet: { a: 1n } }).modified).toBe(false);
    expect(after({ a: [{ x: 1, y: 2 }] }, { $addToSet: { a: { y: 2, x: 1 } } }).a).toHaveLength(2);
  });

  test('errors', () => {
    expect(refusal({ a: 1 }, { $addToSet: { a: 2 } })).toBe("Cannot apply $addToSet to non-array field. Field named 'a' has non-array type int");
    expect(refusal({}, { $addToSet: { a: { $each: 1 } } })).toBe('The argument to $each in $addToSet must be an array but it was of type int');
    expect(refusal({}, { $addToSet: { a: { $each: [1], x: 1 } } })).toMatch(/^Found unexpected fields after \$each in \$addToSet/);
  });
});

describe('$pull', () => {
  test('values and conditions (manual example)', () => {
    const d = after(
      {
        _id: 1,
        fruits: ['apples', 'pears', 'oranges', 'grapes', 'bananas'],
        vegetables: ['carrots', 'celery', 'squash', 'carrots'],
      },
      { $pull: { fruits: { $in: ['apples', 'oranges'] }, vegetables: 'carrots' } },
    );
    expect(d).toEqual({ _id: 1, fruits: ['pears', 'grapes', 'bananas'], vegetables: ['celery', 'squash'] });
    expect(after({ _id: 1, votes: [3, 5, 6, 7, 7, 8] }, { $pull: { votes: { $gte: 6 } } }).votes).toEqual([3, 5]);
  });

  test('documents: the condition is a query on each element (manual examples)', () => {
    expect(
      after(
        {
          _id: 1,
          results: [
            { item: 'A', score: 5 },
            { item: 'B', score: 8, comment: 'Strongly agree' },
          ],
        },
        { $pull: { results: { score: 8, item: 'B' } } },
      ).results,
    ).toEqual([{ item: 'A', score: 5 }]);
    const survey = {
      _id: 1,
      results: [
        { item: 'A', score: 5, answers: [{ q: 1, a: 4 }, { q: 2, a: 6 }] },
        { item: 'B', score: 8, answers: [{ q: 1, a: 8 }, { q: 2, a: 9 }] },
      ],
    };
    const d = after(survey, { $pull: { results: { answers: { $elemMatch: { q: 2, a: { $gte: 8 } } } } } });
    expect(d.results).toEqual([survey.results[0]]);
    // Non-document elements never match a document condition.
    expect(after({ a: [1, { b: 1 }, 'b'] }, { $pull: { a: { b: 1 } } }).a).toEqual([1, 'b']);
  });

  test('an array value removes equal arrays only; numbers match across types', () => {
    expect(after({ a: [[1, 2], [2, 1], 1] }, { $pull: { a: [1, 2] } }).a).toEqual([[2, 1], 1]);
    expect(after({ a: [1, 1n, 1.5, 2] }, { $pull: { a: 1 } }).a).toEqual([1.5, 2]);
  });

  test('missing is a no-op; a scalar in the way or a non-array is an error', () => {
    expect(run({ b: 1 }, { $pull: { a: 1 } }).modified).toBe(false);
    expect(refusal({ a: 1 }, { $pull: { a: 1 } })).toBe('Cannot apply $pull to a non-array value');
    expect(refusal({ a: 1 }, { $pull: { 'a.b': 1 } })).toBe('Cannot use the part (b) of (a.b) to traverse the element ({a: 1})');
  });
});

describe('$pullAll', () => {
  test('removes every listed value (manual example)', () => {
    expect(after({ _id: 1, scores: [0, 2, 5, 5, 1, 0] }, { $pullAll: { scores: [0, 5] } }).scores).toEqual([2, 1]);
    expect(run({ a: [1] }, { $pullAll: { a: [2] } }).modified).toBe(false);
    expect(refusal({}, { $pullAll: { a: 1 } })).toBe('$pullAll requires an array argument but was given a int');
  });
});

describe('$pop', () => {
  test('first and last (manual examples)', () => {
    expect(after({ _id: 1, scores: [8, 9, 10] }, { $pop: { scores: -1 } }).scores).toEqual([9, 10]);
    expect(after({ _id: 10, scores: [9, 10] }, { $pop: { scores: 1 } }).scores).toEqual([9]);
    expect(run({ a: [] }, { $pop: { a: 1 } }).modified).toBe(false);
    expect(run({}, { $pop: { a: 1 } }).modified).toBe(false);
  });

  test('errors', () => {
    expect(refusal({}, { $pop: { a: 2 } })).toBe('$pop expects 1 or -1, found: 2');
    expect(refusal({}, { $pop: { a: 'x' } })).toBe('Expected a number in: a: "x"');
    expect(refusal({ a: 'x' }, { $pop: { a: 1 } })).toBe("Path 'a' contains an element of non-array type 'string'");
  });
});

describe('positional $', () => {
  test('updates the matched element (manual examples)', () => {
    const doc = { _id: 1, grades: [85, 80, 80] };
    const filter = { _id: 1, grades: 80 };
    const at = matchedArrayPosition(filter, doc);
    expect(at).toBe(1);
    expect(after(doc, { $set: { 'grades.$': 82 } }, { matchedArrayIndex: at }).grades).toEqual([85, 82, 80]);

    const doc4 = {
      _id: 4,
      grades: [
        { grade: 80, mean: 75, std: 8 },
        { grade: 85, mean: 90, std: 5 },
        { grade: 85, mean: 85, std: 8 },
      ],
    };
    const at4 = matchedArrayPosition({ _id: 4, 'grades.grade': 85 }, doc4);
    expect(at4).toBe(1);
    const r = run(doc4, { $set: { 'grades.$.std': 6 } }, { matchedArrayIndex: at4 });
    expect((r.doc.grades as Doc[])[1]).toEqual({ grade: 85, mean: 90, std: 6 });
    expect(r.changed).toEqual(['grades.1.std']);
  });

  test('$elemMatch picks the element matching all conditions (manual example)', () => {
    const doc = {
      _id: 5,
      grades: [
        { grade: 80, mean: 75, std: 8 },
        { grade: 85, mean: 90, std: 5 },
        { grade: 90, mean: 85, std: 3 },
      ],
    };
    const at = matchedArrayPosition({ _id: 5, grades: { $elemMatch: { grade: { $lte: 90 }, mean: { $gt: 80 } } } }, doc);
    expect(at).toBe(1);
    expect(matchedArrayPosition({ 'grades.grade': { $gte: 90 } }, doc)).toBe(2);
    expect(matchedArrayPosition({ grades: { $size: 3 } }, doc)).toBeUndefined();
    expect(matchedArrayPosition({ _id: 5 }, doc)).toBeUndefined();
    expect(matchedArrayPosition({ $and: [{ _id: 5 }, { 'grades.std': 3 }] }, doc)).toBe(2);
  });

  test('errors: no match, too many, first position, merged with the same index', () => {
    expect(refusal({ a: [1] }, { $set: { 'a.$': 2 } })).toBe('The positional operator did not find the match needed from the query.');
    expect(refusal({ a: [1] }, { $set: { 'a.$': 2 } }, { isInsert: true })).toMatch(/^The positional operator did not find/);
    expect(refusal({}, { $set: { 'a.$.b.$': 2 } })).toBe("Too many positional (i.e. '$') elements found in path 'a.$.b.$'");
    expect(refusal({}, { $set: { '$.a': 2 } })).toBe("Cannot have positional (i.e. '$') element in the first position in path '$.a'");
    expect(refusal({ a: [1, 2] }, { $set: { 'a.$': 5, 'a.0': 6 } }, { matchedArrayIndex: 0 })).toBe("Update created a conflict at 'a.0'");
    expect(after({ a: [1, 2] }, { $set: { 'a.$': 5, 'a.0': 6 } }, { matchedArrayIndex: 1 }).a).toEqual([6, 5]);
    expect(compileUpdate({ $inc: { 'a.$.n': 1 } }).positional).toBe(true);
    expect(compileUpdate({ $inc: { 'a.n': 1 } }).positional).toBe(false);
  });
});

describe('$[] (all positional)', () => {
  test('updates every element (manual examples)', () => {
    expect(after({ _id: 1, grades: [85, 82, 80] }, { $inc: { 'grades.$[]': 10 } }).grades).toEqual([95, 92, 90]);
    const d = after(
      { _id: 1, grades: [{ grade: 80, mean: 75, std: 8 }, { grade: 85, mean: 90, std: 6 }] },
      { $inc: { 'grades.$[].std': -2 } },
    );
    expect(d.grades).toEqual([{ grade: 80, mean: 75, std: 6 }, { grade: 85, mean: 90, std: 4 }]);
    expect(after({ a: [{ b: [1, 2] }, { b: [3] }] }, { $inc: { 'a.$[].b.$[]': 1 } }).a).toEqual([{ b: [2, 3] }, { b: [4] }]);
    expect(run({ a: [] }, { $set: { 'a.$[]': 1 } }).modified).toBe(false);
  });

  test('the array must exist and be an array', () => {
    expect(refusal({}, { $set: { 'a.$[]': 1 } })).toBe("The path 'a' must exist in the document in order to apply array updates.");
    expect(refusal({}, { $set: { 'x.y.$[]': 1 } }, { isInsert: true })).toBe(
      "The path 'x.y' must exist in the document in order to apply array updates.",
    );
    expect(refusal({ a: 1 }, { $set: { 'a.$[]': 1 } })).toBe('Cannot apply array updates to non-array element a: 1');
    expect(refusal({}, { $set: { '$[].a': 1 } })).toMatch(/^Cannot have array filter identifier \(i.e. '\$\[<id>\]'\) element in the first position/);
  });
});

describe('$[<identifier>] with arrayFilters', () => {
  test('updates the elements the filter matches (manual examples)', () => {
    const r = run({ _id: 2, grades: [98, 100, 102] }, { $set: { 'grades.$[element]': 100 } }, { arrayFilters: [{ element: { $gte: 100 } }] });
    expect(r.doc.grades).toEqual([98, 100, 100]);
    expect(r.changed).toEqual(['grades.2']);
    expect(run({ _id: 1, grades: [95, 92, 90] }, { $set: { 'grades.$[element]': 100 } }, { arrayFilters: [{ element: { $gte: 100 } }] }).modified).toBe(
      false,
    );
    const degrees = {
      _id: 3,
      grades: [
        { grade: 95, mean: 85, std: 6 },
        { grade: 87, mean: 90, std: 3 },
        { grade: 85, mean: 85, std: 4 },
      ],
    };
    const d = after(degrees, { $set: { 'grades.$[elem].mean': 100 } }, { arrayFilters: [{ 'elem.grade': { $gte: 87 } }] });
    expect((d.grades as Doc[]).map((g) => g.mean)).toEqual([100, 100, 85]);
    const d2 = after(degrees, { $inc: { 'grades.$[elem].std': -1 } }, { arrayFilters: [{ 'elem.grade': { $gte: 85 }, 'elem.std': { $gte: 5 } }] });
    expect((d2.grades as Doc[]).map((g) => g.std)).toEqual([5, 3, 4]);
  });

  test('nested arrays with two identifiers (manual example)', () => {
    const doc = {
      _id: 1,
      grades: [
        { type: 'quiz', questions: [10, 8, 5] },
        { type: 'quiz', questions: [8, 9, 6] },
        { type: 'hw', questions: [5, 4, 3] },
        { type: 'exam', questions: [25, 10, 23, 0] },
      ],
    };
    const d = after(doc, { $inc: { 'grades.$[t].questions.$[score]': 2 } }, { arrayFilters: [{ 't.type': 'quiz' }, { score: { $gte: 8 } }] });
    expect((d.grades as Doc[]).map((g) => g.questions)).toEqual([[12, 10, 5], [10, 11, 6], [5, 4, 3], [25, 10, 23, 0]]);
  });

  test('$[] and $[x] on one element merge; two leaves there conflict', () => {
    const opts = { arrayFilters: [{ x: { $gt: 1 } }] };
    expect(after({ a: [{ n: 1 }, { n: 2 }] }, { $set: { 'a.$[].m': 0, 'a.$[x].k': 1 } }, { arrayFilters: [{ 'x.n': { $gt: 1 } }] }).a).toEqual([
      { n: 1, m: 0 },
      { n: 2, k: 1, m: 0 },
    ]);
    expect(refusal({ a: [1, 2] }, { $set: { 'a.$[]': 0, 'a.$[x]': 1 } }, opts)).toBe("Update created a conflict at 'a.1'");
  });

  test('arrayFilters errors', () => {
    expect(refusal({ a: [1] }, { $set: { 'a.$[x]': 1 } })).toBe("No array filter found for identifier 'x' in path 'a.$[x]'");
    expect(refusal({ a: [1] }, { $set: { a: 1 } }, { arrayFilters: [{ x: 1 }] })).toMatch(/^The array filter for identifier 'x' was not used in the update/);
    expect(refusal({}, { $set: { 'a.$[x]': 1 } }, { arrayFilters: [{ x: 1, y: 2 }] })).toBe(
      "Error parsing array filter :: caused by :: Expected a single top-level field name, found 'x' and 'y'",
    );
    expect(refusal({}, { $set: { 'a.$[X]': 1 } }, { arrayFilters: [{ X: 1 }] })).toMatch(/must be an alphanumeric string beginning with a lowercase letter, found 'X'$/);
    expect(refusal({}, { $set: { 'a.$[x]': 1 } }, { arrayFilters: [{ x: 1 }, { x: 2 }] })).toBe(
      'Found multiple array filters with the same top-level field name x',
    );
    expect(refusal({}, { $set: { 'a.$[x]': 1 } }, { arrayFilters: [{}] })).toBe(
      'Cannot use an expression without a top-level field name in arrayFilters',
    );
    expect(after({ a: [1, 2, 3] }, { $set: { 'a.$[x]': 0 } }, { arrayFilters: [{ $or: [{ x: 1 }, { x: 3 }] }] }).a).toEqual([0, 2, 0]);
  });
});

describe('parsing errors', () => {
  test('conflicting paths', () => {
    expect(refusal({}, { $set: { a: 1 }, $inc: { a: 1 } })).toBe("Updating the path 'a' would create a conflict at 'a'");
    expect(refusal({}, { $set: { a: 1, 'a.b': 2 } })).toBe("Updating the path 'a.b' would create a conflict at 'a'");
    expect(refusal({}, { $set: { 'a.b': 1 }, $unset: { a: 1 } })).toBe("Updating the path 'a' would create a conflict at 'a'");
    expect(after({}, { $set: { 'a.b': 1, 'a.c': 2, ab: 3 } })).toEqual({ a: { b: 1, c: 2 }, ab: 3 });
  });

  test('unknown operators, non-object operands, empty and replacement documents', () => {
    expect(refusal({}, { $foo: { a: 1 } })).toBe(
      'Unknown modifier: $foo. Expected a valid update modifier or pipeline-style update specified as an array',
    );
    expect(refusal({}, { $set: { a: 1 }, b: 2 })).toMatch(/^Unknown modifier: b\./);
    expect(refusal({}, { $set: 5 })).toMatch(/^Modifiers operate on fields but we found type number instead/);
    expect(refusal({}, {})).toBe('Update document requires atomic operators');
    expect(refusal({}, { a: 1 })).toMatch(/^Update document requires atomic operators/);
    expect(isReplacementUpdate({ a: 1 })).toBe(true);
    expect(isReplacementUpdate({ $set: { a: 1 } })).toBe(false);
  });

  test('bad paths', () => {
    expect(refusal({}, { $set: { 'a..b': 1 } })).toBe("The update path 'a..b' contains an empty field name, which is not allowed.");
    expect(refusal({}, { $set: { '': 1 } })).toBe('An empty update path is not valid.');
  });

  test('a top-level $ field is refused on updates, allowed on upsert inserts; nested ones pass', () => {
    expect(refusal({ a: 1 }, { $set: { $hotel: 320 } })).toMatch(/^The dollar \(\$\) prefixed field '\$hotel' in '\$hotel' is not allowed/);
    expect(after({ date: 'x' }, { $set: { phone: 25, $hotel: 320 } }, { isInsert: true })).toEqual({ date: 'x', $hotel: 320, phone: 25 });
    expect(after({ a: {} }, { $set: { 'a.$street': 'Elm' } })).toEqual({ a: { $street: 'Elm' } });
  });
});

describe('_id', () => {
  test('cannot change; an identical value is a no-op', () => {
    const msg = "Performing an update on the path '_id' would modify the immutable field '_id'";
    expect(refusal({ _id: 1 }, { $set: { _id: 2 } })).toBe(msg);
    expect(refusal({ _id: 1 }, { $set: { _id: 1n } })).toBe(msg);
    expect(refusal({ _id: 1 }, { $unset: { _id: '' } })).toBe(msg);
    expect(refusal({ _id: { a: 1 } }, { $set: { '_id.b': 1 } })).toBe(msg);
    expect(refusal({ _id: 1, a: 2 }, { $rename: { a: '_id' } })).toBe(msg);
    expect(run({ _id: 1 }, { $set: { _id: 1 } }).modified).toBe(false);
    const oid = new ObjectId();
    expect(run({ _id: oid }, { $set: { _id: new ObjectId(oid.toHexString()) } }).modified).toBe(false);
  });

  test('an upsert may set it when the seed has none; it goes first; arrays are refused', () => {
    expect(keys(after({ a: 1 }, { $set: { b: 2, _id: 7 } }, { isInsert: true }))).toEqual(['_id', 'a', 'b']);
    expect(refusal({}, { $set: { _id: [1] } }, { isInsert: true })).toBe("The '_id' value cannot be of type array");
  });
});

describe('copy on write', () => {
  test('unchanged parts are shared, changed paths are new, the input is untouched', () => {
    const input = { _id: 1, keep: { deep: [1, 2] }, edit: { x: 1, y: { z: 1 } } };
    const snapshot = JSON.stringify(input);
    const r = run(input, { $set: { 'edit.x': 2 } });
    expect(JSON.stringify(input)).toBe(snapshot);
    expect(r.doc.keep).toBe(input.keep);
    expect((r.doc.edit as Doc).y).toBe(input.edit.y);
    expect(r.doc.edit).not.toBe(input.edit);
    expect(run(input, { $set: { 'edit.x': 1 } }).doc).toBe(input);
  });
});

describe('upsertSeed', () => {
  test('equality fields of the filter', () => {
    expect(upsertSeed({ name: 'Andy', rating: { $gt: 1 } })).toEqual({ name: 'Andy' });
    expect(upsertSeed({ 'a.b': 2, _id: 1 })).toEqual({ _id: 1, a: { b: 2 } });
    expect(keys(upsertSeed({ x: 1, _id: 1 }))).toEqual(['_id', 'x']);
    expect(upsertSeed({ $and: [{ a: 1 }, { b: { $eq: { c: 1 } } }], $or: [{ d: 4 }] })).toEqual({ a: 1, b: { c: 1 }, d: 4 });
    expect(upsertSeed({ a: { $in: [5] }, b: { $in: [1, 2] }, c: null, d: { x: 1 } })).toEqual({ a: 5, c: null, d: { x: 1 } });
    expect(upsertSeed({ $or: [{ a: 1 }, { b: 2 }], $nor: [{ c: 1 }], e: { $exists: true } })).toEqual({});
  });

  test('conflicting equalities are refused', () => {
    expect(() => upsertSeed({ $and: [{ a: 1 }, { a: 2 }] })).toThrow("cannot infer query fields to set, path 'a' is matched twice");
    expect(() => upsertSeed({ a: { b: 1 }, 'a.b': 1 })).toThrow("cannot infer query fields to set, both paths 'a.b' and 'a' are matched");
  });
});

describe('replacementDoc', () => {
  test('keeps the old _id first; refuses $ fields and a changed _id', () => {
    expect(replacementDoc({ _id: 1, a: 1 }, { b: 2 })).toEqual({ _id: 1, b: 2 });
    expect(keys(replacementDoc({ _id: 1, a: 1 }, { b: 2, _id: 1 }))).toEqual(['_id', 'b']);
    expect(() => replacementDoc({ _id: 1 }, { _id: 2 })).toThrow(
      "After applying the update, the (immutable) field '_id' was found to have been altered to _id: 2",
    );
    expect(() => replacementDoc({ _id: 1 }, { $set: { a: 1 } })).toThrow(/^The dollar \(\$\) prefixed field '\$set'/);
    expect(replacementDoc({ x: 1 }, { y: 1 })).toEqual({ y: 1 });
  });
});

describe('pipeline updates', () => {
  test('$set with $$NOW, then $unset (manual example)', () => {
    const r = run(
      { _id: 1, member: 'abc123', status: 'A', points: 2, misc1: 'note to self: confirm status', misc2: 'Need to activate' },
      [{ $set: { status: 'Modified', comments: ['$misc1', '$misc2'], lastUpdate: '$$NOW' } }, { $unset: ['misc1', 'misc2'] }],
    );
    expect(r.doc).toEqual({
      _id: 1,
      member: 'abc123',
      status: 'Modified',
      points: 2,
      comments: ['note to self: confirm status', 'Need to activate'],
      lastUpdate: NOW,
    });
    expect(r.changed.sort()).toEqual(['comments', 'lastUpdate', 'status']);
    expect(r.removed.sort()).toEqual(['misc1', 'misc2']);
    const later = new Date(NOW.getTime() + 1000);
    expect(run({ _id: 1 }, [{ $set: { t: '$$NOW' } }], { now: later }).doc.t).toEqual(later);
  });

  test('$replaceRoot with $mergeObjects and $addFields with computed values (manual examples)', () => {
    const d = after({ _id: 1, quiz1: 8, test2: 100 }, [
      { $replaceRoot: { newRoot: { $mergeObjects: [{ quiz1: 0, quiz2: 0, test1: 0, test2: 0 }, '$$ROOT'] } } },
      { $addFields: { total: { $add: ['$quiz1', '$quiz2', '$test1', '$test2'] } } },
    ]);
    expect(d).toEqual({ _id: 1, quiz1: 8, quiz2: 0, test1: 0, test2: 100, total: 108 });
    expect(after({ _id: 1, a: 1 }, [{ $replaceWith: { b: '$a' } }])).toEqual({ _id: 1, b: 1 });
  });

  test('$set: nested specs, dotted paths through arrays, $$REMOVE', () => {
    expect(after({ _id: 1, a: { x: 1 } }, [{ $set: { a: { y: 2 }, 'b.c': 3 } }])).toEqual({ _id: 1, a: { x: 1, y: 2 }, b: { c: 3 } });
    expect(after({ a: [{ x: 1 }, 5] }, [{ $set: { 'a.y': 0 } }])).toEqual({ a: [{ x: 1, y: 0 }, { y: 0 }] });
    expect(after({ _id: 1, a: 1, b: 2 }, [{ $set: { a: '$$REMOVE' } }])).toEqual({ _id: 1, b: 2 });
  });

  test('$project inclusion and exclusion', () => {
    const doc = { _id: 1, a: 1, b: { c: 1, d: 2 }, e: [{ c: 1, f: 1 }, 3] };
    expect(after(doc, [{ $project: { a: 1, 'b.c': 1, 'e.c': 1, s: { $add: ['$a', 1] } } }])).toEqual({
      _id: 1,
      a: 1,
      b: { c: 1 },
      e: [{ c: 1 }],
      s: 2,
    });
    expect(after(doc, [{ $project: { a: 0, 'e.f': 0 } }])).toEqual({ _id: 1, b: { c: 1, d: 2 }, e: [{ c: 1 }, 3] });
    // An update keeps _id even when the pipeline drops it.
    expect(after(doc, [{ $project: { _id: 0, a: 1 } }])).toEqual({ _id: 1, a: 1 });
  });

  test('no change is not a modification', () => {
    expect(run({ _id: 1, a: 1 }, [{ $set: { a: 1 } }]).modified).toBe(false);
  });

  test('errors', () => {
    expect(refusal({ _id: 1 }, [{ $set: { _id: 2 } }])).toBe(
      "After applying the update, the (immutable) field '_id' was found to have been altered to _id: 2",
    );
    expect(refusal({}, [{ $group: { _id: null } }])).toBe('$group is not allowed to be used within an update');
    expect(refusal({}, [{ $set: { a: 1 }, $unset: 'b' }])).toBe('A pipeline stage specification object must contain exactly one field.');
    expect(refusal({}, [{ $set: { a: { $bogus: 1 } } }])).toMatch(/\$bogus/);
    expect(refusal({}, [{ $replaceWith: 1 }])).toMatch(/'newRoot' expression must evaluate to an object/);
    expect(refusal({}, [{ $set: { a: 1 } }], { arrayFilters: [{ x: 1 }] })).toBe('arrayFilters may not be specified for pipeline-style updates');
    expect(refusal({}, [{ $project: { a: 1, b: 0 } }])).toMatch(/cannot do exclusion on field b in inclusion projection/i);
    expect(compileUpdate([]).kind).toBe('pipeline');
  });
});
