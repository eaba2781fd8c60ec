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
// The log is a group log (src/durable/group-log.ts has the framing, the
// groups, the scan at open, the group writer and the rewrite), as the
// dependency log is; this file has its records and its policies.
//
// Writes. logCommit calls of one event-loop turn share one write and one
// fdatasync (group commit), one group in flight at a time, records in call
// order; a decision counts (decisionOf, pending) only once its group is
// durable, and logCommit resolves then.
// markDone is lazy: its record rides along with the next commit group, or is
// written (with its own fdatasync, shared by every done of the wait) after
// `doneFlushMs` when no commit comes. Every group is fdatasynced before the
// next is written, even a group of done records, so only the final group can
// be torn by a crash.
//
// Damage (group-log.ts). Groups are numbered consecutively (mod 2^32) from
// the header's first group; replay applies a group only once
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

import { type FileHandle } from 'node:fs/promises';
import { MantisError } from '../../shared/errors.js';
import { storageCode, writeAt } from '../../shared/durable-file.js';
import { AppendFailure, GroupCommitter, GroupLogFile, GroupLogFormat, HEADER_BYTES, type GroupLogLogger, type RecordCodec } from '../durable/group-log.js';

export const COORDINATOR_LOG_FILE = 'coordinator.log';
/** A transaction id is 1..255 bytes of UTF-8. */
export const TXN_ID_BYTES_MAX = 255;
/** At most this many participants per decision, each a shard id 0..65535. */
export const PARTICIPANTS_MAX = 4096;
/** Default of options.compactMinDead. */
export const COMPACT_MIN_DEAD_DEFAULT = 10_000;
/** Default of options.doneFlushMs. */
export const DONE_FLUSH_MS_DEFAULT = 200;

/** u16 body bytes. */
const HEAD_BYTES = 2;
const KIND_COMMIT = 1;
const KIND_DONE = 2;
/** A group commit writes at most this much; the rest goes in the next group at once. */
const GROUP_RECORDS_MAX = 4096;
const GROUP_BYTES_MAX = 1024 * 1024;
/** This many queued done records are written without waiting for doneFlushMs. */
const DONE_QUEUE_FLUSH = 4096;

export type CoordinatorLogErrorCode = 'INVALID_PARAMETER' | 'STORAGE_IO' | 'STORAGE_FULL' | 'SHUTTING_DOWN' | 'DATA_CORRUPT' | 'TXN_ABORTED';

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
export type CoordinatorLogLogger = GroupLogLogger;

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
  /**
   * Transactions a participant was told are aborted (presumed abort) while this process runs: a
   * later logCommit of one is refused, so the answer given can never turn into a commit.
   */
  private readonly presumedAborted = new Set<string>();
  private doneTimer: NodeJS.Timeout | null = null;
  /** Group commits and compactions run one at a time, in its chain. */
  private readonly committer = new GroupCommitter(() => this.commitGroup());
  private failure: CoordinatorLogError | null = null;
  private closing = false;
  private closed: Promise<void> | null = null;
  private compactAboveDead: number;

  private constructor(
    private readonly file: GroupLogFile<LogRecord>,
    private readonly decisions: Map<string, CommitDecision>,
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
    const decisions = new Map<string, CommitDecision>();
    // A failed write or fdatasync is cut off durably: a rejected decision must never come back.
    const file = await GroupLogFile.open(dir, COORDINATOR_LOG_FILE, COORDINATOR_LOG, (group) => applyGroup(decisions, group), log, { afterFailure: 'cut' });
    if (decisions.size > 0) log.info({ path: file.path, pending: decisions.size }, 'coordinator log has commit decisions to finish');
    return new CoordinatorLog(file, decisions, compactMinDead, doneFlushMs, log);
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
    if (this.presumedAborted.has(txnId)) {
      return Promise.reject(new CoordinatorLogError('TXN_ABORTED', `transaction ${txnId} was already declared aborted to a participant (presumed abort)`));
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

  /**
   * A participant's inquiry: the durable commit decision, or null — and then the transaction is
   * aborted for good in this process (a later logCommit of it is refused with TXN_ABORTED), so
   * the participant may act on the null. Waits for a logCommit of it in flight first. Throws the
   * CoordinatorLogError (inDoubt) for a decision whose fate is in doubt: the participant must wait.
   */
  async abortIfUndecided(txnId: string): Promise<CommitDecision | null> {
    // Until no logCommit of it is queued or in flight; from that check to the mark nothing awaits,
    // so no logCommit can slip in between.
    for (let pending = this.inFlight.get(txnId); pending !== undefined; pending = this.inFlight.get(txnId)) await pending;
    const decision = this.decisionOf(txnId);
    if (decision === null) this.presumedAborted.add(txnId);
    return decision;
  }

  /** The router forgot the transaction (finished, or aborted and reported): drop its abort mark. */
  forgetAborted(txnId: string): void {
    this.presumedAborted.delete(txnId);
  }

  /** Durable commit decisions not yet done, in log order: what recovery must re-send. */
  *pending(): IterableIterator<PendingDecision> {
    for (const [txnId, decision] of this.decisions) yield { txnId, ...decision };
  }

  stats(): CoordinatorLogStats {
    const file = this.file;
    return { records: file.records, pending: this.decisions.size, bytes: file.bytes, ...file.counters, failed: this.failure !== null };
  }

  /**
   * Writes queued done records now and resolves once nothing is queued or in
   * flight and no compaction runs (done records of a failed group excepted:
   * they wait for their timer again).
   */
  async idle(): Promise<void> {
    if (this.queue.length > 0) this.scheduleCommit();
    while (this.committer.scheduled) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      await this.committer.settled();
    }
    await this.committer.settled();
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
    this.committer.schedule();
  }

  /** Runs in the chain. Never throws: every commit call of the group is settled. */
  private async commitGroup(): Promise<void> {
    if (this.failure !== null) {
      this.rejectQueue(this.failure);
      return;
    }
    let taken = 0;
    let bytes = 0;
    for (; taken < this.queue.length && taken < GROUP_RECORDS_MAX && bytes < GROUP_BYTES_MAX; taken++) bytes += COORDINATOR_LOG.recordBytes(this.queue[taken].record);
    const group = this.queue.slice(0, taken);
    this.queue = this.queue.slice(taken);
    if (group.length === 0) return;
    let error: CoordinatorLogError | null = null;
    try {
      await this.append(group.map((q) => q.record));
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
      this.log.warn({ err: error, path: this.file.path, decisions: group.length - dones.length, inDoubt: error.inDoubt }, 'coordinator log write failed');
      // Done records are only an optimisation: keep them for the next group while the log can go on.
      if (this.failure === null && dones.length > 0) this.queue = dones.concat(this.queue);
    }
    if (this.failure !== null) this.rejectQueue(this.failure);
    else if (this.queue.some((q) => 'resolve' in q) || this.queue.length >= DONE_QUEUE_FLUSH) this.scheduleCommit();
    else if (this.queue.length > 0) this.armDoneTimer();
    if (error === null) await this.maybeCompact();
  }

  private armDoneTimer(): void {
    if (this.committer.scheduled || this.doneTimer !== null) return;
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

  /**
   * Writes one group at the end of the log and fdatasyncs it; on failure the
   * group was cut off the file, durably (file header), unless that failed too.
   */
  private async append(records: readonly LogRecord[]): Promise<void> {
    const path = this.file.path;
    try {
      await this.file.append(records);
    } catch (caught) {
      if (!(caught instanceof AppendFailure)) throw caught;
      if (!caught.cut) this.log.warn({ err: caught.cutError, path }, 'coordinator log: cutting a failed group off failed');
      if (caught.stage === 'write') {
        const failed = storageError(caught.error, `write to ${path}`, false);
        if (!caught.cut) this.fail(failed, 'the write could not be cut from the file');
        throw failed;
      }
      if (caught.cut) throw storageError(caught.error, `fdatasync of ${path}`, false);
      const doubt = storageError(caught.error, `fdatasync of ${path}`, true);
      this.fail(doubt, 'a group whose fdatasync failed could not be cut from the file');
      throw doubt;
    }
  }

  /** From now on every write is refused. */
  private fail(cause: CoordinatorLogError, why: string): void {
    this.failure ??= new CoordinatorLogError(
      cause.code === 'STORAGE_FULL' ? 'STORAGE_FULL' : 'STORAGE_IO',
      `${cause.message}; ${why}, so commit decisions are refused until the server restarts`,
      { cause },
    );
    this.log.warn({ err: cause, path: this.file.path }, this.failure.message);
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    if (this.doneTimer !== null) {
      clearTimeout(this.doneTimer);
      this.doneTimer = null;
    }
    // Every commit group settles its calls; done records get one more try (a failed one is queued again).
    while (this.failure === null && this.queue.some((q) => 'resolve' in q)) await this.committer.runGroup();
    if (this.failure === null && this.queue.length > 0) await this.committer.runGroup();
    this.rejectQueue(new CoordinatorLogError('SHUTTING_DOWN', 'the coordinator log is closed'));
    await this.committer.settled();
    await this.file.close();
  }

  // ---- compaction ----------------------------------------------------------------

  /** Runs in the chain, after a group. */
  private async maybeCompact(): Promise<void> {
    const file = this.file;
    const dead = file.records - this.decisions.size;
    if (this.closing || this.failure !== null || dead <= this.decisions.size || dead <= this.compactAboveDead) return;
    const group = file.nextGroup;
    const live: LogRecord[] = [];
    for (const [txnId, d] of this.decisions) live.push({ kind: 'commit', txnId, commitTs: d.commitTs, participants: d.participants });
    const body = live.length > 0 ? COORDINATOR_LOG.encode(live, group) : Buffer.alloc(0);
    let tmp: FileHandle | null = null;
    try {
      tmp = await file.openRewrite();
      await writeAt(tmp, Buffer.concat([COORDINATOR_LOG.header(group), body]), 0);
      // fdatasync, rename over the log, append to the new file from now on.
      await file.installRewrite(tmp, { bytes: HEADER_BYTES + body.length, records: live.length, nextGroup: live.length > 0 ? (group + 1) >>> 0 : group });
    } catch (error) {
      await file.abandonRewrite(tmp);
      // Not again until the dead records have doubled.
      this.compactAboveDead = Math.max(this.compactMinDead, 2 * dead);
      this.log.warn({ err: error, path: file.path }, 'coordinator log compaction failed; the old log stays in use');
      return;
    }
    this.compactAboveDead = this.compactMinDead;
    try {
      // Until the rename is durable a crash may bring the old file back: nothing may be acknowledged past it.
      await file.syncDir();
    } catch (error) {
      this.fail(storageError(error, `fsync of ${file.dir} after compaction`, false), 'the compacted log may not be the one a restart finds');
      return;
    }
    file.counters.compactions++;
    this.log.info({ path: file.path, pending: live.length, bytes: file.bytes }, 'coordinator log compacted');
  }
}

// ---- format ----------------------------------------------------------------------

/** Bytes of the body: what follows the u16 body length. */
function bodyBytes(record: LogRecord): number {
  const id = 1 + Buffer.byteLength(record.txnId, 'utf8');
  return record.kind === 'done' ? id : id + 8 + 2 + 2 * record.participants.length;
}

const DECISION_CODEC: RecordCodec<LogRecord> = {
  magic: 'MNTSCLG1',
  name: 'coordinator log',
  headBytes: HEAD_BYTES,
  isKind: (kind) => kind === KIND_COMMIT || kind === KIND_DONE,
  kindOf: (record) => (record.kind === 'commit' ? KIND_COMMIT : KIND_DONE),
  bytes: (record) => HEAD_BYTES + bodyBytes(record),
  write(record, buf, at) {
    buf.writeUInt16LE(bodyBytes(record), at);
    let off = at + HEAD_BYTES;
    const idBytes = buf.write(record.txnId, off + 1, 'utf8');
    buf.writeUInt8(idBytes, off);
    off += 1 + idBytes;
    if (record.kind === 'commit') {
      buf.writeBigUInt64LE(BigInt(record.commitTs), off);
      buf.writeUInt16LE(record.participants.length, off + 8);
      off += 10;
      for (const shard of record.participants) off = buf.writeUInt16LE(shard, off);
    }
    return off;
  },
  end: (buf, at) => at + HEAD_BYTES + buf.readUInt16LE(at),
  read(buf, at, end, kind) {
    const body = at + HEAD_BYTES;
    const idBytes = end > body ? buf[body] : 0;
    const idEnd = body + 1 + idBytes;
    if (idBytes === 0 || idEnd > end) return 'bad transaction id length';
    const txnId = buf.toString('utf8', body + 1, idEnd);
    if (kind === KIND_DONE) return idEnd === end ? { kind: 'done', txnId } : 'bad done record length';
    if (end - idEnd < 10) return 'bad commit record length';
    const commitTs = buf.readBigUInt64LE(idEnd);
    const count = buf.readUInt16LE(idEnd + 8);
    if (end !== idEnd + 10 + 2 * count) return 'bad commit record length';
    if (commitTs < 1n || commitTs > BigInt(Number.MAX_SAFE_INTEGER)) return 'bad commit timestamp';
    const participants: number[] = [];
    for (let i = 0; i < count; i++) participants.push(buf.readUInt16LE(idEnd + 10 + 2 * i));
    return { kind: 'commit', txnId, commitTs: Number(commitTs), participants };
  },
  corrupt: (message) => new CoordinatorLogError('DATA_CORRUPT', message),
};

const COORDINATOR_LOG = new GroupLogFormat(DECISION_CODEC);

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
