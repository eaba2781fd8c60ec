// A table's index block decoded into flat arrays at open: one separator internal key
// and one block handle per data block, binary-searched on every get and seek.

import { BlockIterator } from './block-reader.js';
import { compareEncoded, VarintReader } from './key-codec.js';
import { BLOCK_TRAILER_BYTES, CorruptionError } from './sst-format.js';

export class SstIndex {
  private constructor(
    /** Separator internal keys, concatenated; key i is keys[starts[i], starts[i + 1]). */
    private readonly keys: Uint8Array,
    private readonly starts: Uint32Array,
    private readonly offsets: Float64Array,
    private readonly sizes: Uint32Array,
  ) {}

  /**
   * Decodes the index payload read from `blockOffset`. Every handle must lie before
   * `dataEnd` (where the filter block starts). Throws CorruptionError otherwise.
   */
  static decode(payload: Uint8Array, file: string, blockOffset: number, dataEnd: number): SstIndex {
    const it = new BlockIterator(payload, file, blockOffset);
    const keyParts: Uint8Array[] = [];
    const offsets: number[] = [];
    const sizes: number[] = [];
    let keyBytes = 0;
    for (it.seekToFirst(); it.valid(); it.next()) {
      const value = it.value();
      const r = new VarintReader(value, 0, value.length);
      const offset = r.read();
      const size = r.read();
      if (r.bad || offset + size + BLOCK_TRAILER_BYTES > dataEnd || size > 0xffff_ffff) {
        throw new CorruptionError(`undecodable index block: bad handle for data block ${offsets.length}`, file, blockOffset);
      }
      const key = it.key().slice();
      keyParts.push(key);
      keyBytes += key.length;
      offsets.push(offset);
      sizes.push(size);
    }
    const keys = new Uint8Array(keyBytes);
    const starts = new Uint32Array(keyParts.length + 1);
    let at = 0;
    keyParts.forEach((k, i) => {
      starts[i] = at;
      keys.set(k, at);
      at += k.length;
    });
    starts[keyParts.length] = at;
    return new SstIndex(keys, starts, Float64Array.from(offsets), Uint32Array.from(sizes));
  }

  get count(): number {
    return this.sizes.length;
  }

  get memoryBytes(): number {
    return this.keys.byteLength + this.starts.byteLength + this.offsets.byteLength + this.sizes.byteLength;
  }

  offsetOf(block: number): number {
    return this.offsets[block];
  }

  sizeOf(block: number): number {
    return this.sizes[block];
  }

  /** The first block whose separator is ≥ (userKey, seq): the only block that can hold that key's first version ≤ seq, or count. */
  find(userKey: Uint8Array, seq: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareEncoded(this.keys, this.starts[mid], this.starts[mid + 1], userKey, seq) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
