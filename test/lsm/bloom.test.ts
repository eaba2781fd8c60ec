// Bloom filter: never a false negative, and a false-positive rate near theory.
import fc from 'fast-check';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bloomHash, bloomMayContain, buildBloom, probeCount } from '../../workers/lsm/bloom.js';
import { KIND_PUT, type LsmEntry } from '../../workers/lsm/sst-format.js';
import { makeTempDir, openTable, removeDir, writeTable } from './sst-helpers.js';

function filterOf(keys: readonly Uint8Array[], bitsPerKey: number): Uint8Array {
  return buildBloom(Uint32Array.from(keys.map(bloomHash)), keys.length, bitsPerKey);
}

describe('bloom filter', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir();
  });
  afterAll(() => removeDir(dir));

  it('has no false negatives for arbitrary key sets and bits per key', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 300 }), fc.integer({ min: 1, max: 40 }), (keys, bits) => {
        const filter = filterOf(keys, bits);
        for (const k of keys) if (!bloomMayContain(filter, k)) expect.unreachable(`false negative for ${Buffer.from(k).toString('hex')}`);
      }),
      { numRuns: 200 },
    );
  });

  it('k = round(bits · ln 2) clamped to 1..30', () => {
    expect([1, 2, 10, 16, 100].map(probeCount)).toEqual([1, 1, 7, 11, 30]);
  });

  it('a 10k-key table answers 10k absent keys with < 3 % false positives and finds every present key', () => {
    const entries: LsmEntry[] = [];
    for (let i = 0; i < 10_000; i++) {
      entries.push({ key: Buffer.from(`user:${String(i * 2).padStart(8, '0')}`), seq: i + 1, kind: KIND_PUT, expiresAtMs: 0, contentType: '', value: Buffer.from('v') });
    }
    const file = path.join(dir, '000001.sst');
    writeTable(file, entries, { bloomBitsPerKey: 10 });
    const reader = openTable(file);
    for (const e of entries) expect(reader.mayContain(e.key)).toBe(true);
    let falsePositives = 0;
    for (let i = 0; i < 10_000; i++) {
      if (reader.mayContain(Buffer.from(`user:${String(i * 2 + 1).padStart(8, '0')}`))) falsePositives++;
    }
    // Theory for 10 bits/key, k = 7: ~0.8 %.
    expect(falsePositives / 10_000).toBeLessThan(0.03);
    reader.close();
  });

  it('a malformed filter answers "maybe" rather than a false negative', () => {
    expect(bloomMayContain(Uint8Array.from([0, 0, 0]), Buffer.from('a'))).toBe(true);
    expect(bloomMayContain(new Uint8Array(0), Buffer.from('a'))).toBe(true);
  });
});
