// Bit packing for the column encodings: non-negative integers below 2^53 packed
// at a fixed width into little-endian 32-bit words. Widths above 32 are split
// into two streams (the low 32 bits, then the high width-32 bits) so every
// step stays in 32-bit integer arithmetic.

const TWO32 = 4294967296;

/** The bits needed for non-negative integers up to `max` (0 for 0). REQUIRES: max < 2^53. */
export function bitWidth(max: number): number {
  if (max < TWO32) return 32 - Math.clz32(max);
  return 32 + (32 - Math.clz32(Math.floor(max / TWO32)));
}

/** Bytes packBits writes for n values of `width` bits. */
export function packedBytes(n: number, width: number): number {
  if (width <= 32) return Math.ceil((n * width) / 32) * 4;
  return n * 4 + Math.ceil((n * (width - 32)) / 32) * 4;
}

/**
 * Packs (values[i] - base) for i in [from, from + n) at `width` bits into out[at…]; returns the
 * end. REQUIRES: every difference is an integer in [0, 2^width), out has packedBytes room.
 */
export function packBits(values: Float64Array, from: number, n: number, base: number, width: number, out: Uint8Array, at: number): number {
  if (width === 0 || n === 0) return at;
  if (width <= 32) return packStream(values, from, n, base, width, out, at, false);
  const lowEnd = packStream(values, from, n, base, 32, out, at, false);
  return packStream(values, from, n, base, width - 32, out, lowEnd, true);
}

function packStream(values: Float64Array, from: number, n: number, base: number, width: number, out: Uint8Array, at: number, high: boolean): number {
  let acc = 0;
  let accBits = 0;
  const end = from + n;
  for (let i = from; i < end; i++) {
    const d = values[i] - base;
    const v = high ? Math.floor(d / TWO32) : d % TWO32;
    acc |= v << accBits;
    accBits += width;
    if (accBits >= 32) {
      out[at] = acc;
      out[at + 1] = acc >>> 8;
      out[at + 2] = acc >>> 16;
      out[at + 3] = acc >>> 24;
      at += 4;
      accBits -= 32;
      acc = accBits > 0 ? v >>> (width - accBits) : 0;
    }
  }
  if (accBits > 0) {
    out[at] = acc;
    out[at + 1] = acc >>> 8;
    out[at + 2] = acc >>> 16;
    out[at + 3] = acc >>> 24;
    at += 4;
  }
  return at;
}

/** The 32-bit words of bytes[at, at + 4·count): a view when aligned, else a copy. */
function words(bytes: Uint8Array, at: number, count: number): Uint32Array {
  if (((bytes.byteOffset + at) & 3) === 0) return new Uint32Array(bytes.buffer, bytes.byteOffset + at, count);
  const w = new Uint32Array(count);
  new Uint8Array(w.buffer).set(bytes.subarray(at, at + count * 4));
  return w;
}

/**
 * Unpacks n values of `width` bits from bytes[at…] into out[0, n) as base + value. Returns the
 * end offset in bytes.
 */
export function unpackBits(bytes: Uint8Array, at: number, n: number, base: number, width: number, out: Float64Array): number {
  if (width === 0) {
    out.fill(base, 0, n);
    return at;
  }
  if (width === 32) {
    const lo = words(bytes, at, n);
    for (let i = 0; i < n; i++) out[i] = base + lo[i];
    return at + n * 4;
  }
  if (width < 32) {
    const count = Math.ceil((n * width) / 32);
    const w = words(bytes, at, count);
    const mask = (1 << width) >>> 0 === 0 ? 0xffffffff : (1 << width) - 1;
    let bit = 0;
    for (let i = 0; i < n; i++, bit += width) {
      const word = bit >>> 5;
      const off = bit & 31;
      let v = w[word] >>> off;
      if (off + width > 32) v |= w[word + 1] << (32 - off);
      out[i] = base + ((v & mask) >>> 0);
    }
    return at + count * 4;
  }
  const lo = words(bytes, at, n);
  const highWidth = width - 32;
  const count = Math.ceil((n * highWidth) / 32);
  const hw = words(bytes, at + n * 4, count);
  const mask = (1 << highWidth) - 1;
  let bit = 0;
  for (let i = 0; i < n; i++, bit += highWidth) {
    const word = bit >>> 5;
    const off = bit & 31;
    let v = hw[word] >>> off;
    if (off + highWidth > 32) v |= hw[word + 1] << (32 - off);
    out[i] = base + (((v & mask) >>> 0) * TWO32 + lo[i]);
  }
  return at + n * 4 + count * 4;
}

/**
 * Delta decoding fused with unpacking: out[0] = first, out[i] = out[i - 1] + base + value(i - 1)
 * for the n - 1 packed values. Returns the end offset in bytes.
 */
export function unpackDeltas(bytes: Uint8Array, at: number, n: number, first: number, base: number, width: number, out: Float64Array): number {
  if (n === 0) return at;
  out[0] = first;
  if (width === 0 || width > 31) {
    const end = unpackBits(bytes, at, n - 1, base, width, out.subarray(1));
    for (let i = 1; i < n; i++) out[i] += out[i - 1];
    return end;
  }
  const count = Math.ceil(((n - 1) * width) / 32);
  const w = words(bytes, at, count);
  const mask = (1 << width) - 1;
  let run = first;
  let bit = 0;
  for (let i = 1; i < n; i++, bit += width) {
    const word = bit >>> 5;
    const off = bit & 31;
    let v = w[word] >>> off;
    if (off + width > 32) v |= w[word + 1] << (32 - off);
    run += base + (v & mask);
    out[i] = run;
  }
  return at + count * 4;
}
