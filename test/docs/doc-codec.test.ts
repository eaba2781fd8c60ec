// The stored document encoding: every type round-trips exactly, field order is
// kept, reading only some fields gives those fields, and the encoder's shared
// chunk never lets one result overwrite another.

import { Binary, BSONRegExp, Decimal128, ObjectId } from 'bson';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeDoc, decodeDocFields, decodeValue, encodeDoc, encodeValue } from '../../shared/docs/doc-codec.js';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';
import { docArb, valueArb } from './codec-arbitraries.js';

function roundTrip(v: DocValue): DocValue | undefined {
  return decodeValue(encodeValue(v));
}

describe('doc-codec', () => {
  it('round-trips every type exactly', () => {
    const doc: Doc = {
      _id: new ObjectId('65a1b2c3d4e5f60718293a4b'),
      int8: -5,
      int32: 123456,
      double: 1.5,
      integralDouble: 2 ** 40,
      negZero: -0,
      nan: NaN,
      inf: -Infinity,
      long: 1n,
      longBig: 2n ** 63n - 1n,
      longMin: -(2n ** 63n),
      wide: 2n ** 80n,
      dec: Decimal128.fromString('-1.2345E-100'),
      str: 'héllo \u0000 wörld \ud83d\ude00',
      long_str: 'x'.repeat(100) + 'é'.repeat(100),
      empty: '',
      t: true,
      f: false,
      nul: null,
      date: new Date(-1),
      badDate: new Date(NaN),
      bin: new Binary(Buffer.from([1, 2, 3]), 4),
      re: new BSONRegExp('^a.*b$', 'im'),
      arr: [1, 'two', [3, { four: 4 }], []],
      obj: { nested: { deeper: { deepest: [null] } } },
    };
    const back = decodeDoc(encodeDoc(doc));
    expect(back).toStrictEqual(doc);
    expect(Object.is(back.negZero, -0)).toBe(true);
    expect(typeof back.long).toBe('bigint');
    expect(back.integralDouble).toBe(2 ** 40);
    expect(Object.keys(back)).toEqual(Object.keys(doc));
  });

  it('round-trips generated documents and values', () => {
    fc.assert(fc.property(docArb, (doc) => { expect(decodeDoc(encodeDoc(doc))).toStrictEqual(doc); }), { numRuns: 1000 });
    fc.assert(fc.property(valueArb, (v) => { expect(roundTrip(v)).toStrictEqual(v); }), { numRuns: 1000 });
  });

  it('keeps a field named __proto__ as an own field', () => {
    const doc = JSON.parse('{"__proto__": {"x": 1}, "a": 2}') as Doc;
    const back = decodeDoc(encodeDoc(doc));
    expect(Object.keys(back)).toEqual(['__proto__', 'a']);
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(back, '__proto__')?.value).toStrictEqual({ x: 1 });
  });

  it('skips undefined fields and writes undefined array elements as null', () => {
    const v = { a: undefined, b: [undefined, 1] } as unknown as DocValue;
    expect(roundTrip(v)).toStrictEqual({ b: [null, 1] });
    expect(decodeValue(encodeValue(undefined))).toBeUndefined();
  });

  it('carries raw bytes for ring payloads', () => {
    const v = { resume: Uint8Array.of(0xff, 0, 7) } as unknown as DocValue;
    const back = roundTrip(v) as unknown as { resume: Uint8Array };
    expect(back.resume).toBeInstanceOf(Uint8Array);
    expect([...back.resume]).toEqual([0xff, 0, 7]);
  });

  it('decodes only the named top-level fields, skipping the rest', () => {
    fc.assert(
      fc.property(docArb, fc.subarray(['a', 'b', 'c', '_id', 'missing']), (doc, names) => {
        const fields = new Set(names);
        const expected: Doc = {};
        for (const k of Object.keys(doc)) if (fields.has(k)) expected[k] = doc[k];
        expect(decodeDocFields(encodeDoc(doc), fields)).toStrictEqual(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('results stay intact across many encodes (shared chunks)', () => {
    const docs = Array.from({ length: 3000 }, (_, i) => ({ i, s: 'y'.repeat(i % 300) }));
    const bytes = docs.map((d) => encodeDoc(d));
    const big = encodeDoc({ big: 'z'.repeat(600_000) });
    const after = encodeDoc({ after: 1 });
    docs.forEach((d, i) => expect(decodeDoc(bytes[i])).toStrictEqual(d));
    expect((decodeDoc(big).big as string).length).toBe(600_000);
    expect(decodeDoc(after)).toStrictEqual({ after: 1 });
  });

  it('decodes from a plain Uint8Array at an offset', () => {
    const bytes = encodeDoc({ a: 'text', b: 1.25 });
    const backing = new Uint8Array(bytes.length + 5);
    backing.set(bytes, 3);
    expect(decodeDoc(backing.subarray(3, 3 + bytes.length))).toStrictEqual({ a: 'text', b: 1.25 });
  });

  it('refuses corrupt bytes instead of returning garbage', () => {
    const bytes = Buffer.from(encodeDoc({ a: 1 }));
    expect(() => decodeDoc(bytes.subarray(0, bytes.length - 1))).toThrow();
    expect(() => decodeDoc(Buffer.concat([bytes, Buffer.of(1)]))).toThrow();
    expect(() => decodeDoc(Buffer.of(0x7f))).toThrow(/bad tag/);
    expect(() => decodeDoc(encodeValue([1]))).toThrow(/not a document/);
  });
});
