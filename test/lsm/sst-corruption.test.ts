// Corruption and misuse: a damaged table reports CorruptionError and never returns a
// wrong value; the writer refuses bad input and cleans up after itself.
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CorruptionError, KIND_DELETE, KIND_PUT, type LsmEntry } from '../../workers/lsm/sst-format.js';
import type { SstReader } from '../../workers/lsm/sst-reader.js';
import { SstWriter } from '../../workers/lsm/sst-writer.js';
import { makeTempDir, openTable, readAll, removeDir, sameEntry, writeTable } from './sst-helpers.js';

function sampleEntries(): LsmEntry[] {
  const out: LsmEntry[] = [];
  for (let i = 0; i < 300; i++) {
    const key = Buffer.from(`item/${String(i).padStart(5, '0')}`);
    out.push({ key, seq: 1000 + i, kind: KIND_PUT, expiresAtMs: i % 4 === 0 ? 1_800_000_000_000 : 0, contentType: 'text/plain', value: Buffer.from(`value ${i} `.repeat(1 + (i % 9))) });
    if (i % 5 === 0) out.push({ key, seq: 10 + i, kind: KIND_DELETE, expiresAtMs: 0, contentType: '', value: new Uint8Array(0) });
  }
  return out;
}

/** Where the data blocks end (the filter block starts), from the index. */
function dataEnd(reader: SstReader): number {
  const last = reader.index.count - 1;
  return reader.index.offsetOf(last) + reader.index.sizeOf(last) + 5;
}

function expectCorruption(fn: () => unknown): CorruptionError {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof CorruptionError)) throw err;
    return err;
  }
  throw new Error('expected a CorruptionError');
}

describe('sst corruption', () => {
  let dir: string;
  let n = 0;
  const entries = sampleEntries();
  const tables: Record<'lz4' | 'plain', { file: string; bytes: Buffer; dataEnd: number }> = {} as never;
  beforeAll(() => {
    dir = makeTempDir();
    for (const compress of [true, false]) {
      const file = path.join(dir, compress ? 'lz4.sst' : 'plain.sst');
      writeTable(file, entries, { blockBytes: 512, compress });
      const reader = openTable(file);
      tables[compress ? 'lz4' : 'plain'] = { file, bytes: fs.readFileSync(file), dataEnd: dataEnd(reader) };
      reader.close();
    }
  });
  afterAll(() => removeDir(dir));

  const damaged = (bytes: Buffer): string => {
    const file = path.join(dir, `damaged-${++n}.sst`);
    fs.writeFileSync(file, bytes);
    return file;
  };
  const flipped = (bytes: Buffer, at: number, mask: number): string => {
    const copy = Buffer.from(bytes);
    copy[at] ^= mask;
    return damaged(copy);
  };

  it('a flipped byte in a data block: reads of that block throw, every other read is right', () => {
    const tableArb = fc.constantFrom('lz4' as const, 'plain' as const);
    fc.assert(
      fc.property(tableArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (name, at, mask) => {
        const table = tables[name];
        const reader = openTable(flipped(table.bytes, at % table.dataEnd, mask));
        try {
          const err = expectCorruption(() => readAll(reader));
          expect(err.message).toMatch(/bad block checksum/);
          let failures = 0;
          for (const e of entries) {
            try {
              const got = reader.get(e.key, e.seq);
              if (!sameEntry(got, e)) expect.unreachable(`wrong value for ${Buffer.from(e.key).toString()}@${e.seq}`);
            } catch (err) {
              if (!(err instanceof CorruptionError)) throw err;
              failures++;
            }
          }
          expect(failures).toBeGreaterThan(0);
        } finally {
          reader.close();
        }
      }),
      { numRuns: 40 },
    );
  });

  it('a flipped byte anywhere in filter, meta, index or footer fails open', () => {
    for (const name of ['lz4', 'plain'] as const) {
      const table = tables[name];
      for (let at = table.dataEnd; at < table.bytes.length; at += 3) {
        const err = expectCorruption(() => openTable(flipped(table.bytes, at, at % 2 === 0 ? 0x01 : 0x80)));
        expect(err.file).toContain('damaged-');
      }
    }
  });

  it('a truncated table fails open, whatever the length', () => {
    const table = tables.lz4;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: table.bytes.length - 1 }), (length) => {
        const err = expectCorruption(() => openTable(damaged(table.bytes.subarray(0, length))));
        expect(err.message).toMatch(/truncated|magic|checksum|past the footer/);
      }),
      { numRuns: 60 },
    );
    expect(expectCorruption(() => openTable(damaged(Buffer.alloc(0)))).message).toMatch(/truncated/);
  });

  /** Offset and payload size of data block `block` of a clean table. */
  const blockSpan = (file: string, block: number): { offset: number; size: number } => {
    const clean = openTable(file);
    try {
      const b = block % clean.index.count;
      return { offset: clean.index.offsetOf(b), size: clean.index.sizeOf(b) };
    } finally {
      clean.close();
    }
  };
  /** Rewrites a block's crc so the damage gets past the checksum, as a writer bug would. */
  const refreshCrc = (bytes: Buffer, offset: number, size: number): void => {
    bytes.writeUInt32LE(crc32(bytes.subarray(offset + size, offset + size + 1), crc32(bytes.subarray(offset, offset + size))), offset + size + 1);
  };
  /** Reads everything from a damaged table: any error must be a CorruptionError. */
  const readsOnlyCorruption = (bytes: Buffer): void => {
    const reader = openTable(damaged(bytes));
    try {
      readAll(reader);
      for (const e of entries) reader.get(e.key, e.seq);
    } catch (err) {
      if (!(err instanceof CorruptionError)) throw err;
    } finally {
      reader.close();
    }
  };

  it('a damaged block whose checksum was recomputed (a writer bug) throws only CorruptionError', () => {
    const tableArb = fc.constantFrom('lz4' as const, 'plain' as const);
    const flipsArb = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 });
    fc.assert(
      fc.property(tableArb, fc.nat(), flipsArb, (name, block, flips) => {
        const table = tables[name];
        const { offset, size } = blockSpan(table.file, block);
        const copy = Buffer.from(table.bytes);
        for (const [at, mask] of flips) copy[offset + (at % size)] ^= mask;
        refreshCrc(copy, offset, size);
        readsOnlyCorruption(copy);
      }),
      { numRuns: 150 },
    );
  });

  it('a block of random bytes with a matching checksum throws only CorruptionError', () => {
    const table = tables.plain;
    const { offset, size } = blockSpan(table.file, 1);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: size, maxLength: size }), fc.constantFrom(0, 1, 7), (garbage, compression) => {
        const copy = Buffer.from(table.bytes);
        copy.set(garbage, offset);
        copy[offset + size] = compression;
        refreshCrc(copy, offset, size);
        readsOnlyCorruption(copy);
      }),
      { numRuns: 100 },
    );
  });
});

describe('sst writer misuse', () => {
  let dir: string;
  beforeAll(() => {
    dir = makeTempDir();
  });
  afterAll(() => removeDir(dir));
  const put = (key: string, seq: number): LsmEntry => ({ key: Buffer.from(key), seq, kind: KIND_PUT, expiresAtMs: 0, contentType: '', value: Buffer.from('v') });

  it('rejects adds out of internal order, naming both keys', () => {
    const file = path.join(dir, 'order.sst');
    const writer = SstWriter.create(file, 1);
    writer.add(put('b', 5));
    expect(() => writer.add(put('a', 9))).toThrow(/"a".*seq 9.*after.*"b".*seq 5/);
    expect(() => writer.add(put('b', 5))).toThrow(/out of order/);
    expect(() => writer.add(put('b', 6))).toThrow(/out of order/);
    writer.add(put('b', 4));
    writer.add(put('c', 100));
    expect(writer.entries).toBe(3);
    writer.abort();
    expect(fs.existsSync(file)).toBe(false);
  });

  it('rejects entries outside the format: seq, key size, content type', () => {
    const writer = SstWriter.create(path.join(dir, 'limits.sst'), 2);
    expect(() => writer.add(put('a', 0))).toThrow(RangeError);
    expect(() => writer.add(put('a', 2 ** 53))).toThrow(RangeError);
    expect(() => writer.add({ ...put('a', 1), key: Buffer.alloc(65536) })).toThrow(RangeError);
    expect(() => writer.add({ ...put('a', 1), contentType: 'é' })).toThrow(RangeError);
    expect(() => writer.add({ ...put('a', 1), contentType: 'x'.repeat(256) })).toThrow(RangeError);
    writer.abort();
  });

  it('abort removes the partial file, also twice; after finish it leaves the table alone', () => {
    const file = path.join(dir, 'abort.sst');
    const writer = SstWriter.create(file, 3, { blockBytes: 256, compress: false });
    for (let i = 0; i < 5000; i++) writer.add({ ...put(`k${String(i).padStart(6, '0')}`, 1), value: Buffer.alloc(400, i) });
    expect(writer.estimatedBytes).toBeGreaterThan(1024 * 1024); // some of it reached the disk
    expect(fs.statSync(file).size).toBeGreaterThan(0);
    writer.abort();
    writer.abort();
    expect(fs.existsSync(file)).toBe(false);
    expect(() => writer.add(put('z', 1))).toThrow(/aborted/);

    const kept = path.join(dir, 'kept.sst');
    const done = SstWriter.create(kept, 4);
    done.add(put('a', 1));
    const meta = done.finish();
    done.abort();
    expect(fs.statSync(kept).size).toBe(meta.fileBytes);
    expect(() => done.finish()).toThrow(/finished/);
  });

  it('refuses to overwrite an existing file (EEXIST from fs)', () => {
    const file = path.join(dir, 'exists.sst');
    fs.writeFileSync(file, 'x');
    expect(() => SstWriter.create(file, 5)).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(fs.readFileSync(file, 'utf8')).toBe('x');
  });

  it('a missing directory surfaces the fs error (ENOENT)', () => {
    expect(() => SstWriter.create(path.join(dir, 'no', 'such.sst'), 6)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });
});
