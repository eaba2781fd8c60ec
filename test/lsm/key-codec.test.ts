// Internal-key codecs: varints, trailers and the index separators.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compareEncoded,
  encodeInternalKey,
  readTrailerSeq,
  shortestSeparator,
  shortSuccessor,
  varintBytes,
  VarintReader,
  writeVarint,
} from '../../workers/lsm/key-codec.js';
import { compareInternal, SEEK_SEQ } from '../../workers/lsm/sst-format.js';

const keyArb = fc.uint8Array({ maxLength: 10 }).map((b) => b.map((x) => [0, 1, 0x61, 0x62, 0xfe, 0xff][x % 6]));
const seqArb = fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 2 ** 53 - 1 }));

function decodeSep(sep: Uint8Array): [Uint8Array, number] {
  return [sep.subarray(0, sep.length - 8), readTrailerSeq(sep, sep.length)];
}

describe('key codec', () => {
  it('varints round trip up to 2^53', () => {
    fc.assert(
      fc.property(fc.oneof(fc.nat(), fc.integer({ min: 0, max: 2 ** 53 })), (n) => {
        const buf = new Uint8Array(10);
        const end = writeVarint(buf, 0, n);
        expect(end).toBe(varintBytes(n));
        const r = new VarintReader(buf, 0, end);
        expect(r.read()).toBe(n);
        expect(r.bad).toBe(false);
      }),
    );
    const truncated = new VarintReader(Uint8Array.from([0x80, 0x80]), 0, 2);
    truncated.read();
    expect(truncated.bad).toBe(true);
  });

  it('encoded internal keys order as compareInternal', () => {
    fc.assert(
      fc.property(keyArb, seqArb, keyArb, seqArb, (a, as, b, bs) => {
        const enc = encodeInternalKey(a, as, 1);
        expect(readTrailerSeq(enc, enc.length)).toBe(as);
        expect(compareEncoded(enc, 0, enc.length, b, bs)).toBe(compareInternal(a, as, b, bs));
      }),
    );
  });

  it('a separator lies in [last, next) and a successor is ≥ last', () => {
    fc.assert(
      fc.property(keyArb, seqArb, keyArb, seqArb, (a, as, b, bs) => {
        const c = compareInternal(a, as, b, bs);
        fc.pre(c !== 0);
        const [lo, loSeq, hi, hiSeq] = c < 0 ? [a, as, b, bs] : [b, bs, a, as];
        const [sep, sepSeq] = decodeSep(shortestSeparator(encodeInternalKey(lo, loSeq, 1), encodeInternalKey(hi, hiSeq, 0)));
        expect(compareInternal(sep, sepSeq, lo, loSeq)).toBeGreaterThanOrEqual(0);
        expect(compareInternal(sep, sepSeq, hi, hiSeq)).toBeLessThan(0);
        const [succ, succSeq] = decodeSep(shortSuccessor(encodeInternalKey(lo, loSeq, 1)));
        expect(compareInternal(succ, succSeq, lo, loSeq)).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 500 },
    );
  });

  it('shortens user keys that differ early', () => {
    const sep = shortestSeparator(encodeInternalKey(Buffer.from('user/apple'), 5, 1), encodeInternalKey(Buffer.from('user/melon'), 9, 1));
    expect(Buffer.from(decodeSep(sep)[0]).toString()).toBe('user/b');
    expect(decodeSep(sep)[1]).toBe(SEEK_SEQ);
  });
});
