// A cursor over one decoded (checksum-verified, decompressed) block. Every length is
// bounds-checked: a block that cannot be decoded throws CorruptionError, never
// yields garbage or reads past its end.

import { compareEncoded } from './key-codec.js';
import { CorruptionError, TRAILER_BYTES } from './sst-format.js';

const EMPTY = new Uint8Array(0);

export class BlockIterator {
  private data: Uint8Array = EMPTY;
  private blockOffset = 0;
  private restartsStart = 0;
  private restartCount = 0;
  private keyBuf = new Uint8Array(64);
  private keyLen = 0;
  private nextAt = 0;
  /** Parse position inside parseAt. */
  private cursor = 0;
  private valueStart = 0;
  private valueLen = 0;
  private isValid = false;

  /** `file` and the block's offset locate errors. Throws CorruptionError when the restart array is malformed. */
  constructor(
    data: Uint8Array,
    private readonly file: string,
    blockOffset: number,
  ) {
    this.reset(data, blockOffset);
  }

  /** Points this cursor at another block (reuses the key buffer). Unpositioned until a seek. */
  reset(data: Uint8Array, blockOffset: number): void {
    this.data = data;
    this.blockOffset = blockOffset;
    this.isValid = false;
    this.keyLen = 0;
    if (data.length < 8) this.fail(`block of ${data.length} bytes is too short`);
    this.restartCount = readU32(data, data.length - 4);
    this.restartsStart = data.length - 4 - this.restartCount * 4;
    if (this.restartCount === 0 || this.restartsStart < 0) this.fail(`bad restart count ${this.restartCount}`);
  }

  valid(): boolean {
    return this.isValid;
  }

  /** The current internal key (a view, valid until the cursor moves). REQUIRES: valid(). */
  key(): Uint8Array {
    return this.keyBuf.subarray(0, this.keyLen);
  }

  get keyBytes(): Uint8Array {
    return this.keyBuf;
  }

  get keyLength(): number {
    return this.keyLen;
  }

  /** The current value (a view into the block). REQUIRES: valid(). */
  value(): Uint8Array {
    return this.data.subarray(this.valueStart, this.valueStart + this.valueLen);
  }

  seekToFirst(): void {
    this.keyLen = 0;
    this.parseAt(0);
  }

  next(): void {
    this.parseAt(this.nextAt);
  }

  /** Positions at the first entry with internal key ≥ (userKey, seq), or invalid past the end. */
  seek(userKey: Uint8Array, seq: number): void {
    if (this.restartsStart === 0) {
      this.isValid = false; // an empty block (an empty table's index)
      return;
    }
    let lo = 0;
    let hi = this.restartCount - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      this.keyLen = 0;
      this.parseAt(this.restartOffset(mid));
      if (this.compareCurrent(userKey, seq) < 0) lo = mid;
      else hi = mid - 1;
    }
    this.keyLen = 0;
    this.parseAt(this.restartOffset(lo));
    while (this.isValid && this.compareCurrent(userKey, seq) < 0) this.parseAt(this.nextAt);
  }

  /** Current internal key vs (userKey, seq). REQUIRES: valid(). */
  compareCurrent(userKey: Uint8Array, seq: number): number {
    return compareEncoded(this.keyBuf, 0, this.keyLen, userKey, seq);
  }

  private restartOffset(index: number): number {
    const offset = readU32(this.data, this.restartsStart + index * 4);
    if (offset >= this.restartsStart) this.fail(`restart ${index} points past the entries (${offset})`);
    return offset;
  }

  private parseAt(at: number): void {
    if (at >= this.restartsStart) {
      this.isValid = false;
      return;
    }
    const d = this.data;
    this.cursor = at;
    const shared = this.varint();
    const unshared = this.varint();
    const valueLen = this.varint();
    const keyStart = this.cursor;
    const valueStart = keyStart + unshared;
    if (shared > this.keyLen || valueStart + valueLen > this.restartsStart) {
      this.fail(`bad entry at block offset ${at}`);
    }
    const keyLen = shared + unshared;
    if (keyLen < TRAILER_BYTES) this.fail(`internal key of ${keyLen} bytes at block offset ${at}`);
    if (this.keyBuf.length < keyLen) {
      const grown = new Uint8Array(Math.max(keyLen, this.keyBuf.length * 2));
      grown.set(this.keyBuf.subarray(0, shared), 0);
      this.keyBuf = grown;
    }
    if (unshared < 32) {
      const kb = this.keyBuf;
      for (let i = 0; i < unshared; i++) kb[shared + i] = d[keyStart + i];
    } else {
      this.keyBuf.set(d.subarray(keyStart, valueStart), shared);
    }
    this.keyLen = keyLen;
    this.valueStart = valueStart;
    this.valueLen = valueLen;
    this.nextAt = valueStart + valueLen;
    this.isValid = true;
  }

  /** Reads a varint at this.cursor (bounded by the restart array) and advances past it. */
  private varint(): number {
    const d = this.data;
    const end = this.restartsStart;
    let p = this.cursor;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 5; i++) {
      if (p >= end) break;
      const b = d[p++];
      value += (b & 0x7f) * scale;
      if (b < 0x80) {
        this.cursor = p;
        return value;
      }
      scale *= 128;
    }
    return this.fail(`bad varint at block offset ${this.cursor}`);
  }

  private fail(what: string): never {
    this.isValid = false;
    throw new CorruptionError(`undecodable block: ${what}`, this.file, this.blockOffset);
  }
}

function readU32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}
