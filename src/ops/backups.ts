// Online backups (POST /api/v1/backups) while writes go on.
//
// The cut. In one synchronous step on the router thread a backup reads the
// oracle's commit timestamp and the coordinator's durable commit decisions,
// and queues a `backup` frame on every shard's ring. Each shard handles its
// frame after every frame queued before it and before every frame queued
// after it (workers/shard/backup-cut.ts): it logs what came before, hard-links
// its files into a staging folder inside the data directory, and answers with
// the WAL position of the cut once the WAL up to it is durable. So the cut is
// one instant for the whole keyspace: a write acknowledged before the backup
// began is in it, one sent after it is not, and a two-phase commit is in it
// exactly when its decision was durable (restore re-sends those decisions).
//
// The copy. From staging the files are copied into <backup-dir>/.partial-<id>/data
// (the active WAL segment only up to the cut's offset), each with its SHA-256
// in manifest.json; an incremental backup hard-links the files its base
// already holds with the same size (tables, segment files and closed WAL
// segments never change) instead of copying them. Then the folder is
// renamed to <id>, the staging links removed and the retention policy
// applied. A kill -9 at any point leaves at most a .partial- folder (never
// listed, removed at the next start) and staging links (removed too).

import { randomBytes } from 'node:crypto';
import { constants, createReadStream, createWriteStream } from 'node:fs';
import { copyFile, link, mkdir, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Cron } from 'croner';
import client from 'prom-client';
import { MantisError } from '../../shared/errors.js';
import { fsyncDir } from '../../shared/durable-file.js';
import { TimestampOracle } from '../../shared/txn/timestamp-oracle.js';
import type { Logger } from '../log.js';
import type { ShardPool } from '../router/index.js';
import type { CoordinatorLog } from '../txn/coordinator-log.js';
import {
  BACKUP_FORMAT,
  BACKUP_ID,
  MANIFEST_NAME,
  PARTIAL_PREFIX,
  isProblem,
  readBackupManifest,
  sha256File,
  verifyBackup,
  type BackupFile,
  type BackupManifest,
  type Problem,
  type ShardCut,
} from './backup-format.js';
import { pruneList, type Retention } from './retention.js';

export type BackupSummary = {
  readonly id: string;
  readonly path: string;
  readonly commit_ts: number;
  readonly created_at: string;
  readonly incremental: boolean;
  readonly base: string | null;
  readonly files: number;
  readonly bytes: number;
  readonly copied_bytes: number;
  readonly duration_ms: number;
};

export type BackupOptions = {
  readonly dataDir: string;
  /** '' = backups off (the routes answer 409 BACKUPS_DISABLED). */
  readonly backupDir: string;
  /** '' = no WAL archive. */
  readonly walArchive: string;
  /** The data directory's timeline (src/ops/backup-format.ts); null: the original one. */
  readonly timeline: string | null;
  readonly pool: ShardPool;
  readonly oracle: SharedArrayBuffer;
  readonly coordinator: CoordinatorLog;
  readonly log: Logger;
  readonly registry: client.Registry;
  readonly retention: Retention;
  /** Cron expression ('' = none). */
  readonly schedule: string;
  /** Records what the server did on its own (scheduled backups, retention) in the audit log. */
  readonly audit?: (action: string, details: Record<string, unknown>) => void;
};

/** Files of the data directory's root a backup takes (the router's own state), besides the shards. */
const ROUTER_FILES = ['mantis.json', 'txn/timestamps.reserved'];
const ROUTER_DIRS = ['cache', 'auth', 'ops'];
const DECISIONS_FILE = 'txn/decisions.json';

/** Files that never change once written: an incremental backup may reuse its base's copy. */
function immutable(path: string, activeWal: ReadonlySet<string>): boolean {
  if (activeWal.has(path)) return false;
  return /^shards\/\d+\/(sst\/\d+\.sst|wal\/\d+\.wal|tables\/.+\.seg)$/.test(path);
}

export function backupIdFor(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-12-07T10:00:00.123Z
  return `${iso.slice(0, 19).replace(/[-:]/g, '')}${iso.slice(20, 23)}Z-${randomBytes(3).toString('hex')}`;
}

export class BackupManager {
  private running: Promise<BackupSummary> | null = null;
  private cron: Cron | null = null;
  private readonly counts = { ok: 0, failed: 0, lastSuccessS: 0, lastDurationS: 0, pruned: 0 };
  private readonly oracle: TimestampOracle;

  constructor(private readonly o: BackupOptions) {
    this.oracle = new TimestampOracle(o.oracle);
    this.registerMetrics();
  }

  get enabled(): boolean {
    return this.o.backupDir !== '';
  }

  get backupDir(): string {
    return this.o.backupDir === '' ? '' : resolve(this.o.backupDir);
  }

  /** The WAL archive's root (every timeline under it). */
  get walArchive(): string {
    return this.o.walArchive === '' ? '' : resolve(this.o.walArchive);
  }


  /** Removes what an interrupted backup left (partial folders, staging links) and starts the schedule. */
  async start(): Promise<void> {
    await rm(join(this.o.dataDir, 'backup-staging'), { recursive: true, force: true });
    if (!this.enabled) return;
    await mkdir(this.backupDir, { recursive: true });
    for (const name of await readdir(this.backupDir)) {
      if (name.startsWith(PARTIAL_PREFIX)) {
        await rm(join(this.backupDir, name), { recursive: true, force: true });
        this.o.log.warn({ folder: name }, 'removed an interrupted backup');
      }
    }
    if (this.o.schedule !== '') {
      this.cron = new Cron(this.o.schedule, { protect: true }, async () => {
        try {
          const b = await this.create(false);
          this.o.log.info({ id: b.id, bytes: b.bytes }, 'scheduled backup taken');
          this.o.audit?.('backup.create', { id: b.id, scheduled: true });
        } catch (error) {
          this.o.log.error({ err: error }, 'scheduled backup failed');
        }
      });
    }
  }

  stop(): void {
    this.cron?.stop();
    this.cron = null;
  }

  /** Resolves when no backup is running (shutdown waits for it). */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  nextScheduled(): string | null {
    return this.cron?.nextRun()?.toISOString() ?? null;
  }

  create(incremental: boolean): Promise<BackupSummary> {
    if (!this.enabled) return Promise.reject(disabled());
    if (this.running !== null) return Promise.reject(new MantisError('BACKUP_IN_PROGRESS', 'a backup is being taken; retry when it is done'));
    const run = this.take(incremental).finally(() => {
      this.running = null;
    });
    this.running = run;
    return run;
  }

  async list(): Promise<BackupSummary[]> {
    if (!this.enabled) return [];
    let names: string[];
    try {
      names = await readdir(this.backupDir);
    } catch {
      return [];
    }
    const out: BackupSummary[] = [];
    for (const name of names.filter((n) => BACKUP_ID.test(n)).sort()) {
      const m = await readBackupManifest(join(this.backupDir, name));
      if (!isProblem(m)) out.push(this.summaryOf(m));
    }
    return out;
  }

  async get(id: string): Promise<BackupManifest> {
    if (!this.enabled) throw disabled();
    if (!BACKUP_ID.test(id)) throw new MantisError('BACKUP_NOT_FOUND', `no backup "${id}"`);
    const m = await readBackupManifest(join(this.backupDir, id));
    if (isProblem(m)) throw new MantisError('BACKUP_NOT_FOUND', `no backup "${id}"`);
    return m;
  }

  summaryOf(m: BackupManifest): BackupSummary {
    return {
      id: m.id,
      path: join(this.backupDir, m.id),
      commit_ts: m.commit_ts,
      created_at: m.created_at,
      incremental: m.incremental,
      base: m.base,
      files: m.files.length,
      bytes: m.bytes,
      copied_bytes: m.copied_bytes,
      duration_ms: m.duration_ms,
    };
  }

  async verify(id: string): Promise<{ id: string; ok: boolean; files: number; bytes: number; problems: Problem[] }> {
    const m = await this.get(id);
    const problems = await verifyBackup(join(this.backupDir, id), m);
    return { id, ok: problems.length === 0, files: m.files.length, bytes: m.bytes, problems };
  }

  async remove(id: string): Promise<void> {
    await this.get(id);
    // Renamed first, so a crash mid-removal never leaves a listed, half-deleted backup.
    const doomed = join(this.backupDir, `${PARTIAL_PREFIX}${id}-deleting`);
    await rename(join(this.backupDir, id), doomed);
    await fsyncDir(this.backupDir);
    await rm(doomed, { recursive: true, force: true });
  }

  private async take(incremental: boolean): Promise<BackupSummary> {
    const started = performance.now();
    const pool = this.o.pool;
    if (!pool.allReady()) throw new MantisError('SHARD_UNAVAILABLE', 'not every shard is ready; retry shortly');
    const base = incremental ? ((await this.list()).at(-1) ?? null) : null;
    const baseManifest = base === null ? null : await this.get(base.id);
    // ---- the cut: one synchronous step ----
    const cutMs = Date.now();
    const id = backupIdFor(cutMs);
    const staging = join(this.o.dataDir, 'backup-staging', id);
    const commitTs = this.oracle.current();
    const decisions = [...this.o.coordinator.pending()];
    const body = Buffer.from(JSON.stringify({ staging }));
    const answers = pool.shards.map((shard) => shard.call({ kind: 'backup', body }));
    // ---- end of the cut ----
    const partial = join(this.backupDir, `${PARTIAL_PREFIX}${id}`);
    try {
      const cuts = await Promise.all(
        answers.map(async (answer, shard) => {
          const response = await answer;
          if (response.kind === 'error') throw new MantisError(response.code, response.message);
          if (response.kind !== 'backup-result') throw new MantisError('INTERNAL', `shard ${shard} answered a backup with ${response.kind}`);
          return JSON.parse(Buffer.from(response.body).toString('utf8')) as ShardCut & { files: string[] };
        }),
      );
      const data = join(partial, 'data');
      await mkdir(data, { recursive: true });
      const files: BackupFile[] = [];
      let copied = 0;
      const baseFiles = new Map((baseManifest?.files ?? []).map((f) => [f.path, f]));
      // The router's own files (small): copied as they are now.
      for (const rel of ROUTER_FILES) await this.copyIn(join(this.o.dataDir, rel), data, rel, files).then((n) => (copied += n));
      for (const dir of ROUTER_DIRS) {
        for (const rel of await walk(join(this.o.dataDir, dir))) {
          if (rel.endsWith('.tmp')) continue;
          copied += await this.copyIn(join(this.o.dataDir, dir, rel), data, `${dir}/${rel}`, files);
        }
      }
      await mkdir(join(data, 'txn'), { recursive: true });
      const decisionsText = JSON.stringify({ commit_ts: commitTs, decisions }, null, 1);
      await writeFile(join(data, DECISIONS_FILE), decisionsText);
      copied += Buffer.byteLength(decisionsText);
      files.push({ path: DECISIONS_FILE, bytes: Buffer.byteLength(decisionsText), sha256: await sha256File(join(data, DECISIONS_FILE)) });
      // The shards' files, from staging.
      for (const cut of cuts) {
        const activeName = `wal/${String(cut.walSegment).padStart(16, '0')}.wal`;
        const active = new Set([`shards/${cut.shard}/${activeName}`]);
        for (const rel of cut.files) {
          const relPosix = rel.split(sep).join('/');
          const path = `shards/${cut.shard}/${relPosix}`;
          const from = join(staging, `shard-${cut.shard}`, rel);
          const to = join(data, path);
          await mkdir(dirname(to), { recursive: true });
          if (relPosix === activeName) {
            await copyPrefix(from, to, cut.walOffset);
            copied += cut.walOffset;
            files.push({ path, bytes: cut.walOffset, sha256: await sha256File(to) });
            continue;
          }
          const st = await stat(from);
          const size = st.size;
          const source = immutable(path, active) ? { dev: st.dev, ino: st.ino, mtime_ms: st.mtimeMs } : undefined;
          const prior = baseFiles.get(path);
          const same = prior?.source !== undefined && source !== undefined && prior.source.dev === source.dev && prior.source.ino === source.ino && prior.source.mtime_ms === source.mtime_ms;
          if (baseManifest !== null && prior !== undefined && prior.bytes === size && same) {
            try {
              await link(join(this.backupDir, baseManifest.id, 'data', path), to);
              files.push({ path, bytes: size, sha256: prior.sha256, reused: true, ...(source === undefined ? {} : { source }) });
              continue;
            } catch {
              // the base's copy is gone or on another device: copy instead
            }
          }
          await copyFile(from, to, constants.COPYFILE_FICLONE);
          copied += size;
          files.push({ path, bytes: size, sha256: await sha256File(to), ...(source === undefined ? {} : { source }) });
        }
      }
      const manifest: BackupManifest = {
        format: BACKUP_FORMAT,
        id,
        created_at: new Date(cutMs).toISOString(),
        commit_ts: commitTs,
        cut_ms: cutMs,
        incremental: baseManifest !== null,
        base: baseManifest?.id ?? null,
        timeline: this.o.timeline,
        shards: pool.shards.length,
        cuts: cuts.map(({ shard, walSegment, walOffset, lsn }) => ({ shard, walSegment, walOffset, lsn })),
        files,
        bytes: files.reduce((n, f) => n + f.bytes, 0),
        copied_bytes: copied,
        duration_ms: Math.round(performance.now() - started),
      };
      await syncTree(data);
      await writeFile(join(partial, MANIFEST_NAME), JSON.stringify(manifest, null, 1));
      await fsyncFile(join(partial, MANIFEST_NAME));
      await fsyncDir(partial);
      await rename(partial, join(this.backupDir, id));
      await fsyncDir(this.backupDir);
      this.o.log.info({ id, files: files.length, bytes: manifest.bytes, copied, ms: manifest.duration_ms, incremental: manifest.incremental }, 'backup taken');
      // The backup is whole and listed: a retention failure is reported, not made the backup's.
      await this.prune().catch((error: unknown) => this.o.log.error({ err: error }, 'retention after a backup failed; the backup itself is complete'));
      // Counted once retention is done, so the count never runs ahead of what is listed.
      this.counts.ok++;
      this.counts.lastSuccessS = Date.now() / 1000;
      this.counts.lastDurationS = (performance.now() - started) / 1000;
      return this.summaryOf(manifest);
    } catch (error) {
      this.counts.failed++;
      await Promise.allSettled(answers);
      await rm(partial, { recursive: true, force: true }).catch(() => undefined);
      this.o.log.error({ err: error, id }, 'backup failed');
      throw error instanceof MantisError ? error : new MantisError('STORAGE_IO', `backup failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      await rm(staging, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /** Copies one router file (absent files are skipped); returns the bytes copied. */
  private async copyIn(from: string, data: string, rel: string, files: BackupFile[]): Promise<number> {
    const to = join(data, rel);
    try {
      await mkdir(dirname(to), { recursive: true });
      await copyFile(from, to);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw error;
    }
    const bytes = (await stat(to)).size;
    files.push({ path: rel, bytes, sha256: await sha256File(to) });
    return bytes;
  }

  /** Applies the retention policy: deletes the backups it does not keep. */
  async prune(): Promise<string[]> {
    const r = this.o.retention;
    if (r.keepLast === 0 && r.keepDaily === 0 && r.keepWeekly === 0) return [];
    const all = await this.list();
    const doomed = pruneList(
      all.map((b) => ({ id: b.id, createdAt: Date.parse(b.created_at) })),
      r,
    );
    for (const id of doomed) {
      await this.remove(id);
      this.counts.pruned++;
      this.o.log.info({ id }, 'backup removed by the retention policy');
      this.o.audit?.('backup.delete', { id, retention: true });
    }
    return doomed;
  }

  private registerMetrics(): void {
    const registers = [this.o.registry];
    const counts = this.counts;
    new client.Counter({
      name: 'mantis_backups_total',
      help: 'Backups taken, by outcome',
      labelNames: ['outcome'],
      registers,
      collect() {
        this.reset();
        this.inc({ outcome: 'success' }, counts.ok);
        this.inc({ outcome: 'failure' }, counts.failed);
      },
    });
    new client.Gauge({
      name: 'mantis_backup_last_success_timestamp_seconds',
      help: 'When the last backup succeeded (0: none since the start)',
      registers,
      collect() {
        this.set(counts.lastSuccessS);
      },
    });
    new client.Gauge({
      name: 'mantis_backup_last_duration_seconds',
      help: 'How long the last successful backup took',
      registers,
      collect() {
        this.set(counts.lastDurationS);
      },
    });
    new client.Counter({
      name: 'mantis_backups_pruned_total',
      help: 'Backups deleted by the retention policy',
      registers,
      collect() {
        this.reset();
        this.inc(counts.pruned);
      },
    });
  }
}

function disabled(): MantisError {
  return new MantisError('BACKUPS_DISABLED', 'backups are off: start the server with --backup-dir DIR');
}

/** Relative paths ('/'-separated) of every file under dir; [] when dir is missing. */
export async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await visit(p);
      else if (e.isFile()) out.push(relative(dir, p).split(sep).join('/'));
    }
  };
  await visit(dir);
  return out.sort();
}

/** Copies the first `bytes` bytes of `from` into a new file `to`. */
export async function copyPrefix(from: string, to: string, bytes: number): Promise<void> {
  if (bytes === 0) {
    await writeFile(to, new Uint8Array(0));
    return;
  }
  await pipeline(createReadStream(from, { start: 0, end: bytes - 1 }), createWriteStream(to));
  const size = (await stat(to)).size;
  if (size !== bytes) throw new Error(`${from}: copied ${size} bytes of the ${bytes} the cut needs`);
}

export async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** fsyncs every file and directory under dir (bottom-up). */
async function syncTree(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await syncTree(p);
    else await fsyncFile(p);
  }
  await fsyncDir(dir);
}
