// Aggregation expressions: every operator family against MongoDB's documented
// behaviour (null/missing propagation, type rules, errors naming the operator).

import { Decimal128, ObjectId } from 'bson';
import { describe, expect, it } from 'vitest';
import { compileExpr } from '../../shared/docs/expr.js';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';
import { MantisError } from '../../shared/errors.js';

const ev = (expr: DocValue, doc: Doc = {}, vars?: Record<string, DocValue>): DocValue | undefined =>
  compileExpr(expr)(doc, vars);

function badQuery(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(MantisError);
    expect((e as MantisError).code).toBe('BAD_QUERY');
    expect((e as MantisError).message).toMatch(pattern);
    return;
  }
  throw new Error('expected BAD_QUERY');
}

describe('field paths and variables', () => {
  const doc: Doc = { a: { b: 1 }, arr: [{ x: 1 }, { y: 2 }, { x: 3 }, 7, [{ x: 4 }]], s: 'str' };

  it('reads nested fields and maps through arrays (missing elements skipped, nested arrays kept)', () => {
    expect(ev('$a.b', doc)).toBe(1);
    expect(ev('$a.c', doc)).toBeUndefined();
    expect(ev('$arr.x', doc)).toEqual([1, 3, [4]]);
    expect(ev('$s.length', doc)).toBeUndefined();
  });

  it('numeric path segments are field names, not positions', () => {
    expect(ev('$arr.0', { arr: [1, 2] })).toEqual([]);
    expect(ev('$o.0', { o: { '0': 'zero' } })).toBe('zero');
  });

  it('does not reach Object.prototype', () => {
    expect(ev('$constructor', {})).toBeUndefined();
    expect(ev('$__proto__', {})).toBeUndefined();
  });

  it('ROOT, CURRENT, REMOVE, NOW and user variables', () => {
    expect(ev('$$ROOT', doc)).toBe(doc);
    expect(ev('$$CURRENT.a.b', doc)).toBe(1);
    expect(ev('$$REMOVE', doc)).toBeUndefined();
    expect(ev('$$NOW')).toBeInstanceOf(Date);
    expect(ev('$$x.y', {}, { x: { y: 5 } })).toBe(5);
    badQuery(() => ev('$$nope'), /undefined variable: nope/);
    badQuery(() => ev('$$Bad'), /not a valid variable name/);
  });

  it('object literals drop missing fields; array literals turn missing into null', () => {
    expect(ev({ p: '$a.b', q: '$zzz' }, doc)).toEqual({ p: 1 });
    expect(ev(['$a.b', '$zzz'], doc)).toEqual([1, null]);
  });

  it('refuses unknown operators, mixed operator objects and bad paths naming them', () => {
    badQuery(() => compileExpr({ $foo: 1 }), /\$foo/);
    badQuery(() => compileExpr({ $add: [1], x: 1 }), /exactly one field/);
    badQuery(() => compileExpr('$a..b'), /not a valid field path/);
    badQuery(() => compileExpr({ 'a.b': 1 }), /may not contain '\.'/);
  });

  it('$literal keeps $-strings and operator-looking objects', () => {
    expect(ev({ $literal: '$a' })).toBe('$a');
    expect(ev({ $literal: { $add: 1 } })).toEqual({ $add: 1 });
  });
});

describe('arithmetic', () => {
  it('$add numbers, longs, decimals and dates', () => {
    expect(ev({ $add: [1, 2, 3.5] })).toBe(6.5);
    expect(ev({ $add: [1n, 2] })).toBe(3n);
    expect(ev({ $add: [1n, 2.5] })).toBe(3.5);
    expect(ev({ $add: [Decimal128.fromString('0.1'), Decimal128.fromString('0.2')] })).toEqual(Decimal128.fromString('0.3'));
    expect(ev({ $add: [new Date(1000), 500] })).toEqual(new Date(1500));
    expect(ev({ $add: [1, null] })).toBeNull();
    expect(ev({ $add: [1, '$missing'] })).toBeNull();
    badQuery(() => ev({ $add: [1, 'x'] }), /\$add/);
  });

  it('long overflow becomes a double', () => {
    expect(ev({ $add: [2n ** 63n - 1n, 1n] })).toBe(2 ** 63);
  });

  it('$subtract dates and numbers', () => {
    expect(ev({ $subtract: [new Date(5000), new Date(2000)] })).toBe(3000);
    expect(ev({ $subtract: [new Date(5000), 1000] })).toEqual(new Date(4000));
    expect(ev({ $subtract: [10, 4] })).toBe(6);
  });

  it('$multiply, $divide, $mod', () => {
    expect(ev({ $multiply: [2, 3, 4] })).toBe(24);
    expect(ev({ $divide: [1, 4] })).toBe(0.25);
    badQuery(() => ev({ $divide: [1, 0] }), /divide by zero/);
    expect(ev({ $mod: [-7, 3] })).toBe(-1);
    expect(ev({ $mod: [7.5, 2] })).toBe(1.5);
    expect(ev({ $mod: [7n, 3] })).toBe(1n);
    badQuery(() => ev({ $mod: [1, 0] }), /\$mod/);
  });

  it('$abs $ceil $floor $sqrt $exp $ln $log10 $log $pow', () => {
    expect(ev({ $abs: -3 })).toBe(3);
    expect(ev({ $abs: [-3n] })).toBe(3n);
    expect(ev({ $ceil: 1.2 })).toBe(2);
    expect(ev({ $floor: -1.2 })).toBe(-2);
    expect(ev({ $sqrt: 16 })).toBe(4);
    badQuery(() => ev({ $sqrt: -1 }), /\$sqrt/);
    expect(ev({ $exp: 0 })).toBe(1);
    expect(ev({ $ln: 1 })).toBe(0);
    badQuery(() => ev({ $ln: 0 }), /\$ln/);
    expect(ev({ $log10: 1000 })).toBeCloseTo(3);
    expect(ev({ $log: [8, 2] })).toBeCloseTo(3);
    expect(ev({ $pow: [2, 10] })).toBe(1024);
    expect(ev({ $pow: [2n, 3] })).toBe(8n);
    expect(ev({ $pow: [2, -1] })).toBe(0.5);
    badQuery(() => ev({ $pow: [0, -1] }), /\$pow/);
    expect(ev({ $abs: null })).toBeNull();
  });

  it('$round is half to even; $trunc truncates; negative places', () => {
    expect(ev({ $round: [2.5, 0] })).toBe(2);
    expect(ev({ $round: [3.5] })).toBe(4);
    expect(ev({ $round: [-2.5] })).toBe(-2);
    expect(ev({ $round: [1.2345, 2] })).toBe(1.23);
    expect(ev({ $round: [1234, -2] })).toBe(1200);
    expect(ev({ $round: [1250, -2] })).toBe(1200);
    expect(ev({ $trunc: [1.999, 1] })).toBe(1.9);
    expect(ev({ $trunc: [-1.5] })).toBe(-1);
    expect(ev({ $round: [Decimal128.fromString('1.25'), 1] })).toEqual(Decimal128.fromString('1.2'));
  });
});

describe('comparison, boolean, conditional', () => {
  it('compares across types in BSON order and missing below null', () => {
    expect(ev({ $eq: [1, 1n] })).toBe(true);
    expect(ev({ $lt: [5, 'a'] })).toBe(true);
    expect(ev({ $eq: ['$missing', null] })).toBe(false);
    expect(ev({ $lt: ['$missing', null] })).toBe(true);
    expect(ev({ $cmp: ['b', 'a'] })).toBe(1);
    expect(ev({ $gte: [[1, 2], [1]] })).toBe(true);
    expect(ev({ $ne: [{ a: 1 }, { a: 1 }] })).toBe(false);
  });

  it('truthiness: 0, null, missing, false are false; "" and [] are true', () => {
    expect(ev({ $and: [1, 'x', [], ''] })).toBe(true);
    expect(ev({ $and: [1, 0] })).toBe(false);
    expect(ev({ $or: [null, '$missing', 0n] })).toBe(false);
    expect(ev({ $not: [Decimal128.fromString('0')] })).toBe(true);
    expect(ev({ $and: [] })).toBe(true);
  });

  it('$cond in both forms, $ifNull, $switch', () => {
    expect(ev({ $cond: [true, 'y', 'n'] })).toBe('y');
    expect(ev({ $cond: { if: 0, then: 'y', else: 'n' } })).toBe('n');
    badQuery(() => compileExpr({ $cond: { if: 1, then: 2 } }), /else/);
    expect(ev({ $ifNull: ['$a', '$b', 'd'] }, { b: 2 })).toBe(2);
    expect(ev({ $ifNull: ['$a', 'd'] }, { a: null })).toBe('d');
    expect(ev({ $ifNull: ['$a', '$zz'] })).toBeUndefined();
    const sw = { $switch: { branches: [{ case: { $gt: ['$x', 5] }, then: 'big' }], default: 'small' } };
    expect(ev(sw, { x: 9 })).toBe('big');
    expect(ev(sw, { x: 1 })).toBe('small');
    badQuery(() => ev({ $switch: { branches: [{ case: false, then: 1 }] } }), /no default/);
  });

  it('$let binds in parallel and can rebind CURRENT', () => {
    expect(ev({ $let: { vars: { a: 2, b: 3 }, in: { $multiply: ['$$a', '$$b'] } } })).toBe(6);
    expect(ev({ $let: { vars: { CURRENT: '$inner' }, in: '$v' } }, { inner: { v: 7 } })).toBe(7);
  });
});

describe('strings', () => {
  it('$concat null-propagates and refuses non-strings', () => {
    expect(ev({ $concat: ['a', 'b', '$s'] }, { s: 'c' })).toBe('abc');
    expect(ev({ $concat: ['a', '$missing'] })).toBeNull();
    badQuery(() => ev({ $concat: ['a', 1] }), /\$concat/);
  });

  it('$substr counts bytes, $substrCP code points', () => {
    expect(ev({ $substr: ['hello', 1, 3] })).toBe('ell');
    expect(ev({ $substr: ['hello', 2, -1] })).toBe('llo');
    expect(ev({ $substrCP: ['héllo', 1, 2] })).toBe('él');
    expect(ev({ $substrBytes: ['héllo', 1, 2] })).toBe('é');
    badQuery(() => ev({ $substrBytes: ['héllo', 2, 2] }), /UTF-8/);
    expect(ev({ $substr: [null, 0, 1] })).toBe('');
  });

  it('$toLower/$toUpper are ASCII-only, null gives ""', () => {
    expect(ev({ $toLower: 'ABC' })).toBe('abc');
    expect(ev({ $toUpper: 'abcé' })).toBe('ABCé');
    expect(ev({ $toLower: null })).toBe('');
  });

  it('$trim $ltrim $rtrim', () => {
    expect(ev({ $trim: { input: '  x y \n' } })).toBe('x y');
    expect(ev({ $ltrim: { input: 'xxaxx', chars: 'x' } })).toBe('axx');
    expect(ev({ $rtrim: { input: 'xxaxx', chars: 'x' } })).toBe('xxa');
    expect(ev({ $trim: { input: null } })).toBeNull();
  });

  it('$split $strLenCP $strLenBytes $indexOfCP $strcasecmp', () => {
    expect(ev({ $split: ['a,b,,c', ','] })).toEqual(['a', 'b', '', 'c']);
    badQuery(() => ev({ $split: ['a', ''] }), /separator/);
    expect(ev({ $strLenCP: 'héllo' })).toBe(5);
    expect(ev({ $strLenBytes: 'héllo' })).toBe(6);
    expect(ev({ $indexOfCP: ['cafétéria', 'té'] })).toBe(4);
    expect(ev({ $indexOfCP: ['abc', 'z'] })).toBe(-1);
    expect(ev({ $indexOfCP: ['abcabc', 'b', 2] })).toBe(4);
    expect(ev({ $indexOfCP: [null, 'b'] })).toBeNull();
    expect(ev({ $strcasecmp: ['ABC', 'abc'] })).toBe(0);
  });

  it('$regexMatch / $regexFind / $regexFindAll, bad regex is BAD_QUERY', () => {
    expect(ev({ $regexMatch: { input: 'Hello', regex: '^h', options: 'i' } })).toBe(true);
    expect(ev({ $regexMatch: { input: null, regex: 'x' } })).toBe(false);
    expect(ev({ $regexFind: { input: 'ab12cd34', regex: '(\\d)(\\d)' } })).toEqual({ match: '12', idx: 2, captures: ['1', '2'] });
    expect(ev({ $regexFindAll: { input: 'a1b2', regex: '\\d' } })).toEqual([
      { match: '1', idx: 1, captures: [] },
      { match: '2', idx: 3, captures: [] },
    ]);
    expect(ev({ $regexMatch: { input: 'ab', regex: 'a b # comment', options: 'x' } })).toBe(true);
    badQuery(() => ev({ $regexMatch: { input: 'a', regex: '(' } }), /invalid regular expression/);
    expect(ev({ $replaceAll: { input: 'a.b.c', find: '.', replacement: '-' } })).toBe('a-b-c');
    expect(ev({ $replaceOne: { input: 'a.b.c', find: '.', replacement: { $literal: '$&' } } })).toBe('a$&b.c');
  });
});

describe('arrays, sets and objects', () => {
  const doc: Doc = { xs: [1, 2, 3, 4] };

  it('$size, $arrayElemAt, $first, $last', () => {
    expect(ev({ $size: '$xs' }, doc)).toBe(4);
    badQuery(() => ev({ $size: '$nope' }, doc), /\$size must be an array/);
    expect(ev({ $arrayElemAt: ['$xs', -1] }, doc)).toBe(4);
    expect(ev({ $arrayElemAt: ['$xs', 10] }, doc)).toBeUndefined();
    expect(ev({ $first: '$xs' }, doc)).toBe(1);
    expect(ev({ $last: '$xs' }, doc)).toBe(4);
    expect(ev({ $first: [[]] })).toBeUndefined();
    expect(ev({ $first: '$missing' })).toBeNull();
  });

  it('$filter (with limit), $map, $reduce', () => {
    expect(ev({ $filter: { input: '$xs', cond: { $gt: ['$$this', 2] } } }, doc)).toEqual([3, 4]);
    expect(ev({ $filter: { input: '$xs', as: 'n', cond: { $gt: ['$$n', 1] }, limit: 2 } }, doc)).toEqual([2, 3]);
    expect(ev({ $map: { input: '$xs', as: 'n', in: { $multiply: ['$$n', 10] } } }, doc)).toEqual([10, 20, 30, 40]);
    expect(ev({ $map: { input: '$missing', in: 1 } })).toBeNull();
    expect(ev({ $reduce: { input: '$xs', initialValue: 0, in: { $add: ['$$value', '$$this'] } } }, doc)).toBe(10);
  });

  it('$in, $indexOfArray, $concatArrays, $slice, $isArray, $range, $reverseArray', () => {
    expect(ev({ $in: [2, '$xs'] }, doc)).toBe(true);
    expect(ev({ $in: [2n, [1, 2]] })).toBe(true);
    badQuery(() => ev({ $in: [1, '$missing'] }), /\$in requires an array/);
    expect(ev({ $indexOfArray: ['$xs', 3] }, doc)).toBe(2);
    expect(ev({ $concatArrays: ['$xs', [5]] }, doc)).toEqual([1, 2, 3, 4, 5]);
    expect(ev({ $concatArrays: ['$xs', null] }, doc)).toBeNull();
    expect(ev({ $slice: ['$xs', 2] }, doc)).toEqual([1, 2]);
    expect(ev({ $slice: ['$xs', -2] }, doc)).toEqual([3, 4]);
    expect(ev({ $slice: ['$xs', 1, 2] }, doc)).toEqual([2, 3]);
    expect(ev({ $slice: ['$xs', -3, 2] }, doc)).toEqual([2, 3]);
    expect(ev({ $isArray: ['$xs'] }, doc)).toBe(true);
    expect(ev({ $isArray: '$missing' })).toBe(false);
    expect(ev({ $range: [0, 10, 3] })).toEqual([0, 3, 6, 9]);
    expect(ev({ $range: [5, 0, -2] })).toEqual([5, 3, 1]);
    expect(ev({ $reverseArray: '$xs' }, doc)).toEqual([4, 3, 2, 1]);
  });

  it('set operators', () => {
    expect(ev({ $setUnion: [[1, 2], [2, 3]] })).toEqual([1, 2, 3]);
    expect(ev({ $setIntersection: [[1, 2, 2], [2, 3]] })).toEqual([2]);
    expect(ev({ $setDifference: [[1, 2], [2]] })).toEqual([1]);
    expect(ev({ $setEquals: [[1, 2], [2, 1, 1]] })).toBe(true);
    expect(ev({ $setIsSubset: [[1], [1, 2]] })).toBe(true);
    expect(ev({ $anyElementTrue: [[0, false, 1]] })).toBe(true);
    expect(ev({ $allElementsTrue: [[1, 0]] })).toBe(false);
  });

  it('$sum $avg $min $max as expressions', () => {
    expect(ev({ $sum: '$xs' }, doc)).toBe(10);
    expect(ev({ $sum: [1, 'a', 2] })).toBe(3);
    expect(ev({ $avg: '$xs' }, doc)).toBe(2.5);
    expect(ev({ $avg: [[]] })).toBeNull();
    expect(ev({ $max: '$xs' }, doc)).toBe(4);
    expect(ev({ $min: [3, null, 1] })).toBe(1);
    expect(ev({ $max: [1, 'a'] })).toBe('a');
  });

  it('$mergeObjects, $objectToArray, $arrayToObject, $getField', () => {
    expect(ev({ $mergeObjects: [{ a: 1, b: 1 }, null, { b: 2 }] })).toEqual({ a: 1, b: 2 });
    expect(ev({ $objectToArray: { a: 1, b: 2 } })).toEqual([{ k: 'a', v: 1 }, { k: 'b', v: 2 }]);
    expect(ev({ $arrayToObject: [[['a', 1], ['b', 2]]] })).toEqual({ a: 1, b: 2 });
    expect(ev({ $arrayToObject: [[{ k: 'a', v: 1 }]] })).toEqual({ a: 1 });
    expect(ev({ $getField: 'a.b' }, { 'a.b': 5 })).toBe(5);
    expect(ev({ $getField: { field: 'x', input: { x: 1 } } })).toBe(1);
  });
});

describe('types and conversions', () => {
  it('$type names, missing included', () => {
    expect(ev({ $type: 1 })).toBe('int');
    expect(ev({ $type: 1.5 })).toBe('double');
    expect(ev({ $type: 1n })).toBe('long');
    expect(ev({ $type: '$nope' })).toBe('missing');
    expect(ev({ $type: [[1]] })).toBe('array');
    expect(ev({ $isNumber: 'x' })).toBe(false);
  });

  it('$toInt $toLong $toDouble $toString $toBool $toDate $toObjectId $toDecimal', () => {
    expect(ev({ $toInt: '42' })).toBe(42);
    expect(ev({ $toInt: 4.9 })).toBe(4);
    expect(ev({ $toInt: true })).toBe(1);
    badQuery(() => ev({ $toInt: '4.5' }), /\$toInt/);
    badQuery(() => ev({ $toInt: 2 ** 40 }), /\$toInt/);
    expect(ev({ $toLong: '9007199254740993' })).toBe(9007199254740993n);
    expect(ev({ $toLong: new Date(5) })).toBe(5n);
    expect(ev({ $toDouble: '1.5e3' })).toBe(1500);
    expect(ev({ $toString: 2.5 })).toBe('2.5');
    expect(ev({ $toString: new Date(0) })).toBe('1970-01-01T00:00:00.000Z');
    const oid = new ObjectId('5ab9cbfa31c2ab715d42129e');
    expect(ev({ $toString: oid })).toBe('5ab9cbfa31c2ab715d42129e');
    expect(ev({ $toObjectId: '5ab9cbfa31c2ab715d42129e' })).toEqual(oid);
    expect(ev({ $toBool: '' })).toBe(true);
    expect(ev({ $toBool: 0 })).toBe(false);
    expect(ev({ $toDate: '2018-03-20T12:00:00' })).toEqual(new Date('2018-03-20T12:00:00Z'));
    expect(ev({ $toDate: 1000n })).toEqual(new Date(1000));
    expect(ev({ $toDecimal: '1.10' })).toEqual(Decimal128.fromString('1.10'));
    expect(ev({ $toInt: null })).toBeNull();
  });

  it('$convert onError and onNull', () => {
    expect(ev({ $convert: { input: 'x', to: 'int', onError: -1 } })).toBe(-1);
    expect(ev({ $convert: { input: '$nope', to: 'int', onNull: 0 } })).toBe(0);
    expect(ev({ $convert: { input: '7', to: 16 } })).toBe(7);
    badQuery(() => ev({ $convert: { input: 'x', to: 'int' } }), /Failed to convert/);
    badQuery(() => ev({ $convert: { input: 1, to: 'nonsense' } }), /target type/);
  });
});

describe('dates', () => {
  const d = new Date('2021-03-14T15:09:26.535Z'); // a Sunday

  it('parts in UTC and in a zone', () => {
    expect(ev({ $year: d })).toBe(2021);
    expect(ev({ $month: d })).toBe(3);
    expect(ev({ $dayOfMonth: d })).toBe(14);
    expect(ev({ $hour: d })).toBe(15);
    expect(ev({ $minute: d })).toBe(9);
    expect(ev({ $second: d })).toBe(26);
    expect(ev({ $dayOfWeek: d })).toBe(1);
    expect(ev({ $hour: { date: d, timezone: '+05:30' } })).toBe(20);
    expect(ev({ $hour: { date: d, timezone: 'America/New_York' } })).toBe(11); // EDT from 14 March 2021
    expect(ev({ $year: null })).toBeNull();
    badQuery(() => ev({ $year: 'x' }), /to Date/);
    badQuery(() => ev({ $hour: { date: d, timezone: 'Mars/Olympus' } }), /time zone/);
  });

  it('$dateToString formats', () => {
    expect(ev({ $dateToString: { date: d } })).toBe('2021-03-14T15:09:26.535Z');
    expect(ev({ $dateToString: { date: d, format: '%Y/%m/%d %H:%M %j %w %u %V %z %%' } })).toBe('2021/03/14 15:09 073 1 7 10 +0000 %');
    expect(ev({ $dateToString: { date: d, format: '%H:%M %Z', timezone: '-02:00' } })).toBe('13:09 -120');
    expect(ev({ $dateToString: { date: null, onNull: 'none' } })).toBe('none');
  });

  it('$dateTrunc by unit and bin size', () => {
    const t = (unit: string, extra: Doc = {}) => ev({ $dateTrunc: { date: d, unit, ...extra } });
    expect(t('year')).toEqual(new Date('2021-01-01T00:00:00Z'));
    expect(t('quarter')).toEqual(new Date('2021-01-01T00:00:00Z'));
    expect(t('month')).toEqual(new Date('2021-03-01T00:00:00Z'));
    expect(t('day')).toEqual(new Date('2021-03-14T00:00:00Z'));
    expect(t('hour', { binSize: 6 })).toEqual(new Date('2021-03-14T12:00:00Z'));
    expect(t('week')).toEqual(new Date('2021-03-14T00:00:00Z'));
    expect(t('week', { startOfWeek: 'monday' })).toEqual(new Date('2021-03-08T00:00:00Z'));
    expect(t('year', { binSize: 10 })).toEqual(new Date('2020-01-01T00:00:00Z'));
    expect(t('day', { timezone: '+10:00' })).toEqual(new Date('2021-03-14T14:00:00Z'));
  });
});
