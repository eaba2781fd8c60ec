// UTF-8 helpers for the table codecs: short strings (the common case for keys and
// row cells) are encoded and decoded by hand, which beats TextEncoder /
// TextDecoder's call overhead; long ones go through them. Lone surrogates are
// written as WTF-8 (three bytes, as if they were code points) and read back so,
// so every JS string round-trips; byte order is code point order.

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: false });
const SHORT = 64;

/** An upper bound of the UTF-8 length of `s`. */
export function utf8MaxBytes(s: string): number {
  return s.length * 3;
}

/**
 * Writes `s` at `out[at…]` (REQUIRES room for utf8MaxBytes(s)); returns the end. Lone surrogates
 * become WTF-8 triples.
 */
export function writeUtf8(s: string, out: Uint8Array, at: number): number {
  const n = s.length;
  let i = 0;
  // ASCII fast path.
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) break;
    out[at++] = c;
  }
  if (i === n) return at;
  if (n - i > SHORT && s.isWellFormed()) {
    const { written } = encoder.encodeInto(i === 0 ? s : s.slice(i), out.subarray(at));
    return at + written;
  }
  for (; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      out[at++] = c;
    } else if (c < 0x800) {
      out[at++] = 0xc0 | (c >> 6);
      out[at++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          out[at++] = 0xf0 | (c >> 18);
          out[at++] = 0x80 | ((c >> 12) & 0x3f);
          out[at++] = 0x80 | ((c >> 6) & 0x3f);
          out[at++] = 0x80 | (c & 0x3f);
          continue;
        }
      }
      out[at++] = 0xe0 | (c >> 12);
      out[at++] = 0x80 | ((c >> 6) & 0x3f);
      out[at++] = 0x80 | (c & 0x3f);
    }
  }
  return at;
}

type SliceFn = (this: Uint8Array, start: number, end: number) => string;
const nativeSlices = Buffer.prototype as unknown as { latin1Slice?: SliceFn; utf8Slice?: SliceFn };
/** Node's Buffer slicers, which work on any Uint8Array without wrapping it (null if absent). */
const latin1Slice: SliceFn | null = typeof nativeSlices.latin1Slice === 'function' ? nativeSlices.latin1Slice : null;
const utf8Slice: SliceFn | null = typeof nativeSlices.utf8Slice === 'function' ? nativeSlices.utf8Slice : null;

/** The string of bytes[start, end) (WTF-8: lone surrogates come back as written). */
export function readUtf8(bytes: Uint8Array, start: number, end: number): string {
  const len = end - start;
  if (len <= 0) return '';
  let ascii = true;
  for (let i = start; i < end; i++) {
    if (bytes[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    if (len <= 8 || latin1Slice === null) {
      let s = '';
      for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]);
      return s;
    }
    return latin1Slice.call(bytes, start, end);
  }
  if (!hasSurrogateTriple(bytes, start, end)) {
    return utf8Slice !== null ? utf8Slice.call(bytes, start, end) : decoder.decode(bytes.subarray(start, end));
  }
  return readWtf8(bytes, start, end);
}

/** Decodes WTF-8 by hand (lone surrogates as three-byte sequences). */
function readWtf8(bytes: Uint8Array, start: number, end: number): string {
  let s = '';
  let i = start;
  while (i < end) {
    const b = bytes[i];
    if (b < 0x80) {
      s += String.fromCharCode(b);
      i++;
    } else if (b < 0xe0) {
      s += String.fromCharCode(((b & 0x1f) << 6) | (bytes[i + 1] & 0x3f));
      i += 2;
    } else if (b < 0xf0) {
      s += String.fromCharCode(((b & 0x0f) << 12) | ((bytes[i + 1] & 0x3f) << 6) | (bytes[i + 2] & 0x3f));
      i += 3;
    } else {
      const cp = ((b & 0x07) << 18) | ((bytes[i + 1] & 0x3f) << 12) | ((bytes[i + 2] & 0x3f) << 6) | (bytes[i + 3] & 0x3f);
      s += String.fromCodePoint(cp);
      i += 4;
    }
  }
  return s;
}

/** Does bytes[start, end) hold a WTF-8 surrogate (ED A0..BF ..)? */
function hasSurrogateTriple(b: Uint8Array, start: number, end: number): boolean {
  for (let i = b.indexOf(0xed, start); i >= 0 && i + 1 < end; i = b.indexOf(0xed, i + 1)) {
    if (b[i + 1] >= 0xa0) return true;
  }
  return false;
}

/** Encodes `s` into a fresh array (WTF-8). */
export function utf8Bytes(s: string): Uint8Array {
  const out = new Uint8Array(utf8MaxBytes(s));
  return out.slice(0, writeUtf8(s, out, 0));
}
