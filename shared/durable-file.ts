// Durable file steps for the main thread's files (the group logs of
// src/durable/group-log.ts, cache policies, the timestamp reservation of
// shared/txn/timestamp-oracle.ts): asynchronous, so the event loop keeps
// serving while the disk syncs. The shard-side equivalents
// (workers/lsm/manifest.ts, data-dir.ts) are synchronous; these may not be.

import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/** Makes `dir`'s entries (a create, a rename) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates `dir` and any missing parents, each made durable in its parent. */
export async function ensureDir(dir: string): Promise<void> {
  const target = resolve(dir);
  const first = await mkdir(target, { recursive: true });
  if (first === undefined) return;
  for (let d = target; ; d = dirname(d)) {
    await fsyncDir(dirname(d));
    if (d === resolve(first) || d === dirname(d)) return;
  }
}

/**
 * Replaces `path` whole: the old content or the new one survives a crash,
 * never a mix (write `path.tmp`, fsync, rename over, fsync the directory).
 */
export async function writeFileDurably(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
  await fsyncDir(dirname(path));
}

/** The error code a failed disk operation maps to: STORAGE_FULL (507) or STORAGE_IO (503). */
export function storageCode(error: unknown): 'STORAGE_FULL' | 'STORAGE_IO' {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' ? 'STORAGE_FULL' : 'STORAGE_IO';
}

/** The whole file, or null when it does not exist. */
export async function readIfExists(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Writes all of `buf` at `position` (a write may be short). */
export async function writeAt(handle: FileHandle, buf: Uint8Array, position: number): Promise<void> {
  for (let off = 0; off < buf.length; ) {
    const { bytesWritten } = await handle.write(buf, off, buf.length - off, position + off);
    off += bytesWritten;
  }
}

/** Fills `buf` from `position`; throws when the file ends first. */
export async function readAt(handle: FileHandle, buf: Uint8Array, position: number): Promise<void> {
  for (let off = 0; off < buf.length; ) {
    const { bytesRead } = await handle.read(buf, off, buf.length - off, position + off);
    if (bytesRead === 0) throw new Error(`file ended ${buf.length - off} bytes early, at byte ${position + off}`);
    off += bytesRead;
  }
}
