// Opens one immutable table: footer, meta, index and filter are verified and kept in
// memory; data blocks are read on demand with positioned reads on a kept-open fd,
// verified, decompressed and shared through the shard's BlockCache. Runs inside a
// shard worker or a pool thread (synchronous I/O).

import * as fs from 'node:fs';
import type { BlockCache } from './block-cache.js';
import { unframeBlock } from './block-frame.js';
import { BlockIterator } from './block-reader.js';
import { bloomMayContain } from './bloom.js';
import { EntryDecoder } from './entry-codec.js';
import { compareRange } from './key-codec.js';
import { readExact } from './sst-file-io.js';
import { decodeFooter, decodeMeta } from './sst-footer.js';
import {
  BLOCK_TRAILER_BYTES,
  compareKeys,
  CorruptionError,
  FOOTER_BYTES,
  TRAILER_BYTES,
  type BlockHandle,
  type LsmEntry,
  type ReadStats,
  type SstMeta,
} from './sst-format.js';
import { SstIndex } from './sst-index.js';
import { TableIterator, type BlockSource, type SstIterator } from './sst-iterator.js';

export type { SstIterator } from './sst-iterator.js';

/** Fixed per-table bookkeeping counted in memoryBytes besides index, filter and keys. */
const READER_OVERHEAD_BYTES = 512;
const NEWEST = Number.MAX_SAFE_INTEGER;

export type IteratorOptions = {
  /** Put blocks read from disk into the cache (default true; compaction passes false). */
  readonly fillCache?: boolean;
};

export class SstReader implements BlockSource {
  /** Bytes held in memory for this table (index + filter + meta), for the memory budget. */
  readonly memoryBytes: number;
  private closed = false;
  private cursor: BlockIterator | null = null;
  private readonly decoder: EntryDecoder;

  private constructor(
    readonly path: string,
    readonly fileNumber: number,
    readonly meta: SstMeta,
    readonly index: SstIndex,
    private readonly filter: Uint8Array,
    private readonly fd: number,
    private readonly cache: BlockCache | null,
  ) {
    this.memoryBytes =
      index.memoryBytes + filter.byteLength + meta.smallestKey.length + meta.largestKey.length + READER_OVERHEAD_BYTES;
    this.decoder = new EntryDecoder(path);
  }

  /** Reads and verifies footer, meta, index and filter (kept in memory). Throws CorruptionError on any bad checksum/magic/truncation. */
  static open(path: string, fileNumber: number, cache: BlockCache | null): SstReader {
    const fd = fs.openSync(path, 'r');
    try {
      const fileBytes = fs.fstatSync(fd).size;
      if (fileBytes < FOOTER_BYTES) {
        throw new CorruptionError(`truncated: ${fileBytes} bytes, shorter than the footer`, path, 0);
      }
      const footerAt = fileBytes - FOOTER_BYTES;
      const footer = decodeFooter(readExact(fd, path, footerAt, FOOTER_BYTES), path, footerAt);
      const readMetaBlock = (h: BlockHandle): Uint8Array =>
        unframeBlock(readExact(fd, path, h.offset, h.size + BLOCK_TRAILER_BYTES), path, h.offset);
      const fields = decodeMeta(readMetaBlock(footer.meta), path, footer.meta.offset);
      const index = SstIndex.decode(readMetaBlock(footer.index), path, footer.index.offset, footer.filter.offset);
      const filter = readMetaBlock(footer.filter);
      const meta: SstMeta = { fileNumber, fileBytes, ...fields };
      return new SstReader(path, fileNumber, meta, index, filter, fd, cache);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  /** False only when the table certainly holds no version of userKey (bloom filter). */
  mayContain(userKey: Uint8Array): boolean {
    return bloomMayContain(this.filter, userKey);
  }

  /**
   * The newest version of userKey with seq ≤ maxSeq (a put or a delete), or undefined.
   * Checks the key range and the bloom filter first. Throws CorruptionError on a bad block.
   */
  get(userKey: Uint8Array, maxSeq: number = NEWEST, stats?: ReadStats): LsmEntry | undefined {
    if (this.meta.entries === 0) return undefined;
    if (compareKeys(userKey, this.meta.smallestKey) < 0 || compareKeys(userKey, this.meta.largestKey) > 0) return undefined;
    if (!this.mayContain(userKey)) {
      if (stats !== undefined) stats.filterNegatives++;
      return undefined;
    }
    // One block: separators are either a block's last key or a user key strictly
    // between two blocks, so a block that holds only smaller keys than the target is
    // followed by a block that starts with a larger user key.
    const block = this.index.find(userKey, maxSeq);
    if (block === this.index.count) return undefined;
    const offset = this.index.offsetOf(block);
    const it = this.getCursor(this.readBlock(block, stats, true), offset);
    it.seek(userKey, maxSeq);
    if (!it.valid()) return undefined;
    const keyLen = it.keyLength;
    const keys = it.keyBytes;
    if (keyLen - TRAILER_BYTES !== userKey.length || compareRange(keys, 0, userKey.length, userKey, 0, userKey.length) !== 0) {
      return undefined;
    }
    // The entry's key is the caller's own userKey: nothing here aliases the reused cursor.
    return this.decoder.decode(keys, keyLen, it.value(), offset, userKey);
  }

  /** One cursor reused by every get (a get finishes with it before returning). */
  private getCursor(data: Uint8Array, offset: number): BlockIterator {
    if (this.cursor === null) this.cursor = new BlockIterator(data, this.path, offset);
    else this.cursor.reset(data, offset);
    return this.cursor;
  }

  /** A cursor over all entries in internal order. */
  iterator(stats?: ReadStats, options?: IteratorOptions): SstIterator {
    return new TableIterator(this, stats, options?.fillCache ?? true);
  }

  /** The verified, decoded payload of data block `block` (cache first, then disk). */
  readBlock(block: number, stats: ReadStats | undefined, fillCache: boolean): Uint8Array {
    if (this.closed) throw new Error(`SstReader for ${this.path} is closed`);
    const offset = this.index.offsetOf(block);
    const cached = this.cache?.get(this.fileNumber, offset);
    if (cached !== undefined) {
      if (stats !== undefined) stats.cacheHits++;
      return cached;
    }
    const length = this.index.sizeOf(block) + BLOCK_TRAILER_BYTES;
    const decoded = unframeBlock(readExact(this.fd, this.path, offset, length), this.path, offset);
    // A plain Uint8Array view: subarrays of it are much cheaper than Buffer subarrays.
    const payload = new Uint8Array(decoded.buffer, decoded.byteOffset, decoded.byteLength);
    if (stats !== undefined) {
      stats.blocksRead++;
      stats.bytesRead += length;
    }
    if (fillCache) this.cache?.set(this.fileNumber, offset, payload);
    return payload;
  }

  /** Closes the fd; cached blocks stay until BlockCache.evictFile. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }
}
