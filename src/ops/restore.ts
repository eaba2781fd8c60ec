// Restore and point-in-time recovery:
//
//   npm run restore -- --from <backup folder> --to <empty dir> [--until <RFC 3339 time> | --until-ts <ms>] [--archive DIR]
//   node dist/src/main.js restore …   (the same, as a subcommand of the server)
//
// Without --until the result is the backup's state at its cut: the files are
// checked against the manifest's SHA-256 sums, copied, the active WAL segment
// only up to the cut, and the two-phase commit decisions durable at the cut
// are written into a fresh coordinator log (the server re-sends them to the
// participants at start, as after a crash).
//
// With --until the WAL archive (--archive, or --wal-archive: the server's
// flag) is replayed on top of the backup up to that moment: each shard's log
// continues with the archived segments after the cut (checked to continue the
// LSNs of the backup's), and is cut at the first WAL_CLOCK record past the
// target — a shard stamps each millisecond in which it logs, before the
// records of that millisecond, so everything logged up to the target stays
// and nothing logged after it does. A two-phase commit whose COMMIT record
// any shard logged before the target is completed on the shards that logged
// it later (a COMMIT record is appended to their logs), so a transaction is
// in or out as a whole. The timestamp reservation is raised above every
// commit timestamp kept.
//
// A damaged or incomplete backup is refused naming the file; so is a
// non-empty target.

import { appendFile, copyFile, mkdir, readdir, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { decodeClock, WAL_CLOCK, WAL_END } from '../../shared/wire.js';
import { decodeTxnWalRecord, encodeTxnWalRecord, isTxnWalType, type TxnWalRecord } from '../../shared/txn/txn-wal.js';

type PrepareRecord = Extract<TxnWalRecord, { kind: 'prepare' }>;
import { TimestampReserver } from '../../shared/txn/timestamp-oracle.js';
import { decodeNext, encodeRecords } from '../../workers/wal/wal-record.js';
import { CoordinatorLog } from '../txn/coordinator-log.js';
import { archiveRootOf, isProblem, newTimeline, readBackupManifest, TIMELINE_FILE, verifyBackup, type BackupManifest } from './backup-format.js';
import { walk } from './backups.js';

export class RestoreError extends Error {}

export type RestoreOptions = {
  readonly from: string;
  readonly to: string;
  /** Replay the archive up to this moment (ms since the epoch); null = the backup's cut. */
  readonly untilMs: number | null;
  readonly archive: string | null;
  readonly log?: (line: string) => void;
};

export type RestoreReport = {
  readonly backup: string;
  readonly commitTs: number;
  readonly cutAt: string;
  readonly files: number;
  readonly bytes: number;
  /** With --until: per shard, the archived segments replayed and where the log was cut. */
  readonly shards: readonly { shard: number; segments: number; records: number; lastClock: string | null; completedCommits: number }[];
};

const SEGMENT = /^(\d{16})\.wal$/;

export async function restore(o: RestoreOptions): Promise<RestoreReport> {
  const to = resolve(o.to);
  const manifest = await readBackupManifest(resolve(o.from));
  if (isProblem(manifest)) throw new RestoreError(`${manifest.file}: ${manifest.problem}`);
  if (await nonEmpty(to)) throw new RestoreError(`${to} is not empty: restore only into a new or empty directory`);
  try {
    return await restoreInto(o, manifest, to);
  } catch (error) {
    // Nothing half-restored stays behind: the directory is empty again for the next attempt.
    for (const name of await readdir(to).catch(() => [] as string[])) await rm(join(to, name), { recursive: true, force: true });
    throw error;
  }
}

async function restoreInto(o: RestoreOptions, manifest: BackupManifest, to: string): Promise<RestoreReport> {
  const say = o.log ?? (() => undefined);
  const from = resolve(o.from);
  const timeline = newTimeline();
  if (o.untilMs !== null && o.untilMs < manifest.cut_ms) {
    throw new RestoreError(`--until ${new Date(o.untilMs).toISOString()} is before the backup's cut (${manifest.created_at}); restore an older backup`);
  }
  if (o.untilMs !== null && o.archive === null) throw new RestoreError('--until needs the WAL archive: give --archive DIR (the server\'s --wal-archive)');
  say(`checking ${manifest.files.length} files of backup ${manifest.id}`);
  const problems = await verifyBackup(from, manifest);
  if (problems.length > 0) {
    throw new RestoreError(`the backup is damaged: ${problems.map((p) => `${p.file}: ${p.problem}`).join('; ')}`);
  }
  await mkdir(to, { recursive: true });
  // The timeline goes first: even a restore cut short never runs on the original's archive names.
  await mkdir(join(to, 'ops'), { recursive: true });
  await writeFile(join(to, TIMELINE_FILE), `${timeline}\n`);
  for (const f of manifest.files) {
    if (f.path === TIMELINE_FILE) continue;
    if (f.path === 'txn/decisions.json') continue;
    const dest = join(to, f.path);
    await mkdir(dirname(dest), { recursive: true });
    await copyFile(join(from, 'data', f.path), dest);
  }
  const decisions = JSON.parse(await readFile(join(from, 'data', 'txn', 'decisions.json'), 'utf8')) as {
    decisions: { txnId: string; commitTs: number; participants: number[] }[];
  };
  let maxTs = manifest.commit_ts;
  const shards: RestoreReport['shards'][number][] = [];
  if (o.untilMs !== null) {
    const archive = archiveRootOf(resolve(o.archive as string), manifest.timeline ?? null);
    const logs = await Promise.all(manifest.cuts.map((cut) => extendShardLog(to, archive, cut, o.untilMs as number)));
    // Every shard's log must reach the target (a clock past it) or end in a clean shutdown; else
    // the archive lacks WAL the target needs, and the result would silently miss writes.
    const short = logs.filter((l) => !l.reached && !l.endedCleanly);
    if (short.length > 0) {
      const where = short.map((l) => `shard ${l.shard} ends at ${l.lastClock === null ? 'the backup' : new Date(l.lastClock).toISOString()}`).join(', ');
      throw new RestoreError(
        `the WAL archive ${archive} does not reach --until ${new Date(o.untilMs).toISOString()} (${where}): the newer WAL is not archived yet. Restore to an earlier moment, or take a backup (it archives every shard's log up to then) and try again`,
      );
    }
    // Transactions committed by some shard before the target are completed everywhere they were prepared.
    // (A participant logs its commit of a prepared transaction as COMMIT_ONE with the writes; the
    // completion is the same record, with the writes of this shard's PREPARE.)
    const committed = new Map<string, number>();
    for (const l of logs) for (const [id, ts] of l.commits) committed.set(id, ts);
    for (const l of logs) {
      let completed = 0;
      const append: { type: number; payload: Uint8Array }[] = [];
      for (const [id, prepared] of l.undecided) {
        const ts = committed.get(id);
        if (ts === undefined) continue;
        append.push(encodeTxnWalRecord({ kind: 'commit-one', txnId: prepared.txnId, commitTs: ts, writes: prepared.writes }));
        completed++;
      }
      if (append.length > 0) await appendRecords(l.lastSegmentPath, l.lastLsn, append);
      maxTs = Math.max(maxTs, l.maxTs);
      shards.push({ shard: l.shard, segments: l.segments, records: l.records, lastClock: l.lastClock === null ? null : new Date(l.lastClock).toISOString(), completedCommits: completed });
    }
  }
  // The coordinator's decisions durable at the cut, in a fresh log (recovery re-sends them).
  await rm(join(to, 'txn', 'coordinator.log'), { force: true });
  const coordinator = await CoordinatorLog.open(join(to, 'txn'));
  try {
    for (const d of decisions.decisions) await coordinator.logCommit(d.txnId, d.commitTs, d.participants);
  } finally {
    await coordinator.close();
  }
  // No timestamp the restored server hands out may be at or below one already used.
  const reserver = await TimestampReserver.open(join(to, 'txn'), { floor: maxTs + 1 });
  await reserver.close();

  return { backup: manifest.id, commitTs: manifest.commit_ts, cutAt: manifest.created_at, files: manifest.files.length, bytes: manifest.bytes, shards };
}

async function nonEmpty(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length > 0;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new RestoreError(`${dir}: ${String(error)}`);
  }
}

type ShardLog = {
  shard: number;
  segments: number;
  records: number;
  lastClock: number | null;
  /** A clock past the target was found (the log was cut there). */
  reached: boolean;
  /** The log ends with a clean shutdown's WAL_END: nothing after it is missing. */
  endedCleanly: boolean;
  lastLsn: number;
  lastSegmentPath: string;
  maxTs: number;
  /** 2PC commit records kept (txn id → commit ts). */
  commits: Map<string, number>;
  /** Transactions prepared and not decided in the kept log, with their PREPARE. */
  undecided: Map<string, PrepareRecord>;
};

/**
 * One shard's WAL in the restored directory, continued from the archive and cut at `untilMs`.
 * The backup's segments stay as they are up to the cut's segment; from there the archive's
 * copies (longer) take over, each checked to begin where the previous one ended.
 */
async function extendShardLog(to: string, archive: string, cut: BackupManifest['cuts'][number], untilMs: number): Promise<ShardLog> {
  const walDir = join(to, 'shards', String(cut.shard), 'wal');
  await mkdir(walDir, { recursive: true });
  const archDir = join(archive, `shard-${cut.shard}`);
  // Table segment files written after the backup (the WAL's segment entries name them).
  const shardDir = join(to, 'shards', String(cut.shard));
  for (const rel of await walk(join(archDir, 'tables'))) {
    const dest = join(shardDir, 'tables', rel);
    if ((await stat(dest).then(() => true, () => false)) || rel.endsWith('.tmp')) continue;
    await mkdir(dirname(dest), { recursive: true });
    await copyFile(join(archDir, 'tables', rel), dest);
  }
  const archived = (await readdir(archDir).catch(() => [] as string[])).filter((n) => SEGMENT.test(n)).sort();
  let added = 0;
  for (const name of archived) {
    const seq = Number(SEGMENT.exec(name)?.[1]);
    if (seq < cut.walSegment) continue;
    const src = join(archDir, name);
    const dest = join(walDir, name);
    const have = await stat(dest).then((s) => s.size, () => -1);
    const size = (await stat(src)).size;
    if (seq === cut.walSegment) {
      if (size <= have) continue;
      // The archive's copy must begin with exactly the bytes the backup holds.
      const [a, b] = await Promise.all([readFile(dest), readFile(src)]);
      if (!b.subarray(0, a.length).equals(a)) throw new RestoreError(`${src}: does not continue the backup's copy of the segment (different bytes before the cut)`);
    }
    await copyFile(src, `${dest}.tmp`);
    await rename(`${dest}.tmp`, dest);
    added++;
  }
  // Walk every segment in order: check continuity, find the cut by time, note transactions.
  const names = (await readdir(walDir)).filter((n) => SEGMENT.test(n)).sort();
  const log: ShardLog = {
    shard: cut.shard,
    segments: added,
    records: 0,
    lastClock: null,
    reached: false,
    endedCleanly: false,
    lastLsn: 0,
    lastSegmentPath: '',
    maxTs: 0,
    commits: new Map(),
    undecided: new Map(),
  };
  let cutAt: { name: string; offset: number } | null = null;
  let prevLsn: number | null = null;
  for (const name of names) {
    const path = join(walDir, name);
    if (cutAt !== null) {
      await rm(path, { force: true });
      continue;
    }
    const buf = await readFile(path);
    const seq = Number(SEGMENT.exec(name)?.[1]);
    let offset = 0;
    let firstInSegment = true;
    log.endedCleanly = false;
    for (;;) {
      const r = decodeNext(buf, offset);
      if (r.kind === 'end') break;
      if (r.kind !== 'record') {
        // A torn tail is where a segment ended at a crash (the next segment goes on after it); a
        // damaged record is not something to replay past.
        if (r.kind === 'torn') {
          await truncateTo(path, offset);
          break;
        }
        throw new RestoreError(`${path}: ${r.reason} at offset ${offset}`);
      }
      if (firstInSegment && prevLsn !== null && r.lsn !== prevLsn + 1) {
        throw new RestoreError(`${path}: begins at LSN ${r.lsn} but the segment before ends at ${prevLsn}: the archive is missing a segment`);
      }
      firstInSegment = false;
      // Everything before the backup's cut is in the backup whatever its clocks say (a shard's
      // clock may run ahead of the router's cut time): the log is cut only after it.
      const pastCut = seq > cut.walSegment || (seq === cut.walSegment && offset >= cut.walOffset);
      log.endedCleanly = r.type === WAL_END;
      if (r.type === WAL_CLOCK || r.type === WAL_END) {
        const ms = decodeClock(r.payload);
        if (ms > untilMs) {
          // The log covers the target; it is cut here unless this is still the backup's part.
          log.reached = true;
          if (pastCut) {
            cutAt = { name, offset };
            log.endedCleanly = false;
            break;
          }
        }
        log.lastClock = ms;
      } else if (isTxnWalType(r.type)) {
        const rec = decodeTxnWalRecord(r.type, r.payload);
        const id = String(rec.txnId);
        if (rec.kind === 'prepare') log.undecided.set(id, rec);
        else {
          log.undecided.delete(id);
          if (rec.kind === 'commit' || rec.kind === 'commit-one') {
            log.commits.set(id, rec.commitTs);
            log.maxTs = Math.max(log.maxTs, rec.commitTs);
          }
        }
      }
      prevLsn = r.lsn;
      log.lastLsn = r.lsn;
      log.records++;
      offset = r.next;
    }
    log.lastSegmentPath = path;
    // The next segment must begin right after the cut's last record at least (the backup's copy of
    // the cut segment may hold none of the records the archive is to continue with).
    if (Number(SEGMENT.exec(name)?.[1]) === cut.walSegment && (prevLsn === null || prevLsn < cut.lsn)) prevLsn = cut.lsn;
    if (cutAt !== null) await truncateTo(path, cutAt.offset);
  }
  if (log.lastSegmentPath === '') {
    log.lastSegmentPath = join(walDir, `${String(cut.walSegment).padStart(16, '0')}.wal`);
    log.lastLsn = cut.lsn;
  }
  return log;
}

/** The target's segments are its own copies (a failed restore empties the target): cut in place. */
async function truncateTo(path: string, bytes: number): Promise<void> {
  await truncate(path, bytes);
}

async function appendRecords(path: string, lastLsn: number, records: { type: number; payload: Uint8Array }[]): Promise<void> {
  const bytes = encodeRecords(records.map((r, i) => ({ type: r.type, lsn: lastLsn + 1 + i, payload: r.payload })));
  await appendFile(path, bytes);
}

/** An RFC 3339 date-time (T or t, Z or z or ±hh:mm; a real calendar date) → ms since the epoch, or null. */
export function parseRfc3339(text: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|([+-])(\d{2}):(\d{2}))$/.exec(text);
  if (m === null) return null;
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number);
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return null;
  if (d > new Date(Date.UTC(y, mo, 0)).getUTCDate()) return null; // e.g. February 30
  if (m[9] !== undefined && (Number(m[10]) > 23 || Number(m[11]) > 59)) return null;
  const ms = Date.parse(text.toUpperCase());
  return Number.isNaN(ms) ? null : ms;
}

/** `restore` command line → options; throws RestoreError for bad usage. */
export function parseRestoreArgs(argv: readonly string[]): RestoreOptions {
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new RestoreError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    if (!['from', 'to', 'until', 'until-ts', 'archive', 'wal-archive'].includes(name)) throw new RestoreError(`unknown flag --${name}`);
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '') throw new RestoreError(`--${name} needs a value`);
    values.set(name, value);
  }
  const from = values.get('from');
  const to = values.get('to');
  if (from === undefined || to === undefined) throw new RestoreError('usage: restore --from <backup folder> --to <empty dir> [--until <RFC 3339 time> | --until-ts <ms since the epoch>] [--archive DIR]');
  if (values.has('until') && values.has('until-ts')) throw new RestoreError('give --until or --until-ts, not both');
  let untilMs: number | null = null;
  const until = values.get('until');
  if (until !== undefined) {
    untilMs = parseRfc3339(until);
    if (untilMs === null) throw new RestoreError(`--until must be an RFC 3339 time with a zone, e.g. 2026-12-07T10:00:00Z; got "${until}"`);
  }
  const untilTs = values.get('until-ts');
  if (untilTs !== undefined) {
    if (!/^\d{1,16}$/.test(untilTs)) throw new RestoreError(`--until-ts must be milliseconds since the Unix epoch; got "${untilTs}"`);
    untilMs = Number(untilTs);
  }
  return { from, to, untilMs, archive: values.get('archive') ?? values.get('wal-archive') ?? null };
}
