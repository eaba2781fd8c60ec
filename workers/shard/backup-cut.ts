// An online backup's cut on one shard (the shard actor calls it between two
// request frames, so the cut falls exactly between them): every file of the
// shard's directory is hard-linked into the staging folder the router named,
// which takes microseconds per file and pins the bytes — tables, segment
// files and closed WAL segments are immutable, and the manifest is replaced by
// rename, never rewritten. The active WAL segment is linked too, with the byte
// offset of the cut: the router copies only that prefix, whatever is appended
// later. Staging lives inside the data directory (same file system, so links
// always work); the router moves the files to the backup folder afterwards.

import * as fs from 'node:fs';
import { join, relative } from 'node:path';
import { listSegments } from '../wal/wal-segment.js';

export type BackupCutRequest = { readonly staging: string };

export type BackupCutResult = {
  readonly shard: number;
  /** The active WAL segment at the cut and its length then (bytes of records before the cut). */
  readonly walSegment: number;
  readonly walOffset: number;
  /** The last LSN before the cut. */
  readonly lsn: number;
  /** Paths relative to the shard directory of everything linked (WAL segments included, under wal/). */
  readonly files: readonly string[];
};

/** Files a cut never takes: replacements in progress. */
const SKIP = /\.tmp$|\.dropped$/;

export function cutForBackup(shard: number, shardDir: string, request: BackupCutRequest, wal: { segment: number; segmentBytes: number; lsn: number }): BackupCutResult {
  const target = join(request.staging, `shard-${shard}`);
  fs.mkdirSync(target, { recursive: true });
  const files: string[] = [];
  const walDir = join(shardDir, 'wal');
  const walkAndLink = (dir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (path === walDir) continue;
        walkAndLink(path);
        continue;
      }
      if (!e.isFile() || SKIP.test(e.name)) continue;
      const rel = relative(shardDir, path);
      const dest = join(target, rel);
      fs.mkdirSync(join(dest, '..'), { recursive: true });
      try {
        fs.linkSync(path, dest);
      } catch (error) {
        // A file removed between the listing and the link (a finished compaction's input): not live.
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      files.push(rel);
    }
  };
  walkAndLink(shardDir);
  fs.mkdirSync(join(target, 'wal'), { recursive: true });
  for (const s of listSegments(walDir)) {
    if (s.dropped || s.seq > wal.segment) continue;
    fs.linkSync(join(walDir, s.name), join(target, 'wal', s.name));
    files.push(join('wal', s.name));
  }
  return { shard, walSegment: wal.segment, walOffset: wal.segmentBytes, lsn: wal.lsn, files };
}
