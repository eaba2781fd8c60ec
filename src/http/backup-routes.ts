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
import { any, arr, bool, closed, int, JSON_ERRORS, jsonBody as jsonBodySpec, nullable, obj, ok, pathParam, queryParam, raw, ref, pathParamOf, route, str, type RouteSpec } from './api-spec.js';

export type BackupRouteDeps = {
  readonly backups: BackupManager;
  readonly dataDir: string;
  readonly log: Logger;
  readonly audit?: (c: Context<{ Bindings: Bindings }>, action: string, details: Record<string, unknown>) => void;
};

// ---- route specs (the OpenAPI description is built from these; see api-spec.ts) --------------

const BACKUP_EXAMPLE = {
  id: '20261207T101500000Z-4f2a9c',
  path: '/var/backups/mantis/20261207T101500000Z-4f2a9c',
  commit_ts: 1042,
  created_at: '2026-12-07T10:15:00.000Z',
  incremental: false,
  base: null,
  files: 38,
  bytes: 7340032,
  copied_bytes: 7340032,
  duration_ms: 412,
};
const BACKUP_ID_PARAM = pathParam('id', 'A backup id (the cut\'s UTC time plus a random suffix).', BACKUP_EXAMPLE.id, { type: 'string', pattern: '^[0-9]{8}T[0-9]{9}Z-[0-9a-f]{6}$' });
const DISABLED_NOTE = 'Backups need --backup-dir; without it the answer is 409 BACKUPS_DISABLED.';

const CREATE_BACKUP: RouteSpec = {
  method: 'POST',
  path: '/api/v1/backups',
  tag: 'Backups',
  summary: 'Take a backup now',
  description: `A full backup, or an incremental one on top of the latest (its \`base\`). ${DISABLED_NOTE} 409 BACKUP_IN_PROGRESS (retryable) while another backup is being taken.`,
  body: jsonBodySpec(closed({ incremental: bool('default false') }), { incremental: false }, { required: false, lenient: true }),
  responses: [ok('Taken.', ref('BackupSummary'), BACKUP_EXAMPLE, { status: 201 })],
  errors: [...JSON_ERRORS, 'BACKUPS_DISABLED', 'BACKUP_IN_PROGRESS', 'SHARD_UNAVAILABLE', 'STORAGE_IO'],
  permission: 'admin:write',
};

const LIST_BACKUPS: RouteSpec = {
  method: 'GET',
  path: '/api/v1/backups',
  tag: 'Backups',
  summary: 'Every backup, oldest first',
  description: DISABLED_NOTE,
  responses: [
    ok('The backups.', arr(ref('BackupSummary')), [BACKUP_EXAMPLE], {
      meta: closed({ backup_dir: str(), next_scheduled: nullable(str('the next scheduled backup (RFC 3339), with --backup-schedule', { format: 'date-time' })) }, ['backup_dir', 'next_scheduled']),
      metaExample: { backup_dir: '/var/backups/mantis', next_scheduled: null },
    }),
  ],
  errors: ['BACKUPS_DISABLED'],
  permission: 'admin:read',
};

const GET_BACKUP: RouteSpec = {
  method: 'GET',
  path: '/api/v1/backups/{id}',
  tag: 'Backups',
  summary: 'One backup\'s manifest',
  description: `The summary plus cut_ms, shards, cuts (per shard the WAL segment, byte offset and LSN of the cut) and file_list. ${DISABLED_NOTE}`,
  params: [BACKUP_ID_PARAM],
  responses: [
    ok(
      'The backup.',
      {
        allOf: [
          ref('BackupSummary'),
          obj(
            {
              cut_ms: int(),
              shards: int(),
              cuts: arr(obj({ shard: int(), walSegment: int(), walOffset: int(), lsn: int() }, ['shard', 'walSegment', 'walOffset', 'lsn'])),
              file_list: arr(obj({ path: str(), bytes: int(), sha256: str(), reused: bool() }, ['path', 'bytes', 'sha256'])),
            },
            ['cut_ms', 'shards', 'cuts', 'file_list'],
          ),
        ],
      },
      {
        ...BACKUP_EXAMPLE,
        cut_ms: 1765102500000,
        shards: 1,
        cuts: [{ shard: 0, walSegment: 3, walOffset: 4096, lsn: 12 }],
        file_list: [{ path: 'mantis.json', bytes: 120, sha256: '9f2c4e0f3b2a8d1e5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d' }],
      },
    ),
  ],
  errors: ['BACKUPS_DISABLED', 'BACKUP_NOT_FOUND'],
  permission: 'admin:read',
};

const VERIFY_BACKUP: RouteSpec = {
  method: 'POST',
  path: '/api/v1/backups/{id}/verify',
  tag: 'Backups',
  summary: 'Check a backup against its manifest',
  description: `Reads the backup back and checks every file's size and SHA-256. ${DISABLED_NOTE}`,
  params: [BACKUP_ID_PARAM],
  responses: [
    ok(
      'The check.',
      closed({ id: str(), ok: bool(), files: int(), bytes: int(), problems: arr(closed({ file: str(), problem: str() }, ['file', 'problem'])) }, ['id', 'ok', 'files', 'bytes', 'problems']),
      { id: BACKUP_EXAMPLE.id, ok: true, files: 38, bytes: 7340032, problems: [] },
    ),
  ],
  errors: ['BACKUPS_DISABLED', 'BACKUP_NOT_FOUND'],
  permission: 'admin:write',
};

const DELETE_BACKUP: RouteSpec = {
  method: 'DELETE',
  path: '/api/v1/backups/{id}',
  tag: 'Backups',
  summary: 'Remove a backup',
  description: DISABLED_NOTE,
  params: [BACKUP_ID_PARAM],
  responses: [ok('Removed.', closed({ id: str(), deleted: { const: true } }, ['id', 'deleted']), { id: BACKUP_EXAMPLE.id, deleted: true })],
  errors: ['BACKUPS_DISABLED', 'BACKUP_NOT_FOUND'],
  permission: 'admin:write',
};

const STORAGE_LIST: RouteSpec = {
  method: 'GET',
  path: '/api/storage/list',
  tag: 'Backups',
  summary: 'What the server keeps on disk',
  description:
    'Three virtual roots: data/ (the data directory), backups/ (--backup-dir) and wal_archive/ (--wal-archive). data_files lists every file of the data directory: kind is sst (with its LSM level), manifest, wal, segment, meta, or the folder of a router file (txn, cache, auth, ops, audit); shard is null outside shards/.',
  responses: [
    ok(
      'The listing.',
      closed(
        {
          roots: arr(closed({ name: { enum: ['data', 'backups', 'wal_archive'] }, path: str() }, ['name', 'path'])),
          backups: arr({ allOf: [ref('BackupSummary'), obj({ storage_path: str() }, ['storage_path'])] }),
          wal_archive: arr(closed({ path: str(), shard: int(), bytes: int() }, ['path', 'shard', 'bytes'])),
          data_files: arr(closed({ path: str(), bytes: int(), shard: nullable(int()), kind: str(), level: nullable(int()) }, ['path', 'bytes', 'shard', 'kind', 'level'])),
        },
        ['roots', 'backups', 'wal_archive', 'data_files'],
      ),
      {
        roots: [{ name: 'data', path: '/var/lib/mantis' }],
        backups: [],
        wal_archive: [],
        data_files: [{ path: 'data/shards/0/sst/000000000012.sst', bytes: 2097152, shard: 0, kind: 'sst', level: 1 }],
      },
    ),
  ],
  errors: [],
  permission: 'admin:read',
};

const STORAGE_DOWNLOAD: RouteSpec = {
  method: 'GET',
  path: '/api/storage/download',
  tag: 'Backups',
  summary: 'A tar stream of a backup, a folder or a file',
  description:
    'A virtual path (backups/<id>, data/shards/0/sst/…, wal_archive/shard-0/…) or an absolute path inside one of the roots (a backup\'s path). A path that leaves the roots (.., a symbolic link out, another absolute path) is 400 INVALID_PATH; a missing one 404 NOT_FOUND. Needs admin write: the files include the JWT signing secret and the password hashes.',
  params: [queryParam('path', 'What to download.', str(undefined, { minLength: 1, maxLength: 4096 }), 'data/mantis.json', true)],
  responses: [
    raw(200, 'The tar stream.', 'application/x-tar', any('a tar archive'), undefined, {
      'Content-Disposition': { description: 'attachment; filename="<path with _ for />.tar"', schema: str() },
    }),
  ],
  errors: ['INVALID_PATH', 'NOT_FOUND'],
  permission: 'admin:write',
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
  route(app, CREATE_BACKUP, async (c) =>
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
  route(app, LIST_BACKUPS, async () =>
    toResponse(
      await guard(async () => {
        if (!b.enabled) throw new MantisError('BACKUPS_DISABLED', 'backups are off: start the server with --backup-dir DIR');
        return okReply(await b.list(), { backup_dir: b.backupDir, next_scheduled: b.nextScheduled() });
      }),
    ),
  );
  route(app, GET_BACKUP, async (c) => toResponse(await guard(async () => {
    const m = await b.get(pathParamOf(c, 'id'));
    return okReply({ ...b.summaryOf(m), cut_ms: m.cut_ms, shards: m.shards, cuts: m.cuts, file_list: m.files });
  })));
  route(app, VERIFY_BACKUP, async (c) => toResponse(await guard(async () => okReply(await b.verify(pathParamOf(c, 'id'))))));
  route(app, DELETE_BACKUP, async (c) =>
    toResponse(
      await guard(async () => {
        const id = pathParamOf(c, 'id');
        await b.remove(id);
        deps.audit?.(c, 'backup.delete', { id });
        return okReply({ id, deleted: true });
      }),
    ),
  );

  route(app, STORAGE_LIST, async () =>
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

  route(app, STORAGE_DOWNLOAD, async (c) => {
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
