// fast-check generators of DocValues for the codec, key and planner tests:
// every BSON type we keep, with the awkward corners (NaN, -0, Int64 past 2^53,
// Decimal128 beyond doubles, strings with NUL/0x01/astral characters, nested
// documents and arrays, Binary subtypes).

import { Binary, BSONRegExp, Decimal128, ObjectId } from 'bson';
import fc from 'fast-check';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';

export const doubleArb: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: -1000, max: 1000 }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 2 ** 53, 2 ** 53 + 2, -(2 ** 63), 2 ** 63, 0.1, 1e308, -1e-308, Number.MIN_VALUE),
);

export const bigintArb: fc.Arbitrary<bigint> = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.bigInt({ min: -1000n, max: 1000n }),
  fc.constantFrom(2n ** 53n + 1n, -(2n ** 53n) - 1n, 2n ** 63n - 1n, -(2n ** 63n), 9007199254740993n),
);

const decimalTextArb: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.bigInt({ min: -(10n ** 34n) + 1n, max: 10n ** 34n - 1n }), fc.integer({ min: -40, max: 40 })).map(([c, e]) => `${c}E${e}`),
  fc.tuple(fc.integer({ min: -99999, max: 99999 }), fc.integer({ min: -3, max: 3 })).map(([c, e]) => `${c}E${e}`),
  fc.constantFrom('NaN', 'Infinity', '-Infinity', '0', '-0', '1.0', '1E+400', '-1E+400', '1E-400', '9007199254740993', '0.1', '1.7976931348623157E+308'),
);

export const decimalArb: fc.Arbitrary<Decimal128> = decimalTextArb.map((s) => Decimal128.fromString(s));

export const numberArb: fc.Arbitrary<number | bigint | Decimal128> = fc.oneof(doubleArb, bigintArb, decimalArb);

export const stringArb: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.constantFrom('', '\u0000', '\u0001', 'a\u0000', 'a\u0001b', '\u00ff', '\uffff', '\ud83d\ude00', '\ue000', 'Zürich'),
);

export const oidArb: fc.Arbitrary<ObjectId> = fc.uint8Array({ minLength: 12, maxLength: 12 }).map((b) => new ObjectId(b));

export const binaryArb: fc.Arbitrary<Binary> = fc
  .tuple(fc.uint8Array({ maxLength: 6 }), fc.constantFrom(0, 4, 5, 128))
  .map(([b, t]) => new Binary(b, t));

export const dateArb: fc.Arbitrary<Date> = fc.integer({ min: -8.64e15, max: 8.64e15 }).map((ms) => new Date(ms));

export const regexArb: fc.Arbitrary<BSONRegExp> = fc
  .tuple(fc.string({ maxLength: 4 }), fc.subarray(['i', 'm', 's', 'x']))
  .map(([p, o]) => new BSONRegExp(p, o.join('')));

export const scalarArb: fc.Arbitrary<DocValue> = fc.oneof(
  { weight: 4, arbitrary: numberArb },
  { weight: 3, arbitrary: stringArb },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.boolean() },
  { weight: 1, arbitrary: oidArb },
  { weight: 1, arbitrary: binaryArb },
  { weight: 1, arbitrary: dateArb },
  { weight: 1, arbitrary: regexArb },
);

const fieldNameArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom('a', 'b', 'c', '_id', 'x', 'long_field_name', '') },
  { weight: 1, arbitrary: fc.string({ maxLength: 4 }) },
);

/** Any DocValue, nested up to a few levels. */
export const valueArb: fc.Arbitrary<DocValue> = fc.letrec<{ value: DocValue; doc: Doc; arr: DocValue[] }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalarArb, tie('doc'), tie('arr')),
  doc: fc.dictionary(fieldNameArb, tie('value'), { maxKeys: 4, noNullPrototype: true }),
  arr: fc.array(tie('value'), { maxLength: 4 }),
})).value;

export const docArb: fc.Arbitrary<Doc> = fc.dictionary(fieldNameArb, valueArb, { maxKeys: 5, noNullPrototype: true });
