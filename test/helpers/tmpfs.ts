// A small tmpfs mounted by a test file, for real full-disk tests. Mounting
// needs root (CAP_SYS_ADMIN) on Linux; where it is refused, `refused` says why
// so the suite can skip with that reason. The mount is made when the module
// is loaded (so describe.skipIf can see the outcome); unmount() is idempotent
// and also runs at process exit as a last resort.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Tmpfs = {
  readonly dir: string;
  /** Why the mount was refused, or null when it is mounted. */
  readonly refused: string | null;
  /** Unmounts (servers using it must be gone) and removes the mount point. */
  unmount(): void;
};

export function mountTmpfs(sizeMb: number): Tmpfs {
  const dir = mkdtempSync(join(tmpdir(), 'mantis-tmpfs-'));
  let refused: string | null = null;
  if (process.platform !== 'linux') refused = `tmpfs mounts need Linux (this is ${process.platform})`;
  else if (process.getuid?.() !== 0) refused = 'mounting a tmpfs needs root';
  else {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m`, 'tmpfs', dir], { stdio: 'pipe' });
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
      refused = `mount -t tmpfs was refused: ${stderr || String(error)}`;
    }
  }
  let done = false;
  const unmount = (): void => {
    if (done) return;
    done = true;
    if (refused === null) execFileSync('umount', [dir], { stdio: 'pipe' });
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', () => {
    try {
      unmount();
    } catch {
      // nothing more can be done at exit
    }
  });
  return { dir, refused, unmount };
}

/** Bytes free on the file system holding dir. */
export function freeBytes(dir: string): number {
  const st = statfsSync(dir);
  return st.bavail * st.bsize;
}

/** Writes a filler file that leaves about `leaveBytes` free on dir's file system. */
export function fillLeaving(dir: string, path: string, leaveBytes: number): void {
  writeFileSync(path, Buffer.alloc(Math.max(0, freeBytes(dir) - leaveBytes), 1));
}
