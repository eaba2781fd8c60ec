// The sorted-table (SSTable) file format and the types every LSM module shares.
// Runs inside a shard worker or a pool thread (all table I/O is synchronous).
//
// A table is immutable once written. Layout, LevelDB-like (table/format.h):
//
//   [data block 0] ... [data block N-1] [filter block] [meta block] [index block] [footer]
//
// Every block is framed as  [payload][u8 compression][u32 crc32]  where compression is
// 0 (none) or 1 (lz4 in lz4-napi's framing: a 4-byte little-endian raw size, then an
// lz4 block; written by lz4-compressor.ts, read by lz4-napi's uncompressSync). The crc
// (zlib CRC-32, little-endian) covers the payload and the compression byte. A block
// handle (offset, size) names the payload; the 5-byte trailer follows it. Only data
// blocks are compressed, and only when lz4 saves at least 1/8 of the bytes.
//
// Internal key = user key + 8-byte trailer: 7-byte big-endian seq, then 1-byte kind
// (0 delete, 1 put). Internal order: user key ascending bytewise, then seq descending.
// Entry value: put = [f64 LE expiresAtMs][u8 contentType length][contentType ASCII][value];
// delete = empty.
//
// Data block (and index block): entries
//   [varint32 shared][varint32 unshared][varint32 value length][key delta][value]
// where `shared` is the prefix length shared with the previous internal key; every
// 16th entry (every entry in the index block) is a restart point with shared = 0. The
// block ends with the restart offsets (u32 LE each) and their count (u32 LE). Seeks
// binary-search the restarts, then scan forward.
//
// Index block: one entry per data block, key = an internal key ≥ the block's last key
// and < the next block's first key (a shortened user key with seq SEEK_SEQ, or the last
// key itself), value = [varint offset][varint size]. Decoded into arrays at open.
//
// Filter block: one bloom filter over the table's distinct user keys:
//   [bit array][u8 probe count k]; probes by double hashing from murmur3-32 (bloom.ts).
//
// Meta block: [u32 format version][f64 entries][f64 tombstones][f64 minSeq][f64 maxSeq]
//   [f64 rawBytes][f64 minExpiresAtMs][varint32 len][smallest user key][varint32 len][largest user key]
//
// Footer (FOOTER_BYTES = 52, little-endian): three handles [u64 offset][u32 size] for
// filter, meta and index; [u32 format version]; 8-byte magic; [u32 crc32 of the 48 bytes
// before it]. A file too short for a footer, a bad magic or a bad crc is corruption.

export const KIND_DELETE = 0;
export const KIND_PUT = 1;
export type EntryKind = typeof KIND_DELETE | typeof KIND_PUT;

/** One version of one user key. key/value may be views into a cached block: copy to keep beyond the next call. */
export type LsmEntry = {
  readonly key: Uint8Array;
  /** 1 ≤ seq < 2^53, a per-shard sequence/commit number. */
  readonly seq: number;
  readonly kind: EntryKind;
  /** ms since epoch, 0 = never (puts only; 0 for deletes). */
  readonly expiresAtMs: number;
  /** ASCII, ≤ 255 bytes ('' for deletes). */
  readonly contentType: string;
  /** Empty for deletes. */
  readonly value: Uint8Array;
};

export const FORMAT_VERSION = 1;
/** "MantSST1" */
export const SST_MAGIC = Uint8Array.from([0x4d, 0x61, 0x6e, 0x74, 0x53, 0x53, 0x54, 0x31]);
export const FOOTER_BYTES = 52;
export const BLOCK_TRAILER_BYTES = 5;
export const COMPRESSION_NONE = 0;
export const COMPRESSION_LZ4 = 1;
export const TRAILER_BYTES = 8;
export const RESTART_INTERVAL = 16;
export const USER_KEY_BYTES_MAX = 65535;
export const CONTENT_TYPE_BYTES_MAX = 255;
export const VALUE_BYTES_MAX = 64 * 1024 * 1024;
/** Sequence numbers are < 2^53. */
export const SEQ_LIMIT = 2 ** 53;
/** A seq above every real one: (userKey, SEEK_SEQ) sorts before every version of userKey. */
export const SEEK_SEQ = SEQ_LIMIT;

/** Bytewise comparison with Buffer.compare semantics (-1, 0, 1). */
export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

/** Internal order, as LevelDB: user key ascending bytewise, then seq DESCENDING (newest first). */
export function compareInternal(aKey: Uint8Array, aSeq: number, bKey: Uint8Array, bSeq: number): number {
  const c = Buffer.compare(aKey, bKey);
  if (c !== 0) return c;
  return aSeq > bSeq ? -1 : aSeq < bSeq ? 1 : 0;
}

export type SstOptions = {
  /** Target uncompressed data block size. */
  readonly blockBytes: number;
  readonly bloomBitsPerKey: number;
  /** lz4 for data blocks. */
  readonly compress: boolean;
};

export const DEFAULT_SST_OPTIONS: SstOptions = Object.freeze({ blockBytes: 8192, bloomBitsPerKey: 10, compress: true });

export type SstMeta = {
  readonly fileNumber: number;
  readonly fileBytes: number;
  readonly entries: number;
  readonly tombstones: number;
  /** User keys. */
  readonly smallestKey: Uint8Array;
  readonly largestKey: Uint8Array;
  readonly minSeq: number;
  readonly maxSeq: number;
  /** Sum of key + value + contentType bytes of the entries, for write/space amplification. */
  readonly rawBytes: number;
  /** Smallest non-zero expiry among puts, 0 if none. */
  readonly minExpiresAtMs: number;
};

/** A table's bytes are not what the writer wrote: bad checksum or magic, truncation, or an undecodable block. */
export class CorruptionError extends Error {
  readonly file: string;
  readonly offset: number;
  constructor(what: string, file: string, offset: number) {
    super(`SST corruption in ${file} at offset ${offset}: ${what}`);
    this.name = 'CorruptionError';
    this.file = file;
    this.offset = offset;
  }
}

/** Counters a caller passes in and reads. blocksRead/bytesRead count disk reads only. */
export type ReadStats = { blocksRead: number; bytesRead: number; cacheHits: number; filterNegatives: number };

export function newReadStats(): ReadStats {
  return { blocksRead: 0, bytesRead: 0, cacheHits: 0, filterNegatives: 0 };
}

/** Where a block's payload lies in the file (the 5-byte trailer follows it). */
export type BlockHandle = { readonly offset: number; readonly size: number };
