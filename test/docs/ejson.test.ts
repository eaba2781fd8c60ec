// Extended JSON in (relaxed and canonical) and out (relaxed).

import { Binary, BSONRegExp, Decimal128, EJSON, ObjectId } from 'bson';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { valuesEqual } from '../../shared/docs/compare.js';
import type { Doc, DocValue } from '../../shared/docs/doc-types.js';
import { fromEjson, parseEjson, stringifyEjson, toEjson } from '../../shared/docs/ejson.js';
import { MantisError } from '../../shared/errors.js';

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof MantisError ? e.code : 'OTHER';
  }
  return undefined;
}

describe('parseEjson', () => {
  it('reads every wrapper in relaxed and canonical form', () => {
    const d = parseEjson(
      JSON.stringify({
        oid: { $oid: '0123456789abcdef01234567' },
        dateIso: { $date: '2020-01-02T03:04:05.006Z' },
        dateLong: { $date: { $numberLong: '-5' } },
        dateNum: { $date: 1000 },
        long: { $numberLong: '9223372036854775807' },
        int: { $numberInt: '-7' },
        dbl: { $numberDouble: '1.5' },
        inf: { $numberDouble: '-Infinity' },
        nan: { $numberDouble: 'NaN' },
        dec: { $numberDecimal: '1.50' },
        bin: { $binary: { base64: 'YWI=', subType: '04' } },
        binLegacy: { $binary: 'YWI=', $type: '80' },
        uuid: { $uuid: '00112233-4455-6677-8899-aabbccddeeff' },
        re: { $regularExpression: { pattern: 'a.b', options: 'mi' } },
        reLegacy: { $regex: 'x', $options: 'i' },
        nested: [{ deep: { $oid: '0123456789abcdef01234567' } }],
      }),
    ) as Doc;
    expect(d.oid).toBeInstanceOf(ObjectId);
    expect((d.oid as ObjectId).toHexString()).toBe('0123456789abcdef01234567');
    expect((d.dateIso as Date).toISOString()).toBe('2020-01-02T03:04:05.006Z');
    expect((d.dateLong as Date).getTime()).toBe(-5);
    expect((d.dateNum as Date).getTime()).toBe(1000);
    expect(d.long).toBe(2n ** 63n - 1n);
    expect(d.int).toBe(-7);
    expect(d.dbl).toBe(1.5);
    expect(d.inf).toBe(-Infinity);
    expect(d.nan).toBeNaN();
    expect((d.dec as Decimal128).toString()).toBe('1.50');
    expect((d.bin as Binary).sub_type).toBe(4);
    expect(Buffer.from((d.bin as Binary).buffer).toString()).toBe('ab');
    expect((d.binLegacy as Binary).sub_type).toBe(0x80);
    expect((d.uuid as Binary).sub_type).toBe(4);
    expect((d.uuid as Binary).position).toBe(16);
    expect(d.re).toEqual(new BSONRegExp('a.b', 'im'));
    expect(d.reLegacy).toEqual(new BSONRegExp('x', 'i'));
    expect(((d.nested as Doc[])[0].deep as ObjectId).toHexString()).toBe('0123456789abcdef01234567');
  });

  it('leaves query operators and other $ keys alone', () => {
    const q = parseEjson('{"a":{"$gt":{"$numberLong":"5"}},"$or":[{"b":{"$in":[1,{"$oid":"0123456789abcdef01234567"}]}}],"c":{"$regex":"x"}}') as Doc;
    expect((q.a as Doc).$gt).toBe(5n);
    expect((((q.$or as Doc[])[0].b as Doc).$in as DocValue[])[1]).toBeInstanceOf(ObjectId);
    expect(q.c).toEqual({ $regex: 'x' });
    expect(parseEjson('{"$oid":"0123456789abcdef01234567","x":1}')).toEqual({ $oid: '0123456789abcdef01234567', x: 1 });
  });

  it('keeps __proto__ as a plain field', () => {
    const d = parseEjson('{"__proto__":{"$numberLong":"1"}}') as Doc;
    expect(Object.getPrototypeOf(d)).toBe(Object.prototype);
    expect(Object.hasOwn(d, '__proto__')).toBe(true);
    expect(d['__proto__' as string]).toBe(1n);
  });

  it('refuses malformed wrappers and unsupported types', () => {
    expect(codeOf(() => parseEjson('{'))).toBe('INVALID_JSON');
    expect(codeOf(() => parseEjson('{"a":{"$oid":"xyz"}}'))).toBe('INVALID_JSON');
    expect(codeOf(() => parseEjson('{"a":{"$numberLong":"9223372036854775808"}}'))).toBe('INVALID_JSON');
    expect(codeOf(() => parseEjson('{"a":{"$numberInt":"2147483648"}}'))).toBe('INVALID_JSON');
    expect(codeOf(() => parseEjson('{"a":{"$date":"not a date"}}'))).toBe('INVALID_JSON');
    expect(codeOf(() => parseEjson('{"a":{"$numberDecimal":"abc"}}'))).toBe('INVALID_JSON');
    expect(codeOf(() => parseEjson('{"a":{"$minKey":1}}'))).toBe('BAD_QUERY');
    expect(codeOf(() => parseEjson('{"a":{"$timestamp":{"t":1,"i":1}}}'))).toBe('BAD_QUERY');
    expect(codeOf(() => parseEjson('['.repeat(5000) + ']'.repeat(5000)))).toBe('INVALID_JSON');
    expect(codeOf(() => parseEjson('['.repeat(500) + ']'.repeat(500)))).toBeUndefined();
  });
});

describe('toEjson / stringifyEjson', () => {
  it('writes relaxed EJSON', () => {
    const v: Doc = {
      oid: ObjectId.createFromHexString('0123456789abcdef01234567'),
      date: new Date('2020-01-01T00:00:00.000Z'),
      old: new Date(-1),
      far: new Date(253402300800000),
      small: 5n,
      big: 2n ** 60n,
      dec: Decimal128.fromString('1.5'),
      bin: new Binary(Buffer.from('ab'), 4),
      re: new BSONRegExp('a', 'i'),
      inf: Infinity,
      nan: NaN,
      plain: { x: [1, 'two', null, true] },
    };
    expect(JSON.parse(stringifyEjson(v))).toEqual({
      oid: { $oid: '0123456789abcdef01234567' },
      date: { $date: '2020-01-01T00:00:00.000Z' },
      old: { $date: { $numberLong: '-1' } },
      far: { $date: { $numberLong: '253402300800000' } },
      small: 5,
      big: { $numberLong: '1152921504606846976' },
      dec: { $numberDecimal: '1.5' },
      bin: { $binary: { base64: 'YWI=', subType: '04' } },
      re: { $regularExpression: { pattern: 'a', options: 'i' } },
      inf: { $numberDouble: 'Infinity' },
      nan: { $numberDouble: 'NaN' },
      plain: { x: [1, 'two', null, true] },
    });
  });

  it('does not copy containers that hold only JSON values', () => {
    const plain: Doc = { a: [1, { b: 'x' }], c: null };
    expect(toEjson(plain)).toBe(plain);
    const mixed: Doc = { a: plain, d: new Date(0) };
    const out = toEjson(mixed) as Record<string, unknown>;
    expect(out).not.toBe(mixed);
    expect(out.a).toBe(plain);
    expect(mixed.d).toBeInstanceOf(Date);
  });

  it('agrees with the bson package (relaxed) and round-trips generated values', () => {
    const leaf = fc.oneof(
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      // bson's relaxed reader turns an integral JSON number past 2^53 into an
      // Int64 through a lossy conversion: leave those to the other tests.
      fc.double().filter((d) => !(Number.isInteger(d) && Math.abs(d) > 2 ** 53)),
      fc.string({ maxLength: 4 }),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      fc.date({ noInvalidDate: true }),
      fc.uint8Array({ maxLength: 6 }).map((b) => new Binary(Buffer.from(b))),
      fc.uint8Array({ minLength: 12, maxLength: 12 }).map((b) => new ObjectId(Buffer.from(b))),
      fc.constantFrom('1.5', '-0.00', '1E+300', 'NaN', '-Infinity').map((s) => Decimal128.fromString(s)),
      fc.constantFrom(new BSONRegExp('^a', 'i'), new BSONRegExp('b', '')),
    );
    const value = fc.letrec<{ v: DocValue }>((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('v'), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 3 }).filter((k) => !k.startsWith('$')), tie('v'), { maxKeys: 3 })),
    })).v;
    fc.assert(
      fc.property(value, (v) => {
        const text = stringifyEjson(v);
        const back = parseEjson(text);
        expect(valuesEqual(back, v)).toBe(true);
        // The bson package accepts our output, and our reader accepts its canonical form of it.
        const theirs = EJSON.parse(text, { relaxed: true, useBigInt64: true }) as unknown;
        expect(valuesEqual(fromEjson(JSON.parse(EJSON.stringify(theirs, { relaxed: false }))), v)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
