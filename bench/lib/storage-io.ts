// Disk-side measurements for the storage benchmark: a process's I/O counters
// from /proc/<pid>/io, the bytes a directory holds, dropping the OS page
// cache (root only), and waiting until a process stops writing.

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * /proc/<pid>/io, summed over all the process's threads (piscina and LevelDB's
 * background thread included). wchar/rchar: bytes passed to write()/read()
 * syscalls (page cache or not); writeBytes/readBytes: bytes the process caused
 * to be dirtied in / fetched from storage (page granularity; mmap faults count).
 */
export type IoCounters = { readonly rchar: number; readonly wchar: number; readonly readBytes: number; readonly writeBytes: number; readonly cancelledWriteBytes: number };

export function readIo(pid: number | 'self' = 'self'): IoCounters | null {
  try {
    const text = readFileSync(`/proc/${pid}/io`, 'utf8');
    const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    return {
      rchar: field('rchar'),
      wchar: field('wchar'),
      readBytes: field('read_bytes'),
      writeBytes: field('write_bytes'),
      cancelledWriteBytes: field('cancelled_write_bytes'),
    };
  } catch {
    return null;
  }
}

export function ioDelta(after: IoCounters | null, before: IoCounters | null): IoCounters | null {
  if (after === null || before === null) return null;
  return {
    rchar: after.rchar - before.rchar,
    wchar: after.wchar - before.wchar,
    readBytes: after.readBytes - before.readBytes,
    writeBytes: after.writeBytes - before.writeBytes,
    cancelledWriteBytes: after.cancelledWriteBytes - before.cancelledWriteBytes,
  };
}

/** Sum of the sizes of the regular files under dir (0 if it does not exist). */
export function dirBytes(dir: string): number {
  let total = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const path = join(dir, name);
    try {
      const st = statSync(path);
      total += st.isDirectory() ? dirBytes(path) : st.size;
    } catch {
      // removed while we looked (a compaction deleting its inputs)
    }
  }
  return total;
}

/**
 * sync, then `echo 1 > /proc/sys/vm/drop_caches` (clean page cache only).
 * Returns how the cache was made cold, or why it could not be.
 */
export function dropPageCache(): { dropped: boolean; how: string } {
  spawnSync('sync');
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '1\n');
    return { dropped: true, how: 'sync + echo 1 > /proc/sys/vm/drop_caches' };
  } catch (error) {
    return { dropped: false, how: `page cache NOT dropped (${(error as NodeJS.ErrnoException).code ?? String(error)}): reopened stores, OS cache warm` };
  }
}

/**
 * Resolves once the process has written nothing for `quietMs` (polled every
 * `pollMs`), or after `maxMs`. Returns whether it went quiet. Used to let
 * background compactions finish where the engine has no "settled" signal.
 */
export async function waitForWritesQuiet(pid: number | 'self', quietMs = 1000, pollMs = 250, maxMs = 120_000): Promise<boolean> {
  const started = performance.now();
  let last = readIo(pid)?.wchar ?? 0;
  let quietSince = performance.now();
  while (performance.now() - started < maxMs) {
    await new Promise((r) => setTimeout(r, pollMs));
    const now = readIo(pid)?.wchar ?? 0;
    if (now !== last) {
      last = now;
      quietSince = performance.now();
    } else if (performance.now() - quietSince >= quietMs) {
      return true;
    }
  }
  return false;
}
