// Builds one data or index block: shared-prefix entries, restart points, restart array
// (format in sst-format.ts). Reused across blocks through reset().

import { writeVarint } from './key-codec.js';

export class BlockBuilder {
  private buf: Uint8Array;
  private used = 0;
  private restarts: number[] = [0];
  private sinceRestart = 0;
  private lastKey: Uint8Array = new Uint8Array(64);
  private lastKeyLen = 0;
  private count = 0;

  constructor(
    private readonly restartInterval: number,
    initialBytes = 16 * 1024,
  ) {
    this.buf = new Uint8Array(initialBytes);
  }

  get entries(): number {
    return this.count;
  }

  /** Size of the block if finished now. */
  get estimatedBytes(): number {
    return this.used + this.restarts.length * 4 + 4;
  }

  /** The last key added (a view, valid until the next add/reset). */
  get lastKeyView(): Uint8Array {
    return this.lastKey.subarray(0, this.lastKeyLen);
  }

  /**
   * Appends (key, header + value). REQUIRES: key > the previous key of this block
   * (the writer checks order); key/header/value are only read during the call.
   */
  add(key: Uint8Array, header: Uint8Array | null, value: Uint8Array): void {
    let shared = 0;
    if (this.sinceRestart < this.restartInterval) {
      const n = Math.min(this.lastKeyLen, key.length);
      while (shared < n && this.lastKey[shared] === key[shared]) shared++;
    } else {
      this.restarts.push(this.used);
      this.sinceRestart = 0;
    }
    const unshared = key.length - shared;
    const headerLen = header === null ? 0 : header.length;
    const valueLen = headerLen + value.length;
    this.reserve(15 + unshared + valueLen);
    let at = writeVarint(this.buf, this.used, shared);
    at = writeVarint(this.buf, at, unshared);
    at = writeVarint(this.buf, at, valueLen);
    this.buf.set(key.subarray(shared), at);
    at += unshared;
    if (header !== null) {
      this.buf.set(header, at);
      at += headerLen;
    }
    this.buf.set(value, at);
    this.used = at + value.length;
    this.rememberKey(key);
    this.sinceRestart++;
    this.count++;
  }

  /** Appends the restart array; returns the finished block (a view, valid until reset()). */
  finish(): Uint8Array {
    this.reserve(this.restarts.length * 4 + 4);
    const view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    let at = this.used;
    for (const r of this.restarts) {
      view.setUint32(at, r, true);
      at += 4;
    }
    view.setUint32(at, this.restarts.length, true);
    return this.buf.subarray(0, at + 4);
  }

  reset(): void {
    this.used = 0;
    this.restarts = [0];
    this.sinceRestart = 0;
    this.lastKeyLen = 0;
    this.count = 0;
    // Do not keep a buffer grown for one huge value.
    if (this.buf.length > 4 * 1024 * 1024) this.buf = new Uint8Array(16 * 1024);
  }

  private rememberKey(key: Uint8Array): void {
    if (this.lastKey.length < key.length) this.lastKey = new Uint8Array(Math.max(key.length, this.lastKey.length * 2));
    this.lastKey.set(key, 0);
    this.lastKeyLen = key.length;
  }

  private reserve(extra: number): void {
    const need = this.used + extra;
    if (need <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(need, this.buf.length * 2));
    grown.set(this.buf.subarray(0, this.used), 0);
    this.buf = grown;
  }
}
