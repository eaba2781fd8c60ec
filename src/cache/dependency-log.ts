// The file behind DependencyGraph (dependency-graph.ts): a group log
// (src/durable/group-log.ts has the framing, the groups, the torn-tail and
// mid-log-damage rules and the writer); this file has its records. Main
// thread; the scan runs once, at start-up, over the whole file in memory.
//
//   file    [header][record]...
//   header  'MNTSDEP1' | u32 first group | u32 crc32 of the 12 bytes before it
//   record  u32 crc32 of the rest of the record | u32 group | u8 flags
//           | u16 parent bytes | u16 child bytes | parent (UTF-8) | child (UTF-8)
//   flags   bits 0-1: 1 add, 2 remove; bit 7: the last record of its group
//
// A record that parses but is a self edge counts as damage, as a wrong group
// does (group-log.ts, "Damage").

import { MantisError } from '../../shared/errors.js';
import { LIMITS } from '../../shared/limits.js';
import { GroupLogFormat, type RecordCodec } from '../durable/group-log.js';

export { HEADER_BYTES } from '../durable/group-log.js';

export const LOG_FILE = 'dependencies.log';
const OP_ADD = 1;
const OP_REMOVE = 2;
/** u16 parent bytes, u16 child bytes. */
const HEAD_BYTES = 4;

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

const EDGE_CODEC: RecordCodec<LogRecord> = {
  magic: 'MNTSDEP1',
  name: 'dependency log',
  headBytes: HEAD_BYTES,
  isKind: (kind) => kind === OP_ADD || kind === OP_REMOVE,
  kindOf: (record) => (record.op === 'add' ? OP_ADD : OP_REMOVE),
  bytes: (record) => HEAD_BYTES + Buffer.byteLength(record.parent, 'utf8') + Buffer.byteLength(record.child, 'utf8'),
  write(record, buf, at) {
    const parentBytes = buf.write(record.parent, at + HEAD_BYTES, 'utf8');
    const childBytes = buf.write(record.child, at + HEAD_BYTES + parentBytes, 'utf8');
    buf.writeUInt16LE(parentBytes, at);
    buf.writeUInt16LE(childBytes, at + 2);
    return at + HEAD_BYTES + parentBytes + childBytes;
  },
  end(buf, at) {
    const parentBytes = buf.readUInt16LE(at);
    const childBytes = buf.readUInt16LE(at + 2);
    if (parentBytes < 1 || parentBytes > LIMITS.key_bytes_max || childBytes < 1 || childBytes > LIMITS.key_bytes_max) return 'bad key length';
    return at + HEAD_BYTES + parentBytes + childBytes;
  },
  read(buf, at, end, kind) {
    const parentAt = at + HEAD_BYTES;
    const parentEnd = parentAt + buf.readUInt16LE(at);
    return { op: kind === OP_ADD ? 'add' : 'remove', parent: buf.toString('utf8', parentAt, parentEnd), child: buf.toString('utf8', parentEnd, end) };
  },
  problem: (record) => (record.parent === record.child ? 'a self edge' : null),
  corrupt: (message) => new DependencyError('DATA_CORRUPT', message),
};

/** The dependency log's format: encode, scan (group-log.ts). */
export const DEPENDENCY_LOG = new GroupLogFormat(EDGE_CODEC);

/** The encoded size of a record (REQUIRES: both keys ≤ LIMITS.key_bytes_max bytes). */
export function recordBytes(record: LogRecord): number {
  return DEPENDENCY_LOG.recordBytes(record);
}

export function encodeHeader(firstGroup: number): Buffer {
  return DEPENDENCY_LOG.header(firstGroup);
}

/** The records of one group, in order (GroupLogFormat.encode). */
export function encodeRecords(records: readonly LogRecord[], group: number, lastInGroup = true): Buffer {
  return DEPENDENCY_LOG.encode(records, group, lastInGroup);
}
