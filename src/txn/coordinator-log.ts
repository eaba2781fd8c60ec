// The two-phase-commit coordinator's durable decision log (router, main
// thread). Presumed abort: only commit decisions are logged; a transaction
// with no commit decision in the log is aborted, so aborts cost nothing here.
// A `done` record says every participant acknowledged the commit and the
// decision may be forgotten; recovery re-sends the commit of every decision
// not done (pending()), so participants must treat a repeated commit as done.
//
//   file    [header][record]...
//   header  'MNTSCLG1' | u32 first group | u32 crc32 of the 12 bytes before it
//   record  u32 crc32 of the rest of the record | u32 group | u8 flags
//           | u16 body bytes | body
//   flags   bits 0-1: 1 commit, 2 done; bit 7: the last record of its group
//   commit  u8 txn id bytes | txn id (UTF-8) | u64 commit timestamp
//           | u16 participants | u16 shard id × participants
//   done    u8 txn id bytes | txn id (UTF-8)
//
// Writes (as src/cache/dependency-graph.ts). logCommit calls of one
// event-loop turn share one write and one fdatasync (group commit), one group
// in flight at a time, records in call order; a decision counts (decisionOf,
// pending) only once its group is durable, and logCommit resolves then.
// markDone is lazy: its record rides along with the next commit group, or is
// written (with its own fdatasync, shared by every done of the wait) after
// `doneFlushMs` when no commit comes. Every group is fdatasynced before the
// next is written, even a group of done records, so only the final group can
// be torn by a crash.
//
// Damage (as src/cache/dependency-log.ts). Groups are numbered consecutively
// (mod 2^32) from the header's first group; replay applies a group only once
// it has read its last record. A record that does not parse ends the good
// part; if a valid record of a later group follows it, an acknowledged group
// follows the damage, which is then not a torn tail: open refuses with
// DATA_CORRUPT rather than guess. Otherwise the tail (never acknowledged) is
// cut off.
//
// Failures. A decision that is rejected must never come back as a commit at
// restart: the coordinator aborts the transaction when logCommit rejects, and
// a participant that asks after a restart must hear "abort" too. So a failed
// write or fdatasync is undone: the file is truncated to before the group and
// fdatasynced. When that succeeds the group's logCommit calls reject with
// CoordinatorLogError STORAGE_FULL / STORAGE_IO, `inDoubt: false`: the
// decisions are not made, durably, and later groups go on (the pages of every
// earlier group were synced by their own successful fdatasync, so nothing
// older is at risk). When the undo fails too, the group's decisions may or
// may not be on disk: the calls reject with `inDoubt: true`, the coordinator
// must NOT abort those transactions (leave the participants prepared), every
// later write is refused until restart, decisionOf() throws for those ids, and
// the restart decides from whatever the log then holds (the server should
// restart: recovery resolves the in-doubt transactions consistently, since no
// participant has been told anything). A group of only done records that
// fails is undone the same way and its records are queued again.
//
// Compaction. When done records and the decisions they finished (dead
// records) exceed `compactMinDead` and outnumber the pending decisions, the
// log is rewritten between two groups as one group of the pending decisions:
// write coordinator.log.tmp, fdatasync, rename over, fsync the directory, so a
// crash leaves the old log or the new one, both holding every pending
// decision. Pending decisions are the transactions in flight, few, so this
// costs about two fsyncs once per `compactMinDead` transactions.

import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { MantisError } from '../../shared/errors.js';
import { ensureDir, fsyncDir, readIfExists, storageCode, writeAt } from '../cache/durable-file.js';

export const COORDINATOR_LOG_FILE = 'coordinator.log';
/** A transaction id is 1..255 bytes of UTF-8. */
export const TXN_ID_BYTES_MAX = 255;
/** At most this many participants per decision, each a shard id 0..65535. */
export const PARTICIPANTS_MAX = 4096;
/** Default of options.compactMinDead. */
export const COMPACT_MIN_DEAD_DEFAULT = 10_000;
/** Default of options.doneFlushMs. */
export const DONE_FLUSH_MS_DEFAULT = 200;

const HEADER_BYTES = 16;
const MAGIC = Buffer.from('MNTSCLG1', 'latin1');
const RECORD_HEADER_BYTES = 11;
const KIND_COMMIT = 1;
const KIND_DONE = 2;
const KIND_MASK = 0x03;
const LAST_IN_GROUP = 0x80;
/** A group commit writes at most this much; the rest goes in the next group at once. */
const GROUP_RECORDS_MAX = 4096;
const GROUP_BYTES_MAX = 1024 * 1024;
/** This many queued done records are written without waiting for doneFlushMs. */
const DONE_QUEUE_FLUSH = 4096;

export type CoordinatorLogErrorCode = 'INVALID_PARAMETER' | 'STORAGE_IO' | 'STORAGE_FULL' | 'SHUTTING_DOWN' | 'DATA_CORRUPT';

/** An expected failure of the coordinator log; `cause` holds the fs error behind STORAGE_* codes. */
export class CoordinatorLogError extends MantisError {
  declare readonly code: CoordinatorLogErrorCode;
  /**
   * True when a commit decision may or may not have reached the disk (a failed
   * fdatasync whose undo failed too): do not abort the transaction; the log
   * at restart decides. False: the decision is durably not made.
   */
  readonly inDoubt: boolean;
  constructor(code: CoordinatorLogErrorCode, message: string, options: { cause?: unknown; inDoubt?: boolean } = {}) {
    super(code, message);
    this.name = 'CoordinatorLogError';
    this.inDoubt = options.inDoubt ?? false;
    if (options.cause !== undefined) this.cause = options.cause;
  }
}

export type CommitDecision = { readonly outcome: 'commit'; readonly commitTs: number; readonly participants: readonly number[] };
export type PendingDecision = CommitDecision & { readonly txnId: string };

/** What the log logs through (a pino Logger fits). */
export type CoordinatorLogLogger = { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };

export type CoordinatorLogOptions = {
  /** Compact when more dead records than this (and than pending decisions) are in the file. */
  readonly compactMinDead?: number;
  /** A done record waits at most this long for a commit group to ride along with. */
  readonly doneFlushMs?: number;
  readonly log?: CoordinatorLogLogger;
};

export type CoordinatorLogStats = {
  /** Records in the file (commit and done, live or dead). */
  readonly records: number;
  /** Commit decisions not done. */
  readonly pending: number;
  /** Bytes of the file. */
  readonly bytes: number;
  /** Group writes and fdatasyncs since open (one each per group). */
  readonly writes: number;
  readonly fsyncs: number;
  readonly compactions: number;
  /** True once a failure left the log unable to go on: writes are refused until restart. */
  readonly failed: boolean;
};

type LogRecord =
  | { readonly kind: 'commit'; readonly txnId: string; readonly commitTs: number; readonly participants: readonly number[] }
  | { readonly kind: 'done'; readonly txnId: string };

type Queued =
  | { readonly record: LogRecord & { kind: 'commit' }; resolve(): void; reject(error: Error): void }
  | { readonly record: LogRecord & { kind: 'done' } };

const SILENT: CoordinatorLogLogger = { info: () => undefined, warn: () => undefined };

export class CoordinatorLog {
  private queue: Queued[] = [];
  /** Commits queued or in flight, by id: a second logCommit of one is refused; settle() waits on them. */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Ids whose decision is in doubt (a failed fdatasync that could not be undone). */
  private readonly doubtful = new Map<string, CoordinatorLogError>();
  private commitScheduled = false;
  private doneTimer: NodeJS.Timeout | null = null;
  /** Group commits and compactions run one at a time, in this chain. */
  private chain: Promise<void> = Promise.resolve();
  private failure: CoordinatorLogError | null = null;
  private closing = false;
  private closed: Promise<void> | null = null;
  private compactAboveDead: number;
  private readonly counters = { writes: 0, fsyncs: 0, compactions: 0 };

  private constructor(
    private readonly dir: string,
    private readonly path: string,
    private handle: FileHandle,
    private readonly decisions: Map<string, CommitDecision>,
    private logBytes: number,
    private records: number,
    private nextGroup: number,
    private readonly compactMinDead: number,
    private readonly doneFlushMs: number,
    private readonly log: CoordinatorLogLogger,
  ) {
    this.compactAboveDead = compactMinDead;
  }

  /**
   * Opens (creating `dir` and the log when missing) and replays the log. A
   * torn tail is cut off and logged; damage anywhere else throws
   * CoordinatorLogError DATA_CORRUPT. fs errors are thrown as they are.
   */
  static async open(dir: string, options: CoordinatorLogOptions = {}): Promise<CoordinatorLog> {
    const compactMinDead = options.compactMinDead ?? COMPACT_MIN_DEAD_DEFAULT;
    const doneFlushMs = options.doneFlushMs ?? DONE_FLUSH_MS_DEFAULT;
    if (!Number.isSafeInteger(compactMinDead) || compactMinDead < 0) throw new CoordinatorLogError('INVALID_PARAMETER', `compactMinDead must be a whole number, got ${compactMinDead}`);
    if (!(doneFlushMs >= 0)) throw new CoordinatorLogError('INVALID_PARAMETER', `doneFlushMs must be ≥ 0, got ${doneFlushMs}`);
    const log = options.log ?? SILENT;
    await ensureDir(dir);
    const path = join(dir, COORDINATOR_LOG_FILE);
    // A compaction cut short by a crash: the log itself was never replaced.
    await rm(`${path}.tmp`, { force: true });
    const decisions = new Map<string, CommitDecision>();
    const buf = await readIfExists(path);
    const replay = buf === null ? null : replayLog(buf, path, (group) => applyGroup(decisions, group));
    if (replay === null) {
      if (buf !== null) log.warn({ path, bytes: buf.length }, 'coordinator log has no complete header (cut while it was created); starting it again');
      const handle = await createLog(dir, path);
      return new CoordinatorLog(dir, path, handle, decisions, HEADER_BYTES, 0, 1, compactMinDead, doneFlushMs, log);
    }
    const handle = await open(path, 'r+');
    if (replay.tornTail !== null) {
      try {
        await handle.truncate(replay.goodBytes);
        await handle.datasync();
      } catch (error) {
        await handle.close();
        throw error;
      }
      log.warn(
        { path, offset: replay.tornTail.offset, reason: replay.tornTail.reason, droppedBytes: (buf?.length ?? 0) - replay.goodBytes },
        'coordinator log had a torn tail (a group never acknowledged); cut it off',
      );
    }
    if (decisions.size > 0) log.info({ path, pending: decisions.size }, 'coordinator log has commit decisions to finish');
    return new CoordinatorLog(dir, path, handle, decisions, replay.goodBytes, replay.records, replay.nextGroup, compactMinDead, doneFlushMs, log);
  }

  /**
   * Resolves once the commit decision is durable (write + fdatasync, shared
   * with the other calls of the turn). Rejects with CoordinatorLogError:
   * INVALID_PARAMETER (bad arguments, or the transaction already has a
   * decision), STORAGE_IO / STORAGE_FULL (the decision is not made unless
   * `inDoubt`: see the file header), SHUTTING_DOWN (after close()).
   */
  logCommit(txnId: string, commitTs: number, participants: readonly number[]): Promise<void> {
    const problem = txnIdProblem(txnId) ?? commitProblem(commitTs, participants);
    if (problem !== null) return Promise.reject(new CoordinatorLogError('INVALID_PARAMETER', problem));
    if (this.closing) return Promise.reject(new CoordinatorLogError('SHUTTING_DOWN', 'the coordinator log is closed'));
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.decisions.has(txnId) || this.inFlight.has(txnId) || this.doubtful.has(txnId)) {
      return Promise.reject(new CoordinatorLogError('INVALID_PARAMETER', `transaction ${txnId} already has a commit decision`));
    }
    const record = { kind: 'commit' as const, txnId, commitTs, participants: [...participants] };
    const promise = new Promise<void>((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      this.scheduleCommit();
    });
    this.inFlight.set(
      txnId,
      promise.then(
        () => undefined,
        () => undefined,
      ),
    );
    return promise;
  }

  /**
   * Every participant acknowledged: forgets the decision (pending() and
   * decisionOf() stop showing it at once) and queues a done record, written
   * lazily. Returns false when `txnId` has no durable decision (unknown, done
   * already, or its logCommit has not resolved: mark it done only after).
   */
  markDone(txnId: string): boolean {
    if (!this.decisions.delete(txnId)) return false;
    if (this.closing || this.failure !== null) return true; // not written: recovery re-sends a commit, which is harmless
    this.queue.push({ record: { kind: 'done', txnId } });
    if (this.queue.length >= DONE_QUEUE_FLUSH) this.scheduleCommit();
    else this.armDoneTimer();
    return true;
  }

  /**
   * The durable commit decision of `txnId` not yet done, or null: presumed
   * abort (or done and forgotten). A decision still being logged is null
   * too; a caller answering a participant's inquiry while the coordinator
   * runs wants settle(). Throws the CoordinatorLogError (inDoubt) for a
   * decision whose fate is in doubt.
   */
  decisionOf(txnId: string): CommitDecision | null {
    const doubt = this.doubtful.get(txnId);
    if (doubt !== undefined) throw doubt;
    return this.decisions.get(txnId) ?? null;
  }

  /** decisionOf() once a logCommit of `txnId` that is queued or in flight has settled. */
  async settle(txnId: string): Promise<CommitDecision | null> {
    await this.inFlight.get(txnId);
    return this.decisionOf(txnId);
  }

  /** Durable commit decisions not yet done, in log order: what recovery must re-send. */
  *pending(): IterableIterator<PendingDecision> {
    for (const [txnId, decision] of this.decisions) yield { txnId, ...decision };
  }

  stats(): CoordinatorLogStats {
    return { records: this.records, pending: this.decisions.size, bytes: this.logBytes, ...this.counters, failed: this.failure !== null };
  }

  /**
   * Writes queued done records now and resolves once nothing is queued or in
   * flight and no compaction runs (done records of a failed group excepted:
   * they wait for their timer again).
   */
  async idle(): Promise<void> {
    if (this.queue.length > 0) this.scheduleCommit();
    while (this.commitScheduled) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      await this.chain;
    }
    await this.chain;
  }

  /** Writes what is queued (done records included), then closes. Later logCommit calls: SHUTTING_DOWN. */
  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  // ---- the write queue -----------------------------------------------------------

  /** One group per event-loop turn: every call of the turn joins it. */
  private scheduleCommit(): void {
    if (this.doneTimer !== null) {
      clearTimeout(this.doneTimer);
      this.doneTimer = null;
    }
    if (this.commitScheduled) return;
    this.commitScheduled = true;
    setImmediate(() => void this.exclusive(() => this.commitGroup()));
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.chain.then(task);
    this.chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Runs in the chain. Never throws: every commit call of the group is settled. */
  private async commitGroup(): Promise<void> {
    this.commitScheduled = false;
    if (this.failure !== null) {
      this.rejectQueue(this.failure);
      return;
    }
    let taken = 0;
    let bytes = 0;
    for (; taken < this.queue.length && taken < GROUP_RECORDS_MAX && bytes < GROUP_BYTES_MAX; taken++) bytes += recordBytes(this.queue[taken].record);
    const group = this.queue.slice(0, taken);
    this.queue = this.queue.slice(taken);
    if (group.length === 0) return;
    const buf = encodeRecords(
      group.map((q) => q.record),
      this.nextGroup,
    );
    let error: CoordinatorLogError | null = null;
    try {
      await this.append(buf);
      this.records += group.length;
      this.nextGroup = (this.nextGroup + 1) >>> 0;
    } catch (caught) {
      error = caught as CoordinatorLogError;
    }
    const dones: Queued[] = [];
    for (const queued of group) {
      if (!('resolve' in queued)) {
        dones.push(queued);
        continue;
      }
      const { txnId, commitTs, participants } = queued.record;
      this.inFlight.delete(txnId);
      if (error === null) {
        this.decisions.set(txnId, decisionFrom(commitTs, participants));
        queued.resolve();
      } else {
        if (error.inDoubt) this.doubtful.set(txnId, error);
        queued.reject(error);
      }
    }
    if (error !== null) {
      this.log.warn({ err: error, path: this.path, decisions: group.length - dones.length, inDoubt: error.inDoubt }, 'coordinator log write failed');
      // Done records are only an optimisation: keep them for the next group while the log can go on.
      if (this.failure === null && dones.length > 0) this.queue = dones.concat(this.queue);
    }
    if (this.failure !== null) this.rejectQueue(this.failure);
    else if (this.queue.some((q) => 'resolve' in q) || this.queue.length >= DONE_QUEUE_FLUSH) this.scheduleCommit();
    else if (this.queue.length > 0) this.armDoneTimer();
    if (error === null) await this.maybeCompact();
  }

  private armDoneTimer(): void {
    if (this.commitScheduled || this.doneTimer !== null) return;
    this.doneTimer = setTimeout(() => {
      this.doneTimer = null;
      this.scheduleCommit();
    }, this.doneFlushMs);
    this.doneTimer.unref();
  }

  private rejectQueue(error: CoordinatorLogError): void {
    for (const queued of this.queue.splice(0)) {
      if (!('resolve' in queued)) continue;
      this.inFlight.delete(queued.record.txnId);
      queued.reject(error);
    }
  }

  /** Writes one group at the end of the log and fdatasyncs it; on failure undoes it (file header). */
  private async append(buf: Buffer): Promise<void> {
    try {
      await writeAt(this.handle, buf, this.logBytes);
      this.counters.writes++;
    } catch (error) {
      const undone = await this.undo();
      const failed = storageError(error, `write to ${this.path}`, false);
      if (!undone) this.fail(failed, 'the write could not be cut from the file');
      throw failed;
    }
    try {
      await this.handle.datasync();
      this.counters.fsyncs++;
    } catch (error) {
      const undone = await this.undo();
      if (undone) throw storageError(error, `fdatasync of ${this.path}`, false);
      const doubt = storageError(error, `fdatasync of ${this.path}`, true);
      this.fail(doubt, 'a group whose fdatasync failed could not be cut from the file');
      throw doubt;
    }
    this.logBytes += buf.length;
  }

  /** Cuts the file back to the groups that are durable, durably. False when it could not. */
  private async undo(): Promise<boolean> {
    try {
      await this.handle.truncate(this.logBytes);
      await this.handle.datasync();
      return true;
    } catch (error) {
      this.log.warn({ err: error, path: this.path }, 'coordinator log: cutting a failed group off failed');
      return false;
    }
  }

  /** From now on every write is refused. */
  private fail(cause: CoordinatorLogError, why: string): void {
    this.failure ??= new CoordinatorLogError(
      cause.code === 'STORAGE_FULL' ? 'STORAGE_FULL' : 'STORAGE_IO',
      `${cause.message}; ${why}, so commit decisions are refused until the server restarts`,
      { cause },
    );
    this.log.warn({ err: cause, path: this.path }, this.failure.message);
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    if (this.doneTimer !== null) {
      clearTimeout(this.doneTimer);
      this.doneTimer = null;
    }
    // Every commit group settles its calls; done records get one more try (a failed one is queued again).
    while (this.failure === null && this.queue.some((q) => 'resolve' in q)) await this.exclusive(() => this.commitGroup());
    if (this.failure === null && this.queue.length > 0) await this.exclusive(() => this.commitGroup());
    this.rejectQueue(new CoordinatorLogError('SHUTTING_DOWN', 'the coordinator log is closed'));
    await this.chain;
    await this.handle.close();
  }

  // ---- compaction ----------------------------------------------------------------

  /** Runs in the chain, after a group. */
  private async maybeCompact(): Promise<void> {
    const dead = this.records - this.decisions.size;
    if (this.closing || this.failure !== null || dead <= this.decisions.size || dead <= this.compactAboveDead) return;
    const tmpPath = `${this.path}.tmp`;
    const group = this.nextGroup;
    const live: LogRecord[] = [];
    for (const [txnId, d] of this.decisions) live.push({ kind: 'commit', txnId, commitTs: d.commitTs, participants: d.participants });
    const body = live.length > 0 ? encodeRecords(live, group) : Buffer.alloc(0);
    let tmp: FileHandle | null = null;
    let target: FileHandle;
    try {
      target = tmp = await open(tmpPath, 'w+');
      await writeAt(target, Buffer.concat([encodeHeader(group), body]), 0);
      await target.datasync();
      await rename(tmpPath, this.path);
    } catch (error) {
      await tmp?.close().catch(() => undefined);
      await rm(tmpPath, { force: true }).catch(() => undefined);
      // Not again until the dead records have doubled.
      this.compactAboveDead = Math.max(this.compactMinDead, 2 * dead);
      this.log.warn({ err: error, path: this.path }, 'coordinator log compaction failed; the old log stays in use');
      return;
    }
    // The path names the new file now: append to it whatever happens next.
    const old = this.handle;
    this.handle = target;
    this.logBytes = HEADER_BYTES + body.length;
    this.records = live.length;
    if (live.length > 0) this.nextGroup = (group + 1) >>> 0;
    this.compactAboveDead = this.compactMinDead;
    await old.close().catch(() => undefined);
    try {
      // Until the rename is durable a crash may bring the old file back: nothing may be acknowledged past it.
      await fsyncDir(this.dir);
    } catch (error) {
      this.fail(storageError(error, `fsync of ${this.dir} after compaction`, false), 'the compacted log may not be the one a restart finds');
      return;
    }
    this.counters.compactions++;
    this.log.info({ path: this.path, pending: live.length, bytes: this.logBytes }, 'coordinator log compacted');
  }
}

// ---- format ----------------------------------------------------------------------

function encodeHeader(firstGroup: number): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(firstGroup >>> 0, 8);
  header.writeUInt32LE(crc32(header.subarray(0, 12)), 12);
  return header;
}

function bodyBytes(record: LogRecord): number {
  const id = 1 + Buffer.byteLength(record.txnId, 'utf8');
  return record.kind === 'done' ? id : id + 8 + 2 + 2 * record.participants.length;
}

function recordBytes(record: LogRecord): number {
  return RECORD_HEADER_BYTES + bodyBytes(record);
}

/** The records of one group, in order, the last one marked. */
function encodeRecords(records: readonly LogRecord[], group: number): Buffer {
  let total = 0;
  for (const record of records) total += recordBytes(record);
  const buf = Buffer.allocUnsafe(total);
  let off = 0;
  records.forEach((record, i) => {
    const start = off;
    const kind = record.kind === 'commit' ? KIND_COMMIT : KIND_DONE;
    buf.writeUInt32LE(group >>> 0, start + 4);
    buf.writeUInt8(kind | (i === records.length - 1 ? LAST_IN_GROUP : 0), start + 8);
    buf.writeUInt16LE(bodyBytes(record), start + 9);
    off = start + RECORD_HEADER_BYTES;
    const idBytes = buf.write(record.txnId, off + 1, 'utf8');
    buf.writeUInt8(idBytes, off);
    off += 1 + idBytes;
    if (record.kind === 'commit') {
      buf.writeBigUInt64LE(BigInt(record.commitTs), off);
      buf.writeUInt16LE(record.participants.length, off + 8);
      off += 10;
      for (const shard of record.participants) off = buf.writeUInt16LE(shard, off);
    }
    buf.writeUInt32LE(crc32(buf.subarray(start + 4, off)), start);
  });
  return buf;
}

/** A new empty log: header, fdatasync, then the directory entry. */
async function createLog(dir: string, path: string): Promise<FileHandle> {
  const handle = await open(path, 'w+');
  try {
    await writeAt(handle, encodeHeader(1), 0);
    await handle.datasync();
    await fsyncDir(dir);
  } catch (error) {
    await handle.close();
    throw error;
  }
  return handle;
}

type Parsed = { readonly record: LogRecord; readonly group: number; readonly last: boolean; readonly end: number };

/** The record at `off`, or why there is none. */
function parseRecord(buf: Buffer, off: number): Parsed | string {
  if (buf.length - off < RECORD_HEADER_BYTES) return 'truncated record header';
  const flags = buf[off + 8];
  const kind = flags & KIND_MASK;
  if ((flags & ~(KIND_MASK | LAST_IN_GROUP)) !== 0 || (kind !== KIND_COMMIT && kind !== KIND_DONE)) return 'bad record flags';
  const end = off + RECORD_HEADER_BYTES + buf.readUInt16LE(off + 9);
  if (end > buf.length) return 'truncated record';
  if (crc32(buf.subarray(off + 4, end)) !== buf.readUInt32LE(off)) return 'checksum mismatch';
  const body = off + RECORD_HEADER_BYTES;
  const idBytes = end > body ? buf[body] : 0;
  const idEnd = body + 1 + idBytes;
  if (idBytes === 0 || idEnd > end) return 'bad transaction id length';
  const txnId = buf.toString('utf8', body + 1, idEnd);
  const group = buf.readUInt32LE(off + 4);
  const last = (flags & LAST_IN_GROUP) !== 0;
  if (kind === KIND_DONE) return idEnd === end ? { record: { kind: 'done', txnId }, group, last, end } : 'bad done record length';
  if (end - idEnd < 10) return 'bad commit record length';
  const commitTs = buf.readBigUInt64LE(idEnd);
  const count = buf.readUInt16LE(idEnd + 8);
  if (end !== idEnd + 10 + 2 * count) return 'bad commit record length';
  if (commitTs < 1n || commitTs > BigInt(Number.MAX_SAFE_INTEGER)) return 'bad commit timestamp';
  const participants: number[] = [];
  for (let i = 0; i < count; i++) participants.push(buf.readUInt16LE(idEnd + 10 + 2 * i));
  return { record: { kind: 'commit', txnId, commitTs: Number(commitTs), participants }, group, last, end };
}

type ReplayResult = {
  /** Bytes of whole groups: the file is cut here when it is longer. */
  readonly goodBytes: number;
  /** Records in those groups. */
  readonly records: number;
  /** The number the next group written must carry. */
  readonly nextGroup: number;
  /** Why the tail was dropped (null when the file ended cleanly). */
  readonly tornTail: { readonly offset: number; readonly reason: string } | null;
};

/**
 * Reads a whole log, handing each complete group to `apply` in order.
 * Returns null when there is no usable header and nothing else (a file cut
 * while it was being created: start it again). Throws DATA_CORRUPT when the
 * damage is not a torn tail (see the file header).
 */
function replayLog(buf: Buffer, path: string, apply: (group: readonly LogRecord[]) => void): ReplayResult | null {
  const headerOk = buf.length >= HEADER_BYTES && buf.subarray(0, 8).equals(MAGIC) && crc32(buf.subarray(0, 12)) === buf.readUInt32LE(12);
  if (!headerOk) {
    if (buf.length <= HEADER_BYTES) return null;
    throw new CoordinatorLogError('DATA_CORRUPT', `${path}: bad header (not a coordinator log, or damaged); the data directory is damaged`);
  }
  let expected = buf.readUInt32LE(8);
  let groupStart = HEADER_BYTES;
  let records = 0;
  let pending: LogRecord[] = [];
  for (let off = HEADER_BYTES; off < buf.length; ) {
    const parsed = parseRecord(buf, off);
    const problem = typeof parsed === 'string' ? parsed : parsed.group !== expected ? `group ${parsed.group} where ${expected} was due` : null;
    if (problem !== null) {
      // A record that parsed (a wrong group) is itself evidence: scan from it.
      refuseIfAcknowledgedFollows(buf, typeof parsed === 'string' ? off + 1 : off, expected, path, off, problem);
      return { goodBytes: groupStart, records, nextGroup: expected, tornTail: { offset: off, reason: problem } };
    }
    const record = parsed as Parsed;
    pending.push(record.record);
    off = record.end;
    if (record.last) {
      apply(pending);
      records += pending.length;
      pending = [];
      expected = (expected + 1) >>> 0;
      groupStart = off;
    }
  }
  const tornTail = pending.length > 0 ? { offset: groupStart, reason: `group ${expected} has no last record` } : null;
  return { goodBytes: groupStart, records, nextGroup: expected, tornTail };
}

/** Throws DATA_CORRUPT when a valid record of a group other than `group` starts at or after `from`. */
function refuseIfAcknowledgedFollows(buf: Buffer, from: number, group: number, path: string, damagedAt: number, problem: string): void {
  for (let off = from; off + RECORD_HEADER_BYTES <= buf.length; ) {
    const parsed = parseRecord(buf, off);
    if (typeof parsed === 'string') {
      off++;
      continue;
    }
    if (parsed.group !== group) {
      throw new CoordinatorLogError(
        'DATA_CORRUPT',
        `${path}: the record at byte ${damagedAt} is damaged (${problem}) and acknowledged records follow it ` +
          `(group ${parsed.group} at byte ${off}); the data directory is damaged`,
      );
    }
    off = parsed.end;
  }
}

function applyGroup(decisions: Map<string, CommitDecision>, group: readonly LogRecord[]): void {
  for (const record of group) {
    if (record.kind === 'commit') {
      decisions.delete(record.txnId); // a re-used id: the newer decision, in log order
      decisions.set(record.txnId, decisionFrom(record.commitTs, record.participants));
    } else decisions.delete(record.txnId); // may be unknown: compaction dropped its decision
  }
}

/** Frozen: decisionOf() hands out the object itself. */
function decisionFrom(commitTs: number, participants: readonly number[]): CommitDecision {
  return Object.freeze({ outcome: 'commit' as const, commitTs, participants: Object.freeze([...participants]) });
}

function txnIdProblem(txnId: unknown): string | null {
  if (typeof txnId !== 'string' || txnId.length === 0) return 'txnId must be a non-empty string';
  if (!txnId.isWellFormed()) return 'txnId is not valid Unicode (lone surrogate)';
  const bytes = Buffer.byteLength(txnId, 'utf8');
  return bytes > TXN_ID_BYTES_MAX ? `txnId is ${bytes} bytes; the limit is ${TXN_ID_BYTES_MAX}` : null;
}

function commitProblem(commitTs: unknown, participants: unknown): string | null {
  if (typeof commitTs !== 'number' || !Number.isSafeInteger(commitTs) || commitTs < 1) return `commitTs must be a positive safe integer, got ${String(commitTs)}`;
  if (!Array.isArray(participants) || participants.length === 0 || participants.length > PARTICIPANTS_MAX) {
    return `participants must be a list of 1..${PARTICIPANTS_MAX} shard ids`;
  }
  const seen = new Set<number>();
  for (const shard of participants as unknown[]) {
    if (typeof shard !== 'number' || !Number.isInteger(shard) || shard < 0 || shard > 0xffff) return `a participant must be a shard id 0..65535, got ${String(shard)}`;
    if (seen.has(shard)) return `participant ${shard} is listed twice`;
    seen.add(shard);
  }
  return null;
}

function storageError(error: unknown, what: string, inDoubt: boolean): CoordinatorLogError {
  const message = error instanceof Error ? error.message : String(error);
  const outcome = inDoubt ? 'the decisions of the group are in doubt (they may be on disk): do not abort them' : 'the decisions of the group are not made';
  return new CoordinatorLogError(storageCode(error), `${what} failed (${message}); ${outcome}`, { cause: error, inDoubt });
}
