// Startup replay of a shard's WAL directory, and the repair that makes it a clean prefix:
// the first torn/corrupt record (or non-increasing LSN) ends the log; its segment is
// truncated there and every later segment is renamed `.dropped` (kept for forensics).
// Synchronous on purpose: it runs once in the shard worker before it takes requests.
import * as fs from 'node:fs';
import { decodeNext } from './wal-record.js';
import { fsyncDirSync, listSegments, segmentPath, WAL_DROPPED_SUFFIX, type SegmentEntry } from './wal-segment.js';
import type { ReplayResult, WalLog } from './wal-types.js';

/** `segment`: the number of the segment file the record is in (segment retention needs it). */
export type WalRecordHandler = (type: number, lsn: number, payload: Uint8Array, segment: number) => void;

interface BadRecord {
  offset: number;
  reason: string;
}

/**
 * Calls `onRecord` for every valid record in LSN order. A missing `dir` is an empty log.
 * ENSURES: on return the directory holds only the valid prefix (repairs are fsynced);
 * a payload passed to onRecord is only valid during the call (it views the file buffer).
 */
export function replayWal(dir: string, onRecord: WalRecordHandler, log?: WalLog): ReplayResult {
  const all = listSegments(dir);
  const live = all.filter((s) => !s.dropped);
  const result: ReplayResult = {
    segments: 0,
    records: 0,
    bytes: 0,
    lastLsn: 0,
    lastSegment: all.length > 0 ? all[all.length - 1].seq : 0,
    truncated: null,
  };
  for (let i = 0; i < live.length; i++) {
    const file = segmentPath(dir, live[i].name);
    const buf = readDurably(file);
    result.segments++;
    const bad = replaySegment(buf, live[i].seq, result, onRecord);
    if (bad === null) continue;
    // Drop first, durably: a crash after truncating but before dropping would let
    // later segments replay past the hole.
    const dropped = dropAfter(dir, live.slice(i + 1), log);
    if (i + 1 < live.length) fsyncDirSync(dir);
    truncateFile(file, bad.offset);
    const droppedBytes = buf.length - bad.offset + dropped;
    result.truncated = { segment: live[i].name, offset: bad.offset, droppedBytes, reason: bad.reason };
    log?.('warn', 'wal: log ends early, dropped the damaged tail', {
      dir,
      ...result.truncated,
      droppedSegments: live.length - i - 1,
      lastLsn: result.lastLsn,
    });
    break;
  }
  log?.('info', 'wal: replayed', {
    dir,
    segments: result.segments,
    records: result.records,
    bytes: result.bytes,
    lastLsn: result.lastLsn,
  });
  return result;
}

function replaySegment(buf: Uint8Array, segment: number, result: ReplayResult, onRecord: WalRecordHandler): BadRecord | null {
  let offset = 0;
  for (;;) {
    const r = decodeNext(buf, offset);
    switch (r.kind) {
      case 'end':
        return null;
      case 'torn':
      case 'corrupt':
        return { offset, reason: `${r.kind}: ${r.reason}` };
      case 'record':
        if (r.lsn <= result.lastLsn) {
          return { offset, reason: `corrupt: lsn ${r.lsn} not above previous ${result.lastLsn}` };
        }
        onRecord(r.type, r.lsn, r.payload, segment);
        result.records++;
        result.bytes += r.next - offset;
        result.lastLsn = r.lsn;
        offset = r.next;
        break;
      default:
        return unreachable(r);
    }
  }
}

/** Renames the segments after the damage so a later replay cannot resurrect them; returns their bytes. */
function dropAfter(dir: string, later: SegmentEntry[], log?: WalLog): number {
  let bytes = 0;
  for (const seg of later) {
    const from = segmentPath(dir, seg.name);
    const size = fs.statSync(from).size;
    fs.renameSync(from, from + WAL_DROPPED_SUFFIX);
    bytes += size;
    log?.('warn', 'wal: dropped segment after damaged record', {
      segment: seg.name,
      renamedTo: seg.name + WAL_DROPPED_SUFFIX,
      bytes: size,
    });
  }
  return bytes;
}

/**
 * Reads a segment and fsyncs it: after a process crash its tail may still be only in the
 * page cache, and replayed records count as durable (the writer starts durableLsn there).
 */
function readDurably(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    fs.fsyncSync(fd);
    return fs.readFileSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function truncateFile(file: string, length: number): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.ftruncateSync(fd, length);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function unreachable(x: never): never {
  throw new Error(`unreachable: ${JSON.stringify(x)}`);
}
