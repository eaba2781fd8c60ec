// WAL record framing: `[u32 crc][u32 length][u8 type][u64 lsn][payload]`, little-endian.
// The crc (zlib CRC-32) covers length+type+lsn+payload, so a torn or bit-flipped
// header is caught as well as a bad payload. Decoding reports damage as a value
// (torn / corrupt) instead of throwing, so replay can decide where the log ends.
import { crc32 } from 'node:zlib';

export const WAL_HEADER_BYTES = 17;
/** Sanity bound on one record's payload: a larger length field is garbage, not a record. */
export const WAL_RECORD_BYTES_MAX = 64 * 1024 * 1024 + 64 * 1024;
const TYPE_MAX = 0xff;

export interface WalRecordInput {
  type: number;
  lsn: bigint | number;
  payload: Uint8Array;
}

export type WalDecodeResult =
  | { kind: 'record'; type: number; lsn: number; payload: Uint8Array; next: number }
  | { kind: 'end' }
  | { kind: 'torn'; reason: string }
  | { kind: 'corrupt'; reason: string };

/**
 * Frames many records into one contiguous buffer (one write = one group commit).
 * REQUIRES: type in 0..255, lsn a non-negative safe integer (or u64 bigint),
 * payload.length <= WAL_RECORD_BYTES_MAX. Violations are caller bugs and throw RangeError.
 */
export function encodeRecords(records: readonly WalRecordInput[]): Buffer {
  let total = 0;
  for (const r of records) total += WAL_HEADER_BYTES + r.payload.length;
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const r of records) {
    checkRecord(r);
    const length = r.payload.length;
    out.writeUInt32LE(length, at + 4);
    out.writeUInt8(r.type, at + 8);
    out.writeBigUInt64LE(BigInt(r.lsn), at + 9);
    out.set(r.payload, at + WAL_HEADER_BYTES);
    const end = at + WAL_HEADER_BYTES + length;
    out.writeUInt32LE(crc32(out.subarray(at + 4, end)), at);
    at = end;
  }
  return out;
}

function checkRecord(r: WalRecordInput): void {
  if (!Number.isInteger(r.type) || r.type < 0 || r.type > TYPE_MAX) {
    throw new RangeError(`WAL record type must be an integer in 0..${TYPE_MAX}, got ${r.type}`);
  }
  const lsnOk =
    typeof r.lsn === 'bigint'
      ? r.lsn >= 0n && r.lsn <= 0xffff_ffff_ffff_ffffn
      : Number.isSafeInteger(r.lsn) && r.lsn >= 0;
  if (!lsnOk) throw new RangeError(`WAL record lsn out of range: ${r.lsn}`);
  if (r.payload.length > WAL_RECORD_BYTES_MAX) {
    throw new RangeError(
      `WAL record payload is ${r.payload.length} bytes, over WAL_RECORD_BYTES_MAX ${WAL_RECORD_BYTES_MAX}`,
    );
  }
}

/**
 * Decodes the record starting at `offset`.
 * ENSURES: a returned payload is a view into `buf` (no copy); copy it to keep it.
 * An LSN above Number.MAX_SAFE_INTEGER is reported as corrupt: we never write one.
 */
export function decodeNext(buf: Uint8Array, offset: number): WalDecodeResult {
  const available = buf.length - offset;
  if (available === 0) return { kind: 'end' };
  if (available < WAL_HEADER_BYTES) {
    return { kind: 'torn', reason: `header runs past end (${available} of ${WAL_HEADER_BYTES} bytes)` };
  }
  const view = new DataView(buf.buffer, buf.byteOffset + offset, WAL_HEADER_BYTES);
  const storedCrc = view.getUint32(0, true);
  const length = view.getUint32(4, true);
  // A huge length is checked before "torn" so garbage is not mistaken for an unfinished write.
  if (length > WAL_RECORD_BYTES_MAX) {
    return { kind: 'corrupt', reason: `length ${length} over bound ${WAL_RECORD_BYTES_MAX}` };
  }
  const end = offset + WAL_HEADER_BYTES + length;
  if (end > buf.length) {
    return {
      kind: 'torn',
      reason: `payload runs past end (${available - WAL_HEADER_BYTES} of ${length} bytes)`,
    };
  }
  const actualCrc = crc32(buf.subarray(offset + 4, end));
  if (actualCrc !== storedCrc) {
    return { kind: 'corrupt', reason: `checksum mismatch (stored ${hex(storedCrc)}, computed ${hex(actualCrc)})` };
  }
  const lsn = view.getBigUint64(9, true);
  if (lsn > BigInt(Number.MAX_SAFE_INTEGER)) {
    return { kind: 'corrupt', reason: `lsn ${lsn} is not a safe integer` };
  }
  return {
    kind: 'record',
    type: view.getUint8(8),
    lsn: Number(lsn),
    payload: buf.subarray(offset + WAL_HEADER_BYTES, end),
    next: end,
  };
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
