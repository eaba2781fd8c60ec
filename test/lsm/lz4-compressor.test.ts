// The TypeScript LZ4 compressor: lz4-napi's uncompressSync reads back exactly what went in.
import fc from 'fast-check';
import { uncompressSync } from 'lz4-napi';
import { describe, expect, it } from 'vitest';
import { lz4Compress } from '../../workers/lsm/lz4-compressor.js';

/** Inputs with structure: runs, repeats at short and long distances, and noise. */
const inputArb = fc
  .array(
    fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 600 })).map(([b, n]) => new Uint8Array(n).fill(b)),
      fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 50 })).map(([p, n]) => Uint8Array.from({ length: p.length * n }, (_, i) => p[i % p.length])),
    ),
    { maxLength: 30 },
  )
  .map((parts) => Buffer.concat(parts));

describe('lz4 compressor', () => {
  it('round trips through lz4-napi uncompressSync', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const packed = lz4Compress(input, input.length + 1024);
        expect(packed).not.toBeNull();
        expect(Buffer.from(uncompressSync(packed as Uint8Array)).equals(input)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('returns null instead of output over the limit, and never writes past it', () => {
    fc.assert(
      fc.property(inputArb, fc.nat(2000), (input, limit) => {
        const packed = lz4Compress(input, limit);
        if (packed !== null) {
          expect(packed.length).toBeLessThanOrEqual(limit + 4);
          expect(Buffer.from(uncompressSync(packed)).equals(input)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('compresses repetitive data, and large inputs with matches far apart', () => {
    const text = Buffer.from('the quick brown fox jumps over the lazy dog; '.repeat(2000));
    const packed = lz4Compress(text, text.length) as Uint8Array;
    expect(packed.length).toBeLessThan(text.length / 20);
    const big = Buffer.alloc(300_000);
    for (let i = 0; i < big.length; i++) big[i] = (Math.imul(i >>> 10, 2654435761) >>> 24) ^ (i & 3);
    const bigPacked = lz4Compress(big, big.length * 2) as Uint8Array;
    expect(Buffer.from(uncompressSync(bigPacked)).equals(big)).toBe(true);
  });
});
