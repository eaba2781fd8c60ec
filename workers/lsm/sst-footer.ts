// Footer and meta-block codecs (layouts in sst-format.ts).

import { crc32 } from 'node:zlib';
import { varintBytes, VarintReader, writeVarint } from './key-codec.js';
import { BLOCK_TRAILER_BYTES, CorruptionError, FOOTER_BYTES, FORMAT_VERSION, SST_MAGIC, type BlockHandle, type SstMeta } from './sst-format.js';

export type Footer = { readonly filter: BlockHandle; readonly meta: BlockHandle; readonly index: BlockHandle; readonly version: number };
export type MetaFields = Omit<SstMeta, 'fileNumber' | 'fileBytes'>;

const HANDLE_BYTES = 12;
const VERSION_AT = 3 * HANDLE_BYTES;
const MAGIC_AT = VERSION_AT + 4;
const CRC_AT = MAGIC_AT + SST_MAGIC.length;
const META_FIXED_BYTES = 4 + 6 * 8;
const TWO_32 = 2 ** 32;

export function encodeFooter(footer: Footer): Uint8Array {
  const out = Buffer.alloc(FOOTER_BYTES);
  [footer.filter, footer.meta, footer.index].forEach((h, i) => {
    out.writeUInt32LE(h.offset >>> 0, i * HANDLE_BYTES);
    out.writeUInt32LE(Math.floor(h.offset / TWO_32), i * HANDLE_BYTES + 4);
    out.writeUInt32LE(h.size, i * HANDLE_BYTES + 8);
  });
  out.writeUInt32LE(footer.version, VERSION_AT);
  out.set(SST_MAGIC, MAGIC_AT);
  out.writeUInt32LE(crc32(out.subarray(0, CRC_AT)), CRC_AT);
  return out;
}

/** Decodes the footer read from `offset`. Throws CorruptionError on bad magic, crc, version or handles. */
export function decodeFooter(bytes: Uint8Array, file: string, offset: number): Footer {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!buf.subarray(MAGIC_AT, CRC_AT).equals(SST_MAGIC)) {
    throw new CorruptionError('bad footer magic (truncated, or not a table)', file, offset);
  }
  if (buf.readUInt32LE(CRC_AT) !== crc32(buf.subarray(0, CRC_AT))) {
    throw new CorruptionError('bad footer checksum', file, offset);
  }
  const version = buf.readUInt32LE(VERSION_AT);
  if (version !== FORMAT_VERSION) throw new CorruptionError(`unknown format version ${version}`, file, offset);
  const handle = (i: number): BlockHandle => {
    const at = i * HANDLE_BYTES;
    const h = { offset: buf.readUInt32LE(at) + buf.readUInt32LE(at + 4) * TWO_32, size: buf.readUInt32LE(at + 8) };
    if (h.offset + h.size + BLOCK_TRAILER_BYTES > offset) throw new CorruptionError(`block handle ${i} past the footer`, file, offset);
    return h;
  };
  return { filter: handle(0), meta: handle(1), index: handle(2), version };
}

export function encodeMeta(meta: MetaFields): Uint8Array {
  const small = meta.smallestKey;
  const large = meta.largestKey;
  const size = META_FIXED_BYTES + varintBytes(small.length) + small.length + varintBytes(large.length) + large.length;
  const out = Buffer.alloc(size);
  out.writeUInt32LE(FORMAT_VERSION, 0);
  [meta.entries, meta.tombstones, meta.minSeq, meta.maxSeq, meta.rawBytes, meta.minExpiresAtMs].forEach((v, i) =>
    out.writeDoubleLE(v, 4 + i * 8),
  );
  let at = writeVarint(out, META_FIXED_BYTES, small.length);
  out.set(small, at);
  at = writeVarint(out, at + small.length, large.length);
  out.set(large, at);
  return out;
}

export function decodeMeta(bytes: Uint8Array, file: string, offset: number): MetaFields {
  const fail = (what: string): never => {
    throw new CorruptionError(`undecodable meta block: ${what}`, file, offset);
  };
  if (bytes.length < META_FIXED_BYTES) fail(`${bytes.length} bytes`);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = buf.readUInt32LE(0);
  if (version !== FORMAT_VERSION) fail(`format version ${version}`);
  const [entries, tombstones, minSeq, maxSeq, rawBytes, minExpiresAtMs] = [0, 1, 2, 3, 4, 5].map((i) =>
    buf.readDoubleLE(4 + i * 8),
  );
  const r = new VarintReader(buf, META_FIXED_BYTES, buf.length);
  const readKey = (): Uint8Array => {
    const len = r.read();
    if (r.bad || r.pos + len > buf.length) fail('key length');
    const key = Uint8Array.from(buf.subarray(r.pos, r.pos + len));
    r.pos += len;
    return key;
  };
  const smallestKey = readKey();
  const largestKey = readKey();
  return { entries, tombstones, smallestKey, largestKey, minSeq, maxSeq, rawBytes, minExpiresAtMs };
}
