// Block framing: [payload][u8 compression][u32 crc32(payload + compression byte)].
// Writers frame (compressing data blocks when lz4 pays); readers verify, then decompress.

import { uncompressSync } from 'lz4-napi';
import { crc32 } from 'node:zlib';
import { lz4Compress } from './lz4-compressor.js';
import { BLOCK_TRAILER_BYTES, COMPRESSION_LZ4, COMPRESSION_NONE, CorruptionError, VALUE_BYTES_MAX } from './sst-format.js';

/** No block decodes to more than blockBytes (≤ 64 MiB) plus one maximal entry. */
const BLOCK_RAW_BYTES_MAX = 2 * VALUE_BYTES_MAX + 1024 * 1024;

/** The payload to store and its compression byte: lz4 only when it saves ≥ 1/8 of the bytes. */
export function choosePayload(raw: Uint8Array, compress: boolean): { payload: Uint8Array; compression: number } {
  if (compress && raw.length >= 64) {
    const packed = lz4Compress(raw, Math.floor(raw.length - raw.length / 8) - 4);
    if (packed !== null) return { payload: packed, compression: COMPRESSION_LZ4 };
  }
  return { payload: raw, compression: COMPRESSION_NONE };
}

/**
 * Decides whether trying lz4 on the next block is worth it: after a run of blocks that did not
 * compress (random or already-compressed values), only every 16th block is tried, so a table of
 * incompressible data does not pay for a compressor that keeps failing. Any success resets it.
 */
export class CompressionGate {
  private failures = 0;
  private skipped = 0;

  shouldTry(): boolean {
    if (this.failures < 4) return true;
    if (++this.skipped < 16) return false;
    this.skipped = 0;
    return true;
  }

  record(compressed: boolean): void {
    this.failures = compressed ? 0 : this.failures + 1;
  }
}

/** The 5-byte trailer for a payload. */
export function blockTrailer(payload: Uint8Array, compression: number): Uint8Array {
  const out = Buffer.allocUnsafe(BLOCK_TRAILER_BYTES);
  out[0] = compression;
  out.writeUInt32LE(crc32(out.subarray(0, 1), crc32(payload)), 1);
  return out;
}

/**
 * Verifies a framed block (payload + trailer) read from `offset` of `file` and returns
 * the decoded payload. Throws CorruptionError on a bad crc, an unknown compression or
 * an lz4 stream that does not decode.
 */
export function unframeBlock(framed: Uint8Array, file: string, offset: number): Uint8Array {
  const size = framed.length - BLOCK_TRAILER_BYTES;
  if (size < 0) throw new CorruptionError('block shorter than its trailer', file, offset);
  const payload = framed.subarray(0, size);
  const compression = framed[size];
  const stored = Buffer.from(framed.buffer, framed.byteOffset + size + 1, 4).readUInt32LE(0);
  const actual = crc32(framed.subarray(size, size + 1), crc32(payload));
  if (stored !== actual) {
    throw new CorruptionError(`bad block checksum (stored ${hex(stored)}, computed ${hex(actual)})`, file, offset);
  }
  if (compression === COMPRESSION_NONE) return payload;
  if (compression !== COMPRESSION_LZ4) throw new CorruptionError(`unknown compression ${compression}`, file, offset);
  // lz4-napi's stream starts with the raw size; never let a bad one drive a huge allocation.
  const rawBytes = size >= 4 ? Buffer.from(payload.buffer, payload.byteOffset, 4).readUInt32LE(0) : -1;
  if (rawBytes < 0 || rawBytes > BLOCK_RAW_BYTES_MAX) {
    throw new CorruptionError(`undecodable block: lz4 raw size ${rawBytes}`, file, offset);
  }
  try {
    return uncompressSync(payload);
  } catch (err) {
    throw new CorruptionError(`undecodable block: lz4 ${(err as Error).message}`, file, offset);
  }
}

function hex(n: number): string {
  return '0x' + n.toString(16).padStart(8, '0');
}
