// The pool task that builds a table segment file: the shard's mover sends the
// delta rows it takes (row-codec frames, in primary-key order) and the file's
// path; the task encodes the columns, writes the file durably (temp, fsync,
// rename, fsync directory) and answers the segment's meta, which the mover
// then registers in one WAL record. Stateless, like the LSM tasks.

import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { unframeRows } from '../../shared/tables/row-codec.js';
import { buildSegment, type SegmentMeta } from '../../shared/tables/segment-format.js';
import type { ColumnType } from '../../shared/tables/table-types.js';

export type SegmentTask = {
  readonly kind: 'table-segment';
  /** Where the file goes (its directory is created when missing). */
  readonly path: string;
  readonly types: readonly ColumnType[];
  readonly keyColumns: readonly number[];
  readonly keyDesc: readonly boolean[];
  readonly bloomColumns: readonly number[];
  /** `count` rows framed by frameRows (u32le length + encodeRow bytes), in primary-key order. */
  readonly rows: Uint8Array;
  readonly count: number;
  /** Per-row expiry in ms (0 = none), or null. */
  readonly expiresAtMs: Float64Array | null;
};

export type SegmentTaskResult = { readonly kind: 'table-segment'; readonly meta: SegmentMeta };

/** Builds and writes the segment; throws on failure (the pool reports it; no partial file is left). */
export function runSegmentTask(task: SegmentTask): SegmentTaskResult {
  const rows = unframeRows(task.types, task.rows, task.count);
  const built = buildSegment({
    types: task.types,
    rows,
    keyColumns: task.keyColumns,
    keyDesc: task.keyDesc,
    bloomColumns: task.bloomColumns,
    expiresAtMs: task.expiresAtMs,
  });
  writeFileDurablySync(task.path, built.bytes);
  return { kind: 'table-segment', meta: built.meta };
}

/**
 * Writes a file so that a crash leaves either nothing at `path` or all of it: `path.tmp`,
 * fsync, rename, fsync the directory (created with its parents when missing).
 */
export function writeFileDurablySync(path: string, bytes: Uint8Array): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = `${path}.tmp`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      let at = 0;
      while (at < bytes.length) at += writeSync(fd, bytes, at, bytes.length - at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
