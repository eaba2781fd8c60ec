// Little-endian byte writer/reader for ring frames and WAL payloads. A reader
// that runs off the end throws FrameError, which the caller reports as a
// corrupt frame rather than crashing deep inside a decoder.

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });

export class FrameError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(initialBytes = 256) {
    this.buf = new Uint8Array(initialBytes);
    this.view = new DataView(this.buf.buffer);
  }

  private reserve(bytes: number): number {
    const need = this.length + bytes;
    if (need > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < need) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.length;
    this.length = need;
    return at;
  }

  // reserve() may swap in a bigger buffer: take the offset before touching it.
  u8(v: number): this { const at = this.reserve(1); this.view.setUint8(at, v); return this; }
  u16(v: number): this { const at = this.reserve(2); this.view.setUint16(at, v, true); return this; }
  u32(v: number): this { const at = this.reserve(4); this.view.setUint32(at, v >>> 0, true); return this; }
  f64(v: number): this { const at = this.reserve(8); this.view.setFloat64(at, v, true); return this; }
  bytes(v: Uint8Array): this { const at = this.reserve(v.length); this.buf.set(v, at); return this; }
  /** u16 length + bytes. */
  shortBytes(v: Uint8Array): this {
    if (v.length > 0xffff) throw new RangeError(`field of ${v.length} bytes does not fit a u16 length`);
    return this.u16(v.length).bytes(v);
  }
  /** u32 length + bytes. */
  longBytes(v: Uint8Array): this { return this.u32(v.length).bytes(v); }
  /** u16 length + UTF-8. */
  str(v: string): this { return this.shortBytes(encoder.encode(v)); }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

export class ByteReader {
  private readonly view: DataView;
  at: number;

  constructor(private readonly buf: Uint8Array, at = 0) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.at = at;
  }

  private take(bytes: number): number {
    const at = this.at;
    if (at + bytes > this.buf.length) {
      throw new FrameError(`frame truncated: need ${bytes} bytes at ${at}, have ${this.buf.length - at}`);
    }
    this.at = at + bytes;
    return at;
  }

  u8(): number { return this.view.getUint8(this.take(1)); }
  u16(): number { return this.view.getUint16(this.take(2), true); }
  u32(): number { return this.view.getUint32(this.take(4), true); }
  f64(): number { return this.view.getFloat64(this.take(8), true); }
  bytes(length: number): Uint8Array { const at = this.take(length); return this.buf.subarray(at, at + length); }
  shortBytes(): Uint8Array { return this.bytes(this.u16()); }
  longBytes(): Uint8Array { return this.bytes(this.u32()); }
  str(): string { return decoder.decode(this.shortBytes()); }
  rest(): Uint8Array { return this.bytes(this.buf.length - this.at); }
  remaining(): number { return this.buf.length - this.at; }
}
