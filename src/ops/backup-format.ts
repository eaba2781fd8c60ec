// The on-disk form of a backup, shared by the server (src/ops/backups.ts) and
// the restore tool (src/ops/restore.ts):
//
//   <backup-dir>/<id>/manifest.json     written last; its presence makes the backup listed
//   <backup-dir>/<id>/data/…            a data directory as of the cut: mantis.json, txn/,
//                                       cache/, auth/, ops/ and shards/<n>/{sst,tables,wal}/
//
// manifest.json names every file under data/ with its size and SHA-256, the
// cut (the oracle's commit timestamp, the wall-clock time, and per shard the
// WAL segment and byte offset), and for an incremental backup its base. A
// backup being written is a `.partial-<id>` folder, never listed, removed at
// the next start.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

export const MANIFEST_NAME = 'manifest.json';
export const BACKUP_FORMAT = 1;
export const PARTIAL_PREFIX = '.partial-';
/** Backup ids: the UTC time of the cut plus a random suffix, so they sort by time. */
export const BACKUP_ID = /^\d{8}T\d{6}\d{3}Z-[0-9a-f]{6}$/;

/**
 * A data directory made by a restore starts a timeline of its own (this file holds its id): its
 * WAL archives to <archive>/timeline-<id>/shard-<n>, apart from the original's <archive>/shard-<n>,
 * whose history must stay whole for other restores.
 */
export const TIMELINE_FILE = 'ops/timeline';

export function newTimeline(): string {
  return `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** The data directory's timeline (null: the original one). */
export async function readTimeline(dataDir: string): Promise<string | null> {
  try {
    const id = (await readFile(join(dataDir, TIMELINE_FILE), 'utf8')).trim();
    return /^[0-9a-z]+-[0-9a-f]{6}$/.test(id) ? id : null;
  } catch {
    return null;
  }
}

/** Where a timeline's WAL archive lives under --wal-archive. */
export function archiveRootOf(archive: string, timeline: string | null): string {
  if (timeline !== null && !/^[0-9a-z]+-[0-9a-f]{6}$/.test(timeline)) throw new Error(`not a timeline id: ${JSON.stringify(timeline)}`);
  return timeline === null ? archive : join(archive, `timeline-${timeline}`);
}

export type ShardCut = {
  readonly shard: number;
  /** The WAL segment active at the cut and the bytes of it before the cut. */
  readonly walSegment: number;
  readonly walOffset: number;
  readonly lsn: number;
};

export type BackupFile = {
  /** Relative to the backup's data/ folder, '/'-separated. */
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
  /** Linked from the base backup instead of copied (incremental). */
  readonly reused?: boolean;
  /**
   * The identity of the data directory's file it was copied from (device, inode, mtime): an
   * incremental backup reuses the base's copy only for the very same file, never for another
   * file with the same name and size (a restored timeline reuses names).
   */
  readonly source?: { readonly dev: number; readonly ino: number; readonly mtime_ms: number };
};

export type BackupManifest = {
  readonly format: number;
  readonly id: string;
  readonly created_at: string;
  /** The timestamp oracle's value at the cut: every commit the backup holds is at or below it. */
  readonly commit_ts: number;
  /** Wall-clock time of the cut, ms since the epoch. */
  readonly cut_ms: number;
  readonly incremental: boolean;
  readonly base: string | null;
  /** The data directory's timeline when the backup was taken (null: the original one). */
  readonly timeline?: string | null;
  readonly shards: number;
  readonly cuts: readonly ShardCut[];
  readonly files: readonly BackupFile[];
  readonly bytes: number;
  readonly copied_bytes: number;
  readonly duration_ms: number;
};

export type Problem = { readonly file: string; readonly problem: string };

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The manifest of the backup folder `dir`, or a Problem naming what is wrong with it. */
export async function readBackupManifest(dir: string): Promise<BackupManifest | Problem> {
  const file = join(dir, MANIFEST_NAME);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    return { file, problem: (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing: not a complete backup' : String(error) };
  }
  let m: BackupManifest;
  try {
    m = JSON.parse(text) as BackupManifest;
  } catch {
    return { file, problem: 'not valid JSON' };
  }
  if (m.format !== BACKUP_FORMAT || !Array.isArray(m.files) || !Array.isArray(m.cuts) || typeof m.commit_ts !== 'number' || typeof m.cut_ms !== 'number') {
    return { file, problem: `not a MantisDB backup manifest (format ${String(m.format)})` };
  }
  for (const f of m.files) {
    if (typeof f.path !== 'string' || f.path.startsWith('/') || f.path.split('/').includes('..') || typeof f.bytes !== 'number' || typeof f.sha256 !== 'string') {
      return { file, problem: `bad file entry ${JSON.stringify(f).slice(0, 200)}` };
    }
  }
  return m;
}

export function isProblem(x: BackupManifest | Problem): x is Problem {
  return (x as Problem).problem !== undefined;
}

/** Every file of the manifest present with its size and checksum; the problems found (empty: sound). */
export async function verifyBackup(dir: string, m: BackupManifest): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (const f of m.files) {
    const path = join(dir, 'data', f.path);
    let size: number;
    try {
      size = (await stat(path)).size;
    } catch {
      problems.push({ file: path, problem: 'missing' });
      continue;
    }
    if (size !== f.bytes) {
      problems.push({ file: path, problem: `size ${size}, manifest says ${f.bytes}` });
      continue;
    }
    const sum = await sha256File(path);
    if (sum !== f.sha256) problems.push({ file: path, problem: `SHA-256 mismatch (the file is damaged)` });
  }
  return problems;
}
