// The file behind DependencyGraph (dependency-graph.ts): its record format and
// the replay that rebuilds the edges at open. Main thread; replay runs once,
// at start-up, over the whole file in memory.
//
//   file    [header][record]...
//   header  'MNTSDEP1' | u32 first group | u32 crc32 of the 12 bytes before it
//   record  u32 crc32 of the rest of the record | u32 group | u8 flags
//           | u16 parent bytes | u16 child bytes | parent (UTF-8) | child (UTF-8)
//   flags   bits 0-1: 1 add, 2 remove; bit 7: the last record of its group
//
// A group is what one write + fdatasync made durable (group commit). Groups
// are numbered consecutively (mod 2^32) from the header's first group, and
// replay applies a group only once it has read the group's last record, so
// each group is atomic on replay, as a WAL record is.
//
// Damage. The numbering tells a torn tail from a damaged middle. Groups are
// written one at a time, each only after the previous one's fdatasync, so
// only the final group can be torn by a crash; it was never acknowledged and
// is dropped (the file is truncated before it). When a record does not parse,
// replay knows which group it belongs to (the one in progress, or the next);
// if any valid record after it belongs to another group, a later write was
// acknowledged after the damaged one was, and the damage is not a torn tail:
// the data directory is damaged and open refuses to guess.

import { open, type FileHandle } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { MantisError } from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';
import { fsyncDir, writeAt } from './durable-file.js';

export const LOG_FILE = 'dependencies.log';
export const HEADER_BYTES = 16;
const MAGIC = Buffer.from('MNTSDEP1', 'latin1');
const RECORD_HEADER_BYTES = 13;
const OP_ADD = 1;
const OP_REMOVE = 2;
const OP_MASK = 0x03;
const LAST_IN_GROUP = 0x80;

export type DependencyErrorCode = 'INVALID_PARAMETER' | 'DEPENDENCY_LIMIT' | 'STORAGE_IO' | 'STORAGE_FULL' | 'SHUTTING_DOWN' | 'DATA_CORRUPT';

/** An expected failure of the dependency graph; `cause` holds the fs error behind STORAGE_* codes. */
export class DependencyError extends MantisError {
  declare readonly code: DependencyErrorCode;
  constructor(code: DependencyErrorCode, message: string, cause?: unknown) {
    super(code, message);
    this.name = 'DependencyError';
    if (cause !== undefined) this.cause = cause;
  }
}

export type EdgeOp = 'add' | 'remove';

export type LogRecord = { readonly op: EdgeOp; readonly parent: string; readonly child: string };

/** The encoded size of a record (REQUIRES: both keys ≤ LIMITS.key_bytes_max bytes). */
export function recordBytes(record: LogRecord): number {
  return RECORD_HEADER_BYTES + Buffer.byteLength(record.parent, 'utf8') + Buffer.byteLength(record.child, 'utf8');
}

export function encodeHeader(firstGroup: number): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(firstGroup >>> 0, 8);
  header.writeUInt32LE(crc32(header.subarray(0, 12)), 12);
  return header;
}

/**
 * The records of one group, in order. `lastInGroup` marks the final record as
 * the group's last (false when more records of the group follow in another
 * buffer, as compaction writes its snapshot in chunks).
 */
export function encodeRecords(records: readonly LogRecord[], group: number, lastInGroup = true): Buffer {
  let total = 0;
  for (const record of records) total += recordBytes(record);
  const buf = Buffer.allocUnsafe(total);
  let off = 0;
  records.forEach((record, i) => {
    const start = off;
    const last = lastInGroup && i === records.length - 1;
    buf.writeUInt32LE(group >>> 0, start + 4);
    buf.writeUInt8((record.op === 'add' ? OP_ADD : OP_REMOVE) | (last ? LAST_IN_GROUP : 0), start + 8);
    const parentBytes = buf.write(record.parent, start + RECORD_HEADER_BYTES, 'utf8');
    const childBytes = buf.write(record.child, start + RECORD_HEADER_BYTES + parentBytes, 'utf8');
    buf.writeUInt16LE(parentBytes, start + 9);
    buf.writeUInt16LE(childBytes, start + 11);
    off = start + RECORD_HEADER_BYTES + parentBytes + childBytes;
    buf.writeUInt32LE(crc32(buf.subarray(start + 4, off)), start);
  });
  return buf;
}

/** A new empty log at `path` in `dir`: header, fdatasync, then the directory entry. */
export async function createLog(dir: string, path: string): Promise<FileHandle> {
  const handle = await open(path, 'w+');
  try {
    await writeAt(handle, encodeHeader(1), 0);
    await handle.datasync();
    await fsyncDir(dir);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}

type Parsed = LogRecord & { readonly group: number; readonly last: boolean; readonly end: number };

/** The record at `off`, or why there is none. */
function parseRecord(buf: Buffer, off: number): Parsed | string {
  if (buf.length - off < RECORD_HEADER_BYTES) return 'truncated record header';
  const flags = buf[off + 8];
  const op = flags & OP_MASK;
  if ((flags & ~(OP_MASK | LAST_IN_GROUP)) !== 0 || (op !== OP_ADD && op !== OP_REMOVE)) return 'bad record flags';
  const parentBytes = buf.readUInt16LE(off + 9);
  const childBytes = buf.readUInt16LE(off + 11);
  if (parentBytes < 1 || parentBytes > LIMITS.key_bytes_max || childBytes < 1 || childBytes > LIMITS.key_bytes_max) return 'bad key length';
  const end = off + RECORD_HEADER_BYTES + parentBytes + childBytes;
  if (end > buf.length) return 'truncated record';
  if (crc32(buf.subarray(off + 4, end)) !== buf.readUInt32LE(off)) return 'checksum mismatch';
  const parentAt = off + RECORD_HEADER_BYTES;
  const parent = buf.toString('utf8', parentAt, parentAt + parentBytes);
  const child = buf.toString('utf8', parentAt + parentBytes, end);
  return { op: op === OP_ADD ? 'add' : 'remove', parent, child, group: buf.readUInt32LE(off + 4), last: (flags & LAST_IN_GROUP) !== 0, end };
}

export type ReplayResult = {
  /** Bytes of whole groups: the file is cut here when it is longer. */
  readonly goodBytes: number;
  /** Records in those groups. */
  readonly records: number;
  /** The number the next group written must carry. */
  readonly nextGroup: number;
  /** Why the tail was dropped (null when the file ended cleanly). */
  readonly tornTail: { readonly offset: number; readonly reason: string } | null;
};

/**
 * Reads a whole log, handing each complete group to `apply` in order.
 * Returns null when there is no usable header and nothing else (a file cut
 * while it was being created: start it again). Throws DependencyError
 * DATA_CORRUPT when the damage is not a torn tail (see the file header).
 */
export function replayLog(buf: Buffer, path: string, apply: (group: readonly LogRecord[]) => void): ReplayResult | null {
  const headerOk = buf.length >= HEADER_BYTES && buf.subarray(0, 8).equals(MAGIC) && crc32(buf.subarray(0, 12)) === buf.readUInt32LE(12);
  if (!headerOk) {
    if (buf.length <= HEADER_BYTES) return null;
    throw new DependencyError('DATA_CORRUPT', `${path}: bad header (not a dependency log, or damaged); the data directory is damaged`);
  }
  let expected = buf.readUInt32LE(8);
  let groupStart = HEADER_BYTES;
  let records = 0;
  let pending: LogRecord[] = [];
  for (let off = HEADER_BYTES; off < buf.length; ) {
    const parsed = parseRecord(buf, off);
    const problem =
      typeof parsed === 'string' ? parsed
      : parsed.group !== expected ? `group ${parsed.group} where ${expected} was due`
      : parsed.parent === parsed.child ? 'a self edge'
      : null;
    if (problem !== null) {
      // A record that parsed (wrong group, self edge) is itself evidence: scan from it.
      refuseIfAcknowledgedFollows(buf, typeof parsed === 'string' ? off + 1 : off, expected, path, off, problem);
      return { goodBytes: groupStart, records, nextGroup: expected, tornTail: { offset: off, reason: problem } };
    }
    const record = parsed as Parsed;
    pending.push({ op: record.op, parent: record.parent, child: record.child });
    off = record.end;
    if (record.last) {
      apply(pending);
      records += pending.length;
      pending = [];
      expected = (expected + 1) >>> 0;
      groupStart = off;
    }
  }
  const tornTail = pending.length > 0 ? { offset: groupStart, reason: `group ${expected} has no last record` } : null;
  return { goodBytes: groupStart, records, nextGroup: expected, tornTail };
}

/** Throws DATA_CORRUPT when a valid record of a group other than `group` starts at or after `from`. */
function refuseIfAcknowledgedFollows(buf: Buffer, from: number, group: number, path: string, damagedAt: number, problem: string): void {
  for (let off = from; off + RECORD_HEADER_BYTES <= buf.length; ) {
    const parsed = parseRecord(buf, off);
    if (typeof parsed === 'string') {
      off++;
      continue;
    }
    if (parsed.group !== group) {
      throw new DependencyError(
        'DATA_CORRUPT',
        `${path}: the record at byte ${damagedAt} is damaged (${problem}) and acknowledged records follow it ` +
          `(group ${parsed.group} at byte ${off}); the data directory is damaged`,
      );
    }
    off = parsed.end;
  }
}
