// Backups and the storage browser (the admin's permission when auth is on):
//
//   POST   /api/v1/backups {"incremental":false}  → 201 data: {id, path, commit_ts, created_at, …}
//   GET    /api/v1/backups                        → data: backups, oldest first
//   GET    /api/v1/backups/:id                    → data: the manifest (files, cuts)
//   POST   /api/v1/backups/:id/verify             → data: {ok, problems: [{file, problem}]}
//   DELETE /api/v1/backups/:id                    → data: {id, deleted: true}
//   GET    /api/storage/list                      → data: {roots, backups, wal_archive, data_files}
//   GET    /api/storage/download?path=…           → a tar stream of a backup, a folder or a file
//
// Storage paths are virtual: "data/…", "backups/…", "wal_archive/…". A path
// that leaves its root (.., a symlink out) or names no root is 400 INVALID_PATH.

import { realpath, readFile, stat } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Context, Hono } from 'hono';
import { pack } from 'tar-stream';
import { MantisError } from '../../shared/errors.js';
import type { Logger } from '../log.js';
import { walk, type BackupManager } from '../ops/backups.js';
import type { Bindings } from './hono-app.js';
import { toResponse } from './hono-app.js';
import { jsonBody, onlyFields } from './json-body.js';
import { guarded, okReply, STREAM_HEADER } from './reply.js';

export type BackupRouteDeps = {
  readonly backups: BackupManager;
  readonly dataDir: string;
  readonly log: Logger;
  readonly audit?: (c: Context<{ Bindings: Bindings }>, action: string, details: Record<string, unknown>) => void;
};

type Root = { readonly name: 'data' | 'backups' | 'wal_archive'; readonly path: string };

function rootsOf(deps: BackupRouteDeps): Root[] {
  const roots: Root[] = [{ name: 'data', path: resolve(deps.dataDir) }];
  if (deps.backups.backupDir !== '') roots.push({ name: 'backups', path: deps.backups.backupDir });
  if (deps.backups.walArchive !== '') roots.push({ name: 'wal_archive', path: deps.backups.walArchive });
  return roots;
}

/** A virtual storage path → the real path inside its root, or INVALID_PATH. */
export async function resolveStoragePath(roots: readonly Root[], given: string | null): Promise<{ root: Root; real: string; rel: string }> {
  let raw = given;
  if (raw === null || raw === '') throw new MantisError('INVALID_PATH', 'path is required: data/…, backups/… or wal_archive/…');
  if (raw.includes('\0') || raw.length > 4096) throw new MantisError('INVALID_PATH', 'path is not a valid storage path');
  if (raw.startsWith('/')) {
    // An absolute path (a backup's "path") is accepted when it lies inside a root.
    const abs = raw;
    const root = roots.find((r) => abs === r.path || abs.startsWith(r.path + '/'));
    if (root === undefined) throw new MantisError('INVALID_PATH', `path "${abs}" is outside the storage roots`);
    raw = `${root.name}${abs.slice(root.path.length)}`;
  }
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new MantisError('INVALID_PATH', `path "${raw}" leaves the storage roots`);
  const root = roots.find((r) => r.name === parts[0]);
  if (root === undefined) throw new MantisError('INVALID_PATH', `path "${raw}" is outside the storage roots (${roots.map((r) => r.name).join(', ')})`);
  const joined = resolve(root.path, ...parts.slice(1));
  let real: string;
  try {
    real = await realpath(joined);
  } catch {
    throw new MantisError('NOT_FOUND', `nothing at ${raw}`);
  }
  const rootReal = await realpath(root.path);
  const rel = relative(rootReal, real);
  if (rel.startsWith('..') || resolve(rootReal, rel) !== real) throw new MantisError('INVALID_PATH', `path "${raw}" leads outside its root`);
  return { root, real, rel };
}

type DataFile = { path: string; bytes: number; shard: number | null; kind: string; level: number | null };

/** The LSM manifest's table levels of one shard (file number → level); empty when unreadable. */
async function levelsOf(sstDir: string): Promise<Map<number, number>> {
  const levels = new Map<number, number>();
  try {
    const buf = await readFile(join(sstDir, 'MANIFEST'));
    const json = JSON.parse(buf.subarray(16).toString('utf8')) as { levels: { fileNumber: number }[][] };
    json.levels.forEach((level, i) => level.forEach((t) => levels.set(t.fileNumber, i)));
  } catch {
    // no manifest yet, or one being replaced: no levels shown
  }
  return levels;
}

async function dataFiles(dataDir: string): Promise<DataFile[]> {
  const out: DataFile[] = [];
  const levelCache = new Map<number, Map<number, number>>();
  for (const rel of await walk(dataDir)) {
    if (rel.startsWith('backup-staging/') || rel.startsWith('tmp/')) continue;
    const bytes = await stat(join(dataDir, rel)).then((s) => s.size, () => -1);
    if (bytes < 0) continue;
    const m = /^shards\/(\d+)\/(.*)$/.exec(rel);
    const shard = m === null ? null : Number(m[1]);
    const inner = m?.[2] ?? rel;
    let kind = 'other';
    let level: number | null = null;
    if (/^sst\/\d+\.sst$/.test(inner)) {
      kind = 'sst';
      let levels = levelCache.get(shard as number);
      if (levels === undefined) levelCache.set(shard as number, (levels = await levelsOf(join(dataDir, 'shards', String(shard), 'sst'))));
      level = levels.get(Number(inner.slice(4, 16))) ?? null;
    } else if (inner === 'sst/MANIFEST') kind = 'manifest';
    else if (/^wal\/\d+\.wal$/.test(inner)) kind = 'wal';
    else if (inner.startsWith('tables/')) kind = 'segment';
    else if (shard === null) kind = rel.split('/')[0] === rel ? 'meta' : rel.split('/')[0];
    out.push({ path: `data/${rel}`, bytes, shard, kind, level });
  }
  return out;
}

export function registerBackupRoutes(app: Hono<{ Bindings: Bindings }>, deps: BackupRouteDeps): void {
  const guard = guarded((error) => deps.log.error({ err: error }, 'unexpected error in a backup route'));
  const b = deps.backups;
  app.post('/api/v1/backups', async (c) =>
    toResponse(
      await guard(async () => {
        const raw = new Uint8Array(await c.req.arrayBuffer());
        let incremental = false;
        if (raw.length > 0) {
          const body = jsonBody(c.req.header('content-type'), raw, true);
          onlyFields(body, ['incremental']);
          if (body.incremental !== undefined && typeof body.incremental !== 'boolean') throw new MantisError('INVALID_PARAMETER', '"incremental" must be true or false');
          incremental = body.incremental === true;
        }
        const summary = await b.create(incremental);
        deps.audit?.(c, 'backup.create', { id: summary.id, incremental: summary.incremental });
        return okReply(summary, {}, 201);
      }),
    ),
  );
  app.get('/api/v1/backups', async () =>
    toResponse(
      await guard(async () => {
        if (!b.enabled) throw new MantisError('BACKUPS_DISABLED', 'backups are off: start the server with --backup-dir DIR');
        return okReply(await b.list(), { backup_dir: b.backupDir, next_scheduled: b.nextScheduled() });
      }),
    ),
  );
  app.get('/api/v1/backups/:id', async (c) => toResponse(await guard(async () => {
    const m = await b.get(c.req.param('id'));
    return okReply({ ...b.summaryOf(m), cut_ms: m.cut_ms, shards: m.shards, cuts: m.cuts, file_list: m.files });
  })));
  app.post('/api/v1/backups/:id/verify', async (c) => toResponse(await guard(async () => okReply(await b.verify(c.req.param('id'))))));
  app.delete('/api/v1/backups/:id', async (c) =>
    toResponse(
      await guard(async () => {
        const id = c.req.param('id');
        await b.remove(id);
        deps.audit?.(c, 'backup.delete', { id });
        return okReply({ id, deleted: true });
      }),
    ),
  );

  app.get('/api/storage/list', async () =>
    toResponse(
      await guard(async () => {
        const roots = rootsOf(deps);
        const archive =
          b.walArchive === ''
            ? []
            : await Promise.all(
                (await walk(b.walArchive)).filter((r) => !r.endsWith('.tmp')).map(async (rel) => ({
                  path: `wal_archive/${rel}`,
                  shard: Number(/^shard-(\d+)\//.exec(rel)?.[1] ?? -1),
                  bytes: await stat(join(b.walArchive, rel)).then((s) => s.size, () => 0),
                })),
              );
        const backups = (await b.list()).map((x) => ({ ...x, storage_path: `backups/${x.id}` }));
        return okReply({
          roots: roots.map((r) => ({ name: r.name, path: r.path })),
          backups,
          wal_archive: archive,
          data_files: await dataFiles(resolve(deps.dataDir)),
        });
      }),
    ),
  );

  app.get('/api/storage/download', async (c) => {
    let target: { root: Root; real: string; rel: string };
    try {
      target = await resolveStoragePath(rootsOf(deps), new URLSearchParams(c.env.rawQuery).get('path'));
    } catch (error) {
      return toResponse(await guard(() => Promise.reject(error)));
    }
    const info = await stat(target.real);
    const base = target.rel === '' ? target.root.name : target.rel.split(sep).join('/');
    const files = info.isDirectory() ? (await walk(target.real)).map((rel) => ({ name: `${base}/${rel}`, path: join(target.real, rel) })) : [{ name: base, path: target.real }];
    const tar = pack();
    // Entries one at a time: each file streams into the archive, so memory stays flat.
    void (async () => {
      try {
        for (const f of files) {
          const s = await stat(f.path).catch(() => null);
          if (s === null || !s.isFile()) continue;
          const header = { name: f.name, size: s.size, mode: 0o644, mtime: s.mtime };
          if (s.size === 0) {
            await new Promise<void>((done, fail) => tar.entry(header, Buffer.alloc(0), (error) => (error ? fail(error) : done())));
            continue;
          }
          // Only the bytes the listing saw: an active WAL segment may grow meanwhile.
          await pipeline(createReadStream(f.path, { start: 0, end: s.size - 1 }), tar.entry(header));
        }
        tar.finalize();
      } catch (error) {
        deps.log.error({ err: error, path: target.real }, 'storage download failed');
        tar.destroy(error instanceof Error ? error : new Error(String(error)));
      }
    })();
    const fileName = `${base.split('/').join('_')}.tar`;
    deps.audit?.(c, 'storage.download', { path: new URLSearchParams(c.env.rawQuery).get('path') });
    return new Response(Readable.toWeb(Readable.from(tar as unknown as AsyncIterable<Buffer>)) as unknown as ReadableStream, {
      status: 200,
      headers: { 'Content-Type': 'application/x-tar', 'Content-Disposition': `attachment; filename="${fileName}"`, 'Cache-Control': 'no-store', [STREAM_HEADER]: '1' },
    });
  });
}
