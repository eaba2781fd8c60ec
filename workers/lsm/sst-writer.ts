// Writes one immutable table from entries given in internal order (format in
// sst-format.ts). Runs inside a shard worker or a pool thread: synchronous I/O,
// buffered into ~1 MiB writes; only the current block and 4 bytes per key (bloom
// hashes) stay in memory, never the whole file.

import * as fs from 'node:fs';
import { BlockBuilder } from './block-builder.js';
import { blockTrailer, choosePayload, CompressionGate } from './block-frame.js';
import { bloomHash, buildBloom } from './bloom.js';
import { encodePutHeader } from './entry-codec.js';
import {
  compareEncoded,
  compareRange,
  describeKey,
  readTrailerSeq,
  shortestSeparator,
  shortSuccessor,
  writeTrailer,
  writeVarint,
} from './key-codec.js';
import { BufferedAppender } from './sst-file-io.js';
import { encodeFooter, encodeMeta } from './sst-footer.js';
import {
  COMPRESSION_NONE,
  CONTENT_TYPE_BYTES_MAX,
  DEFAULT_SST_OPTIONS,
  FORMAT_VERSION,
  KIND_DELETE,
  KIND_PUT,
  SEQ_LIMIT,
  TRAILER_BYTES,
  USER_KEY_BYTES_MAX,
  VALUE_BYTES_MAX,
  type BlockHandle,
  type LsmEntry,
  type SstMeta,
  type SstOptions,
} from './sst-format.js';

const EMPTY = new Uint8Array(0);
type WriterState = 'open' | 'finished' | 'aborted' | 'failed';

export class SstWriter {
  private readonly data: BlockBuilder;
  private readonly index = new BlockBuilder(1, 4096);
  private readonly gate = new CompressionGate();
  private readonly out: BufferedAppender;
  private state: WriterState = 'open';
  private fdOpen = true;
  /** The last internal key added (user key + trailer), kept to check order and cut index keys. */
  private lastKey = new Uint8Array(64);
  private lastKeyLen = 0;
  private scratch = new Uint8Array(64);
  /** The handle of the last flushed data block whose index entry waits for the next key. */
  private pendingHandle: BlockHandle | null = null;
  private hashes = new Uint32Array(1024);
  private distinctKeys = 0;
  private count = 0;
  private tombstones = 0;
  private rawBytes = 0;
  private minSeq = SEQ_LIMIT;
  private maxSeq = 0;
  private minExpiresAtMs = 0;
  private smallestKey: Uint8Array = EMPTY;

  private constructor(
    readonly path: string,
    readonly fileNumber: number,
    private readonly fd: number,
    private readonly options: SstOptions,
  ) {
    this.data = new BlockBuilder(16, Math.max(1024, options.blockBytes * 2));
    this.out = new BufferedAppender(fd);
  }

  /** Creates the file exclusively ('wx'). Errors from fs (ENOSPC, EIO, EEXIST) propagate as the fs Error. */
  static create(path: string, fileNumber: number, options?: Partial<SstOptions>): SstWriter {
    const merged: SstOptions = { ...DEFAULT_SST_OPTIONS, ...options };
    checkOptions(merged);
    const fd = fs.openSync(path, 'wx');
    return new SstWriter(path, fileNumber, fd, merged);
  }

  get entries(): number {
    return this.count;
  }

  /** Bytes of the file so far, including the pending block (to cut compaction outputs at a target size). */
  get estimatedBytes(): number {
    return this.out.offset + (this.data.entries > 0 ? this.data.estimatedBytes : 0);
  }

  /**
   * REQUIRES: entries strictly increasing in internal order (throws an Error naming
   * the keys otherwise). A delete's value, contentType and expiresAtMs are not stored.
   * The entry's bytes are copied before add returns.
   */
  add(entry: LsmEntry): void {
    this.checkOpen();
    checkEntry(entry);
    const key = entry.key;
    if (this.count > 0 && compareEncoded(this.lastKey, 0, this.lastKeyLen, key, entry.seq) >= 0) {
      throw new Error(
        `SstWriter.add out of order in ${this.path}: (${describeKey(key)}, seq ${entry.seq}) after ` +
          `(${describeKey(this.lastKey.subarray(0, this.lastKeyLen - TRAILER_BYTES))}, seq ${readTrailerSeq(this.lastKey, this.lastKeyLen)})`,
      );
    }
    const internal = this.internalKey(key, entry.seq, entry.kind);
    if (this.pendingHandle !== null) this.addIndexEntry(shortestSeparator(this.lastKeyCopy(), internal));
    this.trackKey(key, internal);
    try {
      if (entry.kind === KIND_PUT) {
        this.data.add(internal, encodePutHeader(entry.expiresAtMs, entry.contentType), entry.value);
      } else {
        this.data.add(internal, null, EMPTY);
      }
      this.trackStats(entry);
      if (this.data.estimatedBytes >= this.options.blockBytes) this.flushBlock();
    } catch (err) {
      this.state = 'failed';
      throw err;
    }
  }

  /** Writes the filter, meta, index blocks and footer, fsyncs, closes; the file is then immutable. */
  finish(): SstMeta {
    this.checkOpen();
    try {
      if (this.data.entries > 0) this.flushBlock();
      if (this.pendingHandle !== null) this.addIndexEntry(shortSuccessor(this.lastKeyCopy()));
      const filter = this.writeBlock(buildBloom(this.hashes, this.distinctKeys, this.options.bloomBitsPerKey), false);
      const fields = {
        entries: this.count,
        tombstones: this.tombstones,
        smallestKey: this.smallestKey,
        largestKey: this.lastKey.slice(0, Math.max(0, this.lastKeyLen - TRAILER_BYTES)),
        minSeq: this.count > 0 ? this.minSeq : 0,
        maxSeq: this.maxSeq,
        rawBytes: this.rawBytes,
        minExpiresAtMs: this.minExpiresAtMs,
      };
      const meta = this.writeBlock(encodeMeta(fields), false);
      const index = this.writeBlock(this.index.finish(), false);
      this.out.append(encodeFooter({ filter, meta, index, version: FORMAT_VERSION }));
      this.out.flush();
      fs.fsyncSync(this.fd);
      this.fdOpen = false;
      fs.closeSync(this.fd);
      this.state = 'finished';
      return { fileNumber: this.fileNumber, fileBytes: this.out.offset, ...fields };
    } catch (err) {
      this.state = 'failed';
      throw err;
    }
  }

  /** Closes and unlinks the partial file; safe to call after an fs error (and more than once). */
  abort(): void {
    if (this.state === 'finished' || this.state === 'aborted') return;
    this.state = 'aborted';
    if (this.fdOpen) {
      this.fdOpen = false;
      try {
        fs.closeSync(this.fd);
      } catch (_err) {
        // The fd is gone either way; the unlink below is what matters.
      }
    }
    try {
      fs.unlinkSync(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  private checkOpen(): void {
    if (this.state !== 'open') throw new Error(`SstWriter for ${this.path} is ${this.state}`);
  }

  /** user key + trailer in a reused scratch buffer (a view valid until the next add). */
  private internalKey(key: Uint8Array, seq: number, kind: number): Uint8Array {
    const len = key.length + TRAILER_BYTES;
    if (this.scratch.length < len) this.scratch = new Uint8Array(Math.max(len, this.scratch.length * 2));
    this.scratch.set(key, 0);
    writeTrailer(this.scratch, key.length, seq, kind);
    return this.scratch.subarray(0, len);
  }

  private lastKeyCopy(): Uint8Array {
    return this.lastKey.slice(0, this.lastKeyLen);
  }

  /** Remembers the internal key; hashes the user key for the bloom filter when it is new. */
  private trackKey(key: Uint8Array, internal: Uint8Array): void {
    const sameUser =
      this.count > 0 &&
      this.lastKeyLen - TRAILER_BYTES === key.length &&
      compareRange(this.lastKey, 0, key.length, key, 0, key.length) === 0;
    if (!sameUser) {
      if (this.distinctKeys === this.hashes.length) {
        const grown = new Uint32Array(this.hashes.length * 2);
        grown.set(this.hashes);
        this.hashes = grown;
      }
      this.hashes[this.distinctKeys++] = bloomHash(key);
    }
    if (this.count === 0) this.smallestKey = Uint8Array.from(key);
    if (this.lastKey.length < internal.length) this.lastKey = new Uint8Array(Math.max(internal.length, this.lastKey.length * 2));
    this.lastKey.set(internal, 0);
    this.lastKeyLen = internal.length;
  }

  private trackStats(entry: LsmEntry): void {
    this.count++;
    if (entry.seq < this.minSeq) this.minSeq = entry.seq;
    if (entry.seq > this.maxSeq) this.maxSeq = entry.seq;
    if (entry.kind === KIND_DELETE) {
      this.tombstones++;
      this.rawBytes += entry.key.length;
      return;
    }
    this.rawBytes += entry.key.length + entry.value.length + entry.contentType.length;
    const exp = entry.expiresAtMs;
    if (exp !== 0 && (this.minExpiresAtMs === 0 || exp < this.minExpiresAtMs)) this.minExpiresAtMs = exp;
  }

  private flushBlock(): void {
    this.pendingHandle = this.writeBlock(this.data.finish(), this.options.compress);
    this.data.reset();
  }

  private writeBlock(raw: Uint8Array, compress: boolean): BlockHandle {
    const tried = compress && this.gate.shouldTry();
    const { payload, compression } = choosePayload(raw, tried);
    if (tried) this.gate.record(compression !== COMPRESSION_NONE);
    const handle = { offset: this.out.offset, size: payload.length };
    this.out.append(payload);
    this.out.append(blockTrailer(payload, compression));
    return handle;
  }

  private addIndexEntry(separator: Uint8Array): void {
    const handle = this.pendingHandle;
    if (handle === null) return;
    const value = new Uint8Array(20);
    const end = writeVarint(value, writeVarint(value, 0, handle.offset), handle.size);
    this.index.add(separator, null, value.subarray(0, end));
    this.pendingHandle = null;
  }
}

function checkOptions(o: SstOptions): void {
  if (!Number.isInteger(o.blockBytes) || o.blockBytes < 64 || o.blockBytes > 64 * 1024 * 1024) {
    throw new RangeError(`SstOptions.blockBytes must be an integer in 64..64 MiB, got ${o.blockBytes}`);
  }
  if (!(o.bloomBitsPerKey >= 1 && o.bloomBitsPerKey <= 64)) {
    throw new RangeError(`SstOptions.bloomBitsPerKey must be in 1..64, got ${o.bloomBitsPerKey}`);
  }
}

function checkEntry(e: LsmEntry): void {
  if (e.key.length > USER_KEY_BYTES_MAX) throw new RangeError(`SST key of ${e.key.length} bytes is over ${USER_KEY_BYTES_MAX}`);
  if (!Number.isInteger(e.seq) || e.seq < 1 || e.seq >= SEQ_LIMIT) throw new RangeError(`SST entry seq ${e.seq} is not in 1..2^53-1`);
  if (e.kind === KIND_DELETE) return;
  if (e.kind !== KIND_PUT) throw new RangeError(`SST entry kind ${String(e.kind)} is neither put nor delete`);
  if (e.value.length > VALUE_BYTES_MAX) throw new RangeError(`SST value of ${e.value.length} bytes is over ${VALUE_BYTES_MAX}`);
  if (!Number.isFinite(e.expiresAtMs) || e.expiresAtMs < 0) throw new RangeError(`SST entry expiresAtMs ${e.expiresAtMs} is invalid`);
  const ct = e.contentType;
  // eslint-disable-next-line no-control-regex
  if (ct.length > CONTENT_TYPE_BYTES_MAX || !/^[\x00-\x7f]*$/.test(ct)) {
    throw new RangeError(`SST contentType must be ASCII of at most ${CONTENT_TYPE_BYTES_MAX} bytes`);
  }
}
