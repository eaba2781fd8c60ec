// Entry values inside data blocks: a put is [f64 LE expiresAtMs][u8 contentType length]
// [contentType][value bytes]; a delete is empty. The kind lives in the key trailer.

import { readTrailerSeq } from './key-codec.js';
import { CorruptionError, KIND_DELETE, KIND_PUT, TRAILER_BYTES, type LsmEntry } from './sst-format.js';

const PUT_HEADER_FIXED_BYTES = 9;
const EMPTY = new Uint8Array(0);
/** Scratch for reading an unaligned f64 without allocating a DataView per entry. */
const F64_BYTES = new Uint8Array(8);
const F64_VIEW = new DataView(F64_BYTES.buffer);

/** The header bytes that precede a put's value (a fresh buffer). */
export function encodePutHeader(expiresAtMs: number, contentType: string): Uint8Array {
  const out = Buffer.allocUnsafe(PUT_HEADER_FIXED_BYTES + contentType.length);
  out.writeDoubleLE(expiresAtMs, 0);
  out[8] = contentType.length;
  out.write(contentType, PUT_HEADER_FIXED_BYTES, 'latin1');
  return out;
}

/** Decodes entries while remembering the last content type, which most neighbours share. */
export class EntryDecoder {
  private lastType = '';
  private lastTypeBytes: Uint8Array = EMPTY;

  private blockOffset = 0;

  constructor(private readonly file: string) {}

  /**
   * The entry for internal key keyBuf[0, keyLen) and its stored value (blockOffset locates
   * errors). key and value are views (valid until keyBuf/value change); a caller that
   * already holds the equal user key passes it as `userKey` to be used instead.
   * Throws CorruptionError on a bad kind or header.
   */
  decode(keyBuf: Uint8Array, keyLen: number, stored: Uint8Array, blockOffset: number, userKey?: Uint8Array): LsmEntry {
    this.blockOffset = blockOffset;
    const kind = keyBuf[keyLen - 1];
    const key = userKey ?? keyBuf.subarray(0, keyLen - TRAILER_BYTES);
    const seq = readTrailerSeq(keyBuf, keyLen);
    if (kind === KIND_DELETE) {
      if (stored.length !== 0) this.fail(`delete with a ${stored.length}-byte value`);
      return { key, seq, kind: KIND_DELETE, expiresAtMs: 0, contentType: '', value: EMPTY };
    }
    if (kind !== KIND_PUT) this.fail(`unknown entry kind ${kind}`);
    if (stored.length < PUT_HEADER_FIXED_BYTES) this.fail(`put value of ${stored.length} bytes has no header`);
    for (let i = 0; i < 8; i++) F64_BYTES[i] = stored[i];
    const expiresAtMs = F64_VIEW.getFloat64(0, true);
    const typeLen = stored[8];
    const valueStart = PUT_HEADER_FIXED_BYTES + typeLen;
    if (valueStart > stored.length) this.fail(`content type of ${typeLen} bytes overruns the value`);
    const contentType = this.contentType(stored.subarray(PUT_HEADER_FIXED_BYTES, valueStart));
    return { key, seq, kind: KIND_PUT, expiresAtMs, contentType, value: stored.subarray(valueStart) };
  }

  private contentType(bytes: Uint8Array): string {
    const last = this.lastTypeBytes;
    if (bytes.length === last.length) {
      let same = true;
      for (let i = 0; i < bytes.length; i++) {
        if (bytes[i] !== last[i]) {
          same = false;
          break;
        }
      }
      if (same) return this.lastType;
    }
    this.lastType = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
    this.lastTypeBytes = Uint8Array.from(bytes);
    return this.lastType;
  }

  private fail(what: string): never {
    throw new CorruptionError(`undecodable block: ${what}`, this.file, this.blockOffset);
  }
}
