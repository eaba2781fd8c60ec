// Byte-level codecs shared by the block builder and reader: varints, the 8-byte
// internal-key trailer, and comparisons over sub-ranges without allocating views.

import { SEEK_SEQ, TRAILER_BYTES } from './sst-format.js';

const TWO_32 = 2 ** 32;

/** Bytes a varint of `value` takes. REQUIRES: 0 ≤ value ≤ 2^53. */
export function varintBytes(value: number): number {
  let n = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

/** Writes a varint (7 bits a byte, low first) at `at`; returns the offset after it. REQUIRES: room, 0 ≤ value ≤ 2^53. */
export function writeVarint(out: Uint8Array, at: number, value: number): number {
  while (value >= 0x80) {
    out[at++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  out[at++] = value;
  return at;
}

/** A varint decoder over a byte range; `bad` turns true (and values read 0) on overrun or overlong input. */
export class VarintReader {
  pos: number;
  bad = false;
  constructor(
    private readonly buf: Uint8Array,
    pos: number,
    private readonly end: number,
  ) {
    this.pos = pos;
  }

  read(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= this.end) break;
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
    }
    this.bad = true;
    return 0;
  }
}

/** Writes the 8-byte trailer (7-byte big-endian seq, kind) at `at`. REQUIRES: 0 ≤ seq ≤ SEEK_SEQ. */
export function writeTrailer(out: Uint8Array, at: number, seq: number, kind: number): void {
  const hi = Math.floor(seq / TWO_32);
  const lo = seq >>> 0;
  out[at] = hi >>> 16;
  out[at + 1] = (hi >>> 8) & 0xff;
  out[at + 2] = hi & 0xff;
  out[at + 3] = lo >>> 24;
  out[at + 4] = (lo >>> 16) & 0xff;
  out[at + 5] = (lo >>> 8) & 0xff;
  out[at + 6] = lo & 0xff;
  out[at + 7] = kind;
}

/** The seq of the internal key buf[start, end). REQUIRES: end - start ≥ 8. */
export function readTrailerSeq(buf: Uint8Array, end: number): number {
  const at = end - TRAILER_BYTES;
  const hi = (buf[at] << 16) | (buf[at + 1] << 8) | buf[at + 2];
  const lo = ((buf[at + 3] << 24) | (buf[at + 4] << 16) | (buf[at + 5] << 8) | buf[at + 6]) >>> 0;
  return hi * TWO_32 + lo;
}

/** Bytewise comparison of a[aStart, aEnd) with b[bStart, bEnd): -1, 0 or 1. */
export function compareRange(
  a: Uint8Array,
  aStart: number,
  aEnd: number,
  b: Uint8Array,
  bStart: number,
  bEnd: number,
): number {
  const aLen = aEnd - aStart;
  const bLen = bEnd - bStart;
  const n = aLen < bLen ? aLen : bLen;
  for (let i = 0; i < n; i++) {
    const x = a[aStart + i];
    const y = b[bStart + i];
    if (x !== y) return x < y ? -1 : 1;
  }
  return aLen < bLen ? -1 : aLen > bLen ? 1 : 0;
}

/**
 * Compares the internal key buf[start, end) (user key + trailer) with (userKey, seq).
 * REQUIRES: end - start ≥ 8.
 */
export function compareEncoded(buf: Uint8Array, start: number, end: number, userKey: Uint8Array, seq: number): number {
  const c = compareRange(buf, start, end - TRAILER_BYTES, userKey, 0, userKey.length);
  if (c !== 0) return c;
  const s = readTrailerSeq(buf, end);
  return s > seq ? -1 : s < seq ? 1 : 0;
}

/** A fresh internal key (userKey + trailer). */
export function encodeInternalKey(userKey: Uint8Array, seq: number, kind: number): Uint8Array {
  const out = new Uint8Array(userKey.length + TRAILER_BYTES);
  out.set(userKey, 0);
  writeTrailer(out, userKey.length, seq, kind);
  return out;
}

/**
 * LevelDB's FindShortestSeparator on internal keys: an internal key k with
 * last ≤ k < next, shorter than `last` when the user keys allow it.
 * REQUIRES: last < next in internal order.
 */
export function shortestSeparator(last: Uint8Array, next: Uint8Array): Uint8Array {
  const lastUser = last.length - TRAILER_BYTES;
  const nextUser = next.length - TRAILER_BYTES;
  const n = Math.min(lastUser, nextUser);
  let diff = 0;
  while (diff < n && last[diff] === next[diff]) diff++;
  if (diff < n) {
    const byte = last[diff];
    if (byte < 0xff && byte + 1 < next[diff] && diff + 1 < lastUser) {
      return withSeekTrailer(last, diff, byte + 1);
    }
  }
  return last;
}

/** LevelDB's FindShortSuccessor: a short internal key ≥ `last`. */
export function shortSuccessor(last: Uint8Array): Uint8Array {
  const lastUser = last.length - TRAILER_BYTES;
  for (let i = 0; i < lastUser; i++) {
    if (last[i] !== 0xff) {
      return i + 1 < lastUser ? withSeekTrailer(last, i, last[i] + 1) : last;
    }
  }
  return last;
}

/** last[0, prefix) + lastByte + trailer(SEEK_SEQ, put). */
function withSeekTrailer(last: Uint8Array, prefix: number, lastByte: number): Uint8Array {
  const out = new Uint8Array(prefix + 1 + TRAILER_BYTES);
  out.set(last.subarray(0, prefix), 0);
  out[prefix] = lastByte;
  writeTrailer(out, prefix + 1, SEEK_SEQ, 1);
  return out;
}

/** A printable name for a key in error messages: UTF-8 when printable, else hex; cut at 64 bytes. */
export function describeKey(key: Uint8Array): string {
  const cut = key.subarray(0, 64);
  const more = key.length > 64 ? `…(${key.length} bytes)` : '';
  const text = Buffer.from(cut.buffer, cut.byteOffset, cut.byteLength).toString('utf8');
  // eslint-disable-next-line no-control-regex
  if (!/[\u0000-\u001f\u007f\ufffd]/.test(text)) return JSON.stringify(text) + more;
  return '0x' + Buffer.from(cut.buffer, cut.byteOffset, cut.byteLength).toString('hex') + more;
}
