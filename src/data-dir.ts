// The data directory: created if missing, locked for the life of the process,
// and described by a small manifest (the shard count it was created with, so a
// restart never silently re-maps keys to the wrong shard).
//
// The lock is a Linux abstract-namespace Unix socket named after the
// directory's real path: the kernel releases it when the process dies, even by
// kill -9, so a stale lock can never block a restart. A LOCK file beside the
// data records the holder's pid for humans.

import { mkdirSync, openSync, fsyncSync, closeSync, writeFileSync, renameSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';

export class DataDirError extends Error {}

export type DataDirLock = { release(): void };

type Manifest = { readonly format: 1; readonly shards: number; readonly createdAt: string };

const MANIFEST = 'mantis.json';

export async function lockDataDir(dir: string): Promise<DataDirLock> {
  mkdirSync(dir, { recursive: true });
  const real = realpathSync(dir);
  const name = '\0mantisdb-lock-' + createHash('sha256').update(real).digest('hex').slice(0, 32);
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') {
        reject(new DataDirError(`data directory ${real} is in use by another MantisDB server (${holder(real)}); stop it or choose another --data-dir`));
      } else {
        reject(new DataDirError(`cannot lock data directory ${real}: ${error.message}`));
      }
    });
    server.listen({ path: name }, () => resolve());
  });
  server.unref();
  try {
    writeFileSync(join(real, 'LOCK'), `${process.pid}\n`);
  } catch {
    // Only names the holder in a second server's message; the socket is the lock. A full disk must
    // not keep the server from starting and serving reads.
    rmSync(join(real, 'LOCK'), { force: true });
  }
  return { release: () => release(server, real) };
}

function holder(dir: string): string {
  try {
    return `pid ${readFileSync(join(dir, 'LOCK'), 'utf8').trim()}`;
  } catch {
    return 'pid unknown';
  }
}

function release(server: Server, dir: string): void {
  rmSync(join(dir, 'LOCK'), { force: true });
  server.close();
}

/** Decides the shard count: as created; a conflicting --shards is refused. */
export function resolveShardCount(dir: string, requested: number | null, fallback: number): number {
  const path = join(dir, MANIFEST);
  let manifest: Manifest | null = null;
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new DataDirError(`cannot read ${path}: ${(error as Error).message}`);
    }
  }
  if (manifest !== null) {
    if (!Number.isInteger(manifest.shards) || manifest.shards < 1) throw new DataDirError(`${path} is corrupt: bad shard count`);
    if (requested !== null && requested !== manifest.shards) {
      throw new DataDirError(
        `data directory ${dir} was created with ${manifest.shards} shards; start with --shards ${manifest.shards} ` +
          `(moving slots between shards is not supported yet)`,
      );
    }
    return manifest.shards;
  }
  const shards = requested ?? fallback;
  writeDurably(path, JSON.stringify({ format: 1, shards, createdAt: new Date().toISOString() } satisfies Manifest) + '\n');
  fsyncDir(dir);
  return shards;
}

function writeDurably(path: string, text: string): void {
  const temp = `${path}.tmp`;
  writeFileSync(temp, text);
  const fd = openSync(temp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
