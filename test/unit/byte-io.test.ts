// shared/byte-io.ts: the little-endian writer and reader under the wire codecs.
import { describe, expect, it } from 'vitest';
import { ByteReader, ByteWriter, FrameError } from '../../shared/byte-io.js';

describe('ByteWriter', () => {
  it('round-trips every field type within its first buffer', () => {
    const w = new ByteWriter(256);
    w.u8(0xab).u16(0xbeef).u32(0xdeadbeef).f64(-1.5).bytes(Uint8Array.of(1, 2)).shortBytes(Uint8Array.of(3)).longBytes(Uint8Array.of(4, 5)).str('ü');
    const r = new ByteReader(w.finish());
    expect([r.u8(), r.u16(), r.u32(), r.f64()]).toEqual([0xab, 0xbeef, 0xdeadbeef, -1.5]);
    expect(Array.from(r.bytes(2))).toEqual([1, 2]);
    expect(Array.from(r.shortBytes())).toEqual([3]);
    expect(Array.from(r.longBytes())).toEqual([4, 5]);
    expect(r.str()).toBe('ü');
    expect(r.remaining()).toBe(0);
  });

  // Each case writes one byte into a 1-byte writer, then a field that forces it to grow.
  const GROWS: ReadonlyArray<readonly [string, (w: ByteWriter) => void, (r: ByteReader) => unknown, unknown]> = [
    ['u8', (w) => w.u8(0x7f), (r) => r.u8(), 0x7f],
    ['u16', (w) => w.u16(0x1234), (r) => r.u16(), 0x1234],
    ['u32', (w) => w.u32(0x01020304), (r) => r.u32(), 0x01020304],
    ['f64', (w) => w.f64(Math.PI), (r) => r.f64(), Math.PI],
    ['bytes', (w) => w.bytes(new Uint8Array(1000).fill(9)), (r) => Array.from(r.bytes(1000)), new Array<number>(1000).fill(9)],
    ['shortBytes', (w) => w.shortBytes(new Uint8Array(300).fill(8)), (r) => Array.from(r.shortBytes()), new Array<number>(300).fill(8)],
    ['longBytes', (w) => w.longBytes(new Uint8Array(5000).fill(6)), (r) => Array.from(r.longBytes()), new Array<number>(5000).fill(6)],
    ['str', (w) => w.str('grow '.repeat(100)), (r) => r.str(), 'grow '.repeat(100)],
  ];

  it.each(GROWS)('grows its buffer for %s and keeps earlier bytes', (_, write, read, expected) => {
    const w = new ByteWriter(1);
    w.u8(0x55);
    write(w);
    const frame = w.finish();
    const r = new ByteReader(frame);
    expect(r.u8()).toBe(0x55);
    expect(read(r)).toEqual(expected);
    expect(r.remaining()).toBe(0);
  });

  it('grows many times over a long run of writes', () => {
    const w = new ByteWriter(2);
    for (let i = 0; i < 10_000; i++) w.u32(i);
    const r = new ByteReader(w.finish());
    for (let i = 0; i < 10_000; i++) expect(r.u32()).toBe(i);
  });
});

describe('ByteReader', () => {
  it('throws FrameError, not RangeError, when reading past the end of a view into a larger buffer', () => {
    const backing = new Uint8Array(64).fill(1);
    const view = backing.subarray(8, 11); // 3 bytes, with more bytes after it in the buffer
    expect(() => new ByteReader(view).u32()).toThrow(FrameError);
    expect(() => new ByteReader(view).bytes(4)).toThrow(FrameError);
    expect(() => new ByteReader(view, 2).u16()).toThrow(FrameError);
    expect(() => new ByteReader(Uint8Array.of(0xff, 0xff)).shortBytes()).toThrow(FrameError);
    expect(() => new ByteReader(Uint8Array.of(0xff, 0xff, 0xff, 0xff)).longBytes()).toThrow(FrameError);
    const r = new ByteReader(view);
    expect(r.u16()).toBe(0x0101);
    expect(Array.from(r.rest())).toEqual([1]);
    expect(r.remaining()).toBe(0);
  });
});
