// A cursor over one decoded (checksum-verified, decompressed) block. Every length is
// bounds-checked: a block that cannot be decoded throws CorruptionError, never
// yields garbage or reads past its end.

import { compareEncoded, VarintReader } from './key-codec.js';
import { CorruptionError, TRAILER_BYTES } from './sst-format.js';

export class BlockIterator {
  private readonly restartsStart: number;
  private readonly restartCount: number;
  private readonly view: DataView;
  private keyBuf = new Uint8Array(64);
  private keyLen = 0;
  private nextAt = 0;
  private valueStart = 0;
  private valueLen = 0;
  private isValid = false;

  /** `file`/`blockOffset` locate errors. Throws CorruptionError when the restart array is malformed. */
  constructor(
    readonly data: Uint8Array,
    private readonly file: string,
    private readonly blockOffset: number,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (data.length < 8) this.fail(`block of ${data.length} bytes is too short`);
    this.restartCount = this.view.getUint32(data.length - 4, true);
    const restartsStart = data.length - 4 - this.restartCount * 4;
    if (this.restartCount === 0 || restartsStart < 0) this.fail(`bad restart count ${this.restartCount}`);
    this.restartsStart = restartsStart;
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
    const offset = this.view.getUint32(this.restartsStart + index * 4, true);
    if (offset >= this.restartsStart) this.fail(`restart ${index} points past the entries (${offset})`);
    return offset;
  }

  private parseAt(at: number): void {
    if (at >= this.restartsStart) {
      this.isValid = false;
      return;
    }
    const r = new VarintReader(this.data, at, this.restartsStart);
    const shared = r.read();
    const unshared = r.read();
    const valueLen = r.read();
    const keyStart = r.pos;
    const valueStart = keyStart + unshared;
    if (r.bad || shared > this.keyLen || valueStart + valueLen > this.restartsStart) {
      this.fail(`bad entry at block offset ${at}`);
    }
    const keyLen = shared + unshared;
    if (keyLen < TRAILER_BYTES) this.fail(`internal key of ${keyLen} bytes at block offset ${at}`);
    if (this.keyBuf.length < keyLen) {
      const grown = new Uint8Array(Math.max(keyLen, this.keyBuf.length * 2));
      grown.set(this.keyBuf.subarray(0, shared), 0);
      this.keyBuf = grown;
    }
    this.keyBuf.set(this.data.subarray(keyStart, valueStart), shared);
    this.keyLen = keyLen;
    this.valueStart = valueStart;
    this.valueLen = valueLen;
    this.nextAt = valueStart + valueLen;
    this.isValid = true;
  }

  private fail(what: string): never {
    this.isValid = false;
    throw new CorruptionError(`undecodable block: ${what}`, this.file, this.blockOffset);
  }
}
